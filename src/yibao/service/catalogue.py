"""The drug and service catalogue (医保目录): CSV loading, dated lookup, per-line split.

A catalogue CSV has one row per entry (UTF-8, header row)::

    code,name,class,selfpay_ratio,price_limit,begin_date,end_date
    XB01AC06A001,阿司匹林肠溶片,A,,,2026-01-01,
    XJ01DD04B002,头孢曲松钠注射剂,B,0.10,12.500000,2026-01-01,

``class`` is A 甲类 / B 乙类 / C 丙类; ``selfpay_ratio`` the 乙类 先行自付比例 (blank: the
city's default where it has one); ``price_limit`` the unit price limit (最高限价, blank:
none); ``end_date`` blank means open. Loading a file for a city is one transaction: a
code already open before the new row's ``begin_date`` is closed the day before, so the
catalogue keeps every dated version and a fee is split by the version on its own date.

The per-line split is the case format's (G3), made from the catalogue instead of the bill:
class C → 全自费; the part of the price above the limit × quantity → 超限价; class B × ratio
→ 先行自付 (rounded per line); the rest → 符合范围.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from yibao import vocabulary as V
from yibao.engine.rules import Rules
from yibao.errors import CaseError
from yibao.money import ZERO, round_fen
from yibao.policy.loader import CityPolicy
from yibao.service.db import models as m

COLUMNS = ("code", "name", "class", "selfpay_ratio", "price_limit", "begin_date", "end_date")
DEFAULT_RATIO = "catalogue.selfpay_default"


class CatalogueError(CaseError):
    """A catalogue file or a fee line the catalogue cannot place."""


@dataclass(frozen=True)
class LoadReport:
    city: str
    added: int
    closed: int


def load_csv(session: Session, city: str, text: str, source: str) -> LoadReport:
    """Load a catalogue CSV for ``city``; raises naming the row and column at fault."""
    if city not in V.CITIES:
        raise CatalogueError(f"unknown city {city!r}")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise CatalogueError(f"{source}: missing column(s) {', '.join(missing)} (expected {','.join(COLUMNS)})")
    rows = []
    seen: set[tuple[str, dt.date]] = set()
    for n, raw in enumerate(reader, start=2):
        row = _row(raw, n, source)
        if (row.code, row.begin_date) in seen:
            raise CatalogueError(f"{source} line {n}: {row.code} begins {row.begin_date} twice")
        seen.add((row.code, row.begin_date))
        rows.append(row)
    closed = 0
    for row in sorted(rows, key=lambda r: (r.code, r.begin_date)):
        previous = session.scalars(select(m.CatalogueItem).where(
            m.CatalogueItem.city == city, m.CatalogueItem.code == row.code,
            or_(m.CatalogueItem.end_date.is_(None), m.CatalogueItem.end_date >= row.begin_date),
        )).all()
        for old in previous:
            if old.begin_date >= row.begin_date:
                raise CatalogueError(f"{source}: {row.code} already has a version from {old.begin_date}; a new one must begin later")
            old.end_date = row.begin_date - dt.timedelta(days=1)
            closed += 1
        session.add(m.CatalogueItem(city=city, source=source, **row.__dict__))
        session.flush()
    return LoadReport(city, len(rows), closed)


@dataclass
class _Row:
    code: str
    name: str
    item_class: str
    selfpay_ratio: Decimal | None
    price_limit: Decimal | None
    begin_date: dt.date
    end_date: dt.date | None


def _row(raw: dict[str, str | None], n: int, source: str) -> _Row:
    def where(col: str) -> str:
        return f"{source} line {n} column {col}"

    code = (raw.get("code") or "").strip()
    if not code:
        raise CatalogueError(f"{where('code')}: empty")
    item_class = (raw.get("class") or "").strip().upper()
    if item_class not in ("A", "B", "C"):
        raise CatalogueError(f"{where('class')}: {item_class!r} is not A, B or C")
    ratio = _decimal(raw.get("selfpay_ratio"), where("selfpay_ratio"))
    if ratio is not None and not (ZERO <= ratio <= 1):
        raise CatalogueError(f"{where('selfpay_ratio')}: {ratio} is not between 0 and 1")
    if ratio is not None and item_class != "B":
        raise CatalogueError(f"{where('selfpay_ratio')}: only 乙类 (B) entries carry a 先行自付比例")
    limit = _decimal(raw.get("price_limit"), where("price_limit"))
    if limit is not None and limit < 0:
        raise CatalogueError(f"{where('price_limit')}: negative")
    begin = _day(raw.get("begin_date"), where("begin_date"))
    if begin is None:
        raise CatalogueError(f"{where('begin_date')}: empty")
    end = _day(raw.get("end_date"), where("end_date"))
    if end is not None and end < begin:
        raise CatalogueError(f"{where('end_date')}: {end} is before begin_date {begin}")
    return _Row(code, (raw.get("name") or "").strip(), item_class, ratio, limit, begin, end)


def _decimal(text: str | None, where: str) -> Decimal | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CatalogueError(f"{where}: {text!r} is not a number") from None
    if not value.is_finite():
        raise CatalogueError(f"{where}: {text!r} is not a number")
    return value


def _day(text: str | None, where: str) -> dt.date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CatalogueError(f"{where}: {text!r} is not a date YYYY-MM-DD") from None


def in_force(versions: Iterable[Any], wanted: Iterable[tuple[str, dt.date]]) -> dict[tuple[str, dt.date], Any]:
    """The version in force for each ``(code, day)`` wanted, among ``versions`` (catalogue
    rows with ``code``, ``begin_date`` and ``end_date``); a pair no version covers is left
    out. Loading keeps a code's versions apart (:func:`load_csv`), so at most one is in force
    on a day."""
    days_of: dict[str, set[dt.date]] = defaultdict(set)
    for code, day in wanted:
        days_of[code].add(day)
    return {(entry.code, day): entry for entry in versions for day in days_of.get(entry.code, ())
            if entry.begin_date <= day and (entry.end_date is None or day <= entry.end_date)}


@dataclass(frozen=True)
class LineSplit:
    """What the platform answers per line (2204/2301 output)."""

    chrgitm_lv_class: str
    selfpay_prop: Decimal
    pric_uplmt_amt: Decimal | None
    fulamt_ownpay_amt: Decimal
    overlmt_amt: Decimal
    preselfpay_amt: Decimal
    inscp_scp_amt: Decimal


def split_line(entry: Any, policy: CityPolicy, day: dt.date, cnt: Decimal, pric: Decimal, amount: Decimal,
               where: str) -> LineSplit:
    """Split one fee line by its catalogue entry (a ``catalogue_items`` row or object: code,
    class, ratio, limit), so that the identity G3 holds per line. A refund
    line (negative quantity and amount) is split as its charge would be, with the sign kept."""
    sign = -1 if amount < 0 else 1
    amount, cnt = abs(amount), abs(cnt)
    if entry.item_class == "C":
        return LineSplit("C", Decimal(1), entry.price_limit, sign * amount, ZERO, ZERO, ZERO)
    over = ZERO
    if entry.price_limit is not None and pric > entry.price_limit:
        over = min(amount, round_fen((pric - entry.price_limit) * cnt))
    ratio = ZERO
    if entry.item_class == "B":
        ratio = entry.selfpay_ratio if entry.selfpay_ratio is not None else _default_ratio(policy, day, entry.code, where)
    base = amount - over
    pre = round_fen(base * ratio)
    return LineSplit(entry.item_class, ratio, entry.price_limit, ZERO, sign * over, sign * pre, sign * (base - pre))


def _default_ratio(policy: CityPolicy, day: dt.date, code: str, where: str) -> Decimal:
    rules = Rules(policy, day, where)
    default = rules.optional(DEFAULT_RATIO)
    if default is None or default == "per_item":
        raise CatalogueError(
            f"{where}: {code} is 乙类 without a 先行自付比例 in the catalogue, and {policy.document.name} has no default "
            f"({rules.clause(DEFAULT_RATIO) or 'the province sets it per item'})"
        )
    return Decimal(default)
