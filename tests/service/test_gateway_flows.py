"""Whole gateway flows on SQLite and PostgreSQL, each settlement checked against
``yibao settle`` on the equivalent case (same person, balances, date, kind, level, and the
items as the fee-upload answer split them)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from gateway_helpers import (
    AMOUNT_FIELDS, BED, BLOOD, CEFTRIAXONE, CONSULT, CT, HZ_CENTRE, HZ_HOSPITAL, JX_HOSPITAL, METFORMIN, NUTRITION,
    SZ_HOSPITAL, TRASTUZUMAB, WARD_CONSULT, D, Hospital, Insured, account_balance, assert_identities, assert_matches_engine,
    case_items, case_visit, counts, engine_run, fee_line, funds, money, negated, new_person, stored_totals, suizhou_overlay,
)
from sqlalchemy import select

from yibao.errors import YibaoError
from yibao.service import catalogue
from yibao.service.app import create_app
from yibao.service.config import Settings
from yibao.service.db import models as m
from yibao.service.ledger import compare_totals


def _outpatient_lines(day: str) -> list[dict]:
    at = f"{day} 09:10:00"
    return [
        dict(sn=1, code=CONSULT, cnt=1, pric="25.00", when=at),
        dict(sn=2, code=CEFTRIAXONE, cnt=100, pric="13.00", when=at),  # 0.50 a unit over the 12.50 limit
        dict(sn=3, code=NUTRITION, cnt=1, pric="80.00", when=at),  # 丙类
        dict(sn=4, code=BLOOD, cnt=2, pric="30", when=at),  # 5.00 a unit over the 25.00 limit
        dict(sn=5, code=CT, cnt=1, pric="320.00", when=at),  # 乙类 5%
        dict(sn=6, code=METFORMIN, cnt="2.5", pric="12.4", when=at),  # fractional quantity
    ]


def _total(result: list[dict]) -> Decimal:
    return sum((D(r["det_item_fee_sumamt"]) for r in result), D(0))


def _preview_equals_settlement(preview: dict, settled: dict) -> None:
    assert preview["setlinfo"]["setl_id"] is None and settled["setlinfo"]["setl_id"]
    for name in AMOUNT_FIELDS:
        assert preview["setlinfo"][name] == settled["setlinfo"][name], name
    assert funds(preview["setldetail"]) == funds(settled["setldetail"])


def _without_messages(snapshot: dict) -> dict:
    return {k: v for k, v in snapshot.items() if k != "messages"}


def _query_equals(h: Hospital, p: Insured, settled: dict, **extra) -> None:
    """5203 answers the stored settlement exactly as 2207/2304 answered it."""
    info = settled["setlinfo"]
    stored = h.query(p, info["setl_id"], info["mdtrt_id"])
    assert stored["setlinfo"] == {**info, "setl_type": extra.get("setl_type", "final"),
                                  "orig_setl_id": extra.get("orig_setl_id"), "reversed_by": extra.get("reversed_by")}
    assert stored["setldetail"] == settled["setldetail"]


def test_outpatient_flow_equals_yibao_settle(client, app, database_url, tmp_path):
    """9001 → 1101 → 2201 → 2203 → 2204 → 2206 → 2207 → 2208 → 2207 for employees with an
    account in 杭州, 嘉兴 and 随州, and for residents."""
    db = app.state.service.db
    scenarios = [
        (HZ_HOSPITAL, "employee", ("300.00", "2000.00"), "2026-03-10"),
        (JX_HOSPITAL, "employee", ("800.00", "1500.00"), "2026-06-02"),
        (HZ_HOSPITAL, "resident", ("0", "0"), "2026-03-11"),
        (HZ_CENTRE, "resident", ("0", "0"), "2026-07-01"),
    ]
    for institution, scheme, account, day in scenarios:
        h = Hospital(client, institution)
        p = new_person(database_url, h.city, scheme=scheme, account=account)
        where = f"{h.city} {scheme} at {h.level}"

        person = h.ok("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": p.certno, "psn_cert_type": "01"}})
        assert person["baseinfo"]["psn_no"] == p.psn_no and person["baseinfo"]["certno"] == p.certno
        assert [(i["insutype"], i["insuplc_admdvs"], i["balc"]) for i in person["insuinfo"]] == \
            [(p.insutype, p.insuplc_admdvs, money(p.current + p.history))]

        mdtrt_id = h.register(p, f"{day} 09:00:00")
        h.visit_info(p, mdtrt_id, f"{day} 09:00:00")
        lines = _outpatient_lines(day)
        result = h.upload(p, mdtrt_id, lines)  # checks det = fulamt + overlmt + preselfpay + inscp per line
        split = {r["feedetl_sn"]: r for r in result}
        assert (split["2"]["chrgitm_lv"], split["2"]["selfpay_prop"], split["2"]["overlmt_amt"], split["2"]["preselfpay_amt"],
                split["2"]["inscp_scp_amt"]) == ("02", "0.1000", "50.00", "125.00", "1125.00"), where
        assert (split["3"]["chrgitm_lv"], split["3"]["fulamt_ownpay_amt"]) == ("03", "80.00")
        assert (split["4"]["chrgitm_lv"], split["4"]["overlmt_amt"], split["4"]["inscp_scp_amt"]) == ("01", "10.00", "50.00")
        assert (split["5"]["preselfpay_amt"], split["5"]["inscp_scp_amt"]) == ("16.00", "304.00")
        assert (split["6"]["det_item_fee_sumamt"], split["6"]["inscp_scp_amt"]) == ("31.00", "31.00")
        total = _total(result)
        assert total == D("1816.00")
        items = case_items(result, [x["code"] for x in lines])
        expected, expected_totals = engine_run(p, case_visit("V1", day, "outpatient", h.level, items))
        request = h.settle_input(p, mdtrt_id, total)

        before = counts(db)
        preview = h.ok("2206", request, p)
        assert _without_messages(counts(db)) == _without_messages(before), f"{where}: 2206 stored something"
        assert h.totals(p) == {} and account_balance(db, p.psn_no) == p.current + p.history
        assert_matches_engine(preview, expected[0])

        settled = h.ok("2207", request, p)
        _preview_equals_settlement(preview, settled)
        assert_matches_engine(settled, expected[0])
        info = settled["setlinfo"]
        assert (info["psn_no"], info["certno"], info["insutype"], info["med_type"], info["mdtrt_id"], info["clr_optins"]) == \
            (p.psn_no, p.certno, p.insutype, "11", mdtrt_id, p.insuplc_admdvs), where
        assert info["setl_time"] == f"{day} 09:00:00"
        assert h.totals(p) == expected_totals, where
        if scheme == "employee":
            assert account_balance(db, p.psn_no) == D(expected[0]["balc"])
            assert D(expected[0]["acct_pay"]) > 0, f"{where}: the scenario should use the account"
            assert h.balance(p) == D(expected[0]["balc"])
        assert D(expected[0]["fund_pay_sumamt"]) > 0, f"{where}: the scenario should make the fund pay"
        _query_equals(h, p, settled)

        reversal = h.ok("2208", {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id, "setl_id": info["setl_id"]}}, p)
        rinfo = reversal["setlinfo"]
        assert rinfo["orig_setl_id"] == info["setl_id"] and rinfo["setl_id"] not in (None, info["setl_id"])
        assert {k: rinfo[k] for k in AMOUNT_FIELDS if k != "balc"} == negated(settled)
        assert funds(reversal["setldetail"]) == {k: money(-D(v)) for k, v in funds(settled["setldetail"]).items()}
        assert_identities(rinfo)
        assert rinfo["balc"] == money(p.current + p.history if scheme == "employee" else 0)
        assert set(h.totals(p).values()) <= {"0.00"}, f"{where}: running totals not back to zero after 2208"
        assert account_balance(db, p.psn_no) == p.current + p.history
        _query_equals(h, p, settled, reversed_by=rinfo["setl_id"])

        again = h.ok("2207", request, p)  # the same lines settle again, as if nothing had happened
        assert again["setlinfo"]["setl_id"] not in (info["setl_id"], rinfo["setl_id"])
        assert_matches_engine(again, expected[0])
        assert h.totals(p) == expected_totals

    # 随州 leaves the employee outpatient deductible and rate to a separate city document:
    # without an overlay the gateway refuses exactly as ``yibao settle`` does …
    h = Hospital(client, SZ_HOSPITAL)
    p = new_person(database_url, "suizhou", account=("300.00", "2000.00"))
    day = "2026-03-12"
    mdtrt_id = h.register(p, f"{day} 09:00:00")
    h.visit_info(p, mdtrt_id, f"{day} 09:00:00")
    lines = _outpatient_lines(day)
    result = h.upload(p, mdtrt_id, lines)
    visit = case_visit("V1", day, "outpatient", "tertiary", case_items(result, [x["code"] for x in lines]))
    with pytest.raises(YibaoError, match="missing policy value suizhou:employee.outpatient.deductible"):
        engine_run(p, visit)
    before = counts(db)
    request = h.settle_input(p, mdtrt_id, _total(result))
    for infno in ("2206", "2207"):
        h.refused(infno, request, "missing policy value suizhou:employee.outpatient.deductible", "随州 第二十一条", person=p)
    assert _without_messages(counts(db)) == _without_messages(before)

    # … and with the overlay (YIBAO_OVERLAYS) it settles as ``yibao settle --overlay`` does.
    overlay = suizhou_overlay(tmp_path)
    expected, expected_totals = engine_run(p, visit, overlays=(overlay,))
    with_overlay = create_app(Settings(database_url=database_url, overlays=(overlay,)))
    try:
        with TestClient(with_overlay) as other:
            h = Hospital(other, SZ_HOSPITAL)
            h.now = dt.datetime.fromisoformat(f"{day} 09:00:00")
            preview = h.ok("2206", request, p)
            settled = h.ok("2207", request, p)
            _preview_equals_settlement(preview, settled)
            assert_matches_engine(settled, expected[0])
            assert D(expected[0]["hifp_pay"]) > 0 and D(expected[0]["acct_pay"]) > 0
            assert h.totals(p) == expected_totals
            assert account_balance(db, p.psn_no) == D(expected[0]["balc"])
            reversal = h.ok("2208", {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id,
                                              "setl_id": settled["setlinfo"]["setl_id"]}}, p)
            assert {k: reversal["setlinfo"][k] for k in AMOUNT_FIELDS if k != "balc"} == negated(settled)
            assert account_balance(db, p.psn_no) == p.current + p.history
    finally:
        with_overlay.state.service.db.dispose()


def _consultation_and_ct(hospital: Hospital, p) -> tuple[list[dict], dict, dict]:  # noqa: ANN001 - a test person
    """One outpatient visit on 2026-02-03 (a consultation and a CT) registered, uploaded and
    settled: its lines, the 2204 answer and the 2207 answer."""
    visit = hospital.register(p, "2026-02-03 08:30:00")
    hospital.visit_info(p, visit, "2026-02-03 08:30:00")
    lines = [dict(sn=1, code=CONSULT, cnt=1, pric="25", when="2026-02-03 08:40:00"),
             dict(sn=2, code=CT, cnt=1, pric="400", when="2026-02-03 08:50:00")]
    uploaded = hospital.upload(p, visit, lines)
    return lines, uploaded, hospital.ok("2207", hospital.settle_input(p, visit, _total(uploaded)), p)


def test_two_visits_in_sequence_carry_the_running_totals(client, app, database_url):
    """The second visit starts from the first one's totals (deductible met, account spent):
    both settlements equal ``yibao settle`` on the two-visit case."""
    db = app.state.service.db
    tertiary, primary = Hospital(client, HZ_HOSPITAL), Hospital(client, HZ_CENTRE)
    p = new_person(database_url, "hangzhou", account=("200.00", "500.00"))

    lines1, r1, s1 = _consultation_and_ct(tertiary, p)

    second = primary.register(p, "2026-02-20 14:00:00")
    primary.visit_info(p, second, "2026-02-20 14:00:00")
    lines2 = [dict(sn=1, code=CONSULT, cnt=1, pric="25", when="2026-02-20 14:10:00"),
              dict(sn=2, code=METFORMIN, cnt=60, pric="14.5", when="2026-02-20 14:10:00"),
              dict(sn=3, code=CEFTRIAXONE, cnt=20, pric="12", when="2026-02-20 14:10:00")]
    r2 = primary.upload(p, second, lines2)
    preview = primary.ok("2206", primary.settle_input(p, second, _total(r2)), p)
    s2 = primary.ok("2207", primary.settle_input(p, second, _total(r2)), p)
    _preview_equals_settlement(preview, s2)

    expected, totals = engine_run(
        p,
        case_visit("V1", "2026-02-03", "outpatient", "tertiary", case_items(r1, [x["code"] for x in lines1])),
        case_visit("V2", "2026-02-20", "outpatient", "primary", case_items(r2, [x["code"] for x in lines2])),
    )
    assert_matches_engine(s1, expected[0])
    assert_matches_engine(s2, expected[1])
    # the second visit's figures depend on the first: a deductible partly met, an account partly spent
    alone, _ = engine_run(p, case_visit("V2", "2026-02-20", "outpatient", "primary",
                                        case_items(r2, [x["code"] for x in lines2])))
    assert {k: alone[0][k] for k in AMOUNT_FIELDS} != {k: expected[1][k] for k in AMOUNT_FIELDS}
    assert D(s1["setlinfo"]["act_pay_dedc"]) > 0 and D(s2["setlinfo"]["act_pay_dedc"]) < D(alone[0]["act_pay_dedc"])
    assert primary.totals(p) == totals == tertiary.totals(p)
    assert account_balance(db, p.psn_no) == D(expected[1]["balc"])


def test_inpatient_flow_equals_yibao_settle(client, app, database_url):
    """2401 → 2301 (with a refund line) → 2302 → 2402 → 2405 → 2301 → 2402 → 2303 → 2304 →
    2305 → 2304 for a 随州 employee, and 2404 once the stay has no live settlement; a refund
    line of an item above its price limit in 杭州."""
    db = app.state.service.db
    h = Hospital(client, SZ_HOSPITAL)
    p = new_person(database_url, "suizhou", account=("600.00", "900.00"))
    mdtrt_id = h.admit(p, "2026-04-01 10:00:00")
    lines = [dict(sn=1, code=WARD_CONSULT, cnt=1, pric="30", when="2026-04-01 11:00:00"),
             dict(sn=2, code=BED, cnt=5, pric="70", when="2026-04-05 11:00:00"),  # 10.00 a day over the limit
             dict(sn=3, code=TRASTUZUMAB, cnt=2, pric="3000", when="2026-04-02 11:00:00"),
             dict(sn=4, code=TRASTUZUMAB, cnt=-1, pric="3000", when="2026-04-03 11:00:00"),  # refund of one dose
             dict(sn=5, code=NUTRITION, cnt=3, pric="40", when="2026-04-03 11:00:00"),
             dict(sn=6, code=CT, cnt=1, pric="300", when="2026-04-03 12:00:00")]
    result = h.upload(p, mdtrt_id, lines, infno="2301")
    refund = result[3]
    assert (refund["det_item_fee_sumamt"], refund["cnt"], refund["preselfpay_amt"], refund["inscp_scp_amt"]) == \
        ("-3000.00", "-1.0000", "-600.00", "-2400.00")
    h.ok("2302", {"data": [{"mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "feedetl_sn": "6"}]}, p)  # the CT was not done
    h.discharge(p, mdtrt_id, "2026-04-06 10:00:00")
    h.ok("2405", {"data": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no}}, p)  # discharge reversed: the stay goes on
    h.refused("2303", h.settle_input(p, mdtrt_id, _total(result[:5]), med_type="21"), "no discharge", person=p)
    late = [dict(sn=7, code=BLOOD, cnt=1, pric="20", when="2026-04-06 15:00:00"),
            dict(sn=6, code=CT, cnt=1, pric="280", when="2026-04-06 16:00:00")]  # a withdrawn feedetl_sn may be used again
    late_result = h.upload(p, mdtrt_id, late, infno="2301")
    h.discharge(p, mdtrt_id, "2026-04-07 09:30:00")

    billed = lines[:5] + late
    billed_result = result[:5] + late_result
    total = _total(billed_result)
    assert total == D("3800.00")
    expected, totals = engine_run(p, case_visit("V1", "2026-04-07", "inpatient", "tertiary",
                                                case_items(billed_result, [x["code"] for x in billed])))
    request = h.settle_input(p, mdtrt_id, total, med_type="21")
    before = counts(db)
    preview = h.ok("2303", request, p)
    assert _without_messages(counts(db)) == _without_messages(before)
    assert_matches_engine(preview, expected[0])
    settled = h.ok("2304", request, p)
    _preview_equals_settlement(preview, settled)
    assert_matches_engine(settled, expected[0])
    assert settled["setlinfo"]["med_type"] == "21" and settled["setlinfo"]["setl_time"] == "2026-04-07 09:30:00"
    assert D(settled["setlinfo"]["hifp_pay"]) > 0 and D(settled["setlinfo"]["acct_pay"]) > 0
    assert h.totals(p) == totals
    assert account_balance(db, p.psn_no) == D(expected[0]["balc"])
    _query_equals(h, p, settled)

    h.refused("2404", {"data": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no}}, "reverse it first", person=p)
    h.refused("2405", {"data": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no}}, "settled", person=p)
    bed = dict(feedetl_sn="9", mdtrt_id=mdtrt_id, psn_no=p.psn_no, fee_ocur_time="2026-04-07 09:00:00", med_list_codg=BED,
               det_item_fee_sumamt="60.00", cnt="1", pric="60")
    h.refused("2301", {"feedetail": [bed]}, "settled", person=p)

    reversal = h.ok("2305", {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id,
                                      "setl_id": settled["setlinfo"]["setl_id"]}}, p)
    assert {k: reversal["setlinfo"][k] for k in AMOUNT_FIELDS if k != "balc"} == negated(settled)
    assert set(h.totals(p).values()) <= {"0.00"}
    assert account_balance(db, p.psn_no) == p.current + p.history
    again = h.ok("2304", request, p)
    assert_matches_engine(again, expected[0])
    h.ok("2305", {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id, "setl_id": again["setlinfo"]["setl_id"]}}, p)

    h.ok("2404", {"data": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no}}, p)  # no live settlement: the admission is cancelled
    h.refused("2304", request, "cancelled", person=p)
    with db.sessions() as s:
        assert s.get(m.Visit, mdtrt_id).status == "cancelled"
        assert {f.status for f in s.scalars(select(m.FeeLine).where(m.FeeLine.mdtrt_id == mdtrt_id))} == {"withdrawn"}
    assert set(h.totals(p).values()) <= {"0.00"}

    # A refund (negative cnt) of 4 units of 头孢曲松 at 13.00 against a 12.50 limit takes back
    # 4 × 0.50 over the limit and the 乙类 share of the rest — split like the charge with the
    # sign kept — and the stay settles as the net bill (6 units) would.
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou")
    mdtrt_id = h.admit(p, "2026-04-01 10:00:00")
    lines = [dict(sn=1, code=CEFTRIAXONE, cnt=10, pric="13", when="2026-04-02 11:00:00"),
             dict(sn=2, code=CEFTRIAXONE, cnt=-4, pric="13", when="2026-04-03 11:00:00")]
    result = h.upload(p, mdtrt_id, lines, infno="2301")
    charge, refund = result
    assert (charge["overlmt_amt"], charge["preselfpay_amt"], charge["inscp_scp_amt"]) == ("5.00", "12.50", "112.50")
    assert (refund["det_item_fee_sumamt"], refund["overlmt_amt"], refund["preselfpay_amt"], refund["inscp_scp_amt"]) == \
        ("-52.00", "-2.00", "-5.00", "-45.00")
    h.discharge(p, mdtrt_id, "2026-04-05 10:00:00")
    settled = h.ok("2304", h.settle_input(p, mdtrt_id, "78.00", med_type="21"), p)
    net = [{"code": CEFTRIAXONE, "amount": "78.00", "class": "B", "selfpay_ratio": "0.10", "over_limit": "3.00"}]
    expected, _ = engine_run(p, case_visit("V1", "2026-04-05", "inpatient", "tertiary", net))
    assert_matches_engine(settled, expected[0])


def test_an_upload_splits_each_line_by_the_catalogue_version_of_its_own_day(client, app, database_url):
    """One 2301 whose lines fall on both sides of a catalogue change (乙类 with a ratio and a
    price limit, then 甲类): each line is split by the version in force on its
    fee_ocur_time, and a line on a day before the code existed is refused by name."""
    with app.state.service.db.transaction() as session:
        for text, source in (("ZV0001,测试注射液,B,0.15,20.000000,2026-03-01,\n", "v1.csv"),
                             ("ZV0001,测试注射液,A,,,2026-04-03,\n", "v2.csv")):
            catalogue.load_csv(session, "hangzhou", ",".join(catalogue.COLUMNS) + "\n" + text, source)
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou")
    stay = h.admit(p, "2026-04-01 10:00:00")
    lines = [dict(sn=1, code="ZV0001", cnt=2, pric="25", when="2026-04-02 23:59:59"),
             dict(sn=2, code=CT, cnt=1, pric="300", when="2026-04-02 12:00:00"),
             dict(sn=3, code="ZV0001", cnt=2, pric="25", when="2026-04-03 00:00:00")]
    before, after = h.upload(p, stay, lines, infno="2301")[0::2]
    # v1: 10.00 above the limit (2 × 5.00), 15 % of the remaining 40.00 paid first
    assert (before["chrgitm_lv"], before["selfpay_prop"], before["pric_uplmt_amt"], before["overlmt_amt"],
            before["preselfpay_amt"], before["inscp_scp_amt"]) == ("02", "0.1500", "20.000000", "10.00", "6.00", "34.00")
    assert (after["chrgitm_lv"], after["selfpay_prop"], after["pric_uplmt_amt"], after["overlmt_amt"],
            after["preselfpay_amt"], after["inscp_scp_amt"]) == ("01", "0.0000", None, "0.00", "0.00", "50.00")
    early = dict(sn=4, code="ZV0001", cnt=1, pric="25", when="2026-02-28 10:00:00")
    h.refused("2301", {"feedetail": [fee_line(p, stay, **early)]},
              "feedetail[0] (4)", "med_list_codg ZV0001 is not in the hangzhou catalogue on 2026-02-28", person=p)


def test_interim_settlement_settles_the_lines_so_far_as_a_settlement_of_its_own(client, app, database_url):
    """2304 with mid_setl_flag 1 settles the lines uploaded so far on the day it is made; the
    final 2304 settles the rest on the discharge date. Together they equal ``yibao settle``
    on two separately settled inpatient visits (the second starting from the first's totals)."""
    db = app.state.service.db
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou", account=("300.00", "2000.00"))
    mdtrt_id = h.admit(p, "2026-05-01 10:00:00")
    part1 = [dict(sn=1, code=TRASTUZUMAB, cnt=3, pric="3000", when="2026-05-02 11:00:00"),
             dict(sn=2, code=BED, cnt=10, pric="65", when="2026-05-10 11:00:00")]
    r1 = h.upload(p, mdtrt_id, part1, infno="2301")
    h.refused("2304", h.settle_input(p, mdtrt_id, _total(r1), med_type="21"), "no discharge", person=p)

    h.now = dt.datetime(2026, 5, 15, 9, 0, 0)
    interim_request = h.settle_input(p, mdtrt_id, _total(r1), med_type="21", mid=True)
    preview1 = h.ok("2303", interim_request, p)
    interim = h.ok("2304", interim_request, p)
    _preview_equals_settlement(preview1, interim)
    assert interim["setlinfo"]["setl_time"] == "2026-05-15 09:00:00"

    part2 = [dict(sn=3, code=TRASTUZUMAB, cnt=2, pric="3000", when="2026-05-16 11:00:00"),
             dict(sn=4, code=WARD_CONSULT, cnt=5, pric="30", when="2026-05-19 11:00:00"),
             dict(sn=5, code=NUTRITION, cnt=1, pric="50", when="2026-05-19 11:00:00")]
    r2 = h.upload(p, mdtrt_id, part2, infno="2301")
    h.discharge(p, mdtrt_id, "2026-05-20 10:00:00")
    h.refused("2304", h.settle_input(p, mdtrt_id, _total(r2), med_type="21", mid=True), "discharged", person=p)
    h.refused("2304", h.settle_input(p, mdtrt_id, _total(r1) + _total(r2), med_type="21"), "medfee_sumamt", person=p)
    final_request = h.settle_input(p, mdtrt_id, _total(r2), med_type="21")
    preview2 = h.ok("2303", final_request, p)
    final = h.ok("2304", final_request, p)
    _preview_equals_settlement(preview2, final)

    expected, totals = engine_run(
        p,
        case_visit("V1", "2026-05-15", "inpatient", "tertiary", case_items(r1, [x["code"] for x in part1])),
        case_visit("V2", "2026-05-20", "inpatient", "tertiary", case_items(r2, [x["code"] for x in part2])),
    )
    assert_matches_engine(interim, expected[0])
    assert_matches_engine(final, expected[1])
    for name in AMOUNT_FIELDS[:-1]:
        together = D(interim["setlinfo"][name]) + D(final["setlinfo"][name])
        assert together == D(expected[0][name]) + D(expected[1][name]), name
    assert h.totals(p) == totals
    assert account_balance(db, p.psn_no) == D(expected[1]["balc"])
    _query_equals(h, p, interim, setl_type="interim")
    _query_equals(h, p, final)

    # the interim settlement cannot be reversed while the final one stands
    ref = lambda s: {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id, "setl_id": s["setlinfo"]["setl_id"]}}  # noqa: E731
    h.refused("2305", ref(interim), "reverse the later settlement", person=p)
    h.ok("2305", ref(final))
    h.ok("2305", ref(interim))
    assert set(h.totals(p).values()) <= {"0.00"}
    assert account_balance(db, p.psn_no) == p.current + p.history
    # with both reversed, every line is unsettled again: one final settlement takes them all
    whole = h.ok("2304", h.settle_input(p, mdtrt_id, _total(r1) + _total(r2), med_type="21"), p)
    one, _ = engine_run(p, case_visit("V1", "2026-05-20", "inpatient", "tertiary",
                                      case_items(r1 + r2, [x["code"] for x in part1 + part2])))
    assert_matches_engine(whole, one[0])


