"""缴费 — what a month of employee insurance or a year of premiums costs, per city and clause.

Each test names the clause it checks and works its figures by hand in a comment. Figures
the texts leave blank (the province's base floor and cap, the 省平工资, …) are supplied by
small overlays written to ``tmp_path``; without them the computation is refused naming the
figure and its clause.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import run_cli
from yibao.errors import CaseError, MissingPolicyValue
from yibao.lifecycle.contributions import monthly_statement, statement_json, yearly_statement
from yibao.lifecycle.history import parse_history
from yibao.policy.loader import load_city

CATEGORY = {"unit": "active", "flexible": "flexible", "unemployed": "unemployed", "retired": "retired"}

# ---------------------------------------------------------------------- builders


def employee(city: str, mode: str = "unit", *, start: str = "2024-01-01", wage: dict[str, str] | None = None,
             person: dict | None = None, events: list[dict] | None = None, paid: dict[str, str] | None = None,
             **enrolment: Any) -> dict:
    """An employee history: one enrolment from ``start``; ``wage`` = declared base by month."""
    e: dict[str, Any] = {"scheme": "employee", "category": CATEGORY[mode], "mode": mode, "start": start, **enrolment}
    if mode == "unit":
        e["employer"] = "E1"
    contributions = []
    for month, base in (wage or {}).items():
        c = {"month": month, "base": base}
        if paid and month in paid:
            c.update(paid=paid[month], paid_date=f"{month}-15")
        contributions.append(c)
    p = {"id": "P1", "birth_date": "1980-06-01", "sex": "F", **(person or {})}
    return {"city": city, "person": p, "employers": [{"id": "E1"}], "enrolments": [e],
            "contributions": contributions, "events": events or []}


def resident(city: str, category: str = "adult", *, grade: int = 1, start: str = "2020-01-01",
             person: dict | None = None, events: list[dict] | None = None, premiums: dict[str, str] | None = None) -> dict:
    e = {"scheme": "resident", "category": category, "mode": "resident", "start": start, "grade": grade}
    p = {"id": "R1", "birth_date": "1990-06-01", "sex": "M", **(person or {})}
    contributions = [
        {"month": f"{y}-01", "scheme": "resident", "kind": "premium", "paid": amount, "paid_date": f"{int(y) - 1}-11-20", "payer": "person"}
        for y, amount in (premiums or {}).items()
    ]
    return {"city": city, "person": p, "enrolments": [e], "contributions": contributions, "events": events or []}


def overlay(tmp_path: Path, city: str, params: dict[str, dict], name: str = "overlay.yaml", effective: str | None = None) -> str:
    """An overlay file: ``{parameter: {version key: value}}``."""
    def key(k: str) -> Any:
        return k if k == "effective" else dt.date.fromisoformat(k)

    data: dict[str, Any] = {"city": city, "parameters": {
        name_: {"values": {key(k): {"value": v} for k, v in versions.items()}} for name_, versions in params.items()
    }}
    if effective:
        data["effective"] = {"from": dt.date.fromisoformat(effective)}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(path)


def due(hist: dict, *, month: str | None = None, year: int | None = None, overlays: tuple[str, ...] = ()) -> dict:
    """The statement JSON, computed in-process (fast)."""
    h = parse_history(json.loads(json.dumps(hist)))
    policy = load_city(h.city, overlays)
    s = monthly_statement(h, policy, month) if month else yearly_statement(h, policy, year or 0)
    return statement_json(s)


def lines(doc: dict, group: str = "contribution") -> dict[str, dict]:
    [g] = [g for g in doc["groups"] if g["name"] == group]
    return {line["name"]: line for line in g["lines"]}


def group(doc: dict, name: str) -> dict:
    [g] = [g for g in doc["groups"] if g["name"] == name]
    return g


def funding(line: dict) -> dict[str, str]:
    return {f["funder"]: f["amount"] for f in line["funding"]}


def missing(hist: dict, **kwargs: Any) -> MissingPolicyValue:
    with pytest.raises(MissingPolicyValue) as err:
        due(hist, **kwargs)
    return err.value


def write(tmp_path: Path, hist: dict | str, name: str = "history.json") -> str:
    path = tmp_path / name
    path.write_text(hist if isinstance(hist, str) else json.dumps(hist, ensure_ascii=False), encoding="utf-8")
    return str(path)


def refused(tmp_path: Path, hist: dict | str, *args: str) -> str:
    """Through the real command: exit 2, one line on stderr, nothing on stdout."""
    run = run_cli("contributions", write(tmp_path, hist), *args)
    assert run.code == 2, run.out
    assert run.out == ""
    err = [line for line in run.err.splitlines() if line.strip()]
    assert len(err) == 1, run.err
    return err[0]


# ---------------------------------------------------------------------- 嘉兴


@pytest.fixture
def jx(tmp_path: Path) -> str:
    """2026: the province's floor 4,000 and base 6,000 (cap 300% = 18,000)."""
    return overlay(tmp_path, "jiaxing", {"contributions.published_figures": {
        "2026-01-01": {"social_insurance_floor": 4000, "social_insurance_base": 6000, "rural_disposable_income": 40000}}})


