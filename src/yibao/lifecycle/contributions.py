"""What is due for a month of employee insurance, or a year of resident and 大病 premiums.

``yibao contributions HISTORY --month 2026-03`` charges the person's employee enrolment of
that month; ``--year 2026`` charges the resident premium (or an employee's yearly items)
and the 大病 premium. Every amount comes from the city's ``contributions.*`` records
(``docs/lifecycle/contributions.md``):

* ``contributions.<mode>`` — the schedule of a mode (``unit``, ``flexible``, ``unemployed``,
  ``retired``): a ``base``, ``lines``, optional ``variants``; or ``same_as`` another mode
  with ``paid_by`` (the unemployment fund pays the flexible standard);
* ``contributions.base_limits`` — the floor and cap a declared wage is brought within;
* ``contributions.published_figures`` — the province's yearly figures the bases refer to;
* ``contributions.subsidies`` — who pays a line instead of its payer, and how much;
* ``contributions.resident_premium`` — the resident's yearly premium, by category and grade;
* ``contributions.critical_illness_premium`` — the 大病 premium and where each part comes from.

A *line* is one amount with one nominal payer (``employer`` or ``person`` for
contributions; ``government``, ``employee_fund``, ``resident_fund`` for subsidies and
transfers): ``rate`` points of a base, a fixed ``amount``, a ``share`` of the group's
``total``, or ``amount: rest``. Its ``parts`` say how much of it is 生育 (maternity), 大额
(major_medical), 长护险 (long_term_care) or goes to the account. Each amount is rounded half
up to the fen once (``yibao.money``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cached_property
from typing import Any, Callable

from yibao.errors import CaseError
from yibao.lifecycle.history import Contribution, History
from yibao.lifecycle.person import Situation, enrolment_in, month_span, require_enrolment
from yibao.lifecycle.policy_view import APPLIES_KEYS, PolicyAt, Record
from yibao.money import ZERO, clamp, fmt, percent, round_fen
from yibao.policy.loader import CityPolicy
from yibao.policy.selectors import UNLIMITED

PAYERS = {
    "employer": "用人单位",
    "person": "个人",
    "government": "政府补助",
    "employee_fund": "职工医保统筹基金",
    "resident_fund": "居民医保基金",
}
#: Who may take over a line (``paid_by``); ``waived`` means nobody pays it.
PAID_BY = ("government", "unemployment_fund", "waived")
PARTS = {
    "maternity": "生育保险",
    "major_medical": "大额医疗费用补助",
    "long_term_care": "长期护理保险",
    "account": "划入个人账户",
}
SOURCES = {"current_account": "从当年个人账户扣缴"}
MODES = ("unit", "flexible", "unemployed", "retired")
#: Lines with these payers are what the period's contribution records should show paid.
COLLECTED = ("employer", "person")

_SCHEDULE_KEYS = {"base", "lines", "per", "variants", "same_as", "paid_by", "total"}
_LINE_KEYS = {"payer", "rate", "amount", "share", "base", "parts", "from"}
_SUBSIDY_KEYS = APPLIES_KEYS | {"payer", "share", "paid_by"}


# ---------------------------------------------------------------------- results


@dataclass(frozen=True)
class Base:
    """The amount a rate applies to, and how it was found."""

    amount: Decimal
    how: str
    clause: str
    declared: Decimal | None = None
    floor: Decimal | None = None
    cap: Decimal | None = None


@dataclass(frozen=True)
class Funding:
    """Who actually pays (part of) a line."""

    funder: str
    amount: Decimal
    rule: str | None = None
    clause: str | None = None


@dataclass(frozen=True)
class Line:
    name: str
    payer: str
    amount: Decimal
    clause: str
    base: Decimal | None = None
    rate: Decimal | None = None
    parts: tuple[tuple[str, Decimal], ...] = ()
    source: str | None = None
    funding: tuple[Funding, ...] = ()

    @property
    def waived(self) -> Decimal:
        return sum((f.amount for f in self.funding if f.funder == "waived"), ZERO)

    @property
    def due(self) -> Decimal:
        return self.amount - self.waived


@dataclass(frozen=True)
class Group:
    """The lines of one item: the month's contribution, the yearly premium, the 大病 premium."""

    name: str
    per: str
    clause: str
    lines: tuple[Line, ...]
    base: Base | None = None
    collected: bool = True
    notes: tuple[str, ...] = ()

    @property
    def due(self) -> Decimal:
        return sum((line.due for line in self.lines), ZERO)

    @property
    def collectable(self) -> Decimal:
        """What the period's records should show paid (employer and personal lines)."""
        if not self.collected:
            return ZERO
        return sum((line.due for line in self.lines if line.payer in COLLECTED), ZERO)


