"""Opening and closing visits, and their fee lines.

Outpatient: 2201 挂号 / 2202 撤销, 2203 就诊信息上传, 2204 费用明细上传 / 2205 撤销.
Inpatient:  2401 入院 / 2404 撤销, 2402 出院 / 2405 撤销, 2301 费用明细上传 / 2302 撤销.

A visit belongs to the institution that opened it; every later transaction on it must
come from that institution (:meth:`Call.visit`). Fee lines are split by the catalogue on
upload and the split is answered per line, so the HIS sees the same figures settlement
will use.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial
from typing import Any, Optional

from pydantic import Field
from sqlalchemy import select

from yibao import vocabulary as V
from yibao.money import fmt, round_fen
from yibao.service import catalogue
from yibao.service.db import hot
from yibao.service.db import models as m
from yibao.service.gateway.envelope import GatewayError, parse_datetime
from yibao.service.gateway.registry import Call, Node, node, nodes, register, transaction
from yibao.service.settlement import live_settlement, new_id

# ---------------------------------------------------------------------- opening


def _person(call: Call, psn_no: str, insutype: str) -> Any:
    """The person a visit opens for (their row), if insured under ``insutype`` at this agency."""
    persons, = call.statements.read((hot.PERSON, {"psn_no": psn_no}))
    if not persons:
        raise GatewayError(f"psn_no {psn_no} is not an insured person of this agency")
    person = persons[0]
    scheme = call.codes.scheme_of(insutype)
    if scheme != person.scheme:
        raise GatewayError(f"psn_no {psn_no} is insured under {person.scheme}, not insutype {insutype}")
    if call.envelope.insuplc_admdvs and call.envelope.insuplc_admdvs != person.insuplc_admdvs:
        raise GatewayError(f"insuplc_admdvs {call.envelope.insuplc_admdvs} is not the person's 参保地 {person.insuplc_admdvs}")
    return person


def _new_visit(call: Call, person: Any, *, setting: str, insutype: str, med_type: str, begntime: dt.datetime,
               ipt_otp_no: str | None, info: dict[str, Any]) -> m.Visit:
    """A visit opened at the calling institution, not stored yet: the handler completes it,
    then :func:`_store_visit` queues its row."""
    inst = call.institution
    med = call.codes.med_type(med_type)
    if med.setting != setting:
        raise GatewayError(f"med_type {med_type} ({med.name}) is not an {setting} medical type")
    location = call.codes.location(person.insuplc_admdvs, inst.admdvs)
    route = None
    if location != "local":
        route = med.route or ("long_term" if person.long_term_residence else "temporary")
    return m.Visit(
        mdtrt_id=new_id(begntime.date()), psn_no=person.psn_no, institution_code=inst.code, setting=setting,
        insutype=insutype, med_type=med_type, kind=med.kind, level=inst.level, location=location, route=route,
        transfer_from=None, disease=None, procedure=None, diagnoses=[], begntime=begntime, endtime=None,
        ipt_otp_no=ipt_otp_no, status="open", info=info, created_at=m.utc_now(),
    )


def _store_visit(call: Call, visit: m.Visit) -> None:
    call.statements.queue(hot.INSERT_VISIT, {column.key: getattr(visit, column.key) for column in m.Visit.__table__.columns})


class Registration(Node):
    psn_no: str = Field(min_length=1)
    insutype: str = Field(min_length=3)
    begntime: str
    mdtrt_cert_type: str = Field(pattern=r"^0[1-3]$")
    mdtrt_cert_no: str = Field(min_length=1)
    ipt_otp_no: str = Field(min_length=1)
    med_type: Optional[str] = None
    dept_code: Optional[str] = None
    atddr_no: Optional[str] = None


@transaction("2201", "门诊挂号 outpatient registration")
def register_visit(call: Call) -> dict[str, Any]:
    data = node(call, Registration)
    person = _person(call, data.psn_no, data.insutype)
    begntime = parse_datetime(data.begntime, "begntime")
    visit = _new_visit(call, person, setting="outpatient", insutype=data.insutype, med_type=data.med_type or "11",
                       begntime=begntime, ipt_otp_no=data.ipt_otp_no, info={"mdtrt_cert_type": data.mdtrt_cert_type})
    _store_visit(call, visit)
    call.audit("register", "visit", visit.mdtrt_id, {"psn_no": person.psn_no})
    return {"data": {"mdtrt_id": visit.mdtrt_id, "psn_no": person.psn_no, "ipt_otp_no": data.ipt_otp_no,
                     "exp_content": ""}}


class VisitRef(Node):
    psn_no: str = Field(min_length=1)
    mdtrt_id: str = Field(min_length=1)
    ipt_otp_no: Optional[str] = None


def _cancel(call: Call, setting: str) -> dict[str, Any]:
    data = node(call, VisitRef)
    visit = call.visit(data.mdtrt_id, data.psn_no)
    if visit.setting != setting:
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id} is not an {setting} visit")
    if visit.status == "cancelled":
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id} is already cancelled")
    cancel_visit(call, visit, unless="reverse it first")
    call.audit("cancel", "visit", visit.mdtrt_id)
    return {}


def cancel_visit(call: Call, visit: m.Visit, *, unless: str) -> None:
    """Cancel a visit and withdraw its lines; refused while a settlement of it stands
    (the refusal ends with ``unless``, what the caller must do first)."""
    live = live_settlement(call.session, visit.mdtrt_id)
    if live is not None:
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id} has settlement {live}; {unless}")
    for line in call.session.scalars(select(m.FeeLine).where(m.FeeLine.mdtrt_id == visit.mdtrt_id, m.FeeLine.status == "active")):
        line.status = "withdrawn"
    visit.status = "cancelled"


register("2202", "门诊挂号撤销 registration reversal", partial(_cancel, setting="outpatient"))
register("2404", "入院办理撤销 admission reversal", partial(_cancel, setting="inpatient"))


# ---------------------------------------------------------------------- visit information


class Diagnosis(Node):
    diag_type: Optional[str] = None
    diag_srt_no: Optional[str] = None
    diag_code: str = Field(min_length=1)
    diag_name: Optional[str] = None
    maindiag_flag: Optional[str] = None


class VisitInfo(Node):
    mdtrt_id: str = Field(min_length=1)
    psn_no: str = Field(min_length=1)
    med_type: str = Field(min_length=2)
    begntime: Optional[str] = None
    dise_codg: Optional[str] = None
    dise_name: Optional[str] = None
    birctrl_type: Optional[str] = None


def _apply_visit_info(call: Call, visit: m.Visit, med_type: str, dise_codg: str | None, birctrl_type: str | None,
                      diagnoses: list[Diagnosis]) -> None:
    med = call.codes.med_type(med_type)
    if med.setting != visit.setting:
        raise GatewayError(f"med_type {med_type} ({med.name}) is not an {visit.setting} medical type")
    visit.med_type, visit.kind = med_type, med.kind
    if visit.location != "local" and med.route:
        visit.route = med.route
    visit.disease = None
    if dise_codg and (dise_codg in V.DISEASES or dise_codg in call.codes.disease or med.kind == "chronic_or_special"):
        visit.disease = call.codes.disease_of(dise_codg)  # an unknown code of a 慢特病 visit is refused
    if med.kind == "chronic_or_special" and visit.disease is None:
        raise GatewayError(f"med_type {med_type} ({med.name}) needs dise_codg: the filed 慢特病 treated")
    if birctrl_type:
        visit.procedure = [call.codes.procedure(birctrl_type)]
    visit.diagnoses = [d.model_dump() for d in diagnoses]


@transaction("2203", "门诊就诊信息上传 outpatient visit information")
def visit_info(call: Call) -> dict[str, Any]:
    info = node(call, VisitInfo, "mdtrtinfo")
    diagnoses = nodes(call, Diagnosis, "diseinfo") if call.input.get("diseinfo") else []
    visits, = call.statements.read((hot.VISIT, {"mdtrt_id": info.mdtrt_id}))
    stored = call.own_visit(visits[0] if visits else None, info.mdtrt_id, info.psn_no)
    _open_for_changes(stored)
    visit = m.Visit(**stored._asdict())  # changed here, not in the session: the row is updated below
    _apply_visit_info(call, visit, info.med_type, info.dise_codg, info.birctrl_type, diagnoses)
    call.statements.queue(hot.SET_VISIT_INFO, hot.visit_info_values(visit))
    call.audit("visit information", "visit", visit.mdtrt_id, {"med_type": info.med_type})
    return {}


def _open_for_changes(visit: m.Visit) -> None:
    if visit.status in ("settled", "cancelled"):
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id} is {visit.status}; it can no longer change")


# ---------------------------------------------------------------------- admission and discharge


class Admission(Node):
    psn_no: str = Field(min_length=1)
    insutype: str = Field(min_length=3)
    begntime: str
    mdtrt_cert_type: str = Field(pattern=r"^0[1-3]$")
    mdtrt_cert_no: str = Field(min_length=1)
    med_type: str = Field(min_length=2)
    ipt_no: str = Field(min_length=1)
    dise_codg: Optional[str] = None
    birctrl_type: Optional[str] = None
    adm_dept_codg: Optional[str] = None
    atddr_no: Optional[str] = None
    ref_fixmedins_lv: Optional[str] = None  # the level transferred from (随州 起付标准补差)


@transaction("2401", "入院办理 admission")
def admit(call: Call) -> dict[str, Any]:
    data = node(call, Admission, "mdtrtinfo")
    diagnoses = nodes(call, Diagnosis, "diseinfo") if call.input.get("diseinfo") else []
    person = _person(call, data.psn_no, data.insutype)
    begntime = parse_datetime(data.begntime, "begntime")
    visit = _new_visit(call, person, setting="inpatient", insutype=data.insutype, med_type=data.med_type,
                       begntime=begntime, ipt_otp_no=data.ipt_no, info={"mdtrt_cert_type": data.mdtrt_cert_type})
    if data.ref_fixmedins_lv:
        if data.ref_fixmedins_lv not in V.LEVELS:
            raise GatewayError(f"ref_fixmedins_lv {data.ref_fixmedins_lv!r} is not one of {', '.join(V.LEVELS)}")
        visit.transfer_from = data.ref_fixmedins_lv
    _apply_visit_info(call, visit, data.med_type, data.dise_codg, data.birctrl_type, diagnoses)
    _store_visit(call, visit)
    call.audit("admit", "visit", visit.mdtrt_id, {"psn_no": person.psn_no})
    return {"result": {"mdtrt_id": visit.mdtrt_id, "psn_no": person.psn_no, "ipt_otp_no": data.ipt_no}}


class Discharge(Node):
    mdtrt_id: str = Field(min_length=1)
    psn_no: str = Field(min_length=1)
    insutype: Optional[str] = None
    endtime: str
    dise_codg: Optional[str] = None
    dscg_way: Optional[str] = None


@transaction("2402", "出院办理 discharge")
def discharge(call: Call) -> dict[str, Any]:
    data = node(call, Discharge, "dscginfo")
    diagnoses = nodes(call, Diagnosis, "diseinfo") if call.input.get("diseinfo") else []
    visit = call.visit(data.mdtrt_id, data.psn_no)
    if visit.setting != "inpatient":
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id} is not an inpatient stay")
    if visit.status != "open":
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id} is {visit.status}; only an open stay can be discharged")
    endtime = parse_datetime(data.endtime, "endtime")
    if endtime < visit.begntime:
        raise GatewayError(f"endtime {data.endtime} is before the admission {visit.begntime:%Y-%m-%d %H:%M:%S}")
    visit.endtime, visit.status = endtime, "discharged"
    if diagnoses:
        visit.diagnoses = [d.model_dump() for d in diagnoses]
    call.audit("discharge", "visit", visit.mdtrt_id)
    return {}


@transaction("2405", "出院撤销 discharge reversal")
def cancel_discharge(call: Call) -> dict[str, Any]:
    data = node(call, VisitRef)
    visit = call.visit(data.mdtrt_id, data.psn_no)
    if visit.status != "discharged":
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id} is {visit.status}; only a discharged, unsettled stay can be reopened")
    visit.endtime, visit.status = None, "open"
    call.audit("reopen", "visit", visit.mdtrt_id)
    return {}


# ---------------------------------------------------------------------- fee lines


class FeeDetail(Node):
    feedetl_sn: str = Field(min_length=1, max_length=30)
    mdtrt_id: str = Field(min_length=1)
    psn_no: str = Field(min_length=1)
    chrg_bchno: Optional[str] = None
    fee_ocur_time: str
    med_list_codg: str = Field(min_length=1)
    medins_list_codg: Optional[str] = None
    medins_list_name: Optional[str] = None
    det_item_fee_sumamt: Decimal
    cnt: Decimal
    pric: Decimal


def _upload(call: Call, setting: str) -> dict[str, Any]:
    lines = nodes(call, FeeDetail, "feedetail")
    first = lines[0]
    # a line whose time does not parse is refused in its turn below; the others' entries are read now
    times = [_fee_time(line) for line in lines]
    wanted = {(line.med_list_codg, when.date()) for line, when in zip(lines, times) if when is not None}
    days = [day for _, day in wanted]
    rows = hot.read_upload(call.statements, first.mdtrt_id, first.psn_no, {code for code, _ in wanted},
                           min(days, default=None), max(days, default=None))
    visit = call.own_visit(rows.visit, first.mdtrt_id, first.psn_no)
    if visit.setting != setting:
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id} is not an {setting} visit")
    if visit.status not in ("open", "discharged"):
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id} is {visit.status}; no more fee lines can be uploaded")
    city, taken = rows.city, rows.taken
    entries = catalogue.in_force(rows.versions, wanted)
    stored, result = [], []
    for i, (line, when) in enumerate(zip(lines, times)):
        where = f"feedetail[{i}] ({line.feedetl_sn})"
        if line.mdtrt_id != visit.mdtrt_id or line.psn_no != visit.psn_no:
            raise GatewayError(f"{where}: every line of one upload belongs to the same mdtrt_id and psn_no")
        if line.feedetl_sn in taken:
            raise GatewayError(f"{where}: feedetl_sn is already uploaded for this visit")
        taken.add(line.feedetl_sn)
        _check_amounts(line, where, refunds=setting == "inpatient")
        if when is None:  # refused here, naming the line
            when = parse_datetime(line.fee_ocur_time, f"{where}.fee_ocur_time")
        entry = entries.get((line.med_list_codg, when.date()))
        if entry is None:
            raise GatewayError(f"{where}: med_list_codg {line.med_list_codg} is not in the {city} catalogue on {when.date()}")
        try:
            split = catalogue.split_line(entry, call.policies.for_city(city), when.date(), line.cnt, line.pric,
                                         line.det_item_fee_sumamt, where)
        except catalogue.CatalogueError as exc:
            raise GatewayError(str(exc)) from None
        lv = call.codes.chrgitm_lv[split.chrgitm_lv_class]
        stored.append({
            "mdtrt_id": visit.mdtrt_id, "feedetl_sn": line.feedetl_sn, "chrg_bchno": line.chrg_bchno,
            "med_list_codg": line.med_list_codg, "medins_list_codg": line.medins_list_codg, "name": entry.name,
            "cnt": line.cnt, "pric": line.pric, "det_item_fee_sumamt": line.det_item_fee_sumamt, "fee_ocur_time": when,
            "chrgitm_lv": lv, "selfpay_prop": split.selfpay_prop, "pric_uplmt_amt": split.pric_uplmt_amt,
            "fulamt_ownpay_amt": split.fulamt_ownpay_amt, "overlmt_amt": split.overlmt_amt,
            "preselfpay_amt": split.preselfpay_amt, "inscp_scp_amt": split.inscp_scp_amt, "status": "active",
            "msgid": call.envelope.msgid, "setl_id": None,
        })
        result.append({
            "feedetl_sn": line.feedetl_sn, "det_item_fee_sumamt": fmt(line.det_item_fee_sumamt), "cnt": _places(line.cnt, 4),
            "pric": _places(line.pric, 6), "pric_uplmt_amt": _places(split.pric_uplmt_amt, 6) if split.pric_uplmt_amt is not None else None,
            "selfpay_prop": _places(split.selfpay_prop, 4), "fulamt_ownpay_amt": fmt(split.fulamt_ownpay_amt),
            "overlmt_amt": fmt(split.overlmt_amt), "preselfpay_amt": fmt(split.preselfpay_amt),
            "inscp_scp_amt": fmt(split.inscp_scp_amt), "chrgitm_lv": lv, "med_chrgitm_type": None,
            "bas_medn_flag": None, "hi_nego_drug_flag": None, "chld_medc_flag": None, "list_sp_item_flag": None,
            "lmt_used_flag": None, "drt_reim_flag": None, "memo": entry.name,
        })
    call.statements.queue(hot.INSERT_FEE_LINE, stored)  # every line in one statement, once all are checked
    call.audit("upload fee lines", "visit", visit.mdtrt_id, {"lines": len(lines)})
    return {"result": result}


def _fee_time(line: FeeDetail) -> dt.datetime | None:
    """The line's fee_ocur_time, or None when it does not parse (the caller refuses it in turn)."""
    try:
        return parse_datetime(line.fee_ocur_time, "fee_ocur_time")
    except GatewayError:
        return None


