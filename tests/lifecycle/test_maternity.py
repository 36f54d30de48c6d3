"""生育津贴 — the maternity allowance, per city and clause, figures by hand.

allowance = monthly base × days ÷ days per month, rounded once to the fen. Each test names
the clause it checks; the arithmetic is in its docstring.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import run_cli
from yibao.errors import CaseError, MissingPolicyValue
from yibao.lifecycle.maternity import assess, parse_claim_text
from yibao.policy.loader import load_city

# ---------------------------------------------------------------------- builders


def months(first: str, last: str, base: str = "8000.00", skip: tuple[str, ...] = (), payer: str = "employer") -> list[dict]:
    """Monthly employee contributions from ``first`` to ``last`` (YYYY-MM), paid mid-month."""
    out = []
    y, m = map(int, first.split("-"))
    while f"{y:04d}-{m:02d}" <= last:
        month = f"{y:04d}-{m:02d}"
        if month not in skip:
            out.append({"month": month, "base": base, "due": "800.00", "paid": "800.00", "paid_date": f"{month}-15", "payer": payer})
        m += 1
        if m == 13:
            y, m = y + 1, 1
    return out


def history(city: str, mode: str, start: str, contributions: list[dict], *, sex: str = "F", end: str | None = None) -> dict:
    category = {"unit": "active", "flexible": "flexible", "unemployed": "unemployed", "retired": "retired"}[mode]
    enrolment: dict[str, Any] = {"scheme": "employee", "category": category, "mode": mode, "start": start}
    if mode == "unit":
        enrolment["employer"] = "E1"
    if end:
        enrolment["end"] = end
    return {
        "city": city,
        "person": {"id": "P1", "birth_date": "1995-03-01" if sex == "F" else "1990-03-01", "sex": sex},
        "employers": [{"id": "E1"}],
        "enrolments": [enrolment],
        "contributions": contributions,
    }


def year_records(year: int, employees: int = 10, base_total: str = "80000.00", first: int = 1, last: int = 12) -> list[dict]:
    """The employer's monthly records for a year: the same headcount and bases each month."""
    return [{"month": f"{year}-{m:02d}", "employees": employees, "base_total": base_total} for m in range(first, last + 1)]


def claim(hist: dict, event: dict, **extra: Any) -> dict:
    return {"id": "C1", "history": hist, "event": event, **extra}


def answer(c: dict, overlays: tuple[str, ...] = ()) -> dict:
    """Assess in-process (fast) and return the JSON answer."""
    mc = parse_claim_text(json.dumps(c, ensure_ascii=False), Path("."))
    return assess(mc, load_city(mc.history.city, overlays)).as_json()


def refused(tmp_path: Path, c: dict | str, *args: str) -> str:
    """Through the real command: exit 2, one line on stderr, nothing on stdout."""
    path = tmp_path / "claim.json"
    path.write_text(c if isinstance(c, str) else json.dumps(c, ensure_ascii=False), encoding="utf-8")
    run = run_cli("maternity", str(path), *args)
    assert run.code == 2, run.out
    assert run.out == ""
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    return lines[0]