def test_jiaxing_unit_employer_9_with_maternity_and_person_2(jx):
    """嘉兴 (八)1、2: wage 5,000 within 4,000–18,000; employer 9% = 450 of which 生育 0.5% = 25;
    person 2% = 100, withheld by the employer."""
    doc = due(employee("jiaxing", wage={"2026-03": "5000.00"}), month="2026-03", overlays=(jx,))
    g = group(doc, "contribution")
    assert g["base"]["amount"] == "5000.00" and g["base"]["floor"] == "4000.00" and g["base"]["cap"] == "18000.00"
    got = lines(doc)
    assert got["employer"]["amount"] == "450.00" and got["employer"]["parts"] == {"maternity": "25.00"}
    assert got["person"]["amount"] == "100.00"
    assert "(八)2" in got["employer"]["clause"] and "(八)1" in got["person"]["clause"]
    assert g["by_payer"] == {"employer": "450.00", "person": "100.00"}
    assert doc["due"] == "550.00"


@pytest.mark.parametrize("wage, base", [("3000.00", "4000.00"), ("25000.00", "18000.00")])
def test_jiaxing_base_floor_and_cap_300_percent(jx, wage, base):
    """嘉兴 (八)1: below the floor → 4,000; above 300% of 6,000 → 18,000."""
    doc = due(employee("jiaxing", wage={"2026-03": wage}), month="2026-03", overlays=(jx,))
    assert group(doc, "contribution")["base"]["amount"] == base
    assert lines(doc)["person"]["amount"] == f"{int(base[:-3]) * 2 // 100}.00"


def test_jiaxing_flexible_8_percent_on_the_floor(jx):
    """嘉兴 (八)3: 4,000 × 8% = 320, of which 生育 0.5% = 20, all paid by the person."""
    doc = due(employee("jiaxing", "flexible"), month="2026-03", overlays=(jx,))
    [line] = lines(doc).values()
    assert line["amount"] == "320.00" and line["parts"] == {"maternity": "20.00"}
    assert funding(line) == {"person": "320.00"}


def test_jiaxing_unemployed_paid_by_the_unemployment_fund(jx):
    """嘉兴 (八)4: the flexible standard (320), paid by the unemployment fund."""
    doc = due(employee("jiaxing", "unemployed"), month="2026-03", overlays=(jx,))
    [line] = lines(doc).values()
    assert funding(line) == {"unemployment_fund": "320.00"}
    assert "(八)4" in line["funding"][0]["clause"]


def test_jiaxing_retired_pays_nothing():
    """嘉兴 (八)5: no figure is needed, nothing is due."""
    doc = due(employee("jiaxing", "retired"), month="2026-03")
    assert lines(doc) == {} and doc["due"] == "0.00"


def test_jiaxing_province_floor_is_blank_until_supplied():
    """嘉兴 (八)1: the province's yearly figures are not in the text."""
    err = missing(employee("jiaxing", wage={"2026-03": "5000.00"}), month="2026-03")
    assert err.name == "contributions.published_figures.social_insurance_floor"
    assert "(八)1" in err.clause and "version from 2026-01-01" in err.clause


def test_jiaxing_each_years_figures_are_supplied_separately(jx):
    """(六十六): the 2026 figures do not carry into 2027, which stays blank."""
    err = missing(employee("jiaxing", "flexible"), month="2027-01", overlays=(jx,))
    assert err.name == "contributions.published_figures.social_insurance_floor"
    assert "version from 2027-01-01" in err.clause


def test_jiaxing_injury_allowance_base_is_the_provinces_rule():
    """嘉兴 (六十七): a 1–4 级 工伤 worker's base follows the province's 工伤 regulation — blank."""
    err = missing(employee("jiaxing", wage={"2026-03": "3000.00"}, basis="injury_allowance"), month="2026-03")
    assert err.name == "contributions.unit.variants.injury_allowance.base"
    assert "(六十七)" in err.clause


@pytest.fixture
def jx_resident(tmp_path: Path) -> str:
    """A 2026 premium of 1,200 for adults (person 400 = 1/3) and 360 for students (120 + 240)."""
    return overlay(tmp_path, "jiaxing", {"contributions.resident_premium": {"2026-01-01": {"by_category": {
        "student": {"lines": {"person": {"amount": 120}, "government": {"amount": 240}}},
        "other": {"lines": {"person": {"amount": 400}, "government": {"amount": 800}}},
    }}}}, name="premium.yaml")


def test_jiaxing_resident_premium_is_blank_until_published():
    """嘉兴 (二十五): 具体筹资标准由市医疗保障主管部门…确定 — the yuan figures are blank."""
    err = missing(resident("jiaxing"), year=2026)
    assert err.name == "contributions.resident_premium.by_category[other].lines.person.amount"
    assert "(二十五)" in err.clause


def test_jiaxing_critical_illness_rate_is_blank(jx_resident, jx):
    """嘉兴 (三十二): 大病 is drawn from the pooled fund at a rate the city sets — blank."""
    err = missing(resident("jiaxing", premiums={"2026": "400.00"}), year=2026, overlays=(jx_resident, jx))
    assert err.name == "contributions.critical_illness_premium.by_scheme[resident].lines.resident_fund.rate"
    assert "(三十二)" in err.clause


