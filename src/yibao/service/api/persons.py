"""Insured persons (参保人员): the person document, enrolments (参保登记), life events,
coverage on a date (待遇享受) and the stored running totals (累计).

A person is created whole from a person document (``yibao.service.people``); later
enrolments and events are added one at a time, and each addition must leave the person's
history coherent — the history is rebuilt from the rows after the addition and a history
that no longer validates (overlapping enrolments, an unknown employer, …) is refused with
422 and nothing stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from yibao.lifecycle.coverage import coverage_on
from yibao.lifecycle.history import Enrolment, Event
from yibao.money import fmt
from yibao.service import ledger, people
from yibao.service.api.deps import (
    EARLIEST, LATEST, AgencyCaller, AnyCaller, JsonBody, OverseerCaller, PagingDep, RequestId, ServiceDep, locked_person,
    parsed, plausible_dates, validated, visible_person,
)
from yibao.service.api.openapi import json_request
from yibao.service.api.problems import conflict, invalid, responses
from yibao.service.audit import audit
from yibao.service.db import models as m

router = APIRouter(tags=["persons"])

# ---------------------------------------------------------------------- views


class EnrolmentView(BaseModel):
    """One stored enrolment period (参保登记)."""

    id: int
    scheme: str
    category: str
    mode: str
    start: dt.date
    end: Optional[dt.date] = None
    employer: Optional[str] = None
    grade: int
    account: str
    basis: str
    reason: Optional[str] = None


class EventView(BaseModel):
    """One stored life event (退休, 责令补缴, 死亡, …) with the fields its type needs."""

    id: int
    date: dt.date
    type: str
    detail: dict[str, Any] = Field(description="the event's other fields (`approved`, `assistance`, `years`, …)")


class PersonSummary(BaseModel):
    psn_no: str = Field(description="人员编号")
    city: str
    insuplc_admdvs: str = Field(description="参保地医保区划")
    certno: str = Field(description="证件号码")
    name: str
    gend: str
    brdy: dt.date
    scheme: str
    category: str


class PersonView(PersonSummary):
    """A person as stored. An institution sees the settlement facts only; the agency and
    auditors also see the enrolments, events and the other history parts."""

    hukou: str
    grade: int
    assistance: Optional[str] = None
    flags: list[str]
    filings: dict[str, Any]
    ci_cap_bonus: str = Field(description="杭州 大病保险 激励 already earned (yuan)")
    enrolments: Optional[list[EnrolmentView]] = None
    events: Optional[list[EventView]] = None
    employers: Optional[list[dict[str, Any]]] = None
    relatives: Optional[list[dict[str, Any]]] = None
    contributions: Optional[list[dict[str, Any]]] = None
    credited_years: Optional[list[dict[str, Any]]] = None
    created_at: dt.datetime
    updated_at: dt.datetime


class PersonPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[PersonSummary]


class CoverageView(BaseModel):
    """Coverage on a date (``yibao coverage``): covered or not, since when, why, the clause."""

    date: dt.date
    covered: bool
    scheme: Optional[str] = None
    category: Optional[str] = None
    since: Optional[dt.date] = None
    resumes: Optional[dt.date] = None
    costs_borne_by: Optional[str] = None
    account_usable: bool
    reason: str
    clause: str
    notes: list[str]


class TotalsView(BaseModel):
    """A person-year's stored running totals (累计), counter → amount."""

    psn_no: str
    year: int
    totals: dict[str, str] = Field(examples=[{"outpatient.deductible": "600.00", "outpatient.pooled": "480.00"}])


def summary(p: m.Person) -> dict[str, Any]:
    return {"psn_no": p.psn_no, "city": p.city, "insuplc_admdvs": p.insuplc_admdvs, "certno": p.certno, "name": p.name,
            "gend": p.gend, "brdy": p.brdy, "scheme": p.scheme, "category": p.category}


def enrolment_view(e: m.Enrolment) -> dict[str, Any]:
    return {"id": e.id, "scheme": e.scheme, "category": e.category, "mode": e.mode, "start": e.start, "end": e.end,
            "employer": e.employer, "grade": e.grade, "account": e.account, "basis": e.basis, "reason": e.reason}


def event_view(ev: m.Event) -> dict[str, Any]:
    return {"id": ev.id, "date": ev.date, "type": ev.type, "detail": ev.detail}


def _enrolments(session: Session, psn_no: str) -> list[m.Enrolment]:
    return list(session.scalars(select(m.Enrolment).where(m.Enrolment.psn_no == psn_no).order_by(m.Enrolment.start, m.Enrolment.id)))


def _events(session: Session, psn_no: str) -> list[m.Event]:
    return list(session.scalars(select(m.Event).where(m.Event.psn_no == psn_no).order_by(m.Event.date, m.Event.id)))


