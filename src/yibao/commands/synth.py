"""``yibao synth`` — a reproducible synthetic population and a year of its claims.

    yibao synth --city X --persons N --year Y [--seed S] [--out DIR] [--no-progress]

writes ``DIR/persons.parquet`` and ``DIR/visits.parquet`` (default DIR
``synth-<city>-<N>-<year>``) in the batch table schemas (docs/batch/tables.md) and prints
a short summary. The same city, persons, year and seed always give byte-identical files.
The distributions are described in docs/batch/synth.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from yibao import vocabulary as V
from yibao.errors import YibaoError

#: runs with at least this many persons show a progress bar (on a terminal)
PROGRESS_FROM = 100_000


def _count(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value < 10**9:
        raise argparse.ArgumentTypeError(f"{text} persons: give 1 to 999,999,999")
    return value


def _year(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year") from None
    if not 1900 <= value <= 2199:
        raise argparse.ArgumentTypeError(f"{value} is outside the years 1900–2199")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the seed must not be negative")
    return value


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "synth",
        help="generate a synthetic population and a year of its claims (Parquet)",
        description=(
            "Generate a reproducible synthetic population of a city and a year of its claims: "
            "DIR/persons.parquet and DIR/visits.parquet in the batch table schemas (docs/batch/tables.md). "
            "Ages, schemes, filings, visit frequencies and heavy-tailed costs follow the illustrative "
            "distributions of docs/batch/synth.md; only visits the city can settle are generated. "
            "The same city, persons, year and seed always give byte-identical files."
        ),
    )
    p.add_argument("--city", required=True, choices=list(V.CITIES), help="the pooling city (统筹区)")
    p.add_argument("--persons", required=True, type=_count, metavar="N", help="how many insured persons")
    p.add_argument("--year", required=True, type=_year, metavar="YYYY", help="the calendar year of the claims")
    p.add_argument("--seed", type=_seed, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: synth-<city>-<N>-<year>)")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from yibao.batch import synth

    out = synth.default_out(args.city, args.persons, args.year) if args.out is None else args.out
    rules = synth.city_rules(args.city, args.year)
    if not rules.covered:
        print(f"note: {args.city}'s policy is not in force throughout {args.year}: settling these claims "
              f"will refuse the visits outside it (`yibao policy show {args.city}`)", file=sys.stderr)
    bar = None
    if not args.no_progress and args.persons >= PROGRESS_FROM:
        from tqdm import tqdm

        bar = tqdm(total=args.persons, unit=" persons", unit_scale=True, file=sys.stderr, desc="synth", disable=None)
    try:
        summary = synth.write(args.city, args.persons, args.year, args.seed, out,
                              progress=bar.update if bar is not None else None, rules=rules)
    except OSError as exc:
        raise YibaoError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        if bar is not None:
            bar.close()
    print(format_summary(summary))
    return 0


def format_summary(s: Any) -> str:
    """The few lines ``yibao synth`` prints."""
    residents = s.persons - s.employees
    billed = f"{s.billed_fen // 100:,}.{s.billed_fen % 100:02d}"
    per = s.claims / s.persons if s.persons else 0.0
    lines = [
        f"{V.CITIES[s.city]} {s.city} {s.year}, seed {s.seed} → {s.persons_path.parent}/",
        f"  {'persons':<18}{s.persons:>16,}   employee {s.employees:,} · resident {residents:,}",
        f"  {'claims':<18}{s.claims:>16,}   {per:.2f} a person",
    ]
    for kind in V.KINDS:
        if s.by_kind.get(kind):
            lines.append(f"    {kind:<16}{s.by_kind[kind]:>16,}   {V.KINDS[kind]}")
    lines.append(f"  {'billed (yuan)':<18}{billed:>16}   {s.over_100k:,} claims above 100,000 yuan")
    lines.append(f"  written persons.parquet and visits.parquet in {s.seconds:.1f} s")
    return "\n".join(lines)