def overlay(tmp_path: Path, city: str, parameters: dict, name: str = "overlay.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"city": city, "parameters": parameters}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(path)


def value(v: Any) -> dict:
    """An overlay body changing the shipped version whose key is `effective`."""
    return {"values": {"effective": {"value": v}}}


def days_of(a: dict) -> list[int]:
    return [p["days"] for p in a["days"]["parts"]]


# ====================================================================== 嘉兴 (2025-01-01)

JX_EMPLOYER = {"records": year_records(2024, 10, "75000.00")}  # 750,000 ÷ 10 × 12 … = 7,500 a month


def jx_unit(**extra: Any) -> dict:
    h = history("jiaxing", "unit", "2024-01-05", months("2024-01", "2025-06"))
    event = {"type": "birth", "date": "2025-06-10", "leave_days": 158}
    event.update(extra.pop("event", {}))
    return claim(h, event, employer=JX_EMPLOYER, **extra)


def test_jiaxing_unit_employee_stated_leave_on_the_employers_last_year_average():
    """嘉兴 (四十二)1: 7,500 (Σ 900,000 ÷ 120 employee-months of 2024) ÷ 30 × 158 days actually
    taken = 39,500.00, paid to the employer."""
    a = answer(jx_unit())
    assert a["eligible"] and a["payable_now"]
    assert days_of(a) == [158] and "(四十二)" in a["days"]["parts"][0]["clause"]
    assert a["base"]["monthly"] == "7500.00" and a["base"]["days_per_month"] == 30 and a["base"]["daily"] == "250.00"
    assert "(四十二)1" in a["base"]["clause"]
    assert a["allowance"] == "39500.00"
    assert a["formula"] == "7500.00 × 158 ÷ 30 = 39500.00"
    assert a["payee"] == {"to": "employer", "id": "E1", "clause": a["payee"]["clause"]}
    assert a["paid_by"] == "fund"
    assert [c["check"] for c in a["checks"]] == ["coverage", "entitlement", "continuity"]


def test_jiaxing_pays_the_leave_actually_taken_so_the_claim_must_state_it(tmp_path):
    """嘉兴 (四十二): 按实际享受的产假或计划生育休假天数 — no days without event.leave_days."""
    c = jx_unit()
    del c["event"]["leave_days"]
    line = refused(tmp_path, c)
    assert "event.leave_days" in line and "(四十二)" in line


def test_jiaxing_family_planning_leave_is_stated_too():
    """嘉兴 (四十二): 计划生育休假 21 days × 250 = 5,250.00."""
    c = jx_unit(event={"type": "procedure", "procedure": "ligation", "leave_days": 21})
    a = answer(c)
    assert a["allowance"] == "5250.00"


def test_jiaxing_flexible_worker_on_her_own_last_year_base():
    """嘉兴 (四十二)2: her 2024 bases, 6 × 4,000 + 6 × 4,500 = 51,000 ÷ 12 = 4,250;
    4,250 × 128 ÷ 30 = 18,133.33 (one rounding), paid to her."""
    contributions = months("2024-01", "2024-06", base="4000.00", payer="person") + months("2024-07", "2025-05", base="4500.00", payer="person")
    h = history("jiaxing", "flexible", "2024-01-02", contributions)
    a = answer(claim(h, {"type": "birth", "date": "2025-05-20", "leave_days": 128}))
    assert a["base"]["monthly"] == "4250.00"
    assert a["allowance"] == "18133.33"
    assert a["payee"]["to"] == "person" and a["payee"]["id"] == "P1"
    assert "(四十二)2" in a["payee"]["clause"]


def test_jiaxing_deferred_until_six_continuous_months():
    """嘉兴 (四十一): registered 2025-03 (benefits from 2025-04, (十二)), 4 months paid at the birth
    in 2025-06: the allowance waits for the 6th month, 2025-08, then is paid retroactively."""
    h = history("jiaxing", "unit", "2025-03-03", months("2025-03", "2025-06"))
    a = answer(claim(h, {"type": "birth", "date": "2025-06-20", "leave_days": 158}, claim_date="2025-07-01", employer={"average_base": "7500.00"}))
    assert a["eligible"] is True and a["payable_now"] is False
    assert a["deferred_until"] == "2025-08"
    assert a["allowance"] == "39500.00"
    continuity = a["checks"][-1]
    assert continuity["check"] == "continuity" and not continuity["met"]
    assert "4 continuous months 2025-03…2025-06" in continuity["detail"] and "(四十一)" in continuity["clause"]


def test_jiaxing_paid_retroactively_once_the_months_are_reached():
    """嘉兴 (四十一) 回溯支付: the history shows 2025-03…2025-09 paid; claimed in October."""
    h = history("jiaxing", "unit", "2025-03-03", months("2025-03", "2025-09"))
    a = answer(claim(h, {"type": "birth", "date": "2025-06-20", "leave_days": 158}, claim_date="2025-10-10", employer={"average_base": "7500.00"}))
    assert a["payable_now"] is True and a["deferred_until"] is None
    assert a["qualifies_from"] == "2025-08"
    assert "paid retroactively" in a["checks"][-1]["detail"]


def test_jiaxing_a_broken_run_counts_from_the_break():
    """嘉兴 (四十一) 连续: 2025-04 unpaid, so the run at the birth is 2025-05…2025-07 (3 months)."""
    h = history("jiaxing", "unit", "2024-11-04", months("2024-11", "2025-07", skip=("2025-04",)))
    h["contributions"].append({"month": "2025-04", "base": "8000.00", "due": "800.00", "paid": "0"})
    a = answer(claim(h, {"type": "birth", "date": "2025-07-25", "leave_days": 158}, employer={"average_base": "7500.00"}))
    assert a["deferred_until"] == "2025-10"


def test_jiaxing_new_employer_uses_the_current_years_average():
    """嘉兴 (四十二)1 当年新成立: no 2024 records; 2025-01…05, 5 employees, 30,000 a month → 6,000;
    6,000 × 158 ÷ 30 = 31,600.00."""
    h = history("jiaxing", "unit", "2025-01-06", months("2025-01", "2025-07"))
    a = answer(claim(h, {"type": "birth", "date": "2025-07-15", "leave_days": 158}, employer={"id": "E1", "records": year_records(2025, 5, "30000.00", 1, 5)}))
    assert a["base"]["monthly"] == "6000.00" and "当年新成立" in a["base"]["clause"]
    assert a["allowance"] == "31600.00"


@pytest.mark.parametrize(
    "mode, extra, clause",
    [
        ("retired", {}, "(四十)"),
        ("unit", {"past_retirement_age": True}, "(四十)"),
    ],
)
def test_jiaxing_retirees_and_people_past_retirement_age_get_no_allowance(mode, extra, clause):
    """嘉兴 (四十): 超过法定退休年龄或退休（职）职工 … 不享受生育津贴待遇."""
    h = history("jiaxing", mode, "2024-01-05", months("2024-01", "2025-06"))
    a = answer(claim(h, {"type": "procedure", "procedure": "iud_remove", "date": "2025-06-10", "leave_days": 1}, employer=JX_EMPLOYER, **extra))
    assert a["eligible"] is False and a["allowance"] is None and a["payee"] is None
    assert clause in a["clause"] and "不享受生育津贴" in a["clause"]


def test_jiaxing_unemployed_read_as_flexible_workers():
    """readings M4 — 嘉兴 (八)4: paid at the flexible workers' standard (含生育保险费), so the
    allowance is on her own base: 4,000 × 98 ÷ 30 = 13,066.67."""
    h = history("jiaxing", "unemployed", "2024-01-05", months("2024-01", "2025-06", base="4000.00", payer="unemployment_fund"))
    a = answer(claim(h, {"type": "birth", "date": "2025-06-10", "leave_days": 98}))
    assert a["allowance"] == "13066.67" and a["payee"]["to"] == "person"


def test_jiaxing_employer_arrears_the_employer_pays():
    """嘉兴 (十二): benefits suspended for the employer's arrears past the grace are borne by the
    employer — the allowance too (readings M11)."""
    h = history("jiaxing", "unit", "2024-01-05", months("2024-01", "2025-06", skip=("2025-03", "2025-04", "2025-05")))
    a = answer(claim(h, {"type": "birth", "date": "2025-06-10", "leave_days": 158}, employer=JX_EMPLOYER))
    assert a["checks"][0]["check"] == "coverage" and "(十二)" in a["checks"][0]["clause"]
    assert a["paid_by"] == "employer"


# ====================================================================== 杭州 (2026-01-01)

HZ_EMPLOYER = {"records": year_records(2025, 8, "64000.00", 1, 11) + [{"month": "2025-12", "employees": 10, "base_total": "90000.00"}]}


def hz(event: dict, mode: str = "unit", sex: str = "F", **extra: Any) -> dict:
    h = history("hangzhou", mode, "2025-01-10", months("2025-01", "2026-03"), sex=sex)
    employer = extra.pop("employer", HZ_EMPLOYER if mode == "unit" else None)
    c = claim(h, {"date": "2026-03-10", **event}, claim_date="2026-04-20", **extra)
    if employer:
        c["employer"] = employer
    return c


def test_hangzhou_first_child():
    """杭州细则 五: 98 + 60 (一孩) = 158 days; December 2025's 90,000 ÷ 10 = 9,000 a month;
    9,000 ÷ 30 × 158 = 47,400.00, paid to the employer; claim by 2027-12-31."""
    a = answer(hz({"type": "birth", "child_order": 1}))
    assert days_of(a) == [98, 60]
    assert all("细则 五" in p["clause"] for p in a["days"]["parts"])
    assert a["base"]["monthly"] == "9000.00" and "12月份" in a["base"]["clause"]
    assert a["allowance"] == "47400.00"
    assert a["payee"]["to"] == "employer" and a["claim_by"] == "2027-12-31"


def test_hangzhou_second_child_difficult_twins():
    """杭州细则 五: 98 + 90 (二孩) + 15 (难产) + 15 (one more baby) = 218; 9,000 × 218 ÷ 30 = 65,400.00."""
    a = answer(hz({"type": "birth", "child_order": 2, "difficult": True, "babies": 2}))
    assert days_of(a) == [98, 90, 15, 15] and a["days"]["total"] == 218
    assert a["allowance"] == "65400.00"


def test_hangzhou_triplets_third_child():
    """98 + 90 (三孩) + 2 × 15 = 218 days."""
    a = answer(hz({"type": "birth", "child_order": 3, "babies": 3}))
    assert a["days"]["total"] == 218


@pytest.mark.parametrize("event, total", [({"child_order": 1, "lawful": False}, 98), ({"child_order": 4}, 98)])
def test_hangzhou_extended_leave_only_for_births_under_the_law(event, total):
    """杭州细则 五: the 60/90 extra days are for 符合法律、法规规定生育子女 — one, two or three children."""
    a = answer(hz({"type": "birth", **event}))
    assert a["days"]["total"] == total and a["allowance"] == "29400.00"
    assert a["notes"]


def test_hangzhou_birth_needs_the_childs_order(tmp_path):
    line = refused(tmp_path, hz({"type": "birth"}))
    assert "event.child_order" in line and "细则 五" in line


@pytest.mark.parametrize("pregnancy_months, days, amount", [(0, 15, "4500.00"), (3, 15, "4500.00"), (4, 42, "12600.00"), (6, 42, "12600.00"), (7, 98, "29400.00"), (9, 98, "29400.00")])
def test_hangzhou_termination_of_pregnancy_by_months(pregnancy_months, days, amount):
    """杭州细则 五: 未满4个月 15 天; 满4个月未满7个月 42 天; 满7个月 98 天 (× 300 a day)."""
    a = answer(hz({"type": "miscarriage", "pregnancy_months": pregnancy_months}))
    assert days_of(a) == [days] and a["allowance"] == amount


@pytest.mark.parametrize(
    "procedure, sex, days",
    [("iud_insert", "F", 2), ("iud_remove", "F", 1), ("vasectomy", "M", 7), ("ligation", "F", 21), ("postpartum_ligation", "F", 14)],
)
def test_hangzhou_family_planning_procedure_days(procedure, sex, days):
    """杭州细则 五 计划生育手术津贴: 2 / 1 / 7 / 21 / 14 days × 300."""
    a = answer(hz({"type": "procedure", "procedure": procedure}, sex=sex))
    assert days_of(a) == [days]
    assert a["allowance"] == f"{300 * days}.00"


def test_hangzhou_flexible_worker_weighted_average_of_last_years_bases():
    """杭州细则 五: 本人上年度缴费基数加权平均 — 3 months at 4,000 and 9 at 5,000: 57,000 ÷ 12 =
    4,750; 4,750 × 158 ÷ 30 = 25,016.67, paid to her."""
    contributions = months("2025-01", "2025-03", base="4000.00", payer="person") + months("2025-04", "2026-03", base="5000.00", payer="person")
    h = history("hangzhou", "flexible", "2025-01-10", contributions)
    a = answer(claim(h, {"type": "birth", "date": "2026-03-10", "child_order": 1}, claim_date="2026-04-01"))
    assert a["base"]["monthly"] == "4750.00"
    assert a["allowance"] == "25016.67"
    assert a["payee"]["to"] == "person"


def test_hangzhou_unit_employee_may_ask_for_her_own_account():
    """杭州细则 五: 在职职工可申请将生育津贴拨付至本人指定的银行账户."""
    a = answer(hz({"type": "birth", "child_order": 1}, pay_to_person=True))
    assert a["payee"]["to"] == "person" and a["payee"]["id"] == "P1"


def test_hangzhou_employer_short_of_a_year_provisional_at_the_minimum_base(tmp_path):
    """杭州细则 五: the employer's records begin 2025-06 (9 months): advanced at the year's minimum
    base, 4,462 × 158 ÷ 30 = 23,499.87, topped up later."""
    records = [{"month": f"2025-{m:02d}", "employees": 4, "base_total": "24000.00"} for m in range(6, 13)] + year_records(2026, 4, "24000.00", 1, 2)
    a = answer(hz({"type": "birth", "child_order": 1}, employer={"records": records}, minimum_base="4462.00"))
    assert a["base"]["provisional"] is True and a["base"]["monthly"] == "4462.00"
    assert a["allowance"] == "23499.87"
    line = refused(tmp_path, hz({"type": "birth", "child_order": 1}, employer={"records": records}))
    assert "minimum_base" in line and "细则 五" in line


def test_hangzhou_employer_with_a_short_last_year_uses_its_first_full_year():
    """杭州细则 五: records from 2025-03 — 10 months in 2025 — so the first full year 2025-03…2026-02
    (12 × 30,000 ÷ 60 employee-months = 6,000): 6,000 × 158 ÷ 30 = 31,600.00."""
    records = [{"month": f"2025-{m:02d}", "employees": 5, "base_total": "30000.00"} for m in range(3, 13)] + year_records(2026, 5, "30000.00", 1, 2)
    a = answer(hz({"type": "birth", "child_order": 1}, employer={"records": records}))
    assert a["base"]["provisional"] is False and a["base"]["monthly"] == "6000.00"
    assert "2025-03…2026-02" in a["base"]["source"]
    assert a["allowance"] == "31600.00"


def test_hangzhou_six_months_are_counted_when_the_allowance_is_claimed():
    """杭州办法 五: 申领津贴时已连续缴纳满6个月 — registered 2025-11, birth 2026-02, claimed
    2026-02-20 with 4 months: deferred until 2026-04; claimed 2026-05 with 7 months: paid."""
    h = history("hangzhou", "unit", "2025-11-05", months("2025-11", "2026-02"))
    early = answer(claim(h, {"type": "birth", "date": "2026-02-10", "child_order": 1}, claim_date="2026-02-20", employer={"average_base": "9000.00"}))
    assert early["eligible"] and early["deferred_until"] == "2026-04"
    assert "杭州办法 五" in early["checks"][-1]["clause"]
    h = history("hangzhou", "unit", "2025-11-05", months("2025-11", "2026-05"))
    later = answer(claim(h, {"type": "birth", "date": "2026-02-10", "child_order": 1}, claim_date="2026-05-20", employer={"average_base": "9000.00"}))
    assert later["payable_now"] and later["checks"][-1]["met"]


def test_hangzhou_not_in_the_benefit_period_at_the_birth():
    """杭州办法 五: 生育时在本市职工医保待遇期内 — registered 2026-03-02, benefits from April (细则 一)."""
    h = history("hangzhou", "unit", "2026-03-02", months("2026-03", "2026-03"))
    a = answer(claim(h, {"type": "birth", "date": "2026-03-20", "child_order": 1}, employer={"average_base": "9000.00"}))
    assert a["eligible"] is False and a["checks"][0]["check"] == "coverage"
    assert "2026-04-01" in a["reason"]


def test_hangzhou_retiree_is_not_among_those_insured_for_maternity():
    """杭州办法 五: 在职职工、灵活就业人员、领取失业保险金人员同步参加生育保险 — not retirees."""
    a = answer(hz({"type": "procedure", "procedure": "iud_remove"}, mode="retired"))
    assert a["eligible"] is False and "杭州办法 五" in a["clause"]


def test_hangzhou_late_claim_is_noted():
    """杭州细则 五: 原则上应在产后次年年底前申领 — noted, not refused."""
    c = hz({"type": "birth", "child_order": 1})
    c["claim_date"] = "2028-01-05"
    c["history"]["contributions"] = months("2025-01", "2028-01")
    a = answer(c)
    assert a["payable_now"] and any("2027-12-31" in n for n in a["notes"])


# ====================================================================== 随州 (2024-01-01 – 2028-12-31)

SZ_EMPLOYER = {"records": year_records(2024, 10, "60000.00")}  # 720,000 ÷ 120 = 6,000


def sz(event: dict, mode: str = "unit", sex: str = "F", start: str = "2024-01-08", **extra: Any) -> dict:
    h = history("suizhou", mode, start, months("2024-01", "2025-03"), sex=sex)
    c = claim(h, {"date": "2025-03-12", **event}, **extra)
    if mode == "unit" and "employer" not in extra:
        c["employer"] = SZ_EMPLOYER
    return c


@pytest.mark.parametrize(
    "event, days, amount",
    [
        ({}, [128], "25600.00"),
        ({"difficult": True}, [128, 15], "28600.00"),
        ({"difficult": True, "babies": 2}, [128, 15, 15], "31600.00"),
        ({"babies": 3}, [128, 30], "31600.00"),
    ],
)
def test_suizhou_birth_days(event, days, amount):
    """随州 第二十八条: 产假 128, 难产假 143 (= 128 + 15), each extra baby + 15; 6,000 ÷ 30 = 200 a day."""
    a = answer(sz({"type": "birth", **event}))
    assert days_of(a) == days and a["allowance"] == amount
    assert "第二十八条" in a["days"]["parts"][0]["clause"]
    assert a["payee"] == {"to": "employer", "id": "E1", "clause": a["payee"]["clause"]} and "拨付给用人单位" in a["payee"]["clause"]


@pytest.mark.parametrize("pregnancy_months, days, amount", [(2, 15, "3000.00"), (3, 15, "3000.00"), (4, 42, "8400.00"), (8, 42, "8400.00")])
def test_suizhou_miscarriage(pregnancy_months, days, amount):
    """随州 第二十八条: 4 个月以内 15 天, 4 个月以上 42 天 (readings M8: 4 months and more → 42)."""
    a = answer(sz({"type": "miscarriage", "pregnancy_months": pregnancy_months}))
    assert days_of(a) == [days] and a["allowance"] == amount


def test_suizhou_ligation_15_days_other_procedures_none():
    """随州 第二十八条: 输卵管结扎 15 天 (3,000.00), a postpartum one too (readings M9); 放置节育环
    has no days: no allowance."""
    assert answer(sz({"type": "procedure", "procedure": "ligation"}))["allowance"] == "3000.00"
    assert answer(sz({"type": "procedure", "procedure": "postpartum_ligation"}))["allowance"] == "3000.00"
    a = answer(sz({"type": "procedure", "procedure": "iud_insert"}))
    assert a["eligible"] is False and "第二十八条" in a["clause"] and "放置宫内节育器" in a["reason"]


def test_suizhou_six_months_before_the_month_of_the_birth():
    """随州 第三十三条: 连续缴费满6个月的次月起 — paid 2025-01…06: a July birth is covered, a June
    birth is not (benefits start 2025-07)."""
    h = history("suizhou", "unit", "2025-01-06", months("2025-01", "2025-07"))
    july = answer(claim(h, {"type": "birth", "date": "2025-07-10"}, employer={"average_base": "6000.00"}))
    assert july["eligible"] and july["allowance"] == "25600.00"
    assert "6 continuous months 2025-01…2025-06" in july["checks"][-1]["detail"]
    june = answer(claim(h, {"type": "birth", "date": "2025-06-10"}, employer={"average_base": "6000.00"}))
    assert june["eligible"] is False and june["allowance"] is None
    assert "第三十三条" in june["clause"] and "2025-07" in june["reason"]


@pytest.mark.parametrize(
    "mode, extra, clause",
    [
        ("flexible", {}, "第三十条"),
        ("unemployed", {}, "第三十一条"),
        ("retired", {}, "第三十一条"),
        ("unit", {"public_funded": True}, "第二十九条"),
    ],
)
def test_suizhou_who_gets_no_allowance(mode, extra, clause):
    """随州 第二十九条 财政供养人员不重复享受; 第三十条 灵活就业人员; 第三十一条 失业、退休人员."""
    a = answer(sz({"type": "birth"}, mode=mode, **extra))
    assert a["eligible"] is False and clause in a["clause"]
    assert a["checks"][-1]["check"] == "entitlement"


def test_suizhou_pays_the_employer_only(tmp_path):
    """随州 第二十八条: 拨付给用人单位 — no payment to the person on request."""
    assert "pay_to_person" in refused(tmp_path, sz({"type": "birth"}, pay_to_person=True))


def test_suizhou_employer_without_last_years_records(tmp_path):
    """随州 第二十八条 has no rule for a new employer: the agency's figure is needed."""
    c = sz({"type": "birth"}, employer={"records": year_records(2025, 3, "15000.00", 1, 2)})
    assert "employer.average_base" in refused(tmp_path, c)
    c["employer"] = {"average_base": "5000.00"}
    assert answer(c)["allowance"] == "21333.33"  # 5,000 × 128 ÷ 30


def test_suizhou_event_outside_the_documents_five_years(tmp_path):
    """随州 第七十九条: in force 2024-01-01 … 2028-12-31."""
    c = sz({"type": "birth"})
    c["event"]["date"] = "2029-01-05"
    assert "outside" in refused(tmp_path, c)


# ====================================================================== 苏州 (effective date blank)

SU_EMPLOYER = {"records": year_records(2025, 10, "100000.00")}  # 10,000 a month


def su(event: dict, mode: str = "unit", **extra: Any) -> dict:
    h = history("suzhou", mode, "2025-01-06", months("2025-01", "2026-04"))
    c = claim(h, {"date": "2026-04-08", **event}, **extra)
    if mode == "unit":
        c["employer"] = SU_EMPLOYER
    return c


def test_suzhou_early_termination_stated_days_no_nutrition_grant():
    """苏州 第二十六条: 产假 by law (stated: 15 days); 10,000 ÷ 30 × 15 = 5,000.00; no 营养补助 before 7 months."""
    a = answer(su({"type": "miscarriage", "pregnancy_months": 3, "leave_days": 15}))
    assert a["allowance"] == "5000.00" and a["nutrition_subsidy"] is None
    assert "第二十六条" in a["base"]["clause"] and a["payee"]["to"] == "employer"


@pytest.mark.parametrize("event", [{"type": "birth", "leave_days": 158}, {"type": "miscarriage", "pregnancy_months": 7, "leave_days": 98}])
def test_suzhou_birth_or_late_termination_needs_the_blank_nutrition_grant(tmp_path, event):
    """苏州 第二十六条 三款: 生育或者妊娠满7个月引产的，发给一次性营养补助 — its amount is delegated:
    refused by name until an overlay supplies it (1,500), then paid to the person."""
    line = refused(tmp_path, su(event))
    assert "suzhou:maternity.nutrition_subsidy.amount" in line and "第二十六条" in line
    o = overlay(tmp_path, "suzhou", {"maternity.nutrition_subsidy": value({"amount": 1500})})
    a = answer(su(event), (o,))
    assert a["nutrition_subsidy"]["amount"] == "1500.00" and a["nutrition_subsidy"]["paid_to"] == "person"
    assert a["allowance"] == ("52666.67" if event["type"] == "birth" else "32666.67")  # 10,000 × 158 (98) ÷ 30


def test_suzhou_flexible_workers_rules_are_delegated(tmp_path):
    """苏州 第二十六条: 灵活就业人员的生育待遇按照国家、省有关规定执行 — blank until an overlay says."""
    line = refused(tmp_path, su({"type": "birth", "leave_days": 158}, mode="flexible"))
    assert "suzhou:maternity.entitlement.flexible" in line and "第二十六条" in line
    o = overlay(tmp_path, "suzhou", {
        "maternity.entitlement": value({"flexible": {"paid_to": "person", "base": "own_average"}}),
        "maternity.nutrition_subsidy": value({"amount": 1500}),
    })
    a = answer(su({"type": "birth", "leave_days": 158}, mode="flexible"), (o,))
    assert a["payee"]["to"] == "person" and a["allowance"] == "42133.33"  # 8,000 × 158 ÷ 30


def test_suzhou_no_allowance_for_family_planning_leave():
    """苏州 第二十六条 pays 产假、生育假 only (readings M9)."""
    a = answer(su({"type": "procedure", "procedure": "ligation", "leave_days": 21}))
    assert a["eligible"] is False and a["checks"][-1]["check"] == "days"


def test_suzhou_has_no_continuity_condition():
    """苏州 第二十六条 sets no months: registered 2026-01, birth 2026-03 (benefits the day after payment, 第十九条)."""
    h = history("suzhou", "unit", "2026-01-05", months("2026-01", "2026-03"))
    a = answer(claim(h, {"type": "miscarriage", "pregnancy_months": 2, "date": "2026-03-09", "leave_days": 15}, employer={"average_base": "9000.00"}))
    assert a["payable_now"] and a["allowance"] == "4500.00"
    assert [c["check"] for c in a["checks"]] == ["coverage", "entitlement"]


# ====================================================================== 舟山 (every figure blank)

ZS_DAYS = {
    "maternity.birth_days": value({"child_order": {"first": 128, "second, third": 158}, "difficult": 15, "per_extra_baby": 15}),
    "maternity.miscarriage_days": value({"early": {"below_months": 4, "days": 15}, "late": {"days": 42}}),
}
ZS_ALL = {**ZS_DAYS, "maternity.days_per_month": value(30), "maternity.qualifying": value({"months": 6})}


def zs(event: dict, mode: str = "unit", start: str = "2025-01-06", contributions: list | None = None, **extra: Any) -> dict:
    h = history("zhoushan", mode, start, contributions if contributions is not None else months("2025-01", "2026-03"))
    c = claim(h, {"date": "2026-03-10", **event}, **extra)
    if mode == "unit":
        c["employer"] = {"records": year_records(2025, 10, "80000.00")}  # 8,000 a month
    return c


def test_zhoushan_refused_naming_each_blank_until_the_overlay_supplies_it(tmp_path):
    """舟山 第四十九条 (days), 第五十条 (days per month), 第四十八条 (months): each refusal names the
    blank and its clause; with all of them: 8,000 × 128 ÷ 30 = 34,133.33, paid to the employer."""
    c = zs({"type": "birth", "child_order": 1})
    line = refused(tmp_path, c)
    assert "zhoushan:maternity.birth_days.child_order.first" in line and "第四十九条" in line
    days = overlay(tmp_path, "zhoushan", ZS_DAYS, "days.yaml")
    line = refused(tmp_path, c, "--overlay", days)
    assert "zhoushan:maternity.days_per_month" in line and "第五十条" in line
    more = overlay(tmp_path, "zhoushan", {**ZS_DAYS, "maternity.days_per_month": value(30)}, "more.yaml")
    line = refused(tmp_path, c, "--overlay", more)
    assert "zhoushan:maternity.qualifying.months" in line and "第四十八条" in line
    full = overlay(tmp_path, "zhoushan", ZS_ALL, "full.yaml")
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(c), encoding="utf-8")
    run = run_cli("maternity", str(path), "--overlay", full)
    assert run.code == 0, run.err
    a = run.json
    assert days_of(a) == [128] and a["allowance"] == "34133.33"
    assert a["payee"]["to"] == "employer" and "第四十八条" in a["payee"]["clause"]