def test_withdrawing_fee_lines_and_cancelling_a_registration(client, app, database_url):
    """2205 with a batch number and with "0000"; 2202 before and after a settlement."""
    db = app.state.service.db
    h = Hospital(client, JX_HOSPITAL)
    p = new_person(database_url, "jiaxing", account=("500.00", "500.00"))
    mdtrt_id = h.register(p, "2026-03-02 10:00:00")
    h.visit_info(p, mdtrt_id, "2026-03-02 10:00:00")
    at = "2026-03-02 10:05:00"
    h.upload(p, mdtrt_id, [dict(sn=1, code=CONSULT, cnt=1, pric="20", when=at, batch="B1"),
                           dict(sn=2, code=METFORMIN, cnt=10, pric="3", when=at, batch="B1")])
    h.upload(p, mdtrt_id, [dict(sn=3, code=CT, cnt=1, pric="300", when=at, batch="B2")])
    withdraw = lambda batch: {"data": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "chrg_bchno": batch}}  # noqa: E731

    h.ok("2205", withdraw("B2"))
    h.refused("2205", withdraw("B2"), "no unsettled fee lines", person=p)
    h.refused("2207", h.settle_input(p, mdtrt_id, "350.00"), "medfee_sumamt 350.00", "50.00", person=p)
    h.ok("2205", withdraw("0000"))  # every unsettled line
    h.refused("2207", h.settle_input(p, mdtrt_id, "50.00"), "no unsettled fee lines", person=p)
    with db.sessions() as s:
        assert {f.status for f in s.scalars(select(m.FeeLine).where(m.FeeLine.mdtrt_id == mdtrt_id))} == {"withdrawn"}

    lines = [dict(sn=1, code=CONSULT, cnt=1, pric="20", when=at), dict(sn=2, code=TRASTUZUMAB, cnt=1, pric="2500", when=at)]
    result = h.upload(p, mdtrt_id, lines)  # the withdrawn feedetl_sn are free again
    settled = h.ok("2207", h.settle_input(p, mdtrt_id, _total(result)), p)
    expected, _ = engine_run(p, case_visit("V1", "2026-03-02", "outpatient", "tertiary",
                                           case_items(result, [x["code"] for x in lines])))
    assert_matches_engine(settled, expected[0])

    h.refused("2205", withdraw("0000"), "settled", person=p)
    h.refused("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no}}, "reverse it first", person=p)
    h.ok("2208", {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id, "setl_id": settled["setlinfo"]["setl_id"]}})
    h.ok("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no}})
    h.refused("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no}}, "already cancelled", person=p)
    consult = dict(feedetl_sn="9", mdtrt_id=mdtrt_id, psn_no=p.psn_no, fee_ocur_time=at, med_list_codg=CONSULT,
                   det_item_fee_sumamt="20.00", cnt="1", pric="20")
    h.refused("2204", {"feedetail": [consult]}, "cancelled", person=p)
    h.refused("2207", h.settle_input(p, mdtrt_id, _total(result)), "cancelled", person=p)
    h.refused("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "med_type": "11"}}, "cancelled", person=p)
    assert account_balance(db, p.psn_no) == p.current + p.history
    assert set(h.totals(p).values()) <= {"0.00"}


def _reconcile(h: Hospital, insutype: str, begin: str, end: str, medfee, fund, acct, count: int) -> dict:  # noqa: ANN001
    return h.ok("3201", {"data": {"insutype": insutype, "clr_type": "11", "setl_optins": "330100", "stmt_begndate": begin,
                                  "stmt_enddate": end, "medfee_sumamt": money(medfee), "fund_pay_sumamt": money(fund),
                                  "acct_pay": money(acct), "fixmedins_setl_cnt": count}})["stmtinfo"]


def _outpatient(h: Hospital, p: Insured, begntime: str, lines: list[dict]) -> tuple[str, dict]:
    mdtrt_id = h.register(p, begntime)
    h.visit_info(p, mdtrt_id, begntime)
    result = h.upload(p, mdtrt_id, lines)
    return mdtrt_id, h.ok("2207", h.settle_input(p, mdtrt_id, _total(result)), p)


def test_reconciliation_and_queries(client, app, database_url):
    """3201 agrees with the institution's totals after two settlements and one reversal and
    names every figure that differs, counting each on the day it was made; 5203 answers a
    stored settlement; 5206 the totals."""
    db = app.state.service.db
    h, other = Hospital(client, HZ_HOSPITAL), Hospital(client, HZ_CENTRE)
    a = new_person(database_url, "hangzhou", account=("100.00", "100.00"))
    b = new_person(database_url, "hangzhou", account=("0.00", "3000.00"))
    day = "2026-03-10"
    at = f"{day} 09:30:00"
    m1, s1 = _outpatient(h, a, f"{day} 09:00:00", [dict(sn=1, code=CT, cnt=2, pric="350", when=at),
                                                    dict(sn=2, code=NUTRITION, cnt=1, pric="30", when=at)])
    m2, s2 = _outpatient(h, b, f"{day} 10:00:00", [dict(sn=1, code=TRASTUZUMAB, cnt=1, pric="2800", when=at)])
    r1 = h.ok("2208", {"data": {"psn_no": a.psn_no, "mdtrt_id": m1, "setl_id": s1["setlinfo"]["setl_id"]}}, a)
    # not in this reconciliation: another institution's settlement, and one on another day
    _outpatient(other, a, f"{day} 15:00:00", [dict(sn=1, code=CONSULT, cnt=1, pric="10", when=f"{day} 15:00:00")])
    _outpatient(h, b, "2026-03-11 08:00:00", [dict(sn=1, code=CONSULT, cnt=1, pric="25", when="2026-03-11 08:00:00")])
    h.now = dt.datetime(2026, 3, 12, 8)

    rows = [s1, s2, r1]
    medfee = sum((D(s["setlinfo"]["medfee_sumamt"]) for s in rows), D(0))
    fund = sum((D(s["setlinfo"]["fund_pay_sumamt"]) for s in rows), D(0))
    acct = sum((D(s["setlinfo"]["acct_pay"]) for s in rows), D(0))
    assert (medfee, fund, acct) == tuple(D(s2["setlinfo"][k]) for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay"))
    assert acct > 0 and fund > 0

    agreed = _reconcile(h, "310", day, day, medfee, fund, acct, 1)
    assert [agreed[k] for k in ("stmt_rslt", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "fixmedins_setl_cnt")] == \
        ["0", money(medfee), money(fund), money(acct), 1]
    wrong_amount = _reconcile(h, "310", day, day, medfee + D("0.01"), fund, acct, 1)
    assert wrong_amount["stmt_rslt"] == "1" and "medfee_sumamt" in wrong_amount["stmt_rslt_dscr"]
    assert "fund_pay_sumamt" not in wrong_amount["stmt_rslt_dscr"]
    wrong_count = _reconcile(h, "310", day, day, medfee, fund, acct, 3)
    assert wrong_count["stmt_rslt"] == "1" and "fixmedins_setl_cnt" in wrong_count["stmt_rslt_dscr"]
    wrong_acct = _reconcile(h, "310", day, day, medfee, fund, acct - 1, 1)
    assert wrong_acct["stmt_rslt"] == "1" and "acct_pay" in wrong_acct["stmt_rslt_dscr"]
    two_days = _reconcile(h, "310", day, "2026-03-11", 0, 0, 0, 2)
    assert two_days["fixmedins_setl_cnt"] == 2
    assert _reconcile(h, "390", day, day, 0, 0, 0, 0)["stmt_rslt"] == "0"  # no resident settlements

    _query_equals(h, b, s2)
    _query_equals(h, a, s1, reversed_by=r1["setlinfo"]["setl_id"])
    reversal = h.query(a, r1["setlinfo"]["setl_id"])
    assert (reversal["setlinfo"]["setl_type"], reversal["setlinfo"]["orig_setl_id"]) == ("reversal", s1["setlinfo"]["setl_id"])
    assert {k: reversal["setlinfo"][k] for k in AMOUNT_FIELDS if k != "balc"} == negated(s1)
    h.refused("5203", {"data": {"psn_no": b.psn_no, "setl_id": s1["setlinfo"]["setl_id"]}}, "is not a settlement", person=b)

    # 5206: a's totals hold only the other institution's visit; b's hold two visits
    stored_a = {k: money(v) for k, v in stored_totals(db, a.psn_no).items()}
    assert h.totals(a) == stored_a == other.totals(a)
    assert h.totals(b) == {k: money(v) for k, v in stored_totals(db, b.psn_no).items()}
    assert any(D(v) > 0 for v in h.totals(b).values())
    assert h.totals(b, 2025) == {}

    # A visit registered at 23:50 and settled, then reversed, after midnight: the HIS counts
    # both on the day they were made (the setl_time the gateway answers), and so does 3201.
    p = new_person(database_url, "hangzhou")
    mdtrt_id = h.register(p, "2026-03-20 23:50:00")
    h.visit_info(p, mdtrt_id, "2026-03-20 23:50:00")
    result = h.upload(p, mdtrt_id, [dict(sn=1, code=CT, cnt=1, pric="400", when="2026-03-20 23:55:00")])
    h.now = dt.datetime(2026, 3, 21, 0, 5, 0)
    settled = h.ok("2207", h.settle_input(p, mdtrt_id, _total(result)), p)
    assert settled["setlinfo"]["setl_time"] == "2026-03-21 00:05:00"
    h.now = dt.datetime(2026, 3, 21, 0, 20, 0)
    h.ok("2208", {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id, "setl_id": settled["setlinfo"]["setl_id"]}}, p)
    # the HIS's day 2026-03-21: one settlement and its reversal, net nothing
    day2 = _reconcile(h, "310", "2026-03-21", "2026-03-21", 0, 0, 0, 0)
    assert day2["stmt_rslt"] == "0", day2["stmt_rslt_dscr"]
    day1 = _reconcile(h, "310", "2026-03-20", "2026-03-20", 0, 0, 0, 0)
    assert day1["stmt_rslt"] == "0", day1["stmt_rslt_dscr"]


def test_rebuilt_running_totals_equal_the_stored_ones(client, app, database_url):
    """After settlements, reversals, re-settlements and an interim settlement for several
    persons, ``yibao service rebuild-totals --check`` finds the stored totals identical; a
    tampered total is found."""
    db = app.state.service.db
    hz, jx = Hospital(client, HZ_HOSPITAL), Hospital(client, JX_HOSPITAL)
    a = new_person(database_url, "hangzhou", account=("100.00", "900.00"))
    b = new_person(database_url, "jiaxing", account=("400.00", "400.00"))
    c = new_person(database_url, "hangzhou", scheme="resident")
    at = "2026-06-01 09:10:00"
    m1, s1 = _outpatient(hz, a, "2026-06-01 09:00:00", [dict(sn=1, code=CT, cnt=3, pric="300", when=at)])
    hz.ok("2208", {"data": {"psn_no": a.psn_no, "mdtrt_id": m1, "setl_id": s1["setlinfo"]["setl_id"]}}, a)
    hz.ok("2207", hz.settle_input(a, m1, "900.00"), a)
    _outpatient(hz, a, "2026-06-03 09:00:00", [dict(sn=1, code=TRASTUZUMAB, cnt=1, pric="1500", when="2026-06-03 09:10:00")])
    _outpatient(jx, b, "2026-06-01 09:00:00", [dict(sn=1, code=CEFTRIAXONE, cnt=50, pric="13", when=at)])
    _outpatient(hz, c, "2026-06-02 09:00:00", [dict(sn=1, code=CT, cnt=2, pric="450", when="2026-06-02 09:10:00")])
    stay = jx.admit(b, "2026-06-10 08:00:00")
    jx.upload(b, stay, [dict(sn=1, code=BED, cnt=4, pric="60", when="2026-06-13 08:00:00")], infno="2301")
    jx.now = dt.datetime(2026, 6, 14, 8)
    interim = jx.ok("2304", jx.settle_input(b, stay, "240.00", med_type="21", mid=True), b)
    jx.upload(b, stay, [dict(sn=2, code=TRASTUZUMAB, cnt=1, pric="4000", when="2026-06-15 08:00:00")], infno="2301")
    jx.discharge(b, stay, "2026-06-16 08:00:00")
    final = jx.ok("2304", jx.settle_input(b, stay, "4000.00", med_type="21"), b)
    jx.ok("2305", {"data": {"psn_no": b.psn_no, "mdtrt_id": stay, "setl_id": final["setlinfo"]["setl_id"]}}, b)
    assert interim["setlinfo"]["setl_id"]

    with db.sessions() as s:
        report = compare_totals(s)
    assert report.identical, report.differences
    assert report.person_years == 3 and report.counters > 3
    check = subprocess.run([sys.executable, "-m", "yibao", "service", "--database", database_url, "rebuild-totals", "--check"],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "identical" in check.stdout

    with db.transaction() as s:
        row = s.scalars(select(m.RunningTotal).where(m.RunningTotal.psn_no == a.psn_no, m.RunningTotal.amount > 0)).first()
        row.amount = row.amount + D("0.01")
        key = (row.psn_no, row.year, row.counter)
    with db.sessions() as s:
        report = compare_totals(s)
    assert [d[0] for d in report.differences] == [key]


def test_a_worker_whose_event_loop_answers_the_gateway_settles_the_same(database_url):
    """``gateway_threads`` 0: no thread pool, the event loop answers each call itself; the
    settlement equals ``yibao settle`` as it does through the threads."""
    app = create_app(Settings(database_url=database_url, gateway_threads=0))
    assert app.state.service.threads is None
    try:
        with TestClient(app) as client:
            p = new_person(database_url, "hangzhou")
            lines, uploaded, settled = _consultation_and_ct(Hospital(client, HZ_HOSPITAL), p)
        expected, _ = engine_run(p, case_visit("V1", "2026-02-03", "outpatient", "tertiary",
                                               case_items(uploaded, [x["code"] for x in lines])))
        assert_matches_engine(settled, expected[0])
    finally:
        app.state.service.db.dispose()


def test_gateway_threads_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("YIBAO_GATEWAY_THREADS", "0")
    assert Settings().gateway_threads == 0
    monkeypatch.setenv("YIBAO_GATEWAY_THREADS", "")
    assert Settings().gateway_threads is None
    for bad in ("-1", "two", "1.5"):
        monkeypatch.setenv("YIBAO_GATEWAY_THREADS", bad)
        with pytest.raises(ValueError, match="YIBAO_GATEWAY_THREADS"):
            Settings()


@pytest.mark.parametrize("option", [["--gateway-threads", "-1"], ["--gateway-threads", "two"], ["--workers", "0"]])
def test_serve_refuses_impossible_worker_and_thread_counts(option, capsys):
    from yibao.cli import main

    with pytest.raises(SystemExit) as stopped:
        code = main(["serve", "--database", "sqlite:///unused.db", *option])
        raise SystemExit(code)
    assert stopped.value.code == 2
    assert option[0] in capsys.readouterr().err
