"""The SQL of the settlement path, of the calls that open a visit and upload its lines, and
of what every gateway call writes.

A settlement (2207 / 2304) is two round trips on PostgreSQL (:mod:`.driver`):

1. **reads** (:func:`read_settlement`): the request's nonce (queued by the gateway, so a
   replayed signed request fails first), then, under the person's row lock, the person, the
   visit, its unsettled fee lines, the person's account sums per year, their running totals
   of every year, their enrolments and events. Each read runs after the lock is granted, so
   it sees what the previous settlement of the person committed;
2. **writes** (queued by :func:`yibao.service.settlement.record`, the audit and the gateway):
   the settlement row, its account entry, the running totals, the fee lines marked (in one
   statement, however many), the visit's status, the audit row and the answer under its
   ``msgid``.

A fee upload (2204 / 2301) is one round trip of reads (:func:`read_upload`) and one
statement for all its lines; a registration or admission (2201 / 2401) reads the person and
queues the visit's row; 2203 reads the visit and queues its update (:data:`SET_VISIT_INFO`).

The same statements serve the Session-based code paths (REST, reversal) through
:meth:`Prepared.statement`, so each is written once for both dialects. The account and the
running totals are read for every year, not the settlement's: the year is the visit's (or
its discharge's), known only once the visit is read, and a person has few such rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Integer, String, Table, any_, bindparam, cast, extract, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from yibao.service.db import models as m
from yibao.service.db.driver import Prepared, Statements
from yibao.service.db.types import Money


def _insert(table: Table, *skipped: str) -> Prepared:
    """An INSERT naming every column but ``skipped`` (generated keys): the caller gives them all.
    Inline: a generated key is not sent back (``RETURNING``), as nothing here reads it."""
    return Prepared(insert(table).inline().values({c.key: bindparam(c.key) for c in table.columns if c.key not in skipped}))


_p, _v, _f, _a = m.Person.__table__, m.Visit.__table__, m.FeeLine.__table__, m.AccountEntry.__table__
_t, _e, _ev = m.RunningTotal.__table__, m.Enrolment.__table__, m.Event.__table__

# ---------------------------------------------------------------------- reads

_person = select(_p).where(_p.c.psn_no == bindparam("psn_no"))
PERSON = Prepared(_person)
LOCKED_PERSON = Prepared(_person.with_for_update())
VISIT = Prepared(select(_v).where(_v.c.mdtrt_id == bindparam("mdtrt_id")))
UNSETTLED_LINES = Prepared(select(_f).where(
    _f.c.mdtrt_id == bindparam("mdtrt_id"), _f.c.status == "active", _f.c.setl_id.is_(None)).order_by(_f.c.id))
_entry_year = cast(extract("year", _a.c.entry_date), Integer)
#: the person's account entries summed per calendar year (:func:`yibao.service.ledger.balances_of`)
ACCOUNT_YEARS = Prepared(select(
    _entry_year.label("year"), func.sum(_a.c.current_amount, type_=Money()).label("current"),
    func.sum(_a.c.history_amount, type_=Money()).label("history"),
).where(_a.c.psn_no == bindparam("psn_no")).group_by(_entry_year))
#: the person's running totals of every year (:func:`yibao.service.ledger.totals_of`)
TOTALS = Prepared(select(_t.c.year, _t.c.counter, _t.c.amount).where(_t.c.psn_no == bindparam("psn_no")))
ENROLMENTS = Prepared(select(_e).where(_e.c.psn_no == bindparam("psn_no")).order_by(_e.c.start))
EVENTS = Prepared(select(_ev).where(_ev.c.psn_no == bindparam("psn_no")).order_by(_ev.c.date, _ev.c.id))


@dataclass(frozen=True)
class SettlementRows:
    """What a settlement reads, as rows (named tuples with the columns' names)."""

    person: Any | None
    visit: Any | None
    lines: list[Any]
    account_years: list[Any]
    totals: list[Any]
    enrolments: list[Any]
    events: list[Any]


def read_settlement(statements: Statements, psn_no: str, mdtrt_id: str, *, lock: bool) -> SettlementRows:
    """Everything a settlement reads, in one round trip; with ``lock``, under the person's row
    lock (PostgreSQL ``FOR UPDATE``; SQLite's transaction holds the write lock already)."""
    person, visit = {"psn_no": psn_no}, {"mdtrt_id": mdtrt_id}
    persons, visits, lines, account_years, totals, enrolments, events = statements.read(
        (LOCKED_PERSON if lock else PERSON, person), (VISIT, visit), (UNSETTLED_LINES, visit),
        (ACCOUNT_YEARS, person), (TOTALS, person), (ENROLMENTS, person), (EVENTS, person))
    return SettlementRows(persons[0] if persons else None, visits[0] if visits else None, lines, account_years, totals,
                          enrolments, events)


# ---------------------------------------------------------------------- fee uploads (2204 / 2301)

_c = m.CatalogueItem.__table__
#: the city of the person (the catalogue a visit's lines are placed in)
PERSON_CITY = Prepared(select(_p.c.city).where(_p.c.psn_no == bindparam("psn_no")))
#: the ``feedetl_sn`` of a visit's active lines (a new line may not take one of them)
ACTIVE_LINE_NUMBERS = Prepared(select(_f.c.feedetl_sn).where(_f.c.mdtrt_id == bindparam("mdtrt_id"), _f.c.status == "active"))
_in_city_between = (_c.c.city == select(_p.c.city).where(_p.c.psn_no == bindparam("psn_no")).scalar_subquery(),
                    _c.c.begin_date <= bindparam("last"), or_(_c.c.end_date.is_(None), _c.c.end_date >= bindparam("first")))
#: every version of the ``codes`` (a list) in the person's city that is in force on some day
#: from ``first`` to ``last`` (:func:`yibao.service.catalogue.in_force` picks each line's)
CATALOGUE_VERSIONS = Prepared({
    "postgresql": select(_c).where(_c.c.code == any_(bindparam("codes", type_=ARRAY(String))), *_in_city_between),
    "sqlite": select(_c).where(_c.c.code.in_(select(
        func.json_each(bindparam("codes", type_=JSON)).table_valued("value").c.value)), *_in_city_between),
})


@dataclass(frozen=True)
class UploadRows:
    """What a fee upload reads, as rows."""

    visit: Any | None
    city: str | None
    taken: set[str]
    versions: list[Any]


def read_upload(statements: Statements, mdtrt_id: str, psn_no: str, codes: set[str], first: dt.date | None,
                last: dt.date | None) -> UploadRows:
    """The visit, the person's city, the line numbers in use and the catalogue versions of
    ``codes`` in force on some day from ``first`` to ``last`` (none without codes): one round
    trip, whatever the number of lines."""
    visits, cities, taken, versions = statements.read(
        (VISIT, {"mdtrt_id": mdtrt_id}), (PERSON_CITY, {"psn_no": psn_no}), (ACTIVE_LINE_NUMBERS, {"mdtrt_id": mdtrt_id}),
        (CATALOGUE_VERSIONS, {"psn_no": psn_no, "codes": sorted(codes), "first": first, "last": last}))
    return UploadRows(visits[0] if visits else None, cities[0].city if cities else None, {row.feedetl_sn for row in taken},
                      versions)


# ---------------------------------------------------------------------- writes

INSERT_NONCE = _insert(m.Nonce.__table__)
INSERT_SETTLEMENT = _insert(m.Settlement.__table__, "reverses", "reversed_by")
INSERT_ENTRY = _insert(_a, "id")
INSERT_AUDIT = _insert(m.AuditRecord.__table__, "id")
INSERT_MESSAGE = _insert(m.Message.__table__)
INSERT_FEE_LINE = _insert(_f, "id")
INSERT_VISIT = _insert(_v)
_mark_lines = update(_f).values(setl_id=bindparam("setl_id"))
#: the settled fee lines (``line_ids``, a list) marked with their ``setl_id``, in one statement
#: whatever their number: by id, so a line uploaded since the read is left alone
MARK_LINES = Prepared({
    "postgresql": _mark_lines.where(_f.c.id == any_(bindparam("line_ids", type_=ARRAY(Integer)))),
    "sqlite": _mark_lines.where(_f.c.id.in_(select(
        func.json_each(bindparam("line_ids", type_=JSON)).table_valued("value").c.value))),
})
SET_VISIT_STATUS = Prepared(update(_v).where(_v.c.mdtrt_id == bindparam("visit_id")).values(status=bindparam("status")))
#: what 2203 changes: the medical type and what follows from it, the diagnoses
_VISIT_INFO = ("med_type", "kind", "route", "disease", "procedure", "diagnoses")
SET_VISIT_INFO = Prepared(update(_v).where(_v.c.mdtrt_id == bindparam("visit_id")).values(
    {name: bindparam(f"new_{name}", type_=_v.c[name].type) for name in _VISIT_INFO}))


def visit_info_values(visit: Any) -> dict[str, Any]:
    """:data:`SET_VISIT_INFO`'s values for a visit (a :class:`~yibao.service.db.models.Visit`)."""
    return {"visit_id": visit.mdtrt_id, **{f"new_{name}": getattr(visit, name) for name in _VISIT_INFO}}


def _add_totals(insert_of):  # noqa: ANN001, ANN202 - the dialect's insert
    statement = insert_of(_t)
    return statement.on_conflict_do_update(
        index_elements=[_t.c.psn_no, _t.c.year, _t.c.counter], set_={"amount": _t.c.amount + statement.excluded.amount})


#: add to a running total, or start it (the person's lock keeps other writers away)
ADD_TOTALS = Prepared({"postgresql": _add_totals(postgresql_insert), "sqlite": _add_totals(sqlite_insert)})
