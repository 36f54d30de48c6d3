"""Helpers shared by the gateway tests: insured persons, a hospital's calls, the equivalent
``yibao settle`` case, and snapshots of what the database holds.

A test builds its own persons (:func:`new_person`), talks to the gateway as a hospital
(:class:`Hospital`), and compares the gateway's settlement figures with the engine run on
the equivalent case (:func:`engine_run`, :func:`assert_matches_engine`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from service.conftest import (
    CITY_ADMDVS, HZ_CENTRE, HZ_HOSPITAL, JX_HOSPITAL, SZ_HOSPITAL, add_person, covered_person, his_for,
)
from yibao.service.auth import signed_headers
from yibao.service.client import GATEWAY_PATH, MsgIds, dumps, envelope
from yibao.service.db import models as m
from yibao.service.db.engine import Database

# fixmedins_code → (city, engine level), as in src/yibao/service/demo/institutions.csv
INSTITUTIONS = {
    HZ_HOSPITAL[0]: ("hangzhou", "tertiary"),
    HZ_CENTRE[0]: ("hangzhou", "primary"),
    JX_HOSPITAL[0]: ("jiaxing", "tertiary"),
    SZ_HOSPITAL[0]: ("suizhou", "tertiary"),
}

# Catalogue codes of the demo catalogue (the same in every demo city).
CONSULT = "001101000010000-110100001"  # 普通门诊诊察费 A
WARD_CONSULT = "001102000010000-120100001"  # 住院诊察费 A
BED = "001103000010000-110200001"  # 床位费 A, limit 60 per unit
METFORMIN = "XA10BAE054A001010101445"  # 二甲双胍片 A
CEFTRIAXONE = "XJ01DDA128B002010100056"  # 头孢曲松钠 B 0.10, limit 12.5 per unit
TRASTUZUMAB = "XL01XCL036B001010100121"  # 曲妥珠单抗 B 0.20, no limit
BLOOD = "250101001-250101001"  # 血常规 A, limit 25 per unit
CT = "270300001-270300001"  # CT B 0.05
NUTRITION = "ZZZ000000001"  # 自费营养品 C

AMOUNT_FIELDS = (
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc",
    "hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "oth_pay", "fund_pay_sumamt", "acct_pay", "acct_mulaid_pay",
    "psn_cash_pay", "psn_part_amt", "balc",
)
CLASS_OF_LV = {"01": "A", "02": "B", "03": "C"}

_psn_seq = itertools.count(1)
_msgids: dict[str, MsgIds] = {}


def msgids(code: str) -> MsgIds:
    """One msgid sequence per institution code for the whole session, so that two clients
    of one institution never build the same msgid in the same second."""
    return _msgids.setdefault(code, MsgIds(code))


def D(value: Any) -> Decimal:
    return Decimal(str(value))


def money(value: Any) -> str:
    return f"{D(value):.2f}"


# ---------------------------------------------------------------------- persons


@dataclass
class Insured:
    """A person stored for a test, with what the engine case needs."""

    psn_no: str
    certno: str
    name: str
    city: str
    scheme: str
    category: str
    current: Decimal  # opening 当年 balance as seen from the visits' year
    history: Decimal  # opening 历年 balance
    doc: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def insutype(self) -> str:
        return "310" if self.scheme == "employee" else "390"

    @property
    def insuplc_admdvs(self) -> str:
        return CITY_ADMDVS[self.city]

    def case_person(self) -> dict[str, Any]:
        person: dict[str, Any] = {"id": self.psn_no, "scheme": self.scheme, "category": self.category,
                                  "birth_date": self.doc["brdy"], "sex": self.doc["gend"]}
        if self.scheme == "employee":
            person["account"] = {"current": money(self.current), "history": money(self.history)}
        return person


def new_person(database_url: str, city: str = "hangzhou", *, scheme: str = "employee", category: str | None = None,
               account: tuple[str, str] = ("1000.00", "2000.00"), year: int = 2026, name: str = "测试人员",
               **extra: Any) -> Insured:
    """Store a new person covered 2024-01..2027-12 whose account (employees) opens on
    1 January of ``year``: the opening balances are 当年 ``account[0]`` and 历年
    ``account[1]`` for a visit in that year."""
    category = category or ("active" if scheme == "employee" else "adult")
    n = next(_psn_seq)
    psn_no = f"{CITY_ADMDVS[city][:4]}{n + 7_000_000_000:010d}"  # 14 digits, unique in this process
    doc = covered_person(psn_no, city, scheme=scheme, category=category, account=account, name=name, **extra)
    if scheme == "employee":
        doc["account"]["date"] = f"{year}-01-01"
    add_person(database_url, doc)
    current, history = (D(account[0]), D(account[1])) if scheme == "employee" else (D(0), D(0))
    return Insured(psn_no, doc["certno"], name, city, scheme, category, current, history, doc)


# ---------------------------------------------------------------------- the hospital's side


class Hospital:
    """An institution's HIS, signed in, with every call's ``inf_time`` set by :attr:`now`."""

    def __init__(self, client: Any, institution: tuple[str, str, str] = HZ_HOSPITAL, *, sign_in: bool = True):
        self.client = client
        self.institution = institution
        self.code, _, self.admdvs = institution
        self.city, self.level = INSTITUTIONS[self.code]
        self.his = his_for(client, institution, sign_in=False)
        self.his.msgids = msgids(self.code)
        if sign_in:
            self.his.sign_in()
        self.now: dt.datetime | None = None

    @property
    def secret(self) -> str:
        return self.institution[1]

    def body(self, infno: str, input_: dict[str, Any], person: Insured | None = None, *, msgid: str | None = None,
             **fields: Any) -> tuple[str, bytes]:
        """A request body as this HIS would send it, with envelope fields overridden by ``fields``."""
        msgid = msgid or self.his.msgids.next()
        env = envelope(infno, input_, msgid=msgid, institution_code=self.code, admdvs=self.admdvs,
                       insuplc_admdvs=person.insuplc_admdvs if person else None, sign_no=self.his.sign_no,
                       inf_time=self.now)
        env.update(fields)
        return msgid, dumps(env)

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> Any:
        """POST raw bytes, freshly signed unless ``headers`` are given; the HTTP response."""
        return self.client.post(GATEWAY_PATH, content=body, headers=headers if headers is not None else self.headers())

    def headers(self, **kw: Any) -> dict[str, str]:
        return {"content-type": "application/json", **signed_headers(self.code, self.secret, **kw)}

    def call(self, infno: str, input_: dict[str, Any], person: Insured | None = None, **kw: Any) -> dict[str, Any]:
        if person is not None:
            kw.setdefault("insuplc_admdvs", person.insuplc_admdvs)
        kw.setdefault("inf_time", self.now)
        return self.his.call(infno, input_, **kw)

    def ok(self, infno: str, input_: dict[str, Any], person: Insured | None = None, **kw: Any) -> dict[str, Any]:
        answer = self.call(infno, input_, person, **kw)
        assert answer["infcode"] == 0, f"{infno} refused: {answer['err_msg']}"
        assert answer["err_msg"] is None
        return answer["output"]

    def refused(self, infno: str, input_: dict[str, Any], *words: str, person: Insured | None = None, **kw: Any) -> str:
        """Call and expect infcode −1 with every one of ``words`` in err_msg."""
        answer = self.call(infno, input_, person, **kw)
        return assert_refused(answer, *words)

    # ------------------------------------------------------------------ the transactions

    def register(self, p: Insured, begntime: str, *, med_type: str | None = None) -> str:
        self.now = dt.datetime.fromisoformat(begntime)
        data = {"psn_no": p.psn_no, "insutype": p.insutype, "begntime": begntime, "mdtrt_cert_type": "02",
                "mdtrt_cert_no": p.certno, "ipt_otp_no": f"MZ{p.psn_no[-6:]}"}
        if med_type:
            data["med_type"] = med_type
        out = self.ok("2201", {"data": data}, p)
        assert out["data"]["psn_no"] == p.psn_no
        return out["data"]["mdtrt_id"]

    def visit_info(self, p: Insured, mdtrt_id: str, begntime: str, med_type: str = "11") -> None:
        self.ok("2203", {
            "mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "med_type": med_type, "begntime": begntime},
            "diseinfo": [{"diag_type": "1", "diag_srt_no": "1", "diag_code": "J06.900", "diag_name": "上呼吸道感染"}],
        }, p)

    def admit(self, p: Insured, begntime: str, *, med_type: str = "21") -> str:
        self.now = dt.datetime.fromisoformat(begntime)
        out = self.ok("2401", {
            "mdtrtinfo": {"psn_no": p.psn_no, "insutype": p.insutype, "begntime": begntime, "mdtrt_cert_type": "02",
                          "mdtrt_cert_no": p.certno, "med_type": med_type, "ipt_no": f"ZY{p.psn_no[-6:]}"},
            "diseinfo": [{"diag_type": "1", "diag_srt_no": "1", "diag_code": "J18.900", "diag_name": "肺炎"}],
        }, p)
        assert out["result"]["psn_no"] == p.psn_no
        return out["result"]["mdtrt_id"]

    def discharge(self, p: Insured, mdtrt_id: str, endtime: str) -> None:
        self.now = dt.datetime.fromisoformat(endtime)
        self.ok("2402", {
            "dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "insutype": p.insutype, "endtime": endtime, "dscg_way": "1"},
            "diseinfo": [{"diag_type": "1", "diag_srt_no": "1", "diag_code": "J18.900", "diag_name": "肺炎"}],
        }, p)

    def upload(self, p: Insured, mdtrt_id: str, lines: list[dict[str, Any]], *, infno: str = "2204") -> list[dict[str, Any]]:
        """2204/2301; checks det_item_fee_sumamt = fulamt + overlmt + preselfpay + inscp on every answered line."""
        out = self.ok(infno, {"feedetail": [fee_line(p, mdtrt_id, **line) for line in lines]}, p)
        result = out["result"]
        assert [r["feedetl_sn"] for r in result] == [str(line["sn"]) for line in lines]
        for r in result:
            parts = D(r["fulamt_ownpay_amt"]) + D(r["overlmt_amt"]) + D(r["preselfpay_amt"]) + D(r["inscp_scp_amt"])
            assert D(r["det_item_fee_sumamt"]) == parts, r
        return result

    def settle_input(self, p: Insured, mdtrt_id: str, total: Any, *, med_type: str = "11", acct: bool = True,
                     mid: bool = False, **extra: Any) -> dict[str, Any]:
        data = {"psn_no": p.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": p.certno, "med_type": med_type,
                "medfee_sumamt": money(total), "psn_setlway": "01", "mdtrt_id": mdtrt_id, "chrg_bchno": "B1",
                "insutype": p.insutype, "acct_used_flag": "1" if acct else "0", **extra}
        if mid:
            data["mid_setl_flag"] = "1"
        return {"data": data}

    def totals(self, p: Insured, year: int = 2026) -> dict[str, str]:
        out = self.ok("5206", {"data": {"psn_no": p.psn_no, "cum_ym": f"{year}01"}}, p)
        return {r["cum_type_code"]: r["cum"] for r in out["cuminfo"]}

    def balance(self, p: Insured) -> Decimal:
        """The account balance 1101 reports (as of the service's own clock)."""
        out = self.ok("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": p.certno, "psn_cert_type": "01"}})
        return D(out["insuinfo"][0]["balc"])

    def query(self, p: Insured, setl_id: str, mdtrt_id: str | None = None) -> dict[str, Any]:
        data = {"psn_no": p.psn_no, "setl_id": setl_id}
        if mdtrt_id:
            data["mdtrt_id"] = mdtrt_id
        return self.ok("5203", {"data": data}, p)