@dataclass(frozen=True)
class Recorded:
    records: int
    due: Decimal | None
    paid: Decimal


@dataclass(frozen=True)
class Statement:
    city: str
    person_id: str
    per: str  # month / year
    period: str
    scheme: str
    mode: str
    category: str
    grade: int | None
    groups: tuple[Group, ...]
    recorded: Recorded

    @property
    def collectable(self) -> Decimal:
        return sum((g.collectable for g in self.groups), ZERO)

    @property
    def arrears(self) -> Decimal:
        return max(ZERO, self.collectable - self.recorded.paid)

    @property
    def overpaid(self) -> Decimal:
        return max(ZERO, self.recorded.paid - self.collectable)


# ---------------------------------------------------------------------- the context


@dataclass
class Context:
    """Everything a schedule is evaluated against: the policy on a date and the person."""

    view: PolicyAt
    situation: Situation
    declared: Decimal | None = None
    declared_from: str = "the history"

    @cached_property
    def facts(self) -> dict[str, Any]:
        return self.situation.facts

    @cached_property
    def extra(self) -> dict[str, str]:
        return self.situation.extra

    def require_declared(self) -> Decimal:
        if self.declared is None:
            raise CaseError(f"{self.declared_from} has no declared `base` (the wage the contribution is computed on)")
        return self.declared


# ---------------------------------------------------------------------- bases


def published(ctx: Context, rec: Record, key: str) -> Decimal:
    """A figure of ``contributions.published_figures`` named by ``rec[key]``."""
    figures = ctx.view.require("contributions.published_figures")
    name = rec.text(key, ctx.facts)
    if name is None or not figures.has(name, ctx.facts):
        raise rec.error(key, f"{name!r} is not one of the published figures ({', '.join(figures.keys(ctx.facts))})")
    return figures.number(name, ctx.facts)


def share_of(ctx: Context, rec: Record) -> tuple[Decimal, str]:
    """``{share: 60, of: average_wage}`` → 60 % of the published figure, rounded to the fen."""
    rec.check(ctx.facts, allowed={"share", "of"}, required={"share", "of"})
    share = rec.number("share", ctx.facts)
    figure = published(ctx, rec, "of")
    return round_fen(figure * percent(share)), f"{share}% of {rec.text('of', ctx.facts)} {fmt(figure)}"


def limit(ctx: Context, rec: Record, key: str) -> Decimal | None:
    """A floor or cap: a share of a published figure, an amount, or ``unlimited``."""
    value = rec.raw(key, ctx.facts)
    if value == UNLIMITED:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, dict):
        return share_of(ctx, rec.sub(key, ctx.facts))[0]
    raise rec.error(key, f"{value!r} is not a floor or cap (a share of a published figure, an amount or `unlimited`)")


def base_of(ctx: Context, rec: Record, key: str = "base") -> Base:
    """Resolve a base: ``wage`` (the declared wage within the floor and cap), ``declared``
    (as declared), a share of a published figure, or a fixed amount."""
    spec = rec.raw(key, ctx.facts)
    if spec == "wage":
        return wage_base(ctx, ctx.require_declared())
    if spec == "declared":
        declared = ctx.require_declared()
        return Base(declared, f"declared {fmt(declared)}", rec.clause, declared=declared)
    if isinstance(spec, dict):
        sub = rec.sub(key, ctx.facts)
        amount, how = share_of(ctx, sub)
        return Base(amount, how, sub.clause)
    if isinstance(spec, Decimal):
        return Base(spec, f"fixed {fmt(spec)}", rec.clause)
    raise rec.error(key, f"{spec!r} is not a base (wage, declared, {{share, of}} or an amount)")


