"""The contract's Errors section (``case-format.md`` § Errors), through the real command.

Every rejection: ``yibao settle CASE`` exits non-zero, prints nothing on standard output,
and prints exactly one line on standard error naming what is wrong (the visit, the field,
and for a missing policy value its name and clause).
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from support import run_cli, write_case


def base_case(city: str = "jiaxing", date: str = "2025-03-10") -> dict:
    """A valid case: an employee with two visits, the first billed by items."""
    return {
        "city": city,
        "person": {
            "id": "P-001",
            "scheme": "employee",
            "category": "active",
            "sex": "F",
            "birth_date": "1980-05-01",
            "assistance": None,
            "flags": [],
            "filings": {"chronic": ["hypertension"], "special": []},
            "account": {"current": "100.00", "history": "300.00"},
        },
        "visits": [
            {
                "id": "V1",
                "date": date,
                "kind": "inpatient",
                "level": "tertiary",
                "items": [
                    {"code": "X001", "amount": "1000.00", "class": "A"},
                    {"code": "X002", "amount": "200.00", "class": "B", "selfpay_ratio": "0.10"},
                    {"code": "X003", "amount": "80.00", "class": "C"},
                ],
            },
            {
                "id": "V2",
                "date": date,
                "kind": "outpatient",
                "level": "secondary",
                "amounts": {"inscp_scp_amt": "300.00"},
            },
        ],
    }


def rejected(tmp_path, doc: Any, *needles: str) -> str:
    """Settle ``doc`` (a dict, or raw text) through the CLI and check the rejection."""
    if isinstance(doc, str):
        path = tmp_path / "case.json"
        path.write_text(doc, encoding="utf-8")
        path = str(path)
    else:
        path = write_case(tmp_path, doc)
    run = run_cli("settle", path)
    assert run.code != 0, f"accepted: {run.out[:300]}"
    assert run.out == "", "nothing may be printed on standard output"
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in: {lines[0]}"
    return lines[0]


def test_the_base_case_is_valid():
    """Sanity: the case every rejection below starts from settles."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        run = run_cli("settle", write_case(Path(d), base_case()))
    assert run.code == 0, run.err
    assert [s["visit_id"] for s in run.json["settlements"]] == ["V1", "V2"]


# ----------------------------------------------------------------- malformed JSON


@pytest.mark.parametrize("text", ['{"city": "jiaxing", ', "not json at all", ""])
def test_malformed_json_is_rejected(tmp_path, text):
    """case-format § Errors: malformed JSON."""
    rejected(tmp_path, text, "JSON")


def test_a_json_array_is_not_a_case(tmp_path):
    rejected(tmp_path, "[1, 2]", "JSON object")


# ----------------------------------------------------------------- unknown keys

Mutation = Callable[[dict], None]


def _set(path: str, value: Any) -> Mutation:
    """A mutation setting ``a.b[0].c`` to value."""

    def apply(doc: dict) -> None:
        node: Any = doc
        parts = path.replace("]", "").replace("[", ".").split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last = parts[-1]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def _drop(path: str) -> Mutation:
    def apply(doc: dict) -> None:
        node: Any = doc
        parts = path.replace("]", "").replace("[", ".").split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[parts[-1]]

    return apply


@pytest.mark.parametrize(
    "mutate, needles",
    [
        (_set("hospital", "x"), ["unknown key", "hospital"]),
        (_set("person.nickname", "x"), ["unknown key", "person.nickname"]),
        (_set("person.filings.other", []), ["unknown key", "person.filings.other"]),
        (_set("person.account.savings", "1.00"), ["unknown key", "person.account.savings"]),
        (_set("visits[0].ward", "3B"), ["visit V1", "unknown key", "ward"]),
        (_set("visits[1].ward", "3B"), ["visit V2", "unknown key", "ward"]),
        (_set("visits[0].items[0].discount", "1.00"), ["visit V1", "unknown key", "items[0].discount"]),
        (_set("visits[1].amounts.tip", "1.00"), ["visit V2", "unknown key", "amounts.tip"]),
    ],
    ids=["top", "person", "filings", "account", "visit", "second-visit", "item", "amounts"],
)
def test_unknown_keys_are_rejected(tmp_path, mutate, needles):
    """case-format § Errors: unknown keys — at the top level, in person, visit, item."""
    doc = base_case()
    mutate(doc)
    rejected(tmp_path, doc, *needles)