def fee_line(p: Insured, mdtrt_id: str, *, sn: Any, code: str, cnt: Any, pric: Any, when: str,
             amount: Any = None, batch: str = "B1") -> dict[str, Any]:
    """One 2204/2301 line; ``amount`` defaults to cnt × pric."""
    total = D(amount) if amount is not None else (D(cnt) * D(pric)).quantize(Decimal("0.01"))
    return {"feedetl_sn": str(sn), "mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "chrg_bchno": batch, "fee_ocur_time": when,
            "med_list_codg": code, "medins_list_codg": f"H-{code[:10]}", "det_item_fee_sumamt": money(total),
            "cnt": str(cnt), "pric": str(pric)}


def assert_refused(answer: dict[str, Any], *words: str) -> str:
    assert answer["infcode"] == -1, f"expected a refusal, got {json.dumps(answer, ensure_ascii=False)[:400]}"
    assert answer["output"] == {}
    msg = answer["err_msg"]
    assert msg and len(msg) <= 200
    for w in words:
        assert w in msg, f"{w!r} not in err_msg {msg!r}"
    return msg


# ---------------------------------------------------------------------- the equivalent case


def case_items(result: list[dict[str, Any]], codes: list[str]) -> list[dict[str, Any]]:
    """Case items from 2204/2301 answer lines (class, ratio and over-limit as answered);
    ``codes`` are the lines' med_list_codg in order. A set with a refund line (negative
    amount) is netted per code, as a bill of net charges."""
    rows = [(code, r) for code, r in zip(codes, result, strict=True)]
    if any(D(r["det_item_fee_sumamt"]) < 0 for _, r in rows):
        merged: dict[str, dict[str, Any]] = {}
        for code, r in rows:
            if code not in merged:
                merged[code] = {"code": code, "lv": r["chrgitm_lv"], "ratio": r["selfpay_prop"], "amount": D(0), "over": D(0)}
            merged[code]["amount"] += D(r["det_item_fee_sumamt"])
            merged[code]["over"] += D(r["overlmt_amt"])
        return [_item(v["code"], v["lv"], v["ratio"], v["amount"], v["over"]) for v in merged.values() if v["amount"] > 0]
    return [_item(code, r["chrgitm_lv"], r["selfpay_prop"], D(r["det_item_fee_sumamt"]), D(r["overlmt_amt"])) for code, r in rows]