def person_view(session: Session, p: m.Person, *, full: bool) -> dict[str, Any]:
    view = {**summary(p), "hukou": p.hukou, "grade": p.grade, "assistance": p.assistance, "flags": list(p.flags),
            "filings": p.filings, "ci_cap_bonus": fmt(p.ci_cap_bonus), "created_at": p.created_at, "updated_at": p.updated_at}
    if full:
        view["enrolments"] = [enrolment_view(e) for e in _enrolments(session, p.psn_no)]
        view["events"] = [event_view(ev) for ev in _events(session, p.psn_no)]
        for part in people.HISTORY_PARTS:
            view[part] = list(p.history_parts.get(part, []))
    return view


# ---------------------------------------------------------------------- examples

PERSON_EXAMPLE = {
    "psn_no": "33010000000101", "city": "hangzhou", "certno": "330106198203040021", "name": "王芳", "gend": "F",
    "brdy": "1982-03-04", "scheme": "employee", "category": "active",
    "account": {"date": "2026-01-01", "current": "800.00", "history": "2000.00"},
    "employers": [{"id": "E1", "name": "杭州示例有限公司"}],
    "enrolments": [{"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2025-01-01"}],
    "contributions": [{"month": "2025-01", "base": "8000.00", "due": "920.00", "paid": "920.00",
                       "paid_date": "2025-01-15", "payer": "employer"}],
}
ENROLMENT_EXAMPLE = {"scheme": "employee", "category": "retired", "mode": "retired", "start": "2027-01-01"}
EVENT_EXAMPLE = {"date": "2026-12-01", "type": "retirement", "approved": "2026-11-15"}


# ---------------------------------------------------------------------- persons


@router.get("/persons", summary="List insured persons", response_model=PersonPage,
            responses=responses(401, 403, 422))
def list_persons(caller: OverseerCaller, service: ServiceDep, page: PagingDep,
                 city: Annotated[Optional[str], Query(description="only persons of this pooling city")] = None,
                 scheme: Annotated[Optional[str], Query(description="employee or resident")] = None) -> dict[str, Any]:
    """Persons in `psn_no` order (agency and auditors; an institution reads a person through its visits)."""
    query = select(m.Person)
    if city:
        query = query.where(m.Person.city == city)
    if scheme:
        query = query.where(m.Person.scheme == scheme)
    with service.db.sessions() as session:
        return page.page(session, query, (m.Person.psn_no,), summary)


@router.post("/persons", summary="Register a person (person document)", status_code=201, response_model=PersonView,
             responses=responses(400, 401, 403, 409, 422),
             openapi_extra=json_request(people.PersonDocument, PERSON_EXAMPLE,
                                        "the person document: identity, settlement facts and lifecycle history"))
def create_person(caller: AgencyCaller, raw: JsonBody, service: ServiceDep, rid: RequestId, response: Response) -> dict[str, Any]:
    """Validate the whole document (its history included) and store the person with their
    enrolments, events and opening account balances. 409 if the `psn_no` or the `certno`
    is already registered."""
    doc = parsed(people.parse_person, raw)
    plausible_dates(doc, "the person")
    admdvs = service.codes.city_admdvs[doc.city]
    with service.db.transaction() as session:
        if session.get(m.Person, doc.psn_no) is not None:
            raise conflict(f"psn_no {doc.psn_no} is already registered")
        other = session.scalar(select(m.Person.psn_no).where(m.Person.certno == doc.certno))
        if other is not None:
            raise conflict(f"this certno is already registered (psn_no {other})")
        row = people.store_person(session, doc, admdvs)
        session.flush()
        audit(session, caller, rid, "person.create", "person", doc.psn_no,
              {"certno": doc.certno, "name": doc.name, "city": doc.city, "scheme": doc.scheme, "category": doc.category,
               "enrolments": len(doc.enrolments), "events": len(doc.events)})
        view = person_view(session, row, full=True)
    response.headers["Location"] = f"/api/v1/persons/{doc.psn_no}"
    return view


@router.get("/persons/{psn_no}", summary="Read a person", response_model=PersonView, responses=responses(401, 404))
def read_person(psn_no: str, caller: AnyCaller, service: ServiceDep) -> dict[str, Any]:
    """The agency and auditors read any person with their history; an institution reads only
    a person it has a visit of (else 404), without the history parts."""
    with service.db.sessions() as session:
        person = visible_person(session, caller, psn_no)
        return person_view(session, person, full=caller.role != "institution")


# ---------------------------------------------------------------------- enrolments and events


@router.get("/persons/{psn_no}/enrolments", summary="List a person's enrolments", response_model=list[EnrolmentView],
            responses=responses(401, 403, 404))
def list_enrolments(psn_no: str, caller: OverseerCaller, service: ServiceDep) -> list[dict[str, Any]]:
    with service.db.sessions() as session:
        visible_person(session, caller, psn_no)
        return [enrolment_view(e) for e in _enrolments(session, psn_no)]