# ----------------------------------------------------------------- unknown enum values


@pytest.mark.parametrize(
    "mutate, needles",
    [
        (_set("city", "shanghai"), ["city", "shanghai"]),
        (_set("person.scheme", "military"), ["person.scheme", "military"]),
        (_set("person.category", "child"), ["category", "child", "employee"]),  # a resident category
        (_set("person.category", "boss"), ["person.category", "boss"]),
        (_set("person.sex", "X"), ["person.sex", "X"]),
        (_set("person.flags", ["vip"]), ["person.flags", "vip"]),
        (_set("person.assistance", "rich"), ["person.assistance", "rich"]),
        (_set("person.filings.chronic", ["flu"]), ["person.filings.chronic", "flu"]),
        (_set("visits[0].kind", "inpatent"), ["visit V1", "kind", "inpatent"]),
        (_set("visits[0].level", "tertairy"), ["visit V1", "level", "tertairy"]),
        (_set("visits[0].location", "moon"), ["visit V1", "location", "moon"]),
        (_set("visits[0].items[1].class", "D"), ["visit V1", "items[1].class", "'D'"]),
        (_set("visits[0].disease", "flu"), ["visit V1", "disease", "flu"]),
        (_set("visits[0].route", "teleport"), ["visit V1", "route", "teleport"]),
        (_set("visits[0].transfer_from", "tertairy"), ["visit V1", "transfer_from", "tertairy"]),
        (_set("visits[1].procedure", ["appendectomy"]), ["visit V2", "procedure", "appendectomy"]),
    ],
    ids=[
        "city", "scheme", "category-of-other-scheme", "category", "sex", "flag", "assistance", "filed-disease",
        "kind", "level", "location", "class", "disease", "route", "transfer_from", "procedure",
    ],
)
def test_unknown_enum_values_are_rejected(tmp_path, mutate, needles):
    """case-format § Errors: unknown enum values (city, scheme, category, kind, level, class, …)."""
    doc = base_case()
    mutate(doc)
    rejected(tmp_path, doc, *needles)


def test_resident_category_for_an_employee_scheme_and_back(tmp_path):
    """case-format person.category: the category must belong to the scheme."""
    doc = base_case()
    doc["person"].update(scheme="resident", category="retired", account={"current": "0", "history": "0"})
    rejected(tmp_path, doc, "category", "retired", "resident")


# ----------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    "mutate, needles",
    [
        (_set("visits[0].items[0].amount", "-5.00"), ["visit V1", "items[0].amount", "negative"]),
        (_set("visits[0].items[0].amount", -5), ["visit V1", "items[0].amount", "negative"]),
        (_set("visits[0].items[2].over_limit", "-1.00"), ["visit V1", "items[2].over_limit", "negative"]),
        (_set("visits[1].amounts.inscp_scp_amt", "-300.00"), ["visit V2", "amounts.inscp_scp_amt", "negative"]),
        (_set("person.account.current", "-1.00"), ["person.account.current", "negative"]),
        (_set("person.ci_cap_bonus", "-1.00"), ["person.ci_cap_bonus", "negative"]),
    ],
    ids=["item-string", "item-number", "over_limit", "amounts", "account", "ci_cap_bonus"],
)
def test_negative_amounts_are_rejected(tmp_path, mutate, needles):
    """case-format § Errors: negative amounts."""
    doc = base_case()
    mutate(doc)
    rejected(tmp_path, doc, *needles)


@pytest.mark.parametrize(
    "mutate, needles",
    [
        (_set("visits[0].items[0].amount", "abc"), ["visit V1", "items[0].amount", "not a number"]),
        (_set("visits[0].items[0].amount", "12,00"), ["visit V1", "items[0].amount"]),
        (_set("visits[0].items[0].amount", True), ["visit V1", "items[0].amount"]),
        (_set("visits[0].items[0].amount", None), ["visit V1", "items[0].amount"]),
        (_set("visits[0].items[0].amount", "NaN"), ["visit V1", "items[0].amount"]),
        (_set("visits[1].amounts.inscp_scp_amt", "three hundred"), ["visit V2", "amounts.inscp_scp_amt"]),
        (_set("person.account.history", "lots"), ["person.account.history"]),
        (_set("visits[0].items[1].selfpay_ratio", "a tenth"), ["visit V1", "items[1].selfpay_ratio"]),
        (_set("visits[0].items[1].selfpay_ratio", "1.5"), ["visit V1", "items[1].selfpay_ratio"]),
    ],
    ids=["word", "comma", "bool", "null", "nan", "amounts", "account", "ratio-word", "ratio-above-1"],
)
def test_non_numeric_amounts_are_rejected(tmp_path, mutate, needles):
    """case-format § Errors: non-numeric amounts (and a ratio outside 0–1)."""
    doc = base_case()
    mutate(doc)
    rejected(tmp_path, doc, *needles)


