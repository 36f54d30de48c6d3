"""退休 — contribution years by kind, each city's requirement and the cost of the missing years.

Each test names the clause it checks; the arithmetic is in its docstring. Years are kept in
months (12 a year); figures the texts leave blank are supplied by overlays in ``tmp_path``.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import run_cli
from yibao.errors import MissingPolicyValue
from yibao.lifecycle.history import parse_history
from yibao.lifecycle.retirement import assess, assessment_json, escalating
from yibao.policy.loader import load_city

# ---------------------------------------------------------------------- builders


def paid_months(first: str, count: int, base: str = "6000.00") -> list[dict]:
    """``count`` monthly contributions from ``first`` (YYYY-MM), each paid in full."""
    out, (y, m) = [], map(int, first.split("-"))
    for _ in range(count):
        month = f"{y:04d}-{m:02d}"
        out.append({"month": month, "base": base, "due": "600.00", "paid": "600.00", "paid_date": f"{month}-15"})
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def history(city: str, *, sex: str = "M", hukou: str = "local", mode: str = "unit", credited: list[tuple] = (),
            contributions: list[dict] | None = None, events: list[dict] | None = None, start: str = "2024-01-01") -> dict:
    """A worker about to retire; ``credited`` = (kind, years, local) tuples."""
    e: dict[str, Any] = {"scheme": "employee", "category": "active" if mode == "unit" else mode, "mode": mode, "start": start}
    if mode == "unit":
        e["employer"] = "E1"
    return {
        "city": city,
        "person": {"id": "P1", "birth_date": "1966-01-15", "sex": sex, "hukou": hukou},
        "employers": [{"id": "E1"}],
        "enrolments": [e],
        "contributions": contributions or [],
        "events": events or [],
        "credited_years": [{"kind": k, "years": str(y), "local": local} for k, y, local in credited],
    }


def overlay(tmp_path: Path, city: str, params: dict[str, dict], name: str = "overlay.yaml") -> str:
    data = {"city": city, "parameters": {
        p: {"values": {(k if k == "effective" else dt.date.fromisoformat(k)): {"value": v} for k, v in versions.items()}}
        for p, versions in params.items()
    }}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(path)


def check(hist: dict, day: str, overlays: tuple[str, ...] = ()) -> dict:
    h = parse_history(json.loads(json.dumps(hist)))
    return assessment_json(assess(h, load_city(h.city, overlays), dt.date.fromisoformat(day)))


def req(doc: dict) -> dict[str, dict]:
    return {r["name"]: r for r in doc["requirements"]}


def options(doc: dict) -> dict[str, dict]:
    return {t["option"]: t for t in doc["top_up"]}


def write(tmp_path: Path, hist: dict | str) -> str:
    path = tmp_path / "history.json"
    path.write_text(hist if isinstance(hist, str) else json.dumps(hist, ensure_ascii=False), encoding="utf-8")
    return str(path)


def refused(tmp_path: Path, hist: dict | str, *args: str) -> str:
    run = run_cli("retirement", write(tmp_path, hist), *args)
    assert run.code == 2, run.out
    assert run.out == ""
    err = [line for line in run.err.splitlines() if line.strip()]
    assert len(err) == 1, run.err
    return err[0]


# ---------------------------------------------------------------------- counting


def test_years_by_kind_local_and_total():
    """Paid months count once each when paid in full and not after the date; credited years
    by kind; transfer_in years up to the date. 2025: 11 paid in full + 1 short (2026-01 is
    after the date); 4.5 deemed years local = 54 months; 3 years transferred in before the
    date = 36 months, 2 after. Local 11 + 54 = 65 months; total 65 + 36 = 101."""
    months = paid_months("2025-01", 13)
    months[3]["paid"] = "300.00"  # 2025-04 not paid in full
    events = [{"date": "2025-06-01", "type": "transfer_in", "years": "3"}, {"date": "2026-02-01", "type": "transfer_in", "years": "2"}]
    doc = check(history("zhoushan", credited=[("deemed", "4.5", True)], contributions=months, events=events, start="2025-01-01"), "2025-12-31")
    kinds = {(c["kind"], c["source"]): c["months"] for c in doc["years"]["by_kind"]}
    assert kinds == {("actual", "history"): "11", ("deemed", "credited"): "54", ("transferred", "transfer_in"): "36"}
    assert doc["years"]["local"] == {"months": "65", "years": "5.42"}
    assert doc["years"]["total"] == {"months": "101", "years": "8.42"}


def test_months_after_the_date_do_not_count():
    doc = check(history("zhoushan", contributions=paid_months("2026-01", 12)), "2026-06-30")
    assert req(doc)["actual"]["counted_months"] == "6"


# ---------------------------------------------------------------------- 嘉兴


@pytest.fixture
def jx(tmp_path: Path) -> str:
    """2026: the province's base floor 4,000 a month."""
    return overlay(tmp_path, "jiaxing", {"contributions.published_figures": {"2026-01-01": {"social_insurance_floor": 4000}}})


