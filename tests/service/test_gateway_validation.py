"""Bad input is refused with infcode −1 and an err_msg naming the field at fault, and a
refused call stores nothing (no visit, line, settlement, account entry, total, audit row
or message)."""

from __future__ import annotations

import json
from typing import Any

from gateway_helpers import (
    BED, CONSULT, CT, HZ_HOSPITAL, NUTRITION, D, Hospital, Insured, assert_refused, counts, new_person,
)
from yibao.service.client import dumps


class Refusals:
    """Every refusal is checked against a snapshot of the database taken just before it."""

    def __init__(self, h: Hospital, db: Any, p: Insured):
        self.h, self.db, self.p = h, db, p

    def call(self, infno: str, input_: dict[str, Any], *words: str, **kw: Any) -> str:
        before = counts(self.db)
        msg = self.h.refused(infno, input_, *words, person=self.p, **kw)
        assert counts(self.db) == before, f"the refused {infno} ({msg}) stored something"
        return msg

    def raw(self, body: bytes, *words: str) -> str:
        before = counts(self.db)
        answer = self.h.post(body)
        assert answer.status_code == 200
        msg = assert_refused(answer.json(), *words)
        assert counts(self.db) == before, f"the refused body ({msg}) stored something"
        return msg


def _registration(p: Insured, **changes: Any) -> dict[str, Any]:
    data = {"psn_no": p.psn_no, "insutype": p.insutype, "begntime": "2026-03-10 09:00:00", "mdtrt_cert_type": "02",
            "mdtrt_cert_no": p.certno, "ipt_otp_no": "MZ1", **changes}
    return {"data": {k: v for k, v in data.items() if v is not None}}


def test_a_bad_envelope_is_refused_naming_the_field(client, app, database_url):
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou")
    r = Refusals(h, app.state.service.db, p)
    good = json.loads(h.body("2201", _registration(p), p)[1])

    def envelope(**changes: Any) -> bytes:
        env = {**good, "msgid": h.his.msgids.next(), **changes}
        return dumps({k: v for k, v in env.items() if v is not None})

    r.raw(b'{"infno": "2201", "msgid": ', "the request body is not JSON")
    r.raw(b"\xff\xfe not utf-8", "not JSON")
    r.raw(b'["2201"]', "must be a JSON object")
    r.raw(b'"2201"', "must be a JSON object")
    r.raw(envelope(infno=None), "infno")
    r.raw(envelope(infno="22O1"), "infno")
    r.raw(envelope(msgid=good["msgid"][:-1]), "msgid")
    r.raw(envelope(msgid=good["msgid"] + "1"), "msgid")
    r.raw(envelope(msgid="H33010000002" + good["msgid"][12:]), "msgid must be fixmedins_code")
    r.raw(envelope(msgid=h.code + "2026031009000A0001"), "msgid")
    r.raw(envelope(inf_time="2026/03/10 09:00:00"), "inf_time")
    r.raw(envelope(inf_time="2026-03-10"), "inf_time")
    r.raw(envelope(inf_time=None), "inf_time")
    r.raw(envelope(mdtrtarea_admvs="3301"), "mdtrtarea_admvs")
    r.raw(envelope(insuplc_admdvs="33010"), "insuplc_admdvs")
    r.raw(envelope(opter_type="9"), "opter_type")
    r.raw(envelope(opter=None), "opter")
    r.raw(envelope(input=[1, 2]), "input")
    r.raw(envelope(infno="9999"), "infno 9999 is not a transaction this service answers")
    r.raw(envelope(input={}), "input.data is missing")
    r.raw(envelope(input={"data": "x"}), "input.data is missing or not an object")
    # the very same envelope, corrected, is answered
    assert h.post(envelope()).json()["infcode"] == 0