def _item(code: str, lv: str, ratio: str, amount: Decimal, over: Decimal) -> dict[str, Any]:
    cls = CLASS_OF_LV[lv]
    item: dict[str, Any] = {"code": code, "amount": money(amount), "class": cls}
    if cls == "B":
        item["selfpay_ratio"] = str(D(ratio))
    if cls != "C" and over:
        item["over_limit"] = money(over)
    return item


def case_visit(vid: str, date: str, kind: str, level: str, items: list[dict[str, Any]], *,
               use_account: bool = True) -> dict[str, Any]:
    return {"id": vid, "date": date, "kind": kind, "level": level, "location": "local", "use_account": use_account,
            "items": items}


def engine_case(p: Insured, *visits: dict[str, Any]) -> dict[str, Any]:
    return {"city": p.city, "person": p.case_person(), "visits": list(visits)}


def engine_run(p: Insured, *visits: dict[str, Any],
               overlays: tuple[str, ...] = ()) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """``yibao settle [--overlay …]`` in-process on the equivalent case: the contract's
    settlement dicts, and the person-year's running totals after the last visit (the
    engine's postings)."""
    from yibao.case import parse_case
    from yibao.engine.pipeline import settle_case
    from yibao.policy.loader import load_city
    from yibao.report import case_json

    case = parse_case(json.loads(json.dumps(engine_case(p, *visits))))
    settlements = settle_case(case, load_city(case.city, overlays))
    totals: dict[str, Decimal] = {}
    for s in settlements:
        for counter, amount in s.state.postings:
            if not counter.startswith("account."):
                totals[counter] = totals.get(counter, Decimal(0)) + amount
    return case_json(case.city, case.person.id, settlements)["settlements"], {c: money(a) for c, a in totals.items()}


