"""Stage 5 — layers after the basic fund, each on its own cumulative axis (G5, G6):
职工大额医疗费用补助 (``hifob``) then 大病保险 (``hifmi``). One mechanism, two funds: a
basis (the visit's self-pay as the city defines it), a threshold, a rate scale, an
expense limit and a payment limit — all chosen by the city's ``layers.*`` parameters."""

from __future__ import annotations

from decimal import Decimal

from yibao.engine.context import VisitContext
from yibao.engine.rules import clamp_rate
from yibao.engine.state import Totals, TraceStep, VisitState
from yibao.errors import PolicyError
from yibao.mechanisms.axis import cut
from yibao.money import ZERO, percent, round_fen
from yibao.policy.model import Layer, Segment

ORDER = ("hifob", "hifmi")
LABELS = {"hifob": "职工大额 supplementary large-expense fund", "hifmi": "大病保险 critical-illness insurance"}
CODES = {"hifob": "330100", "hifmi": "390200"}


def supplementary_layers(ctx: VisitContext, totals: Totals, state: VisitState) -> VisitState:
    layers = []
    for name, param in ctx.rules.policy.parameters.items():
        if param.type == "layer":
            layer = ctx.rules.optional(name)
            if layer is not None:
                layers.append((ORDER.index(layer.fund), name, layer))
    for _, name, layer in sorted(layers):
        state = _layer(ctx, totals, state, name, layer)
    return state


def _layer(ctx: VisitContext, totals: Totals, state: VisitState, name: str, layer: Layer) -> VisitState:
    rules, facts = ctx.rules, state.facts
    if not layer.applies.holds(facts):
        return state
    clause = rules.clause(name)
    rule = next((b for b in layer.basis if b.when.holds(facts)), None)
    if rule is None:
        return state
    earlier = sum((getattr(state, f) for f in ORDER[: ORDER.index(layer.fund)]), ZERO)
    basis = max(ZERO, state.self_pay(rule.components) - earlier)
    if basis <= 0:
        return state
    fund = layer.fund
    threshold = rules.amount(layer.threshold, facts, name, clause)
    if threshold is None:
        raise PolicyError(f"{rules.city} policy", f"{name}.threshold", "a threshold is an amount, not `unlimited`")
    limit = rules.amount(layer.expense_limit, facts, name, clause)
    scale: tuple[Segment, ...] = rules.figure(layer.scale, facts, name, clause)
    start = totals[f"layer.{fund}.axis"]
    steps = [
        TraceStep(
            f"{fund}_basis",
            f"{LABELS[fund]}: basis",
            basis,
            f"self-pay counted: {' + '.join(rule.components)}" + (f" − earlier layers {earlier}" if earlier else "")
            + f"; the year's cumulative basis so far {start}, threshold {threshold}",
            clause,
        )
    ]
    exact = ZERO
    for piece in cut(start, basis, [s.start for s in scale], threshold=threshold, limit=limit):
        if not piece.payable:
            continue
        rate = clamp_rate(rules.figure(scale[piece.segment].rate, facts, name, clause))
        part = piece.length * percent(rate)
        exact += part
        steps.append(TraceStep(f"{fund}_segment", LABELS[fund], part, f"axis {piece.low}–{piece.high}: {piece.length} × {rate}%", clause, fund))
    paid = round_fen(exact)
    cap = rules.amount(layer.payment_limit, facts, name, clause)
    if cap is not None:
        if layer.person_bonus:
            cap += ctx.person.ci_cap_bonus
        used = totals[f"layer.{fund}.paid"]
        room = max(ZERO, cap - used)
        if paid > room:
            steps.append(TraceStep(f"{fund}_limit", "最高支付限额 payment limit", paid - room, f"payment limit {cap} for the year ({used} already paid)", clause))
            paid = room
    steps.append(TraceStep(f"{fund}_total", LABELS[fund], paid, "rounded once to the fen", "G1", fund))
    posts: list[tuple[str, Decimal]] = [(f"layer.{fund}.axis", basis), (f"layer.{fund}.paid", paid)]
    return state.with_(*steps, post=posts, **{fund: paid})
