"""Coverage windows, per city and clause, and one multi-year life per city checked on
dozens of dates (enrolment, arrears, a gap, back-payment, switches, retirement).

Each expectation is ``(date, covered, costs_borne_by_when_not_covered)``.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from support import run_cli, write_case
from yibao.errors import MissingPolicyValue
from yibao.lifecycle.coverage import coverage_on
from yibao.lifecycle.history import parse_history


def months(first: str, last: str, paid_date=lambda m: f"{m}-15", skip=(), late: dict | None = None, scheme="employee"):
    """Monthly contributions from ``first`` to ``last`` (YYYY-MM), paid mid-month unless
    skipped (unpaid) or ``late`` gives another paid date."""
    out = []
    y, m = map(int, first.split("-"))
    while f"{y:04d}-{m:02d}" <= last:
        month = f"{y:04d}-{m:02d}"
        if month not in skip:
            out.append({"month": month, "scheme": scheme, "base": "8000.00", "due": "880.00", "paid": "880.00",
                        "paid_date": (late or {}).get(month, paid_date(month))})
        m += 1
        if m == 13:
            y, m = y + 1, 1
    return out


def history(city, enrolments, contributions=(), events=(), birth="1966-05-01", sex="F", **extra):
    raw = {
        "city": city,
        "person": {"id": "P", "birth_date": birth, "sex": sex},
        "employers": [{"id": "E1"}, {"id": "E2"}],
        "enrolments": enrolments,
        "contributions": list(contributions),
        "events": list(events),
    }
    raw.update(extra)
    return parse_history(json.loads(json.dumps(raw)))


def check(h, expectations):
    for day, covered, borne in expectations:
        answer = coverage_on(h, dt.date.fromisoformat(day))
        assert answer.covered is covered, f"{day}: {answer.reason}"
        if not covered:
            assert answer.costs_borne_by == borne, f"{day}: {answer.reason}"
        assert answer.clause, day


# ---------------------------------------------------------------------- 嘉兴


def test_jiaxing_life_unit_arrears_gap_flexible_retirement():
    """嘉兴 (十二): benefits from the 2nd natural month; arrears suspend from the 2nd natural
    month, a back-payment within 60 days of the order restores them retroactively; past it
    the employer bears the costs and benefits return the 2nd month after back-payment;
    a new flexible enrolment after a gap waits again; retirement within 3 months of
    approval keeps benefits uninterrupted."""
    h = history(
        "jiaxing",
        [
            {"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2025-01-10", "end": "2026-03-31"},
            {"scheme": "employee", "category": "flexible", "mode": "flexible", "start": "2026-06-15", "end": "2026-10-19"},
            {"scheme": "employee", "category": "retired", "mode": "retired", "start": "2026-10-20"},
        ],
        months("2025-01", "2026-03", skip=("2025-09", "2025-10"), late={"2025-03": "2025-05-20", "2025-04": "2025-05-20"})
        + [{"month": m, "base": "8000.00", "due": "880.00", "paid": "880.00", "paid_date": "2026-01-20"} for m in ("2025-09", "2025-10")]
        + months("2026-06", "2026-09"),
        [
            {"date": "2025-04-10", "type": "arrears_order"},
            {"date": "2025-10-15", "type": "arrears_order"},
            {"date": "2026-10-20", "type": "retirement", "approved": "2026-09-01"},
        ],
    )
    check(h, [
        ("2025-01-10", False, "person"),   # registration month: waiting
        ("2025-01-31", False, "person"),
        ("2025-02-01", True, None),        # 2nd natural month
        ("2025-03-20", True, None),
        ("2025-04-01", True, None),        # March unpaid → suspended from April …
        ("2025-04-30", True, None),        # … but back-paid 05-20, within 60 days of the 04-10 order: retroactive
        ("2025-05-15", True, None),
        ("2025-06-30", True, None),
        ("2025-09-30", True, None),        # September not yet late during September
        ("2025-10-01", False, "employer"), # Sep unpaid → suspended from October
        ("2025-11-15", False, "employer"),
        ("2025-12-31", False, "employer"),
        ("2026-01-25", False, "employer"), # back-paid 01-20, long after the 60 days: employer bore it
        ("2026-02-01", True, None),        # 2nd natural month after the back-payment
        ("2026-03-31", True, None),
        ("2026-04-01", False, None),       # no enrolment: refused
        ("2026-06-20", False, "person"),   # new flexible enrolment: waits for the 2nd natural month
        ("2026-07-01", True, None),
        ("2026-09-30", True, None),
        ("2026-10-25", True, None),        # retired 10-20 within 3 months of the 09-01 approval
        ("2027-06-01", True, None),        # retirees pay no contributions
    ])


def test_jiaxing_late_retirement_registration_waits_to_the_next_month():
    """嘉兴 (十二) 四款: registered more than 3 months after approval → from the next month."""
    h = history(
        "jiaxing",
        [
            {"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2025-01-02", "end": "2025-03-31"},
            {"scheme": "employee", "category": "retired", "mode": "retired", "start": "2025-08-10"},
        ],
        months("2025-01", "2025-03"),
        [{"date": "2025-08-10", "type": "retirement", "approved": "2025-03-31"}],
    )
    check(h, [("2025-08-20", False, "person"), ("2025-09-01", True, None)])


def test_jiaxing_resident_year_and_mid_year_enrolment():
    """嘉兴 (二十二): a premium paid by year end covers from 1 January; paid mid-year, from
    the 3rd natural month counting the month of payment; (二十四) a newborn enrolled within
    3 months is covered from birth."""
    resident = [{"scheme": "resident", "category": "adult", "mode": "resident", "start": "2025-01-01"}]
    on_time = history("jiaxing", resident, [{"month": "2026-01", "scheme": "resident", "paid": "380.00", "paid_date": "2025-12-20", "kind": "premium"}])
    check(on_time, [("2026-01-01", True, None), ("2026-12-31", True, None), ("2027-01-01", False, "person")])
    mid = history("jiaxing", resident, [{"month": "2025-01", "scheme": "resident", "paid": "380.00", "paid_date": "2025-04-12", "kind": "premium"}])
    check(mid, [("2025-04-20", False, "person"), ("2025-05-31", False, "person"), ("2025-06-01", True, None)])
    baby = history("jiaxing", [{"scheme": "resident", "category": "child", "mode": "resident", "start": "2025-04-20", "reason": "newborn"}], birth="2025-02-10")
    check(baby, [("2025-02-10", True, None), ("2025-12-31", True, None), ("2026-01-05", False, "person")])


# ---------------------------------------------------------------------- 杭州


def test_hangzhou_life_resident_switch_to_employee_then_flexible_interruption():
    """杭州细则: resident → employee without a break: benefits the same month (七、险种转换);
    a job change without a break keeps benefits; a flexible worker who does not pay is
    suspended from the next month; more than 3 months unpaid is an interruption: after
    paying, benefits from the 3rd natural month (一、职工医保)."""
    h = history(
        "hangzhou",
        [
            {"scheme": "resident", "category": "adult", "mode": "resident", "start": "2026-01-01", "end": "2026-04-30"},
            {"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2026-05-01", "end": "2026-08-31"},
            {"scheme": "employee", "category": "flexible", "mode": "flexible", "start": "2026-09-01"},
        ],
        [{"month": "2026-01", "scheme": "resident", "paid": "800.00", "paid_date": "2025-12-10", "kind": "premium"}]
        + months("2026-05", "2026-09")
        + [{"month": m, "base": "5000.00", "due": "475.00", "paid": "475.00", "paid_date": "2027-02-10"} for m in ("2026-10", "2026-11", "2026-12", "2027-01")]
        + months("2027-02", "2027-06"),
    )
    check(h, [
        ("2026-01-01", True, None), ("2026-03-15", True, None), ("2026-04-30", True, None),
        ("2026-05-01", True, None),        # 参保当月
        ("2026-07-20", True, None), ("2026-08-31", True, None),
        ("2026-09-01", True, None),        # continuous: flexible right after the job
        ("2026-10-31", True, None),        # October unpaid is not late until November
        ("2026-11-01", False, "person"),   # suspended from the next month
        ("2027-01-15", False, "person"),
        ("2027-02-20", False, "person"),   # back-paid 02-10 after a 4-month interruption …
        ("2027-03-31", False, "person"),
        ("2027-04-01", True, None),        # … benefits from the 3rd natural month
        ("2027-06-30", True, None),
    ])


def test_hangzhou_unit_arrears_within_the_order_limit_are_restored():
    """杭州细则: the employer back-pays within 60 days of the order: benefits restored for the
    whole suspension; past it, the employer bears them until the month after payment."""
    base = [{"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2026-01-05"}]
    ok = history("hangzhou", base, months("2026-01", "2026-06", late={"2026-03": "2026-05-25"}), [{"date": "2026-04-20", "type": "arrears_order"}])
    check(ok, [("2026-01-20", False, "person"), ("2026-02-01", True, None), ("2026-04-10", True, None), ("2026-05-30", True, None)])
    late = history("hangzhou", base, months("2026-01", "2026-08", late={"2026-03": "2026-07-25"}), [{"date": "2026-04-20", "type": "arrears_order"}])
    check(late, [("2026-04-10", False, "employer"), ("2026-07-31", False, "employer"), ("2026-08-01", True, None)])


def test_hangzhou_resident_waiting_period_grows_with_gap_years_and_is_repaired():
    """杭州细则 二: missing the collection period: fixed 3 months; each extra uninsured year
    +1 month; back-paying a year repairs a month."""
    enrol = [{"scheme": "resident", "category": "adult", "mode": "resident", "start": "2026-03-01"}]
    premium = {"month": "2026-01", "scheme": "resident", "paid": "800.00", "paid_date": "2026-03-01", "kind": "premium"}
    # born 2004 (adult from 2022): uninsured 2024 and 2025 → 3 + 2 months from 03-01 → 08-01
    two_gaps = history("hangzhou", enrol, [premium], birth="2024-01-01")
    check(two_gaps, [("2026-07-31", False, "person"), ("2026-08-01", True, None)])
    repaired = history("hangzhou", enrol, [premium, {"month": "2025-01", "scheme": "resident", "paid": "800.00", "paid_date": "2026-03-01", "kind": "back_payment"}], birth="2024-01-01")
    check(repaired, [("2026-06-30", False, "person"), ("2026-07-01", True, None)])


# ---------------------------------------------------------------------- 随州


def test_suizhou_life_flexible_waiting_arrears_and_reenrolment():
    """随州 第十一条: a first flexible enrolment waits 3 months (account usable); up to 3
    months' arrears back-paid are restored retroactively; 3–6 months: from the month after
    payment; more than 6: treated as a first enrolment again (3-month wait)."""
    h = history(
        "suizhou",
        [{"scheme": "employee", "category": "flexible", "mode": "flexible", "start": "2024-03-05"}],
        months("2024-03", "2026-08",
               skip=tuple(f"2025-{m:02d}" for m in range(7, 13)) + ("2026-01", "2026-02"),
               late={"2024-08": "2024-10-15", "2024-09": "2024-10-15", "2025-01": "2025-05-20", "2025-02": "2025-05-20",
                     "2025-03": "2025-05-20", "2025-04": "2025-05-20"})
        + [{"month": m, "base": "4000.00", "due": "360.00", "paid": "360.00", "paid_date": "2026-03-10"}
           for m in [f"2025-{k:02d}" for k in range(7, 13)] + ["2026-01", "2026-02"]],
    )
    check(h, [
        ("2024-03-05", False, "person"), ("2024-05-31", False, "person"),
        ("2024-06-01", True, None),        # the 4th month
        ("2024-09-15", True, None),        # Aug–Sep back-paid 10-15: within 3 months, retroactive
        ("2024-12-31", True, None),
        ("2025-02-10", False, "person"),   # January unpaid → suspended from February
        ("2025-05-25", False, "person"),   # 4 months back-paid 05-20: no retroactive benefits …
        ("2025-06-01", True, None),        # … from the next month
        ("2025-07-31", True, None),
        ("2025-08-01", False, "person"),   # July onwards unpaid
        ("2026-03-15", False, "person"),   # 8 months back-paid 03-10: a first enrolment again
        ("2026-05-31", False, "person"),
        ("2026-06-01", True, None),        # 4th month counting March
        ("2026-08-20", True, None),
    ])
    waiting = coverage_on(h, dt.date(2024, 4, 1))
    assert waiting.account_usable, "第十一条（三）: the account is usable while waiting"


def test_suizhou_unit_suspends_only_after_three_unpaid_months():
    """随州 第十条: 3 months unpaid is 断保; back-paid within 6 months: restored retroactively."""
    enrol = [{"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2024-01-02"}]
    h = history("suizhou", enrol, months("2024-01", "2024-12", late={m: "2024-08-20" for m in ("2024-03", "2024-04", "2024-05", "2024-06")}))
    check(h, [("2024-02-01", True, None), ("2024-05-15", True, None), ("2024-06-10", True, None), ("2024-08-25", True, None)])
    late = history("suizhou", enrol, months("2024-01", "2025-02", late={m: "2024-11-20" for m in ("2024-03", "2024-04", "2024-05", "2024-06")}))
    check(late, [("2024-05-31", True, None), ("2024-06-01", False, "person"), ("2024-11-25", False, "person"), ("2024-12-01", True, None)])


def test_suizhou_resident_newborn_and_switch_from_employee():
    """随州 第三十八条: a newborn registered within 12 months is covered from birth in the birth
    year; 第四十条: leaving the employee scheme and paying within 3 months, benefits at once."""
    baby = history("suizhou", [{"scheme": "resident", "category": "child", "mode": "resident", "start": "2024-11-20", "reason": "newborn"}], birth="2024-01-15")
    check(baby, [("2024-01-15", True, None), ("2024-12-31", True, None)])
    switch = history(
        "suizhou",
        [{"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2024-01-02", "end": "2024-06-30"},
         {"scheme": "resident", "category": "adult", "mode": "resident", "start": "2024-08-10"}],
        months("2024-01", "2024-06") + [{"month": "2024-01", "scheme": "resident", "paid": "380.00", "paid_date": "2024-08-10", "kind": "premium"}],
    )
    check(switch, [("2024-07-15", False, None), ("2024-08-10", True, None), ("2024-12-01", True, None)])


def test_suizhou_mid_year_resident_premium_rule_is_missing():
    """随州 第三十六条 sets no start for a premium paid after the collection period: refused by name."""
    h = history("suizhou", [{"scheme": "resident", "category": "adult", "mode": "resident", "start": "2025-01-01"}],
                [{"month": "2025-01", "scheme": "resident", "paid": "380.00", "paid_date": "2025-05-01", "kind": "premium"}])
    with pytest.raises(MissingPolicyValue, match="coverage.resident_year.mid_year"):
        coverage_on(h, dt.date(2025, 6, 1))


# ---------------------------------------------------------------------- 苏州


def test_suzhou_life_next_day_arrears_imprisonment_and_dual_enrolment():
    """苏州 第十九条 next day after payment; 第二十一条 + 第五十二条: unpaid → suspended from the
    next month, back-paid within 3 months restored, otherwise the employer bears the costs
    (the account stays usable); 第五十四条: imprisoned from the month after judgment;
    第五十三条: enrolled in both schemes, the employee scheme applies."""
    h = history(
        "suzhou",
        [{"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2025-03-10"},
         {"scheme": "resident", "category": "adult", "mode": "resident", "start": "2025-01-01"}],
        months("2025-03", "2026-12", late={"2025-06": "2025-09-01", "2025-07": "2025-09-01"})
        + [{"month": "2025-01", "scheme": "resident", "paid": "600.00", "paid_date": "2024-12-01", "kind": "premium"}],
        [{"date": "2026-02-10", "type": "imprisonment"}, {"date": "2026-08-01", "type": "release"}],
    )
    check(h, [
        ("2025-02-01", True, None),        # resident only: covered by the premium
        ("2025-03-10", False, "person"),   # employee enrolment wins (第五十三条); benefits from the next day
        ("2025-03-11", True, None),
        ("2025-06-30", True, None),
        ("2025-07-01", False, "employer"), # June unpaid; back-paid 09-01, after the 3 months
        ("2025-09-15", False, "employer"),
        ("2025-10-01", True, None),
        ("2026-02-20", True, None),        # judgment 02-10: suspended from March
        ("2026-03-01", False, "person"),
        ("2026-07-31", False, "person"),
        ("2026-08-01", True, None),        # released
    ])
    assert coverage_on(h, dt.date(2025, 8, 1)).account_usable, "第二十一条: the account may be used while suspended"


# ---------------------------------------------------------------------- 舟山


def test_zhoushan_life_unit_and_flexible():
    """舟山 第十三条 2nd natural month; 第十四条: unit arrears restored when paid within 60 days
    of the order; a flexible worker's arrears within 3 months are restored."""
    h = history(
        "zhoushan",
        [{"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2026-01-20", "end": "2026-06-30"},
         {"scheme": "employee", "category": "flexible", "mode": "flexible", "start": "2026-07-01"}],
        months("2026-01", "2026-12", late={"2026-03": "2026-05-10", "2026-09": "2026-11-30", "2026-10": "2026-11-30"}),
        [{"date": "2026-04-01", "type": "arrears_order"}],
    )
    check(h, [
        ("2026-01-25", False, "person"), ("2026-02-01", True, None), ("2026-04-15", True, None),
        ("2026-07-01", True, None),        # continuous with the unit enrolment
        ("2026-10-15", True, None),        # Sep–Oct back-paid 11-30, within 3 months of September
        ("2026-12-20", True, None),
    ])


