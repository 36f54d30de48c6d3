"""Stage 7 — the personal account (个人账户) for the remaining personal share, then cash.

After the funds, what remains of the bill (自付 and 自费 alike) may be paid from the
account if the visit allows it: some cities from the history account only (嘉兴, 杭州),
others from current then history (G8). Residents have no account. The rest is cash."""

from __future__ import annotations

from yibao.engine.context import VisitContext
from yibao.engine.state import Totals, TraceStep, VisitState
from yibao.money import ZERO
from yibao.policy.model import AccountRule

_PARAM = "account.remaining_share"


def personal_account(ctx: VisitContext, totals: Totals, state: VisitState) -> VisitState:
    remaining = state.split.total - state.fund_total - state.account_first
    if remaining <= 0 or ctx.scheme != "employee" or not ctx.visit.use_account:
        return state
    rule: AccountRule = ctx.rules.require(_PARAM)
    # (an uncovered visit reaches this stage only where the account stays usable)
    clause = ctx.rules.clause(_PARAM)
    balances = {"current": ctx.account_current - state.account_first, "history": ctx.account_history}
    paid = {"current": ZERO, "history": ZERO}
    left = remaining
    steps = []
    for source in rule.remaining_from:
        take = min(left, max(ZERO, balances[source]))
        if take > 0:
            paid[source] = take
            left -= take
            label = "当年账户 current-year account" if source == "current" else "历年账户 history account"
            steps.append(TraceStep("account", label, take, f"the {source} account pays the remaining personal share (balance {balances[source]})", clause, "acct"))
    if not steps:
        return state
    posts = [(f"account.{s}", -a) for s, a in paid.items() if a > 0]
    return state.with_(*steps, post=posts, acct_current=paid["current"], acct_history=paid["history"])