def _keep_history_valid(session: Session, person: m.Person) -> None:
    """Rebuild the person's history from the rows; a :class:`CaseError` (→ 422) rolls everything back."""
    session.flush()
    people.history_of(session, person)


@router.post("/persons/{psn_no}/enrolments", summary="Add an enrolment period", status_code=201,
             response_model=EnrolmentView, responses=responses(400, 401, 403, 404, 422),
             openapi_extra=json_request(Enrolment, ENROLMENT_EXAMPLE, "one enrolment period (docs/lifecycle/history.md)"))
def add_enrolment(psn_no: str, caller: AgencyCaller, raw: JsonBody, service: ServiceDep, rid: RequestId,
                  response: Response) -> dict[str, Any]:
    """Add one enrolment; refused (422, nothing stored) when the person's history would no
    longer be coherent — e.g. it overlaps another enrolment of the same scheme."""
    enrolment = validated(Enrolment, raw, "an enrolment")
    plausible_dates(enrolment, "the enrolment")
    with service.db.transaction() as session:
        person = locked_person(session, psn_no)
        row = m.Enrolment(psn_no=psn_no, **enrolment.model_dump())
        session.add(row)
        _keep_history_valid(session, person)
        audit(session, caller, rid, "enrolment.add", "person", psn_no,
              {"enrolment_id": row.id, **enrolment.model_dump(mode="json", exclude_none=True)})
        view = enrolment_view(row)
    response.headers["Location"] = f"/api/v1/persons/{psn_no}/enrolments"
    return view


@router.get("/persons/{psn_no}/events", summary="List a person's life events", response_model=list[EventView],
            responses=responses(401, 403, 404))
def list_events(psn_no: str, caller: OverseerCaller, service: ServiceDep) -> list[dict[str, Any]]:
    with service.db.sessions() as session:
        visible_person(session, caller, psn_no)
        return [event_view(ev) for ev in _events(session, psn_no)]


@router.post("/persons/{psn_no}/events", summary="Record a life event", status_code=201, response_model=EventView,
             responses=responses(400, 401, 403, 404, 422),
             openapi_extra=json_request(Event, EVENT_EXAMPLE, "one life event (docs/lifecycle/history.md)"))
def add_event(psn_no: str, caller: AgencyCaller, raw: JsonBody, service: ServiceDep, rid: RequestId,
              response: Response) -> dict[str, Any]:
    """Record one event (retirement, arrears order, death, …); the history must stay coherent."""
    event = validated(Event, raw, "an event")
    plausible_dates(event, "the event")
    with service.db.transaction() as session:
        person = locked_person(session, psn_no)
        row = people.event_row(psn_no, event)
        session.add(row)
        _keep_history_valid(session, person)
        audit(session, caller, rid, "event.add", "person", psn_no,
              {"event_id": row.id, **event.model_dump(mode="json", exclude_none=True)})
        view = event_view(row)
    response.headers["Location"] = f"/api/v1/persons/{psn_no}/events"
    return view


# ---------------------------------------------------------------------- coverage and totals


@router.get("/persons/{psn_no}/coverage", summary="Coverage on a date", response_model=CoverageView,
            responses=responses(401, 404, 422))
def coverage(psn_no: str, caller: AnyCaller, service: ServiceDep,
             on: Annotated[Optional[dt.date], Query(alias="date", description="YYYY-MM-DD; default today")] = None) -> dict[str, Any]:
    """Whether the person is covered on the date, computed from the stored history and the
    city's coverage policy (with the service's overlays) — the check settlement makes (SV5)."""
    day = on or dt.date.today()
    if not (EARLIEST <= day <= LATEST):
        raise invalid(f"query parameter date: {day} is not between {EARLIEST} and {LATEST}")
    with service.db.sessions() as session:
        person = visible_person(session, caller, psn_no)
        history = people.history_of(session, person)
    try:
        return coverage_on(history, day, service.policies.for_city(person.city)).as_json()
    except OverflowError:  # a recorded date so far out that the rules' date arithmetic leaves the calendar
        raise invalid(f"coverage on {day} cannot be computed: a date in the history of {psn_no} is out of range") from None


@router.get("/persons/{psn_no}/totals", summary="Running totals of a person-year", response_model=TotalsView,
            responses=responses(401, 404, 422))
def totals(psn_no: str, caller: AnyCaller, service: ServiceDep,
           year: Annotated[Optional[int], Query(ge=1990, le=2200, description="default this year")] = None) -> dict[str, Any]:
    """The stored running totals (累计: deductibles borne, fund payments, …) that the next
    settlement of that year starts from — the sums of the year's settlement postings."""
    year = year or dt.date.today().year
    with service.db.sessions() as session:
        visible_person(session, caller, psn_no)
        stored = ledger.stored_totals(session, psn_no)
    rows = sorted((counter, amount) for (_, y, counter), amount in stored.items() if y == year)
    return {"psn_no": psn_no, "year": year, "totals": {counter: fmt(amount) for counter, amount in rows}}
