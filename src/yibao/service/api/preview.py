"""Settlement preview (试算): settle a case in the settlement case format, store nothing.

The body is a case (``case-format.md``: a person and the visits to settle in order) and the
answer is exactly what ``yibao settle`` prints for it — the same engine, the same policy
(with the overlays the service settles with, as ``yibao settle --overlay`` would take
them), the same document. Any role may call it; a case that cannot be settled answers 422 with
the message ``yibao settle`` would print (the visit, the field, or the missing policy
value and its clause).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from yibao.case import Case, parse_case
from yibao.engine.pipeline import settle_case
from yibao.report import case_json
from yibao.service.api.deps import AnyCaller, JsonBody, ServiceDep, parsed
from yibao.service.api.openapi import json_request
from yibao.service.api.problems import responses

router = APIRouter(tags=["settlement preview"])

CASE_EXAMPLE = {
    "city": "hangzhou",
    "person": {"id": "P1", "scheme": "employee", "category": "active", "account": {"current": "300.00", "history": "2000.00"}},
    "visits": [{"id": "V1", "date": "2026-01-15", "kind": "outpatient", "level": "tertiary",
                "items": [{"code": "A", "amount": "500.00", "class": "A"}]}],
}


class FundRow(BaseModel):
    fund_pay_type: str = Field(description="基金支付类型 (310100 职工统筹, 310200 个人账户, 390100 居民统筹, …)")
    fund_payamt: str


class VisitSettlement(BaseModel):
    """One visit's settlement (the national 2207 ``setlinfo`` names)."""

    model_config = ConfigDict(extra="allow")

    visit_id: str
    year: int
    medfee_sumamt: str
    fulamt_ownpay_amt: str
    overlmt_selfpay: str
    preselfpay_amt: str
    inscp_scp_amt: str
    act_pay_dedc: str
    hifp_pay: str
    hifob_pay: str
    hifmi_pay: str
    maf_pay: str
    oth_pay: str
    fund_pay_sumamt: str
    acct_pay: str
    acct_mulaid_pay: str
    psn_cash_pay: str
    psn_part_amt: str
    balc: str
    setldetail: list[FundRow]
    trace: list[dict[str, Any]] = Field(description="every step that moved money, with its rule and clause")


class PreviewResult(BaseModel):
    """What `yibao settle` prints."""

    city: str
    person_id: str
    settlements: list[VisitSettlement]


def _settle(service: Any, raw: Any) -> dict[str, Any]:
    case = parsed(parse_case, raw)
    return case_json(case.city, case.person.id, settle_case(case, service.policies.for_city(case.city)))


@router.post("/settle/preview", summary="Settle a case without storing anything (试算)", response_model=None,
             responses={200: {"model": PreviewResult, "description": "exactly what `yibao settle` prints"},
                        **responses(400, 401, 422)},
             openapi_extra=json_request(Case, CASE_EXAMPLE, "a case in the settlement case format"))
def preview(caller: AnyCaller, raw: JsonBody, service: ServiceDep) -> JSONResponse:
    """Settle every visit of the case in order, as `yibao settle` does (with the service's
    policy overlays, if any, as `--overlay`), and answer its document."""
    return JSONResponse(_settle(service, raw))