def base_limits(ctx: Context) -> Record:
    """``contributions.base_limits``: the ``floor`` and ``cap`` a declared wage is brought
    within (read each with :func:`limit`); the floor is the minimum contribution base."""
    limits = ctx.view.require("contributions.base_limits")
    limits.check(ctx.facts, allowed={"floor", "cap"}, required={"floor", "cap"})
    return limits


def wage_base(ctx: Context, declared: Decimal) -> Base:
    """The declared wage raised to the floor or lowered to the cap (``contributions.base_limits``)."""
    limits = base_limits(ctx)
    floor, cap = limit(ctx, limits, "floor"), limit(ctx, limits, "cap")
    amount = clamp(declared, floor or ZERO, cap)
    how = f"declared {fmt(declared)}"
    if amount > declared:
        how += f", raised to the floor {fmt(amount)}"
    elif amount < declared:
        how += f", lowered to the cap {fmt(amount)}"
    return Base(amount, how, limits.clause, declared, floor, cap)


# ---------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class Schedule:
    """A mode's schedule, the variant that applies to the person, and who pays it all."""

    rec: Record
    variant: Record | None = None
    paid_by: str | None = None
    paid_by_clause: str | None = None

    def holder(self, key: str, facts: dict) -> Record:
        if self.variant is not None and self.variant.has(key, facts):
            return self.variant
        return self.rec

    def per(self, facts: dict) -> str:
        return self.holder("per", facts).text("per", facts, allowed=("month", "year"), default="month") or "month"


def load_schedule(ctx: Context, name: str, seen: tuple[str, ...] = ()) -> Schedule:
    """``contributions.<name>``, following ``same_as`` and choosing the first matching variant."""
    rec = ctx.view.require(f"contributions.{name}")
    facts = ctx.facts
    rec.check(facts, allowed=_SCHEDULE_KEYS)
    if rec.has("same_as", facts):
        target = rec.text("same_as", facts, allowed=MODES) or ""
        if target in seen + (name,):
            raise rec.error("same_as", f"{target!r} refers back to itself")
        inner = load_schedule(ctx, target, seen + (name,))
        paid_by = rec.text("paid_by", facts, allowed=PAID_BY)
        return replace(inner, paid_by=paid_by or inner.paid_by, paid_by_clause=rec.clause if paid_by else inner.paid_by_clause)
    variant = None
    if rec.has("variants", facts):
        for _, candidate in rec.sub("variants", facts).subs(facts):
            candidate.check(facts, allowed=APPLIES_KEYS | (_SCHEDULE_KEYS - {"variants", "same_as"}))
            if candidate.applies(facts, ctx.extra):
                variant = candidate
                break
    paid_by = rec.text("paid_by", facts, allowed=PAID_BY)
    return Schedule(rec, variant, paid_by, rec.clause if paid_by else None)


def schedule_lines(ctx: Context, sched: Schedule) -> tuple[tuple[Line, ...], Base | None]:
    """The lines of a schedule (or premium) and the base its rate lines used."""
    facts = ctx.facts
    holder = sched.holder("lines", facts)
    base_cache: list[Base] = []

    def schedule_base() -> Base:
        if not base_cache:
            owner = sched.holder("base", facts)
            if not owner.has("base", facts):
                raise owner.error("base", "a line with a `rate` needs the schedule's `base`")
            base_cache.append(base_of(ctx, owner))
        return base_cache[0]

    total_holder = sched.holder("total", facts)
    total = total_holder.number("total", facts) if total_holder.has("total", facts) else None
    lines: list[Line] = []
    rests: list[tuple[str, Record]] = []
    for name, lrec in holder.sub("lines", facts).subs(facts):
        lrec.check(facts, allowed=_LINE_KEYS, required={"payer"})
        if lrec.raw("amount", facts) == "rest":
            rests.append((name, lrec))
            continue
        lines.append(_line(ctx, name, lrec, schedule_base, total))
    for name, lrec in rests:
        if total is None:
            raise lrec.error("amount", "`rest` needs the group's `total`")
        rest = total - sum((line.amount for line in lines), ZERO)
        lines.append(Line(name, _payer(lrec, facts), rest, lrec.clause, source=_source(lrec, facts)))
    return tuple(lines), (base_cache[0] if base_cache else None)


