"""苏州 Suzhou: a draft whose figures are mostly delegated (苏州市医疗保障办法, readings Z1/Z2).

The shipped policy carries the full structure and the few figures the text gives (残疾军人
90% / 95%, 职工大额 95% above the basic limit); every delegated figure is ``null``, listed by
``yibao policy check suzhou``, refused at settlement with its name and clause, and supplied
by an operator's overlay without code changes.
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import case, run_cli, settle, visit, write_case
from yibao.errors import MissingPolicyValue
from yibao.policy.loader import load_city

AMOUNT_FIELDS = [
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
    "act_pay_dedc", "hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "oth_pay", "fund_pay_sumamt",
    "acct_pay", "acct_mulaid_pay", "psn_cash_pay", "psn_part_amt", "balc",
]

# ---------------------------------------------------------------------- filling the template

#: A full, valid value for a parameter whose whole value the text leaves blank.
WHOLE = {
    "deductible": {"regime": "annual", "standard": 1000},
    "rates": {"scale": [{"from": 0, "rate": 85}]},
    "expense_limit": 300000,
    "nonlocal": [],  # settled as local
}
DISEASES = {"diseases.chronic": ["hypertension", "diabetes"], "diseases.special": ["malignant_tumor", "uremia_dialysis"]}
#: Figures for blanks inside a value, by the key that holds them.
FIGURES = {"threshold": 20000, "payment_limit": 400000, "annual_limit": 100000, "limit": 2000,
           # maternity: the nutrition grant, and the delegated rules of flexible workers and the unemployed
           "amount": 1500, "flexible": {"paid_to": "person", "base": "own_average"},
           "unemployed": {"paid_to": "person", "base": "own_average"}}
#: contributions and retirement (docs/lifecycle): rates, bases, the province's base limits,
#: the unemployed's standard and the resident-years conversion ratio.
FIGURES.update({"rate": 8, "base": 6000, "same_as": "flexible", "social_insurance_floor": 4000,
                "social_insurance_cap": 20000, "ratio": 50})
CI_SCALE = [{"from": 0, "rate": 60}]
ASSISTANCE_RATE = 70


def _fill(node: Any, key: str | None) -> Any:
    if isinstance(node, dict):
        return {k: _fill(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, key) for v in node]
    if node is not None:
        return node
    if key == "scale":
        return copy.deepcopy(CI_SCALE)
    if key in FIGURES:
        return FIGURES[key]
    if key in ("destitute", "subsistence", "marginal", "expenditure_poverty", "orphan", "disabled_severe", "other"):
        return ASSISTANCE_RATE
    raise AssertionError(f"no figure for a blank under {key!r}")


def fill_template(skeleton: dict, *, effective: dt.date | None) -> dict:
    """Replace every ``null`` of ``yibao policy template suzhou`` by a figure."""
    policy = load_city("suzhou")
    out = copy.deepcopy(skeleton)
    for name, body in out["parameters"].items():
        ptype = policy.get(name).type
        for version in body["values"].values():
            if version["value"] is None:
                version["value"] = copy.deepcopy(DISEASES[name] if ptype == "diseases" else WHOLE[ptype])
            else:
                version["value"] = _fill(version["value"], None)
    if effective is None:
        out.pop("effective", None)
    else:
        out["effective"] = {"from": effective}
    return out


@pytest.fixture(scope="module")
def skeleton(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("suzhou") / "template.yaml"
    run = run_cli("policy", "template", "suzhou", "-o", str(path))
    assert run.code == 0, run.err
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _write_overlay(path: Path, data: dict) -> str:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def overlay(skeleton, tmp_path_factory) -> str:
    """Every blank supplied, in force from 2026-01-01."""
    return _write_overlay(tmp_path_factory.mktemp("suzhou") / "overlay.yaml", fill_template(skeleton, effective=dt.date(2026, 1, 1)))


@pytest.fixture(scope="module")
def overlay_undated(skeleton, tmp_path_factory) -> str:
    """Every blank supplied except the document's effective date."""
    return _write_overlay(tmp_path_factory.mktemp("suzhou") / "undated.yaml", fill_template(skeleton, effective=None))


@pytest.fixture(scope="module")
def ci_only_overlay(tmp_path_factory) -> str:
    """Only the 大病保险 figures: enough for a 残疾军人 settlement (no other blank is needed)."""
    data = {
        "city": "suzhou",
        "parameters": {
            "layers.critical_illness": {
                "values": {"effective": {"value": {"threshold": 20000, "scale": CI_SCALE, "payment_limit": 400000}}}
            }
        },
    }
    return _write_overlay(tmp_path_factory.mktemp("suzhou") / "ci.yaml", data)


