"""``yibao batch …``: settle claim tables at city scale.

    yibao batch settle VISITS.parquet [--persons P] [--lines L] [--overlay F] [--out R] [--engine E]
    yibao batch convert CASE.json ... --out DIR

The tables are documented in ``docs/batch/tables.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


ENGINES = ("compiled", "reference", "spark")


def register(sub: Any) -> None:
    batch = sub.add_parser("batch", help="settle claim tables (Parquet) at city scale",
                           description="Batch settlement over columnar claim tables; see docs/batch/tables.md.")
    tasks = batch.add_subparsers(dest="task", required=True, metavar="TASK")

    s = tasks.add_parser("settle", help="settle every claim of a visits table; write the results table",
                         description="Settle VISITS.parquet (persons.parquet beside it unless --persons) and write "
                                     "RESULT.parquet, with the compiled plans beside it as RESULT.parquet.plans.json.")
    s.add_argument("visits", help="the visits (claims) table, Parquet")
    s.add_argument("--persons", metavar="P", help="the persons table (default: persons.parquet beside the visits)")
    s.add_argument("--lines", metavar="L", help="bill lines (default: lines.parquet beside the visits, if present)")
    s.add_argument("--out", metavar="R", default="results.parquet", help="where to write the results (default results.parquet)")
    s.add_argument("--overlay", action="append", default=[], metavar="F", help="policy overlay (repeatable; each names its city)")
    s.add_argument("--engine", choices=ENGINES, default="compiled",
                   help="compiled (default): the vectorised engine; reference: the per-visit engine (slow, for checks); "
                        "spark: the compiled engine on Apache Spark (see docs/batch/spark.md)")
    s.add_argument("--spark-master", default="local[2]", metavar="URL", help="with --engine spark (default local[2])")
    s.add_argument("--pass-size", type=_positive, metavar="N",
                   help="compiled engine: visits grouped by person are settled in passes of about N visits, "
                        "so memory stays that of a pass (default 4,000,000: about 1.5 GiB)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(run=run_settle)

    c = tasks.add_parser("convert", help="turn case files (case-format.md) into batch tables",
                         description="Write persons.parquet, visits.parquet and (for itemised bills) lines.parquet.")
    c.add_argument("cases", nargs="+", help="case JSON files")
    c.add_argument("--out", required=True, metavar="DIR")
    c.set_defaults(run=run_convert)


def _positive(text: str) -> int:
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def run_settle(args: argparse.Namespace) -> int:
    from yibao.batch import engine

    started = time.perf_counter()
    if args.engine == "spark":  # Parquet to Parquet inside Spark: nothing passes through this process's memory
        from yibao.batch import spark

        summary = spark.settle_files(args.visits, args.out, persons_path=args.persons, lines_path=args.lines,
                                     overlays=args.overlay, master=args.spark_master)
        _print_summary(summary, f"{args.out}/ (Parquet part files)", time.perf_counter() - started, None)
        return 0
    if args.engine == "compiled":
        from yibao.batch.memory import keep_freed_memory

        keep_freed_memory()
        settled = engine.settle_files(args.visits, args.out, persons_path=args.persons, lines_path=args.lines,
                                      overlays=args.overlay, progress=not args.quiet, pass_size=args.pass_size)
        summary = settled.summary
    else:
        summary = engine.summary(_reference(args))
    _print_summary(summary, args.out, time.perf_counter() - started, Path(args.out))
    return 0


def _reference(args: argparse.Namespace):
    import pyarrow.parquet as pq

    from yibao.batch import engine, reference

    visits_path = Path(args.visits)
    persons = engine._read(Path(args.persons) if args.persons else visits_path.with_name("persons.parquet"), "persons")
    visits = engine._read(visits_path, "visits")
    lines_path = Path(args.lines) if args.lines else visits_path.with_name("lines.parquet")
    lines = engine._read(lines_path, "lines") if (args.lines or lines_path.exists()) else None
    results = reference.settle_tables(persons, visits, lines, overlays=args.overlay)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(results, args.out, compression="lz4")
    return results


def _print_summary(summary: dict, out: str, elapsed: float, results: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, stderr=False)
    table = Table(title=f"{summary['visits']:,} claims · {summary['settled']:,} settled · {summary['refused']:,} refused "
                        f"· {elapsed:.1f} s → {out}", title_justify="left")
    table.add_column("fund")
    table.add_column("yuan", justify="right")
    labels = {"medfee_sumamt": "医疗费总额 billed", "hifp_pay": "统筹基金 pooled fund", "hifob_pay": "职工大额 large-expense",
              "hifmi_pay": "大病保险 critical illness", "maf_pay": "医疗救助 assistance", "acct_pay": "个人账户 account",
              "psn_cash_pay": "现金 cash"}
    for key, label in labels.items():
        table.add_row(label, _grouped(summary[key]))
    console.print(table)
    if summary["refused"] and results is not None:  # the first few reasons, read back from the results file
        import pyarrow.parquet as pq

        refused = pq.read_table(results, columns=["visit_id", "error"], filters=[("status", "=", "refused")])
        for row in refused.slice(0, 3).to_pylist():
            print(f"refused {row['visit_id']}: {row['error']}", file=sys.stderr)


def _grouped(yuan: str) -> str:
    whole, _, cents = yuan.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = whole.lstrip("-")
    return f"{sign}{int(whole):,}.{cents}"


def run_convert(args: argparse.Namespace) -> int:
    from yibao.batch import convert

    written = convert.convert_command(args.cases, args.out)
    print(f"wrote {written}" if written else f"wrote {args.out}")
    return 0