def _check_amounts(line: FeeDetail, where: str, *, refunds: bool) -> None:
    for name in ("det_item_fee_sumamt", "cnt", "pric"):
        value = getattr(line, name)
        if not value.is_finite():
            raise GatewayError(f"{where}: {name} is not a number")
    if line.det_item_fee_sumamt != line.det_item_fee_sumamt.quantize(Decimal("0.01")):
        raise GatewayError(f"{where}: det_item_fee_sumamt has more than 2 decimal places")
    if line.pric < 0:
        raise GatewayError(f"{where}: pric is negative")
    if line.cnt == 0 or (line.cnt < 0 and not refunds):
        raise GatewayError(f"{where}: cnt must be positive{' (a refund line has a negative cnt)' if refunds else ''}")
    if abs(round_fen(line.cnt * line.pric) - line.det_item_fee_sumamt) > Decimal("0.01"):
        raise GatewayError(f"{where}: det_item_fee_sumamt {fmt(line.det_item_fee_sumamt)} is not cnt × pric ({fmt(round_fen(line.cnt * line.pric))})")


def _places(value: Decimal, places: int) -> str:
    return str(value.quantize(Decimal(1).scaleb(-places)))


register("2204", "门诊费用明细信息上传 outpatient fee upload", partial(_upload, setting="outpatient"))
register("2301", "住院费用明细信息上传 inpatient fee upload", partial(_upload, setting="inpatient"))