def test_zhoushan_resident_collection_period_is_blank():
    """舟山 第二十八条 leaves the collection months blank: refused by name and clause."""
    h = history("zhoushan", [{"scheme": "resident", "category": "adult", "mode": "resident", "start": "2026-01-01"}],
                [{"month": "2026-01", "scheme": "resident", "paid": "380.00", "paid_date": "2025-12-01", "kind": "premium"}])
    with pytest.raises(MissingPolicyValue, match="第二十八条"):
        coverage_on(h, dt.date(2026, 3, 1))


# ---------------------------------------------------------------------- the command and the engine


def test_coverage_command_prints_json_and_refuses_bad_input(tmp_path):
    h = {"city": "jiaxing", "person": {"id": "P", "birth_date": "1980-01-01", "sex": "M"}, "employers": [{"id": "E1"}],
         "enrolments": [{"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2025-01-10"}],
         "contributions": months("2025-01", "2025-03")}
    path = write_case(tmp_path, h, "h.json")
    run = run_cli("coverage", path, "--date", "2025-01-20", "--date", "2025-03-01")
    assert run.code == 0, run.err
    answers = run.json["coverage"]
    assert [a["covered"] for a in answers] == [False, True]
    assert answers[0]["resumes"] == "2025-02-01" and "(十二)" in answers[0]["clause"]
    bad = write_case(tmp_path, {**h, "enrolments": [{**h["enrolments"][0], "mode": "boss"}]}, "bad.json")
    run = run_cli("coverage", bad, "--date", "2025-01-20")
    assert run.code == 2 and run.out == "" and "mode" in run.err and len(run.err.strip().splitlines()) == 1
    run = run_cli("coverage", path, "--date", "2025-13-01")
    assert run.code == 2 and run.out == ""