def _payer(rec: Record, facts: dict) -> str:
    return rec.text("payer", facts, allowed=PAYERS) or ""


def _source(rec: Record, facts: dict) -> str | None:
    return rec.text("from", facts, allowed=SOURCES)


def _line(ctx: Context, name: str, rec: Record, schedule_base: Callable[[], Base], total: Decimal | None) -> Line:
    """One line: ``rate`` points of a base, a fixed ``amount``, or a ``share`` of the total."""
    facts = ctx.facts
    kinds = [k for k in ("rate", "amount", "share") if rec.has(k, facts)]
    if len(kinds) != 1:
        raise rec.error("", "a line has exactly one of rate, amount, share")
    payer, source = _payer(rec, facts), _source(rec, facts)
    if kinds[0] == "amount":
        amount = rec.number("amount", facts)
        return Line(name, payer, amount, rec.clause, parts=_parts(rec, ctx, None), source=source)
    if kinds[0] == "share":
        if total is None:
            raise rec.error("share", "a `share` line needs the group's `total`")
        share = rec.number("share", facts)
        return Line(name, payer, round_fen(total * percent(share)), rec.clause, rate=share, source=source)
    rate = rec.number("rate", facts)
    base = base_of(ctx, rec) if rec.has("base", facts) else schedule_base()
    amount = round_fen(base.amount * percent(rate))
    return Line(name, payer, amount, rec.clause, base.amount, rate, _parts(rec, ctx, base.amount), source)


def _parts(rec: Record, ctx: Context, base: Decimal | None) -> tuple[tuple[str, Decimal], ...]:
    """The parts of a line: points of its base for a rate line, amounts for a fixed line."""
    if not rec.has("parts", ctx.facts):
        return ()
    parts = rec.sub("parts", ctx.facts)
    parts.check(ctx.facts, allowed=set(PARTS))
    out = []
    for key in parts.keys(ctx.facts):
        value = parts.number(key, ctx.facts)
        out.append((key, round_fen(base * percent(value)) if base is not None else value))
    return tuple(out)


# ---------------------------------------------------------------------- who pays


@dataclass(frozen=True)
class Subsidy:
    name: str
    payer: str
    share: Decimal
    paid_by: str
    clause: str


def subsidies(ctx: Context) -> list[Subsidy]:
    """The ``contributions.subsidies`` rules that apply to the person now."""
    return subsidy_rules(ctx, ctx.view.record("contributions.subsidies"))


def subsidy_rules(ctx: Context, rules: Record | None) -> list[Subsidy]:
    """The rules of a mapping of subsidies (``{name: {when, payer, share, paid_by}}``) that apply."""
    if rules is None:
        return []
    found = []
    for name, rule in rules.subs(ctx.facts):
        rule.check(ctx.facts, allowed=_SUBSIDY_KEYS, required={"payer", "share", "paid_by"})
        if rule.applies(ctx.facts, ctx.extra):
            payer = _payer(rule, ctx.facts)
            paid_by = rule.text("paid_by", ctx.facts, allowed=PAID_BY) or ""
            found.append(Subsidy(name, payer, rule.number("share", ctx.facts), paid_by, rule.clause))
    return found


def fund(lines: tuple[Line, ...], rules: list[Subsidy], paid_by: str | None, paid_by_clause: str | None) -> tuple[Line, ...]:
    """Say who pays each line: its payer, or the schedule's ``paid_by``; then the highest
    matching subsidy takes its share (subsidies never add up — 随州 第三十九条 就高不重复)."""
    out = []
    for line in lines:
        funder = paid_by or line.payer
        clause = paid_by_clause if paid_by else None
        matching = [r for r in rules if r.payer == line.payer]
        best = max(matching, key=lambda r: r.share, default=None)
        taken = round_fen(line.amount * percent(best.share)) if best else ZERO
        rest = line.amount - taken
        funding = []
        if rest or not taken:
            funding.append(Funding(funder, rest, None, clause))
        if best is not None and taken:
            funding.append(Funding(best.paid_by, taken, best.name, best.clause))
        out.append(replace(line, funding=tuple(funding)))
    return tuple(out)


# ---------------------------------------------------------------------- statements