def test_jiaxing_20_years_in_all(jx):
    """嘉兴 (十): 15 actual + 5 deemed = 20 years → eligible, nothing to top up."""
    doc = check(history("jiaxing", credited=[("actual", 15, True), ("deemed", 5, False)]), "2026-03-01", (jx,))
    assert doc["eligible"] is True and doc["top_up"] == []
    assert list(req(doc)) == ["total"]  # the province's requirement is for non-local workers only


def test_jiaxing_top_up_monthly_7_5_or_one_off_6_percent_of_the_floor(jx):
    """嘉兴 (十)1、2: 18 years → 24 months missing; monthly 4,000 × 7.5% = 300 a month, 7,200 in
    all; one-off 4,000 × 6% × 24 = 5,760."""
    doc = check(history("jiaxing", credited=[("actual", 18, True)]), "2026-03-01", (jx,))
    assert doc["eligible"] is False and doc["missing_months"] == "24"
    got = options(doc)
    assert set(got) == {"monthly", "one_off"}
    assert (got["monthly"]["per_month"], got["monthly"]["amount"], got["monthly"]["months"]) == ("300.00", "7200.00", 24)
    assert got["one_off"]["amount"] == "5760.00"
    assert "(十)2" in got["one_off"]["clause"]


def test_jiaxing_top_up_names_the_province_floor_of_the_year():
    """嘉兴 (十)1: without the 2026 floor each option names it and its clause."""
    doc = check(history("jiaxing", credited=[("actual", 18, True)]), "2026-03-01")
    for option in doc["top_up"]:
        assert option["missing"]["name"] == "contributions.published_figures.social_insurance_floor"
        assert "version from 2026-01-01" in option["missing"]["clause"]


def test_jiaxing_non_local_needs_the_provinces_years():
    """嘉兴 (十一): 符合本省缴费年限要求 — the province's requirement is not in the text."""
    with pytest.raises(MissingPolicyValue) as err:
        check(history("jiaxing", hukou="other", credited=[("actual", 25, False)]), "2026-03-01")
    assert err.value.name == "retirement.requirements.province.years"
    assert "(十一)" in err.value.clause


@pytest.fixture
def jx_province(tmp_path: Path) -> str:
    """The province's requirement read as 15 years, and the 2026 floor 4,000."""
    return overlay(tmp_path, "jiaxing", {
        "retirement.requirements": {"2025-01-01": {"province": {"years": 15}}},
        "contributions.published_figures": {"2026-01-01": {"social_insurance_floor": 4000}},
    }, name="province.yaml")


def test_jiaxing_non_local_below_the_province_requirement_9_5_monthly(jx_province):
    """嘉兴 (十一)2: 12 years → province 36 months short: only 9.5% monthly until it is met,
    4,000 × 9.5% = 380 a month × 36 = 13,680."""
    doc = check(history("jiaxing", hukou="province", credited=[("actual", 12, False)]), "2026-03-01", (jx_province,))
    assert req(doc)["province"]["missing_months"] == "36" and req(doc)["total"]["missing_months"] == "96"
    got = options(doc)
    assert set(got) == {"province_monthly"}
    assert (got["province_monthly"]["per_month"], got["province_monthly"]["months"], got["province_monthly"]["amount"]) == ("380.00", 36, "13680.00")


def test_jiaxing_non_local_meeting_the_province_requirement_tops_up_to_20(jx_province):
    """嘉兴 (十一)1: 16 years ≥ 15 → the ordinary 7.5% / 6% options for the 48 months to 20."""
    doc = check(history("jiaxing", hukou="other", credited=[("actual", 16, False)]), "2026-03-01", (jx_province,))
    got = options(doc)
    assert set(got) == {"monthly", "one_off"} and got["one_off"]["months"] == 48
    assert got["one_off"]["amount"] == "11520.00"  # 4,000 × 6% × 48


