"""舟山 Zhoushan: a draft whose figures are nearly all blank (readings Z1, Z2).

The shipped policy carries the structure and every figure the text gives; each blank is
``null``, listed by ``yibao policy check`` with its clause, refused at settlement with its
name and clause, and supplied by an operator's overlay. The overlay tests fill every blank
programmatically from ``yibao policy template`` and check settlements by hand.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from support import case, run_cli, settle, visit, write_case
from yibao.errors import MissingPolicyValue
from yibao.policy.loader import load_city

CITY = "zhoushan"
DAY = "2026-03-01"  # inside the overlay's effective date (2026-01-01)
AMOUNT_FIELDS = [
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
    "act_pay_dedc", "hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "oth_pay", "fund_pay_sumamt",
    "acct_pay", "acct_mulaid_pay", "psn_cash_pay", "psn_part_amt", "balc",
]
ASSISTED = ["destitute", "subsistence", "marginal", "expenditure_poverty", "disabled_severe", "orphan", "returned_poverty", "other"]


def zs(person: dict | None = None, *visits: dict) -> dict:
    return case(CITY, person, *visits)


def D(text: str) -> Decimal:
    return Decimal(text)


def check_identities(settlements: list[dict]) -> None:
    for s in settlements:
        for field in AMOUNT_FIELDS:
            assert D(s[field]) >= 0, (s["visit_id"], field)
        parts = D(s["fulamt_ownpay_amt"]) + D(s["overlmt_selfpay"]) + D(s["preselfpay_amt"]) + D(s["inscp_scp_amt"])
        assert D(s["medfee_sumamt"]) == parts
        assert D(s["medfee_sumamt"]) == D(s["fund_pay_sumamt"]) + D(s["psn_part_amt"])
        funds = sum(D(s[f]) for f in ("hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "oth_pay"))
        assert D(s["fund_pay_sumamt"]) == funds
        assert D(s["psn_part_amt"]) == D(s["acct_pay"]) + D(s["psn_cash_pay"])


# ---------------------------------------------------------------------- the shipped policy


def test_document_and_structure():
    policy = load_city(CITY)
    doc = policy.document
    assert doc.name == "舟山"
    assert doc.start is None and doc.start_missing
    assert "第八十六条" in doc.reference
    for param in policy.parameters.values():
        assert [v.start for v in param.versions] == [None], f"{param.name}: versions keyed `effective`"
        assert "舟山" in param.reference
    names = set(policy.parameters)
    assert {"employee.lines", "employee.nonlocal", "employee.special.benefit", "resident.special.rates",
            "resident.delivery.benefit", "resident.payment_caps", "layers.critical_illness",
            "assistance.assistance", "diseases.chronic", "diseases.special"} <= names
    # no 职工大额 in the text, no employee annual fund limit
    assert not any(p.type == "layer" and "major" in n for n, p in policy.parameters.items())
    assert "employee.payment_caps" not in names


def test_figures_the_text_gives():
    policy = load_city(CITY)
    val = lambda name: policy.get(name).versions[0].raw  # noqa: E731
    assert val("catalogue.selfpay_default") == "per_item"
    assert val("account.remaining_share") == {"remaining_from": ["current", "history"]}
    assert val("assistance.assistance")["rate"]["base"]["by_assistance"]["destitute"] == 100
    assert val("assistance.assistance")["rate"]["base"]["by_assistance"]["none"] == 0
    assert val("contributions.resident_funding")["income_share"] == 2.5
    assert val("contributions.resident_funding")["personal_min_fraction"] == 3
    assert val("retirement.requirements")["actual"]["years"] == 20
    assert val("eligibility.benefit_start_month") == 2
    assert val("eligibility.resident_late_enrolment_month") == 3
    assert val("employee.special.deductible") == {"regime": "none"}
    assert val("resident.special.deductible") == {"regime": "none"}
    assert val("employee.inpatient.deductible")["regime"] == "highest_level_top_up"
    assert val("resident.inpatient.deductible")["regime"] == "highest_level_top_up"
    # no 当年账户先行支付 (A1) anywhere
    assert not any(p.type == "benefit" and p.versions[0].value.account_first.text != "never" for p in policy.parameters.values())


# ---------------------------------------------------------------------- policy check


def _check_rows(out: str) -> list[tuple[str, str, str]]:
    """The rows of the `policy check` table: (#, parameter.path, clause), wrapped cells joined."""
    rows: list[list[str]] = []
    for line in out.splitlines():
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) < 3:
            continue
        if cells[0]:
            rows.append([cells[0], cells[1], cells[2]])
        elif rows:
            rows[-1][1] += cells[1]
            rows[-1][2] += cells[2]
    return [(r[0], r[1], r[2]) for r in rows]


