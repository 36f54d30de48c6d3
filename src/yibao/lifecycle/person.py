"""Who the person is on a date, from their history: enrolment, status, facts for the policy.

The facts are the settlement's condition dimensions (``scheme``, ``category``, ``grade``,
``sex``, ``assistance``, ``flags``, ``age``) so that a lifecycle rule's ``when:`` reads
exactly like a settlement rule's. The lifecycle adds a few of its own, each read from the
history: ``hukou``, ``account`` (随州 统账结合 / 单建统筹), ``basis`` (wage or 工伤 伤残津贴)
and ``born`` (the person was born in the year a premium pays for).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from yibao.errors import CaseError
from yibao.lifecycle.history import Enrolment, History


def month_span(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of ``YYYY-MM``."""
    first = dt.date.fromisoformat(month + "-01")
    nxt = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


def enrolment_in(history: History, scheme: str, first: dt.date, last: dt.date) -> Enrolment | None:
    """The person's enrolment under ``scheme`` during ``[first, last]``: the latest to start.

    A month (or a year) with two enrolments — a change of employer or of mode — is charged
    under the one in force at its end (readings: contributions C2).
    """
    found = [
        e for e in history.enrolments
        if e.scheme == scheme and e.start <= last and (e.end is None or e.end >= first)
    ]
    return max(found, key=lambda e: e.start) if found else None


def latest_enrolment(history: History, scheme: str, day: dt.date) -> Enrolment | None:
    """The enrolment under ``scheme`` in force on ``day``, else the last one before it."""
    before = [e for e in history.enrolments if e.scheme == scheme and e.start <= day]
    return max(before, key=lambda e: e.start) if before else None


def assistance_on(history: History, day: dt.date) -> str | None:
    """The assistance category recognised for the month that ``day`` falls in.

    A status counts from the month after the one it was recognised in (杭州 "自身份认定次月起")
    and lapses from the month after it ends: the latest ``assistance`` / ``assistance_end``
    event dated before the month's first day decides (readings: contributions C5).
    """
    first = day.replace(day=1)
    events = [e for e in history.events_of("assistance", "assistance_end") if e.date < first]
    if not events or events[-1].type == "assistance_end":
        return None
    return events[-1].assistance


@dataclass(frozen=True)
class Situation:
    """A person under one enrolment on one day, with the facts the policy selects on."""

    history: History
    enrolment: Enrolment
    day: dt.date
    born_in_year: bool = False

    @property
    def facts(self) -> dict[str, Any]:
        p = self.history.person
        return {
            "scheme": self.enrolment.scheme,
            "category": self.enrolment.category,
            "grade": str(self.enrolment.grade),
            "sex": p.sex,
            "assistance": assistance_on(self.history, self.day),
            "flags": frozenset(p.flags),
            "age": self.history.age_on(self.day),
        }

    @property
    def extra(self) -> dict[str, str]:
        """The lifecycle's own facts (not settlement dimensions)."""
        return {
            "hukou": self.history.person.hukou,
            "account": self.enrolment.account,
            "basis": self.enrolment.basis,
            "born": "in_the_year" if self.born_in_year else "before",
        }


def require_enrolment(history: History, scheme: str, first: dt.date, last: dt.date, what: str) -> Enrolment:
    found = enrolment_in(history, scheme, first, last)
    if found is None:
        raise CaseError(f"person {history.person.id} has no {scheme} enrolment in {what} (history `enrolments`)")
    return found


__all__ = ["Situation", "assistance_on", "enrolment_in", "latest_enrolment", "month_span", "require_enrolment"]
