"""`yibao batch convert` and `yibao batch settle` as a user runs them."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

from support import SHARED_CASES, run_cli
from yibao.batch.convert import to_fen


def test_convert_then_settle_gives_the_worked_cases_figures(tmp_path):
    paths = sorted(SHARED_CASES.glob("*.case.json"))
    run = run_cli("batch", "convert", *map(str, paths), "--out", str(tmp_path))
    assert run.code == 0, run.err
    assert {p.name for p in tmp_path.iterdir()} >= {"persons.parquet", "visits.parquet", "lines.parquet"}
    out = tmp_path / "results.parquet"
    run = run_cli("batch", "settle", str(tmp_path / "visits.parquet"), "--out", str(out), "--quiet")
    assert run.code == 0, run.err
    assert "18 claims · 18 settled · 0 refused" in run.out
    results = {r["visit_id"]: r for r in pq.read_table(out).to_pylist()}
    for k, path in enumerate(paths):
        expected = json.loads(path.with_name(path.name.replace(".case.json", ".expected.json")).read_text(encoding="utf-8"))
        for s in expected["settlements"]:
            row = results[s["visit_id"] if k == 0 else f"{k}:{s['visit_id']}"]
            assert row["hifp_pay_fen"] == to_fen(Decimal(s["hifp_pay"]))
            assert row["psn_cash_pay_fen"] == to_fen(Decimal(s["psn_cash_pay"]))
    plans = json.loads((tmp_path / "results.parquet.plans.json").read_text(encoding="utf-8"))
    assert plans["plans"] and all("line" in p or "refused" in p for p in plans["plans"])


def test_the_reference_engine_gives_the_same_file(tmp_path):
    paths = sorted(SHARED_CASES.glob("*.case.json"))
    assert run_cli("batch", "convert", *map(str, paths), "--out", str(tmp_path)).code == 0
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert run_cli("batch", "settle", str(tmp_path / "visits.parquet"), "--out", str(a), "--quiet").code == 0
    assert run_cli("batch", "settle", str(tmp_path / "visits.parquet"), "--out", str(b), "--engine", "reference").code == 0
    drop = lambda t: t.drop_columns(["plan"]).to_pylist()  # noqa: E731
    assert drop(pq.read_table(a)) == drop(pq.read_table(b))


def test_a_bad_table_is_one_sentence_and_status_2(tmp_path):
    pq.write_table(pa.table({"visit_id": ["V1"]}), tmp_path / "visits.parquet")
    pq.write_table(pa.table({"person_id": ["P1"]}), tmp_path / "persons.parquet")
    run = run_cli("batch", "settle", str(tmp_path / "visits.parquet"), "--out", str(tmp_path / "r.parquet"))
    assert run.code == 2
    assert run.err.startswith("yibao: persons: missing column(s) city, scheme")
    assert not (tmp_path / "r.parquet").exists()


def test_a_missing_file_is_named(tmp_path):
    run = run_cli("batch", "settle", str(tmp_path / "nope.parquet"))
    assert run.code == 2 and "no such file" in run.err


def test_a_file_settled_in_passes_gives_the_same_results(tmp_path):
    assert run_cli("synth", "--city", "jiaxing", "--persons", "1500", "--year", "2026", "--out", str(tmp_path),
                   "--no-progress").code == 0
    one, passes = tmp_path / "one.parquet", tmp_path / "passes.parquet"
    visits = str(tmp_path / "visits.parquet")
    assert run_cli("batch", "settle", visits, "--out", str(one), "--quiet").code == 0
    run = run_cli("batch", "settle", visits, "--out", str(passes), "--quiet", "--pass-size", "2,000")
    assert run.code == 0, run.err
    assert pq.read_table(passes).to_pylist() == pq.read_table(one).to_pylist()
    assert pq.read_metadata(one).num_rows > 3 * 2_000


def test_a_pass_size_must_be_a_positive_number(tmp_path):
    run = run_cli("batch", "settle", str(tmp_path / "visits.parquet"), "--pass-size", "0")
    assert run.code == 2 and "--pass-size: must be at least 1" in run.err