def test_settle_with_history_refuses_or_settles_uncovered_visits_as_selfpay(tmp_path):
    """Issue: a visit on an uncovered date is refused with the reason, or settled as 自费
    where the text says the cost is the person's or the employer's — and says so."""
    h = {"city": "jiaxing", "person": {"id": "P", "birth_date": "1980-01-01", "sex": "M"}, "employers": [{"id": "E1"}],
         "enrolments": [{"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2025-01-10", "end": "2025-06-30"}],
         "contributions": months("2025-01", "2025-06")}
    c = {"city": "jiaxing", "person": {"id": "P", "scheme": "employee", "category": "active"},
         "visits": [{"id": "V1", "date": "2025-01-20", "kind": "inpatient", "level": "tertiary", "amounts": {"inscp_scp_amt": "5000.00"}},
                    {"id": "V2", "date": "2025-03-20", "kind": "inpatient", "level": "tertiary", "amounts": {"inscp_scp_amt": "5000.00"}}]}
    hp, cp = write_case(tmp_path, h, "h.json"), write_case(tmp_path, c, "c.json")
    run = run_cli("settle", cp, "--history", hp)
    assert run.code == 0, run.err
    v1, v2 = run.json["settlements"]
    assert v1["hifp_pay"] == "0.00" and v1["psn_cash_pay"] == "5000.00"
    assert any(t["step"] == "not_covered" and "person bears" in t["rule"] for t in v1["trace"])
    assert v2["hifp_pay"] == "3360.00"  # (5000 − 800) × 80 %
    after = write_case(tmp_path, {**c, "visits": [{**c["visits"][0], "date": "2025-08-01"}]}, "c2.json")
    run = run_cli("settle", after, "--history", hp)
    assert run.code == 2 and run.out == "" and "not covered on 2025-08-01" in run.err


