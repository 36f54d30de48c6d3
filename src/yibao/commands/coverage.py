"""``yibao coverage HISTORY.json --date D``: is the person covered on a date, and why."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yibao.cli import date_arg


def register(sub: Any) -> None:
    p = sub.add_parser(
        "coverage",
        help="is a person covered on a date: under what, since when; if not, why and from when",
        description="Answer coverage questions from a person's history (docs/lifecycle/history.md).",
    )
    p.add_argument("history", help="the person's history (JSON), or - for standard input")
    p.add_argument("--date", dest="dates", action="append", required=True, type=date_arg, metavar="YYYY-MM-DD", help="repeatable")
    p.add_argument("--overlay", action="append", default=[], metavar="F")
    p.add_argument("--table", action="store_true", help="a readable table instead of JSON")
    p.set_defaults(run=run)



def run(args: argparse.Namespace) -> int:
    from yibao.cli import read_input
    from yibao.lifecycle.coverage import coverage_on
    from yibao.lifecycle.history import parse_history_text
    from yibao.policy.loader import load_city

    history = parse_history_text(read_input(args.history))
    policy = load_city(history.city, args.overlay)
    answers = [coverage_on(history, day, policy) for day in args.dates]
    if args.table:
        table = Table(title=f"{policy.document.name} · coverage of {history.person.id}", title_justify="left", show_lines=True)
        for col in ("date", "covered", "scheme · category", "since / resumes", "costs borne by", "why", "clause 依据"):
            table.add_column(col, overflow="fold")
        for a in answers:
            table.add_row(
                a.date.isoformat(),
                "yes" if a.covered else "no",
                f"{a.scheme or '—'} · {a.category or '—'}",
                str(a.since or a.resumes or "—"),
                a.costs_borne_by or ("fund" if a.covered else "—"),
                escape(a.reason + ("; " + "; ".join(a.notes) if a.notes else "")),
                escape(a.clause),
            )
        Console(highlight=False, width=160).print(table)
    else:
        out = {"city": history.city, "person_id": history.person.id, "coverage": [a.as_json() for a in answers]}
        print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0
