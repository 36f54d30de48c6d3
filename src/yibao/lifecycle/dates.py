"""Calendar arithmetic the regulations speak in: natural months, months after a date."""

from __future__ import annotations

import calendar
import datetime as dt


def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (clamped to the month's last day)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if day.day <= 28:  # in every month: no clamping (the coverage rules ask this for every month of a history)
        return dt.date(year, month + 1, day.day)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def natural_month(day: dt.date, n: int) -> dt.date:
    """The first day of the n-th natural month counting ``day``'s month as the first
    (次月 = 2, 当月 = 1, 第3个自然月 = 3)."""
    return add_months(first_of_month(day), n - 1)


def month_of(text: str) -> dt.date:
    return dt.date.fromisoformat(text + "-01")


def months_between(a: dt.date, b: dt.date) -> int:
    """Whole calendar months from a's month to b's month."""
    return (b.year - a.year) * 12 + b.month - a.month