# ---------------------------------------------------------------------- long lives, one per city


def test_hangzhou_long_life_arrears_gap_flexible_retirement():
    """杭州细则 一、职工医保: registration → next month; unit arrears back-paid within 60 days
    of the order restored; a 3-month gap (not "more than three") → a new flexible enrolment
    starts the next month; flexible arrears suspend the next month; retirement right after
    keeps benefits running."""
    h = history(
        "hangzhou",
        [
            {"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2026-01-05", "end": "2027-06-30"},
            {"scheme": "employee", "category": "flexible", "mode": "flexible", "start": "2027-10-08", "end": "2029-12-31"},
            {"scheme": "employee", "category": "retired", "mode": "retired", "start": "2030-01-01"},
        ],
        months("2026-01", "2027-06", late={"2026-03": "2026-05-25"})
        + months("2027-10", "2029-12", skip=("2028-05", "2028-06"))
        + [{"month": m, "base": "5000.00", "due": "475.00", "paid": "475.00", "paid_date": "2028-07-20"} for m in ("2028-05", "2028-06")],
        [{"date": "2026-04-20", "type": "arrears_order"}, {"date": "2029-12-20", "type": "retirement", "approved": "2029-12-01"}],
        birth="1969-12-01",
    )
    check(h, [
        ("2026-01-05", False, "person"), ("2026-01-31", False, "person"), ("2026-02-01", True, None),
        ("2026-03-31", True, None), ("2026-04-01", True, None), ("2026-05-01", True, None), ("2026-05-31", True, None),
        ("2026-12-31", True, None), ("2027-01-01", True, None), ("2027-06-30", True, None),
        ("2027-07-01", False, None), ("2027-08-15", False, None), ("2027-10-08", False, "person"), ("2027-10-31", False, "person"),
        ("2027-11-01", True, None), ("2028-01-01", True, None), ("2028-05-31", True, None),
        ("2028-06-01", False, "person"),   # May unpaid → suspended the next month
        ("2028-07-25", False, "person"),   # back-paid 07-20 (2 months: not an interruption) …
        ("2028-08-01", True, None),        # … restored from the next month
        ("2029-06-30", True, None), ("2029-12-31", True, None),
        ("2030-01-01", True, None), ("2030-06-01", True, None), ("2031-01-01", True, None),
    ])


