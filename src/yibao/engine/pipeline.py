"""Settle a case: every visit of one person, in order, through the stages.

The person-year's running totals are folded from the postings of the settlements already
made in that year; the account balances from all postings since the opening balances.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from yibao.case import Case, Visit
from yibao.engine.context import VisitContext
from yibao.engine.rules import Rules
from yibao.engine.stages import PIPELINE
from yibao.engine.state import Totals, TraceStep, VisitState
from yibao.errors import CaseError, MissingPolicyValue
from yibao.policy.loader import CityPolicy, load_city


@dataclass(frozen=True)
class Settlement:
    """A settled visit: its final state and the account balance after it."""

    visit: Visit
    state: VisitState
    balance: Decimal

    @property
    def year(self) -> int:
        return self.state.year

    @property
    def cash(self) -> Decimal:
        return self.state.split.total - self.state.fund_total - self.state.acct_total


def settle_case(case: Case, policy: CityPolicy | None = None) -> list[Settlement]:
    """Settle every visit of ``case`` in order. Raises a :class:`~yibao.errors.YibaoError`."""
    policy = policy or load_city(case.city)
    person = case.person
    if person.scheme == "resident" and (person.account.current or person.account.history):
        raise CaseError("person.account: residents have no personal account (G8); give zero balances or none")
    settlements: list[Settlement] = []
    year_totals: dict[int, Totals] = {}
    account = Totals([("account.current", person.account.current), ("account.history", person.account.history)])
    account_year: int | None = None
    for visit in case.visits:
        year = visit.date.year
        rules = Rules(policy, visit.date, visit.id)
        opening: list[TraceStep] = []
        if account_year is not None and year > account_year and account["account.current"] > 0:
            moved = account["account.current"]
            account.add([("account.current", -moved), ("account.history", moved)])
            opening.append(
                TraceStep(
                    "account_rollover",
                    "当年账户结转历年 year-end rollover",
                    moved,
                    "the current-year balance left at year end moves to the history account",
                    rules.clause("account.remaining_share") or "G8",
                )
            )
        account_year = year if account_year is None else max(account_year, year)
        totals = year_totals.setdefault(year, Totals())
        ctx = VisitContext(person, visit, rules, account["account.current"], account["account.history"])
        state = VisitState(visit.id, year, trace=tuple(opening))
        try:
            for stage in PIPELINE:
                state = stage(ctx, totals, state)
        except MissingPolicyValue as exc:
            raise exc.for_visit(visit.id) from None
        totals.add(p for p in state.postings if not p[0].startswith("account."))
        account.add(p for p in state.postings if p[0].startswith("account."))
        state = state.with_(_cash_step(state))
        settlements.append(Settlement(visit, state, account["account.current"] + account["account.history"]))
    return settlements


def _cash_step(state: VisitState) -> TraceStep:
    cash = state.split.total - state.fund_total - state.acct_total
    return TraceStep("cash", "个人现金 cash", cash, "what no fund and no account paid", "G7")