@pytest.mark.parametrize(
    "event, blank",
    [
        ({"type": "birth", "child_order": 2}, "birth_days.child_order.second, third"),
        ({"type": "miscarriage", "pregnancy_months": 2}, "miscarriage_days.early.below_months"),
    ],
)
def test_zhoushan_other_blank_days(tmp_path, event, blank):
    """舟山 第四十九条: 二孩和三孩为 天; 怀孕不满 个月流产的 … 天."""
    line = refused(tmp_path, zs(event))
    assert f"zhoushan:maternity.{blank}" in line and "第四十九条" in line


def test_zhoushan_with_the_figures(tmp_path):
    """With the overlay: 二孩 difficult twins 158 + 15 + 15 = 188 → 8,000 × 188 ÷ 30 = 50,133.33;
    miscarriage at 5 months 42 days → 11,200.00."""
    o = overlay(tmp_path, "zhoushan", ZS_ALL)
    a = answer(zs({"type": "birth", "child_order": 2, "difficult": True, "babies": 2}), (o,))
    assert days_of(a) == [158, 15, 15] and a["allowance"] == "50133.33"
    assert answer(zs({"type": "miscarriage", "pregnancy_months": 5}), (o,))["allowance"] == "11200.00"


def test_zhoushan_flexible_worker_paid_to_herself(tmp_path):
    """舟山 第四十八条 灵活就业人员的生育津贴计发给个人; 第五十条 her last-year monthly base, 8,000."""
    o = overlay(tmp_path, "zhoushan", ZS_ALL)
    a = answer(zs({"type": "birth", "child_order": 1}, mode="flexible"), (o,))
    assert a["payee"]["to"] == "person" and a["allowance"] == "34133.33"
    past = answer(zs({"type": "birth", "child_order": 1}, mode="flexible", past_retirement_age=True), (o,))
    assert past["eligible"] is False and "第四十六条" in past["clause"]


