"""Insured persons as the service stores them: the person document, its rows, its history.

A *person document* is what the agency submits (REST ``POST /api/v1/persons``) and what
the demo data set holds: the settlement facts of the case format's ``person`` plus the
national identity fields, and the lifecycle history (``docs/lifecycle/history.md``)::

    {
      "psn_no": "33010000000001", "city": "hangzhou", "certno": "330102198005010023",
      "name": "张三", "gend": "F", "brdy": "1980-05-01", "hukou": "local",
      "scheme": "employee", "category": "active", "grade": 1, "assistance": null,
      "flags": [], "filings": {"chronic": ["hypertension"], "special": []},
      "ci_cap_bonus": "0.00",
      "account": {"date": "2026-01-01", "current": "1200.00", "history": "3000.00"},
      "enrolments": [...], "events": [...], "employers": [...], "relatives": [...],
      "contributions": [...], "credited_years": [...]
    }

Everything is validated at once: the document's own fields, and the history built from
it (overlapping enrolments, unknown employers, …), before any row is written.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Optional

from pydantic import Field, model_validator
from sqlalchemy.orm import Session

from yibao import vocabulary as V
from yibao.case import Assistance, Category, City, Date, Filings, Flag, Money, Scheme, _Strict, validate
from yibao.case import Person as CasePerson
from yibao.lifecycle.coverage import Coverage, coverage_on
from yibao.lifecycle.history import CreditedYears, Contribution, Employer, Enrolment, Event, History, Relative, parse_history
from yibao.money import ZERO
from yibao.service.db import hot
from yibao.service.db import models as m

if TYPE_CHECKING:
    from yibao.policy.loader import CityPolicy
    from yibao.service.cache import TtlCache

HISTORY_PARTS = ("employers", "relatives", "contributions", "credited_years")


class OpeningAccount(_Strict):
    """Opening personal-account balances (e.g. migrated from the previous system)."""

    date: Date
    current: Money = ZERO
    history: Money = ZERO


class PersonDocument(_Strict):
    psn_no: str = Field(min_length=1, max_length=30, pattern=r"^[0-9A-Za-z\-]+$")
    city: City
    certno: str = Field(min_length=6, max_length=30)
    name: str = Field(min_length=1, max_length=100)
    gend: Literal["F", "M"]
    brdy: Date
    hukou: Literal["local", "province", "other"] = "local"
    scheme: Scheme
    category: Category
    grade: int = Field(default=1, ge=1, le=2)
    assistance: Optional[Assistance] = None
    flags: tuple[Flag, ...] = ()
    filings: Filings = Filings()
    ci_cap_bonus: Money = ZERO
    #: 异地长期居住/安置备案: a non-local visit without a route of its own is ``long_term``
    long_term_residence: bool = False
    account: Optional[OpeningAccount] = None
    enrolments: tuple[Enrolment, ...] = Field(min_length=1)
    events: tuple[Event, ...] = ()
    employers: tuple[Employer, ...] = ()
    relatives: tuple[Relative, ...] = ()
    contributions: tuple[Contribution, ...] = ()
    credited_years: tuple[CreditedYears, ...] = ()

    @model_validator(mode="after")
    def _coherent(self) -> "PersonDocument":
        if self.category not in V.CATEGORIES[self.scheme]:
            raise ValueError(f"category {self.category!r} is not a {self.scheme} category")
        if self.scheme == "resident" and self.account and (self.account.current or self.account.history):
            raise ValueError("residents have no personal account (G8)")
        history_of_document(self)  # raises on an incoherent history
        return self


def parse_person(raw: Any) -> PersonDocument:
    return validate(PersonDocument, raw, "a person")


def history_of_document(doc: PersonDocument) -> History:
    return parse_history({
        "city": doc.city,
        "person": _person_part(doc),
        "enrolments": [e.model_dump(mode="json") for e in doc.enrolments],
        "events": [e.model_dump(mode="json", exclude_none=True) for e in doc.events],
        **{part: [x.model_dump(mode="json", exclude_none=True) for x in getattr(doc, part)] for part in HISTORY_PARTS},
    })


def _person_part(p: "PersonDocument | m.Person") -> dict[str, Any]:
    """The ``person`` of a history, from a person document or a stored row (same field names)."""
    return {"id": p.psn_no, "birth_date": p.brdy.isoformat(), "sex": p.gend, "hukou": p.hukou, "flags": list(p.flags)}


def store_person(session: Session, doc: PersonDocument, admdvs: str) -> m.Person:
    """Insert a new person with its enrolments, events and opening balances."""
    row = m.Person(
        psn_no=doc.psn_no, city=doc.city, insuplc_admdvs=admdvs, certno=doc.certno, name=doc.name,
        gend=doc.gend, brdy=doc.brdy, hukou=doc.hukou, scheme=doc.scheme, category=doc.category,
        grade=doc.grade, assistance=doc.assistance, flags=list(doc.flags),
        filings=doc.filings.model_dump(mode="json"), ci_cap_bonus=doc.ci_cap_bonus,
        long_term_residence=doc.long_term_residence,
        history_parts={part: [x.model_dump(mode="json", exclude_none=True) for x in getattr(doc, part)] for part in HISTORY_PARTS},
    )
    session.add(row)
    session.flush()
    for e in doc.enrolments:
        session.add(m.Enrolment(psn_no=doc.psn_no, **e.model_dump()))
    for ev in doc.events:
        session.add(event_row(doc.psn_no, ev))
    if doc.account is not None and (doc.account.current or doc.account.history):
        session.add(m.AccountEntry(
            psn_no=doc.psn_no, entry_date=doc.account.date, kind="opening",
            current_amount=doc.account.current, history_amount=doc.account.history, note="opening balances",
        ))
    return row


def event_row(psn_no: str, ev: Event) -> m.Event:
    detail = ev.model_dump(mode="json", exclude_none=True)
    detail.pop("date"), detail.pop("type")
    return m.Event(psn_no=psn_no, date=ev.date, type=ev.type, detail=detail)


def history_of(session: Session, person: m.Person) -> History:
    """The person's lifecycle history, rebuilt from the rows."""
    connection = session.connection()
    rows = [connection.execute(read.statement(connection.dialect), {"psn_no": person.psn_no}).all()
            for read in (hot.ENROLMENTS, hot.EVENTS)]
    return history_of_rows(person, *rows)