@pytest.mark.parametrize("status", [{"assistance": "subsistence"}, {"assistance": "disabled_severe"}, {"flags": ["family_planning_hardship"]}])
def test_jiaxing_special_groups_personal_part_paid_by_the_government(tmp_path, jx_resident, status):
    """嘉兴 (二十六)(三十八): 持证残疾人, 计生特殊家庭, 医疗救助对象 — the personal 400 is government's."""
    ci = overlay(tmp_path, "jiaxing", {"contributions.critical_illness_premium": {"2025-01-01": {"by_scheme": {
        "employee": {"lines": {"employee_fund": {"rate": 1}}}, "resident": {"lines": {"resident_fund": {"rate": 1}}}}}},
        "contributions.published_figures": {"2026-01-01": {"rural_disposable_income": 40000}}}, name="ci.yaml")
    events = [{"date": "2025-06-01", "type": "assistance", "assistance": status["assistance"]}] if "assistance" in status else []
    person = {"flags": status.get("flags", [])}
    doc = due(resident("jiaxing", person=person, events=events), year=2026, overlays=(jx_resident, ci))
    person_line = lines(doc, "premium")["person"]
    assert funding(person_line) == {"government": "400.00"}
    # 大病 (三十二): 1% of the rural income 40,000 = 400 from the resident fund, nothing from the person
    assert funding(lines(doc, "critical_illness")["resident_fund"]) == {"resident_fund": "400.00"}
    assert group(doc, "critical_illness")["counts_for_arrears"] is False


def test_jiaxing_personal_part_below_one_third_is_flagged(tmp_path):
    """嘉兴 (二十五) 个人缴费不低于筹资标准的三分之一: 300 of 1,200 is below 400."""
    low = overlay(tmp_path, "jiaxing", {"contributions.resident_premium": {"2026-01-01": {"by_category": {
        "student": {"lines": {"person": {"amount": 120}, "government": {"amount": 240}}},
        "other": {"lines": {"person": {"amount": 300}, "government": {"amount": 900}}}}}},
        "contributions.critical_illness_premium": {"2025-01-01": {"by_scheme": {
            "employee": {"lines": {"employee_fund": {"rate": 1}}}, "resident": {"lines": {"resident_fund": {"rate": 1}}}}}},
        "contributions.published_figures": {"2026-01-01": {"rural_disposable_income": 40000}}})
    doc = due(resident("jiaxing"), year=2026, overlays=(low,))
    [note] = group(doc, "premium")["notes"]
    assert "below 1/3" in note and "(二十五)" in note


# ---------------------------------------------------------------------- 杭州


@pytest.fixture
def hz(tmp_path: Path) -> str:
    """2026: 省平工资 8,000 a month → floor 60% = 4,800, cap 300% = 24,000."""
    return overlay(tmp_path, "hangzhou", {"contributions.published_figures": {"2026-01-01": {"average_wage": 8000}}})


def test_hangzhou_unit_employer_9_5_with_0_6_maternity_person_2(hz):
    """杭州办法 二、职工医保缴费段: wage 10,000 → employer 950 (生育 0.6% = 60), person 200."""
    doc = due(employee("hangzhou", start="2026-01-01", wage={"2026-03": "10000.00"}), month="2026-03", overlays=(hz,))
    got = lines(doc)
    assert got["employer"]["amount"] == "950.00" and got["employer"]["parts"] == {"maternity": "60.00"}
    assert got["person"]["amount"] == "200.00"
    assert "职工医保缴费段" in got["employer"]["clause"]


@pytest.mark.parametrize("wage, base", [("3000.00", "4800.00"), ("30000.00", "24000.00"), ("4800.00", "4800.00")])
def test_hangzhou_base_60_and_300_percent_of_the_provincial_average(hz, wage, base):
    """杭州办法 二、职工医保缴费段: 低于省平工资60%的按60%，高于300%的按300%."""
    doc = due(employee("hangzhou", start="2026-01-01", wage={"2026-03": wage}), month="2026-03", overlays=(hz,))
    assert group(doc, "contribution")["base"]["amount"] == base


def test_hangzhou_flexible_9_5_on_60_percent(hz):
    """杭州办法 二、灵活就业人员缴费段: 4,800 × 9.5% = 456, of which 生育 0.6% = 28.80."""
    doc = due(employee("hangzhou", "flexible", start="2026-01-01"), month="2026-03", overlays=(hz,))
    [line] = lines(doc).values()
    assert (line["base"], line["amount"], line["parts"]) == ("4800.00", "456.00", {"maternity": "28.80"})


def test_hangzhou_unemployed_paid_by_the_unemployment_fund(hz):
    """杭州办法 二、失业人员段: the flexible 456, paid by the unemployment fund."""
    [line] = lines(due(employee("hangzhou", "unemployed", start="2026-01-01"), month="2026-03", overlays=(hz,))).values()
    assert funding(line) == {"unemployment_fund": "456.00"}


def test_hangzhou_marginal_flexible_half_from_the_month_after_recognition(hz):
    """杭州办法 二、灵活就业人员缴费段: 低保边缘 recognised 2026-04-10 → from May the government
    pays half of 456 = 228; April is still the person's."""
    hist = employee("hangzhou", "flexible", start="2026-01-01",
                    events=[{"date": "2026-04-10", "type": "assistance", "assistance": "marginal"}])
    [april] = lines(due(hist, month="2026-04", overlays=(hz,))).values()
    [may] = lines(due(hist, month="2026-05", overlays=(hz,))).values()
    assert funding(april) == {"person": "456.00"}
    assert funding(may) == {"person": "228.00", "government": "228.00"}
    assert may["funding"][1]["rule"] == "certified_flexible_marginal"


