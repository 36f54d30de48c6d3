"""Stage 6 — 医疗救助: a rate per assistance category on what the insurance layers left,
within annual (and outpatient) limits; plus burden caps where the text fixes what a
patient bears (杭州 门诊透析)."""

from __future__ import annotations

from decimal import Decimal

from yibao.engine.context import VisitContext
from yibao.engine.state import Totals, TraceStep, VisitState
from yibao.money import ZERO, percent, round_fen
from yibao.policy.model import AssistanceRule

_PARAM = "assistance.assistance"
_LABEL = "医疗救助 medical assistance"


def medical_assistance(ctx: VisitContext, totals: Totals, state: VisitState) -> VisitState:
    rule: AssistanceRule | None = ctx.rules.optional(_PARAM)
    if rule is None:
        return state
    rules, facts = ctx.rules, state.facts
    clause = rules.clause(_PARAM)
    basis_rule = next((b for b in rule.basis if b.when.holds(facts)), None)
    if basis_rule is None:
        return state
    taken = sum((getattr(state, f) for f in rule.minus), ZERO)
    basis = max(ZERO, state.self_pay(basis_rule.components) - taken)
    steps: list[TraceStep] = []
    rate, notes = rules.adjusted(rule.rate, facts, _PARAM, clause)
    regular = ZERO
    if rate and basis > 0:
        regular = round_fen(basis * percent(rate))
        steps.append(
            TraceStep(
                "assistance",
                _LABEL,
                regular,
                f"{rate}% of the remaining self-pay {basis} ({' + '.join(basis_rule.components)}"
                + (f" − {' − '.join(rule.minus)}" if rule.minus else "")
                + ")"
                + (f" [{'; '.join(notes)}]" if notes else ""),
                clause,
                "maf",
            )
        )
        regular = _limit(ctx, totals, state, rule, regular, steps, clause)
    special = _burden_caps(ctx, state, rule, basis, steps)
    paid = max(regular, special)
    if paid <= 0:
        return state.with_(*steps) if steps else state
    posts: list[tuple[str, Decimal]] = []
    if paid == regular:  # burden-cap assistance is outside the category limits (reading H8)
        posts = [("assistance.paid", paid)] + ([("assistance.outpatient", paid)] if state.pool == "outpatient" else [])
    steps.append(TraceStep("assistance_total", _LABEL, paid, "rounded once to the fen", "G1", "maf"))
    return state.with_(*steps, post=posts, maf=paid)


def _limit(ctx: VisitContext, totals: Totals, state: VisitState, rule: AssistanceRule, paid: Decimal, steps: list[TraceStep], clause: str) -> Decimal:
    facts = state.facts
    for limit_node, counter, what in (
        (rule.annual_limit, "assistance.paid", "annual"),
        (rule.outpatient_limit if state.pool == "outpatient" else None, "assistance.outpatient", "outpatient annual"),
    ):
        if limit_node is None:
            continue
        limit = ctx.rules.amount(limit_node, facts, _PARAM, clause)
        if limit is None:
            continue
        used = totals[counter]
        room = max(ZERO, limit - used)
        if paid > room:
            steps.append(TraceStep("assistance_limit", "救助限额 assistance limit", paid - room, f"{what} assistance limit {limit} ({used} already paid)", clause))
            paid = room
    return paid


def _burden_caps(ctx: VisitContext, state: VisitState, rule: AssistanceRule, basis: Decimal, steps: list[TraceStep]) -> Decimal:
    best = ZERO
    for cap in rule.burden_caps:
        if not cap.when.holds(state.facts):
            continue
        clause = cap.reference or ctx.rules.clause(_PARAM)
        pct = ctx.rules.figure(cap.bear, state.facts, _PARAM, clause)
        bears = round_fen(state.split.inscp * percent(pct)) + sum((state.component(c) for c in cap.plus), ZERO)
        extra = max(ZERO, basis - bears)
        steps.append(
            TraceStep(
                "assistance_burden_cap",
                "救助兜底 burden cap",
                extra,
                f"the patient bears {pct}% of the in-scope amount" + (f" plus {' + '.join(cap.plus)}" if cap.plus else "") + f" = {bears}; assistance pays the rest of {basis}",
                clause,
                "maf",
            )
        )
        best = max(best, extra)
    return best
