"""Stage 4 — the basic pooled fund (统筹基金), inside which the order is (G12):
non-local personal share → deductible → segments on the cumulative axis and expense limit
→ payment caps → top-ups. A line may hand what it does not pay to an ``overflow_line``
(随州 生育: beyond the maternity limit the ordinary benefit applies)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from yibao.engine.context import VisitContext
from yibao.engine.rules import clamp_rate
from yibao.engine.state import Totals, TraceStep, VisitState
from yibao.errors import CaseError, PolicyError
from yibao.mechanisms import deductible as regimes
from yibao.mechanisms.axis import cut
from yibao.money import ZERO, percent, round_fen
from yibao.policy.model import Adjusted, Benefit, DeductibleRule, NonlocalRule, PaymentCap, RateRule, TopUp

DEFAULT_FUND_CODE = {"employee": "310100", "resident": "390100"}


def pooled_fund(ctx: VisitContext, totals: Totals, state: VisitState) -> VisitState:
    benefit: Benefit = ctx.rules.require(f"{ctx.scheme}.{state.line}.benefit")
    return _settle_line(ctx, totals, state, state.line, benefit, state.pooled_inscope)


def _settle_line(ctx: VisitContext, totals: Totals, state: VisitState, line: str, benefit: Benefit, amount: Decimal) -> VisitState:
    rules, scheme = ctx.rules, ctx.scheme
    name = f"{scheme}.{line}"
    own = _own_names(ctx, line, benefit)
    facts: dict[str, Any] = {**state.facts, "line": line, "pool": benefit.pool}
    if benefit.settle_level:
        facts["level"] = benefit.settle_level
    pool = benefit.pool
    if amount <= 0:
        return state
    if not benefit.pays_when.holds(facts):
        step = TraceStep(
            "pooled_not_paid",
            "统筹基金不支付 fund does not pay",
            ZERO,
            benefit.not_paid_reason or f"the {line} benefit does not pay here ({benefit.pays_when.text})",
            rules.clause(f"{name}.benefit"),
        )
        return state.with_(step)

    steps: list[TraceStep] = []
    # -- non-local care (异地就医): a personal share first, a level, a rate change (G12)
    share, rate_points, facts = _nonlocal(ctx, facts, amount, steps)
    on_axis = amount - share

    # -- deductible (起付标准)
    owed, counts, how, clause = _deductible(ctx, totals, facts, own("deductible"), pool)
    taken = min(owed, on_axis)
    if taken > 0 or how:
        steps.append(TraceStep("deductible", "起付标准 deductible", taken, how, clause))

    # -- segments on the cumulative axis, expense limit (G5)
    rates: RateRule = rules.require(own("rates"))
    rates_clause = rules.clause(own("rates"))
    limit, limit_clause, limit_notes = _expense_limit(ctx, facts, own("expense_limit"))
    start = totals[f"pool.{pool}.axis"]
    scale = rates.scale
    if not isinstance(scale, tuple):
        raise rules.missing(f"{own('rates')}.scale", rates_clause)
    pieces = cut(start + taken, on_axis - taken, [s.start for s in scale], limit=limit)
    exact, beyond = ZERO, ZERO
    for piece in pieces:
        if not piece.payable:
            beyond += piece.length
            continue
        rate, notes = _rate(ctx, rates, piece.segment, facts, own("rates"), rates_clause, rate_points)
        part = piece.length * percent(rate)
        exact += part
        steps.append(
            TraceStep(
                "pooled_segment",
                "统筹基金分段支付 pooled fund by segment",
                part,
                f"axis {piece.low}–{piece.high}: {piece.length} × {rate}%" + (f" [{'; '.join(notes)}]" if notes else ""),
                rates_clause,
                "hifp",
            )
        )
    if beyond > 0:
        steps.append(
            TraceStep(
                "expense_limit",
                "最高支付限额 expense limit",
                beyond,
                f"in-scope amount beyond the expense limit {limit} on the axis is not paid by the fund"
                + (f" [{'; '.join(limit_notes)}]" if limit_notes else ""),
                limit_clause,
            )
        )
    # -- top-up of the remaining self-pay (e.g. 建国前老工人), same fund, rounded together (G1)
    exact += _top_up(ctx, state, facts, own("top_up"), exact, steps)
    paid = round_fen(exact)

    # -- payment caps (per day / per year)
    paid = _apply_caps(ctx, totals, facts, paid, steps)

    code = benefit.fund_code or DEFAULT_FUND_CODE[scheme]
    remainder = on_axis - paid - taken
    handed_on = remainder if benefit.overflow_line and remainder > 0 else ZERO
    # what is handed to the overflow line goes on the axis there, not twice
    posts: list[tuple[str, Decimal]] = [(f"pool.{pool}.axis", on_axis - handed_on)]
    if counts and taken > 0:
        posts.append((f"pool.{pool}.deductible", taken))
    if benefit.counts_as_admission.holds(facts) and ctx.visit.transfer_from is None:
        posts.append((f"pool.{pool}.admissions", Decimal(1)))
    posts += _cap_postings(ctx, facts, paid)
    steps.append(TraceStep("pooled_total", "统筹基金支付 pooled fund pays", paid, f"sum of segments, rounded once to the fen, after caps (fund {code})", "G1", "hifp"))
    state = state.with_(
        *steps,
        post=posts,
        hifp=state.hifp + ((code, paid),),
        nonlocal_share=state.nonlocal_share + share,
        deductible=state.deductible + taken,
        beyond_limit=state.beyond_limit + beyond,
    )

    # -- what this line does not pay may be another line's (overflow)
    if handed_on > 0:
        other: Benefit = rules.require(f"{scheme}.{benefit.overflow_line}.benefit")
        state = state.with_(
            TraceStep(
                "overflow",
                "超出部分转入 remainder to another benefit",
                handed_on,
                f"what the {line} benefit does not pay is settled by the {benefit.overflow_line} benefit",
                rules.clause(f"{name}.benefit"),
            )
        )
        state = _settle_line(ctx, totals, state, benefit.overflow_line, other, handed_on)
    return state


# ---------------------------------------------------------------------- parts


def _own_names(ctx: VisitContext, line: str, benefit: Benefit):
    """Parameter names of a line; a line may ``inherit`` those it does not define itself."""

    def name(what: str) -> str:
        mine = f"{ctx.scheme}.{line}.{what}"
        if benefit.inherit and ctx.rules.policy.get(mine) is None:
            return f"{ctx.scheme}.{benefit.inherit}.{what}"
        return mine

    return name


def _nonlocal(ctx: VisitContext, facts: dict[str, Any], amount: Decimal, steps: list[TraceStep]) -> tuple[Decimal, Decimal, dict[str, Any]]:
    if facts["location"] == "local":
        return ZERO, ZERO, facts
    name = f"{ctx.scheme}.nonlocal"
    rules_: tuple[NonlocalRule, ...] | None = ctx.rules.optional(name)
    for rule in rules_ or ():
        if not rule.when.holds(facts):
            continue
        clause = rule.reference or ctx.rules.clause(name)
        share = ZERO
        points = ZERO
        if rule.personal_share is not None:
            pct = ctx.rules.figure(rule.personal_share, facts, name, clause)
            share = round_fen(amount * percent(pct))
            steps.append(TraceStep("nonlocal_share", "异地先行自付 non-local personal share", share, f"{pct}% of the in-scope amount {amount} is borne by the person first", clause))
        if rule.rate_points is not None:
            points = ctx.rules.figure(rule.rate_points, facts, name, clause)
            steps.append(TraceStep("nonlocal_rate", "异地支付比例调整 non-local rate change", ZERO, f"fund rates change by {points} points ({facts['route']})", clause))
        if rule.settle_level:
            steps.append(TraceStep("nonlocal_level", "异地按级别结算 settled at a fixed level", ZERO, f"deductible and rates of a {rule.settle_level} hospital", clause))
            facts = {**facts, "level": rule.settle_level}
        if not (share or points or rule.settle_level):
            steps.append(TraceStep("nonlocal_local", "视同本地 settled as local", ZERO, rule.note or "settled as a local visit", clause))
        return share, points, facts
    return ZERO, ZERO, facts


def _deductible(ctx: VisitContext, totals: Totals, facts: Mapping[str, Any], pname: str, pool: str) -> tuple[Decimal, bool, str, str]:
    """What this visit owes: (amount, counts toward the year's deductible, how, clause)."""
    rule: DeductibleRule = ctx.rules.require(pname)
    clause = ctx.rules.clause(pname)
    for exemption in rule.exempt:
        if exemption.when.holds(facts):
            return ZERO, False, f"no deductible: {exemption.note or exemption.when.text}", exemption.reference or clause
    if rule.regime == "none":
        return ZERO, False, "", clause
    standard, notes = _standard(ctx, rule.standard, facts, pname, clause)
    paid = totals[f"pool.{pool}.deductible"]
    if rule.regime in ("annual", "highest_level_top_up"):
        owed = regimes.top_up(standard, paid)
    elif rule.regime == "per_admission_capped":
        cap = ctx.rules.amount(rule.annual_cap, facts, pname, clause)
        owed = regimes.per_admission_capped(standard, cap, paid)
    else:  # decreasing_per_admission
        transfer_from = ctx.visit.transfer_from
        if transfer_from is not None:
            from_standard, _ = _standard(ctx, rule.standard, {**facts, "level": transfer_from}, pname, clause)
            owed = regimes.transfer_difference(standard, from_standard)
        else:
            step = ctx.rules.amount(rule.step, facts, pname, clause)
            floor = ctx.rules.amount(rule.floor, facts, pname, clause)
            owed = regimes.decreasing_per_admission(standard, step, floor, int(totals[f"pool.{pool}.admissions"]))
    how = f"{rule.regime}: {owed.how}" + (f" [{'; '.join(notes)}]" if notes else "")
    return owed.amount, True, how, clause


def _standard(ctx: VisitContext, adj: Adjusted | None, facts: Mapping[str, Any], pname: str, clause: str) -> tuple[Decimal, list[str]]:
    assert adj is not None  # the builder requires a standard for every regime but `none`
    value, notes = ctx.rules.adjusted(adj, facts, pname, clause)
    if value is None:
        raise PolicyError(f"{ctx.rules.city} policy", f"{pname}.standard", "a deductible standard is an amount, not `unlimited`")
    return max(ZERO, value), notes


def _expense_limit(ctx: VisitContext, facts: Mapping[str, Any], pname: str) -> tuple[Decimal | None, str, list[str]]:
    adj: Adjusted | None = ctx.rules.optional(pname)
    if adj is None:
        return None, "", []
    clause = ctx.rules.clause(pname)
    value, notes = ctx.rules.adjusted(adj, facts, pname, clause)
    return value, clause, notes


def _rate(ctx: VisitContext, rates: RateRule, segment: int, facts: Mapping[str, Any], name: str, clause: str, points: Decimal) -> tuple[Decimal, list[str]]:
    seg_facts = {**facts, "segment": str(segment)}
    value, notes = ctx.rules.adjusted(Adjusted(rates.scale[segment].rate, rates.adjust), seg_facts, name, clause)
    assert value is not None
    if points:
        value += points
        notes.append(f"non-local {points:+} points")
    return clamp_rate(value), notes


def _caps(ctx: VisitContext) -> tuple[PaymentCap, ...]:
    return ctx.rules.optional(f"{ctx.scheme}.payment_caps") or ()


def _cap_counter(cap: PaymentCap, ctx: VisitContext) -> str:
    return f"cap.{cap.name}" + (f".{ctx.visit.date.isoformat()}" if cap.per == "day" else "")


def _cap_limit(ctx: VisitContext, cap: PaymentCap, facts: Mapping[str, Any], name: str, clause: str) -> Decimal | None:
    if not cap.procedure_limits:
        return ctx.rules.amount(cap.limit, facts, name, clause)
    limits = dict(cap.procedure_limits)
    total = ZERO
    for procedure in sorted(facts.get("procedures", ())):
        if procedure not in limits:
            raise CaseError(f"visit {ctx.visit.id}: {ctx.rules.city}:{name} sets no limit for procedure {procedure!r}")
        limit = ctx.rules.amount(limits[procedure], facts, name, clause)
        if limit is None:  # one procedure without a limit: the visit has none
            return None
        total += limit
    return total


def _apply_caps(ctx: VisitContext, totals: Totals, facts: Mapping[str, Any], paid: Decimal, steps: list[TraceStep]) -> Decimal:
    pname = f"{ctx.scheme}.payment_caps"
    for cap in _caps(ctx):
        if not cap.applies.holds(facts):
            continue
        clause = cap.reference or ctx.rules.clause(pname)
        limit = _cap_limit(ctx, cap, facts, pname, clause)
        if limit is None:
            continue
        used = ZERO if cap.per == "visit" else totals[_cap_counter(cap, ctx)]
        room = max(ZERO, limit - used)
        if paid > room:
            steps.append(
                TraceStep(
                    "payment_cap",
                    "支付限额 payment cap",
                    paid - room,
                    f"{cap.name}: the fund pays at most {limit} per {cap.per} ({used} already paid); {paid - room} not paid",
                    clause,
                )
            )
            paid = room
    return paid


def _cap_postings(ctx: VisitContext, facts: Mapping[str, Any], paid: Decimal) -> list[tuple[str, Decimal]]:
    if paid <= 0:
        return []
    return [(_cap_counter(cap, ctx), paid) for cap in _caps(ctx) if cap.per != "visit" and cap.counts.holds(facts)]


def _top_up(ctx: VisitContext, state: VisitState, facts: Mapping[str, Any], pname: str, pooled_exact: Decimal, steps: list[TraceStep]) -> Decimal:
    """The exact extra payment on the self-pay left after the pooled payment ``pooled_exact``."""
    top: TopUp | None = ctx.rules.optional(pname)
    if top is None or not top.when.holds(facts):
        return ZERO
    clause = ctx.rules.clause(pname)
    basis_rule = next((b for b in top.basis if b.when.holds(facts)), None)
    if basis_rule is None:
        return ZERO
    basis = state.self_pay(basis_rule.components, fund_paid=state.hifp_total + pooled_exact)
    rate = ctx.rules.figure(top.rate, facts, pname, clause)
    extra = basis * percent(rate)
    if extra > 0:
        steps.append(
            TraceStep(
                "pooled_top_up",
                "统筹基金再支付 pooled fund pays part of the self-pay again",
                extra,
                f"{rate}% of the remaining self-pay {basis} ({' + '.join(basis_rule.components)})",
                clause,
                "hifp",
            )
        )
    return extra