def test_bad_visit_input_is_refused_naming_the_field(client, app, database_url):
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou")
    resident = new_person(database_url, "hangzhou", scheme="resident")
    r = Refusals(h, app.state.service.db, p)

    r.call("2201", _registration(p, begntime="2026-02-30 09:00:00"), "begntime", "2026-02-30")
    r.call("2201", _registration(p, begntime="2026-03-10"), "begntime")
    r.call("2201", _registration(p, insutype="390"), f"psn_no {p.psn_no} is insured under employee, not insutype 390")
    r.call("2201", _registration(resident, insutype="310"), "not insutype 310")
    r.call("2201", _registration(p, insutype="330"), "insutype '330'")
    r.call("2201", _registration(p, psn_no="33019999999999"), "psn_no 33019999999999 is not an insured person")
    r.call("2201", _registration(p, med_type="77"), "med_type '77' is not in the code table")
    r.call("2201", _registration(p, med_type="21"), "med_type 21", "not an outpatient medical type")
    r.call("2201", _registration(p, mdtrt_cert_type="09"), "mdtrt_cert_type")
    r.call("2201", _registration(p, ipt_otp_no=None), "ipt_otp_no")
    r.call("2201", _registration(p), "insuplc_admdvs 330400", insuplc_admdvs="330400")
    r.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "330106199912310000"}}, "no insured person")
    r.call("1101", {"data": {"mdtrt_cert_type": "2", "mdtrt_cert_no": p.certno}}, "mdtrt_cert_type")

    mdtrt_id = h.register(p, "2026-03-10 09:00:00")
    info = lambda **c: {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "med_type": "11", **c}}  # noqa: E731
    r.call("2203", info(med_type="77"), "med_type '77'")
    r.call("2203", info(med_type="21"), "not an outpatient medical type")
    r.call("2203", info(med_type="14"), "med_type 14", "needs dise_codg")
    r.call("2203", info(med_type="14", dise_codg="Z99.999"), "dise_codg 'Z99.999'")
    r.call("2203", info(mdtrt_id="2026031000000000000000000000ff"), "is not a visit of institution")
    r.call("2203", info(psn_no=resident.psn_no), f"is not a visit of psn_no {resident.psn_no}")
    r.call("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "med_type": "11"}, "diseinfo": [{"diag_name": "x"}]},
           "diag_code")
    r.call("2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "endtime": "2026-03-11 09:00:00"}}, "not an inpatient stay")
    r.call("2205", {"data": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no}}, "chrg_bchno is required")
    r.call("2205", {"data": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "chrg_bchno": "0000"}}, "no unsettled fee lines")
    r.call("2202", {"data": {"psn_no": p.psn_no}}, "mdtrt_id")
    r.call("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": resident.psn_no}}, f"is not a visit of psn_no {resident.psn_no}")
    r.call("9001", {"signIn": {"mac": "00-00"}}, "opter_no")
    r.call("9001", {"data": {"opter_no": "1"}}, "input.signIn is missing")

    admission = {"psn_no": p.psn_no, "insutype": "310", "begntime": "2026-04-01 10:00:00", "mdtrt_cert_type": "02",
                 "mdtrt_cert_no": p.certno, "med_type": "21", "ipt_no": "ZY1"}
    r.call("2401", {"mdtrtinfo": {**admission, "med_type": "11"}}, "med_type 11", "not an inpatient medical type")
    r.call("2401", {"mdtrtinfo": {k: v for k, v in admission.items() if k != "ipt_no"}}, "ipt_no")
    r.call("2401", {"mdtrtinfo": {**admission, "ref_fixmedins_lv": "3"}}, "ref_fixmedins_lv")
    r.call("2401", {"data": admission}, "input.mdtrtinfo is missing")
    stay = h.admit(p, "2026-04-01 10:00:00")
    r.call("2402", {"dscginfo": {"mdtrt_id": stay, "psn_no": p.psn_no, "endtime": "2026-03-31 10:00:00"}},
           "endtime 2026-03-31 10:00:00 is before the admission")
    r.call("2402", {"dscginfo": {"mdtrt_id": stay, "psn_no": p.psn_no, "endtime": "2026-04-31 10:00:00"}}, "endtime")
    r.call("2405", {"data": {"mdtrt_id": stay, "psn_no": p.psn_no}}, "only a discharged, unsettled stay can be reopened")
    r.call("2404", {"data": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no}}, "is not an inpatient visit")
    r.call("2202", {"data": {"mdtrt_id": stay, "psn_no": p.psn_no}}, "is not an outpatient visit")
    r.call("2302", {"data": {"mdtrt_id": stay, "psn_no": p.psn_no}}, "feedetl_sn is required")
    r.call("2302", {"data": {"mdtrt_id": stay, "psn_no": p.psn_no, "feedetl_sn": "0000"}}, "no unsettled fee lines")
    r.call("2001", {"data": {"psn_no": p.psn_no, "insutype": "310", "begntime": "2026/03/10"}}, "begntime")


