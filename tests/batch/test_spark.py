"""The batch on Apache Spark (local[2]) equals the compiled engine, to the fen, in input order.

* generated claims of 杭州 and 苏州 (with its example overlay), the visits shuffled, plus one
  person with thousands of visits — more than a partition's chunk — in small Arrow batches
  and small chunks, so persons straddle batches and chunks: every column equals
  :func:`yibao.batch.engine.settle_tables` but ``plan``, which is -1;
* 苏州 without its overlay: refused alike, with the message naming the blank figure;
* itemised bills (lines), which travel nested in their visits;
* ``settle_files``: Parquet read and written by Spark reads back equal, in input order;
* ``yibao batch settle --engine spark``, and bad tables refused as the engine refuses them.

One SparkSession serves the module: starting one takes ~10 s on two cores.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from support import SHARED_CASES
from yibao.batch import engine, spark, synth
from yibao.batch import tables as T
from yibao.batch.convert import cases_to_tables
from yibao.batch.tables import TableError
from yibao.case import parse_case_text
from yibao.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
SUZHOU = str(ROOT / "examples" / "overlays" / "suzhou.yaml")
HEAVY = 2_500  # visits of the one heavy person: more than a chunk
CHUNK = 2_000  # visits per engine call inside a partition, for these tests


def assert_same(got: pa.Table, expected: pa.Table) -> None:
    """Row by row, in order, every column's values but the plan number (-1 from Spark)."""
    assert got.column_names == expected.column_names
    assert got.num_rows == expected.num_rows
    assert pc.all(pc.equal(got.column("plan"), -1)).as_py()
    columns = [c for c in expected.column_names if c != "plan"]
    a, b = got.select(columns).to_pylist(), expected.select(columns).to_pylist()
    diffs = [(x["visit_id"], {k: (x[k], y[k]) for k in columns if x[k] != y[k]}) for x, y in zip(a, b) if x != y]
    assert not diffs, f"{len(diffs)} differences, first: {diffs[:3]}"


@pytest.fixture(scope="module")
def session():
    # small Arrow batches, so that a person's visits straddle them; results written as several
    # part files (no adaptive coalescing), so that their order across files is checked
    s = spark.session("local[2]", conf={"spark.sql.execution.arrow.maxRecordsPerBatch": "500",
                                        "spark.sql.adaptive.coalescePartitions.enabled": "false"})
    yield s
    s.stop()


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(spark, "PARTITION_CHUNK", CHUNK)


def _generated(city: str, persons: int, seed: int) -> tuple[pa.Table, pa.Table]:
    blocks = list(synth.generate(city, persons, 2026, seed=seed))
    return pa.concat_tables([b[0] for b in blocks]), pa.concat_tables([b[1] for b in blocks])


def _heavy(persons: pa.Table, visits: pa.Table) -> pa.Table:
    """HEAVY more outpatient visits of an employee, spread over the year."""
    employee = pc.filter(persons.column("person_id"), pc.equal(persons.column("scheme"), "employee"))
    own = visits.filter(pc.is_in(visits.column("person_id"), value_set=employee))
    template = own.filter(pc.equal(own.column("kind"), "outpatient")).slice(0, 1)
    assert template.num_rows == 1
    rows = template.take(pa.array(np.zeros(HEAVY, np.int64)))
    ids = pa.array([f"{template.column('visit_id')[0].as_py()}-H{k:05d}" for k in range(HEAVY)])
    days = pa.array([dt.date(2026, 1, 1) + dt.timedelta(days=int(d)) for d in np.arange(HEAVY) * 7 % 365])
    for name, values in (("visit_id", ids), ("date", days.cast(pa.date32()))):
        k = rows.schema.get_field_index(name)
        rows = rows.set_column(k, rows.schema.field(k), values)
    return rows


@pytest.fixture(scope="module")
def claims() -> tuple[pa.Table, pa.Table]:
    """杭州 and 苏州, 1,500 persons each, the visits shuffled, and one heavy person."""
    hp, hv = _generated("hangzhou", 1500, 7)
    sp, sv = _generated("suzhou", 1500, 8)
    persons = pa.concat_tables([hp, sp])
    visits = pa.concat_tables([hv, sv, _heavy(hp, hv)])
    visits = visits.take(pa.array(np.random.default_rng(3).permutation(visits.num_rows)))
    return persons, visits