@pytest.mark.parametrize("status", ["destitute", "subsistence", "disabled_severe"])
def test_hangzhou_other_certified_flexible_fully_subsidised(hz, status):
    """杭州办法 二、灵活就业人员缴费段: 其他持证人员由政府全额补助 — until the status ends."""
    hist = employee("hangzhou", "flexible", start="2026-01-01", events=[
        {"date": "2026-02-03", "type": "assistance", "assistance": status},
        {"date": "2026-06-20", "type": "assistance_end"}])
    [june] = lines(due(hist, month="2026-06", overlays=(hz,))).values()
    [july] = lines(due(hist, month="2026-07", overlays=(hz,))).values()
    assert funding(june) == {"government": "456.00"}
    assert funding(july) == {"person": "456.00"}


def test_hangzhou_disabled_veteran_pays_nothing_and_the_government_pays_the_employer(hz):
    """杭州办法 二、职工医保缴费段: 六级及以上残疾军人个人不需缴纳；单位应缴纳的…由政府全额补助.
    wage 6,000: employer 570 paid by the government; the person's 120 is not due."""
    hist = employee("hangzhou", start="2026-01-01", wage={"2026-03": "6000.00"}, person={"flags": ["disabled_veteran"]})
    doc = due(hist, month="2026-03", overlays=(hz,))
    got = lines(doc)
    assert funding(got["employer"]) == {"government": "570.00"}
    assert funding(got["person"]) == {"waived": "120.00"} and got["person"]["due"] == "0.00"
    assert doc["due"] == "570.00"


def test_hangzhou_injury_allowance_is_the_base_without_floor(hz):
    """杭州办法 二、工伤职工段: the 伤残津贴 3,000 is the base (not raised to 4,800): employer 285, person 60."""
    hist = employee("hangzhou", start="2026-01-01", wage={"2026-03": "3000.00"}, basis="injury_allowance")
    doc = due(hist, month="2026-03", overlays=(hz,))
    got = lines(doc)
    assert (got["employer"]["amount"], got["person"]["amount"]) == ("285.00", "60.00")
    assert "工伤职工段" in group(doc, "contribution")["clause"]


def test_hangzhou_arrears_against_the_recorded_payment(hz):
    """Due 575 (wage 5,000: 475 + 100); 500 recorded → arrears 75."""
    hist = employee("hangzhou", start="2026-01-01", wage={"2026-03": "5000.00"}, paid={"2026-03": "500.00"})
    doc = due(hist, month="2026-03", overlays=(hz,))
    assert doc["due"] == "575.00" and doc["recorded"]["paid"] == "500.00"
    assert doc["arrears"] == "75.00" and doc["overpaid"] == "0.00"


def test_hangzhou_provincial_average_is_blank():
    """杭州办法 二、职工医保缴费段: the 省平工资 is published by the province — blank."""
    err = missing(employee("hangzhou", "flexible", start="2026-01-01"), month="2026-03")
    assert err.name == "contributions.published_figures.average_wage"
    assert "职工医保缴费段" in err.clause


@pytest.mark.parametrize("category, grade, person, government", [
    ("child", 1, "370.00", "810.00"),
    ("student", 1, "130.00", "390.00"),
    ("adult", 1, "800.00", "1610.00"),
    ("adult", 2, "700.00", "1410.00"),
    ("elderly", 2, "700.00", "1410.00"),
])
def test_hangzhou_2026_resident_premiums(category, grade, person, government):
    """杭州细则 二、居民医保 筹资标准段: each incl. 长护险 90 = 30 personal + 60 government."""
    doc = due(resident("hangzhou", category, grade=grade, premiums={"2026": person}), year=2026)
    got = lines(doc, "premium")
    assert got["person"]["amount"] == person and got["government"]["amount"] == government
    assert got["person"]["parts"] == {"long_term_care": "30.00"}
    assert got["government"]["parts"] == {"long_term_care": "60.00"}
    assert doc["due"] == person and doc["arrears"] == "0.00"


def test_hangzhou_premium_is_keyed_by_the_benefit_year():
    """办法 七、其他 末段: the 2026 premium is collected from 2025-10-01; paid 2025-11-20 for 2026,
    it is the 2026 statement's; 2025 itself is before the document."""
    hist = resident("hangzhou", "child", premiums={"2026": "370.00"})
    assert due(hist, year=2026)["recorded"]["paid"] == "370.00"
    with pytest.raises(CaseError, match="outside 杭州's policy"):
        due(hist, year=2025)


def test_hangzhou_2027_premium_is_blank_until_set():
    """杭州细则 二、居民医保 动态调整段: 自2027年度起…每年一调 — blank."""
    err = missing(resident("hangzhou", "child"), year=2027)
    assert err.name.startswith("contributions.resident_premium.by_category[child]")
    assert "动态调整段" in err.clause


@pytest.mark.parametrize("status", [{"flags": ["welfare_institution"]}, {"flags": ["child_in_difficulty"]},
                                    {"flags": ["entitled_group"]}, {"assistance": "marginal"}])
