"""Stage 3 — A1 (G8): where the city says so, the current-year account (当年账户) pays the
in-scope amount first; only the remainder enters the deductible and the fund."""

from __future__ import annotations

from yibao.engine.context import VisitContext
from yibao.engine.state import Totals, TraceStep, VisitState
from yibao.policy.model import Benefit


def current_account_first(ctx: VisitContext, totals: Totals, state: VisitState) -> VisitState:
    benefit: Benefit = ctx.rules.require(f"{ctx.scheme}.{state.line}.benefit")
    if not (ctx.visit.use_account and ctx.scheme == "employee" and benefit.account_first.holds(state.facts)):
        return state
    paid = min(ctx.account_current, state.split.inscp)
    if paid <= 0:
        return state
    clause = ctx.rules.clause(f"{ctx.scheme}.{state.line}.benefit")
    step = TraceStep(
        "account_first",
        "当年账户先行支付 current-year account first",
        paid,
        f"the current-year account pays the in-scope amount first, up to its balance {ctx.account_current}",
        clause,
        "acct",
    )
    return state.with_(step, account_first=paid, post=[("account.current", -paid)])
