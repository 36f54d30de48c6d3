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
from typing import Iterable

from sqlalchemy import bindparam, case, delete, extract, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from yibao.engine.state import Totals
from yibao.money import ZERO
from yibao.service.db import models as m
from yibao.service.db.types import Money


@dataclass(frozen=True)
class Balances:
    current: Decimal
    history: Decimal

    @property
    def total(self) -> Decimal:
        return self.current + self.history


_e = m.AccountEntry
_THIS_YEAR = extract("year", _e.entry_date) == bindparam("year")
_BALANCES = select(
    func.sum(case((_THIS_YEAR, _e.current_amount), else_=0), type_=Money()),
    func.sum(case((_THIS_YEAR, 0), else_=_e.current_amount), type_=Money()),
    func.sum(_e.history_amount, type_=Money()),
).where(_e.psn_no == bindparam("psn_no"))
_YEAR_TOTALS = select(m.RunningTotal.counter, m.RunningTotal.amount).where(
    m.RunningTotal.psn_no == bindparam("psn_no"), m.RunningTotal.year == bindparam("year"))
_t = m.RunningTotal.__table__


def _upsert(insert_of):  # noqa: ANN001, ANN202 - the dialect's insert
    statement = insert_of(_t)
    return statement.on_conflict_do_update(
        index_elements=[_t.c.psn_no, _t.c.year, _t.c.counter], set_={"amount": _t.c.amount + statement.excluded.amount})


_ADD_TOTALS = {"postgresql": _upsert(postgresql_insert), "sqlite": _upsert(sqlite_insert)}


def balances(session: Session, psn_no: str, year: int) -> Balances:
    row = session.connection().execute(_BALANCES, {"psn_no": psn_no, "year": year}).one()
    current, earlier_current, history = (x or ZERO for x in row)
    return Balances(current, earlier_current + history)


def year_totals(session: Session, psn_no: str, year: int) -> Totals:
    rows = session.connection().execute(_YEAR_TOTALS, {"psn_no": psn_no, "year": year})
    return Totals((counter, amount) for counter, amount in rows)


def add_to_totals(session: Session, psn_no: str, year: int, postings: Iterable[tuple[str, Decimal]]) -> None:
    """Add postings to the cached running totals in one statement (insert, or add on conflict).
    The person's row is locked by the caller, so no other writer touches these rows."""
    sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for counter, amount in postings:
        sums[counter] += amount
    if not sums:
        return
    rows = [{"psn_no": psn_no, "year": year, "counter": c, "amount": a} for c, a in sums.items()]
    connection = session.connection()
    connection.execute(_ADD_TOTALS[connection.dialect.name], rows)


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


__all__ = ["Balances", "balances", "year_totals", "add_to_totals", "derived_totals", "stored_totals",
           "compare_totals", "rebuild_totals", "RebuildReport"]
