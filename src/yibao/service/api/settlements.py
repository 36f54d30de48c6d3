"""Recorded settlements (结算) and visits (就诊), for querying.

Settlements are made by institutions through the national gateway (2207 / 2304) and
reversed there (2208 / 2305); here they are read. A reversal is a settlement row of its
own with every amount negated (``setl_type`` ``reversal``, ``orig_setl_id`` the original).
An institution reads only its own visits and settlements: anything else is answered 404,
exactly as a record that does not exist.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from yibao.money import fmt
from yibao.service.api.deps import AnyCaller, PagingDep, ServiceDep, sees_institution_only
from yibao.service.api.problems import invalid, not_found, responses
from yibao.service.db import models as m
from yibao.service.settlement import settlement_document

router = APIRouter(tags=["settlements"])


class SettlementSummary(BaseModel):
    setl_id: str = Field(description="结算ID")
    mdtrt_id: str = Field(description="就诊ID")
    psn_no: str
    institution_code: str
    setl_type: str = Field(description="final, interim (中途结算) or reversal")
    orig_setl_id: Optional[str] = Field(default=None, description="the settlement a reversal reverses")
    reversed_by: Optional[str] = None
    year: int
    setl_date: dt.date
    setl_time: dt.datetime
    insutype: str
    med_type: str
    medfee_sumamt: str
    fund_pay_sumamt: str
    acct_pay: str
    psn_cash_pay: str


class SettlementPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[SettlementSummary]


class SettlementDocument(BaseModel):
    """A stored settlement as the national interface shows it (5203): ``setlinfo`` + ``setldetail``."""

    model_config = ConfigDict(extra="allow")

    setlinfo: dict[str, Any] = Field(description="结算信息: the amounts (strings, two decimals), the person, the visit, the trace")
    setldetail: list[dict[str, Any]] = Field(description="基金分项结算信息: one row per fund that paid")


class FeeLineView(BaseModel):
    id: int
    feedetl_sn: str
    chrg_bchno: Optional[str] = None
    med_list_codg: str
    medins_list_codg: Optional[str] = None
    name: Optional[str] = None
    cnt: str
    pric: str
    det_item_fee_sumamt: str
    fee_ocur_time: dt.datetime
    chrgitm_lv: str = Field(description="01 甲类, 02 乙类, 03 丙类")
    selfpay_prop: str
    pric_uplmt_amt: Optional[str] = None
    fulamt_ownpay_amt: str
    overlmt_amt: str
    preselfpay_amt: str
    inscp_scp_amt: str
    status: str = Field(description="active or withdrawn")
    setl_id: Optional[str] = Field(default=None, description="the settlement that took the line")


class VisitView(BaseModel):
    mdtrt_id: str
    psn_no: str
    institution_code: str
    setting: str = Field(description="outpatient or inpatient")
    insutype: str
    med_type: str
    kind: str
    level: str
    location: str
    route: Optional[str] = None
    transfer_from: Optional[str] = None
    disease: Optional[str] = None
    procedure: Optional[list[str]] = None
    diagnoses: list[dict[str, Any]]
    begntime: dt.datetime
    endtime: Optional[dt.datetime] = None
    ipt_otp_no: Optional[str] = None
    status: str = Field(description="open, discharged, settled or cancelled")
    created_at: dt.datetime
    fee_lines: list[FeeLineView]
    settlements: list[str] = Field(description="setl_id of every settlement and reversal of the visit, oldest first")


def summary(s: m.Settlement) -> dict[str, Any]:
    return {"setl_id": s.setl_id, "mdtrt_id": s.mdtrt_id, "psn_no": s.psn_no, "institution_code": s.institution_code,
            "setl_type": s.kind, "orig_setl_id": s.reverses, "reversed_by": s.reversed_by, "year": s.year,
            "setl_date": s.setl_date, "setl_time": s.setl_time, "insutype": s.insutype, "med_type": s.med_type,
            "medfee_sumamt": fmt(s.medfee_sumamt), "fund_pay_sumamt": fmt(s.fund_pay_sumamt), "acct_pay": fmt(s.acct_pay),
            "psn_cash_pay": fmt(s.psn_cash_pay)}


def _opt(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def fee_line_view(f: m.FeeLine) -> dict[str, Any]:
    return {"id": f.id, "feedetl_sn": f.feedetl_sn, "chrg_bchno": f.chrg_bchno, "med_list_codg": f.med_list_codg,
            "medins_list_codg": f.medins_list_codg, "name": f.name, "cnt": str(f.cnt), "pric": str(f.pric),
            "det_item_fee_sumamt": fmt(f.det_item_fee_sumamt), "fee_ocur_time": f.fee_ocur_time, "chrgitm_lv": f.chrgitm_lv,
            "selfpay_prop": str(f.selfpay_prop), "pric_uplmt_amt": _opt(f.pric_uplmt_amt),
            "fulamt_ownpay_amt": fmt(f.fulamt_ownpay_amt), "overlmt_amt": fmt(f.overlmt_amt),
            "preselfpay_amt": fmt(f.preselfpay_amt), "inscp_scp_amt": fmt(f.inscp_scp_amt), "status": f.status,
            "setl_id": f.setl_id}


@router.get("/settlements", summary="Search settlements", response_model=SettlementPage,
            responses=responses(401, 422))
def list_settlements(caller: AnyCaller, service: ServiceDep, page: PagingDep,
                     psn_no: Annotated[Optional[str], Query(max_length=30)] = None,
                     mdtrt_id: Annotated[Optional[str], Query(max_length=30)] = None,
                     date_from: Annotated[Optional[dt.date], Query(description="settlement date on or after (YYYY-MM-DD)")] = None,
                     date_to: Annotated[Optional[dt.date], Query(description="settlement date on or before (YYYY-MM-DD)")] = None,
                     ) -> dict[str, Any]:
    """Settlements and reversals, oldest first; an institution sees only its own."""
    if date_from and date_to and date_to < date_from:
        raise invalid(f"date_to {date_to} is before date_from {date_from}")
    s = m.Settlement
    query = select(s)
    only = sees_institution_only(caller)
    if only is not None:
        query = query.where(s.institution_code == only)
    if psn_no:
        query = query.where(s.psn_no == psn_no)
    if mdtrt_id:
        query = query.where(s.mdtrt_id == mdtrt_id)
    if date_from:
        query = query.where(s.setl_date >= date_from)
    if date_to:
        query = query.where(s.setl_date <= date_to)
    with service.db.sessions() as session:
        return page.page(session, query, (s.setl_time, s.created_at, s.setl_id), summary)


@router.get("/settlements/{setl_id}", summary="Read a settlement", response_model=SettlementDocument,
            responses=responses(401, 404))
def read_settlement(setl_id: str, caller: AnyCaller, service: ServiceDep) -> dict[str, Any]:
    """The settlement as 5203 answers it: `setlinfo` (with `setl_type`, `orig_setl_id`,
    `reversed_by`) and `setldetail`."""
    with service.db.sessions() as session:
        row = session.get(m.Settlement, setl_id)
        only = sees_institution_only(caller)
        if row is None or (only is not None and row.institution_code != only):
            raise not_found(f"no settlement with setl_id {setl_id}")
        return settlement_document(service.codes, session, row)


@router.get("/visits/{mdtrt_id}", summary="Read a visit with its fee lines", response_model=VisitView,
            tags=["settlements"], responses=responses(401, 404))
def read_visit(mdtrt_id: str, caller: AnyCaller, service: ServiceDep) -> dict[str, Any]:
    """The visit, every fee line uploaded for it (withdrawn ones included) and the ids of
    its settlements; an institution reads only its own visits."""
    with service.db.sessions() as session:
        visit = session.get(m.Visit, mdtrt_id)
        only = sees_institution_only(caller)
        if visit is None or (only is not None and visit.institution_code != only):
            raise not_found(f"no visit with mdtrt_id {mdtrt_id}")
        lines = session.scalars(select(m.FeeLine).where(m.FeeLine.mdtrt_id == mdtrt_id).order_by(m.FeeLine.id)).all()
        setl_ids = session.scalars(select(m.Settlement.setl_id).where(m.Settlement.mdtrt_id == mdtrt_id)
                                   .order_by(m.Settlement.created_at, m.Settlement.setl_time)).all()
        return {
            "mdtrt_id": visit.mdtrt_id, "psn_no": visit.psn_no, "institution_code": visit.institution_code,
            "setting": visit.setting, "insutype": visit.insutype, "med_type": visit.med_type, "kind": visit.kind,
            "level": visit.level, "location": visit.location, "route": visit.route, "transfer_from": visit.transfer_from,
            "disease": visit.disease, "procedure": visit.procedure, "diagnoses": visit.diagnoses or [],
            "begntime": visit.begntime, "endtime": visit.endtime, "ipt_otp_no": visit.ipt_otp_no, "status": visit.status,
            "created_at": visit.created_at, "fee_lines": [fee_line_view(f) for f in lines], "settlements": list(setl_ids),
        }