@pytest.mark.parametrize(
    "mutate, needles",
    [
        (_set("visits[0].items[0].amount", "1000.005"), ["visit V1", "items[0].amount", "two decimals"]),
        (_set("visits[1].amounts.inscp_scp_amt", "300.001"), ["visit V2", "amounts.inscp_scp_amt", "two decimals"]),
        (_set("person.account.current", "0.125"), ["person.account.current", "two decimals"]),
    ],
    ids=["item", "amounts", "account"],
)
def test_more_than_two_decimals_is_rejected(tmp_path, mutate, needles):
    """case-format Input: yuan with at most two decimals."""
    doc = base_case()
    mutate(doc)
    rejected(tmp_path, doc, *needles)


def test_more_than_two_decimals_as_a_json_number_is_rejected(tmp_path):
    """case-format Input: amounts may be JSON numbers — still at most two decimals."""
    text = json.dumps(base_case()).replace('"1000.00"', "1000.001", 1)
    rejected(tmp_path, text, "visit V1", "items[0].amount", "two decimals")


def test_items_and_amounts_both_given_is_rejected(tmp_path):
    """case-format visit: `items` (list), or instead `amounts` — never both."""
    doc = base_case()
    doc["visits"][1]["items"] = [{"code": "X", "amount": "1.00", "class": "A"}]
    rejected(tmp_path, doc, "visit V2", "items", "amounts")


def test_neither_items_nor_amounts_is_rejected(tmp_path):
    """case-format visit: a bill is needed."""
    doc = base_case()
    del doc["visits"][1]["amounts"]
    rejected(tmp_path, doc, "visit V2", "items", "amounts")


def test_over_limit_above_amount_is_rejected(tmp_path):
    """case-format item: `over_limit` is the part of `amount` above the price limit."""
    doc = base_case()
    doc["visits"][0]["items"][0]["over_limit"] = "1000.01"
    rejected(tmp_path, doc, "visit V1", "items[0]", "over_limit")


# ----------------------------------------------------------------- required fields and dates


@pytest.mark.parametrize(
    "mutate, needles",
    [
        (_drop("city"), ["city", "required"]),
        (_drop("person.id"), ["person.id", "required"]),
        (_drop("person.scheme"), ["person.scheme", "required"]),
        (_drop("visits[0].date"), ["visit V1", "date", "required"]),
        (_drop("visits[1].kind"), ["visit V2", "kind", "required"]),
        (_drop("visits[0].items[0].class"), ["visit V1", "items[0].class", "required"]),
        (_set("visits", []), ["visits"]),
        (_set("visits[0].date", "2025-02-30"), ["visit V1", "date", "2025-02-30"]),
        (_set("visits[0].date", "10/03/2025"), ["visit V1", "date", "10/03/2025"]),
        (_set("person.birth_date", "1980-13-01"), ["person.birth_date", "1980-13-01"]),
    ],
    ids=["city", "person-id", "scheme", "date", "kind", "class", "no-visits", "bad-day", "bad-format", "birth"],
)
def test_missing_or_malformed_fields_are_rejected(tmp_path, mutate, needles):
    """case-format: required fields; dates are YYYY-MM-DD."""
    doc = base_case()
    mutate(doc)
    rejected(tmp_path, doc, *needles)