def test_hangzhou_resident_special_groups_paid_by_the_government(status):
    """杭州办法 二、居民医保筹资段: 持证人员、收养人员、困境儿童、优抚对象 — the personal 370 by the government."""
    events = [{"date": "2025-05-01", "type": "assistance", "assistance": status["assistance"]}] if "assistance" in status else []
    doc = due(resident("hangzhou", "child", person={"flags": status.get("flags", [])}, events=events), year=2026)
    assert funding(lines(doc, "premium")["person"]) == {"government": "370.00"}


def test_hangzhou_critical_illness_premiums():
    """杭州细则 三、大病保险 筹资段: employees 48 from the current-year account + 77 from the pooled
    fund; residents 20 (from the resident fund) + 20 government; students 20 from the resident fund."""
    emp = lines(due(employee("hangzhou", start="2026-01-01"), year=2026), "critical_illness")
    assert (emp["person"]["amount"], emp["person"]["from"]) == ("48.00", "current_account")
    assert emp["employee_fund"]["amount"] == "77.00"
    res = lines(due(resident("hangzhou", "adult"), year=2026), "critical_illness")
    assert {n: (x["payer"], x["amount"]) for n, x in res.items()} == {
        "person": ("resident_fund", "20.00"), "government": ("government", "20.00")}
    stu = lines(due(resident("hangzhou", "student"), year=2026), "critical_illness")
    assert {n: (x["payer"], x["amount"]) for n, x in stu.items()} == {"resident_fund": ("resident_fund", "20.00")}


# ---------------------------------------------------------------------- 随州


@pytest.fixture
def sui(tmp_path: Path) -> str:
    """2026: the province's personal base floor 3,500 and cap 18,000."""
    return overlay(tmp_path, "suizhou", {"contributions.published_figures": {
        "2026-01-01": {"personal_base_floor": 3500, "personal_base_cap": 18000}}})


def test_suizhou_unit_employer_7_with_major_medical_plus_maternity_and_person_2(sui):
    """随州 第九条: wage 3,000 — the employer's base is the wage total (3,000): 7% = 210 (大额
    0.5% = 15) + 生育 0.5% = 15; the person's base is raised to the floor 3,500: 2% = 70."""
    doc = due(employee("suizhou", wage={"2026-02": "3000.00"}), month="2026-02", overlays=(sui,))
    got = lines(doc)
    assert (got["employer"]["base"], got["employer"]["amount"], got["employer"]["parts"]) == ("3000.00", "210.00", {"major_medical": "15.00"})
    assert (got["maternity"]["amount"], got["maternity"]["parts"]) == ("15.00", {"maternity": "15.00"})
    assert (got["person"]["base"], got["person"]["amount"]) == ("3500.00", "70.00")
    assert group(doc, "contribution")["parts"] == {"major_medical": "15.00", "maternity": "15.00"}
    assert doc["due"] == "295.00"


def test_suizhou_flexible_with_account_9_percent(sui):
    """随州 第十一条（一）: 统账结合 3,500 × 9% = 315, 大额 0.5% = 17.50, 2% = 70 to the account; no 生育."""
    [line] = lines(due(employee("suizhou", "flexible"), month="2026-03", overlays=(sui,))).values()
    assert line["amount"] == "315.00"
    assert line["parts"] == {"major_medical": "17.50", "account": "70.00"}


def test_suizhou_flexible_pooled_only_7_percent(sui):
    """随州 第十一条（一）: 单建统筹 3,500 × 7% = 245, 大额 17.50, no account."""
    [line] = lines(due(employee("suizhou", "flexible", account="pooled_only"), month="2026-03", overlays=(sui,))).values()
    assert (line["amount"], line["parts"]) == ("245.00", {"major_medical": "17.50"})
    assert "单建统筹" in line["clause"]


def test_suizhou_unemployed_standard_is_blank():
    """随州 第十三条: paid by the unemployment fund, the standard is not in the text."""
    err = missing(employee("suizhou", "unemployed"), month="2026-03")
    assert err.name == "contributions.unemployed.same_as"
    assert "第十三条" in err.clause


@pytest.fixture
def sui_premium(tmp_path: Path) -> str:
    """A resident premium of 380 personal + 640 government, 大病 60 from the resident fund."""
    return overlay(tmp_path, "suizhou", {
        "contributions.resident_premium": {"2024-01-01": {"lines": {"person": {"amount": 380}, "government": {"amount": 640}}}},
        "contributions.critical_illness_premium": {"2024-01-01": {"by_scheme": {"resident": {"lines": {"resident_fund": {"amount": 60}}}}}},
    }, name="premium.yaml")