def history_of_rows(person: Any, enrolments: Iterable[Any], events: Iterable[Any]) -> History:
    """The lifecycle history from the person's row and their enrolment and event rows (values only)."""
    return parse_history({
        "city": person.city,
        "person": _person_part(person),
        "enrolments": [
            {"scheme": e.scheme, "category": e.category, "mode": e.mode, "start": e.start.isoformat(),
             "end": e.end.isoformat() if e.end else None, "employer": e.employer, "grade": e.grade,
             "account": e.account, "basis": e.basis, "reason": e.reason}
            for e in enrolments
        ],
        "events": [{"date": ev.date.isoformat(), "type": ev.type, **ev.detail} for ev in events],
        **{part: person.history_parts.get(part, []) for part in HISTORY_PARTS},
    })


def cached_history(person: Any, cache: "TtlCache | None", load: Callable[[], History]) -> History:
    """The history, parsed once per ``history_version`` of the person (every change bumps it)."""
    if cache is None:
        return load()
    return cache.get((person.psn_no, person.history_version), load)


def cached_coverage(person: Any, history: History, day: dt.date, policy: "CityPolicy",
                    cache: "TtlCache | None") -> Coverage:
    """Coverage on ``day``, computed once per ``history_version`` and day of the person (the
    policy is the city's, the same for every call that shares the cache)."""
    if cache is None:
        return coverage_on(history, day, policy)
    return cache.get((person.psn_no, person.history_version, day), lambda: coverage_on(history, day, policy))


def case_person(person: m.Person, current: Decimal, history: Decimal, cover: Coverage | None = None) -> CasePerson:
    """The engine's view of the person (case format ``person``), with the given balances.
    Where the history says which enrolment is in force on the day, its scheme and category
    decide (a person who retired settles as retired from the day the history says)."""
    scheme, category = person.scheme, person.category
    if cover is not None and cover.covered and cover.scheme and cover.category:
        scheme, category = cover.scheme, cover.category
    return CasePerson.model_validate({
        "id": person.psn_no, "scheme": scheme, "category": category, "grade": person.grade,
        "birth_date": person.brdy, "sex": person.gend, "assistance": person.assistance,
        "flags": tuple(person.flags), "filings": person.filings,
        "account": {"current": current, "history": history} if scheme == "employee" else {},
        "ci_cap_bonus": person.ci_cap_bonus,
    })


def mask_certno(certno: str | None) -> str:
    """A certificate number as logs may show it: first 3 and last 2 characters."""
    if not certno:
        return ""
    return certno[:3] + "*" * max(0, len(certno) - 5) + certno[-2:]


def mask_name(name: str | None) -> str:
    """A name as logs may show it: the family name only."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


__all__ = [
    "PersonDocument", "parse_person", "store_person", "history_of", "history_of_rows", "cached_history", "cached_coverage", "history_of_document",
    "case_person", "mask_certno", "mask_name", "event_row", "OpeningAccount",
]