def test_suizhou_long_life_unit_arrears_gap_retirement_and_death():
    """随州 第十条: next month; 断保 after 3 unpaid months, back-paid after more than 6 months:
    benefits from the month after payment, no retroactive benefits; a gap, then a new
    employer: from the month after payment again; retirement continues (第十五条); death
    ends insurance."""
    late = {f"2025-{m:02d}": "2025-11-20" for m in range(2, 6)}  # Feb–May back-paid in November
    h = history(
        "suizhou",
        [
            {"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2024-01-02", "end": "2026-02-28"},
            {"scheme": "employee", "category": "active", "mode": "unit", "employer": "E2", "start": "2026-05-11", "end": "2026-11-30"},
            {"scheme": "employee", "category": "retired", "mode": "retired", "start": "2026-12-01"},
        ],
        months("2024-01", "2026-02", late=late) + months("2026-05", "2026-11"),
        [{"date": "2026-11-20", "type": "retirement", "approved": "2026-11-15"}, {"date": "2028-05-01", "type": "death"}],
        birth="1966-11-10", sex="M",
    )
    check(h, [
        ("2024-01-02", False, "person"), ("2024-01-31", False, "person"), ("2024-02-01", True, None),
        ("2024-06-30", True, None), ("2024-12-31", True, None), ("2025-01-31", True, None),
        ("2025-03-01", True, None),        # Feb–Mar unpaid: not yet 断保
        ("2025-04-30", True, None),
        ("2025-05-01", False, "person"),   # Feb, Mar, Apr unpaid: 断保 from the 4th month
        ("2025-08-15", False, "person"), ("2025-11-25", False, "person"),
        ("2025-12-01", True, None),        # the month after the late back-payment
        ("2026-02-28", True, None),
        ("2026-03-01", False, None), ("2026-04-30", False, None),   # the gap: not enrolled
        ("2026-05-11", False, "person"), ("2026-06-01", True, None), # a new employer: next month
        ("2026-11-30", True, None),
        ("2026-12-01", True, None),        # retired, continuous
        ("2027-12-31", True, None), ("2028-04-30", True, None),
        ("2028-05-01", False, None), ("2028-06-01", False, None),
    ])


