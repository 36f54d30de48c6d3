"""The ``yibao`` command.

    yibao settle CASE.json [--overlay F] [--explain]   settle a case (case-format.md)
    yibao policy check CITY [--overlay F]               list every figure the text leaves blank
    yibao policy show CITY [--date D] [--overlay F]     the parameters in force, with clauses
    yibao policy template CITY [-o FILE]                an overlay skeleton of the missing figures
    yibao demo                                          settle the bundled demo cases

Errors go to standard error as one sentence; the exit status is then 2 and nothing is
printed on standard output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yibao import __version__
from yibao import vocabulary as V
from yibao.case import parse_case_text
from yibao.engine.pipeline import settle_case
from yibao.errors import YibaoError
from yibao.policy.loader import cities, load_city, template
from yibao.report import case_json, explain

EXIT_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_ERROR
    try:
        return args.run(args)
    except YibaoError as exc:
        print(f"yibao: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # pragma: no cover - e.g. `yibao policy show x | head`
        return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="yibao", description="Open core system for Chinese municipal basic medical insurance (医保).")
    p.add_argument("--version", action="version", version=f"yibao {__version__}")
    sub = p.add_subparsers(title="commands", metavar="COMMAND")

    s = sub.add_parser("settle", help="settle every visit of a case (one-stop settlement, 一单制)", description="Settle a case in the format of case-format.md and print the settlement JSON.")
    s.add_argument("case", help="the case file (JSON), or - for standard input")
    s.add_argument("--overlay", action="append", default=[], metavar="F", help="policy overlay supplying or overriding figures (repeatable)")
    s.add_argument("--explain", action="store_true", help="print each settlement and its trace as a readable table instead of JSON")
    s.add_argument("--history", metavar="H", help="the person's history (docs/lifecycle/history.md): visits are checked against the coverage windows")
    s.set_defaults(run=_settle)

    pol = sub.add_parser("policy", help="inspect the policy library", description="Inspect a city's policy: what is in force, what is missing.")
    psub = pol.add_subparsers(title="policy commands", metavar="COMMAND")
    c = psub.add_parser("check", help="list every figure the city's text leaves blank, with its clause")
    c.add_argument("city", choices=list(V.CITIES))
    c.add_argument("--overlay", action="append", default=[], metavar="F")
    c.set_defaults(run=_check)
    sh = psub.add_parser("show", help="print the parameters in force on a date, with their citations")
    sh.add_argument("city", choices=list(V.CITIES))
    sh.add_argument("--date", type=date_arg, default=None, metavar="YYYY-MM-DD", help="default: today, or the document's start if later")
    sh.add_argument("--overlay", action="append", default=[], metavar="F")
    sh.set_defaults(run=_show)
    t = psub.add_parser("template", help="write an overlay skeleton holding exactly the missing figures")
    t.add_argument("city", choices=list(V.CITIES))
    t.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    t.set_defaults(run=_template)
    pol.set_defaults(run=lambda a: (pol.print_help(), EXIT_ERROR)[1])

    d = sub.add_parser("demo", help="settle the bundled demo cases and print them as a table")
    d.set_defaults(run=_demo)

    from yibao.commands import register_all

    register_all(sub)
    return p


def parse_day(text: str | None, option: str = "--date") -> dt.date:
    """A ``YYYY-MM-DD`` option value, or one clear :class:`YibaoError`."""
    try:
        if text is None or len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise YibaoError(f"{option} {text!r} is not a date YYYY-MM-DD") from None


def parse_month(text: str | None, option: str = "--month") -> dt.date:
    """A ``YYYY-MM`` option value as the month's first day, or one clear :class:`YibaoError`."""
    try:
        if text is None or len(text) != 7:
            raise ValueError
        return dt.date.fromisoformat(text + "-01")
    except ValueError:
        raise YibaoError(f"{option} {text!r} is not a month YYYY-MM") from None