def test_policy_check_lists_every_blank_with_its_clause():
    run = run_cli("policy", "check", CITY)
    assert run.code == 0, run.err
    missing = load_city(CITY).missing_values()
    assert len(missing) > 60
    title = re.search(r"(\d+) missing values", run.out)
    assert title and int(title.group(1)) == len(missing)
    assert "第八十六条" in run.out  # the blank effective date
    rows = _check_rows(run.out)
    assert len(rows) == len(missing)
    assert [int(r[0]) for r in rows] == list(range(1, len(missing) + 1))
    article = re.compile(r"第[一二三四五六七八九十百]+条")
    for (_, name, clause), m in zip(rows, missing):
        assert name.replace("…", "")[:25] == m.name[:25]
        assert article.search(m.clause), f"{m.name} has no clause"
        assert article.search(clause).group(0) == article.search(m.clause).group(0), m.name
    families = [
        ("employee.outpatient.deductible", "第二十三条"),
        ("employee.outpatient.rates", "第二十三条"),
        ("employee.inpatient.deductible", "第二十四条"),
        ("employee.inpatient.rates", "第二十四条"),
        ("employee.nonlocal", "第二十三条"),
        ("employee.nonlocal", "第二十四条"),
        ("resident.outpatient.rates", "第三十二条"),
        ("resident.inpatient.deductible", "第三十三条"),
        ("resident.inpatient.rates", "第三十三条"),
        ("resident.special.rates", "第三十四条"),
        ("resident.payment_caps", "第三十五条"),
        ("resident.payment_caps", "第五十一条"),
        ("layers.critical_illness.threshold", "第三十八条"),
        ("layers.critical_illness.scale", "第三十八条"),
        ("assistance.assistance.rate", "第四十二条"),
        ("assistance.assistance.annual_limit", "第四十二条"),
        ("diseases.chronic", "第六十条"),
        ("diseases.special", "第六十条"),
        ("contributions.unit.lines.employer.rate", "第九条"),
        ("contributions.base_limits.floor.share", "第九条"),
        ("contributions.critical_illness_premium", "第三十六条"),
        ("retirement.top_up.one_off.rate", "第十一条"),
        ("account.crediting", "第十七条"),
        ("maternity.birth_days.child_order", "第四十九条"),
        ("maternity.days_per_month", "第五十条"),
        ("maternity.qualifying.months", "第四十八条"),
    ]
    for prefix, article_text in families:
        assert any(m.name.startswith(prefix) and article_text in m.clause for m in missing), prefix
        assert any(name.startswith(prefix) and article_text in clause for _, name, clause in rows), prefix
    # the figures the text gives are not listed
    assert not any(m.name.startswith(("contributions.resident_funding", "retirement.requirements")) for m in missing)


# ---------------------------------------------------------------------- refusals without an overlay


def test_inpatient_without_overlay_is_refused_naming_the_deductible(tmp_path):
    path = write_case(tmp_path, zs(None, visit(date=DAY, kind="inpatient", level="tertiary", inscope="10000.00")))
    run = run_cli("settle", path)
    assert run.code != 0
    assert run.out == ""
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "employee.inpatient.deductible" in lines[0]
    assert "第二十四条" in lines[0]
    assert "V1" in lines[0]


def test_any_date_is_accepted_while_the_effective_date_is_blank():
    with pytest.raises(MissingPolicyValue) as err:
        settle(zs(None, visit(date="2019-05-05", kind="inpatient", level="secondary", inscope="100")))
    assert err.value.name.startswith("employee.inpatient.deductible")


@pytest.mark.parametrize("kind, line", [("chronic", "diseases.chronic"), ("special", "diseases.special")])
def test_filed_chronic_or_special_visit_needs_the_city_list(kind, line):
    person = {"filings": {kind: ["hypertension"]}}
    with pytest.raises(MissingPolicyValue) as err:
        settle(zs(person, visit(date=DAY, kind=kind, level="primary", disease="hypertension", inscope="300")))
    assert err.value.name == line
    assert "第六十条" in err.value.clause