@pytest.mark.parametrize(
    "city, date",
    [
        ("jiaxing", "2024-12-31"),  # 嘉兴 (七十) 自2025年1月1日起施行
        ("hangzhou", "2025-12-31"),  # 杭州办法 自2026年1月1日起施行
        ("suizhou", "2023-12-31"),  # 随州 第七十九条 自2024年1月1日起实施
        ("suizhou", "2029-01-01"),  # … 有效期五年: to 2028-12-31
    ],
)
def test_dates_outside_every_policy_version_are_rejected(tmp_path, city, date):
    """case-format § Errors: dates outside every policy version (G2)."""
    doc = base_case(city)
    doc["visits"][0]["date"] = date
    doc["visits"].pop()  # keep one visit; the outpatient one would need 随州 values anyway
    rejected(tmp_path, doc, "visit V1", date, "outside")


def test_a_late_visit_outside_the_policy_prints_nothing_for_earlier_visits(tmp_path):
    """case-format § Errors: nothing on standard output, even when earlier visits settled."""
    doc = base_case("suizhou", "2028-12-01")
    doc["visits"] = [
        {**doc["visits"][0], "id": "V1"},
        {**copy.deepcopy(doc["visits"][0]), "id": "V2", "date": "2029-01-01"},
    ]
    rejected(tmp_path, doc, "visit V2", "2029-01-01")


# ----------------------------------------------------------------- missing policy values


def test_missing_policy_value_names_value_and_clause(tmp_path):
    """case-format § Errors: a missing policy value — its name and clause (随州 第二十一条, S1)."""
    doc = base_case("suizhou", "2025-03-10")
    line = rejected(tmp_path, doc, "visit V2", "employee.outpatient", "第二十一条", "missing")
    assert "visit V1" not in line  # the first visit settled; the message names V2 only


def test_missing_policy_value_for_a_chronic_visit(tmp_path):
    """随州 第二十二条 门诊慢特病 left to a separate document (S1)."""
    doc = base_case("suizhou", "2025-03-10")
    doc["visits"] = [{**doc["visits"][1], "kind": "chronic", "disease": "hypertension"}]
    rejected(tmp_path, doc, "visit V2", "employee.chronic", "第二十二条")


# ----------------------------------------------------------------- impossible visits (G13)


def test_inpatient_at_a_pharmacy_is_rejected(tmp_path):
    """G13: an inpatient stay at a pharmacy."""
    doc = base_case()
    doc["visits"][0]["level"] = "pharmacy"
    rejected(tmp_path, doc, "visit V1", "inpatient", "pharmacy")


def test_delivery_by_a_male_person_is_rejected(tmp_path):
    """G13: a delivery by a male person."""
    doc = base_case()
    doc["person"]["sex"] = "M"
    doc["visits"][0]["kind"] = "delivery"
    rejected(tmp_path, doc, "visit V1", "delivery", "male")


def test_chronic_visit_without_disease_is_rejected(tmp_path):
    """G13: a chronic visit without `disease`."""
    doc = base_case()
    doc["visits"][1]["kind"] = "chronic"
    rejected(tmp_path, doc, "visit V2", "chronic", "disease")


def test_special_visit_without_disease_is_rejected(tmp_path):
    """G13 (as for chronic): a special visit needs the disease it treats."""
    doc = base_case()
    doc["visits"][1]["kind"] = "special"
    rejected(tmp_path, doc, "visit V2", "special", "disease")


# ----------------------------------------------------------------- catalogue and accounts


@pytest.mark.parametrize("city, date", [("jiaxing", "2025-03-10"), ("hangzhou", "2026-03-10")])
def test_class_b_item_without_selfpay_ratio_in_zhejiang_is_rejected(tmp_path, city, date):
    """case-format item.selfpay_ratio: 浙江 decides per item → rejected with a clear message."""
    doc = base_case(city, date)
    del doc["visits"][0]["items"][1]["selfpay_ratio"]
    rejected(tmp_path, doc, "visit V1", "items[1]", "selfpay_ratio")


def test_resident_with_a_nonzero_account_is_rejected(tmp_path):
    """G8: residents have no account."""
    doc = base_case()
    doc["person"].update(scheme="resident", category="adult")
    rejected(tmp_path, doc, "account", "resident")


def test_unreadable_case_file_is_rejected(tmp_path):
    """The command names a file it cannot read."""
    run = run_cli("settle", str(tmp_path / "nope.json"))
    assert run.code != 0 and run.out == ""
    assert len(run.err.strip().splitlines()) == 1 and "nope.json" in run.err