def _cases():
    cases = [parse_case_text(p.read_text(encoding="utf-8")) for p in sorted(SHARED_CASES.glob("*.case.json"))]
    return cases_to_tables(cases)


# ---------------------------------------------------------------------- one partition, without Spark


def _arranged(persons: pa.Table, visits: pa.Table) -> pa.Table:
    """What mapInArrow hands a partition: visits joined with their persons, sorted by (person, date, row)."""
    visits = visits.append_column(spark.ROW, pa.array(np.arange(visits.num_rows, dtype=np.int64)))
    visits = visits.append_column(spark.HAS_VISIT, pa.array(np.ones(visits.num_rows, np.bool_)))
    persons = persons.append_column(spark.HAS_PERSON, pa.array(np.ones(persons.num_rows, np.bool_)))
    joined = visits.join(persons, "person_id", join_type="left outer")
    return joined.sort_by([("person_id", "ascending"), ("date", "ascending"), (spark.ROW, "ascending")])


@pytest.mark.parametrize("batch, chunk", [(1, 3), (7, 40), (64, 25), (500, 10**6)])
def test_a_partition_is_settled_in_chunks_of_whole_persons(batch, chunk):
    """Batches of any size, chunks of any size (down to one person), in the partition's
    order: the results equal the engine's, row for row."""
    persons, visits = _generated("hangzhou", 60, 11)
    arranged = _arranged(persons, visits)
    out = pa.Table.from_batches(list(spark._settle_partition(iter(arranged.to_batches(max_chunksize=batch)),
                                                               spark._overlay_texts(()), chunk)))
    assert out.schema.equals(spark.OUT_SCHEMA)
    got = out.take(pc.sort_indices(out.column(spark.ROW))).drop_columns([spark.ROW])
    assert_same(got, engine.settle_tables(persons, visits))


def test_the_last_person_starts_where_the_batches_say():
    batches = [pa.record_batch({"person_id": ids}) for ids in (["A", "A", "B"], ["B", "B"], ["C"], ["C", "C"])]
    assert spark._last_person_start(batches) == 5  # C starts at the start of the third batch
    assert spark._last_person_start(batches[:2]) == 2
    assert spark._last_person_start(batches[1:2]) == 0  # one person only: nothing to cut


# ---------------------------------------------------------------------- settle_tables


def test_two_cities_equal_the_compiled_engine(session, claims, small_chunks):
    persons, visits = claims
    counts = pc.value_counts(visits.column("person_id"))
    assert max(counts.field("counts").to_pylist()) > HEAVY > CHUNK  # one person outgrows a chunk
    assert visits.num_rows > 6 * CHUNK  # each of the 4 partitions settles several chunks
    expected = engine.settle_tables(persons, visits, overlays=[SUZHOU])
    got = spark.settle_tables(persons, visits, overlays=[SUZHOU], partitions=4, spark=session)
    assert got.schema.equals(T.schema(T.RESULTS))  # the documented schema
    assert_same(got, expected)
    assert pc.all(pc.equal(got.column("status"), "settled")).as_py()
    assert set(got.column("city").to_pylist()) == {"hangzhou", "suzhou"}


def test_without_the_overlay_suzhou_is_refused_alike(session, claims):
    persons, visits = claims
    persons = pa.concat_tables([persons.slice(0, 150), persons.slice(1500, 150)])  # 150 of each city
    visits = visits.filter(pc.is_in(visits.column("person_id"), value_set=persons.column("person_id")))
    expected = engine.settle_tables(persons, visits)
    got = spark.settle_tables(persons, visits, partitions=3, spark=session)
    assert_same(got, expected)
    refused = got.filter(pc.equal(got.column("status"), "refused"))
    assert refused.num_rows and set(refused.column("city").to_pylist()) == {"suzhou"}
    assert all("missing policy value suzhou:" in e for e in refused.column("error").to_pylist())
    assert pc.all(pc.equal(got.filter(pc.equal(got.column("city"), "hangzhou")).column("status"), "settled")).as_py()