def _recorded(records: list[Contribution]) -> Recorded:
    dues = [c.due for c in records if c.due is not None]
    return Recorded(len(records), sum(dues, ZERO) if dues else None, sum((c.paid for c in records), ZERO))


def monthly_statement(history: History, policy: CityPolicy, month: str) -> Statement:
    """The employee contribution due for ``month`` (``YYYY-MM``), compared with the records."""
    first, last = month_span(month)
    enrolment = require_enrolment(history, "employee", first, last, month)
    view = PolicyAt(policy, first, f"month {month}")
    records = [c for c in history.contributions_of("employee") if c.month == month and c.kind in ("regular", "back_payment")]
    declared = next((c.base for c in records if c.kind == "regular" and c.base is not None), None)
    ctx = Context(view, Situation(history, enrolment, first), declared, f"the contribution record for {month}")
    sched = load_schedule(ctx, enrolment.mode)
    if sched.per(ctx.facts) == "month":
        group = _schedule_group(ctx, sched, "contribution")
    else:
        note = f"due once a year, not monthly: see `--year {first.year}`"
        group = Group("contribution", "year", (sched.variant or sched.rec).clause_at(ctx.facts), (), notes=(note,))
    return Statement(policy.city, history.person.id, "month", month, "employee", enrolment.mode, enrolment.category, None, (group,), _recorded(records))


def yearly_statement(history: History, policy: CityPolicy, year: int) -> Statement:
    """The yearly items of ``year``: a resident's premium (or an employee's yearly schedule)
    and the 大病 premium. Premiums are read on 1 January of the year they pay for (C1)."""
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    enrolment = enrolment_in(history, "resident", first, last) or enrolment_in(history, "employee", first, last)
    if enrolment is None:
        raise CaseError(f"person {history.person.id} has no enrolment in {year} (history `enrolments`)")
    view = PolicyAt(policy, first, f"year {year}")
    born = history.person.birth_date.year == year
    ctx = Context(view, Situation(history, enrolment, max(first, enrolment.start), born))
    groups: list[Group] = []
    if enrolment.scheme == "resident":
        groups.append(_premium_group(ctx))
    else:
        sched = load_schedule(ctx, enrolment.mode)
        if sched.per(ctx.facts) == "year":
            groups.append(_schedule_group(ctx, sched, "contribution"))
    critical = view.record("contributions.critical_illness_premium")
    if critical is not None:
        groups.append(_critical_illness_group(ctx, critical))
    month = f"{year}-01"
    records = [c for c in history.contributions_of(enrolment.scheme) if c.month == month and c.kind == "premium"]
    grade = enrolment.grade if enrolment.scheme == "resident" else None
    return Statement(policy.city, history.person.id, "year", str(year), enrolment.scheme, enrolment.mode, enrolment.category, grade, tuple(groups), _recorded(records))


def _schedule_group(ctx: Context, sched: Schedule, name: str) -> Group:
    lines, base = schedule_lines(ctx, sched)
    funded = fund(lines, subsidies(ctx), sched.paid_by, sched.paid_by_clause)
    clause = (sched.variant or sched.rec).clause_at(ctx.facts)
    return Group(name, sched.per(ctx.facts), clause, funded, base)


def _premium_group(ctx: Context) -> Group:
    rec = ctx.view.require("contributions.resident_premium")
    rec.check(ctx.facts, allowed=_SCHEDULE_KEYS - {"same_as", "paid_by", "variants"})
    sched = Schedule(rec)
    lines, base = schedule_lines(ctx, sched)
    funded = fund(lines, subsidies(ctx), None, None)
    return Group("premium", "year", rec.clause_at(ctx.facts), funded, base, notes=tuple(_funding_checks(ctx, lines)))


def from_account(ctx: Context, premium: str) -> Decimal:
    """What the member's yearly ``premium`` (``contributions.<premium>_premium``) takes from
    the personal account: its lines ``from: current_account`` (杭州's 大病 48)."""
    rec = ctx.view.require(f"contributions.{premium}_premium")
    lines, _ = schedule_lines(ctx, Schedule(rec))
    taken = [line.amount for line in lines if line.source == "current_account"]
    if not taken:
        raise rec.error("", "no line of the premium is paid `from: current_account`, the account's part")
    return sum(taken, ZERO)