def test_zhoushan_deferred_until_the_months_are_reached(tmp_path):
    """舟山 第四十八条 满 N 个月后发放: 3 months (2026-01…03) paid at the birth → deferred until the 6th, 2026-06."""
    o = overlay(tmp_path, "zhoushan", ZS_ALL)
    a = answer(zs({"type": "birth", "child_order": 1}, start="2026-01-05", contributions=months("2026-01", "2026-03")), (o,))
    assert a["eligible"] and a["deferred_until"] == "2026-06" and a["allowance"] == "34133.33"


def test_zhoushan_unemployed_and_procedures_get_no_allowance(tmp_path):
    """舟山 第四十六条 (the unemployed are not in 生育保险, readings M4); 第四十九条 has no days for
    family-planning procedures."""
    o = overlay(tmp_path, "zhoushan", ZS_ALL)
    a = answer(zs({"type": "birth", "child_order": 1}, mode="unemployed"), (o,))
    assert a["eligible"] is False and "第四十六条" in a["clause"]
    p = answer(zs({"type": "procedure", "procedure": "ligation"}), (o,))
    assert p["eligible"] is False and "第四十九条" in p["clause"]


def test_zhoushan_new_employer_current_year(tmp_path):
    """舟山 第五十条 新成立的用人单位与该单位当年度月职工平均缴费基数一致: 2026-01…02, 7,200 a month."""
    o = overlay(tmp_path, "zhoushan", ZS_ALL)
    c = zs({"type": "miscarriage", "pregnancy_months": 1})
    c["employer"] = {"records": year_records(2026, 5, "36000.00", 1, 2)}
    a = answer(c, (o,))
    assert a["base"]["monthly"] == "7200.00" and a["allowance"] == "3600.00"  # 7,200 × 15 ÷ 30


