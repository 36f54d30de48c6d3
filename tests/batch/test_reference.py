"""The reference batch (yibao.batch.reference) and the example overlays and reform.

The reference runner settles claim tables with the per-visit engine; it must give the
worked cases' figures to the fen, refuse a visit the engine refuses without letting it
touch the person's other visits, and apply each overlay to its own city.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from support import SHARED_CASES, run_cli
from yibao.batch import tables as T
from yibao.batch.convert import cases_to_tables, to_fen
from yibao.batch.reference import settle_tables
from yibao.case import parse_case, parse_case_text
from yibao.engine.pipeline import settle_case
from yibao.errors import CaseError, PolicyError
from yibao.policy.loader import load_city
from yibao.report import settlement_json

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ROOT / "examples" / "overlays"
REFORM = ROOT / "examples" / "reforms" / "hangzhou-employee-outpatient-deductible-800.yaml"
PATHS = sorted(SHARED_CASES.glob("*.case.json"))


def rows_of(results: pa.Table) -> list[dict]:
    return results.to_pylist()


def amounts_fen(settlement: dict) -> dict[str, int]:
    """A contract settlement's amounts as the results table's columns."""
    return {f"{name}_fen": to_fen(Decimal(settlement[name])) for name in T.RESULT_MONEY}


def settle(case_dict: dict, overlays: tuple = ()) -> list[dict]:
    c = parse_case(copy.deepcopy(case_dict))
    return [settlement_json(s) for s in settle_case(c, load_city(c.city, [str(o) for o in overlays]))]


def results_of(*case_dicts: dict, overlays: tuple = ()) -> list[dict]:
    t = cases_to_tables(parse_case(copy.deepcopy(c)) for c in case_dicts)
    out = settle_tables(t.persons, t.visits, t.lines, overlays=[str(o) for o in overlays])
    assert out.schema == T.schema(T.RESULTS)
    assert T.validate(out, T.RESULTS, "results", "visit_id").equals(out)
    return rows_of(out)


# ---------------------------------------------------------------------- the worked cases


def test_every_shared_case_in_one_table_set():
    cases = [parse_case_text(p.read_text(encoding="utf-8")) for p in PATHS]
    t = cases_to_tables(cases)
    results = settle_tables(t.persons, t.visits, t.lines)
    assert results.schema == T.schema(T.RESULTS)
    rows = rows_of(results)
    assert [r["visit_id"] for r in rows] == t.visits.column("visit_id").to_pylist()
    at = 0
    for path, c in zip(PATHS, cases):
        expected = json.loads(path.with_name(path.name.replace(".case.json", ".expected.json")).read_text(encoding="utf-8"))
        mine = rows[at:at + len(c.visits)]
        at += len(c.visits)
        assert {r["city"] for r in mine} == {expected.get("city", c.city)}
        if "settlements" not in expected:  # an expected refusal: the case's visits are refused
            assert any(r["status"] == "refused" for r in mine), path.name
            for r in mine:
                if r["status"] == "refused":
                    assert r["error"] and all(r[f"{n}_fen"] == 0 for n in T.RESULT_MONEY)
            continue
        assert len(mine) == len(expected["settlements"]), path.name
        for r, e, v in zip(mine, expected["settlements"], c.visits):
            assert r["visit_id"].endswith(e["visit_id"]) and r["status"] == "settled" and r["error"] is None
            assert (r["year"], r["date"], r["plan"]) == (e["year"], v.date, -1)
            got = {k: r[k] for k in amounts_fen(e)}
            assert got == amounts_fen(e), f"{path.name} {e['visit_id']}"
    assert at == len(rows)


# ---------------------------------------------------------------------- refused visits

SUIZHOU = {"id": "P1", "scheme": "employee", "category": "active", "account": {"current": "5000.00"}}
V1 = {"id": "V1", "date": "2024-03-01", "kind": "inpatient", "level": "tertiary",
      "amounts": {"inscp_scp_amt": "10000.00", "preselfpay_amt": "500.00"}}
V2 = {"id": "V2", "date": "2024-04-01", "kind": "outpatient", "level": "tertiary", "amounts": {"inscp_scp_amt": "300.00"}}
V3 = {"id": "V3", "date": "2024-05-01", "kind": "inpatient", "level": "secondary", "amounts": {"inscp_scp_amt": "5000.00"}}


def suizhou(*visits: dict, person: dict | None = None) -> dict:
    return {"city": "suizhou", "person": person or SUIZHOU, "visits": list(visits)}


def test_a_refused_visit_records_nothing_and_the_others_settle_without_it():
    # 随州's employee outpatient deductible is blank: V2 is refused naming it.
    r1, r2, r3 = results_of(suizhou(V1, V2, V3))
    assert r2["status"] == "refused"
    assert "missing policy value suizhou:employee.outpatient.deductible" in r2["error"]
    assert r2["visit_id"] == "V2" and r2["year"] == 2024 and r2["date"] == dt.date(2024, 4, 1)
    assert all(r2[f"{n}_fen"] == 0 for n in T.RESULT_MONEY)  # balc too
    # V1 and V3 are exactly the settlement of the case without V2
    s1, s3 = settle(suizhou(V1, V3))
    for r, s in ((r1, s1), (r3, s3)):
        assert r["status"] == "settled" and r["error"] is None
        assert {k: r[k] for k in amounts_fen(s)} == amounts_fen(s)
    assert r3["acct_pay_fen"] > 0 and r3["balc_fen"] == to_fen(Decimal(s3["balc"]))
    # with the figure supplied, V2 settles and spends the account: V3 then differs
    o1, o2, o3 = results_of(suizhou(V1, V2, V3), overlays=(OVERLAYS / "suizhou.yaml",))
    assert o2["status"] == "settled" and o2["acct_pay_fen"] > 0
    assert o3["balc_fen"] == r3["balc_fen"] - o2["acct_pay_fen"]


def test_two_refused_visits_and_the_first_visit_refused():
    v4 = dict(V2, id="V4", date="2024-06-01")
    rows = results_of(suizhou(V2, V1, V3, v4))
    assert [r["status"] for r in rows] == ["refused", "settled", "settled", "refused"]
    s1, s3 = settle(suizhou(V1, V3))
    assert rows[2]["balc_fen"] == to_fen(Decimal(s3["balc"]))


def test_a_case_the_engine_refuses_as_a_whole_refuses_every_visit():
    resident = {"id": "R1", "scheme": "resident", "category": "adult", "account": {"current": "10.00"}}
    with pytest.raises(CaseError, match="residents have no personal account"):
        settle(suizhou(V1, person=resident))
    rows = results_of(suizhou(V1, V3, person=resident))
    assert [r["status"] for r in rows] == ["refused", "refused"]
    assert all("residents have no personal account" in r["error"] for r in rows)


def test_a_row_that_is_not_a_valid_visit_is_refused_alone():
    t = cases_to_tables([parse_case(suizhou(V1, V3))])
    lines = pa.table({"visit_id": ["V3"], "code": ["X"], "item_class": ["B"], "amount_fen": [100],
                      "over_limit_fen": [200], "selfpay_ratio_ppm": pa.array([None], pa.int32())})
    r1, r3 = rows_of(settle_tables(t.persons, t.visits, lines))
    assert r3["status"] == "refused" and "visit V3: items[0]: over_limit 2.00 exceeds amount 1.00" in r3["error"]
    [s1] = settle(suizhou(V1))
    assert r1["status"] == "settled" and {k: r1[k] for k in amounts_fen(s1)} == amounts_fen(s1)


def test_results_follow_the_input_order_not_the_date_order():
    t = cases_to_tables([parse_case(suizhou(V3, V1))])  # V3 (May) given before V1 (March)
    rows = rows_of(settle_tables(t.persons, t.visits))
    assert [r["visit_id"] for r in rows] == ["V3", "V1"]
    s1, s3 = settle(suizhou(V1, V3))  # settled in date order
    assert rows[0]["act_pay_dedc_fen"] == to_fen(Decimal(s3["act_pay_dedc"]))  # the second admission's deductible
    assert rows[1]["act_pay_dedc_fen"] == to_fen(Decimal(s1["act_pay_dedc"]))


# ---------------------------------------------------------------------- overlays, by city


def test_overlays_are_applied_to_their_own_city_only():
    suzhou = {"city": "suzhou", "person": {"id": "S1", "scheme": "employee", "category": "active"},
              "visits": [{"id": "S-V1", "date": "2026-03-01", "kind": "inpatient", "level": "tertiary",
                          "amounts": {"inscp_scp_amt": "20000.00"}}]}
    hangzhou = {"city": "hangzhou", "person": {"id": "H1", "scheme": "employee", "category": "active"},
                "visits": [{"id": "H-V1", "date": "2026-03-01", "kind": "outpatient", "level": "tertiary",
                            "amounts": {"inscp_scp_amt": "1000.00"}, "use_account": False}]}
    bare = results_of(suzhou, hangzhou)
    assert bare[0]["status"] == "refused" and "suzhou:employee.inpatient.deductible" in bare[0]["error"]
    assert bare[1]["act_pay_dedc_fen"] == 60000
    both = results_of(suzhou, hangzhou, overlays=(REFORM, OVERLAYS / "suzhou.yaml"))
    [s] = settle(suzhou, (OVERLAYS / "suzhou.yaml",))
    assert both[0]["status"] == "settled" and {k: both[0][k] for k in amounts_fen(s)} == amounts_fen(s)
    assert both[0]["act_pay_dedc_fen"] == 100000
    assert both[1]["act_pay_dedc_fen"] == 80000


def test_an_overlay_without_a_city_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("parameters: {}\n", encoding="utf-8")
    t = cases_to_tables([parse_case(suizhou(V1))])
    with pytest.raises(PolicyError, match="an overlay names its city"):
        settle_tables(t.persons, t.visits, overlays=[str(bad)])


# ---------------------------------------------------------------------- the example overlays


@pytest.mark.parametrize("city", ["suzhou", "zhoushan", "suizhou"])
def test_the_example_overlay_fills_every_blank(city):
    path = OVERLAYS / f"{city}.yaml"
    text = path.read_text(encoding="utf-8")
    assert "ILLUSTRATIVE FIGURES FOR TESTING AND SIMULATION, NOT THE REGULATION'S" in text.split("city:")[0]
    assert load_city(city).missing_values(), "the shipped policy has blanks to fill"
    policy = load_city(city, [str(path)])
    assert policy.missing_values() == []
    assert policy.document.start is not None
    run = run_cli("policy", "check", city, "--overlay", str(path))
    assert run.code == 0, run.err
    assert "no missing values" in run.out


@pytest.mark.parametrize("city", ["suzhou", "zhoushan", "suizhou"])
def test_the_example_overlay_settles_every_kind_of_visit(city):
    """A grid of persons and visits: with the overlay nothing is refused for a missing figure."""
    overlay = str(OVERLAYS / f"{city}.yaml")
    policy = load_city(city, [overlay])
    day = max(policy.document.start, dt.date(2026, 1, 1))
    cases = []
    for scheme, category in (("employee", "active"), ("employee", "retired"), ("resident", "adult"), ("resident", "child")):
        for assistance in (None, "subsistence"):
            for location, route in (("local", None), ("province", None), ("out_of_province", "referral"), ("province", "long_term")):
                person = {"id": "P", "scheme": scheme, "category": category, "birth_date": "1960-05-01", "sex": "F",
                          "filings": {"chronic": ["hypertension"], "special": ["malignant_tumor"]}}
                if assistance:
                    person["assistance"] = assistance
                if scheme == "employee":
                    person["account"] = {"current": "800.00", "history": "300.00"}
                visits = []
                for i, (kind, level) in enumerate([("outpatient", "primary"), ("outpatient", "tertiary"), ("pharmacy", "pharmacy"),
                                                   ("chronic", "primary"), ("special", "tertiary"), ("inpatient", "secondary"),
                                                   ("inpatient", "tertiary"), ("day_surgery", "tertiary"), ("family_bed", "primary"),
                                                   ("prenatal", "secondary"), ("delivery", "tertiary"),
                                                   ("family_planning", "secondary")]):
                    v = {"id": f"V{i}", "date": (day + dt.timedelta(days=7 * i)).isoformat(), "kind": kind, "level": level,
                         "location": location, "amounts": {"inscp_scp_amt": "30000.00", "preselfpay_amt": "800.00"}}
                    if route:
                        v["route"] = route
                    if kind in ("chronic", "special"):
                        v["disease"] = "hypertension" if kind == "chronic" else "malignant_tumor"
                    if kind == "family_planning":
                        v["procedure"] = ["abortion"]
                    visits.append(v)
                cases.append({"city": city, "person": dict(person, id=f"P{len(cases)}"), "visits": visits})
    rows = results_of(*cases, overlays=(overlay,))
    refused = [(r["visit_id"], r["error"]) for r in rows if r["status"] != "settled"]
    assert refused == []
    assert sum(r["fund_pay_sumamt_fen"] for r in rows) > 0


# ---------------------------------------------------------------------- the reform


def _diff(a, b, path: str = "") -> list[tuple[str, object, object]]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            out += _diff(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [(path, a, b)]


def test_the_reform_changes_exactly_the_active_employee_outpatient_deductible():
    before, after = load_city("hangzhou"), load_city("hangzhou", [str(REFORM)])
    assert before.document == after.document
    assert set(before.parameters) == set(after.parameters)
    changed = {}
    for name, param in before.parameters.items():
        new = after.parameters[name]
        assert [(v.start, v.end) for v in param.versions] == [(v.start, v.end) for v in new.versions], name
        for old_v, new_v in zip(param.versions, new.versions):
            for path, x, y in _diff(old_v.raw, new_v.raw):
                changed[(name, old_v.start, path)] = (x, y)
    assert changed == {
        ("employee.outpatient.deductible", dt.date(2026, 1, 1), "standard.base.by_category.other"): (600, 800),
    }
    raw = after.get("employee.outpatient.deductible").versions[0].raw
    assert raw["standard"]["base"]["by_category"] == {"retired": 200, "other": 800}
    assert raw["regime"] == "annual" and raw["standard"]["adjust"][0]["add"] == -300


@pytest.mark.parametrize("category, flags, level, before, after", [
    ("active", [], "tertiary", 60000, 80000),
    ("flexible", [], "tertiary", 60000, 80000),
    ("unemployed", [], "secondary", 60000, 80000),
    ("retired", [], "tertiary", 20000, 20000),
    ("active", ["family_doctor"], "primary", 30000, 50000),
])
def test_the_reform_in_settlement(category, flags, level, before, after):
    c = {"city": "hangzhou", "person": {"id": "H1", "scheme": "employee", "category": category, "flags": flags},
         "visits": [{"id": "V1", "date": "2026-03-01", "kind": "outpatient", "level": level,
                     "amounts": {"inscp_scp_amt": "1000.00"}, "use_account": False}]}
    [b] = results_of(c)
    [a] = results_of(c, overlays=(REFORM,))
    assert (b["act_pay_dedc_fen"], a["act_pay_dedc_fen"]) == (before, after)
    assert b["medfee_sumamt_fen"] == a["medfee_sumamt_fen"] == 100000


def test_policy_show_with_the_reform():
    plain = run_cli("policy", "show", "hangzhou", "--date", "2026-03-01")
    reformed = run_cli("policy", "show", "hangzhou", "--date", "2026-03-01", "--overlay", str(REFORM))
    assert plain.code == reformed.code == 0, reformed.err
    assert "by_category: {retired: 200, other: 600}" in plain.out
    assert "by_category: {retired: 200, other: 800}" in reformed.out
    changed = [(x, y) for x, y in zip(plain.out.splitlines(), reformed.out.splitlines()) if x != y]
    assert len(changed) == 1