@pytest.mark.parametrize("status, funded", [
    ({"assistance": "destitute"}, {"government": "380.00"}),
    ({"assistance": "orphan"}, {"government": "380.00"}),
    ({"flags": ["severe_mental"]}, {"government": "380.00"}),
    ({"flags": ["entitled_group"]}, {"government": "380.00"}),
    ({"assistance": "subsistence"}, {"person": "38.00", "government": "342.00"}),  # 90% of 380 = 342
    ({"assistance": "subsistence", "flags": ["family_planning_hardship"]}, {"government": "380.00"}),  # 就高不重复
    ({}, {"person": "380.00"}),
])
def test_suizhou_resident_subsidies(sui_premium, status, funded):
    """随州 第三十九条: full for 特困、孤儿、残疾、优抚、严重精神障碍、计生特困; 低保 90%; the highest only."""
    events = [{"date": "2025-03-01", "type": "assistance", "assistance": status["assistance"]}] if "assistance" in status else []
    doc = due(resident("suizhou", person={"flags": status.get("flags", [])}, events=events), year=2026, overlays=(sui_premium,))
    assert funding(lines(doc, "premium")["person"]) == funded
    assert lines(doc, "critical_illness")["resident_fund"]["amount"] == "60.00"


def test_suizhou_monitored_poverty_share_is_blank(sui_premium):
    """随州 第三十九条: 监测对象资助参保按我市相关规定执行 — the share is blank."""
    events = [{"date": "2025-03-01", "type": "assistance", "assistance": "returned_poverty"}]
    err = missing(resident("suizhou", events=events), year=2026, overlays=(sui_premium,))
    assert err.name == "contributions.subsidies.monitored_poverty.share"
    assert "第三十九条" in err.clause


def test_suizhou_newborn_pays_nothing_in_the_year_of_birth(sui_premium):
    """随州 第三十八条: 新生儿…免缴出生当年参保费用; the next year is paid."""
    hist = resident("suizhou", "child", person={"birth_date": "2026-04-02"}, start="2026-04-10")
    assert funding(lines(due(hist, year=2026, overlays=(sui_premium,)), "premium")["person"]) == {"waived": "380.00"}
    assert funding(lines(due(hist, year=2027, overlays=(sui_premium,)), "premium")["person"]) == {"person": "380.00"}


def test_suizhou_resident_premium_is_blank():
    """随州 第三十六条、第七十条: the premium's figures are not in the text."""
    err = missing(resident("suizhou"), year=2026)
    assert err.name == "contributions.resident_premium.lines.person.amount"


# ---------------------------------------------------------------------- 苏州


def test_suzhou_employer_rate_is_blank():
    """苏州 第十条: 缴费费率由市人民政府…确定."""
    err = missing(employee("suzhou", wage={"2026-03": "5000.00"}), month="2026-03")
    assert err.name == "contributions.unit.lines.employer.rate"
    assert "第十条" in err.clause


@pytest.fixture
def suz(tmp_path: Path) -> str:
    """Employer 8%; the social-insurance base 4,000–20,000; flexible on 4,000 at 10%."""
    return overlay(tmp_path, "suzhou", {
        "contributions.published_figures": {"effective": {"social_insurance_floor": 4000, "social_insurance_cap": 20000}},
        "contributions.unit": {"effective": {"lines": {"employer": {"rate": 8}}}},
        "contributions.flexible": {"effective": {"base": 4000, "lines": {"person": {"rate": 10}}}},
    })


def test_suzhou_person_2_percent_and_major_medical_5_yuan(suz):
    """苏州 第十条、第三十五条: wage 6,000 → employer 480, person 120, 大额 5 a month by the person."""
    got = lines(due(employee("suzhou", wage={"2026-03": "6000.00"}), month="2026-03", overlays=(suz,)))
    assert got["employer"]["amount"] == "480.00" and got["person"]["amount"] == "120.00"
    assert (got["major_medical"]["payer"], got["major_medical"]["amount"], got["major_medical"]["parts"]) == ("person", "5.00", {"major_medical": "5.00"})


def test_suzhou_flexible_base_and_rate_are_the_provinces(suz):
    """苏州 第十条: 灵活就业人员的缴费基数和缴费费率根据省有关规定确定 — blank without the overlay."""
    err = missing(employee("suzhou", "flexible"), month="2026-03")
    assert err.name == "contributions.flexible.lines.person.rate"
    got = lines(due(employee("suzhou", "flexible"), month="2026-03", overlays=(suz,)))
    assert got["person"]["amount"] == "400.00" and got["major_medical"]["amount"] == "5.00"


def test_suzhou_retirees_pay_the_major_medical_5_yuan():
    """苏州 第三十五条: 参保职工按每人每月5元 — retirees too; no blank figure needed."""
    doc = due(employee("suzhou", "retired"), month="2026-03")
    assert {n: x["amount"] for n, x in lines(doc).items()} == {"major_medical": "5.00"}


def test_suzhou_disabled_veteran_yearly_fixed_amount():
    """苏州 第十条: 残疾军人个人不缴费，由管理单位按定额标准每年一次性缴纳 — nothing monthly; the
    yearly amount is blank."""
    hist = employee("suzhou", person={"flags": ["disabled_veteran"]})
    doc = due(hist, month="2026-03")
    assert lines(doc) == {} and "--year 2026" in group(doc, "contribution")["notes"][0]
    err = missing(hist, year=2026)
    assert err.name == "contributions.unit.variants.disabled_veteran.lines.managing_unit.amount"
    assert "第十条" in err.clause


