"""Monthly crediting of the current-year account (当年个人账户月划入), from a person's history.

For each month, the enrolment that decides it (``status_on``: the one in force on the
month's first day — 嘉兴 (十四) "次月调整" — or the latest in the month), its category's
standard (``account/crediting.yaml``), and whether crediting runs (``crediting_period``):

* a contributor's month is credited only once its contribution is paid in full, on the
  day it is paid (never before the month starts) — 杭州细则 "实际划入资金自缴费所属期当月起按月
  从职工医保费中划转"; a back payment is credited when it is made (补划);
* a retiree's month is credited on its first day (or the day retirement starts);
* a stop event (death, imprisonment, …) stops crediting from the next month, until a
  resume event or a new enrolment; ``leaving_month: not_credited`` also drops the month in
  which coverage ends (嘉兴 (十四) "年中关系转出的当月调整");
* 单建统筹 (``account: pooled_only``) has no account (随州 第二十条（四）).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterator

from yibao.errors import CaseError, MissingPolicyValue
from yibao.lifecycle.account_rules import AccountRules, Standard
from yibao.lifecycle.history import Contribution, Enrolment, Event, History
from yibao.lifecycle.person import Situation
from yibao.money import ZERO, fmt, percent, round_fen

_ONE_DAY = dt.timedelta(days=1)
_CREDITED_KINDS = ("regular", "back_payment")  # a retirement top-up is never credited (杭州细则)


@dataclass(frozen=True)
class Credit:
    """One month's crediting: its date, amount, clause and how it was found."""

    month: str
    date: dt.date
    amount: Decimal
    category: str
    clause: str
    memo: str
    source: str
    history_like: Decimal | None = None  # 嘉兴 (十五)2: the part usable like 历年
    history_like_blank: bool = False  # that part needs a figure the text leaves blank


def months(first: dt.date, last: dt.date) -> Iterator[tuple[str, dt.date, dt.date]]:
    """``(YYYY-MM, first day, last day)`` of every month from ``first``'s to ``last``'s."""
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        start = dt.date(year, month, 1)
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        yield f"{year:04d}-{month:02d}", start, nxt - _ONE_DAY
        year, month = nxt.year, nxt.month


def monthly_credits(history: History, rules: AccountRules, first: dt.date, last: dt.date, *, not_before: dt.date | None = None) -> list[Credit]:
    """Every month credited from ``first``'s month to ``last``'s, dated no later than ``last``.

    ``not_before``: months starting before it are left out (an opening balance covers them)."""
    out: list[Credit] = []
    for month, start, end in months(first, last):
        if not_before is not None and start < not_before:
            continue
        credit = credit_for_month(history, rules, month, start, end)
        if credit is not None and credit.date <= last:
            out.append(credit)
    return out


def credit_for_month(history: History, rules: AccountRules, month: str, start: dt.date, end: dt.date) -> Credit | None:
    """The month's credit, or ``None`` when the month is not credited."""
    period = rules.period(start)
    enrolment = _deciding_enrolment(history, start, end, period.status_on)
    if enrolment is None or enrolment.account == "pooled_only":  # 随州 第二十条（四）单建统筹不设个人账户
        return None
    if stopped_on(history, start, period.stops, period.resumes) is not None:
        return None
    if period.leaving_month == "not_credited" and _leaves_in(history, start, end, period.stops, period.resumes):
        return None
    standard = rules.standard(start, enrolment.category, history.person.flags)
    if standard is None or standard.method == "none":
        return None
    if standard.method == "fixed":
        return _fixed_credit(history, rules, standard, enrolment, month, start)
    return _share_credit(history, rules, standard, enrolment, month, start)


# ------------------------------------------------------------------ the two methods


def _share_credit(history: History, rules: AccountRules, standard: Standard, enrolment: Enrolment, month: str, start: dt.date) -> Credit | None:
    """A share of the contribution base, once the month's contribution is paid."""
    paid = _paid_contribution(history, month)
    if paid is None:
        return None
    base, base_month = _base(history, month, standard)
    rate = standard.rate()
    amount = round_fen(base * percent(rate))
    day = max(start, paid.paid_date or start)
    memo = f"{month}: {_num(rate)}% of base {fmt(base)}" + ("" if base_month == month else f" (declared for {base_month})")
    if day > start:
        memo += f", paid {day}"
    like, blank = _history_like(rules, Situation(history, enrolment, start), amount)
    if like is not None and like > 0:
        memo += f"; {fmt(like)} usable like 历年"
    elif blank:
        memo += "; part usable like 历年 undetermined (minimum base blank)"
    source = f"contributions[{history.contributions.index(paid)}]"
    return Credit(month, day, amount, enrolment.category, standard.clause, memo, source, like, blank)