def D(text: str) -> Decimal:
    return Decimal(text)


def check_identities(s: dict) -> None:
    parts = sum(D(s[f]) for f in ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt"))
    assert D(s["medfee_sumamt"]) == parts == D(s["fund_pay_sumamt"]) + D(s["psn_part_amt"])
    funds = sum(D(s[f]) for f in ("hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "oth_pay"))
    assert D(s["fund_pay_sumamt"]) == funds
    assert D(s["psn_part_amt"]) == D(s["acct_pay"]) + D(s["psn_cash_pay"])
    for field in AMOUNT_FIELDS:
        assert D(s[field]) >= 0, field
    assert s["trace"]


# ---------------------------------------------------------------------- 1. policy check


def _name_column(out: str) -> str:
    """The `policy check` table's parameter column, each long name's wrapped lines joined."""
    names: list[str] = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")] if line.startswith("│") else []
        if len(cells) < 2:
            continue
        if cells[0] or not names:
            names.append(cells[1])
        else:
            names[-1] += cells[1]
    return "\n".join(names)


def test_policy_check_lists_every_missing_value_with_its_clause():
    missing = load_city("suzhou").missing_values()
    run = run_cli("policy", "check", "suzhou")
    assert run.code == 0, run.err
    assert f"{len(missing)} missing values" in run.out
    assert "第八十三条" in run.out  # the blank effective date is reported too
    names = _name_column(run.out)
    for m in missing:
        assert m.name.split("[")[0] in names, m.name
    for clause in ("第十二条", "第十三条", "第十四条", "第三十一条", "第三十二条", "第三十三条", "第三十六条", "第四十一条"):
        assert clause in run.out, clause
    # the template's header lists each one in full, with its whole clause
    tmpl = run_cli("policy", "template", "suzhou")
    assert tmpl.code == 0, tmpl.err
    for m in missing:
        assert f"#   {m.name}  —  {m.clause}" in tmpl.out


def test_the_expected_blanks_and_the_given_figures():
    policy = load_city("suzhou")
    names = {m.name for m in policy.missing_values()}
    for whole in (
        "employee.outpatient.deductible", "employee.outpatient.rates", "employee.outpatient.expense_limit",
        "employee.special.deductible", "employee.special.rates",
        "employee.inpatient.deductible", "employee.inpatient.rates", "employee.inpatient.expense_limit",
        "resident.outpatient.rates", "resident.outpatient.expense_limit",
        "resident.chronic.deductible", "resident.chronic.rates", "resident.special.deductible", "resident.special.rates",
        "resident.inpatient.deductible", "resident.inpatient.rates", "resident.inpatient.expense_limit",
        "diseases.special", "diseases.chronic",
        "layers.critical_illness.threshold", "layers.critical_illness.scale", "layers.critical_illness.payment_limit",
        "assistance.assistance.annual_limit",
    ):
        assert whole in names, whole
    assert {n for n in names if n.startswith("assistance.assistance.rate")} == {
        f"assistance.assistance.rate.by_assistance[{c}]"
        for c in ("destitute", "subsistence", "marginal", "expenditure_poverty", "orphan", "disabled_severe", "other")
    }
    # what the text does give is not blank
    for given in ("employee.veteran_outpatient.rates", "employee.veteran_inpatient.rates", "layers.major_medical",
                  "resident.outpatient.deductible", "catalogue.selfpay_default", "account.remaining_share"):
        assert not any(n == given or n.startswith(given + ".") for n in names), given
    assert policy.get("layers.major_medical").versions[0].raw["scale"] == [{"from": 0, "rate": 95}]
    assert policy.document.start is None and policy.document.start_missing
    for m in policy.missing_values():
        assert m.clause.startswith("苏州 第"), m


# ---------------------------------------------------------------------- 2. refused without the figures


def test_employee_inpatient_is_refused_naming_the_deductible_and_its_clause(tmp_path):
    c = case("suzhou", None, visit("V1", "2026-03-01", "inpatient", "tertiary", inscope="20000.00"))
    run = run_cli("settle", write_case(tmp_path, c))
    assert run.code != 0
    assert run.out == ""
    assert "employee.inpatient.deductible" in run.err
    assert "第十四条" in run.err
    assert "V1" in run.err


def test_a_filed_special_visit_is_refused_until_the_disease_list_is_supplied():
    c = case(
        "suzhou",
        {"filings": {"chronic": [], "special": ["malignant_tumor"]}},
        visit("V1", "2026-03-01", "special", "tertiary", inscope="5000.00", disease="malignant_tumor"),
    )
    with pytest.raises(MissingPolicyValue) as err:
        settle(c)
    assert err.value.name == "diseases.special"
    assert "第十三条" in err.value.clause


def test_a_resident_filed_chronic_visit_is_refused_until_the_disease_list_is_supplied():
    c = case(
        "suzhou",
        {"scheme": "resident", "category": "adult", "filings": {"chronic": ["hypertension"], "special": []}},
        visit("V1", "2026-03-01", "chronic", "primary", inscope="500.00", disease="hypertension"),
    )
    with pytest.raises(MissingPolicyValue) as err:
        settle(c)
    assert err.value.name == "diseases.chronic"
    assert "第三十一条" in err.value.clause


def test_a_nonlocal_visit_is_refused_until_the_nonlocal_rules_are_supplied():
    c = case("suzhou", {"flags": ["disabled_veteran"]}, visit("V1", "2026-03-01", "outpatient", "secondary", inscope="100.00", location="province", route="referral"))
    with pytest.raises(MissingPolicyValue) as err:
        settle(c)
    assert err.value.name == "employee.nonlocal"
    assert "第七十三条" in err.value.clause


# ---------------------------------------------------------------------- 3. 残疾军人


def test_veteran_settlement_without_overlay_stops_at_the_ci_threshold(tmp_path):
    """The veteran's pooled stage needs no blank figure (90%, no deductible, no limit), so the
    first blank the settlement meets is the 大病保险 threshold (第三十六条) for the 10% left."""
    c = case("suzhou", {"flags": ["disabled_veteran"]}, visit("V1", "2026-03-01", "outpatient", "secondary", inscope="1000.00"))
    run = run_cli("settle", write_case(tmp_path, c))
    assert run.code != 0
    assert run.out == ""
    assert "layers.critical_illness.threshold" in run.err
    assert "第三十六条" in run.err
    assert "employee." not in run.err  # nothing of the basic benefit was missing
    with pytest.raises(MissingPolicyValue) as err:
        settle(c)
    # (the engine's layer stage currently repeats the key: `…threshold.threshold`)
    assert err.value.name.startswith("layers.critical_illness.threshold")
    assert "第三十六条" in err.value.clause


def test_veteran_rates_are_the_texts_own(ci_only_overlay):
    """With only the 大病 figures supplied, the veteran settles: 90% outpatient, 95% inpatient,
    no deductible, no basic expense limit (第十八条)."""
    c = case(
        "suzhou",
        {"flags": ["disabled_veteran"], "account": {"current": "0.00", "history": "0.00"}},
        visit("V1", "2026-03-01", "outpatient", "secondary", inscope="1000.00"),
        visit("V2", "2026-04-01", "pharmacy", "pharmacy", inscope="200.00"),
        visit("V3", "2026-05-01", "inpatient", "tertiary", inscope="10000.00"),
        visit("V4", "2026-06-01", "day_surgery", "secondary", inscope="3000.00"),
    )
    s = settle(c, (ci_only_overlay,))
    assert [x["hifp_pay"] for x in s] == ["900.00", "180.00", "9500.00", "2850.00"]
    assert all(x["act_pay_dedc"] == "0.00" for x in s)
    assert all(x["hifob_pay"] == "0.00" and x["hifmi_pay"] == "0.00" for x in s)
    assert [x["psn_cash_pay"] for x in s] == ["100.00", "20.00", "500.00", "150.00"]
    for x in s:
        check_identities(x)


def test_veteran_big_inpatient_stay_has_no_expense_limit(ci_only_overlay):
    c = case("suzhou", {"flags": ["disabled_veteran"]}, visit("V1", "2026-03-01", "inpatient", "tertiary", inscope="1000000.00"))
    (s,) = settle(c, (ci_only_overlay,))
    assert s["hifp_pay"] == "950000.00"
    assert s["hifob_pay"] == "0.00"
    # 大病 on the 5% left: (50,000 − 20,000) × 60%
    assert s["hifmi_pay"] == "18000.00"
    check_identities(s)


# ---------------------------------------------------------------------- 4. the operator's overlay


def test_template_overlay_validates_and_leaves_nothing_missing(overlay):
    run = run_cli("policy", "check", "suzhou", "--overlay", overlay)
    assert run.code == 0, run.err
    assert "no missing values" in run.out
    assert load_city("suzhou", (overlay,)).missing_values() == []


def test_settlements_with_the_filled_template(overlay, tmp_path):
    emp = case(
        "suzhou",
        {"account": {"current": "0.00", "history": "0.00"}},
        visit("E1", "2026-02-01", "outpatient", "secondary", inscope="3000.00"),
        visit("E2", "2026-03-01", "inpatient", "tertiary", inscope="400000.00"),
    )
    run = run_cli("settle", write_case(tmp_path, emp, "emp.json"), "--overlay", overlay)
    assert run.code == 0, run.err
    e1, e2 = run.json["settlements"]
    for s in (e1, e2):
        check_identities(s)
    # outpatient: annual deductible 1,000, then 85%
    assert e1["act_pay_dedc"] == "1000.00"
    assert e1["hifp_pay"] == "1700.00"
    # inpatient: its own pool: deductible 1,000; 85% up to the expense limit 300,000 on the axis
    assert e2["act_pay_dedc"] == "1000.00"
    hifp = (Decimal(300000) - 1000) * Decimal("0.85")
    assert D(e2["hifp_pay"]) == hifp == D("254150.00")
    # 职工大额 (第三十七条): 95% of the in-scope part beyond the basic limit, by hand
    beyond = Decimal(400000) - 300000
    assert D(e2["hifob_pay"]) == beyond * Decimal("0.95") == D("95000.00")
    # 大病: the in-scope personal burden less 大额, on the CI axis (E1 already put 1,300 on it)
    ci_basis = Decimal(400000) - hifp - D(e2["hifob_pay"])
    assert D(e2["hifmi_pay"]) == (Decimal(1300) + ci_basis - 20000) * Decimal("0.60") == D("19290.00")
    rows = {r["fund_pay_type"]: r["fund_payamt"] for r in e2["setldetail"]}
    assert rows["310100"] == "254150.00" and rows["330100"] == "95000.00" and rows["390200"] == "19290.00"
    assert e2["psn_cash_pay"] == "31560.00"


def test_resident_inpatient_and_assistance_with_the_filled_template(overlay, tmp_path):
    bill = {"inscp_scp_amt": "200000.00", "preselfpay_amt": "500.00", "overlmt_selfpay": "300.00", "fulamt_ownpay_amt": "200.00"}
    res = case("suzhou", {"scheme": "resident", "category": "adult"}, visit("R1", "2026-05-01", "inpatient", "secondary", amounts=bill))
    poor = case("suzhou", {"scheme": "resident", "category": "adult", "assistance": "subsistence"}, visit("A1", "2026-05-01", "inpatient", "secondary", amounts=bill))
    out = {}
    for name, c in (("res", res), ("poor", poor)):
        run = run_cli("settle", write_case(tmp_path, c, f"{name}.json"), "--overlay", overlay)
        assert run.code == 0, run.err
        (out[name],) = run.json["settlements"]
        check_identities(out[name])
    r, a = out["res"], out["poor"]
    # basic: (200,000 − 1,000) × 85%; no 大额 for residents
    assert r["hifp_pay"] == a["hifp_pay"] == "169150.00"
    assert r["hifob_pay"] == "0.00"
    # 大病: 先行自付 500 + in-scope 30,850 not paid by the fund; (31,350 − 20,000) × 60%
    assert r["hifmi_pay"] == a["hifmi_pay"] == "6810.00"
    assert r["maf_pay"] == "0.00"  # no assistance category
    # 医疗救助: 70% of what is left in scope (超限价 and 全自费 excluded): (31,350 − 6,810) × 70%
    assert a["maf_pay"] == "17178.00"
    assert a["psn_cash_pay"] == "7862.00"
    assert {row["fund_pay_type"] for row in a["setldetail"]} == {"390100", "390200", "610100"}


def test_resident_chronic_shares_the_inpatient_limit(overlay):
    """第三十二条 二款: 住院、门诊特殊病、门诊慢性病 count together against one limit."""
    c = case(
        "suzhou",
        {"scheme": "resident", "category": "elderly", "filings": {"chronic": ["hypertension"], "special": []}},
        visit("R1", "2026-03-01", "inpatient", "tertiary", inscope="350000.00"),
        visit("R2", "2026-04-01", "chronic", "primary", inscope="800.00", disease="hypertension"),
        visit("R3", "2026-04-02", "outpatient", "primary", inscope="800.00"),
    )
    r1, r2, r3 = settle(c, (overlay,))
    assert r1["hifp_pay"] == "254150.00"  # (300,000 − 1,000) × 85%: 50,000 beyond the limit
    assert r2["hifp_pay"] == "0.00"  # the shared limit is used up
    assert any(t["step"] == "expense_limit" for t in r2["trace"])
    # ordinary outpatient is its own pool with its own limit and no deductible (第三十一条): 800 × 85%
    assert r3["act_pay_dedc"] == "0.00" and r3["hifp_pay"] == "680.00"
    for s in (r1, r2, r3):
        check_identities(s)


def test_resident_maternity_subsidy_is_capped_by_the_standard(overlay):
    c = case(
        "suzhou",
        {"scheme": "resident", "category": "adult", "sex": "F"},
        visit("M1", "2026-03-01", "prenatal", "secondary", inscope="1500.00"),
        visit("M2", "2026-04-01", "prenatal", "secondary", inscope="1500.00"),
        visit("M3", "2026-09-01", "delivery", "secondary", inscope="5000.00"),
    )
    m1, m2, m3 = settle(c, (overlay,))
    assert (m1["hifp_pay"], m2["hifp_pay"], m3["hifp_pay"]) == ("1500.00", "500.00", "2000.00")
    assert all(s["act_pay_dedc"] == "0.00" for s in (m1, m2, m3))
    for s in (m1, m2, m3):
        check_identities(s)


def test_filled_disease_list_routes_special_visits(overlay):
    c = case(
        "suzhou",
        {"filings": {"chronic": [], "special": ["malignant_tumor", "lupus"]}},
        visit("S1", "2026-03-01", "special", "tertiary", inscope="5000.00", disease="malignant_tumor"),
        visit("S2", "2026-03-02", "special", "tertiary", inscope="5000.00", disease="lupus"),
    )
    s1, s2 = settle(c, (overlay,))
    assert "special line (inpatient pool)" in " ".join(t["rule"] for t in s1["trace"])
    # lupus is not on the supplied list: settled as ordinary outpatient
    assert "outpatient line (outpatient pool)" in " ".join(t["rule"] for t in s2["trace"])
    for s in (s1, s2):
        check_identities(s)


def test_special_visits_share_the_employee_limit_and_reach_major_medical(overlay):
    """第三十七条: 住院和门诊特殊病 accumulate together; beyond the basic limit 大额 pays 95%."""
    c = case(
        "suzhou",
        {"filings": {"chronic": [], "special": ["uremia_dialysis"]}},
        visit("I1", "2026-02-01", "inpatient", "tertiary", inscope="310000.00"),
        visit("S1", "2026-03-01", "special", "tertiary", inscope="4000.00", disease="uremia_dialysis"),
    )
    i1, s1 = settle(c, (overlay,))
    assert i1["hifp_pay"] == "254150.00" and i1["hifob_pay"] == "9500.00"  # 10,000 beyond × 95%
    # the special visit lies wholly beyond the shared limit. Its (supplied) annual deductible
    # counts on the inpatient pool's running total, which I1 already filled: nothing owed.
    assert s1["act_pay_dedc"] == "0.00"
    assert s1["hifp_pay"] == "0.00"
    assert s1["hifob_pay"] == "3800.00"  # 4,000 × 95%
    for s in (i1, s1):
        check_identities(s)


# ---------------------------------------------------------------------- 5. the effective date


def test_any_date_is_accepted_until_the_overlay_sets_the_effective_date(overlay_undated, overlay, tmp_path):
    c = case("suzhou", None, visit("V1", "2025-06-01", "outpatient", "secondary", inscope="3000.00"), visit("V2", "2031-06-01", "outpatient", "secondary", inscope="3000.00"))
    path = write_case(tmp_path, c)
    run = run_cli("settle", path, "--overlay", overlay_undated)
    assert run.code == 0, run.err
    assert [s["year"] for s in run.json["settlements"]] == [2025, 2031]

    early = case("suzhou", None, visit("V1", "2025-06-01", "outpatient", "secondary", inscope="3000.00"))
    run = run_cli("settle", write_case(tmp_path, early, "early.json"), "--overlay", overlay)
    assert run.code != 0
    assert run.out == ""
    assert "V1" in run.err and "2025-06-01" in run.err and "outside every policy version" in run.err

    later = case("suzhou", None, visit("V1", "2026-01-01", "outpatient", "secondary", inscope="3000.00"))
    run = run_cli("settle", write_case(tmp_path, later, "later.json"), "--overlay", overlay)
    assert run.code == 0, run.err
