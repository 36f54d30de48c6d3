"""Retirement with employee benefits: contribution years, the city's requirements, top-ups.

``yibao retirement HISTORY --date D`` counts the person's contribution years on ``D`` by
kind, checks them against ``retirement.requirements`` and, when short, prices each option
of ``retirement.top_up`` (``docs/lifecycle/retirement.md``):

* **actual, local** — the history's paid employee months (a month counts once, when paid in
  full: regular, back payments and monthly top-ups), and credited ``actual`` years marked
  ``local``;
* **credited** — ``credited_years`` by kind (``actual``, ``deemed``, ``transferred``,
  ``military``, ``pre_reform``, ``resident_converted``), local or not;
* **transferred** — the ``years`` of ``transfer_in`` events up to ``D``.

A requirement (``{years, counts, hukou?}``) counts the kinds its city lets count —
``local`` (this city's only) or ``any`` — a converted kind at its ``ratio``. Time is kept in
months, exactly; missing months are rounded up to whole months for a top-up. An option's
blank figure (the province's base floor of the year, a rate the text leaves blank) is
reported in the option with its name and clause; a blank requirement fails the command.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from yibao.errors import CaseError, MissingPolicyValue, YibaoError
from yibao.lifecycle.contributions import (
    Base, Context, Line, Schedule, base_json, base_of, fund, load_schedule, schedule_lines, subsidy_rules,
)
from yibao.lifecycle.history import Enrolment, History
from yibao.lifecycle.person import Situation, latest_enrolment
from yibao.lifecycle.policy_view import APPLIES_KEYS, PolicyAt, Record
from yibao.money import HUNDRED, ZERO, fmt, percent, round_fen
from yibao.policy.loader import CityPolicy

TWELVE = Decimal(12)
KINDS = {
    "actual": "实际缴费年限",
    "deemed": "视同缴费年限",
    "transferred": "转入年限",
    "military": "军龄",
    "pre_reform": "制度实施前年限",
    "resident_converted": "居民医保年限折算",
}
SCOPES = ("local", "any")
PAYMENTS = {"monthly": "按月延缴", "one_off": "一次性补缴", "yearly": "逐年缴费"}
#: Kinds of paid records that make a month of actual contributions.
PAID_KINDS = ("regular", "back_payment", "retirement_top_up")
_REQUIREMENT_KEYS = APPLIES_KEYS | {"years", "counts"}
_OPTION_KEYS = APPLIES_KEYS | {"payment", "rate", "base", "growth", "tops_up", "while_met", "while_unmet", "subsidies", "critical_illness"}


# ---------------------------------------------------------------------- years


@dataclass(frozen=True)
class Credit:
    """Months of one kind from one source (``history``, ``credited``, ``transfer_in``)."""

    kind: str
    local: bool
    source: str
    months: Decimal


def credits(history: History, day: dt.date) -> list[Credit]:
    """Every contribution month the history credits on ``day``, by kind and source."""
    paid = {
        c.month for c in history.contributions_of("employee")
        if c.kind in PAID_KINDS and c.settled and c.first_day <= day
    }
    found = [Credit("actual", True, "history", Decimal(len(paid)))]
    for item in history.credited_years:
        found.append(Credit(item.kind, item.local, "credited", item.years * TWELVE))
    for event in history.events_of("transfer_in"):
        if event.date <= day and event.years:
            found.append(Credit("transferred", False, "transfer_in", event.years * TWELVE))
    return [c for c in found if c.months or c.source == "history"]


def years_text(months: Decimal) -> str:
    """Months as years to the hundredth (display only; decisions use the months)."""
    return fmt(months / TWELVE)


def months_text(months: Decimal) -> str:
    return format(months.normalize(), "f")


# ---------------------------------------------------------------------- requirements


@dataclass(frozen=True)
class Requirement:
    name: str
    required: Decimal  # months
    counted: Decimal  # months
    counts: tuple[tuple[str, str, Decimal, Decimal], ...]  # kind, scope, ratio (points), months
    clause: str

    @property
    def met(self) -> bool:
        return self.counted >= self.required

    @property
    def missing(self) -> Decimal:
        return max(ZERO, self.required - self.counted)


def requirements(view: PolicyAt, sit: Situation, found: list[Credit]) -> list[Requirement]:
    """The requirements that apply to the person, each with the months it counts."""
    facts, extra = sit.facts, sit.extra
    out = []
    for name, rec in view.require("retirement.requirements").subs(facts):
        rec.check(facts, allowed=_REQUIREMENT_KEYS, required={"years", "counts"})
        if not rec.applies(facts, extra):
            continue
        counts = tuple(_counts(rec.sub("counts", facts), facts, found))
        counted = sum((months for _, _, _, months in counts), ZERO)
        out.append(Requirement(name, rec.number("years", facts) * TWELVE, counted, counts, rec.clause))
    if not out:
        raise CaseError(f"{view.city}: no retirement requirement applies to person {sit.history.person.id}")
    return out


def _counts(rec: Record, facts: dict, found: list[Credit]) -> list[tuple[str, str, Decimal, Decimal]]:
    """``{kind: scope}`` or ``{kind: {scope, ratio}}``: each kind that counts, its scope
    (``local`` or ``any``), its ratio in points and the months it adds. A ratio is read only
    when the person has months of that kind (a blank one stops only those it applies to)."""
    rec.check(facts, allowed=set(KINDS))
    out = []
    for kind in rec.keys(facts):
        spec: Record | None = None
        if isinstance(rec.raw(kind, facts), dict):
            spec = rec.sub(kind, facts)
            spec.check(facts, allowed={"scope", "ratio"}, required={"scope"})
            where = spec.text("scope", facts, allowed=SCOPES) or "any"
        else:
            where = rec.text(kind, facts, allowed=SCOPES) or "any"
        months = sum((c.months for c in found if c.kind == kind and (where == "any" or c.local)), ZERO)
        ratio = HUNDRED
        if months and spec is not None and spec.has("ratio", facts):
            ratio = spec.number("ratio", facts)
        out.append((kind, where, ratio, months * percent(ratio)))
    return out


# ---------------------------------------------------------------------- top-ups


@dataclass(frozen=True)
class TopUp:
    """One way to pay the missing months, priced at the figures in force on the date."""

    name: str
    payment: str
    months: int
    clause: str
    base: Base | None = None
    rate: Decimal | None = None
    per_period: Line | None = None
    amount: Decimal | None = None
    critical_illness: Decimal | None = None
    problem: YibaoError | None = None  # a blank figure (MissingPolicyValue) or a gap in the history


def top_ups(ctx: Context, reqs: list[Requirement]) -> list[TopUp]:
    """The options offered to the person, each priced or naming its blank figure."""
    rec = ctx.view.record("retirement.top_up")
    if rec is None:
        return []
    by_name = {r.name: r for r in reqs}
    options = []
    for name, opt in rec.subs(ctx.facts):
        opt.check(ctx.facts, allowed=_OPTION_KEYS, required={"payment"})
        if not (opt.applies(ctx.facts, ctx.extra) and _offered(opt, ctx, by_name)):
            continue
        months = _months(opt, ctx, reqs, by_name)
        if months == 0:
            continue
        payment = opt.text("payment", ctx.facts, allowed=PAYMENTS) or ""
        try:
            options.append(_price(ctx, name, opt, payment, months))
        except (MissingPolicyValue, CaseError) as exc:
            options.append(TopUp(name, payment, months, opt.clause, problem=exc))
    return options


def _offered(opt: Record, ctx: Context, by_name: dict[str, Requirement]) -> bool:
    """``while_met``: that requirement is met or does not apply; ``while_unmet``: it applies, unmet."""
    met = opt.text("while_met", ctx.facts)
    unmet = opt.text("while_unmet", ctx.facts)
    for key, name in (("while_met", met), ("while_unmet", unmet), ("tops_up", opt.text("tops_up", ctx.facts))):
        if name is not None and name not in _requirement_names(ctx):
            raise opt.error(key, f"{name!r} is not a requirement of retirement.requirements")
    if met is not None and met in by_name and not by_name[met].met:
        return False
    if unmet is not None and (unmet not in by_name or by_name[unmet].met):
        return False
    return True


def _requirement_names(ctx: Context) -> list[str]:
    return ctx.view.require("retirement.requirements").keys(ctx.facts)


def _months(opt: Record, ctx: Context, reqs: list[Requirement], by_name: dict[str, Requirement]) -> int:
    """Whole months to pay: those of ``tops_up``, else the most missing of any requirement."""
    target = opt.text("tops_up", ctx.facts)
    missing = by_name[target].missing if target in by_name else max((r.missing for r in reqs), default=ZERO)
    return math.ceil(missing)


def _price(ctx: Context, name: str, opt: Record, payment: str, months: int) -> TopUp:
    facts = ctx.facts
    rate = opt.number("rate", facts)
    base = _base(ctx, opt)
    n = Decimal(months)
    rules = subsidy_rules(ctx, opt.get("subsidies", facts))
    if payment == "monthly":
        line = Line(name, "person", round_fen(base.amount * percent(rate)), opt.clause, base.amount, rate)
        (line,) = fund((line,), rules, None, None)
        return TopUp(name, payment, months, opt.clause, base, rate, line, line.amount * n)
    if payment == "yearly":
        line = Line(name, "person", round_fen(base.amount * percent(rate) * TWELVE), opt.clause, base.amount, rate)
        (line,) = fund((line,), rules, None, None)
        return TopUp(name, payment, months, opt.clause, base, rate, line, round_fen(base.amount * percent(rate) * n))
    growth = opt.number("growth", facts) if opt.has("growth", facts) else ZERO
    amount = round_fen(escalating(base.amount * percent(rate), months, growth))
    critical = _critical_illness(ctx, opt, n)
    total = amount + (critical or ZERO)
    return TopUp(name, payment, months, opt.clause, base, rate, None, total, critical)


def escalating(per_month: Decimal, months: int, growth: Decimal) -> Decimal:
    """Σ of ``per_month`` over ``months``, the amount rising ``growth`` % after each 12 months
    (随州 第十七条 逐年递增5%); exact, rounded by the caller."""
    total, factor, left = ZERO, Decimal(1), months
    while left > 0:
        chunk = min(12, left)
        total += per_month * factor * chunk
        factor *= 1 + percent(growth)
        left -= chunk
    return total


def _base(ctx: Context, opt: Record) -> Base:
    """The option's base; ``contribution``: the person's own contribution base at the time."""
    if opt.raw("base", ctx.facts) != "contribution":
        return base_of(ctx, opt)
    sched = load_schedule(ctx, ctx.situation.enrolment.mode)
    owner = sched.holder("base", ctx.facts)
    if not owner.has("base", ctx.facts):
        raise CaseError(f"the {ctx.situation.enrolment.mode} enrolment has no contribution base to top up on")
    return base_of(ctx, owner)


def _critical_illness(ctx: Context, opt: Record, months: Decimal) -> Decimal | None:
    """杭州: a one-off top-up also pays the 大病 premium of the years, the lines of ``payer``."""
    payer = opt.text("critical_illness", ctx.facts, allowed=("person", "employee_fund"))
    if payer is None:
        return None
    premium = ctx.view.require("contributions.critical_illness_premium")
    lines, _ = schedule_lines(ctx, Schedule(premium))
    per_year = sum((line.amount for line in lines if line.payer == payer), ZERO)
    return round_fen(per_year * months / TWELVE)


# ---------------------------------------------------------------------- the assessment


@dataclass(frozen=True)
class Assessment:
    city: str
    person_id: str
    day: dt.date
    credits: tuple[Credit, ...]
    requirements: tuple[Requirement, ...]
    options: tuple[TopUp, ...]

    @property
    def eligible(self) -> bool:
        return all(r.met for r in self.requirements)

    @property
    def missing(self) -> Decimal:
        return max((r.missing for r in self.requirements), default=ZERO)


def assess(history: History, policy: CityPolicy, day: dt.date) -> Assessment:
    """Eligibility for retirement benefits on ``day`` and, if short, the ways to top up."""
    view = PolicyAt(policy, day, f"date {day}")
    enrolment = _working_enrolment(history, day)
    sit = Situation(history, enrolment, day)
    found = credits(history, day)
    reqs = requirements(view, sit, found)
    options: list[TopUp] = []
    if not all(r.met for r in reqs):
        declared = _last_declared(history, day)
        ctx = Context(view, sit, declared, f"the history's contribution records up to {day}")
        options = top_ups(ctx, reqs)
    return Assessment(policy.city, history.person.id, day, tuple(found), tuple(reqs), tuple(options))


def _working_enrolment(history: History, day: dt.date) -> Enrolment:
    """The last employee enrolment before retirement (not itself a retirement)."""
    working = [e for e in history.enrolments if e.scheme == "employee" and e.mode != "retired" and e.start <= day]
    if working:
        return max(working, key=lambda e: e.start)
    found = latest_enrolment(history, "employee", day)
    if found is None:
        raise CaseError(f"person {history.person.id} has no employee enrolment on or before {day} (history `enrolments`)")
    return found


def _last_declared(history: History, day: dt.date) -> Decimal | None:
    declared = [c for c in history.contributions_of("employee") if c.base is not None and c.first_day <= day]
    return declared[-1].base if declared else None


# ---------------------------------------------------------------------- output


def _num(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def option_json(t: TopUp) -> dict[str, Any]:
    out: dict[str, Any] = {"option": t.name, "payment": t.payment, "months": t.months}
    if isinstance(t.problem, MissingPolicyValue):
        out["missing"] = {"name": t.problem.name, "clause": t.problem.clause, "message": str(t.problem)}
    elif t.problem is not None:
        out["problem"] = str(t.problem)
    if t.problem is not None:
        out["clause"] = t.clause
        return out
    out["base"] = base_json(t.base)
    out["rate"] = _num(t.rate)
    if t.per_period is not None:
        out["per_" + ("year" if t.payment == "yearly" else "month")] = fmt(t.per_period.amount)
        out["funding_per_" + ("year" if t.payment == "yearly" else "month")] = [
            {"funder": f.funder, "amount": fmt(f.amount), **({"rule": f.rule, "clause": f.clause} if f.rule else {})}
            for f in t.per_period.funding
        ]
    if t.critical_illness is not None:
        out["critical_illness"] = fmt(t.critical_illness)
    out["amount"] = fmt(t.amount) if t.amount is not None else None
    out["clause"] = t.clause
    return out


def assessment_json(a: Assessment) -> dict[str, Any]:
    local = sum((c.months for c in a.credits if c.local), ZERO)
    total = sum((c.months for c in a.credits), ZERO)
    return {
        "city": a.city,
        "person_id": a.person_id,
        "date": a.day.isoformat(),
        "eligible": a.eligible,
        "years": {
            "by_kind": [
                {"kind": c.kind, "local": c.local, "source": c.source, "months": months_text(c.months), "years": years_text(c.months)}
                for c in a.credits
            ],
            "local": {"months": months_text(local), "years": years_text(local)},
            "total": {"months": months_text(total), "years": years_text(total)},
        },
        "requirements": [
            {
                "name": r.name,
                "required_years": years_text(r.required),
                "counts": {kind: scope if ratio == HUNDRED else f"{scope} at {_num(ratio)}%" for kind, scope, ratio, _ in r.counts},
                "counted_months": months_text(r.counted),
                "counted_years": years_text(r.counted),
                "met": r.met,
                "missing_months": months_text(r.missing),
                "clause": r.clause,
            }
            for r in a.requirements
        ],
        "missing_months": months_text(a.missing),
        "top_up": [option_json(t) for t in a.options],
    }


__all__ = ["Assessment", "Credit", "Requirement", "TopUp", "assess", "assessment_json", "credits", "escalating"]