def test_itemised_bills_travel_with_their_visits(session):
    t = _cases()
    assert t.lines is not None and t.lines.num_rows
    expected = engine.settle_tables(t.persons, t.visits, t.lines)
    assert_same(spark.settle_tables(t.persons, t.visits, t.lines, partitions=2, spark=session), expected)


def test_bad_tables_are_refused_as_the_engine_refuses_them(session, claims):
    persons, visits = claims
    with pytest.raises(TableError) as spark_error:
        spark.settle_tables(persons.slice(1), visits, spark=session)
    with pytest.raises(TableError) as engine_error:
        engine.settle_tables(persons.slice(1), visits)
    assert str(spark_error.value) == str(engine_error.value)
    t = _cases()
    orphan = t.lines.set_column(0, "visit_id", pa.array(["nope"] + t.lines.column("visit_id").to_pylist()[1:]))
    with pytest.raises(TableError, match="lines.visit_id: not in the visits table in row 0"):
        spark.settle_tables(t.persons, t.visits, orphan, spark=session)


# ---------------------------------------------------------------------- files


def test_settle_files_reads_and_writes_parquet_with_spark(session, claims, small_chunks, tmp_path):
    persons, visits = claims
    pq.write_table(persons, tmp_path / "persons.parquet")
    folder = tmp_path / "visits.parquet"  # a directory of part files with small row groups
    folder.mkdir()
    third = visits.num_rows // 3
    for k, part in enumerate([visits.slice(0, third), visits.slice(third, third), visits.slice(2 * third)]):
        pq.write_table(part, folder / f"part-{k}.parquet", row_group_size=4_000)
    out = tmp_path / "results"
    summary = spark.settle_files(folder, out, overlays=[SUZHOU], partitions=4, spark=session)
    assert out.is_dir() and len(list(out.glob("*.parquet"))) >= 2
    expected = engine.settle_tables(persons, visits, overlays=[SUZHOU])
    assert_same(pq.read_table(out), expected)
    assert summary == engine.summary(expected)


def test_settle_files_with_lines_beside_the_visits(session, tmp_path):
    t = _cases()
    for name, table in (("persons", t.persons), ("visits", t.visits), ("lines", t.lines)):
        pq.write_table(table, tmp_path / f"{name}.parquet")
    spark.settle_files(tmp_path / "visits.parquet", tmp_path / "out", partitions=2, spark=session)
    expected = engine.settle_tables(t.persons, t.visits, t.lines)
    assert_same(pq.read_table(tmp_path / "out"), expected)


def test_settle_files_refuses_visits_of_unknown_persons(session, claims, tmp_path):
    persons, visits = claims
    pq.write_table(persons.slice(1), tmp_path / "persons.parquet")
    pq.write_table(visits, tmp_path / "visits.parquet")
    missing = persons.column("person_id")[0].as_py()
    with pytest.raises(TableError, match=f"visits.person_id: not in the persons table for visit\\(s\\) .*\\({missing}\\)"):
        spark.settle_files(tmp_path / "visits.parquet", tmp_path / "out", partitions=2, spark=session)
    pq.write_table(persons, tmp_path / "persons.parquet")
    pq.write_table(pa.concat_tables([visits, visits.slice(5, 1)]), tmp_path / "visits.parquet")
    with pytest.raises(TableError, match="visits.visit_id: .* appears more than once"):
        spark.settle_files(tmp_path / "visits.parquet", tmp_path / "out", partitions=2, spark=session)


def test_the_cli_settles_with_the_spark_engine(session, claims, tmp_path, capsys):
    persons, visits = claims
    persons = persons.slice(1500, 100)  # 苏州
    visits = visits.filter(pc.is_in(visits.column("person_id"), value_set=persons.column("person_id")))
    pq.write_table(persons, tmp_path / "persons.parquet")
    pq.write_table(visits, tmp_path / "visits.parquet")
    out = tmp_path / "results.parquet"
    code = cli_main(["batch", "settle", str(tmp_path / "visits.parquet"), "--engine", "spark", "--overlay", SUZHOU,
                     "--out", str(out), "--quiet"])
    assert code == 0
    assert_same(pq.read_table(out), engine.settle_tables(persons, visits, overlays=[SUZHOU]))
    assert f"{visits.num_rows:,} claims" in capsys.readouterr().out
