"""``yibao account`` — the personal account (个人账户) as a ledger (docs/lifecycle/accounts.md).

    yibao account statement HISTORY [--to DATE]                every entry with running balances
    yibao account credit HISTORY --from YYYY-MM --to YYYY-MM   the monthly credits
    yibao account rollover HISTORY --year YYYY                 that year end's interest and rollover
    yibao account open HISTORY --date D [--current X] [--history X]
    yibao account settle HISTORY CASE.json                     record the visits' account payments
    yibao account settle HISTORY SETTLED.json --case CASE.json (the output of `yibao settle`)
    yibao account premium HISTORY --date D --premium KIND [--for ID] --amount X
    yibao account aid HISTORY --date D --relative ID --amount X [--purpose TEXT]
    yibao account transfer HISTORY --in --balance X --date D | --out --date D
    yibao account clear HISTORY --date D --ground emigration|non_local_left
    yibao account inherit HISTORY --date D [--heir NAME]
    yibao account refund-deductible HISTORY --year YYYY [--paid X] [--date D]

The ledger is recomputed from the history every time: from its enrolments, contributions
and events, plus the movements recorded in its ``account_entries``. A recording command
prints what its movement does; with ``-o FILE`` it also writes the history with the
movement added, for the next command to read. JSON on standard output, or ``--table``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yibao.case import parse_case, parse_case_text
from yibao.case import decode_json
from yibao.cli import parse_day, parse_month, read_input
from yibao.errors import YibaoError
from yibao.lifecycle.account_crediting import Credit, monthly_credits
from yibao.lifecycle.account_movements import CLEARING_GROUNDS, PREMIUMS
from yibao.lifecycle.account_rules import AccountRules
from yibao.lifecycle.account_settlements import payments_from_case, payments_from_output
from yibao.lifecycle.accounts import Balances, Entry, build_ledger
from yibao.lifecycle.history import History, parse_history
from yibao.money import fmt, parse_amount
from yibao.policy.loader import CityPolicy, load_city


def register(subparsers: Any) -> None:
    acc = subparsers.add_parser(
        "account",
        help="the personal account (个人账户) as a ledger",
        description="The personal account (个人账户) as a ledger, recomputed from a person's history (docs/lifecycle/accounts.md).",
    )
    sub = acc.add_subparsers(title="account commands", metavar="COMMAND")
    acc.set_defaults(run=lambda a: (acc.print_help(), 2)[1])

    p = _command(sub, "statement", "every entry with running balances", _statement)
    p.add_argument("--to", metavar="YYYY-MM-DD", help="up to this day (default: today, within the policy)")

    p = _command(sub, "credit", "the monthly credits of a span of months", _credit)
    p.add_argument("--from", dest="first", required=True, metavar="YYYY-MM")
    p.add_argument("--to", dest="last", required=True, metavar="YYYY-MM")

    p = _command(sub, "rollover", "a year end: interest, then 当年 into 历年", _rollover)
    p.add_argument("--year", required=True, metavar="YYYY")

    p = _command(sub, "open", "record opening balances (the ledger starts there)", _open, recording=True)
    p.add_argument("--current", dest="opening_current", default="0.00", metavar="X", help="当年 balance")
    p.add_argument("--history", dest="opening_history", default="0.00", metavar="X", help="历年 balance")

    p = _command(sub, "settle", "record the account payments of a case's visits", _settle, recording=True, dated=False)
    p.add_argument("settled", metavar="CASE_OR_SETTLEMENTS", help="a case (settled here with the ledger's balances), or `yibao settle` output")
    p.add_argument("--case", metavar="CASE.json", help="the case of a settlement output (for the visits' dates)")

    p = _command(sub, "premium", "pay a premium from the account (member or relative)", _premium, recording=True)
    p.add_argument("--premium", required=True, choices=list(PREMIUMS))
    p.add_argument("--for", dest="for_", default="self", metavar="ID", help="a relative's id (default: self)")
    p.add_argument("--amount", required=True, metavar="X")

    p = _command(sub, "aid", "家庭共济: pay for a relative from the account", _aid, recording=True)
    p.add_argument("--relative", required=True, metavar="ID")
    p.add_argument("--amount", required=True, metavar="X")
    p.add_argument("--purpose", metavar="TEXT")

    p = _command(sub, "transfer", "transfer the account in (into 历年) or out (closing it)", _transfer, recording=True)
    direction = p.add_mutually_exclusive_group(required=True)
    direction.add_argument("--in", dest="inward", action="store_true", help="transferred in from another pooling area")
    direction.add_argument("--out", dest="outward", action="store_true", help="transferred out with the relationship")
    p.add_argument("--balance", metavar="X", help="the balance transferred in")

    p = _command(sub, "clear", "清算/发还: pay the balance out to the member", _clear, recording=True)
    p.add_argument("--ground", required=True, choices=list(CLEARING_GROUNDS))

    p = _command(sub, "inherit", "继承: pay a deceased member's balance to the heirs", _inherit, recording=True)
    p.add_argument("--heir", metavar="NAME")

    p = _command(sub, "refund-deductible", "杭州: refund 80%% of the retirement year's excess outpatient deductible", _refund, recording=True, dated=False)
    p.add_argument("--year", required=True, metavar="YYYY")
    p.add_argument("--paid", metavar="X", help="the outpatient deductible paid that year (default: from recorded settlements)")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="when it is refunded (default: 31 December of the year)")


def _command(sub: Any, name: str, help_text: str, run: Callable[[argparse.Namespace], int], *, recording: bool = False, dated: bool = True) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text.replace("%%", "%"))
    p.add_argument("history", metavar="HISTORY.json", help="the person's history (docs/lifecycle/history.md), or - for standard input")
    p.add_argument("--overlay", action="append", default=[], metavar="F", help="policy overlay supplying blank figures (repeatable)")
    p.add_argument("--table", action="store_true", help="print a readable table instead of JSON")
    if recording:
        if dated:
            p.add_argument("--date", required=True, metavar="YYYY-MM-DD")
        p.add_argument("-o", "--output", metavar="FILE", help="write the history with this movement added (may be HISTORY itself)")
    p.set_defaults(run=run)
    return p


# ---------------------------------------------------------------------- reading


class _Input:
    """The history as typed facts, its raw JSON (to write back) and the city's policy."""

    def __init__(self, args: argparse.Namespace):
        self.raw = decode_json(read_input(args.history))
        self.history: History = parse_history(self.raw)
        self.policy: CityPolicy = load_city(self.history.city, args.overlay)

    def with_movements(self, *movements: dict) -> "_Input":
        raw = dict(self.raw)
        raw["account_entries"] = list(raw.get("account_entries") or []) + list(movements)
        copy = object.__new__(_Input)
        copy.raw, copy.policy = raw, self.policy
        copy.history = parse_history(json.loads(json.dumps(raw, default=str), parse_float=Decimal))
        return copy

    def with_event(self, event: dict) -> "_Input":
        raw = dict(self.raw)
        raw["events"] = list(raw.get("events") or []) + [event]
        copy = object.__new__(_Input)
        copy.raw, copy.policy = raw, self.policy
        copy.history = parse_history(json.loads(json.dumps(raw, default=str), parse_float=Decimal))
        return copy

    def horizon(self, at_least: dt.date) -> dt.date:
        """A day late enough to replay every recorded fact (and ``at_least``)."""
        h = self.history
        days = [at_least] + [e.date for e in h.events] + [m.date for m in h.account_entries]
        days += [e.start for e in h.enrolments] + [e.end for e in h.enrolments if e.end]
        days += [c.paid_date for c in h.contributions if c.paid_date]
        return max(days)


