"""Running totals and personal-account balances, derived from what is recorded.

* **Running totals** (累计) of a person-year are the sum of the ``postings`` of every
  settlement row of that year — a reversal's postings are the original's negated, so a
  reversal is just another event. ``running_totals`` caches the sums and is written in the
  same transaction as the settlement; :func:`rebuild_totals` recomputes them from the
  settlements and reports every difference.
* **Account balances** are the sum of ``account_entries`` as seen from a visit's year:
  entries of that year are 当年, everything else (and every 历年 part) is 历年 — the
  year-end rollover (G8) without a stored rollover entry.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from yibao.engine.state import Totals
from yibao.money import ZERO
from yibao.service.db import hot
from yibao.service.db import models as m


@dataclass(frozen=True)
class Balances:
    current: Decimal
    history: Decimal

    @property
    def total(self) -> Decimal:
        return self.current + self.history


def balances(session: Session, psn_no: str, year: int) -> Balances:
    connection = session.connection()
    return balances_of(connection.execute(hot.ACCOUNT_YEARS.statement(connection.dialect), {"psn_no": psn_no}), year)


def balances_of(account_years: Iterable[Any], year: int) -> Balances:
    """The balances seen from ``year``, from the account's sums per year (``hot.ACCOUNT_YEARS``
    rows): that year's 当年 part is 当年; every other 当年 part and every 历年 part is 历年."""
    current = earlier_current = history = ZERO
    for row in account_years:
        if row.year == year:
            current += row.current
        else:
            earlier_current += row.current
        history += row.history
    # a part that sums to nothing is ZERO, not 0.00, whichever rows it came from
    return Balances(current or ZERO, (earlier_current or ZERO) + (history or ZERO))


def totals_of(totals: Iterable[Any], year: int) -> Totals:
    """The running totals of ``year``, from the person's totals of every year (``hot.TOTALS`` rows)."""
    return Totals((row.counter, row.amount) for row in totals if row.year == year)


def total_rows(psn_no: str, year: int, postings: Iterable[tuple[str, Decimal]]) -> list[dict[str, Any]]:
    """The ``hot.ADD_TOTALS`` rows that add postings to the running totals: one per counter."""
    sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for counter, amount in postings:
        sums[counter] += amount
    return [{"psn_no": psn_no, "year": year, "counter": c, "amount": a} for c, a in sums.items()]


def add_to_totals(session: Session, psn_no: str, year: int, postings: Iterable[tuple[str, Decimal]]) -> None:
    """Add postings to the cached running totals in one statement (insert, or add on conflict).
    The person's row is locked by the caller, so no other writer touches these rows."""
    rows = total_rows(psn_no, year, postings)
    if rows:
        connection = session.connection()
        connection.execute(hot.ADD_TOTALS.statement(connection.dialect), rows)


def derived_totals(session: Session, psn_no: str | None = None) -> dict[tuple[str, int, str], Decimal]:
    """Running totals summed from the settlements' postings (optionally for one person)."""
    query = select(m.Settlement.psn_no, m.Settlement.year, m.Settlement.postings)
    if psn_no is not None:
        query = query.where(m.Settlement.psn_no == psn_no)
    sums: dict[tuple[str, int, str], Decimal] = defaultdict(lambda: ZERO)
    for person, year, postings in session.execute(query):
        for counter, amount in postings:
            if not counter.startswith("account."):  # account payments live in the account ledger
                sums[(person, year, counter)] += Decimal(amount)
    return dict(sums)


def stored_totals(session: Session, psn_no: str | None = None) -> dict[tuple[str, int, str], Decimal]:
    query = select(m.RunningTotal)
    if psn_no is not None:
        query = query.where(m.RunningTotal.psn_no == psn_no)
    return {(r.psn_no, r.year, r.counter): r.amount for r in session.scalars(query)}


@dataclass(frozen=True)
class RebuildReport:
    person_years: int
    counters: int
    differences: list[tuple[tuple[str, int, str], Decimal, Decimal]]  # (key, stored, derived)

    @property
    def identical(self) -> bool:
        return not self.differences


def compare_totals(session: Session) -> RebuildReport:
    stored, derived = stored_totals(session), derived_totals(session)
    keys = set(stored) | set(derived)
    diffs = sorted((k, stored.get(k, ZERO), derived.get(k, ZERO)) for k in keys if stored.get(k, ZERO) != derived.get(k, ZERO))
    return RebuildReport(len({k[:2] for k in derived}), len(derived), diffs)


def rebuild_totals(session: Session) -> RebuildReport:
    """Compare the stored running totals with the settlements, then rewrite them from the settlements."""
    report = compare_totals(session)
    session.execute(delete(m.RunningTotal))
    for (psn_no, year, counter), amount in derived_totals(session).items():
        session.add(m.RunningTotal(psn_no=psn_no, year=year, counter=counter, amount=amount))
    return report


__all__ = ["Balances", "balances", "balances_of", "totals_of", "total_rows", "add_to_totals", "derived_totals", "stored_totals",
           "compare_totals", "rebuild_totals", "RebuildReport"]