def test_suzhou_long_life_flexible_gap_resident_and_retirement():
    """苏州 第二十条: a flexible worker from the 1st of the next month; 第二十一条: unpaid →
    suspended next month, the person bears the costs; a gap; 第二十九条 a resident premium in
    the fourth quarter covers the next year, a mid-year one from the next month's 1st;
    retirement continues."""
    h = history(
        "suzhou",
        [
            {"scheme": "employee", "category": "flexible", "mode": "flexible", "start": "2025-02-14", "end": "2026-03-31"},
            {"scheme": "resident", "category": "adult", "mode": "resident", "start": "2026-06-01", "end": "2027-12-31"},
            {"scheme": "employee", "category": "flexible", "mode": "flexible", "start": "2028-01-10", "end": "2028-12-31"},
            {"scheme": "employee", "category": "retired", "mode": "retired", "start": "2029-01-01"},
        ],
        months("2025-02", "2026-03", skip=("2025-08",))
        + [{"month": "2025-08", "base": "4000.00", "due": "360.00", "paid": "360.00", "paid_date": "2025-10-05"}]
        + [{"month": "2026-01", "scheme": "resident", "paid": "500.00", "paid_date": "2026-06-10", "kind": "premium"},
           {"month": "2027-01", "scheme": "resident", "paid": "500.00", "paid_date": "2026-11-20", "kind": "premium"}]
        + months("2028-01", "2028-12"),
        [{"date": "2028-12-20", "type": "retirement", "approved": "2028-12-01"}],
    )
    check(h, [
        ("2025-02-14", False, "person"), ("2025-02-28", False, "person"), ("2025-03-01", True, None),
        ("2025-07-31", True, None),
        ("2025-08-31", True, None),        # August not late during August
        ("2025-09-01", False, "person"),   # suspended from September
        ("2025-10-10", False, "person"),   # back-paid 10-05 (flexible: no grace) …
        ("2025-11-01", True, None),        # … from the next month's 1st
        ("2026-03-31", True, None),
        ("2026-04-15", False, None), ("2026-05-31", False, None),   # gap: not enrolled
        ("2026-06-05", False, "person"),   # resident, premium not paid yet … paid 06-10
        ("2026-06-30", False, "person"),
        ("2026-07-01", True, None),        # mid-year payment: next month's 1st
        ("2026-12-31", True, None), ("2027-01-01", True, None), ("2027-12-31", True, None),
        ("2028-01-15", False, "person"), ("2028-02-01", True, None),
        ("2028-12-31", True, None), ("2029-01-01", True, None), ("2030-07-01", True, None),
    ])