def _day(text: str | None, what: str = "date") -> dt.date:
    return parse_day(text, f"--{what}")


def _month(text: str, what: str) -> dt.date:
    return parse_month(text, f"--{what}")


def _year(text: str) -> int:
    if not (text.isdigit() and len(text) == 4):
        raise YibaoError(f"--year: {text!r} is not a year YYYY")
    return int(text)


def _money(text: str | None, what: str) -> Decimal:
    try:
        return parse_amount(text)
    except ValueError as exc:
        raise YibaoError(f"--{what}: {exc}") from None


# ---------------------------------------------------------------------- reading commands


def _statement(args: argparse.Namespace) -> int:
    src = _Input(args)
    doc = src.policy.document
    until = _day(args.to, "to") if args.to else min(dt.date.today(), doc.end or dt.date.max)
    ledger = build_ledger(src.history, src.policy, until)
    out = {
        "city": ledger.city,
        "person_id": ledger.person_id,
        "from": ledger.start.isoformat() if ledger.start else None,
        "to": until.isoformat(),
        "entries": _running(ledger.running()),
        "balances": ledger.balances().as_json(),
    }
    return _emit(args, out, lambda c: _entries_table(c, f"{doc.name} · account of {ledger.person_id} · to {until}", ledger.running(), ledger.balances()))


