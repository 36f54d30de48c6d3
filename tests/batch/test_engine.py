"""The compiled batch engine equals the reference engine, to the fen.

* every worked case (tests/data/shared_cases) gives its expected figures;
* the differential test: over 100,000 generated claims of the three fully specified
  cities and of 苏州 and 舟山 with their example overlays, the compiled engine and the
  reference engine (:mod:`yibao.batch.reference`) give identical results tables —
  amounts, balances, refusals and their messages;
* random visits of every kind, level, location, route and person (hypothesis) — many of
  them refused — agree the same way;
* bad tables are refused with the rows named.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import SHARED_CASES
from yibao import vocabulary as V
from yibao.batch import engine, reference, synth
from yibao.batch import tables as T
from yibao.batch.convert import cases_to_tables, to_fen
from yibao.batch.tables import TableError
from yibao.case import parse_case_text

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = {city: str(ROOT / "examples" / "overlays" / f"{city}.yaml") for city in ("suizhou", "suzhou", "zhoushan")}
ALL_OVERLAYS = tuple(OVERLAYS.values())


def assert_same(compiled: pa.Table, expected: pa.Table) -> None:
    """Row by row, every column but the plan number."""
    columns = [c for c in compiled.column_names if c != "plan"]
    a, b = compiled.select(columns).to_pylist(), expected.select(columns).to_pylist()
    diffs = [(x["visit_id"], {k: (x[k], y[k]) for k in columns if x[k] != y[k]}) for x, y in zip(a, b) if x != y]
    assert not diffs, f"{len(diffs)} differences, first: {diffs[:3]}"


# ---------------------------------------------------------------------- worked cases


def test_every_shared_case_gives_its_expected_figures():
    paths = sorted(SHARED_CASES.glob("*.case.json"))
    cases = [parse_case_text(p.read_text(encoding="utf-8")) for p in paths]
    t = cases_to_tables(cases)  # every case calls its person P1: the converter prefixes later cases' ids with their index
    results = {r["visit_id"]: r for r in engine.settle_tables(t.persons, t.visits, t.lines).to_pylist()}
    checked = 0
    for k, path in enumerate(paths):
        expected = json.loads(path.with_name(path.name.replace(".case.json", ".expected.json")).read_text(encoding="utf-8"))
        for s in expected["settlements"]:
            row = results.get(s["visit_id"] if k == 0 else f"{k}:{s['visit_id']}")
            assert row is not None and row["status"] == "settled", (path.name, s["visit_id"], row and row["error"])
            for name in T.RESULT_MONEY:
                assert row[f"{name}_fen"] == to_fen(Decimal(s[name])), (path.name, s["visit_id"], name)
            checked += 1
    assert checked == t.visits.num_rows == 18


def test_shared_cases_equal_the_reference_runner():
    cases = [parse_case_text(p.read_text(encoding="utf-8")) for p in sorted(SHARED_CASES.glob("*.case.json"))]
    t = cases_to_tables(cases)
    assert_same(engine.settle_tables(t.persons, t.visits, t.lines), reference.settle_tables(t.persons, t.visits, t.lines))


# ---------------------------------------------------------------------- differential


CITIES = {"jiaxing": 2400, "hangzhou": 2400, "suizhou": 2400, "suzhou": 2400, "zhoushan": 2400}


@pytest.fixture(scope="module")
def generated() -> dict[str, tuple[pa.Table, pa.Table]]:
    out = {}
    for k, (city, persons) in enumerate(CITIES.items()):
        blocks = list(synth.generate(city, persons, 2026, seed=100 + k))
        out[city] = (pa.concat_tables([b[0] for b in blocks]), pa.concat_tables([b[1] for b in blocks]))
    return out


def test_differential_over_100000_generated_claims(generated):
    total = 0
    for city, (persons, visits) in generated.items():
        compiled = engine.settle_tables(persons, visits, overlays=ALL_OVERLAYS)
        expected = reference.settle_tables(persons, visits, overlays=ALL_OVERLAYS)
        assert_same(compiled, expected)
        assert pc.all(pc.equal(compiled.column("status"), "settled")).as_py(), city
        total += visits.num_rows
    assert total >= 100_000


def test_without_their_overlays_the_blank_figures_refuse_alike(generated):
    """苏州 without an overlay: every visit refused, naming the blank figure and its clause."""
    persons, visits = generated["suzhou"]
    persons = persons.slice(0, 200)
    visits = visits.filter(pc.is_in(visits.column("person_id"), value_set=persons.column("person_id")))
    compiled = engine.settle_tables(persons, visits)
    assert_same(compiled, reference.settle_tables(persons, visits))
    errors = set(compiled.column("error").to_pylist())
    assert all(e and "missing policy value suzhou:" in e for e in errors)


def test_results_identities(generated):
    persons, visits = generated["hangzhou"]
    r = engine.settle_tables(persons, visits)
    col = lambda n: r.column(f"{n}_fen").to_numpy()  # noqa: E731
    assert (col("medfee_sumamt") == col("fund_pay_sumamt") + col("acct_pay") + col("psn_cash_pay")).all()
    assert (col("fund_pay_sumamt") == col("hifp_pay") + col("hifob_pay") + col("hifmi_pay") + col("maf_pay")).all()
    assert (col("medfee_sumamt") == col("fulamt_ownpay_amt") + col("overlmt_selfpay") + col("preselfpay_amt") + col("inscp_scp_amt")).all()
    for name in T.RESULT_MONEY:
        assert (col(name) >= 0).all(), name


def test_the_order_of_persons_in_the_table_does_not_matter(generated):
    """Visits are settled by (person, date); visits of one person on one day in table order."""
    persons, visits = generated["jiaxing"]
    rows: dict[str, list[int]] = {}
    for i, pid in enumerate(visits.column("person_id").to_pylist()):
        rows.setdefault(pid, []).append(i)
    shuffled = visits.take(pa.array([i for pid in reversed(list(rows)) for i in rows[pid]]))
    a = engine.settle_tables(persons, visits).drop_columns(["plan"])  # plans are numbered as first met
    b = engine.settle_tables(persons, shuffled).drop_columns(["plan"])
    by_id = {r["visit_id"]: r for r in b.to_pylist()}
    assert all(by_id[r["visit_id"]] == r for r in a.to_pylist())


# ---------------------------------------------------------------------- random visits


def _maybe(strategy):
    return st.one_of(st.none(), strategy)


persons_st = st.fixed_dictionaries({
    "city": st.sampled_from(list(V.CITIES)),
    "scheme": st.sampled_from(list(V.SCHEMES)),
    "grade": st.sampled_from([1, 2]),
    "birth_date": _maybe(st.dates(dt.date(1930, 1, 1), dt.date(2025, 12, 31))),
    "sex": _maybe(st.sampled_from(["F", "M"])),
    "assistance": _maybe(st.sampled_from(list(V.ASSISTANCE))),
    "flags": st.sets(st.sampled_from(list(V.FLAGS)), max_size=2),
    "chronic": st.sets(st.sampled_from(["hypertension", "diabetes", "coronary_heart_disease", "malignant_tumor"]), max_size=2),
    "special": st.sets(st.sampled_from(["uremia_dialysis", "malignant_tumor", "hemophilia"]), max_size=1),
    "current": st.integers(0, 300_000),
    "history": st.integers(0, 3_000_000),
    "bonus": st.sampled_from([0, 0, 5_000_000]),
})

visits_st = st.fixed_dictionaries({
    "day": st.integers(0, 729),
    "kind": st.sampled_from(list(V.KINDS)),
    "level": st.sampled_from(list(V.LEVELS)),
    "location": st.sampled_from(list(V.LOCATIONS)),
    "route": _maybe(st.sampled_from(list(V.ROUTES))),
    "transfer_from": st.one_of(st.none(), st.none(), st.sampled_from(list(V.LEVELS))),
    "disease": _maybe(st.sampled_from(["hypertension", "diabetes", "malignant_tumor", "uremia_dialysis", "hemophilia"])),
    "procedure": st.sets(st.sampled_from(list(V.PROCEDURES)), max_size=2),
    "use_account": st.booleans(),
    "split": st.tuples(st.integers(0, 200_000), st.integers(0, 50_000), st.integers(0, 400_000),
                       st.one_of(st.integers(0, 50_000), st.integers(0, 50_000_000))),
})


def _tables(people: list[dict], visit_lists: list[list[dict]]) -> tuple[pa.Table, pa.Table]:
    prow, vrow = [], []
    for i, (p, vs) in enumerate(zip(people, visit_lists)):
        scheme = p["scheme"]
        category = sorted(V.CATEGORIES[scheme])[i % len(V.CATEGORIES[scheme])]
        resident = scheme == "resident"
        prow.append({
            "person_id": f"P{i}", "city": p["city"], "scheme": scheme, "category": category, "grade": p["grade"],
            "birth_date": p["birth_date"], "sex": p["sex"], "assistance": p["assistance"], "flags": "+".join(sorted(p["flags"])),
            "chronic_filings": "+".join(sorted(p["chronic"])), "special_filings": "+".join(sorted(p["special"])),
            "account_current_fen": 0 if resident else p["current"], "account_history_fen": 0 if resident else p["history"],
            "ci_cap_bonus_fen": p["bonus"],
        })
        for j, v in enumerate(sorted(vs, key=lambda v: v["day"])):
            f, o, pre, ins = v["split"]
            vrow.append({
                "visit_id": f"P{i}V{j}", "person_id": f"P{i}", "date": dt.date(2025, 1, 1) + dt.timedelta(days=v["day"]),
                "kind": v["kind"], "level": v["level"], "location": v["location"], "route": v["route"],
                "transfer_from": v["transfer_from"], "disease": v["disease"], "procedure": "+".join(sorted(v["procedure"])),
                "use_account": v["use_account"], "fulamt_ownpay_amt_fen": f, "overlmt_selfpay_fen": o,
                "preselfpay_amt_fen": pre, "inscp_scp_amt_fen": ins,
            })
    return (pa.Table.from_pylist(prow, schema=T.schema(T.PERSONS)), pa.Table.from_pylist(vrow, schema=T.schema(T.VISITS)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(persons_st, st.lists(visits_st, min_size=1, max_size=8)), min_size=1, max_size=6))
def test_random_visits_agree_with_the_reference_engine(population):
    persons, visits = _tables([p for p, _ in population], [vs for _, vs in population])
    assert_same(engine.settle_tables(persons, visits, overlays=ALL_OVERLAYS),
                reference.settle_tables(persons, visits, overlays=ALL_OVERLAYS))


# ---------------------------------------------------------------------- bad tables


def _small():
    cases = [parse_case_text(p.read_text(encoding="utf-8")) for p in sorted(SHARED_CASES.glob("*.case.json"))]
    t = cases_to_tables(cases)
    return t.persons, t.visits, t.lines


def test_a_missing_column_is_named():
    persons, visits, _ = _small()
    with pytest.raises(TableError, match="visits: missing column.*kind"):
        engine.settle_tables(persons, visits.drop_columns(["kind"]))


def test_an_unknown_value_names_its_rows():
    persons, visits, _ = _small()
    bad = visits.set_column(visits.schema.get_field_index("level"), "level", pa.array(["tertairy"] * visits.num_rows))
    with pytest.raises(TableError, match=r"visits.level: 'tertairy' is not one of .* in row 0 \("):
        engine.settle_tables(persons, bad)


def test_an_unknown_person_and_a_duplicate_id_are_refused():
    persons, visits, _ = _small()
    with pytest.raises(TableError, match="not in the persons table"):
        engine.settle_tables(persons.slice(1), visits)
    with pytest.raises(TableError, match="appears more than once"):
        engine.settle_tables(persons, pa.concat_tables([visits, visits.slice(0, 1)]))


def test_negative_amounts_are_refused():
    persons, visits, _ = _small()
    i = visits.schema.get_field_index("inscp_scp_amt_fen")
    bad = visits.set_column(i, "inscp_scp_amt_fen", pa.array([-1] + [0] * (visits.num_rows - 1), pa.int64()))
    with pytest.raises(TableError, match="negative amount in row 0"):
        engine.settle_tables(persons, bad)


def test_a_bill_given_twice_is_refused():
    persons, visits, lines = _small()
    with_lines = set(lines.column("visit_id").to_pylist())
    i = visits.schema.get_field_index("inscp_scp_amt_fen")
    values = [100 if v in with_lines else 0 for v in visits.column("visit_id").to_pylist()]
    bad = visits.set_column(i, "inscp_scp_amt_fen", pa.array(values, pa.int64()))
    assert with_lines
    with pytest.raises(TableError, match="either as split columns or as lines"):
        engine.settle_tables(persons, bad, lines)


def test_profiles_of_many_facts_are_told_apart():
    """Any number of facts of any range: each distinct combination one code, in first-seen
    order, with its first row (here more combinations than an int64 could number, and
    enough distinct rows to grow the table several times)."""
    import numpy as np

    rng = np.random.default_rng(3)
    parts = [rng.integers(0, 3, 5000) for _ in range(4)] + [rng.integers(-2**31, 2**31 - 1, 5000) % 50]
    codes, first = engine._combine(parts)
    combos = list(zip(*parts))
    assert len(first) == len(set(combos))
    for code, row in enumerate(first):
        assert combos[row] == combos[int(np.flatnonzero(codes == code)[0])]
    assert all(codes[i] == codes[j] for i in range(50) for j in range(50) if combos[i] == combos[j])
    assert list(first) == sorted(first)  # first-seen order


def test_a_batch_process_keeps_the_memory_it_frees():
    """The allocators' settings for a batch process (its own process here: they are global)."""
    import subprocess
    import sys

    code = ("from yibao.batch.memory import keep_freed_memory; import pyarrow as pa; "
            "print(keep_freed_memory(), keep_freed_memory(), pa.default_memory_pool().backend_name)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True", "system"]


