"""``yibao contributions HISTORY --month YYYY-MM | --year YYYY``: what is due, who pays, arrears."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yibao.errors import YibaoError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "contributions",
        help="缴费: the contribution due for a month (or the premiums of a year), who pays it, arrears",
        description="Compute what a person's history owes for a month of employee insurance (--month) "
        "or a year of resident and 大病 premiums (--year), compared with the recorded payments "
        "(docs/lifecycle/contributions.md).",
    )
    p.add_argument("history", help="the person's history (JSON), or - for standard input")
    p.add_argument("--month", metavar="YYYY-MM", help="an employee's month")
    p.add_argument("--year", metavar="YYYY", help="a year of premiums (residents; employees' yearly items)")
    p.add_argument("--overlay", action="append", default=[], metavar="F", help="policy overlay supplying or overriding figures (repeatable)")
    p.add_argument("--table", action="store_true", help="a readable table instead of JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from yibao.cli import read_input
    from yibao.lifecycle.contributions import monthly_statement, statement_json, yearly_statement
    from yibao.lifecycle.history import parse_history_text
    from yibao.policy.loader import load_city

    month, year = _period(args.month, args.year)
    history = parse_history_text(read_input(args.history))
    policy = load_city(history.city, args.overlay)
    statement = monthly_statement(history, policy, month) if month else yearly_statement(history, policy, year or 0)
    doc = statement_json(statement)
    if args.table:
        _table(policy.document.name, doc)
    else:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    return 0


def _period(month: str | None, year: str | None) -> tuple[str | None, int | None]:
    """Exactly one of ``--month YYYY-MM`` and ``--year YYYY``."""
    if (month is None) == (year is None):
        raise YibaoError("give exactly one of --month YYYY-MM (employees) and --year YYYY (premiums)")
    if month is not None:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
            raise YibaoError(f"--month {month!r} is not a month YYYY-MM")
        return month, None
    if not re.fullmatch(r"\d{4}", year or ""):
        raise YibaoError(f"--year {year!r} is not a year YYYY")
    return None, int(year or 0)


def _table(city_name: str, doc: dict[str, Any]) -> None:
    period = doc.get("month") or doc.get("year")
    title = f"{city_name} · {doc['person_id']} · {period} · {doc['scheme']} {doc['mode']} ({doc['category']})"
    table = Table(title=title, title_justify="left", show_lines=True)
    for col in ("item", "line", "payer", "base", "rate %", "amount", "parts", "paid by", "due", "clause 依据"):
        table.add_column(col, overflow="fold")
    for group in doc["groups"]:
        base = group["base"]
        if base:
            table.add_row(group["name"], "base", "", base["amount"], "", "", "", "", "", escape(f"{base['how']} — {base['clause']}"))
        for line in group["lines"]:
            parts = ", ".join(f"{k} {v}" for k, v in line["parts"].items())
            funding = ", ".join(f"{f['funder']} {f['amount']}" for f in line["funding"])
            table.add_row(
                group["name"], line["name"], line["payer"] + (f" ({line['from']})" if line["from"] else ""),
                line["base"] or "", line["rate"] or "", line["amount"], parts, funding, line["due"], escape(line["clause"]),
            )
        for note in group["notes"]:
            table.add_row(group["name"], "note", "", "", "", "", "", "", "", escape(note))
    out = Console(highlight=False, width=180)
    out.print(table)
    rec = doc["recorded"]
    out.print(
        f"due {doc['due']} · recorded paid {rec['paid']} ({rec['records']} record(s)) · "
        f"arrears {doc['arrears']} · overpaid {doc['overpaid']}"
    )
