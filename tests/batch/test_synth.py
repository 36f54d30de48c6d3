"""``yibao synth``: reproducible synthetic populations and a year of their claims.

The generated tables must validate against the batch schemas, be identical for the same
(city, persons, year, seed), hold only visits the city can settle — checked by settling a
sample with the reference engine — and look like a population's year of care.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from yibao import vocabulary as V
from yibao.batch import synth, tables
from yibao.case import parse_case
from yibao.commands import synth as command
from yibao.engine.pipeline import settle_case
from yibao.errors import MissingPolicyValue, YibaoError
from yibao.policy.loader import load_city

HERE = Path(__file__).parent
SUIZHOU_OVERLAY = str(HERE / "suizhou-outpatient-overlay.yaml")

#: a year each city's policy is in force (杭州 from 2026; 苏州 and 舟山 leave the date blank)
YEAR = {"jiaxing": 2025, "hangzhou": 2026, "suizhou": 2025, "suzhou": 2025, "zhoushan": 2025}


def generated(city: str, persons: int, seed: int = 1, year: int | None = None) -> tuple[pa.Table, pa.Table]:
    blocks = list(synth.generate(city, persons, year or YEAR[city], seed))
    return pa.concat_tables([b[0] for b in blocks]), pa.concat_tables([b[1] for b in blocks])


@pytest.fixture(scope="module")
def big() -> tuple[pa.Table, pa.Table]:
    """Three blocks of 杭州 persons, for the distribution checks."""
    return generated("hangzhou", 3 * synth.BLOCK, seed=11)


def totals_fen(visits: pa.Table) -> np.ndarray:
    return sum(visits[c].to_numpy() for c in tables.SPLIT)


def np_strings(col) -> np.ndarray:
    return np.array(col.to_pylist(), dtype=object)


# ------------------------------------------------------------------------------ schema and shape


@pytest.mark.parametrize("city", list(V.CITIES))
def test_tables_validate_against_the_batch_schemas(city, monkeypatch):
    monkeypatch.setattr(synth, "BLOCK", 700)  # several blocks in a small run
    persons, visits = generated(city, 2000)
    assert persons.schema.equals(tables.schema(tables.PERSONS))
    assert visits.schema.equals(tables.schema(tables.VISITS))
    tables.validate(persons, tables.PERSONS, "persons", "person_id")
    tables.validate(visits, tables.VISITS, "visits", "visit_id")
    admdvs = synth.ADMDVS[city]
    ids = persons["person_id"].to_pylist()
    assert ids == [f"P{admdvs}{i:09d}" for i in range(1, 2001)]
    assert set(persons["city"].to_pylist()) == {city}
    assert set(visits["person_id"].to_pylist()) <= set(ids)
    assert all(v.startswith(f"V{admdvs}{YEAR[city]}") for v in visits["visit_id"].to_pylist()[:100])


def test_visits_are_sorted_by_person_then_date_and_inside_the_year():
    persons, visits = generated("jiaxing", 3000)
    keys = list(zip(visits["person_id"].to_pylist(), visits["date"].to_pylist()))
    assert keys == sorted(keys)
    dates = visits["date"].to_pylist()
    assert min(dates) >= dt.date(2025, 1, 1) and max(dates) <= dt.date(2025, 12, 31)


def test_persons_are_consistent_with_their_ages():
    persons, _ = generated("suizhou", 6000)
    jan1 = dt.date(2025, 1, 1)
    for p in persons.to_pylist():
        b = p["birth_date"]
        age = jan1.year - b.year - ((jan1.month, jan1.day) < (b.month, b.day))
        cat = p["category"]
        assert cat in V.CATEGORIES[p["scheme"]]
        if cat == "child":
            assert age < 18
        elif cat == "student":
            assert 18 <= age < 23
        elif cat == "adult":
            assert 18 <= age < 60
        elif cat == "elderly":
            assert age >= 60
        elif cat == "retired":
            assert age >= 50
        else:  # active, flexible, unemployed
            assert 18 <= age < 60
        if p["scheme"] == "resident":
            assert p["account_current_fen"] == 0 and p["account_history_fen"] == 0
        if p["assistance"] == "orphan":
            assert age < 18
        if "prostatic_hyperplasia" in p["chronic_filings"]:
            assert p["sex"] == "M"


@pytest.mark.parametrize("city", list(V.CITIES))
def test_no_impossible_visit_is_generated(city):
    """The checks of classify._reject_impossible (G13), on the whole table."""
    persons, visits = generated(city, 4000)
    by_id = {p["person_id"]: p for p in persons.to_pylist()}
    rank = {level: i for i, level in enumerate(["clinic", "primary", "level1", "secondary", "tertiary"])}
    for v in visits.to_pylist():
        p = by_id[v["person_id"]]
        kind, level = v["kind"], v["level"]
        assert (kind == "pharmacy") <= (level == "pharmacy")
        if level == "pharmacy":
            assert kind in ("pharmacy", "chronic", "special")
        if kind in ("chronic", "special"):
            assert v["disease"] in p[f"{kind}_filings"].split("+"), (v, p)
        else:
            assert v["disease"] is None
        if kind in ("prenatal", "delivery"):
            assert p["sex"] == "F"
        procedures = set(filter(None, v["procedure"].split("+")))
        assert bool(procedures) == (kind == "family_planning")
        if procedures:
            assert ("vasectomy" in procedures) == (p["sex"] == "M")
        assert (v["route"] is None) == (v["location"] == "local")
        if v["transfer_from"] is not None:
            assert kind == "inpatient" and rank[v["transfer_from"]] < rank[level]
        if p["scheme"] == "resident":
            assert v["use_account"] is False


# ------------------------------------------------------------------------------ reproducibility


def test_same_arguments_give_byte_identical_files(tmp_path):
    a = synth.write("hangzhou", 1500, 2026, 5, tmp_path / "a")
    b = synth.write("hangzhou", 1500, 2026, 5, tmp_path / "b")
    for name in ("persons.parquet", "visits.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (a.claims, a.billed_fen, a.by_kind) == (b.claims, b.billed_fen, b.by_kind)
    c = synth.write("hangzhou", 1500, 2026, 6, tmp_path / "c")
    assert (tmp_path / "c" / "visits.parquet").read_bytes() != (tmp_path / "a" / "visits.parquet").read_bytes()
    assert c.claims != a.claims or c.billed_fen != a.billed_fen


def test_content_does_not_depend_on_the_row_groups(tmp_path):
    persons = synth.BLOCK + 500
    synth.write("jiaxing", persons, 2025, 3, tmp_path / "one")
    synth.write("jiaxing", persons, 2025, 3, tmp_path / "many", row_group_rows=5000)
    assert pq.ParquetFile(tmp_path / "many" / "visits.parquet").num_row_groups > 2
    for name in ("persons.parquet", "visits.parquet"):
        assert pq.read_table(tmp_path / "one" / name).equals(pq.read_table(tmp_path / "many" / name))
    persons_table = pq.read_table(tmp_path / "one" / "persons.parquet")
    assert persons_table.num_rows == persons
    direct = generated("jiaxing", persons, seed=3)
    assert pq.read_table(tmp_path / "one" / "visits.parquet").equals(direct[1])


# ------------------------------------------------------------------------------ settled by the reference engine


@pytest.mark.parametrize(
    "city, overlays",
    [("jiaxing", ()), ("hangzhou", ()), ("suizhou", (SUIZHOU_OVERLAY,))],
)
def test_a_sample_settles_with_the_reference_engine_without_errors(city, overlays):
    """Each person's year of visits, as a case (case-format.md), settles visit after visit.
    随州 delegates its outpatient figures to other documents: an illustrative overlay supplies them."""
    persons, visits = generated(city, 300, seed=2)
    policy = load_city(city, overlays)
    errors, settled = [], 0
    for raw in synth.case_dicts(persons, visits):
        try:
            settled += len(settle_case(parse_case(raw), policy))
        except YibaoError as exc:
            errors.append(f"{raw['person']['id']}: {exc}")
    assert errors == []
    assert settled == visits.num_rows


EXAMPLE_OVERLAYS = HERE.parent.parent / "examples" / "overlays"


@pytest.mark.parametrize("city", ["suzhou", "zhoushan", "suizhou"])
def test_with_the_example_overlays_every_city_settles_a_sample(city):
    """The illustrative overlays of examples/overlays (docs/batch/overlays.md) fill every blank."""
    overlay = EXAMPLE_OVERLAYS / f"{city}.yaml"
    if not overlay.exists():
        pytest.skip(f"{overlay} is not there")
    persons, visits = generated(city, 200, seed=2, year=2026)
    policy = load_city(city, (str(overlay),))
    settled = sum(len(settle_case(parse_case(raw), policy)) for raw in synth.case_dicts(persons, visits))
    assert settled == visits.num_rows


@pytest.mark.parametrize("city", ["suzhou", "zhoushan"])
def test_cities_with_blank_figures_refuse_only_for_the_blanks(city):
    """苏州 and 舟山 need an overlay to settle: every refusal names a missing figure, none is a bad claim."""
    persons, visits = generated(city, 120, seed=2)
    policy = load_city(city)
    refused = 0
    for raw in synth.case_dicts(persons, visits):
        for visit in raw["visits"]:
            try:
                settle_case(parse_case({**raw, "visits": [visit]}), policy)
            except MissingPolicyValue:
                refused += 1
    assert refused > 0  # the blanks are real


def test_case_dicts_carry_the_fen_columns_as_yuan():
    persons, visits = generated("jiaxing", 200)
    cases = list(synth.case_dicts(persons, visits))
    assert sum(len(c["visits"]) for c in cases) == visits.num_rows
    first = visits.slice(0, 1).to_pylist()[0]
    visit = next(v for c in cases for v in c["visits"] if v["id"] == first["visit_id"])
    f = first["inscp_scp_amt_fen"]
    assert visit["amounts"]["inscp_scp_amt"] == f"{f // 100}.{f % 100:02d}"


# ------------------------------------------------------------------------------ distributions


def test_population_shape(big):
    persons, _ = big
    n = persons.num_rows
    scheme = np_strings(persons["scheme"])
    assert 0.45 < (scheme == "employee").mean() < 0.65
    sex = np_strings(persons["sex"])
    assert 0.45 < (sex == "F").mean() < 0.55
    assistance = persons["assistance"]
    assert 0.003 < (n - assistance.null_count) / n < 0.08
    flags = np_strings(persons["flags"])
    assert 0.05 < (flags != "").mean() < 0.35
    employee = scheme == "employee"
    history = persons["account_history_fen"].to_numpy()
    category = np_strings(persons["category"])
    assert np.median(history[category == "retired"]) > np.median(history[category == "active"]) > 0
    grade2 = persons["grade"].to_numpy() == 2
    assert not (grade2 & employee).any() and grade2.any()  # 杭州 residents choose a grade


def test_filings_rise_with_age(big):
    persons, _ = big
    birth = persons["birth_date"].to_numpy().astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    age = 2026 - birth
    chronic = np_strings(persons["chronic_filings"]) != ""
    assert chronic[age >= 65].mean() > 3 * chronic[(age >= 20) & (age < 45)].mean()
    assert chronic[age >= 65].mean() > 0.2
    special = np_strings(persons["special_filings"])
    assert (special != "").mean() < 0.05 and (special != "").any()


def test_claims_shape(big):
    persons, visits = big
    n, m = persons.num_rows, visits.num_rows
    assert 5 < m / n < 15
    kind = np_strings(visits["kind"])
    assert 0.005 < (kind == "inpatient").mean() < 0.03
    assert set(kind) == set(V.KINDS)
    total = totals_fen(visits)
    assert (total > 0).all()
    for col in tables.SPLIT:
        assert (visits[col].to_numpy() >= 0).all()
    inscp = visits["inscp_scp_amt_fen"].to_numpy()
    assert 0.8 < inscp.sum() / total.sum() < 0.97
    stays = total[kind == "inpatient"]
    assert (stays > 10_000_000).sum() > 5  # some stays above 100,000 yuan
    assert (stays > 10_000_000).mean() < 0.05
    level = np_strings(visits["level"])
    out = kind == "outpatient"
    medians = [np.median(total[out & (level == lv)]) for lv in ("clinic", "primary", "secondary", "tertiary")]
    assert medians == sorted(medians)
    assert 0.005 < (np_strings(visits["location"]) != "local").mean() < 0.1
    assert (np_strings(visits["transfer_from"].fill_null("")) != "").any()


def test_visits_per_person_are_higher_for_children_and_the_elderly(big):
    persons, visits = big
    birth = persons["birth_date"].to_numpy().astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    age = 2026 - birth
    out = pc.equal(visits["kind"], "outpatient")
    counts = pc.value_counts(pc.filter(visits["person_id"], out)).to_pylist()
    per = dict((c["values"], c["counts"]) for c in counts)
    ids = persons["person_id"].to_pylist()
    visits_of = np.array([per.get(i, 0) for i in ids])
    young_adults = visits_of[(age >= 20) & (age < 40)].mean()
    assert visits_of[age < 5].mean() > 1.5 * young_adults
    assert visits_of[age >= 70].mean() > 1.5 * young_adults


def test_a_large_sample_has_rare_very_large_stays():
    persons, visits = generated("jiaxing", 60_000, seed=4)
    stays = totals_fen(visits)[np_strings(visits["kind"]) == "inpatient"]
    assert (stays > 50_000_000).sum() >= 1  # above 500,000 yuan
    assert (stays > 50_000_000).mean() < 0.005


# ------------------------------------------------------------------------------ the command


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="yibao")
    command.register(p.add_subparsers())
    return p


def test_command_writes_the_tables_and_prints_a_summary(tmp_path, capsys):
    args = parser().parse_args(["synth", "--city", "suizhou", "--persons", "2500", "--year", "2025",
                                "--seed", "9", "--out", str(tmp_path / "out")])
    assert args.run(args) == 0
    out = capsys.readouterr().out
    persons = pq.read_table(tmp_path / "out" / "persons.parquet")
    visits = pq.read_table(tmp_path / "out" / "visits.parquet")
    assert persons.num_rows == 2500
    assert "2,500" in out and f"{visits.num_rows:,}" in out and "outpatient" in out and "yuan" in out
    billed = int(totals_fen(visits).sum())
    assert f"{billed // 100:,}.{billed % 100:02d}" in out


def test_command_default_folder_and_note_outside_the_policy(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = parser().parse_args(["synth", "--city", "hangzhou", "--persons", "50", "--year", "2025"])
    assert args.run(args) == 0
    assert (tmp_path / "synth-hangzhou-50-2025" / "visits.parquet").exists()
    assert "not in force" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["--city", "nowhere", "--persons", "5", "--year", "2025"],
    ["--city", "jiaxing", "--persons", "0", "--year", "2025"],
    ["--city", "jiaxing", "--persons", "5", "--year", "1800"],
    ["--city", "jiaxing", "--persons", "5", "--year", "2025", "--seed", "-1"],
    ["--city", "jiaxing", "--year", "2025"],
])
def test_command_rejects_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["synth", *argv])
    assert exc.value.code == 2


def test_command_help_names_the_outputs(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["synth", "--help"])
    text = capsys.readouterr().out
    assert "persons.parquet" in text and "--seed" in text