def test_a_failed_write_leaves_no_results_file(tmp_path, monkeypatch):
    """The writer thread's error reaches the caller, and no half-written file is left."""
    import pyarrow.parquet as pq

    persons, visits, _ = _small()
    pq.write_table(persons, tmp_path / "persons.parquet")
    pq.write_table(visits, tmp_path / "visits.parquet")

    def broken(self, table, row_group_size=None):
        raise OSError("disk full")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        engine.settle_files(tmp_path / "visits.parquet", tmp_path / "results.parquet")
    assert not (tmp_path / "results.parquet").exists()


# ---------------------------------------------------------------------- a large file, in passes


def _files(tmp_path: Path, persons: pa.Table, visits: pa.Table) -> Path:
    import pyarrow.parquet as pq

    pq.write_table(persons, tmp_path / "persons.parquet")
    pq.write_table(visits, tmp_path / "visits.parquet", row_group_size=3_000)
    return tmp_path / "visits.parquet"


def test_a_file_settled_in_passes_equals_one_pass(generated, tmp_path):
    """Visits grouped by person, more than a pass holds: settled a slice of persons at a
    time, the results and the plans file are those of one pass — plan numbers included."""
    import pyarrow.parquet as pq

    persons, visits = generated["hangzhou"]
    path = _files(tmp_path, persons, visits)
    one = engine.settle_files(path, tmp_path / "one.parquet", pass_size=10 ** 9)
    many = engine.settle_files(path, tmp_path / "many.parquet", pass_size=4_000)
    assert "passes" not in one.timings and "passes" in many.timings
    assert pq.read_table(tmp_path / "many.parquet").to_pylist() == pq.read_table(tmp_path / "one.parquet").to_pylist()
    assert (tmp_path / "many.parquet.plans.json").read_text() == (tmp_path / "one.parquet.plans.json").read_text()
    assert many.totals == one.totals and visits.num_rows > 4 * 4_000