# ---------------------------------------------------------------------- 杭州


@pytest.fixture
def hz(tmp_path: Path) -> str:
    """2026: 省平工资 8,000 a month."""
    return overlay(tmp_path, "hangzhou", {"contributions.published_figures": {"2026-01-01": {"average_wage": 8000}}})


def test_hangzhou_10_local_actual_and_20_in_all():
    """杭州办法 二、退休段: 24 paid months + 8 local actual years = 10; + 10 deemed = 20 → eligible."""
    hist = history("hangzhou", credited=[("actual", 8, True), ("deemed", 10, False)], contributions=paid_months("2024-01", 24))
    doc = check(hist, "2026-01-01")
    assert doc["eligible"] is True
    assert req(doc)["local_actual"]["counted_years"] == "10.00" and req(doc)["total"]["counted_years"] == "20.00"


def test_hangzhou_military_years_count_as_local_actual():
    """细则 一、本市实际缴费年限段: 在部队参加医保的实际缴费年限 — 8 local + 2 military = 10."""
    doc = check(history("hangzhou", credited=[("actual", 8, True), ("military", 2, False), ("pre_reform", 10, False)]), "2026-03-01")
    assert req(doc)["local_actual"]["met"] and req(doc)["total"]["met"]


def test_hangzhou_top_up_8_9_percent_and_the_critical_illness_premium(hz):
    """细则 一、延缴/一次性补缴段: 5 local + 15 transferred: total met, local 60 months short.
    延缴 at the flexible standard: 8,000 × 60% = 4,800 × 8.9% = 427.20 a month, 25,632 for 60;
    一次性 8,000 × 8.9% × 60 = 42,720 + 大病 48 × 5 years = 240 → 42,960."""
    doc = check(history("hangzhou", credited=[("actual", 5, True), ("transferred", 15, False)]), "2026-03-01", (hz,))
    assert req(doc)["total"]["met"] and req(doc)["local_actual"]["missing_months"] == "60"
    got = options(doc)
    assert (got["monthly"]["per_month"], got["monthly"]["amount"]) == ("427.20", "25632.00")
    assert (got["one_off"]["critical_illness"], got["one_off"]["amount"]) == ("240.00", "42960.00")


def test_hangzhou_certified_persons_must_extend_monthly_subsidised(hz):
    """细则 一、延缴段: 持证人员…应延缴至规定年限，个人应缴纳部分由政府按规定补助 — no one-off;
    特困 fully, 低保边缘 half (427.20 → 213.60 each)."""
    events = [{"date": "2025-01-01", "type": "assistance", "assistance": "marginal"}]
    hist = history("hangzhou", credited=[("actual", 5, True), ("transferred", 15, False)], events=events)
    got = options(check(hist, "2026-03-01", (hz,)))
    assert set(got) == {"monthly"}
    assert {f["funder"]: f["amount"] for f in got["monthly"]["funding_per_month"]} == {"person": "213.60", "government": "213.60"}


def test_hangzhou_top_up_names_the_provincial_average():
    doc = check(history("hangzhou", credited=[("actual", 5, True), ("transferred", 15, False)]), "2026-03-01")
    assert {t["missing"]["name"] for t in doc["top_up"]} == {"contributions.published_figures.average_wage"}


# ---------------------------------------------------------------------- 随州


@pytest.mark.parametrize("day, sex, required", [
    ("2025-12-31", "M", "25.00"),
    ("2026-01-01", "M", "26.00"),
    ("2027-07-01", "M", "27.00"),
    ("2028-12-31", "M", "28.00"),
    ("2028-12-31", "F", "25.00"),
])
def test_suizhou_years_rise_for_men_from_2026(day, sex, required):
    """随州 第十五条: men 25 until the end of 2025, then one more a year; women 25."""
    doc = check(history("suizhou", sex=sex, credited=[("actual", 30, True)]), day)
    assert req(doc)["total"]["required_years"] == required and doc["eligible"]


