"""``yibao simulate``: the comparison of two settlements (hand-made tables with known
answers), the report files, and an end-to-end run on a synthetic population."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from yibao.batch import reference, synth
from yibao.batch.report_html import CHARTS, write_report
from yibao.batch.simulate import SimulationError, compare, mean_yuan, nice_step, percent, run_both, yuan
from yibao.batch.tables import RESULTS, schema
from yibao.cli import main

ROOT = Path(__file__).resolve().parents[2]
REFORM = ROOT / "examples" / "reforms" / "hangzhou-employee-outpatient-deductible-800.yaml"

# ---------------------------------------------------------------------- hand-made tables


def result(visit: str, person: str, *, part: int = 0, cash: int | None = None, hifp: int = 0, hifob: int = 0,
           hifmi: int = 0, maf: int = 0, status: str = "settled", error: str | None = None) -> dict:
    """One RESULTS row; ``part`` = psn_part_amt (account + cash), ``cash`` defaults to all of it."""
    cash = part if cash is None else cash
    funds = hifp + hifob + hifmi + maf
    return {"visit_id": visit, "person_id": person, "city": "hangzhou", "date": dt.date(2026, 3, 1), "year": 2026,
            "status": status, "error": error, "plan": 0, "hifp_pay_fen": hifp, "hifob_pay_fen": hifob,
            "hifmi_pay_fen": hifmi, "maf_pay_fen": maf, "fund_pay_sumamt_fen": funds, "acct_pay_fen": part - cash,
            "psn_cash_pay_fen": cash, "psn_part_amt_fen": part, "medfee_sumamt_fen": funds + part}


def results(*rows: dict) -> pa.Table:
    cols = {c.name: [r.get(c.name, 0 if c.name.endswith("_fen") else None) for r in rows] for c in RESULTS}
    return pa.table(cols, schema=schema(RESULTS))


def persons(*rows: tuple[str, str, str, str | None]) -> pa.Table:
    ids, schemes, cats, assist = zip(*rows) if rows else ((), (), (), ())
    return pa.table({"person_id": pa.array(ids, pa.string()), "scheme": pa.array(schemes, pa.string()),
                     "category": pa.array(cats, pa.string()), "assistance": pa.array(assist, pa.string())})


def by_key(rows: list[dict]) -> dict[str, dict]:
    return {r["key"]: r for r in rows}


@pytest.fixture
def small():
    """A: 在职, pays 10.00 → 15.50; B: 退休 with 低保, 20.00 → 20.00; C: 少儿, no claims;
    D: 灵活就业, 3.01 → 2.00 (a winner). Funds: 统筹 -5.50 + 1.01 = -4.49, 大病 and 救助 unchanged.
    Visit 5 (A) is refused under the reform only and visit 6 (D) in both: left out."""
    p = persons(("A", "employee", "active", None), ("B", "employee", "retired", "subsistence"),
                ("C", "resident", "child", None), ("D", "employee", "flexible", None))
    base = results(
        result("1", "A", part=600, cash=400, hifp=3000),
        result("2", "A", part=400, hifp=2000, hifmi=100),
        result("3", "B", part=2000, hifp=100, maf=50),
        result("4", "D", part=301, hifp=999),
        result("5", "A", part=777, hifp=10_000),
        result("6", "D", status="refused", error="missing policy value"),
    )
    reform = results(
        result("1", "A", part=1150, cash=950, hifp=2450),
        result("2", "A", part=400, hifp=2000, hifmi=100),
        result("3", "B", part=2000, hifp=100, maf=50),
        result("4", "D", part=200, hifp=1100),
        result("5", "A", status="refused", error="visit 5: boom"),
        result("6", "D", status="refused", error="visit 6: missing policy value"),
    )
    return p, base, reform


def test_money_text_is_exact():
    assert [yuan(f) for f in (0, 1, -1, 99, 100, -12345, 10**15 + 7)] == \
        ["0.00", "0.01", "-0.01", "0.99", "1.00", "-123.45", "10000000000000.07"]
    assert mean_yuan(5, 2) == "0.03"  # 2.5 fen, half up
    assert mean_yuan(-5, 2) == "-0.03"  # half away from zero
    assert mean_yuan(100, 3) == "0.33" and mean_yuan(7, 0) is None
    assert percent(50, 200) == 25.0 and percent(1, 0) is None and percent(-1, 3) == -33.3333
    assert [nice_step(x) for x in (0.3, 1, 1.5, 3, 7, 11, 2001)] == [1, 1, 2, 5, 10, 20, 5000]


def test_fund_changes(small):
    s = compare(*small).summary
    funds = by_key(s["funds"]["funds"])
    assert funds["hifp"] == {"key": "hifp", "label": "统筹基金", "base": "60.99", "reform": "56.50", "change": "-4.49",
                             "change_pct": round(-449 / 6099 * 100, 4)}
    assert funds["hifmi"]["change"] == "0.00" and funds["hifmi"]["change_pct"] == 0.0
    assert funds["maf"]["base"] == "0.50" and funds["maf"]["change"] == "0.00"
    assert funds["hifob"]["base"] == "0.00" and funds["hifob"]["change_pct"] is None  # no base: no percentage
    total = s["funds"]["total"]
    assert (total["base"], total["reform"], total["change"]) == ("62.49", "58.00", "-4.49")
    assert s["funds"]["account"]["base"] == "2.00" and s["funds"]["account"]["change"] == "0.00"
    assert s["funds"]["check"] == {"billed_equal": True, "funds_plus_burden_change": "0.00"}
    assert s["claims"]["billed"] == "95.50"  # the four compared visits


def test_burden_by_group(small):
    s = compare(*small).summary
    b = s["burden"]
    assert (b["psn_part"]["base"], b["psn_part"]["reform"], b["psn_part"]["change"]) == ("33.01", "37.50", "4.49")
    assert b["cash"]["change"] == "4.49" and b["cash"]["base"] == "31.01"
    assert (b["persons"], b["claimants"]) == (4, 3)
    assert b["mean_change_per_person"] == "1.12"  # 449 / 4 = 112.25 fen
    assert b["mean_change_per_claimant"] == "1.50"  # 449 / 3 = 149.67 fen

    cats = s["groups"]["category"]
    assert [r["key"] for r in cats] == ["active", "retired", "flexible", "child"]  # vocabulary order
    cat = by_key(cats)
    assert (cat["active"]["base"], cat["active"]["reform"], cat["active"]["change"]) == ("10.00", "15.50", "5.50")
    assert cat["active"]["change_pct"] == 55.0 and cat["active"]["label"] == "在职"
    assert (cat["flexible"]["change"], cat["flexible"]["pay_less"], cat["flexible"]["pay_more"]) == ("-1.01", 1, 0)
    assert (cat["child"]["persons"], cat["child"]["claimants"], cat["child"]["change_pct"]) == (1, 0, None)
    assert cat["child"]["mean_change_per_claimant"] is None and cat["child"]["mean_change_per_person"] == "0.00"

    schemes = by_key(s["groups"]["scheme"])
    assert (schemes["employee"]["persons"], schemes["employee"]["change"]) == (3, "4.49")
    assert schemes["employee"]["mean_change_per_person"] == "1.50"  # 449 / 3 = 149.67 fen
    assert schemes["resident"]["change"] == "0.00"

    assist = s["groups"]["assistance"]
    assert [r["key"] for r in assist] == ["subsistence", "none"]
    assert by_key(assist)["none"]["persons"] == 3 and by_key(assist)["none"]["change"] == "4.49"


def test_refused_visits_are_counted_not_dropped(small):
    s = compare(*small).summary
    r = s["refused"]
    assert (r["base"]["count"], r["reform"]["count"]) == (1, 2)
    assert (r["base_only"], r["reform_only"], r["both"], r["excluded_visits"]) == (0, 1, 1, 2)
    assert r["base"]["messages"] == [{"message": "missing policy value", "count": 1, "first_visit": "6"}]
    # grouped by cause: the engine's "visit <id>: " prefix is not part of the message
    assert {m["message"]: m["first_visit"] for m in r["reform"]["messages"]} == {"missing policy value": "6", "boom": "5"}
    assert s["claims"]["visits"] == 6 and s["claims"]["compared_visits"] == 4
    # visit 5's 7.77 under the current policy is not a change of A's burden
    assert by_key(s["groups"]["category"])["active"]["base"] == "10.00"


def test_winners_and_losers(small):
    c = compare(*small)
    wl = c.summary["winners_losers"]
    assert (wl["persons"], wl["pay_more"], wl["pay_less"], wl["same"]) == (4, 1, 1, 2)
    assert (wl["same_with_claims"], wl["without_claims"]) == (1, 1)
    assert (wl["increase_total"], wl["decrease_total"]) == ("5.50", "-1.01")
    assert [p["person_id"] for p in wl["largest_increases"]] == ["A"]
    assert wl["largest_increases"][0] == {"person_id": "A", "scheme": "employee", "category": "active", "assistance": "none",
                                          "visits": 2, "base": "10.00", "reform": "15.50", "change": "5.50", "cash_change": "5.50"}
    assert [p["person_id"] for p in wl["largest_decreases"]] == ["D"]
    table = c.persons.to_pydict()
    assert table["person_id"] == ["A", "B", "C", "D"]
    assert table["burden_change_fen"] == [550, 0, 0, -101]
    assert table["visits"] == [2, 1, 0, 1]
    assert table["decile"] == [4, 7, None, 1]  # claimants by baseline burden: D 3.01, A 10.00, B 20.00


def test_deciles_rank_claimants_by_baseline_burden_ties_by_person_id():
    # 25 claimants; baseline burdens 1..25 yuan but given in scrambled order, p10 and p11 tied
    n = 25
    ids = [f"p{i:02d}" for i in range(n)]
    burden = [((7 * i) % n + 1) * 100 for i in range(n)]
    burden[10] = burden[11]
    p = persons(*[(i, "resident", "adult", None) for i in ids], ("zz", "resident", "adult", None))
    base = results(*[result(f"v{i}", pid, part=b) for i, (pid, b) in enumerate(zip(ids, burden))])
    reform = results(*[result(f"v{i}", pid, part=b + 1) for i, (pid, b) in enumerate(zip(ids, burden))])  # reform adds 1 fen
    c = compare(p, base, reform)
    ranked = sorted(range(n), key=lambda i: (burden[i], ids[i]))
    expected = {ids[i]: r * 10 // n + 1 for r, i in enumerate(ranked)}
    got = dict(zip(c.persons.column("person_id").to_pylist(), c.persons.column("decile").to_pylist()))
    assert got == {**expected, "zz": None}
    deciles = c.summary["groups"]["decile"]
    assert [r["persons"] for r in deciles] == [3, 2, 3, 2, 3, 2, 3, 2, 3, 2]
    assert deciles[0]["base_min"] == "1.00" and deciles[-1]["base_max"] == "25.00"
    assert all(r["change"] == yuan(r["persons"]) for r in deciles)  # one fen a person
    # the tie: the smaller person_id ranks first
    assert burden[10] == burden[11] and ranked.index(10) < ranked.index(11)


def test_deciles_follow_the_baseline_not_the_reform():
    p = persons(*[(f"p{i:02d}", "employee", "active", None) for i in range(10)])
    base = results(*[result(f"v{i}", f"p{i:02d}", part=100 * (i + 1)) for i in range(10)])
    reform = results(*[result(f"v{i}", f"p{i:02d}", part=100 * (10 - i)) for i in range(10)])  # order reversed
    got = compare(p, base, reform).persons.column("decile").to_pylist()
    assert got == list(range(1, 11))


def test_histogram_bins_on_a_round_step_with_zero_apart():
    p = persons(*[(f"p{i}", "employee", "active", None) for i in range(6)])
    changes = [0, 0, 150, 1999, -250, 2000]  # fen
    base = results(*[result(f"v{i}", f"p{i}", part=10_000) for i in range(6)])
    reform = results(*[result(f"v{i}", f"p{i}", part=10_000 + ch) for i, ch in enumerate(changes)])
    h = compare(p, base, reform, bins=5).summary["histogram"]
    # span 2251 fen / 5 bins → a step of 500 fen, edges from -5.00 to 20.00 yuan
    assert h["edges"] == ["-5.00", "0.00", "5.00", "10.00", "15.00", "20.00", "25.00"]
    assert h["counts"] == [1, 1, 0, 0, 1, 1]
    assert (h["zero"], h["claimants"]) == (2, 6)


def test_persons_missing_from_the_table_are_unknown():
    p = persons(("A", "employee", "active", None))
    base = results(result("1", "A", part=100), result("2", "X", part=100))
    reform = results(result("1", "A", part=100), result("2", "X", part=300))
    s = compare(p, base, reform).summary
    assert s["claims"]["persons_not_in_table"] == 1 and s["claims"]["persons"] == 1
    unknown = by_key(s["groups"]["category"])["unknown"]
    assert (unknown["persons"], unknown["change"], unknown["label"]) == (1, "2.00", "未知 unknown")


def test_refusal_messages_are_grouped_by_cause():
    p = persons(("A", "employee", "active", None))
    refused = [result(str(i), "A", status="refused", error=e) for i, e in
               enumerate(["visit 0: missing x (clause: 1)", "visit 1: missing x (clause: 1)", "visit 3:V1: other", None])]
    s = compare(p, results(*refused), results(*refused), messages=2).summary["refused"]["base"]
    assert s["count"] == 4 and s["distinct_messages"] == 3
    assert s["messages"] == [{"message": "missing x (clause: 1)", "count": 2, "first_visit": "0"},
                             {"message": "(no message)", "count": 1, "first_visit": "3"}]


def test_runs_of_different_claims_are_refused():
    p = persons(("A", "employee", "active", None))
    with pytest.raises(SimulationError, match="row 1 is '2'"):
        compare(p, results(result("1", "A"), result("2", "A")), results(result("1", "A"), result("3", "A")))
    with pytest.raises(SimulationError, match="2 visits in the base run, 1"):
        compare(p, results(result("1", "A"), result("2", "A")), results(result("1", "A")))
    with pytest.raises(SimulationError, match="more than once"):
        compare(persons(("A", "employee", "active", None), ("A", "employee", "active", None)),
                results(result("1", "A")), results(result("1", "A")))
    with pytest.raises(SimulationError, match="missing column"):
        compare(p, results(result("1", "A")).drop_columns(["psn_part_amt_fen"]), results(result("1", "A")))


# ---------------------------------------------------------------------- the report files

MONEY_KEYS = {"base", "reform", "change", "cash_base", "cash_reform", "cash_change", "mean_change_per_person",
              "mean_change_per_claimant", "mean_cash_change_per_claimant", "billed", "increase_total", "decrease_total",
              "base_min", "base_max", "funds_plus_burden_change"}
YUAN = re.compile(r"^-?\d+\.\d\d$")


def money_values(node, key=None):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from money_values(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from money_values(v, key)
    elif key in MONEY_KEYS or key in {"edges"} or (key or "").startswith("p") and isinstance(node, str) and key[1:].isdigit():
        yield key, node


def assert_self_contained(text: str) -> None:
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]*)""", text, flags=re.I)
    assert refs and all(r.startswith("data:") for r in refs), [r[:40] for r in refs if not r.startswith("data:")]
    assert not re.search(r"url\(|@import|<script|<link|<iframe", text, flags=re.I)


