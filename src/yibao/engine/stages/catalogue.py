"""Stage 1 — catalogue split (G3): each bill line into 自费 / 超限价 / 先行自付 / 符合范围."""

from __future__ import annotations

from decimal import Decimal

from yibao.engine.context import VisitContext
from yibao.engine.state import Split, Totals, TraceStep, VisitState
from yibao.errors import CaseError
from yibao.money import ZERO, round_fen

_PARAM = "catalogue.selfpay_default"


def catalogue_split(ctx: VisitContext, totals: Totals, state: VisitState) -> VisitState:
    visit = ctx.visit
    if visit.amounts is not None:
        a = visit.amounts
        split = Split(a.fulamt_ownpay_amt, a.overlmt_selfpay, a.preselfpay_amt, a.inscp_scp_amt)
        step = TraceStep("catalogue", "目录划分 catalogue split", split.total, "bill given already split by the catalogue", "G3")
        return state.with_(step, split=split)

    fulamt = overlmt = pre = inscp = ZERO
    default: Decimal | str | None = None
    for i, item in enumerate(visit.items or ()):
        if item.item_class == "C":
            fulamt += item.amount
            continue
        overlmt += item.over_limit
        base = item.amount - item.over_limit
        item_pre = ZERO
        if item.item_class == "B":
            ratio = item.selfpay_ratio
            if ratio is None:
                if default is None:
                    default = ctx.rules.optional(_PARAM)
                if default is None or default == "per_item":
                    raise CaseError(
                        f"visit {visit.id}: items[{i}] ({item.code}) is 乙类 without selfpay_ratio, and "
                        f"{ctx.rules.policy.document.name} has no default ratio "
                        f"({ctx.rules.clause(_PARAM) or 'the province sets it per item'})"
                    )
                ratio = default
            item_pre = round_fen(base * ratio)
        pre += item_pre
        inscp += base - item_pre
    split = Split(fulamt, overlmt, pre, inscp)
    rule = "class C → 自费; over_limit → 超限价; class B × 先行自付比例 (rounded per line); rest → 符合范围"
    step = TraceStep("catalogue", "目录划分 catalogue split", split.total, rule, "G3")
    return state.with_(step, split=split)