class Withdrawal(Node):
    mdtrt_id: str = Field(min_length=1)
    psn_no: str = Field(min_length=1)
    chrg_bchno: Optional[str] = None
    feedetl_sn: Optional[str] = None


def _withdraw(call: Call, visit: m.Visit, *, chrg_bchno: str | None = None, feedetl_sn: str | None = None) -> int:
    _open_for_changes(visit)
    query = select(m.FeeLine).where(m.FeeLine.mdtrt_id == visit.mdtrt_id, m.FeeLine.status == "active", m.FeeLine.setl_id.is_(None))
    if chrg_bchno and chrg_bchno != "0000":
        query = query.where(m.FeeLine.chrg_bchno == chrg_bchno)
    if feedetl_sn and feedetl_sn != "0000":
        query = query.where(m.FeeLine.feedetl_sn == feedetl_sn)
    lines = call.session.scalars(query).all()
    if not lines:
        raise GatewayError(f"mdtrt_id {visit.mdtrt_id}: no unsettled fee lines match")
    for line in lines:
        line.status = "withdrawn"
    return len(lines)


@transaction("2205", "门诊费用明细信息撤销 outpatient fee withdrawal")
def withdraw_outpatient(call: Call) -> dict[str, Any]:
    data = node(call, Withdrawal)
    if not data.chrg_bchno:
        raise GatewayError("input.data.chrg_bchno is required (\"0000\" withdraws every unsettled line)")
    visit = call.visit(data.mdtrt_id, data.psn_no)
    count = _withdraw(call, visit, chrg_bchno=data.chrg_bchno)
    call.audit("withdraw fee lines", "visit", visit.mdtrt_id, {"chrg_bchno": data.chrg_bchno, "lines": count})
    return {}


@transaction("2302", "住院费用明细撤销 inpatient fee withdrawal")
def withdraw_inpatient(call: Call) -> dict[str, Any]:
    items = nodes(call, Withdrawal, "data")
    count = 0
    for item in items:
        if not item.feedetl_sn:
            raise GatewayError("input.data.feedetl_sn is required (\"0000\" withdraws every unsettled line)")
        visit = call.visit(item.mdtrt_id, item.psn_no)
        count += _withdraw(call, visit, feedetl_sn=item.feedetl_sn)
        call.audit("withdraw fee lines", "visit", visit.mdtrt_id, {"feedetl_sn": item.feedetl_sn})
    return {}