def test_unfiled_chronic_visit_is_ordinary_outpatient():
    """G4: not filed → ordinary outpatient before any line is chosen; the list is not needed."""
    with pytest.raises(MissingPolicyValue) as err:
        settle(zs(None, visit(date=DAY, kind="chronic", level="primary", disease="hypertension", inscope="300")))
    assert err.value.name.startswith("employee.outpatient.deductible")
    assert "第二十三条" in err.value.clause


@pytest.mark.parametrize(
    "person, v, name, article",
    [
        ({"scheme": "resident", "category": "adult"}, {"kind": "outpatient", "level": "primary"}, "resident.outpatient.rates", "第三十二条"),
        ({"scheme": "resident", "category": "child"}, {"kind": "inpatient", "level": "secondary"}, "resident.inpatient.deductible", "第三十三条"),
        ({"category": "retired"}, {"kind": "family_bed", "level": "primary"}, "employee.inpatient.deductible", "第二十四条"),
        ({"sex": "F"}, {"kind": "prenatal", "level": "secondary"}, "employee.outpatient.deductible", "第二十三条"),
    ],
)
def test_other_lines_refuse_with_their_clause(person, v, name, article):
    with pytest.raises(MissingPolicyValue) as err:
        settle(zs(person, visit(date=DAY, inscope="500", **v)))
    assert err.value.name.startswith(name)
    assert article in err.value.clause


# ---------------------------------------------------------------------- the operator's overlay

DISEASE_LISTS = {
    "diseases.chronic": ["hypertension", "diabetes", "tuberculosis", "coronary_heart_disease"],
    "diseases.special": ["malignant_tumor", "uremia_dialysis", "schizophrenia", "severe_mental_disorder"],
}


def _leaf(name: str, ptype: str, path: tuple) -> object:
    """A plausible figure for a blank, by the parameter's type and where it sits."""
    if ptype == "diseases":
        return DISEASE_LISTS[name]
    if ptype == "deductible":
        return 1200 if "adjust" in path else 800
    if ptype == "rates":
        if "add" in path:
            return 3
        if "set" in path:
            return 60 + path[path.index("adjust") + 1]  # 60, 61, 62, … by adjustment
        return 85
    if ptype == "nonlocal":
        return -10
    if ptype == "payment_caps":
        return 100000
    if ptype == "layer":
        if "threshold" in path:
            return 20000 if "none" in path else 10000
        return 60
    if ptype == "assistance":
        return 100000 if "annual_limit" in path else 80
    if ptype == "rate":
        return 10
    return 12  # amount, count


def _fill(node: object, name: str, ptype: str, path: tuple = ()) -> object:
    if node is None:
        return _leaf(name, ptype, path)
    if isinstance(node, dict):
        return {k: _fill(v, name, ptype, path + (k,)) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, name, ptype, path + (i,)) for i, v in enumerate(node)]
    return node


@pytest.fixture(scope="module")
def overlay(tmp_path_factory) -> str:
    """`yibao policy template zhoushan -o F`, every null filled, effective from 2026-01-01."""
    folder = tmp_path_factory.mktemp("zhoushan")
    path = folder / "overlay.yaml"
    run = run_cli("policy", "template", CITY, "-o", str(path))
    assert run.code == 0, run.err
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["city"] == CITY and data["effective"] == {"from": None}
    policy = load_city(CITY)
    data["effective"] = {"from": dt.date(2026, 1, 1)}
    for name, body in data["parameters"].items():
        body["values"] = _fill(body["values"], name, policy.get(name).type)
    # a few distinct figures, to tell the rules apart by hand
    params = data["parameters"]
    res_rates = params["resident.inpatient.rates"]["values"]["effective"]["value"]
    res_rates["scale"][0]["rate"]["by_category"]["child, student"]["by_level"]["tertiary"] = 90
    params["resident.special.rates"]["values"]["effective"]["value"]["scale"][0]["rate"] = 75
    params["resident.payment_caps"]["values"]["effective"]["value"][1]["limit"] = 3000
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert "null" not in path.read_text(encoding="utf-8")
    return str(path)


def run_settle(tmp_path: Path, case_dict: dict, overlay: str) -> list[dict]:
    """Settle through the real command with the overlay; checks the contract's identities."""
    run = run_cli("settle", write_case(tmp_path, case_dict), "--overlay", overlay)
    assert run.code == 0, run.err
    assert run.err == ""
    settlements = run.json["settlements"]
    check_identities(settlements)
    return settlements