def _credit(args: argparse.Namespace) -> int:
    src = _Input(args)
    first, last = _month(args.first, "from"), _month(args.last, "to")
    if last < first:
        raise YibaoError(f"--to {args.last} is before --from {args.first}")
    end = dt.date(last.year + (last.month == 12), last.month % 12 + 1, 1) - dt.timedelta(days=1)
    credits = monthly_credits(src.history, AccountRules(src.policy), first, end)
    total = sum((c.amount for c in credits), Decimal(0))
    out = {
        "city": src.history.city,
        "person_id": src.history.person.id,
        "from": args.first,
        "to": args.last,
        "credits": [_credit_json(c) for c in credits],
        "total": fmt(total),
    }
    return _emit(args, out, lambda c: _credits_table(c, f"{src.policy.document.name} · credits of {src.history.person.id} · {args.first} to {args.last}", credits, total))


def _rollover(args: argparse.Namespace) -> int:
    src = _Input(args)
    year = _year(args.year)
    day = dt.date(year, 12, 31)
    ledger = build_ledger(src.history, src.policy, day)
    running = ledger.running()
    source = f"year_end {year}"
    rows = [(e, b) for e, b in running if e.source == source]
    before_rows = [b for e, b in running if e.source != source]
    before = before_rows[-1] if before_rows else Balances()
    out = {
        "city": ledger.city,
        "person_id": ledger.person_id,
        "year": year,
        "before": before.as_json(),
        "entries": _running(rows),
        "after": ledger.balances().as_json(),
    }
    return _emit(args, out, lambda c: _entries_table(c, f"{src.policy.document.name} · year end {year} of {ledger.person_id}", rows, ledger.balances()))


# ---------------------------------------------------------------------- recording commands


def _open(args: argparse.Namespace) -> int:
    movement = {
        "kind": "opening",
        "date": _day(args.date).isoformat(),
        "current": fmt(_money(args.opening_current, "current")),
        "history": fmt(_money(args.opening_history, "history")),
    }
    return _record(args, _Input(args), [movement])


def _settle(args: argparse.Namespace) -> int:
    src = _Input(args)
    raw = decode_json(read_input(args.settled))
    if isinstance(raw, dict) and "settlements" in raw:
        if not args.case:
            raise YibaoError("a settlement output carries no visit dates: give its case with --case CASE.json")
        payments = payments_from_output(src.history, raw, parse_case_text(read_input(args.case)))
    elif isinstance(raw, dict) and "visits" in raw:
        payments = payments_from_case(src.history, src.policy, parse_case(raw))
    else:
        raise YibaoError(f"{args.settled} is neither a case (with `visits`) nor the output of `yibao settle` (with `settlements`)")
    movements = [{"kind": "settlement", **json.loads(p.model_dump_json(exclude_none=True, exclude={"kind", "note"}))} for p in payments]
    return _record(args, src, movements)


def _premium(args: argparse.Namespace) -> int:
    movement = {"kind": "premium", "date": _day(args.date).isoformat(), "premium": args.premium, "for": args.for_, "amount": fmt(_money(args.amount, "amount"))}
    return _record(args, _Input(args), [movement])


def _aid(args: argparse.Namespace) -> int:
    movement = {"kind": "family_aid", "date": _day(args.date).isoformat(), "relative": args.relative, "amount": fmt(_money(args.amount, "amount"))}
    if args.purpose:
        movement["purpose"] = args.purpose
    return _record(args, _Input(args), [movement])


def _transfer(args: argparse.Namespace) -> int:
    src = _Input(args)
    day = _day(args.date)
    event: dict[str, Any] = {"date": day.isoformat(), "type": "transfer_in" if args.inward else "transfer_out"}
    if args.inward:
        if args.balance is None:
            raise YibaoError("--in needs --balance, the balance transferred in")
        event["balance"] = fmt(_money(args.balance, "balance"))
    elif args.balance is not None:
        raise YibaoError("--balance goes with --in; a transfer out moves the ledger's own balance")
    after = src.with_event(event)
    index = len(after.history.events) - 1
    return _report(args, after, f"events[{index}]", [{"event": event}], day)