def date_arg(text: str) -> dt.date:
    """``parse_day`` as an argparse ``type`` (argparse reports the error and exits 2)."""
    try:
        return parse_day(text)
    except YibaoError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def read_input(path: str) -> str:
    """The text of a file argument (``-`` is standard input), or one clear error."""
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise YibaoError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise YibaoError(f"{path} is not UTF-8 text") from None


# ---------------------------------------------------------------------- settle


def _settle(args: argparse.Namespace) -> int:
    case = parse_case_text(read_input(args.case))
    policy = load_city(case.city, args.overlay)
    history = None
    if args.history:
        from yibao.lifecycle.history import parse_history_text

        history = parse_history_text(read_input(args.history))
    doc = case_json(case.city, case.person.id, settle_case(case, policy, history))
    if args.explain:
        explain(policy.document.name, doc, Console(highlight=False, width=140))
    else:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    return 0


# ---------------------------------------------------------------------- policy


def _check(args: argparse.Namespace) -> int:
    policy = load_city(args.city, args.overlay)
    missing = policy.missing_values()
    doc = policy.document
    out = Console(highlight=False, width=160)
    if doc.start_missing:
        out.print(f"{doc.name}: effective date left blank ({doc.reference}); the structure applies to any date until an overlay sets `effective.from`.")
    if not missing:
        out.print(f"{doc.name}: no missing values — every figure needed for settlement is present.")
        return 0
    table = Table(title=f"{doc.name} ({doc.title}): {len(missing)} missing values", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("parameter.path", overflow="fold")
    table.add_column("clause 条款", overflow="fold")
    table.add_column("what", overflow="fold")
    for i, m in enumerate(missing, 1):
        table.add_row(str(i), escape(m.name), escape(m.clause), escape(m.description))
    out.print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    policy = load_city(args.city, args.overlay)
    doc = policy.document
    day = args.date or max(dt.date.today(), doc.start or dt.date.today())
    if not doc.covers(day):
        raise YibaoError(f"{day} is outside {doc.name}'s policy ({doc.span()})")
    out = Console(highlight=False, width=180)
    table = Table(title=f"{doc.name} · {doc.title} · in force on {day}", title_justify="left", show_lines=True)
    table.add_column("parameter", overflow="fold")
    table.add_column("value", overflow="fold")
    table.add_column("clause 条款", overflow="fold")
    for name, param in sorted(policy.parameters.items()):
        version = param.at(day)
        if version is None:
            continue
        since = version.start.isoformat() if version.start else "effective date"
        value = _compact(version.raw)
        table.add_row(f"{escape(name)}\n[dim]{escape(param.description)}[/dim]\n[dim]since {since}[/dim]", escape(value), escape(version.reference))
    out.print(table)
    return 0


def _compact(raw: Any) -> str:
    if raw is None:
        return "MISSING"
    text = yaml.safe_dump(raw, allow_unicode=True, default_flow_style=None, sort_keys=False, width=100).strip()
    return text.replace("null", "MISSING")


def _template(args: argparse.Namespace) -> int:
    policy = load_city(args.city)
    skeleton = template(policy)
    lines = [
        f"# Overlay for {policy.document.name} ({policy.document.title}).",
        "# Every `null` below is a figure the text leaves blank: replace it, then pass this file",
        f"# with --overlay. Missing values and their clauses (`yibao policy check {args.city}`):",
    ]
    lines += [f"#   {m.name}  —  {m.clause}" for m in policy.missing_values()]
    text = "\n".join(lines) + "\n" + yaml.safe_dump(skeleton, allow_unicode=True, sort_keys=False, default_flow_style=False)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}: {len(policy.missing_values())} missing values", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# ---------------------------------------------------------------------- demo


def _demo(args: argparse.Namespace) -> int:
    from yibao.demo import run_demo

    return run_demo(Console(highlight=False, width=160))


__all__ = ["main", "cities"]
