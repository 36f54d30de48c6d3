"""``yibao retirement HISTORY --date D``: contribution years, eligibility, the cost of topping up."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yibao.errors import YibaoError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "retirement",
        help="退休: contribution years by kind, the city's requirement, the cost of the missing years",
        description="Count a person's contribution years on a date, check them against the city's "
        "retirement requirement and price the ways to top up (docs/lifecycle/retirement.md).",
    )
    p.add_argument("history", help="the person's history (JSON), or - for standard input")
    p.add_argument("--date", required=False, metavar="YYYY-MM-DD", help="the retirement (assessment) date")
    p.add_argument("--overlay", action="append", default=[], metavar="F", help="policy overlay supplying or overriding figures (repeatable)")
    p.add_argument("--table", action="store_true", help="a readable table instead of JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from yibao.cli import read_input
    from yibao.lifecycle.history import parse_history_text
    from yibao.lifecycle.retirement import assess, assessment_json
    from yibao.policy.loader import load_city

    day = _day(args.date)
    history = parse_history_text(read_input(args.history))
    policy = load_city(history.city, args.overlay)
    doc = assessment_json(assess(history, policy, day))
    if args.table:
        _table(policy.document.name, doc)
    else:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    return 0


def _day(text: str | None) -> dt.date:
    if text is None:
        raise YibaoError("give the retirement date: --date YYYY-MM-DD")
    from yibao.cli import parse_day

    return parse_day(text)


def _table(city_name: str, doc: dict[str, Any]) -> None:
    verdict = "eligible" if doc["eligible"] else f"not eligible: {doc['missing_months']} month(s) missing"
    out = Console(highlight=False, width=180)
    out.print(f"{city_name} · {doc['person_id']} · retirement on {doc['date']} · {verdict}")
    years = Table(title="contribution years", title_justify="left")
    for col in ("kind", "local", "source", "months", "years"):
        years.add_column(col)
    for c in doc["years"]["by_kind"]:
        years.add_row(c["kind"], "yes" if c["local"] else "no", c["source"], c["months"], c["years"])
    out.print(years)
    reqs = Table(title="requirements", title_justify="left", show_lines=True)
    for col in ("requirement", "required", "counted", "met", "missing months", "counts", "clause 依据"):
        reqs.add_column(col, overflow="fold")
    for r in doc["requirements"]:
        counts = ", ".join(f"{k}: {v}" for k, v in r["counts"].items())
        reqs.add_row(r["name"], r["required_years"], r["counted_years"], "yes" if r["met"] else "no", r["missing_months"], counts, escape(r["clause"]))
    out.print(reqs)
    if not doc["top_up"]:
        return
    tops = Table(title="top-up options", title_justify="left", show_lines=True)
    for col in ("option", "payment", "months", "base", "rate %", "per period", "amount", "clause 依据"):
        tops.add_column(col, overflow="fold")
    for t in doc["top_up"]:
        if "missing" in t:
            tops.add_row(t["option"], t["payment"], str(t["months"]), "", "", "", escape(f"missing {t['missing']['name']}"), escape(t["missing"]["clause"]))
            continue
        if "problem" in t:
            tops.add_row(t["option"], t["payment"], str(t["months"]), "", "", "", escape(t["problem"]), escape(t["clause"]))
            continue
        per = t.get("per_month") or t.get("per_year") or ""
        tops.add_row(t["option"], t["payment"], str(t["months"]), t["base"]["amount"], t["rate"] or "", per, t["amount"] or "", escape(t["clause"]))
    out.print(tops)