@pytest.fixture
def suz_premium(tmp_path: Path) -> str:
    adult = {"lines": {"person": {"amount": 500}, "government": {"amount": 900}}}
    return overlay(tmp_path, "suzhou", {
        "contributions.resident_premium": {"effective": {"by_category": {"child": adult, "student": adult, "adult": adult, "elderly": adult}}},
        "contributions.critical_illness_premium": {"effective": {"by_scheme": {
            "employee": {"lines": {"employee_fund": {"amount": 100}, "person": {"amount": 0}, "government": {"amount": 0}}},
            "resident": {"lines": {"resident_fund": {"amount": 50}, "person": {"amount": 10}, "government": {"amount": 20}}}}}},
    }, name="premium.yaml")


@pytest.mark.parametrize("status", [{"assistance": "subsistence"}, {"assistance": "other"}, {"flags": ["child_in_difficulty"]}])
def test_suzhou_assistance_recipients_fully_subsidised(suz_premium, status):
    """苏州 第二十八条: 医疗救助对象…由政府全额资助参保，个人免缴."""
    events = [{"date": "2025-03-01", "type": "assistance", "assistance": status["assistance"]}] if "assistance" in status else []
    doc = due(resident("suzhou", person={"flags": status.get("flags", [])}, events=events), year=2026, overlays=(suz_premium,))
    assert funding(lines(doc, "premium")["person"]) == {"government": "500.00"}


def test_suzhou_newborn_premium_paid_by_the_government(suz_premium):
    """苏州 第二十九条: 新生儿出生当年的参保费用由政府全额补贴."""
    hist = resident("suzhou", "child", person={"birth_date": "2026-02-01"}, start="2026-02-10")
    assert funding(lines(due(hist, year=2026, overlays=(suz_premium,)), "premium")["person"]) == {"government": "500.00"}


# ---------------------------------------------------------------------- 舟山


def test_zhoushan_every_rate_is_blank():
    """舟山 第九条: 缴费比例为 （含生育保险）— the first blank met is the employer's rate."""
    err = missing(employee("zhoushan", wage={"2026-03": "5000.00"}), month="2026-03")
    assert err.name == "contributions.unit.lines.employer.rate"
    assert "第九条（一）" in err.clause


@pytest.fixture
def zs(tmp_path: Path) -> str:
    """省社平工资 7,000; floor 60% = 4,200, cap 300% = 21,000; employer 9.5%, person 2%,
    flexible 60% at 11.5%; the resident premium 400 + 800; 大病 150 a head, person 20%."""
    return overlay(tmp_path, "zhoushan", {
        "contributions.published_figures": {"effective": {"average_wage": 7000}},
        "contributions.base_limits": {"effective": {"floor": {"share": 60}, "cap": {"share": 300}}},
        "contributions.unit": {"effective": {"lines": {"employer": {"rate": 9.5}, "person": {"rate": 2}}}},
        "contributions.flexible": {"effective": {"base": {"share": 60}, "lines": {"person": {"rate": 11.5}}}},
        "contributions.resident_premium": {"effective": {"lines": {"person": {"amount": 400}, "government": {"amount": 800}}}},
        "contributions.critical_illness_premium": {"effective": {"by_scheme": {
            "employee": {"total": 150, "lines": {"person": {"share": 20}}}, "resident": {"total": 150}}}},
    })


def test_zhoushan_with_the_figures_supplied(zs):
    """舟山 第九条（一）（二）: wage 3,000 raised to 4,200: employer 399, person 84."""
    doc = due(employee("zhoushan", wage={"2026-03": "3000.00"}), month="2026-03", overlays=(zs,))
    got = lines(doc)
    assert group(doc, "contribution")["base"]["amount"] == "4200.00"
    assert (got["employer"]["amount"], got["person"]["amount"]) == ("399.00", "84.00")


def test_zhoushan_unemployed_at_the_flexible_standard_paid_by_the_fund(zs):
    """舟山 第九条（四）（五）: 4,200 × 11.5% = 483, by the unemployment fund."""
    [line] = lines(due(employee("zhoushan", "unemployed"), month="2026-03", overlays=(zs,))).values()
    assert funding(line) == {"unemployment_fund": "483.00"}


def test_zhoushan_injury_allowance_base(zs):
    """舟山 第九条（三）: the 月伤残津贴 2,000 is the base: employer 190, person 40."""
    got = lines(due(employee("zhoushan", wage={"2026-03": "2000.00"}, basis="injury_allowance"), month="2026-03", overlays=(zs,)))
    assert (got["employer"]["amount"], got["person"]["amount"]) == ("190.00", "40.00")


@pytest.mark.parametrize("status, funded", [("marginal", {"government": "400.00"}), ("other", {"government": "400.00"}),
                                            ("expenditure_poverty", {"person": "400.00"})])
def test_zhoushan_resident_subsidies(zs, status, funded):
    """舟山 第二十七条: 特困、低保、低边、其他特殊困难、二级以上残疾 — fully subsidised; others pay."""
    events = [{"date": "2025-03-01", "type": "assistance", "assistance": status}]
    doc = due(resident("zhoushan", events=events), year=2026, overlays=(zs,))
    assert funding(lines(doc, "premium")["person"]) == funded
    assert group(doc, "premium")["notes"] == []  # 400 is 1/3 of 1,200