def test_overlay_supplies_every_blank(overlay):
    policy = load_city(CITY, [overlay])
    assert policy.missing_values() == []
    assert policy.document.start == dt.date(2026, 1, 1)
    run = run_cli("policy", "check", CITY, "--overlay", overlay)
    assert run.code == 0, run.err
    assert "no missing values" in run.out


def test_employee_inpatient_by_hand(tmp_path, overlay):
    """Deductible 800 (三级), rate 85: (10,000 − 800) × 85% = 7,820."""
    [s] = run_settle(tmp_path, zs(None, visit(date=DAY, kind="inpatient", level="tertiary", inscope="10000.00")), overlay)
    assert s["act_pay_dedc"] == "800.00"
    assert s["hifp_pay"] == "7820.00"
    assert s["hifmi_pay"] == "0.00" and s["maf_pay"] == "0.00"
    assert s["psn_part_amt"] == "2180.00"
    assert {r["fund_pay_type"] for r in s["setldetail"]} == {"310100"}


def test_employee_inpatient_deductible_once_a_year_topped_up(tmp_path, overlay):
    """A 二级 stay then a 三级 stay: 800 then nothing more (both standards are 800 in the fill)."""
    c = zs(
        {"category": "retired"},
        visit("V1", DAY, "inpatient", "secondary", inscope="1000.00"),
        visit("V2", "2026-05-01", "inpatient", "tertiary", inscope="1000.00"),
    )
    s1, s2 = run_settle(tmp_path, c, overlay)
    assert s1["act_pay_dedc"] == "800.00"
    assert s1["hifp_pay"] == "176.00"  # 200 × (85 + 3 retired)%
    assert s2["act_pay_dedc"] == "0.00"
    assert s2["hifp_pay"] == "880.00"


def test_employee_outpatient_retired_chronic_family_doctor(tmp_path, overlay):
    """Annual deductible 800; 基层 85 + retired 3 + chronic at 基层 3 + family doctor 3 = 94."""
    person = {"category": "retired", "flags": ["family_doctor"], "filings": {"chronic": ["hypertension"]}}
    c = zs(person, visit(date=DAY, kind="chronic", level="primary", disease="hypertension", inscope="2000.00"))
    [s] = run_settle(tmp_path, c, overlay)
    assert s["act_pay_dedc"] == "800.00"
    assert s["hifp_pay"] == "1128.00"


def test_employee_outpatient_and_the_account(tmp_path, overlay):
    """No A1: the account pays only the remaining share, current then history."""
    person = {"account": {"current": "100.00", "history": "500.00"}}
    c = zs(person, visit(date=DAY, kind="outpatient", level="tertiary", inscope="1000.00"))
    [s] = run_settle(tmp_path, c, overlay)
    assert s["act_pay_dedc"] == "800.00"
    assert s["hifp_pay"] == "170.00"
    assert s["acct_pay"] == "600.00" and s["psn_cash_pay"] == "230.00"
    assert s["balc"] == "0.00"


@pytest.mark.parametrize(
    "extra, hifp",
    [
        ({"location": "province", "route": "temporary"}, "150.00"),  # 85 − 10 points
        ({"location": "out_of_province", "route": "referral"}, "150.00"),
        ({"location": "province", "route": "long_term"}, "170.00"),  # 第五十九条: as local
    ],
)
def test_employee_outpatient_non_local(tmp_path, overlay, extra, hifp):
    c = zs(None, visit(date=DAY, kind="outpatient", level="secondary", inscope="1000.00", **extra))
    [s] = run_settle(tmp_path, c, overlay)
    assert s["hifp_pay"] == hifp


def test_assistance_recipient_non_local_is_settled_as_local(tmp_path, overlay):
    """第四十三条: 市外 at 市内 rates, and the level's deductible (not the 市外 standard)."""
    c = zs({"assistance": "marginal"}, visit(date=DAY, kind="inpatient", level="tertiary", location="province", route="temporary", inscope="10000.00"))
    [s] = run_settle(tmp_path, c, overlay)
    assert s["act_pay_dedc"] == "800.00"
    assert s["hifp_pay"] == "7820.00"
    c = zs(None, visit(date=DAY, kind="inpatient", level="tertiary", location="province", route="temporary", inscope="10000.00"))
    [s] = run_settle(tmp_path, c, overlay)
    assert s["act_pay_dedc"] == "1200.00"  # 市外住院起付标准
    assert s["hifp_pay"] == "6600.00"  # (10,000 − 1,200) × (85 − 10)%