def test_policy_check_lists_the_maternity_blanks_with_their_clauses():
    zs_missing = {m.name: m.clause for m in load_city("zhoushan").missing_values() if m.name.startswith("maternity.")}
    assert {n for n in zs_missing if n != "maternity.spouse_delivery_subsidy"} == {
        "maternity.birth_days.child_order.first", "maternity.birth_days.child_order.second, third",
        "maternity.birth_days.difficult", "maternity.birth_days.per_extra_baby",
        "maternity.miscarriage_days.early.below_months", "maternity.miscarriage_days.early.days",
        "maternity.miscarriage_days.late.days", "maternity.days_per_month", "maternity.qualifying.months",
    }
    assert "第四十九条" in zs_missing["maternity.birth_days.difficult"]
    su_missing = {m.name: m.clause for m in load_city("suzhou").missing_values() if m.name.startswith("maternity.")}
    assert set(su_missing) == {"maternity.nutrition_subsidy.amount", "maternity.entitlement.flexible", "maternity.entitlement.unemployed"}
    for city in ("jiaxing", "hangzhou", "suizhou"):
        assert not [m for m in load_city(city).missing_values() if m.name.startswith("maternity.")], city


# ====================================================================== the command and bad input


def test_the_command_prints_json_and_a_table(tmp_path):
    hist = hz({"type": "birth", "child_order": 1})
    (tmp_path / "history.json").write_text(json.dumps(hist["history"]), encoding="utf-8")
    hist["history"] = "history.json"  # a history referenced by path, relative to the claim
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(hist), encoding="utf-8")
    run = run_cli("maternity", str(path))
    assert run.code == 0 and run.err == ""
    assert run.json["allowance"] == "47400.00"
    table = run_cli("maternity", str(path), "--table")
    assert table.code == 0 and "47400.00" in table.out and "细则" in table.out