def test_zhoushan_critical_illness_share_and_rest(zs):
    """舟山 第三十六条、第三十七条: 150 a head; the person's 20% = 30 from the account, the rest
    120 from the pooled fund; residents' whole 150 from the resident fund."""
    emp = lines(due(employee("zhoushan"), year=2026, overlays=(zs,)), "critical_illness")
    assert (emp["person"]["amount"], emp["person"]["from"], emp["employee_fund"]["amount"]) == ("30.00", "current_account", "120.00")
    res = lines(due(resident("zhoushan"), year=2026, overlays=(zs,)), "critical_illness")
    assert res["resident_fund"]["amount"] == "150.00"


# ---------------------------------------------------------------------- every city, every mode


@pytest.mark.parametrize("city", ["jiaxing", "hangzhou", "suizhou", "suzhou", "zhoushan"])
@pytest.mark.parametrize("mode", ["unit", "flexible", "unemployed", "retired"])
def test_every_schedule_computes_or_names_its_blank(city, mode):
    """Every city's schedule is well-formed: it computes, or it is refused naming a blank figure
    and the clause of its city."""
    hist = employee(city, mode, start="2026-01-01", wage={"2026-03": "5000.00"})
    try:
        due(hist, month="2026-03")
    except MissingPolicyValue as err:
        assert err.city == city and err.clause


@pytest.mark.parametrize("city", ["jiaxing", "hangzhou", "suizhou", "suzhou", "zhoushan"])
@pytest.mark.parametrize("category", ["child", "student", "adult", "elderly"])
def test_every_premium_computes_or_names_its_blank(city, category):
    try:
        doc = due(resident(city, category), year=2026)
    except MissingPolicyValue as err:
        assert err.city == city and err.clause
    else:
        assert group(doc, "premium")["lines"]


# ---------------------------------------------------------------------- the command


def test_command_prints_json_by_default(tmp_path, hz):
    run = run_cli("contributions", write(tmp_path, employee("hangzhou", "flexible", start="2026-01-01")), "--month", "2026-03", "--overlay", hz)
    assert run.code == 0, run.err
    assert run.err == ""
    doc = run.json
    assert doc["month"] == "2026-03" and doc["due"] == "456.00" and doc["arrears"] == "456.00"


def test_command_table(tmp_path):
    run = run_cli("contributions", write(tmp_path, resident("hangzhou", "child")), "--year", "2026", "--table")
    assert run.code == 0, run.err
    assert "premium" in run.out and "370.00" in run.out and "critical_illness" in run.out
    assert "arrears 370.00" in run.out


def test_command_names_the_missing_figure(tmp_path):
    err = refused(tmp_path, employee("hangzhou", "flexible", start="2026-01-01"), "--month", "2026-03")
    assert "contributions.published_figures.average_wage" in err and "职工医保缴费段" in err


@pytest.mark.parametrize("args, message", [
    (("--month", "2026-13"), "is not a month YYYY-MM"),
    (("--month", "2026-3"), "is not a month YYYY-MM"),
    (("--year", "26"), "is not a year YYYY"),
    ((), "exactly one of --month"),
    (("--month", "2026-03", "--year", "2026"), "exactly one of --month"),
])
def test_command_bad_period(tmp_path, args, message):
    assert message in refused(tmp_path, employee("hangzhou", start="2026-01-01"), *args)


def test_command_unknown_key_in_the_history(tmp_path):
    hist = employee("hangzhou", start="2026-01-01")
    hist["person"]["nickname"] = "x"
    assert "nickname" in refused(tmp_path, hist, "--month", "2026-03")


def test_command_history_without_an_enrolment(tmp_path):
    hist = employee("hangzhou", start="2026-01-01")
    hist["enrolments"] = []
    assert "no employee enrolment in 2026-03" in refused(tmp_path, hist, "--month", "2026-03")


def test_command_unit_month_without_a_declared_wage(tmp_path, hz):
    err = refused(tmp_path, employee("hangzhou", start="2026-01-01"), "--month", "2026-03", "--overlay", hz)
    assert "no declared `base`" in err and "2026-03" in err


def test_command_resident_asked_for_a_month(tmp_path):
    assert "no employee enrolment" in refused(tmp_path, resident("hangzhou"), "--month", "2026-03")


def test_command_malformed_json(tmp_path):
    assert "malformed JSON" in refused(tmp_path, "{", "--month", "2026-03")


def test_command_overlay_with_an_unknown_key_names_file_and_key(tmp_path, hz):
    bad = tmp_path / "bad.yaml"
    bad.write_text("city: hangzhou\nparameters:\n  contributions.flexible:\n    values:\n      2026-01-01:\n"
                   "        value:\n          lines:\n            person: {rat: 3}\n", encoding="utf-8")
    err = refused(tmp_path, employee("hangzhou", "flexible", start="2026-01-01"), "--month", "2026-03", "--overlay", str(bad))
    assert "contributions/flexible.yaml" in err and "lines.person.rat: unknown key" in err


def test_command_overlay_with_a_bad_condition(tmp_path, hz):
    bad = tmp_path / "bad.yaml"
    bad.write_text("city: hangzhou\nparameters:\n  contributions.subsidies:\n    values:\n      2026-01-01:\n"
                   "        value:\n          certified_flexible:\n            when: {categroy: flexible}\n", encoding="utf-8")
    err = refused(tmp_path, employee("hangzhou", "flexible", start="2026-01-01"), "--month", "2026-03", "--overlay", str(bad), "--overlay", hz)
    assert "subsidies.yaml" in err and "certified_flexible.when.categroy" in err