def test_zhoushan_long_life_arrears_gap_reenrolment_retirement():
    """舟山 第十三条 2nd natural month; 第十四条: unit arrears past 60 days of the order → the
    employer bears them, back from the 2nd natural month after payment; 第十五条 a gap;
    a new flexible enrolment waits again; retirement continues."""
    h = history(
        "zhoushan",
        [
            {"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2026-01-20", "end": "2027-03-31"},
            {"scheme": "employee", "category": "flexible", "mode": "flexible", "start": "2027-07-05", "end": "2028-09-30"},
            {"scheme": "employee", "category": "retired", "mode": "retired", "start": "2028-10-01"},
        ],
        months("2026-01", "2027-03", late={"2026-06": "2026-10-10", "2026-07": "2026-10-10"})
        + months("2027-07", "2028-09", late={"2028-02": "2028-06-30"}),
        [{"date": "2026-07-20", "type": "arrears_order"}, {"date": "2028-09-25", "type": "retirement", "approved": "2028-09-01"}],
    )
    check(h, [
        ("2026-01-20", False, "person"), ("2026-02-01", True, None), ("2026-06-30", True, None),
        ("2026-07-01", False, "employer"), # June unpaid; back-paid 10-10, past 60 days of 07-20
        ("2026-09-15", False, "employer"), ("2026-10-20", False, "employer"),
        ("2026-11-01", True, None),        # 2nd natural month counting October
        ("2027-03-31", True, None),
        ("2027-04-01", False, None), ("2027-06-30", False, None),   # the gap
        ("2027-07-05", False, "person"), ("2027-08-01", True, None),
        ("2028-02-29", True, None),
        ("2028-03-01", False, "person"),   # Feb unpaid (flexible); back-paid 06-30, after the 3 months (to 04-30)
        ("2028-06-30", False, "person"), ("2028-07-01", True, None),
        ("2028-09-30", True, None), ("2028-10-01", True, None), ("2029-10-01", True, None),
    ])


