"""Pre-settlement, settlement, reversal and 冲正.

2206 / 2303 预结算 run the engine and record nothing. 2207 / 2304 结算 run it on the same
inputs under the person's lock and record the result. 2208 / 2305 reverse a settlement.
2303 / 2304 with ``mid_setl_flag`` = 1 settle the lines uploaded so far (中途结算); the
final settlement then takes the rest.

2601 冲正 undoes a transaction the HIS is unsure about (a timeout) by its ``omsgid``: a
settlement is reversed, a registration or admission cancelled, an upload withdrawn. A
message the service never answered successfully left nothing to undo, and says so.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any, Optional

from pydantic import Field
from sqlalchemy import select

from yibao.errors import YibaoError
from yibao.money import fmt
from yibao.service import settlement as S
from yibao.service.db import hot
from yibao.service.db import models as m
from yibao.service.gateway.envelope import GatewayError
from yibao.service.gateway.registry import Call, Node, node, register, transaction
from yibao.service.gateway.visits import cancel_visit


class SettleInput(Node):
    psn_no: str = Field(min_length=1)
    mdtrt_id: str = Field(min_length=1)
    mdtrt_cert_type: Optional[str] = Field(default=None, pattern=r"^0[1-3]$")
    mdtrt_cert_no: Optional[str] = None
    med_type: Optional[str] = None
    medfee_sumamt: Optional[Decimal] = None
    psn_setlway: Optional[str] = Field(default=None, pattern=r"^0[12]$")
    chrg_bchno: Optional[str] = None
    insutype: Optional[str] = None
    acct_used_flag: str = Field(default="1", pattern=r"^[01]$")
    mid_setl_flag: str = Field(default="0", pattern=r"^[01]$")
    invono: Optional[str] = None


def _prepare(call: Call, setting: str, *, lock: bool) -> tuple[SettleInput, hot.SettlementRows]:
    data = node(call, SettleInput)
    # the person's lock and everything the settlement reads in one round trip: read under the
    # lock, as the last settlement of the person left it
    rows = hot.read_settlement(call.statements, data.psn_no, data.mdtrt_id, lock=lock)
    if rows.person is None:
        raise GatewayError(f"psn_no {data.psn_no} is not an insured person of this agency")
    visit = call.own_visit(rows.visit, data.mdtrt_id, data.psn_no)
    if visit.setting != setting:
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id} is an {visit.setting} visit; use the {visit.setting} transactions")
    if data.insutype and data.insutype != visit.insutype:
        raise GatewayError(f"insutype {data.insutype} differs from the visit's {visit.insutype}")
    if data.med_type and data.med_type != visit.med_type:
        raise GatewayError(f"med_type {data.med_type} differs from the visit's {visit.med_type} (send 2203 to change it)")
    if data.psn_setlway == "02":
        raise GatewayError("psn_setlway 02 按定额 is not offered; settle 01 按项目")
    if visit.status == "settled":
        done = call.session.scalar(select(m.Settlement.setl_id).where(
            m.Settlement.mdtrt_id == visit.mdtrt_id, m.Settlement.kind == "final", m.Settlement.reversed_by.is_(None)))
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id} is already settled (setl_id {done})")
    if visit.status == "cancelled":
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id} is cancelled")
    return data, rows


def _compute(call: Call, data: SettleInput, rows: hot.SettlementRows) -> S.Computed:
    visit = rows.visit
    interim = data.mid_setl_flag == "1"
    if interim and visit.setting != "inpatient":
        raise GatewayError("mid_setl_flag 1 (中途结算) is for inpatient stays")
    if interim and visit.status != "open":
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id} is discharged; settle it finally (mid_setl_flag 0)")
    try:
        day = S.settlement_day(visit, call.envelope.time.date() if interim else None)
        computed = S.compute(rows, day=day, use_account=data.acct_used_flag == "1",
                             policy=call.policies.for_city(rows.person.city), caches=call.caches)
    except YibaoError as exc:
        raise GatewayError(str(exc)) from None
    if data.medfee_sumamt is not None and data.medfee_sumamt != computed.state.split.total:
        raise GatewayError(f"medfee_sumamt {fmt(data.medfee_sumamt)} is not the total of the unsettled fee lines "
                           f"({fmt(computed.state.split.total)})")
    return computed


def _preview(call: Call, setting: str) -> dict[str, Any]:
    data, rows = _prepare(call, setting, lock=False)
    doc = _compute(call, data, rows).document
    info = S.setlinfo(call.codes, rows.person, rows.visit, doc, setl_id=None, setl_time=call.envelope.time,
                      msgid=call.envelope.msgid)
    return {"setlinfo": info, "setldetail": S.setldetail(doc)}


def _settle(call: Call, setting: str) -> dict[str, Any]:
    data, rows = _prepare(call, setting, lock=True)
    computed = _compute(call, data, rows)
    kind = "interim" if data.mid_setl_flag == "1" else "final"
    recorded = S.record(call.statements, call.codes, rows.person, rows.visit, computed, kind=kind,
                        setl_time=call.envelope.time, msgid=call.envelope.msgid)
    call.audit("settle", "settlement", recorded.setl_id, {
        "mdtrt_id": rows.visit.mdtrt_id, "psn_no": rows.person.psn_no, "kind": kind,
        "medfee_sumamt": recorded.setlinfo["medfee_sumamt"], "fund_pay_sumamt": recorded.setlinfo["fund_pay_sumamt"],
        "acct_pay": recorded.setlinfo["acct_pay"]})
    return {"setlinfo": recorded.setlinfo, "setldetail": recorded.setldetail}


class ReverseInput(Node):
    psn_no: str = Field(min_length=1)
    mdtrt_id: str = Field(min_length=1)
    setl_id: str = Field(min_length=1)


def _reverse(call: Call, setting: str) -> dict[str, Any]:
    data = node(call, ReverseInput)
    visit = call.visit(data.mdtrt_id, data.psn_no)
    if visit.setting != setting:
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id} is an {visit.setting} visit")
    return reverse_settlement(call, data.setl_id, visit)


def reverse_settlement(call: Call, setl_id: str, visit: m.Visit) -> dict[str, Any]:
    person = S.lock_person(call.session, visit.psn_no)
    original = call.session.get(m.Settlement, setl_id)
    if original is not None:
        call.session.refresh(original)
    if original is None or original.mdtrt_id != visit.mdtrt_id:
        raise GatewayError(f"setl_id {setl_id} is not a settlement of mdtrt_id {visit.mdtrt_id}")
    try:
        recorded = S.reverse(call.session, call.codes, person, original, setl_time=call.envelope.time,
                             msgid=call.envelope.msgid, actor=call.caller.paasid)
    except YibaoError as exc:
        raise GatewayError(str(exc)) from None
    call.audit("reverse", "settlement", recorded.setl_id, {"reverses": original.setl_id, "mdtrt_id": visit.mdtrt_id})
    return {"setlinfo": recorded.setlinfo, "setldetail": recorded.setldetail}


# The same three transactions for each setting (门诊 / 住院), one mechanism each.
for _infno, _name, _handler, _setting in (
    ("2206", "门诊预结算 outpatient pre-settlement", _preview, "outpatient"),
    ("2207", "门诊结算 outpatient settlement", _settle, "outpatient"),
    ("2208", "门诊结算撤销 outpatient settlement reversal", _reverse, "outpatient"),
    ("2303", "住院预结算 inpatient pre-settlement", _preview, "inpatient"),
    ("2304", "住院结算 inpatient settlement", _settle, "inpatient"),
    ("2305", "住院结算撤销 inpatient settlement reversal", _reverse, "inpatient"),
):
    register(_infno, _name, partial(_handler, setting=_setting))


# ---------------------------------------------------------------------- 2601 冲正


class CorrectionInput(Node):
    psn_no: str = Field(min_length=1)
    omsgid: str = Field(min_length=30, max_length=30)
    oinfno: str = Field(pattern=r"^\d{4}$")


#: The digest of a msgid corrected before it arrived (no request hashes to it).
CORRECTED = "corrected-before-arrival"
UNDOABLE = {"2201", "2204", "2207", "2301", "2304", "2401", "2402"}


@transaction("2601", "冲正交易 correction")
def correct(call: Call) -> dict[str, Any]:
    data = node(call, CorrectionInput)
    if data.oinfno not in UNDOABLE:
        raise GatewayError(f"oinfno {data.oinfno} cannot be undone by 2601 (one of {', '.join(sorted(UNDOABLE))})")
    original = call.session.get(m.Message, data.omsgid)
    if original is None:
        # the original may still be on its way: its msgid is taken now, so it takes no effect when it arrives
        call.session.add(m.Message(msgid=data.omsgid, institution_code=call.envelope.fixmedins_code, infno=data.oinfno,
                                   digest=CORRECTED, response={}, mdtrt_id=None, created_at=call.received))
        call.audit("correct (nothing to undo)", "message", data.omsgid, {"oinfno": data.oinfno})
        return {"data": {"omsgid": data.omsgid, "oinfno": data.oinfno, "result": "0",
                         "memo": "the original message was never answered successfully; nothing to undo"}}
    if original.digest == CORRECTED:
        return {"data": {"omsgid": data.omsgid, "oinfno": data.oinfno, "result": "0",
                         "memo": "already corrected before it arrived; nothing to undo"}}
    if original.institution_code != call.envelope.fixmedins_code:
        raise GatewayError(f"omsgid {data.omsgid} is not a message of institution {call.envelope.fixmedins_code}")
    if original.infno != data.oinfno:
        raise GatewayError(f"omsgid {data.omsgid} was a {original.infno}, not {data.oinfno}")
    memo = _undo(call, data, original)
    call.audit("correct", "message", data.omsgid, {"oinfno": data.oinfno, "result": memo})
    return {"data": {"omsgid": data.omsgid, "oinfno": data.oinfno, "result": "1", "memo": memo}}


def _undo(call: Call, data: CorrectionInput, original: m.Message) -> str:
    out = original.response.get("output") or {}
    if data.oinfno in ("2207", "2304"):
        setl_id = out["setlinfo"]["setl_id"]
        row = call.session.get(m.Settlement, setl_id)
        assert row is not None
        if row.reversed_by:
            return f"settlement {setl_id} was already reversed by {row.reversed_by}"
        visit = call.visit(row.mdtrt_id, data.psn_no)
        reversal = reverse_settlement(call, setl_id, visit)
        return f"settlement {setl_id} reversed by {reversal['setlinfo']['setl_id']}"
    if data.oinfno in ("2201", "2401"):
        result = out.get("data") or out.get("result") or {}
        visit = call.visit(result["mdtrt_id"], data.psn_no)
        cancel_visit(call, visit, unless="undo that first")
        return f"visit {visit.mdtrt_id} cancelled"
    if data.oinfno == "2402":
        visit = call.visit(original.mdtrt_id, data.psn_no)
        if visit.status != "discharged":
            raise GatewayError(f"mdtrt_id {visit.mdtrt_id} is {visit.status}; its discharge cannot be undone")
        visit.endtime, visit.status = None, "open"
        return f"discharge of {visit.mdtrt_id} undone"
    # 2204 / 2301: withdraw the lines that message uploaded, unless settled since
    visit = call.visit(original.mdtrt_id, data.psn_no)
    lines = call.session.scalars(select(m.FeeLine).where(
        m.FeeLine.mdtrt_id == visit.mdtrt_id, m.FeeLine.status == "active", m.FeeLine.msgid == data.omsgid)).all()
    if not lines:
        return f"the fee lines of {data.omsgid} were already withdrawn"
    if any(line.setl_id for line in lines):
        raise GatewayError(f"some lines of {data.omsgid} are settled; reverse the settlement first")
    for line in lines:
        line.status = "withdrawn"
    return f"{len(lines)} fee line(s) of {visit.mdtrt_id} withdrawn"
