"""9001 签到, 1101 人员信息获取, 2001 人员待遇享受检查."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field
from sqlalchemy import select

from yibao.lifecycle.history import History
from yibao.money import fmt
from yibao.service import ledger
from yibao.service.db import models as m
from yibao.service.gateway.envelope import GatewayError, parse_datetime
from yibao.service.gateway.registry import Call, Node, node, transaction
from yibao.service.people import cached_coverage, cached_history, history_of
from yibao.service.settlement import GEND, new_id


class SignInInput(Node):
    opter_no: str = Field(min_length=1)
    mac: Optional[str] = None
    ip: Optional[str] = None


@transaction("9001", "签到 sign-in")
def sign_in(call: Call) -> dict[str, Any]:
    data = node(call, SignInInput, "signIn")
    inst = call.institution
    sign_no = new_id(call.received.date())
    call.session.add(m.SignIn(sign_no=sign_no, institution_code=inst.code, opter=data.opter_no, mac=data.mac))
    call.audit("sign in", "institution", inst.code, {"opter": data.opter_no})
    return {"signinoutb": {"sign_time": call.received.strftime("%Y-%m-%d %H:%M:%S"), "sign_no": sign_no}}


class PersonQuery(Node):
    mdtrt_cert_type: str = Field(pattern=r"^0[1-3]$")
    mdtrt_cert_no: str = Field(min_length=1)
    psn_cert_type: Optional[str] = None
    certno: Optional[str] = None
    psn_name: Optional[str] = None


def find_person(call: Call, cert_type: str, cert_no: str) -> m.Person:
    """A person by their 就诊凭证: 02 身份证 → certno; 01 电子凭证 / 03 社保卡 → psn_no or certno."""
    person = call.session.scalars(select(m.Person).where(m.Person.certno == cert_no)).first()
    if person is None and cert_type != "02":
        person = call.session.get(m.Person, cert_no)
    if person is None:
        raise GatewayError("no insured person with this 就诊凭证 (mdtrt_cert_no)")
    return person


def _history(call: Call, person: m.Person) -> History:
    return cached_history(person, call.caches.histories, lambda: history_of(call.session, person))


@transaction("1101", "人员信息获取 person information")
def person_info(call: Call) -> dict[str, Any]:
    q = node(call, PersonQuery)
    person = find_person(call, q.mdtrt_cert_type, q.mdtrt_cert_no)
    today = call.received.date()
    history = _history(call, person)
    cover = cached_coverage(person, history, today, call.policies.for_city(person.city), call.caches.coverages)
    enrolment = history.enrolment_on(today) or (max(history.enrolments, key=lambda e: e.start) if history.enrolments else None)
    balance = ledger.balances(call.session, person.psn_no, today.year) if person.scheme == "employee" else None
    insuinfo = []
    if enrolment is not None:
        insuinfo.append({
            "balc": fmt(balance.total) if balance else "0.00",
            "insutype": call.codes.scheme_insutype[enrolment.scheme],
            "psn_type": call.codes.psn_type[enrolment.category],
            "psn_insu_stas": "1" if cover.covered else "2",  # 1 正常参保, 2 暂停参保
            "psn_insu_date": enrolment.start.isoformat(),
            "paus_insu_date": None if cover.covered else today.isoformat(),
            "cvlserv_flag": "0",
            "insuplc_admdvs": person.insuplc_admdvs,
            "emp_name": None,
            "insu_stas_dscr": cover.reason,
        })
    idetinfo = []
    if person.assistance:
        idetinfo.append({"psn_idet_type": call.codes.psn_idet_type[person.assistance], "psn_type_lv": None,
                         "memo": person.assistance, "begntime": None, "endtime": None})
    return {
        "baseinfo": {"psn_no": person.psn_no, "psn_cert_type": "01", "certno": person.certno, "psn_name": person.name,
                     "gend": GEND[person.gend], "naty": "01", "brdy": person.brdy.isoformat(), "age": history.age_on(today)},
        "insuinfo": insuinfo,
        "idetinfo": idetinfo,
    }


class EligibilityInput(Node):
    psn_no: str = Field(min_length=1)
    insutype: str = Field(min_length=3)
    med_type: Optional[str] = None
    begntime: str
    endtime: Optional[str] = None
    dise_codg: Optional[str] = None


@transaction("2001", "人员待遇享受检查 benefit eligibility")
def eligibility(call: Call) -> dict[str, Any]:
    data = node(call, EligibilityInput)
    person = call.session.get(m.Person, data.psn_no)
    if person is None:
        raise GatewayError(f"psn_no {data.psn_no} is not an insured person of this agency")
    day = parse_datetime(data.begntime, "begntime").date()
    scheme = call.codes.scheme_of(data.insutype)
    if data.med_type:
        call.codes.med_type(data.med_type)
    cover = cached_coverage(person, _history(call, person), day, call.policies.for_city(person.city), call.caches.coverages)
    ok = cover.covered and cover.scheme == scheme
    reason = cover.reason
    if cover.covered and cover.scheme != scheme:
        reason = f"insured under {cover.scheme}, not {scheme} (insutype {data.insutype})"
    return {"trtinfo": [{
        "psn_no": person.psn_no, "trt_chk_type": "01", "fund_pay_type": call.codes.scheme_fund_pay_type[scheme],
        "trt_enjymnt_flag": "1" if ok else "0", "begndate": (cover.since or day).isoformat(),
        "enddate": None, "trt_chk_rslt": f"{reason} ({cover.clause})", "chk_date": day.isoformat(),
    }]}


