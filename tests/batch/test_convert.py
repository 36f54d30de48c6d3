"""Cases ⇄ claim tables (yibao.batch.convert): exact money, unique ids, the round trip."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from support import SHARED_CASES
from yibao.batch import tables as T
from yibao.batch.convert import (
    cases_to_tables,
    convert_command,
    from_fen,
    ratio_to_ppm,
    tables_to_cases,
    to_fen,
)
from yibao.case import Case, parse_case, parse_case_text
from yibao.errors import CaseError

PATHS = sorted(SHARED_CASES.glob("*.case.json"))
IDS = [p.name.removesuffix(".case.json") for p in PATHS]


def shared(path: Path) -> Case:
    return parse_case_text(path.read_text(encoding="utf-8"))


def case(person: dict | None = None, *visits: dict, city: str = "hangzhou") -> Case:
    p = {"id": "P1", "scheme": "employee", "category": "active", **(person or {})}
    return parse_case({"city": city, "person": p, "visits": list(visits) or [visit()]})


def visit(vid: str = "V1", date: str = "2026-03-01", **extra) -> dict:
    v = {"id": vid, "date": date, "kind": "outpatient", "level": "tertiary"}
    if "items" not in extra:
        v["amounts"] = {"inscp_scp_amt": "100.00"}
    v.update(extra)
    return v


def round_trip(cases: list[Case]) -> list[Case]:
    t = cases_to_tables(cases)
    return [c for c, _ in tables_to_cases(t.persons, t.visits, t.lines)]


# ---------------------------------------------------------------------- the round trip


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_shared_case_round_trip(path):
    original = shared(path)
    [back] = round_trip([original])
    assert back == original


def test_all_shared_cases_in_one_set_round_trip_with_prefixed_ids():
    cases = [shared(p) for p in PATHS]
    t = cases_to_tables(cases)
    assert t.persons.num_rows == len(cases)
    assert t.visits.num_rows == sum(len(c.visits) for c in cases)
    assert t.lines.num_rows == sum(len(v.items or ()) for c in cases for v in c.visits)
    back = [c for c, _ in tables_to_cases(t.persons, t.visits, t.lines)]
    assert len(back) == len(cases)
    for i, (b, c) in enumerate(zip(back, cases)):
        prefix = "" if i == 0 else f"{i}:"  # every worked case calls its person P1
        assert b.person.id == prefix + c.person.id
        renamed = b.model_copy(update={
            "person": b.person.model_copy(update={"id": c.person.id}),
            "visits": tuple(v.model_copy(update={"id": v.id.removeprefix(prefix)}) for v in b.visits),
        })
        assert renamed == c


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_tables_validate_and_have_the_documented_schemas(path):
    t = cases_to_tables([shared(path)])
    for table, columns, what, key in ((t.persons, T.PERSONS, "persons", "person_id"),
                                      (t.visits, T.VISITS, "visits", "visit_id"), (t.lines, T.LINES, "lines", None)):
        assert table.schema == T.schema(columns)
        assert T.validate(table, columns, what, key).equals(table)
    assert t.visits.schema.field("date").type == pa.date32()
    assert t.persons.schema.field("birth_date").type == pa.date32()


def test_a_rich_person_round_trips():
    c = case(
        {"birth_date": "1958-02-28", "sex": "F", "assistance": "subsistence", "grade": 2,
         "category": "retired", "flags": ["pre1949_worker", "family_doctor"],
         "filings": {"chronic": ["hypertension", "diabetes"], "special": ["malignant_tumor"]},
         "account": {"current": "1234.56", "history": "0.01"}, "ci_cap_bonus": "100000.00"},
        visit("V1", "2026-02-01", location="out_of_province", route="referral", disease="hypertension",
              kind="chronic", use_account=False),
        visit("V2", "2026-03-01", kind="inpatient", transfer_from="secondary"),
        visit("V3", "2026-04-01", kind="family_planning", level="secondary", procedure=["iud_remove", "abortion"]),
    )
    t = cases_to_tables([c])
    p = t.persons.to_pylist()[0]
    assert p["flags"] == "family_doctor+pre1949_worker"  # sorted
    assert p["chronic_filings"] == "diabetes+hypertension"
    assert (p["account_current_fen"], p["account_history_fen"], p["ci_cap_bonus_fen"]) == (123456, 1, 10000000)
    assert p["birth_date"] == dt.date(1958, 2, 28) and p["grade"] == 2
    assert t.visits.column("procedure").to_pylist() == ["", "", "abortion+iud_remove"]
    [back] = round_trip([c])
    # sets come back sorted; everything else as given
    assert back.person.flags == ("family_doctor", "pre1949_worker")
    assert back.person.filings.chronic == ("diabetes", "hypertension")
    assert back.visits[2].procedure == ("abortion", "iud_remove")
    normalised = c.model_copy(update={
        "person": c.person.model_copy(update={"flags": back.person.flags, "filings": back.person.filings}),
        "visits": c.visits[:2] + (c.visits[2].model_copy(update={"procedure": back.visits[2].procedure}),),
    })
    assert back == normalised


# ---------------------------------------------------------------------- bills: amounts and items


def test_amounts_fill_the_split_columns_and_write_no_lines():
    c = case(None, visit(amounts={"fulamt_ownpay_amt": "1.01", "overlmt_selfpay": "2.02",
                                  "preselfpay_amt": "3.03", "inscp_scp_amt": "99999999.99"}))
    t = cases_to_tables([c])
    assert t.lines.num_rows == 0
    v = t.visits.to_pylist()[0]
    assert [v[n] for n in T.SPLIT] == [101, 202, 303, 9999999999]


def test_items_write_one_line_each_and_zero_split_columns():
    items = [
        {"code": "A1", "name": "一种药", "amount": "20000.00", "class": "A"},
        {"code": "B1", "amount": "10000.05", "class": "B", "selfpay_ratio": "0.123456", "over_limit": "0.05"},
        {"code": "C1", "amount": "0.01", "class": "C"},
    ]
    t = cases_to_tables([case(None, visit(items=items))])
    v = t.visits.to_pylist()[0]
    assert [v[n] for n in T.SPLIT] == [0, 0, 0, 0]
    assert t.lines.to_pylist() == [
        {"visit_id": "V1", "code": "A1", "item_class": "A", "amount_fen": 2000000, "over_limit_fen": 0, "selfpay_ratio_ppm": None},
        {"visit_id": "V1", "code": "B1", "item_class": "B", "amount_fen": 1000005, "over_limit_fen": 5, "selfpay_ratio_ppm": 123456},
        {"visit_id": "V1", "code": "C1", "item_class": "C", "amount_fen": 1, "over_limit_fen": 0, "selfpay_ratio_ppm": None},
    ]
    [back] = round_trip([case(None, visit(items=items))])
    assert [i.code for i in back.visits[0].items] == ["A1", "B1", "C1"]
    assert back.visits[0].items[1].selfpay_ratio == Decimal("0.123456")
    assert back.visits[0].items[0].name is None  # the tables have no column for a name


def test_a_ratio_with_more_than_six_decimals_is_refused():
    c = case(None, visit(items=[{"code": "B1", "amount": "10.00", "class": "B", "selfpay_ratio": "0.1234567"}]))
    with pytest.raises(CaseError, match=r"visit V1: items\[0\]\.selfpay_ratio: 0\.1234567 has more than 6 decimals"):
        cases_to_tables([c])


def test_exact_money_helpers():
    assert to_fen(Decimal("0.01")) == 1
    assert to_fen(Decimal("12345678901234.99")) == 1234567890123499
    assert from_fen(1234567890123499) == Decimal("12345678901234.99")
    assert str(from_fen(5)) == "0.05"
    assert ratio_to_ppm(Decimal("1")) == 1_000_000 and ratio_to_ppm(Decimal("0.000001")) == 1
    with pytest.raises(CaseError):
        to_fen(Decimal("0.001"))


# ---------------------------------------------------------------------- identifiers


def test_reused_ids_are_prefixed_with_the_case_position():
    a = case({"id": "P1"}, visit("V1"), visit("V2", "2026-04-01"))
    b = case({"id": "P2"}, visit("V9"))
    c = case({"id": "P1"}, visit("V7"))          # person id reused
    d = case({"id": "P4"}, visit("V2"))          # visit id reused
    t = cases_to_tables([a, b, c, d])
    assert t.persons.column("person_id").to_pylist() == ["P1", "P2", "2:P1", "3:P4"]
    assert t.visits.column("visit_id").to_pylist() == ["V1", "V2", "V9", "2:V7", "3:V2"]
    assert t.visits.column("person_id").to_pylist() == ["P1", "P1", "P2", "2:P1", "3:P4"]


def test_reused_ids_can_be_refused_instead():
    with pytest.raises(CaseError, match=r"case 1 \(person P1\): id 'P1' is already used by an earlier case"):
        cases_to_tables([case(), case(None, visit("V2"))], on_collision="error")


def test_a_case_with_two_visits_of_one_id_is_refused():
    with pytest.raises(CaseError, match="visit id 'V1' appears more than once"):
        cases_to_tables([case(None, visit("V1"), visit("V1", "2026-04-01"))])


# ---------------------------------------------------------------------- tables → cases


def test_visits_come_back_by_date_then_table_order_with_their_rows():
    t = cases_to_tables([
        case({"id": "A"}, visit("A1", "2026-05-01"), visit("A2", "2026-01-01"), visit("A3", "2026-05-01")),
        case({"id": "B"}, visit("B1", "2026-02-01")),
    ])
    out = list(tables_to_cases(t.persons, t.visits, t.lines))
    assert [(c.person.id, [v.id for v in c.visits], rows) for c, rows in out] == [
        ("A", ["A2", "A1", "A3"], (1, 0, 2)),
        ("B", ["B1"], (3,)),
    ]


def test_persons_without_visits_yield_nothing_and_lines_may_be_absent():
    t = cases_to_tables([case({"id": "A"}), case({"id": "B"}, visit("B1"))])
    visits = t.visits.filter(pc.equal(t.visits.column("person_id"), "B"))
    assert [c.person.id for c, _ in tables_to_cases(t.persons, visits)] == ["B"]


def test_a_line_replaces_the_split_columns_of_its_visit_only():
    t = cases_to_tables([case(None, visit("V1"), visit("V2", "2026-04-01"))])
    lines = pa.table({"visit_id": ["V2"], "code": ["X"], "item_class": ["A"], "amount_fen": [500],
                      "over_limit_fen": [0], "selfpay_ratio_ppm": pa.array([None], pa.int32())})
    [(c, _)] = tables_to_cases(t.persons, t.visits, lines)
    assert c.visits[0].amounts.inscp_scp_amt == Decimal("100.00") and c.visits[0].items is None
    assert c.visits[1].amounts is None and c.visits[1].items[0].amount == Decimal("5.00")


def test_tables_that_do_not_fit_are_refused_naming_the_row():
    t = cases_to_tables([case()])
    orphan = t.visits.set_column(1, "person_id", pa.array(["nobody"]))
    with pytest.raises(T.TableError, match=r"visits.person_id: 'nobody' in row 0 \(V1\) is not a person"):
        list(tables_to_cases(t.persons, orphan))
    line = pa.table({"visit_id": ["V404"], "code": ["X"], "item_class": ["A"], "amount_fen": [1],
                     "over_limit_fen": [0], "selfpay_ratio_ppm": pa.array([None], pa.int32())})
    with pytest.raises(T.TableError, match=r"lines.visit_id: 'V404' in row 0"):
        list(tables_to_cases(t.persons, t.visits, line))
    wrong = t.persons.set_column(3, "category", pa.array(["child"]))  # not an employee category
    with pytest.raises(CaseError, match="person P1: .*category 'child' is not a employee category"):
        list(tables_to_cases(wrong, t.visits))


# ---------------------------------------------------------------------- yibao batch convert


def test_convert_command_writes_the_tables(tmp_path):
    out = tmp_path / "claims"
    summary = convert_command([str(p) for p in PATHS], out)
    assert sorted(f.name for f in out.iterdir()) == ["lines.parquet", "persons.parquet", "visits.parquet"]
    persons, visits, lines = (pq.read_table(out / f"{n}.parquet") for n in ("persons", "visits", "lines"))
    assert persons.schema == T.schema(T.PERSONS) and visits.schema == T.schema(T.VISITS) and lines.schema == T.schema(T.LINES)
    assert (summary["persons"], summary["visits"], summary["lines"]) == (persons.num_rows, visits.num_rows, lines.num_rows)
    assert persons.num_rows == len(PATHS)
    expected = cases_to_tables([shared(p) for p in PATHS])
    assert visits.equals(expected.visits) and lines.equals(expected.lines)


def test_convert_command_without_items_writes_no_lines_and_removes_a_stale_one(tmp_path):
    without = [p for p in PATHS if '"items"' not in p.read_text(encoding="utf-8")]
    (tmp_path / "lines.parquet").write_bytes(b"stale")
    convert_command([str(p) for p in without], tmp_path)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["persons.parquet", "visits.parquet"]


def test_convert_command_names_the_bad_file(tmp_path):
    bad = tmp_path / "bad.case.json"
    bad.write_text(json.dumps({"city": "hangzhou", "person": {"id": "P"}, "visits": []}), encoding="utf-8")
    with pytest.raises(CaseError, match="bad.case.json: "):
        convert_command([str(bad)], tmp_path / "out")
    with pytest.raises(CaseError, match="cannot read"):
        convert_command([str(tmp_path / "missing.json")], tmp_path / "out")