def test_bad_fee_lines_are_refused_and_none_of_the_upload_is_stored(client, app, database_url):
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou")
    r = Refusals(h, app.state.service.db, p)
    mdtrt_id = h.register(p, "2026-03-10 09:00:00")
    at = "2026-03-10 09:10:00"

    def line(sn: Any = "1", **c: Any) -> dict[str, Any]:
        return {"feedetl_sn": str(sn), "mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "chrg_bchno": "B1", "fee_ocur_time": at,
                "med_list_codg": CONSULT, "det_item_fee_sumamt": "25.00", "cnt": "1", "pric": "25", **c}

    ok = line("9", med_list_codg=CT, det_item_fee_sumamt="300.00", pric="300")  # a good line before the bad one
    up = lambda *lines: {"feedetail": [ok, *lines]}  # noqa: E731
    r.call("2204", up(line(pric="-25", det_item_fee_sumamt="-25.00")), "feedetail[1] (1)", "pric is negative")
    r.call("2204", up(line(det_item_fee_sumamt="30.00")), "feedetail[1] (1)", "det_item_fee_sumamt 30.00 is not cnt × pric (25.00)")
    r.call("2204", up(line(cnt="3", pric="9.99", det_item_fee_sumamt="35.00")), "det_item_fee_sumamt 35.00 is not cnt × pric (29.97)")
    r.call("2204", up(line(det_item_fee_sumamt="25.001", pric="25.001")), "det_item_fee_sumamt has more than 2 decimal places")
    r.call("2204", up(line(med_list_codg="XX0000000000")), "med_list_codg XX0000000000 is not in the hangzhou catalogue on 2026-03-10")
    r.call("2204", up(line(fee_ocur_time="2019-12-31 10:00:00")),
           f"med_list_codg {CONSULT} is not in the hangzhou catalogue on 2019-12-31")
    r.call("2204", up(line(), line()), "feedetail[2] (1)", "feedetl_sn is already uploaded")
    r.call("2204", up(line(fee_ocur_time="2026-03-10T09:10:00")), "feedetail[1] (1).fee_ocur_time")
    r.call("2204", up(line(cnt="0", det_item_fee_sumamt="0.00")), "cnt must be positive")
    r.call("2204", up(line(cnt="-1", det_item_fee_sumamt="-25.00")), "cnt must be positive")
    r.call("2204", up(line(cnt="abc")), "cnt")
    r.call("2204", up(line(pric="NaN")), "pric")
    r.call("2204", up(line(det_item_fee_sumamt="Infinity")), "det_item_fee_sumamt")
    r.call("2204", up(line(feedetl_sn="")), "feedetl_sn")
    r.call("2204", up(line(mdtrt_id="2026031000000000000000000000ff")), "every line of one upload belongs to the same mdtrt_id")
    r.call("2204", up({k: v for k, v in line().items() if k != "med_list_codg"}), "med_list_codg")
    r.call("2204", {"feedetail": []}, "input.feedetail is missing or empty")
    r.call("2204", {"data": [line()]}, "input.feedetail is missing or empty")
    r.call("2204", {"feedetail": ["x"]}, "input.feedetail[0] is not an object")
    r.call("2301", {"feedetail": [line()]}, "is not an inpatient visit")
    h.upload(p, mdtrt_id, [dict(sn=1, code=CONSULT, cnt=1, pric="25", when=at)])
    r.call("2204", {"feedetail": [line("1")]}, "feedetail[0] (1): feedetl_sn is already uploaded for this visit")
    stay = h.admit(p, "2026-04-01 10:00:00")
    refund = {**line("1", cnt="-1", det_item_fee_sumamt="-60.00", pric="60", med_list_codg=BED), "mdtrt_id": stay}
    r.call("2204", {"feedetail": [refund]}, "is not an outpatient visit")
    h.ok("2301", {"feedetail": [refund, {**line("2", med_list_codg=NUTRITION), "mdtrt_id": stay}]}, p)  # a refund line is fine in 2301