def _fixed_credit(history: History, rules: AccountRules, standard: Standard, enrolment: Enrolment, month: str, start: dt.date) -> Credit | None:
    """A fixed monthly amount (retirees), prorated where the city says so (随州 第二十条（三）)."""
    amount = round_fen(standard.amount())
    memo = f"{month}: fixed {fmt(amount)} ({enrolment.category})"
    if standard.prorate == "with_account_months":
        with_account, pooled = with_account_months(history, start)
        if with_account + pooled and pooled:
            memo = f"{month}: fixed {fmt(amount)} × {with_account}/{with_account + pooled} 统账结合 months"
            amount = round_fen(amount * with_account / (with_account + pooled))
    if amount <= 0:
        return None
    source = f"enrolments[{history.enrolments.index(enrolment)}]"
    return Credit(month, max(start, enrolment.start), amount, enrolment.category, standard.clause, memo, source)


def with_account_months(history: History, before: dt.date) -> tuple[int, int]:
    """Paid months before ``before`` under 统账结合 and under 单建统筹 (随州 第二十条（三）)."""
    with_account = pooled = 0
    for c in history.contributions_of("employee"):
        if c.kind not in _CREDITED_KINDS or not c.settled or c.first_day >= before:
            continue
        enrolment = _enrolment_in(history, c.first_day, _month_end(c.first_day))
        if enrolment is None or enrolment.category == "retired":
            continue
        if enrolment.account == "pooled_only":
            pooled += 1
        else:
            with_account += 1
    return with_account, pooled


def _history_like(rules: AccountRules, situation: Situation, amount: Decimal) -> tuple[Decimal | None, bool]:
    """嘉兴 (十五)2: the part of the credit above ``rate`` % of the minimum base; a blank
    minimum base leaves it undetermined (it is needed, and refused, only when used)."""
    rule = rules.history_like(situation.day)
    categories = ("active", "flexible", "unemployed", "retired")
    if rule is None or situation.enrolment.category not in rule.words("categories", allowed=categories):
        return None, False
    try:
        floor = round_fen(rules.minimum_base(situation) * percent(rule.number("rate")))
    except MissingPolicyValue:
        return None, True
    return max(ZERO, amount - floor), False


# ------------------------------------------------------------------ the history, month by month


def _deciding_enrolment(history: History, start: dt.date, end: dt.date, status_on: str) -> Enrolment | None:
    if status_on == "first_day":
        return next((e for e in history.enrolments if e.scheme == "employee" and e.active_on(start)), None)
    return _enrolment_in(history, start, end)


def _enrolment_in(history: History, start: dt.date, end: dt.date) -> Enrolment | None:
    """The latest employee enrolment overlapping ``[start, end]``."""
    found = [e for e in history.enrolments if e.scheme == "employee" and e.start <= end and (e.end is None or e.end >= start)]
    return max(found, key=lambda e: e.start) if found else None


def stopped_on(history: History, day: dt.date, stops: tuple[str, ...], resumes: tuple[str, ...]) -> Event | None:
    """The stop event in force on ``day``: one on or before it, not followed (up to ``day``) by
    a resume event or a new employee enrolment."""
    for event in reversed(history.events_of(*stops)):
        if event.date > day:
            continue
        resumed = any(event.date < r.date <= day for r in history.events_of(*resumes)) or any(
            e.scheme == "employee" and event.date < e.start <= day for e in history.enrolments
        )
        return None if resumed else event
    return None


def _leaves_in(history: History, start: dt.date, end: dt.date, stops: tuple[str, ...], resumes: tuple[str, ...]) -> bool:
    """Coverage ends within the month: no employee enrolment on its last day, or a stop."""
    covered = any(e.scheme == "employee" and e.active_on(end) for e in history.enrolments)
    return not covered or stopped_on(history, end, stops, resumes) is not None


def _paid_contribution(history: History, month: str) -> Contribution | None:
    paid = [c for c in history.contributions_of("employee") if c.month == month and c.kind in _CREDITED_KINDS and c.settled]
    return min(paid, key=lambda c: c.paid_date or c.first_day) if paid else None


def _base(history: History, month: str, standard: Standard) -> tuple[Decimal, str]:
    """The base the standard applies to, and the month it was declared for: the month's own,
    or 嘉兴's previous December's (the first of the year for a member who joined during it —
    "年中参保的次月调整")."""
    records = [c for c in history.contributions_of("employee") if c.kind in _CREDITED_KINDS and c.base is not None]
    chosen = next((c for c in records if c.month == month), None)
    if standard.base == "previous_december":
        year = int(month[:4])
        december = next((c for c in records if c.month == f"{year - 1}-12"), None)
        this_year = [c for c in records if c.month.startswith(f"{year}-")]
        chosen = december or (this_year[0] if this_year else chosen)
    if chosen is None or chosen.base is None:
        raise CaseError(f"contribution {month}: crediting needs its `base` ({standard.clause})")
    return chosen.base, chosen.month


def _month_end(first: dt.date) -> dt.date:
    return dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1) - _ONE_DAY


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")


__all__ = ["Credit", "monthly_credits", "credit_for_month", "months", "stopped_on", "with_account_months"]