def test_employee_special_at_the_tertiary_inpatient_rate(tmp_path, overlay):
    person = {"category": "retired", "filings": {"special": ["malignant_tumor"]}}
    c = zs(
        person,
        visit("V1", DAY, "special", "secondary", inscope="1000.00", disease="malignant_tumor"),
        visit("V2", DAY, "special", "pharmacy", inscope="1000.00", disease="malignant_tumor", location="province"),
    )
    s1, s2 = run_settle(tmp_path, c, overlay)
    assert s1["act_pay_dedc"] == "0.00"
    assert s1["hifp_pay"] == "880.00"  # 三级 85 + retired 3, whatever the level
    assert s2["hifp_pay"] == "780.00"  # 市外 三级: 88 − 10


def test_special_disease_not_on_the_list_is_ordinary_outpatient(tmp_path, overlay):
    person = {"filings": {"special": ["lupus"]}}
    c = zs(person, visit(date=DAY, kind="special", level="tertiary", inscope="1000.00", disease="lupus"))
    [s] = run_settle(tmp_path, c, overlay)
    assert s["act_pay_dedc"] == "800.00"
    assert s["hifp_pay"] == "170.00"


def test_resident_outpatient(tmp_path, overlay):
    """No deductible; 基层 85; 市外 the flat rate (adjust[0] = 60); 肺结核 at 基层 (adjust[2] = 62)."""
    person = {"scheme": "resident", "category": "adult", "filings": {"chronic": ["tuberculosis", "diabetes"]}}
    c = zs(
        person,
        visit("V1", DAY, "outpatient", "primary", inscope="500.00"),
        visit("V2", DAY, "outpatient", "tertiary", inscope="500.00", location="out_of_province", route="temporary"),
        visit("V3", DAY, "chronic", "primary", inscope="500.00", disease="tuberculosis"),
        visit("V4", DAY, "chronic", "secondary", inscope="500.00", disease="diabetes"),
        visit("V5", DAY, "chronic", "primary", inscope="500.00", disease="diabetes"),
    )
    s1, s2, s3, s4, s5 = run_settle(tmp_path, c, overlay)
    assert [s["act_pay_dedc"] for s in (s1, s2, s3, s4, s5)] == ["0.00"] * 5
    assert s1["hifp_pay"] == "425.00"
    assert s2["hifp_pay"] == "300.00"
    assert s3["hifp_pay"] == "310.00"
    assert s4["hifp_pay"] == "315.00"  # 二级 两病 (adjust[3] = 63)
    assert s5["hifp_pay"] == "305.00"  # 基层 慢性病 (adjust[1] = 61)
    assert {r["fund_pay_type"] for r in s1["setldetail"]} == {"390100"}


def test_resident_inpatient_minor_and_non_local(tmp_path, overlay):
    c = zs(
        {"scheme": "resident", "category": "student"},
        visit("V1", DAY, "inpatient", "tertiary", inscope="10000.00"),
        visit("V2", "2026-06-01", "inpatient", "tertiary", inscope="10000.00", location="province", route="referral"),
    )
    s1, s2 = run_settle(tmp_path, c, overlay)
    assert s1["act_pay_dedc"] == "800.00"
    assert s1["hifp_pay"] == "8280.00"  # minors and students 三级 90
    assert s2["act_pay_dedc"] == "400.00"  # 市外 1,200 topped up after 800
    assert s2["hifp_pay"] == "5760.00"  # (10,000 − 400) × 市外 60


def test_resident_child_special_takes_the_adult_rate(tmp_path, overlay):
    person = {"scheme": "resident", "category": "child", "filings": {"special": ["uremia_dialysis"]}}
    c = zs(
        person,
        visit("V1", DAY, "special", "primary", inscope="1000.00", disease="uremia_dialysis"),
        visit("V2", DAY, "special", "tertiary", inscope="1000.00", disease="uremia_dialysis", location="out_of_province", route="temporary"),
    )
    s1, s2 = run_settle(tmp_path, c, overlay)
    assert s1["act_pay_dedc"] == "0.00"
    assert s1["hifp_pay"] == "750.00"  # the special rate (adult 市内 三级), not the child's 90
    assert s2["hifp_pay"] == "750.00"  # 市内 rate also for a 市外 special visit