def _clear(args: argparse.Namespace) -> int:
    movement = {"kind": "clearing", "date": _day(args.date).isoformat(), "ground": args.ground}
    return _record(args, _Input(args), [movement])


def _inherit(args: argparse.Namespace) -> int:
    movement: dict[str, Any] = {"kind": "inheritance", "date": _day(args.date).isoformat()}
    if args.heir:
        movement["heir"] = args.heir
    return _record(args, _Input(args), [movement])


def _refund(args: argparse.Namespace) -> int:
    year = _year(args.year)
    day = _day(args.date) if args.date else dt.date(year, 12, 31)
    movement: dict[str, Any] = {"kind": "deductible_refund", "date": day.isoformat(), "year": year}
    if args.paid is not None:
        movement["paid"] = fmt(_money(args.paid, "paid"))
    return _record(args, _Input(args), [movement])


def _record(args: argparse.Namespace, src: _Input, movements: list[dict]) -> int:
    """Add the movements to the history, replay the ledger, print what they did."""
    start = len(src.history.account_entries)
    after = src.with_movements(*movements)
    sources = [f"account_entries[{i}]" for i in range(start, start + len(movements))]
    last = max(m.date for m in after.history.account_entries[start:]) if movements else dt.date.today()
    return _report(args, after, sources, [{"account_entry": m} for m in movements], last)


def _report(args: argparse.Namespace, after: _Input, sources: str | list[str], recorded: list[dict], day: dt.date) -> int:
    sources = [sources] if isinstance(sources, str) else sources
    ledger = build_ledger(after.history, after.policy, after.horizon(day))
    rows = [(e, b) for e, b in ledger.running() if e.source in sources]
    balances = rows[-1][1] if rows else ledger.balances(day)
    out = {
        "city": ledger.city,
        "person_id": ledger.person_id,
        "recorded": recorded,
        "entries": _running(rows),
        "balances": balances.as_json(),
    }
    if args.output:
        Path(args.output).write_text(json.dumps(after.raw, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    title = f"{after.policy.document.name} · account of {ledger.person_id} · {', '.join(sources)}"
    return _emit(args, out, lambda c: _entries_table(c, title, rows, balances))


# ---------------------------------------------------------------------- output


def _running(rows: list[tuple[Entry, Balances]]) -> list[dict]:
    return [{**e.as_json(), "current": fmt(b.current), "history": fmt(b.history), "balance": fmt(b.total)} for e, b in rows]


def _credit_json(c: Credit) -> dict:
    out = {"month": c.month, "date": c.date.isoformat(), "amount": fmt(c.amount), "category": c.category, "clause": c.clause, "memo": c.memo, "source": c.source}
    if c.history_like is not None:
        out["history_like"] = fmt(c.history_like)
    return out


def _emit(args: argparse.Namespace, doc: dict, table: Callable[[Console], None]) -> int:
    if args.table:
        table(Console(highlight=False, width=200))
    else:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    return 0


def _entries_table(console: Console, title: str, rows: list[tuple[Entry, Balances]], closing: Balances) -> None:
    table = Table(title=title, title_justify="left", show_lines=False)
    for col, justify in (("date", "left"), ("sub", "left"), ("amount", "right"), ("kind", "left"), ("memo", "left"),
                         ("clause 依据", "left"), ("当年", "right"), ("历年", "right"), ("total", "right")):
        table.add_column(col, justify=justify, overflow="fold")
    for e, b in rows:
        sub = "当年" if e.sub == "current" else "历年"
        kind = e.kind + (" (overdraft)" if e.overdraft else "")
        table.add_row(e.date.isoformat(), sub, fmt(e.amount), kind, escape(e.memo), escape(e.clause), fmt(b.current), fmt(b.history), fmt(b.total))
    console.print(table)
    console.print(f"balances: 当年 {fmt(closing.current)} · 历年 {fmt(closing.history)} · total {fmt(closing.total)}")


def _credits_table(console: Console, title: str, credits: list[Credit], total: Decimal) -> None:
    table = Table(title=title, title_justify="left")
    for col, justify in (("month", "left"), ("date", "left"), ("amount", "right"), ("memo", "left"), ("clause 依据", "left")):
        table.add_column(col, justify=justify, overflow="fold")
    for c in credits:
        table.add_row(c.month, c.date.isoformat(), fmt(c.amount), escape(c.memo), escape(c.clause))
    console.print(table)
    console.print(f"total credited: {fmt(total)}")


__all__ = ["register"]