SUIZHOU_OUTPATIENT_OVERLAY = """\
city: suizhou
description: 随州 employee general-outpatient figures (left to a separate city document) for the gateway tests
parameters:
  employee.outpatient.deductible:
    values:
      2024-01-01:
        value:
          regime: annual
          standard: 300
  employee.outpatient.rates:
    values:
      2024-01-01:
        value:
          scale:
            - from: 0
              rate: 60
"""


def suizhou_overlay(directory: Any) -> str:
    """An overlay file supplying 随州's blank employee outpatient deductible and rate."""
    path = directory / "suizhou-outpatient.yaml"
    path.write_text(SUIZHOU_OUTPATIENT_OVERLAY, encoding="utf-8")
    return str(path)


def funds(setldetail: list[dict[str, Any]]) -> dict[str, str]:
    return {row["fund_pay_type"]: row["fund_payamt"] for row in setldetail}


def assert_identities(info: dict[str, Any]) -> None:
    d = lambda k: D(info[k])  # noqa: E731
    assert d("medfee_sumamt") == d("fund_pay_sumamt") + d("psn_part_amt") + d("hosp_part_amt"), info
    assert d("psn_part_amt") == d("acct_pay") + d("psn_cash_pay"), info
    assert d("medfee_sumamt") == d("fulamt_ownpay_amt") + d("overlmt_selfpay") + d("preselfpay_amt") + d("inscp_scp_amt"), info
    assert d("fund_pay_sumamt") == d("hifp_pay") + d("hifob_pay") + d("hifmi_pay") + d("maf_pay") + d("oth_pay"), info