def test_report_files(small, tmp_path):
    c = compare(*small)
    summary = {"city": "hangzhou", "title": "测试 test", "reform": {"file": "r.yaml", "description": "600 → 800",
               "base_overlays": [], "changes": [{"parameter": "employee.outpatient.deductible", "description": "d",
                                                 "diff": "-            other: 600\n+            other: 800"}]}, **c.summary}
    written = write_report(tmp_path / "out", summary, c.persons, "city: hangzhou\n# <not a tag>\n")
    assert set(written) == {"summary", "report", "persons", *CHARTS}
    for name in CHARTS:
        assert written[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    back = json.loads(written["summary"].read_text(encoding="utf-8"))
    assert back == json.loads(json.dumps(summary))
    found = list(money_values(back))
    assert found and all(v is None or YUAN.match(v) for _, v in found), [f for f in found if f[1] and not YUAN.match(f[1])]
    assert not any(isinstance(v, float) for k, v in found)
    html = written["report"].read_text(encoding="utf-8")
    assert_self_contained(html)
    assert html.count("data:image/png;base64,") == len(CHARTS)
    assert "&lt;not a tag&gt;" in html and "<not a tag>" not in html  # the overlay's text is escaped
    assert "统筹基金" in html and "-4.49" in html and "+5.50" in html and "boom" in html
    assert pq.read_table(written["persons"]).column("burden_change_fen").to_pylist() == [550, 0, 0, -101]
    # reproducible: the same comparison writes the same bytes
    again = write_report(tmp_path / "again", summary, c.persons, "city: hangzhou\n# <not a tag>\n")
    for name, path in written.items():
        if name != "persons":
            assert path.read_bytes() == again[name].read_bytes(), name


# ---------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def population(tmp_path_factory) -> Path:
    """300 synthetic persons of 杭州 and their 2026 claims."""
    out = tmp_path_factory.mktemp("synth")
    synth.write("hangzhou", 300, 2026, seed=5, out=out)
    return out


def test_end_to_end_with_the_reference_engine(population, tmp_path, capsys):
    out = tmp_path / "sim"
    code = main(["simulate", "--city", "hangzhou", "--claims", str(population / "visits.parquet"), "--reform", str(REFORM),
                 "--engine", "reference", "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "统筹基金" in printed and "funds save" in printed and "pay more" in printed
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["city"] == "hangzhou" and s["inputs"]["engine"] == "reference"
    assert [c["parameter"] for c in s["reform"]["changes"]] == ["employee.outpatient.deductible"]
    assert "+" in s["reform"]["changes"][0]["diff"] and "800" in s["reform"]["changes"][0]["diff"]
    claims = s["claims"]
    assert claims["persons"] == 300 and claims["date_from"] >= "2026-01-01" and claims["date_to"] <= "2026-12-31"
    assert claims["visits"] == pq.read_metadata(population / "visits.parquet").num_rows

    # what the reform does: the pooled fund saves exactly what the persons pay more ...
    assert s["funds"]["check"] == {"billed_equal": True, "funds_plus_burden_change": "0.00"}
    hifp = by_key(s["funds"]["funds"])["hifp"]
    assert hifp["change"].startswith("-") and s["burden"]["psn_part"]["change"] == s["funds"]["total"]["change"][1:]
    # ... only employees below retirement pay more, nobody pays less, and by at most 200 yuan
    wl = s["winners_losers"]
    assert wl["pay_more"] > 0 and wl["pay_less"] == 0
    cats = by_key(s["groups"]["category"])
    for key, row in cats.items():
        assert (row["change"] != "0.00") <= (key in ("active", "flexible", "unemployed")), key
    assert by_key(s["groups"]["scheme"])["resident"]["change"] == "0.00"
    changes = pq.read_table(out / "person_changes.parquet").column("burden_change_fen").to_pylist()
    assert max(changes) <= 20_000 and min(changes) == 0
    assert sum(c > 0 for c in changes) == wl["pay_more"]
    assert len(s["groups"]["decile"]) == 10
    assert sum(r["persons"] for r in s["groups"]["decile"]) == s["burden"]["claimants"]
    assert_self_contained((out / "report.html").read_text(encoding="utf-8"))
    assert all((out / f"{name}.png").is_file() for name in CHARTS)


def test_the_fast_engine_gives_the_reference_comparison(population):
    from yibao.batch import engine

    p, v = pq.read_table(population / "persons.parquet"), pq.read_table(population / "visits.parquet")
    ref = run_both(p, v, str(REFORM), settle=reference.settle_tables)
    fast = run_both(p, v, str(REFORM), settle=engine.settle_tables)
    assert compare(p, fast.base, fast.reform).summary == compare(p, ref.base, ref.reform).summary


def test_cli_errors(population, tmp_path, capsys):
    visits = str(population / "visits.parquet")
    assert main(["simulate", "--city", "hangzhou", "--claims", str(tmp_path / "none.parquet"), "--reform", str(REFORM),
                 "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["simulate", "--city", "hangzhou", "--claims", visits, "--reform", str(tmp_path / "none.yaml")]) == 2
    assert "reform overlay" in capsys.readouterr().err
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("city: jiaxing\nparameters: {}\n", encoding="utf-8")
    assert main(["simulate", "--city", "hangzhou", "--claims", visits, "--reform", str(wrong)]) == 2
    assert "not 'hangzhou'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    assert "--reform" in capsys.readouterr().out