def test_university_freshmen_suzhou_from_september_jiaxing_from_the_next_month():
    """苏州 第二十九条: freshmen paying next year's premium are covered from 1 September of the
    entry year; 嘉兴 (二十三)3: new university students from the month after payment."""
    su = history("suzhou", [{"scheme": "resident", "category": "student", "mode": "resident", "start": "2025-08-25", "reason": "new_student"}],
                 [{"month": "2026-01", "scheme": "resident", "paid": "200.00", "paid_date": "2025-08-25", "kind": "premium"}], birth="2007-03-01")
    check(su, [("2025-08-31", False, "person"), ("2025-09-01", True, None), ("2025-12-31", True, None), ("2026-06-01", True, None)])
    jx = history("jiaxing", [{"scheme": "resident", "category": "student", "mode": "resident", "start": "2025-09-03", "reason": "new_student"}],
                 [{"month": "2025-01", "scheme": "resident", "paid": "200.00", "paid_date": "2025-09-03", "kind": "premium"}], birth="2007-03-01")
    check(jx, [("2025-09-20", False, "person"), ("2025-10-01", True, None)])


def test_suizhou_other_protection_ending_within_three_months_41():
    """随州 第四十一条: enrolled within 3 months after another protection ends (复转军人、
    刑满释放 …): benefits at once; later: a 3-month waiting period."""
    def life(paid):
        return history("suizhou", [{"scheme": "resident", "category": "adult", "mode": "resident", "start": paid}],
                       [{"month": "2025-01", "scheme": "resident", "paid": "380.00", "paid_date": paid, "kind": "premium"}],
                       [{"date": "2025-03-10", "type": "protection_end"}])
    check(life("2025-05-20"), [("2025-05-20", True, None), ("2025-12-01", True, None)])
    check(life("2025-07-20"), [("2025-07-20", False, "person"), ("2025-09-30", False, "person"), ("2025-10-01", True, None)])


def test_hangzhou_long_gap_repairs_only_down_to_six_months():
    """杭州细则 二: 5 uninsured years → 3 + 5 = 8 months; back-paying 4 of them would leave 4,
    but after 4 or more years of gap the repair stops at 6 months."""
    enrol = [{"scheme": "resident", "category": "adult", "mode": "resident", "start": "2026-03-01"}]
    premium = {"month": "2026-01", "scheme": "resident", "paid": "800.00", "paid_date": "2026-03-01", "kind": "premium"}
    unrepaired = history("hangzhou", enrol, [premium], birth="2021-01-01")
    check(unrepaired, [("2026-10-31", False, "person"), ("2026-11-01", True, None)])
    back = [{"month": f"{y}-01", "scheme": "resident", "paid": "800.00", "paid_date": "2026-03-01", "kind": "back_payment"} for y in range(2022, 2026)]
    repaired = history("hangzhou", enrol, [premium, *back], birth="2021-01-01")
    check(repaired, [("2026-08-31", False, "person"), ("2026-09-01", True, None)])