def test_suizhou_10_actual_years_in_the_city():
    """随州 第十五条、第十六条: 20 transferred (视同) + 8 local actual: total met, local 24 months short."""
    doc = check(history("suizhou", credited=[("actual", 8, True), ("transferred", 20, False)]), "2025-06-01")
    assert req(doc)["total"]["met"] is True
    assert req(doc)["local_actual"]["missing_months"] == "24"
    # 第十七条 prices the years on the person's own base — the history declares none
    assert all("no declared `base`" in t["problem"] for t in doc["top_up"])


@pytest.fixture
def sui(tmp_path: Path) -> str:
    return overlay(tmp_path, "suizhou", {"contributions.published_figures": {"2026-01-01": {"personal_base_floor": 3500, "personal_base_cap": 18000}}})


def test_suizhou_one_off_on_the_base_rising_5_percent_a_year(sui):
    """随州 第十七条: 10 local + 13.5 transferred + 2 paid months = 23 y 8 m of 26 → 28 months.
    Wage 3,000 raised to 3,500; 9% = 315 a month: 12 × 315 = 3,780, 12 × 330.75 = 3,969,
    4 × 347.2875 = 1,389.15 → 9,138.15. Yearly: 3,780 a year."""
    hist = history("suizhou", credited=[("actual", 10, True), ("transferred", "13.5", False)],
                   contributions=paid_months("2026-01", 2, base="3000.00"))
    doc = check(hist, "2026-03-01", (sui,))
    got = options(doc)
    assert got["one_off"]["months"] == 28 and got["one_off"]["amount"] == "9138.15"
    assert got["one_off"]["base"]["how"] == "declared 3000.00, raised to the floor 3500.00"
    assert (got["yearly"]["per_year"], got["yearly"]["amount"]) == ("3780.00", "8820.00")


def test_suizhou_flexible_worker_tops_up_on_the_floor(sui):
    """随州 第十八条: a flexible worker's base is the province's floor 3,500 — the same 315 a month."""
    doc = check(history("suizhou", mode="flexible", credited=[("actual", 25, True)]), "2026-03-01", (sui,))
    assert options(doc)["one_off"]["amount"] == "3780.00"  # 12 months at 315


def test_escalating_sum():
    """随州 第十七条 逐年递增5%: 100 a month for 25 months = 1,200 + 1,260 + 1 × 110.25."""
    assert escalating(Decimal("100"), 25, Decimal("5")) == Decimal("2570.25")


# ---------------------------------------------------------------------- 苏州


@pytest.mark.parametrize("sex, years, eligible", [("F", 20, True), ("M", 20, False), ("M", 25, True)])
def test_suzhou_men_25_women_20_deemed_included(sex, years, eligible):
    """苏州 第二十二条: 10 actual + 6 pre-2003 pension years (视同) + the rest deemed."""
    hist = history("suzhou", sex=sex, credited=[("actual", 10, True), ("pre_reform", 6, False), ("deemed", years - 16, False)])
    assert check(hist, "2026-03-01")["eligible"] is eligible


def test_suzhou_converted_resident_years_need_the_ratio(tmp_path):
    """苏州 第三十条: 按比例折算 — blank; at 50%, 8 resident years are 4 actual years."""
    hist = history("suzhou", sex="F", credited=[("actual", 16, True), ("resident_converted", 8, True)])
    with pytest.raises(MissingPolicyValue) as err:
        check(hist, "2026-03-01")
    assert err.value.name == "retirement.requirements.total.counts.resident_converted.ratio"
    assert "第三十条" in err.value.clause
    ratio = overlay(tmp_path, "suzhou", {"retirement.requirements": {"effective": {"total": {"counts": {"resident_converted": {"ratio": 50}}}}}})
    doc = check(hist, "2026-03-01", (ratio,))
    assert doc["eligible"] and req(doc)["total"]["counts"]["resident_converted"] == "any at 50%"


def test_suzhou_top_up_standards_are_blank():
    """苏州 第二十二条: 继续按月缴费…也可以按照规定一次性缴纳 — each option names its blank."""
    doc = check(history("suzhou", sex="F", credited=[("actual", 18, True)]), "2026-03-01")
    assert doc["missing_months"] == "24"
    for option in doc["top_up"]:
        assert option["missing"]["name"] == f"retirement.top_up.{option['option']}.rate"
        assert "第二十二条" in option["missing"]["clause"]


