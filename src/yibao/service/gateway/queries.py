"""3201 对总账, 5203 结算信息查询, 5206 人员累计信息查询."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Optional

from pydantic import Field
from sqlalchemy import case, func, select

from yibao.money import ZERO, fmt
from yibao.service.db import models as m
from yibao.service.db.types import Money
from yibao.service.gateway.envelope import GatewayError
from yibao.service.gateway.registry import Call, Node, node, transaction
from yibao.service.settlement import settlement_document


class ReconcileInput(Node):
    insutype: str = Field(min_length=3)
    clr_type: str = Field(min_length=2)
    setl_optins: Optional[str] = None
    stmt_begndate: str
    stmt_enddate: str
    medfee_sumamt: Decimal
    fund_pay_sumamt: Decimal
    acct_pay: Decimal
    fixmedins_setl_cnt: int = Field(ge=0)


def _day(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise GatewayError(f"{field}: {value!r} is not a date yyyy-MM-dd") from None


@transaction("3201", "对总账 daily reconciliation")
def reconcile(call: Call) -> dict[str, Any]:
    """Compare the institution's totals with the service's for the settlements made in the
    period (by the time of the settlement call): settlements count +1, reversals −1 (their
    amounts are already negated)."""
    data = node(call, ReconcileInput)
    begin, end = _day(data.stmt_begndate, "stmt_begndate"), _day(data.stmt_enddate, "stmt_enddate")
    if end < begin:
        raise GatewayError("stmt_enddate is before stmt_begndate")
    s = m.Settlement
    row = call.session.execute(select(
        func.sum(s.medfee_sumamt, type_=Money()), func.sum(s.fund_pay_sumamt, type_=Money()),
        func.sum(s.acct_pay, type_=Money()),
        func.sum(case((s.kind == "reversal", -1), else_=1)),
    ).where(s.institution_code == call.envelope.fixmedins_code, s.insutype == data.insutype,
            s.clr_type == data.clr_type, s.setl_time >= dt.datetime.combine(begin, dt.time()),
            s.setl_time < dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))).one()
    medfee, fund, acct, count = (row[0] or ZERO, row[1] or ZERO, row[2] or ZERO, int(row[3] or 0))
    ours = {"medfee_sumamt": medfee, "fund_pay_sumamt": fund, "acct_pay": acct, "fixmedins_setl_cnt": count}
    theirs = {"medfee_sumamt": data.medfee_sumamt, "fund_pay_sumamt": data.fund_pay_sumamt, "acct_pay": data.acct_pay,
              "fixmedins_setl_cnt": data.fixmedins_setl_cnt}
    differ = [f"{k}: institution {theirs[k]}, agency {fmt(v) if isinstance(v, Decimal) else v}"
              for k, v in ours.items() if theirs[k] != v]
    return {"stmtinfo": {
        "setl_optins": data.setl_optins or "", "stmt_rslt": "1" if differ else "0",
        "stmt_rslt_dscr": "; ".join(differ) if differ else "平 — totals agree",
        "medfee_sumamt": fmt(medfee), "fund_pay_sumamt": fmt(fund), "acct_pay": fmt(acct), "fixmedins_setl_cnt": count,
    }}


class SettlementQuery(Node):
    psn_no: str = Field(min_length=1)
    setl_id: str = Field(min_length=1)
    mdtrt_id: Optional[str] = None


@transaction("5203", "结算信息查询 settlement query")
def settlement_query(call: Call) -> dict[str, Any]:
    data = node(call, SettlementQuery)
    row = call.session.get(m.Settlement, data.setl_id)
    if row is None or row.institution_code != call.envelope.fixmedins_code or row.psn_no != data.psn_no \
            or (data.mdtrt_id and row.mdtrt_id != data.mdtrt_id):
        raise GatewayError(f"setl_id {data.setl_id} is not a settlement of institution {call.envelope.fixmedins_code} for psn_no {data.psn_no}")
    return settlement_document(call.codes, call.session, row)


class TotalsQuery(Node):
    psn_no: str = Field(min_length=1)
    cum_ym: Optional[str] = Field(default=None, pattern=r"^\d{6}$")


@transaction("5206", "人员累计信息查询 running totals")
def running_totals(call: Call) -> dict[str, Any]:
    """The person-year's running totals (cum_type_code = the engine's counter name). An
    institution sees them only for a person it has treated."""
    data = node(call, TotalsQuery)
    treated = call.session.scalar(select(m.Visit.mdtrt_id).where(
        m.Visit.psn_no == data.psn_no, m.Visit.institution_code == call.envelope.fixmedins_code).limit(1))
    if treated is None:
        raise GatewayError(f"psn_no {data.psn_no} has no visit at institution {call.envelope.fixmedins_code}")
    person = call.session.get(m.Person, data.psn_no)
    assert person is not None
    year = int(data.cum_ym[:4]) if data.cum_ym else call.received.year
    rows = call.session.scalars(select(m.RunningTotal).where(
        m.RunningTotal.psn_no == data.psn_no, m.RunningTotal.year == year).order_by(m.RunningTotal.counter)).all()
    insutype = call.codes.scheme_insutype[person.scheme]
    return {"cuminfo": [{"insutype": insutype, "year": year, "cum_type_code": r.counter, "cum": fmt(r.amount)} for r in rows]}