def test_bad_settlement_input_is_refused_naming_the_field(client, app, database_url):
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou", account=("300.00", "700.00"))
    other = new_person(database_url, "hangzhou")
    r = Refusals(h, app.state.service.db, p)
    empty = h.register(p, "2026-03-09 09:00:00")
    r.call("2207", h.settle_input(p, empty, "0.00"), f"mdtrt_id {empty}: no unsettled fee lines")
    mdtrt_id = h.register(p, "2026-03-10 09:00:00")
    h.visit_info(p, mdtrt_id, "2026-03-10 09:00:00")
    h.upload(p, mdtrt_id, [dict(sn=1, code=CONSULT, cnt=1, pric="25", when="2026-03-10 09:10:00"),
                           dict(sn=2, code=CT, cnt=1, pric="300", when="2026-03-10 09:10:00")])
    settle = lambda **c: {"data": {**h.settle_input(p, mdtrt_id, "325.00")["data"], **c}}  # noqa: E731

    for infno in ("2206", "2207"):
        r.call(infno, settle(medfee_sumamt="326.00"), "medfee_sumamt 326.00 is not the total of the unsettled fee lines (325.00)")
        r.call(infno, settle(medfee_sumamt="abc"), "medfee_sumamt")
        r.call(infno, settle(insutype="390"), "insutype 390 differs from the visit's 310")
        r.call(infno, settle(med_type="13"), "med_type 13 differs from the visit's 11")
        r.call(infno, settle(psn_setlway="02"), "psn_setlway 02")
        r.call(infno, settle(acct_used_flag="2"), "acct_used_flag")
        r.call(infno, settle(mid_setl_flag="1"), "mid_setl_flag 1 (中途结算) is for inpatient stays")
        r.call(infno, settle(psn_no="33019999999999"), "psn_no 33019999999999")
        r.call(infno, settle(psn_no=other.psn_no), f"is not a visit of psn_no {other.psn_no}")
        r.call(infno, settle(mdtrt_id=None), "mdtrt_id")
    r.call("2304", settle(med_type=None), "is an outpatient visit")
    r.call("2303", settle(med_type=None), "is an outpatient visit")

    settled = h.ok("2207", settle(), p)
    setl_id = settled["setlinfo"]["setl_id"]
    r.call("2207", settle(), f"mdtrt_id {mdtrt_id} is already settled (setl_id {setl_id})")
    r.call("2206", settle(), "is already settled")
    r.call("2204", {"feedetail": [{"feedetl_sn": "3", "mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "fee_ocur_time": "2026-03-10 10:00:00",
                                   "med_list_codg": CONSULT, "det_item_fee_sumamt": "25.00", "cnt": "1", "pric": "25"}]}, "is settled")
    reverse = lambda s: {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id, "setl_id": s}}  # noqa: E731
    r.call("2208", reverse("2026031000000000000000000000ff"), "setl_id 2026031000000000000000000000ff is not a settlement of mdtrt_id")
    r.call("2208", {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id}}, "setl_id")
    r.call("2305", reverse(setl_id), "is an outpatient visit")
    reversal = h.ok("2208", reverse(setl_id), p)["setlinfo"]["setl_id"]
    r.call("2208", reverse(setl_id), f"setl_id {setl_id} is already reversed by {reversal}")
    r.call("2208", reverse(reversal), f"setl_id {reversal} is itself a reversal")
    r.call("5203", {"data": {"psn_no": p.psn_no, "setl_id": "2026031000000000000000000000ff"}}, "is not a settlement of institution")
    r.call("5206", {"data": {"psn_no": p.psn_no, "cum_ym": "2026"}}, "cum_ym")
    r.call("2601", {"data": {"psn_no": p.psn_no, "omsgid": "1" * 30, "oinfno": "2206"}}, "oinfno 2206 cannot be undone by 2601")
    r.call("2601", {"data": {"psn_no": p.psn_no, "omsgid": "1" * 29, "oinfno": "2207"}}, "omsgid")

    stmt = {"insutype": "310", "clr_type": "11", "stmt_begndate": "2026-03-01", "stmt_enddate": "2026-03-31",
            "medfee_sumamt": "0", "fund_pay_sumamt": "0", "acct_pay": "0", "fixmedins_setl_cnt": 0}
    r.call("3201", {"data": {**stmt, "stmt_begndate": "2026-3-1"}}, "stmt_begndate: '2026-3-1' is not a date")
    r.call("3201", {"data": {**stmt, "stmt_enddate": "2026-02-31"}}, "stmt_enddate")
    r.call("3201", {"data": {**stmt, "stmt_enddate": "2026-02-28"}}, "stmt_enddate is before stmt_begndate")
    r.call("3201", {"data": {**stmt, "fixmedins_setl_cnt": -1}}, "fixmedins_setl_cnt")
    r.call("3201", {"data": {k: v for k, v in stmt.items() if k != "medfee_sumamt"}}, "medfee_sumamt")
    # what the refusals left alone still settles, exactly once
    again = h.ok("2207", settle(), p)
    assert again["setlinfo"]["medfee_sumamt"] == "325.00" and D(again["setlinfo"]["acct_pay"]) > 0


def test_a_malformed_line_of_a_list_node_is_named(client, app, database_url):
    """An upload of many lines (or diagnoses) with one malformed line: err_msg names the
    node and the line, as it does for every other refusal of a line ("feedetail[2] (3): …"),
    so that the HIS can find it."""
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou")
    r = Refusals(h, app.state.service.db, p)
    mdtrt_id = h.register(p, "2026-03-10 09:00:00")
    lines = [{"feedetl_sn": str(sn), "mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "fee_ocur_time": "2026-03-10 09:10:00",
              "med_list_codg": CONSULT, "det_item_fee_sumamt": "25.00", "cnt": "1", "pric": "25"} for sn in (1, 2, 3)]
    missing = [*lines[:2], {k: v for k, v in lines[2].items() if k != "med_list_codg"}]
    r.call("2204", {"feedetail": missing}, "feedetail[2]", "med_list_codg")
    malformed = [*lines[:2], {**lines[2], "cnt": "three"}]
    r.call("2204", {"feedetail": malformed}, "feedetail[2]", "cnt")
    r.call("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "med_type": "11"},
                    "diseinfo": [{"diag_code": "J06.900"}, {"diag_name": "x"}]}, "diseinfo[1]", "diag_code")
