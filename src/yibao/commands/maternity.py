"""``yibao maternity CLAIM.json``: the maternity allowance (生育津贴) of one claim."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def register(sub: Any) -> None:
    p = sub.add_parser(
        "maternity",
        help="生育津贴: is a birth, miscarriage or family-planning procedure paid, how much, to whom",
        description="Compute the maternity allowance of a claim (docs/lifecycle/maternity.md).",
    )
    p.add_argument("claim", help="the claim (JSON), or - for standard input")
    p.add_argument("--overlay", action="append", default=[], metavar="F", help="policy overlay supplying or overriding figures (repeatable)")
    p.add_argument("--table", action="store_true", help="a readable table instead of JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from yibao.cli import read_input
    from yibao.lifecycle.maternity import assess, parse_claim_text
    from yibao.policy.loader import load_city

    base_dir = Path.cwd() if args.claim == "-" else Path(args.claim).parent
    claim = parse_claim_text(read_input(args.claim), base_dir)
    policy = load_city(claim.history.city, args.overlay)
    answer = assess(claim, policy).as_json()
    if args.table:
        _table(policy.document.name, answer)
    else:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
    return 0


def _table(city_name: str, a: dict[str, Any]) -> None:
    event = a["event"]
    verdict = "eligible" if a["eligible"] else "not eligible"
    if a["eligible"] and not a["payable_now"]:
        verdict += f", deferred until {a['deferred_until']}"
    table = Table(
        title=f"{city_name} · 生育津贴 · claim {a['claim_id']} of {a['person_id']} · {event['type']} {event['date']} · {verdict}",
        title_justify="left",
        show_lines=True,
    )
    for col in ("", "what", "value", "clause 依据"):
        table.add_column(col, overflow="fold")
    for c in a["checks"]:
        table.add_row("check", escape(c["check"] + ": " + c["detail"]), "met" if c["met"] else "not met", escape(c["clause"]))
    if a["days"]:
        for p in a["days"]["parts"]:
            table.add_row("days", escape(p["what"]), str(p["days"]), escape(p["clause"]))
        table.add_row("days", "total", str(a["days"]["total"]), escape(a["days"]["clause"] or ""))
    if a["base"]:
        b = a["base"]
        provisional = " (provisional)" if b["provisional"] else ""
        table.add_row("base", escape(b["source"] + provisional), f"{b['monthly']} ÷ {b['days_per_month']} = {b['daily']} a day", escape(b["clause"]))
    if a["allowance"] is not None:
        table.add_row("allowance", escape(a["formula"]), a["allowance"], "")
    if a["nutrition_subsidy"]:
        n = a["nutrition_subsidy"]
        table.add_row("subsidy", "一次性营养补助, paid to the person", n["amount"], escape(n["clause"]))
    if a["payee"]:
        p = a["payee"]
        by = " by the employer (arrears)" if a["paid_by"] == "employer" else ""
        table.add_row("payee", f"paid{by} to the {p['to']}", escape(p["id"]), escape(p["clause"]))
    if a["claim_by"]:
        table.add_row("claim by", "", a["claim_by"], "")
    for note in a["notes"]:
        table.add_row("note", escape(note), "", "")
    Console(highlight=False, width=160).print(table)
