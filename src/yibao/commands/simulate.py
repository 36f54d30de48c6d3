"""``yibao simulate``: what a policy change costs, and who pays (docs/batch/simulate.md).

    yibao simulate --city X --claims VISITS.parquet [--persons PERSONS.parquet]
                   --reform OVERLAY [--overlay BASE ...] [--out DIR] [--title T]

The claims are settled under the current policy (the base overlays) and under the reform
(the base overlays + the reform overlay); the comparison is written to DIR as
``summary.json``, PNG charts, ``report.html`` and ``person_changes.parquet``, and its
headline figures are printed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from yibao import vocabulary as V
from yibao.commands import whole_number
from yibao.errors import YibaoError

ENGINES = {
    "fast": ("yibao.batch.engine", "the vectorised batch engine"),
    "reference": ("yibao.batch.reference", "the per-visit reference engine (slow)"),
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate", help="settle claims under the current policy and a reform: what it costs, and who pays",
        description="Settle the same claims under the current policy (base overlays) and under a reform "
                    "(base overlays + the reform overlay), and report each fund's spending change and the "
                    "change in personal burden by category, scheme, assistance group and burden decile, "
                    "winners and losers, and refused visits. See docs/batch/simulate.md.",
        epilog="example: yibao simulate --city hangzhou --claims synth/visits.parquet "
               "--reform examples/reforms/hangzhou-employee-outpatient-deductible-800.yaml",
    )
    p.add_argument("--city", required=True, choices=list(V.CITIES), help="the city whose persons are simulated")
    p.add_argument("--claims", required=True, metavar="VISITS.parquet", help="the visits table (docs/batch/tables.md)")
    p.add_argument("--persons", metavar="PERSONS.parquet", help="the persons table (default: persons.parquet beside the claims)")
    p.add_argument("--reform", required=True, metavar="OVERLAY", help="the policy overlay describing the reform")
    p.add_argument("--overlay", action="append", default=[], metavar="BASE",
                   help="an overlay of the current policy, applied in both runs (repeatable)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: simulation-<city>)")
    p.add_argument("--title", metavar="T", help="the report's title")
    p.add_argument("--top", type=whole_number, default=20, metavar="N", help="persons listed with the largest changes (default 20)")
    p.add_argument("--engine", choices=list(ENGINES), default="fast",
                   help="settlement engine: fast (default) or reference (the per-visit engine, slow)")
    p.add_argument("--no-progress", action="store_true", help="no progress indication on standard error")
    p.set_defaults(run=run_simulate)


def settle_for(engine: str):
    import importlib

    module_name, what = ENGINES[engine]
    try:
        return importlib.import_module(module_name).settle_tables
    except ImportError as exc:
        raise YibaoError(f"{what} ({module_name}) is not available: {exc}") from None


def _read(path: Path, what: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise YibaoError(f"cannot read the {what} table {path}: no such file")
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise YibaoError(f"cannot read the {what} table {path}: {exc}") from None


def load_claims(city: str, claims: Path, persons: Path) -> tuple[Any, Any, dict[str, int]]:
    """The persons of ``city`` and their visits; other cities' rows are left out and counted.
    A visit whose person is in no row of the persons table is kept (the engine refuses it)."""
    import pyarrow.compute as pc

    visits_t, persons_t = _read(claims, "visits"), _read(persons, "persons")
    for table, what, name in ((persons_t, "persons", "person_id"), (persons_t, "persons", "city"), (visits_t, "visits", "person_id")):
        if name not in table.column_names:
            raise YibaoError(f"{what} table: missing column {name}")
    other = pc.fill_null(pc.not_equal(persons_t.column("city"), city), True)
    left_out = {"other_city_persons": int(pc.sum(other).as_py() or 0), "other_city_visits": 0}
    if left_out["other_city_persons"]:
        others = pc.filter(persons_t.column("person_id"), other)
        drop = pc.is_in(visits_t.column("person_id"), value_set=others.combine_chunks())
        left_out["other_city_visits"] = int(pc.sum(drop).as_py() or 0)
        visits_t = visits_t.filter(pc.invert(drop))
        persons_t = persons_t.filter(pc.invert(other))
    return persons_t, visits_t, left_out


def run_simulate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from yibao.batch.memory import keep_freed_memory
    from yibao.batch.report_html import write_report
    from yibao.batch.simulate import SimulationError, accepts_progress, compare, describe_reform, settle_run
    from yibao.batch.tables import TableError

    keep_freed_memory()
    err = Console(stderr=True, highlight=False)
    claims = Path(args.claims)
    persons_path = Path(args.persons) if args.persons else claims.with_name("persons.parquet")
    reform = Path(args.reform)
    if not reform.is_file():
        raise YibaoError(f"cannot read the reform overlay {reform}: no such file")
    reform_text = reform.read_text(encoding="utf-8")
    out_dir = Path(args.out or f"simulation-{args.city}")

    description = describe_reform(args.city, str(reform), args.overlay)  # refuses a bad overlay before settling
    settle = settle_for(args.engine)
    persons, visits, left_out = load_claims(args.city, claims, persons_path)
    if left_out["other_city_persons"]:
        err.print(f"left out {left_out['other_city_persons']:,} persons of other cities and their "
                  f"{left_out['other_city_visits']:,} visits")

    runs = []
    show = not args.no_progress
    bar = show and err.is_terminal  # a progress bar on a terminal only; otherwise one line per run
    native = bar and accepts_progress(settle)
    for name, overlays in (("the current policy", tuple(args.overlay)), ("the reform", (*args.overlay, str(reform)))):
        t0 = time.perf_counter()
        try:
            if bar and not native:
                with err.status(f"settling {visits.num_rows:,} claims under {name}…"):
                    runs.append(settle_run(settle, persons, visits, overlays))
            else:
                runs.append(settle_run(settle, persons, visits, overlays, progress=native))
        except (TableError, SimulationError) as exc:
            raise YibaoError(str(exc)) from None
        if show:
            err.print(f"settled {visits.num_rows:,} claims under {name} in {time.perf_counter() - t0:.1f} s")

    try:
        comparison = compare(persons, runs[0], runs[1], top=args.top)
    except SimulationError as exc:
        raise YibaoError(str(exc)) from None
    summary = {
        "format": comparison.summary["format"],
        "city": args.city,
        "title": args.title or f"{V.CITIES[args.city]} · {description.get('description') or reform.stem}",
        "inputs": {"claims": str(claims), "persons": str(persons_path), "engine": args.engine, **left_out},
        "reform": description,
        **{k: v for k, v in comparison.summary.items() if k != "format"},
    }
    written = write_report(out_dir, summary, comparison.persons, reform_text)
    headline(summary, Console(highlight=False, width=120))
    print(f"wrote {out_dir}/: " + ", ".join(p.name for p in written.values()))
    return 0


def headline(summary: dict[str, Any], out: Any) -> None:
    """The headline figures as a short table: each fund's change, and the burden's."""
    from rich.table import Table

    from yibao.batch.report_html import shift

    funds, burden, wl, refused = summary["funds"], summary["burden"], summary["winners_losers"], summary["refused"]
    table = Table(title=summary.get("title"), title_justify="left")
    table.add_column("")
    for name in ("current (yuan)", "reform (yuan)", "change", "%"):
        table.add_column(name, justify="right")

    def pct(p: float | None) -> str:
        return "—" if p is None else f"{p:+.2f}%"

    for r in [*funds["funds"], funds["total"], funds["account"]]:
        table.add_row(f"{r['label']} {r['key']}", r["base"], r["reform"], r["change"], pct(r["change_pct"]))
    table.add_section()
    for r in (burden["psn_part"], burden["cash"]):
        table.add_row(r["label"], r["base"], r["reform"], r["change"], pct(r["change_pct"]))
    out.print(table)
    out.print(f"{shift(funds['total']['change'], 'funds')}; {shift(burden['psn_part']['change'], 'persons')} "
              f"(mean {burden['mean_change_per_claimant'] or '0.00'} per claimant, {burden['claimants']:,} claimants)")
    out.print(f"persons: {wl['pay_more']:,} pay more, {wl['pay_less']:,} less, {wl['same']:,} the same "
              f"({wl['without_claims']:,} without claims)")
    if refused["excluded_visits"]:
        out.print(f"refused: {refused['base']['count']:,} visits under the current policy, "
                  f"{refused['reform']['count']:,} under the reform — {refused['excluded_visits']:,} left out of the comparison")


__all__ = ["register", "run_simulate"]