# ---------------------------------------------------------------------- 舟山


@pytest.mark.parametrize("credited, eligible", [
    ([("actual", 15, True), ("military", 5, False)], True),
    ([("actual", 15, True), ("deemed", 5, False)], False),
    ([("actual", 12, True), ("transferred", 8, False)], True),
])
def test_zhoushan_20_actual_years_military_counts(credited, eligible):
    """舟山 第十一条: 实际缴费年限累计二十年，军人服现役年限视同实际缴费年限; deemed years do not count."""
    assert check(history("zhoushan", credited=credited), "2026-03-01")["eligible"] is eligible


def test_zhoushan_top_up_standard_is_blank():
    doc = check(history("zhoushan", credited=[("actual", 15, True)]), "2026-03-01")
    got = options(doc)
    assert set(got) == {"monthly", "one_off"} and got["one_off"]["months"] == 60
    assert "第十一条" in got["one_off"]["missing"]["clause"]


@pytest.mark.parametrize("city", ["jiaxing", "hangzhou", "suizhou", "suzhou", "zhoushan"])
@pytest.mark.parametrize("hukou, sex", [("local", "M"), ("other", "F")])
def test_every_city_assesses_or_names_its_blank(city, hukou, sex):
    """Short of the years everywhere: each option is priced or names what it lacks."""
    hist = history(city, sex=sex, hukou=hukou, credited=[("actual", 12, True)], contributions=paid_months("2026-01", 2))
    try:
        doc = check(hist, "2026-03-01")
    except MissingPolicyValue as err:
        assert err.city == city and err.clause
    else:
        assert doc["eligible"] is False and doc["top_up"]
        for option in doc["top_up"]:
            assert option["months"] > 0
            assert "amount" in option or "missing" in option or "problem" in option


# ---------------------------------------------------------------------- the command


def test_command_prints_json(tmp_path, hz):
    run = run_cli("retirement", write(tmp_path, history("hangzhou", credited=[("actual", 5, True), ("transferred", 15, False)])),
                  "--date", "2026-03-01", "--overlay", hz)
    assert run.code == 0, run.err
    assert run.err == ""
    doc = run.json
    assert doc["eligible"] is False and doc["missing_months"] == "60"
    assert options(doc)["one_off"]["amount"] == "42960.00"


def test_command_table(tmp_path):
    run = run_cli("retirement", write(tmp_path, history("zhoushan", credited=[("actual", 15, True)])), "--date", "2026-03-01", "--table")
    assert run.code == 0, run.err
    assert "not eligible" in run.out and "60 month(s) missing" in run.out
    assert "第十一条" in run.out and "missing retirement.top_up" in run.out


@pytest.mark.parametrize("args, message", [
    ((), "give the retirement date"),
    (("--date", "2026-02-30"), "is not a date YYYY-MM-DD"),
    (("--date", "2026-3-1"), "is not a date YYYY-MM-DD"),
])
def test_command_bad_date(tmp_path, args, message):
    assert message in refused(tmp_path, history("zhoushan"), *args)


def test_command_unknown_key(tmp_path):
    hist = history("zhoushan")
    hist["credited_years"] = [{"kind": "actual", "years": "3", "where": "x"}]
    assert "where" in refused(tmp_path, hist, "--date", "2026-03-01")


def test_command_unknown_credit_kind(tmp_path):
    hist = history("zhoushan")
    hist["credited_years"] = [{"kind": "honorary", "years": "3"}]
    assert "honorary" in refused(tmp_path, hist, "--date", "2026-03-01")


def test_command_no_employee_enrolment(tmp_path):
    hist = history("zhoushan")
    hist["enrolments"] = [{"scheme": "resident", "category": "adult", "mode": "resident", "start": "2020-01-01"}]
    assert "no employee enrolment" in refused(tmp_path, hist, "--date", "2026-03-01")


def test_command_names_a_blank_requirement(tmp_path):
    err = refused(tmp_path, history("jiaxing", hukou="other", credited=[("actual", 25, False)]), "--date", "2026-03-01")
    assert "retirement.requirements.province.years" in err and "(十一)" in err


def test_command_date_outside_the_policy(tmp_path):
    assert "outside 杭州's policy" in refused(tmp_path, history("hangzhou"), "--date", "2025-06-01")
