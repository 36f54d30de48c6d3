"""Settle a case: every visit of one person, in order, through the stages.

The person-year's running totals are folded from the postings of the settlements already
made in that year; the account balances from all postings since the opening balances.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from yibao.case import Case, Person, Visit
from yibao.engine.context import VisitContext
from yibao.engine.rules import Rules
from yibao.engine.stages import PIPELINE, UNCOVERED_PIPELINE
from yibao.engine.state import Totals, TraceStep, VisitState
from yibao.errors import CaseError, MissingPolicyValue
from yibao.money import ZERO
from yibao.policy.loader import CityPolicy, load_city

if TYPE_CHECKING:  # the lifecycle reads engine rules, so it is imported where used
    from yibao.lifecycle.accounts import Ledger
    from yibao.lifecycle.coverage import Coverage
    from yibao.lifecycle.history import History


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


def settle_case(case: Case, policy: CityPolicy | None = None, history: "History | None" = None) -> list[Settlement]:
    """Settle every visit of ``case`` in order. Raises a :class:`~yibao.errors.YibaoError`.

    With the person's ``history``, each visit's date is checked against the coverage
    windows first: an uncovered visit is refused with the reason, or — where the text
    puts the cost on the person or the employer — settled as 自费 and says so.
    """
    policy = policy or load_city(case.city)
    person = case.person
    if history is not None:
        _same_person(case, history)
    if person.scheme == "resident" and (person.account.current or person.account.history):
        raise CaseError("person.account: residents have no personal account (G8); give zero balances or none")
    settlements: list[Settlement] = []
    year_totals: dict[int, Totals] = {}
    account = Totals([("account.current", person.account.current), ("account.history", person.account.history)])
    account_year: int | None = None
    ledger = None
    if history is not None and person.scheme == "employee":
        ledger = _ledger(history, policy, max(v.date for v in case.visits))
    for visit in case.visits:
        year = visit.date.year
        rules = Rules(policy, visit.date, visit.id)
        opening: list[TraceStep] = []
        if ledger is not None:
            account, step = _from_ledger(ledger, visit, account, account_year)
            opening.append(step)
        elif account_year is not None and year > account_year and account["account.current"] > 0:
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
        cover = None
        if history is not None:
            from yibao.lifecycle.coverage import coverage_on

            cover = coverage_on(history, visit.date, policy)
        state = settle_visit(
            person, visit, rules, totals, account["account.current"], account["account.history"], cover=cover, opening=tuple(opening)
        )
        totals.add(p for p in state.postings if not p[0].startswith("account."))
        account.add(p for p in state.postings if p[0].startswith("account."))
        account.add((p[0].replace("account.", "spent."), p[1]) for p in state.postings if p[0].startswith("account."))
        settlements.append(Settlement(visit, state, account["account.current"] + account["account.history"]))
    return settlements


def settle_visit(
    person: Person,
    visit: Visit,
    rules: Rules,
    totals: Totals,
    account_current: Decimal,
    account_history: Decimal,
    *,
    cover: "Coverage | None" = None,
    opening: tuple[TraceStep, ...] = (),
) -> VisitState:
    """Settle one visit against the person-year's running ``totals`` (read, not changed) and
    the account balances before it. The caller records the returned postings; this is the
    one place both the case command and the settlement service run the stages."""
    ctx = VisitContext(person, visit, rules, account_current, account_history)
    state = VisitState(visit.id, visit.date.year, trace=opening)
    stages = PIPELINE
    if cover is not None and not cover.covered:
        if cover.costs_borne_by is None:
            raise CaseError(f"visit {visit.id}: not covered on {visit.date}: {cover.reason} ({cover.clause})")
        state = state.with_(_uncovered_step(cover))
        stages = UNCOVERED_PIPELINE if cover.account_usable else UNCOVERED_PIPELINE[:1]
    try:
        for stage in stages:
            state = stage(ctx, totals, state)
    except MissingPolicyValue as exc:
        raise exc.for_visit(visit.id) from None
    return state.with_(_cash_step(state))


def _ledger(history: "History", policy: CityPolicy, until: dt.date) -> "Ledger":
    from yibao.lifecycle.accounts import build_ledger

    return build_ledger(history, policy, until)


def _from_ledger(ledger: "Ledger", visit: Visit, account: Totals, account_year: int | None) -> tuple[Totals, TraceStep]:
    """The balances before ``visit``: the ledger's on the day before, less this case's own
    earlier account payments (which the ledger does not know). At a year end the ledger
    rolls its 当年 into 历年, so this case's earlier 当年 payments move with it."""
    spent_current = -account["spent.current"]
    spent_history = -account["spent.history"]
    if account_year is not None and visit.date.year > account_year:
        spent_history, spent_current = spent_history + spent_current, ZERO
    base = ledger.balances(visit.date - dt.timedelta(days=1))
    now = Totals([
        ("account.current", base.current - spent_current),
        ("account.history", base.history - spent_history),
        ("spent.current", -spent_current),
        ("spent.history", -spent_history),
    ])
    step = TraceStep(
        "account_ledger",
        "个人账户余额 account balances from the ledger",
        base.current + base.history,
        f"ledger balances on {visit.date - dt.timedelta(days=1)}: 当年 {base.current}, 历年 {base.history}; "
        f"less this case's earlier payments {spent_current + spent_history}",
        "yibao account statement",
    )
    return now, step


def _same_person(case: Case, history: "History") -> None:
    if history.city != case.city or history.person.id != case.person.id:
        raise CaseError(f"the history is of {history.city} person {history.person.id}, the case of {case.city} person {case.person.id}")


def _uncovered_step(cover: "Coverage") -> TraceStep:
    who = {"employer": "the employer bears these costs", "person": "the person bears these costs"}[cover.costs_borne_by or "person"]
    return TraceStep("not_covered", "未在待遇期 not covered — 自费", ZERO, f"{cover.reason}: {who}", cover.clause)


def _cash_step(state: VisitState) -> TraceStep:
    cash = state.split.total - state.fund_total - state.acct_total
    return TraceStep("cash", "个人现金 cash", cash, "what no fund and no account paid", "G7")