def test_visits_not_grouped_by_person_are_settled_in_one_pass(generated, tmp_path):
    persons, visits = generated["jiaxing"]
    mixed = visits.take(pc.sort_indices(visits, [("date", "ascending")]))  # by date (stable): persons interleaved
    path = _files(tmp_path, persons, mixed)
    settled = engine.settle_files(path, tmp_path / "results.parquet", pass_size=4_000)
    assert "passes" not in settled.timings
    assert settled.totals == engine.settle(persons, visits).totals


def test_a_visit_id_repeated_in_a_later_pass_is_refused_and_no_file_is_left(generated, tmp_path):
    persons, visits = generated["hangzhou"]
    ids = visits.column("visit_id").to_pylist()
    ids[-1] = ids[0]  # the last person's last visit takes the first one's id
    path = _files(tmp_path, persons, visits.set_column(0, "visit_id", pa.array(ids)))
    with pytest.raises(TableError, match=f"visits.visit_id: '{ids[0]}' appears more than once"):
        engine.settle_files(path, tmp_path / "results.parquet", pass_size=4_000)
    assert not (tmp_path / "results.parquet").exists()


def test_an_error_in_a_later_pass_names_the_row_in_the_whole_file(generated, tmp_path):
    persons, visits = generated["hangzhou"]
    row = visits.num_rows - 10
    column = visits.schema.get_field_index("inscp_scp_amt_fen")
    amounts = visits.column(column).to_pylist()
    amounts[row] = -1
    path = _files(tmp_path, persons, visits.set_column(column, "inscp_scp_amt_fen", pa.array(amounts, pa.int64())))
    visit_id = visits.column("visit_id")[row].as_py()
    with pytest.raises(TableError, match=rf"negative amount in row {row} \({visit_id}\)"):
        engine.settle_files(path, tmp_path / "results.parquet", pass_size=4_000)
    assert not (tmp_path / "results.parquet").exists()


def test_person_ids_are_looked_up_once_a_run_in_any_encoding():
    """Runs of one person's visits may cross a chunk's end, and come plain or dictionary-encoded."""
    persons = pa.table({"person_id": ["P1", "P2", "P3"]})
    chunks = [["P2", "P2", "P1"], ["P1", "P3", "P2"]]
    for encode in (False, True):
        ids = pa.chunked_array([pa.array(c).dictionary_encode() if encode else pa.array(c) for c in chunks])
        runs = engine._runs(ids, persons)
        assert runs.start.tolist() == [0, 2, 4, 5]
        assert runs.spread().tolist() == [1, 1, 0, 0, 2, 1]
        assert not runs.unknown
    assert engine._runs(pa.chunked_array([["P1", "P9", "P9"]]), persons).spread().tolist() == [0, -1, -1]