def assert_matches_engine(output: dict[str, Any], expected: dict[str, Any]) -> None:
    """Every amount of ``setlinfo`` and every fund of ``setldetail`` equals the engine's."""
    info = output["setlinfo"]
    got = {k: info[k] for k in AMOUNT_FIELDS}
    want = {k: expected[k] for k in AMOUNT_FIELDS}
    assert got == want, f"setlinfo differs from yibao settle: {_diff(got, want)}"
    assert info["year"] == expected["year"]
    assert funds(output["setldetail"]) == funds(expected["setldetail"])
    assert_identities(info)


def _diff(got: dict[str, Any], want: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {k: (got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)}


def negated(output: dict[str, Any]) -> dict[str, str]:
    return {k: money(-D(output["setlinfo"][k])) for k in AMOUNT_FIELDS if k != "balc"}


# ---------------------------------------------------------------------- what the database holds


def counts(db: Database) -> dict[str, Any]:
    """Rows of every table a transaction may write, with the sums that matter."""
    with db.sessions() as s:
        out: dict[str, Any] = {
            table.__tablename__: s.scalar(select(func.count()).select_from(table))
            for table in (m.Settlement, m.AccountEntry, m.AuditRecord, m.Visit, m.FeeLine, m.RunningTotal, m.Message, m.SignIn)
        }
        out["running_totals_values"] = sorted(
            (r.psn_no, r.year, r.counter, str(r.amount)) for r in s.scalars(select(m.RunningTotal)))
        out["account_entries_values"] = sorted(
            (e.psn_no, str(e.current_amount), str(e.history_amount), e.kind) for e in s.scalars(select(m.AccountEntry)))
        out["settlements_state"] = sorted((x.setl_id, x.kind, x.reversed_by or "") for x in s.scalars(select(m.Settlement)))
        out["visits_status"] = sorted((v.mdtrt_id, v.status) for v in s.scalars(select(m.Visit)))
        out["fee_lines_status"] = sorted(
            (f.mdtrt_id, f.feedetl_sn, f.status, f.setl_id or "") for f in s.scalars(select(m.FeeLine)))
    return out


def account_balance(db: Database, psn_no: str) -> Decimal:
    with db.sessions() as s:
        rows = s.execute(select(m.AccountEntry.current_amount, m.AccountEntry.history_amount)
                         .where(m.AccountEntry.psn_no == psn_no)).all()
    return sum((c + h for c, h in rows), Decimal(0))


def stored_totals(db: Database, psn_no: str) -> dict[str, Decimal]:
    with db.sessions() as s:
        return {r.counter: r.amount for r in s.scalars(select(m.RunningTotal).where(m.RunningTotal.psn_no == psn_no))}