def test_resident_delivery_fixed_subsidy(tmp_path, overlay):
    c = zs({"scheme": "resident", "category": "adult", "sex": "F"}, visit(date=DAY, kind="delivery", level="secondary", inscope="5000.00"))
    [s] = run_settle(tmp_path, c, overlay)
    assert s["act_pay_dedc"] == "0.00"
    assert s["hifp_pay"] == "3000.00"


def test_resident_annual_fund_limit(tmp_path, overlay):
    c = zs(
        {"scheme": "resident", "category": "adult"},
        visit("V1", DAY, "inpatient", "tertiary", inscope="100000.00"),
        visit("V2", "2026-04-01", "inpatient", "tertiary", inscope="100000.00"),
    )
    s1, s2 = run_settle(tmp_path, c, overlay)
    assert s1["hifp_pay"] == "84320.00"  # (100,000 − 800) × 85%
    assert s2["hifp_pay"] == "15680.00"  # up to the annual limit 100,000
    assert D(s1["hifp_pay"]) + D(s2["hifp_pay"]) == D("100000.00")


def test_critical_illness(tmp_path, overlay):
    """200,000 at 三级: fund 169,320; 自付 30,680 + 先行自付 1,000; 大病 (31,680 − 20,000) × 60%."""
    amounts = {"inscp_scp_amt": "200000.00", "preselfpay_amt": "1000.00", "fulamt_ownpay_amt": "500.00"}
    c = zs(None, {"id": "V1", "date": DAY, "kind": "inpatient", "level": "tertiary", "amounts": amounts})
    [s] = run_settle(tmp_path, c, overlay)
    assert s["hifp_pay"] == "169320.00"
    assert s["hifmi_pay"] == "7008.00"
    assert s["maf_pay"] == "0.00"
    assert {r["fund_pay_type"] for r in s["setldetail"]} == {"310100", "390200"}


def test_medical_assistance(tmp_path, overlay):
    """低保 resident: fund (50,000 − 800) × 85% = 41,820; 自付 9,180 below the 10,000 CI threshold;
    assistance 80% of it."""
    amounts = {"inscp_scp_amt": "50000.00", "preselfpay_amt": "1000.00"}
    c = zs({"scheme": "resident", "category": "adult", "assistance": "subsistence"},
           {"id": "V1", "date": DAY, "kind": "inpatient", "level": "tertiary", "amounts": amounts})
    [s] = run_settle(tmp_path, c, overlay)
    assert s["hifp_pay"] == "41820.00"
    assert s["hifmi_pay"] == "0.00"
    assert s["maf_pay"] == "7344.00"
    assert s["psn_cash_pay"] == "1836.00"
    assert {r["fund_pay_type"] for r in s["setldetail"]} == {"390100", "610100"}


def test_assistance_after_critical_illness_and_mental_disability(tmp_path, overlay):
    """特困 100% of what 大病 leaves; 持精神残疾人证 低保 100% for a psychiatric stay."""
    big = {"inscp_scp_amt": "100000.00"}
    c = zs({"assistance": "destitute"}, {"id": "V1", "date": DAY, "kind": "inpatient", "level": "tertiary", "amounts": big})
    [s] = run_settle(tmp_path, c, overlay)
    # fund 84,320; 自付 15,680; CI (15,680 − 10,000) × 60% = 3,408; assistance the rest
    assert s["hifmi_pay"] == "3408.00"
    assert s["maf_pay"] == "12272.00"
    assert s["psn_part_amt"] == "0.00"
    person = {"assistance": "subsistence", "flags": ["severe_mental"]}
    c = zs(person, {"id": "V1", "date": DAY, "kind": "inpatient", "level": "secondary", "disease": "schizophrenia", "amounts": {"inscp_scp_amt": "5000.00"}})
    [s] = run_settle(tmp_path, c, overlay)
    assert s["maf_pay"] == "1430.00"  # all of (5,000 − 800) × 15% + 800
    assert s["psn_part_amt"] == "0.00"


def test_visit_before_the_effective_date_is_refused(tmp_path, overlay):
    path = write_case(tmp_path, zs(None, visit(date="2025-06-01", kind="inpatient", level="tertiary", inscope="1000.00")))
    run = run_cli("settle", path, "--overlay", overlay)
    assert run.code != 0
    assert run.out == ""
    assert "V1" in run.err and "outside every policy version" in run.err