def test_the_claim_from_standard_input():
    c = hz({"type": "birth", "child_order": 1})
    run = run_cli("maternity", "-", stdin=json.dumps(c))
    assert run.code == 0 and run.json["allowance"] == "47400.00"


BAD = [
    ("not json", "{", "malformed JSON"),
    ("unknown key", {"extra": 1}, "unknown key 'extra'"),
    ("unknown event", {"event": {"type": "adoption", "date": "2026-03-10"}}, "event.type"),
    ("miscarriage without months", {"event": {"type": "miscarriage", "date": "2026-03-10"}}, "pregnancy_months"),
    ("babies on a miscarriage", {"event": {"type": "miscarriage", "date": "2026-03-10", "pregnancy_months": 3, "babies": 2}}, "babies"),
    ("no babies", {"event": {"type": "birth", "date": "2026-03-10", "child_order": 1, "babies": 0}}, "event.babies"),
    ("bad date", {"event": {"type": "birth", "date": "2026-02-30", "child_order": 1}}, "event.date"),
    ("claimed before the event", {"claim_date": "2026-03-01"}, "claim_date"),
    ("a woman's vasectomy", {"event": {"type": "procedure", "date": "2026-03-10", "procedure": "vasectomy"}}, "sex"),
    ("a man's birth", {"history": {"person": {"id": "P1", "birth_date": "1990-01-01", "sex": "M"}}}, "sex"),
    ("no history file", {"history": "missing.json"}, "missing.json"),
    ("bad history", {"history": {"person": {"id": "P1", "birth_date": "yesterday", "sex": "F"}}}, "history"),
    ("stated days where the text fixes them", {"event": {"type": "birth", "date": "2026-03-10", "child_order": 1, "leave_days": 158}}, "leave_days"),
    ("another employer", {"employer": {"id": "E9", "average_base": "9000.00"}}, "E9"),
    ("no employer figures", {"employer": None}, "employer.average_base"),
    ("negative base", {"employer": {"average_base": "-1"}}, "negative"),
    ("a month twice", {"employer": {"records": year_records(2025) + year_records(2025, first=12)}}, "twice"),
]


@pytest.mark.parametrize("what, change, expected", BAD, ids=[b[0] for b in BAD])
def test_bad_input_exit_2_one_line_nothing_on_stdout(tmp_path, what, change, expected):
    if isinstance(change, str):
        c: Any = change
    else:
        c = hz({"type": "birth", "child_order": 1})
        for key, v in change.items():
            if key == "history" and isinstance(v, dict):
                c["history"] = {**c["history"], **v}
            elif key == "event":
                c["event"] = v
            elif v is None:
                c.pop(key)
            else:
                c[key] = v
    assert expected in refused(tmp_path, c)


def test_errors_in_process_are_yibao_errors():
    with pytest.raises(CaseError):
        answer(hz({"type": "birth"}))
    with pytest.raises(MissingPolicyValue) as exc:
        answer(zs({"type": "birth", "child_order": 1}))
    assert exc.value.name == "maternity.birth_days.child_order.first" and "第四十九条" in exc.value.clause