def _critical_illness_group(ctx: Context, rec: Record) -> Group:
    """大病保险费: transfers and payments shown for information; not part of the arrears."""
    rec.check(ctx.facts, allowed={"lines", "total", "base"})
    lines, base = schedule_lines(ctx, Schedule(rec))
    return Group("critical_illness", "year", rec.clause_at(ctx.facts), fund(lines, [], None, None), base, collected=False)


def _funding_checks(ctx: Context, lines: tuple[Line, ...]) -> list[str]:
    """The resident funding rule the premium must respect: the person pays at least 1/N."""
    rule = ctx.view.record("contributions.resident_funding")
    if rule is None or not rule.has("personal_min_fraction", ctx.facts):
        return []
    n = rule.number("personal_min_fraction", ctx.facts)
    total = sum((line.amount for line in lines), ZERO)
    personal = sum((line.amount for line in lines if line.payer == "person"), ZERO)
    if total and personal * n < total:
        return [f"the personal part {fmt(personal)} is below 1/{n} of the {fmt(total)} standard ({rule.clause})"]
    return []


# ---------------------------------------------------------------------- output


def _num(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def line_json(line: Line) -> dict[str, Any]:
    return {
        "name": line.name,
        "payer": line.payer,
        "base": fmt(line.base) if line.base is not None else None,
        "rate": _num(line.rate),
        "amount": fmt(line.amount),
        "parts": {k: fmt(v) for k, v in line.parts},
        "from": line.source,
        "funding": [
            {"funder": f.funder, "amount": fmt(f.amount), **({"rule": f.rule} if f.rule else {}), **({"clause": f.clause} if f.clause else {})}
            for f in line.funding
        ],
        "due": fmt(line.due),
        "clause": line.clause,
    }


def base_json(base: Base | None) -> dict[str, Any] | None:
    if base is None:
        return None
    return {
        "amount": fmt(base.amount),
        "declared": fmt(base.declared) if base.declared is not None else None,
        "floor": fmt(base.floor) if base.floor is not None else None,
        "cap": fmt(base.cap) if base.cap is not None else None,
        "how": base.how,
        "clause": base.clause,
    }


def _sum_by(pairs: list[tuple[str, Decimal]]) -> dict[str, str]:
    out: dict[str, Decimal] = {}
    for key, amount in pairs:
        out[key] = out.get(key, ZERO) + amount
    return {k: fmt(v) for k, v in out.items()}


def group_json(group: Group) -> dict[str, Any]:
    return {
        "name": group.name,
        "per": group.per,
        "base": base_json(group.base),
        "lines": [line_json(line) for line in group.lines],
        "total": fmt(sum((line.amount for line in group.lines), ZERO)),
        "due": fmt(group.due),
        "by_payer": _sum_by([(line.payer, line.due) for line in group.lines]),
        "by_funder": _sum_by([(f.funder, f.amount) for line in group.lines for f in line.funding if f.funder != "waived"]),
        "parts": _sum_by([p for line in group.lines for p in line.parts]),
        "counts_for_arrears": group.collected,
        "notes": list(group.notes),
        "clause": group.clause,
    }


def statement_json(s: Statement) -> dict[str, Any]:
    return {
        "city": s.city,
        "person_id": s.person_id,
        s.per: s.period if s.per == "month" else int(s.period),
        "scheme": s.scheme,
        "mode": s.mode,
        "category": s.category,
        **({"grade": s.grade} if s.grade is not None else {}),
        "groups": [group_json(g) for g in s.groups],
        "due": fmt(s.collectable),
        "recorded": {
            "records": s.recorded.records,
            "due": fmt(s.recorded.due) if s.recorded.due is not None else None,
            "paid": fmt(s.recorded.paid),
        },
        "arrears": fmt(s.arrears),
        "overpaid": fmt(s.overpaid),
    }


__all__ = [
    "Base", "Context", "Funding", "Group", "Line", "Statement", "Subsidy", "base_limits", "base_of", "from_account", "fund",
    "limit", "load_schedule", "monthly_statement", "schedule_lines", "statement_json", "subsidy_rules", "wage_base",
    "yearly_statement",
]
