"""Personal accounts (个人账户): balances and the ledger of movements.

Balances are never stored: they are sums of the account entries seen from a year — the
entries of that year are 当年 (current), everything else is 历年 (history)
(:func:`yibao.service.ledger.balances`). The agency records the movements that do not come
from settlements: opening balances, credits (划入), adjustments, transfers in and out
(转移接续). A movement that would make a balance negative is refused. Residents (居民医保)
have no personal account.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy import extract, select

from yibao.case import Date
from yibao.money import FEN, ZERO, fmt
from yibao.service import ledger
from yibao.service.api.deps import (
    AgencyCaller, AnyCaller, JsonBody, RequestId, ServiceDep, locked_person, plausible_dates, validated, visible_person,
)
from yibao.service.api.openapi import json_request
from yibao.service.api.problems import conflict, invalid, responses
from yibao.service.audit import audit
from yibao.service.db import models as m

router = APIRouter(tags=["accounts"])

ENTRY_KINDS = ("opening", "credit", "adjustment", "transfer_in", "transfer_out")


def _signed_amount(raw: object) -> Decimal:
    """A signed amount in yuan: a JSON string or number with at most two decimals."""
    if isinstance(raw, bool) or raw is None or isinstance(raw, float):
        raise ValueError(f"{raw!r} is not an amount (give a string such as \"-50.00\")")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{raw!r} is not a number")
    if abs(value) >= Decimal("1e12"):
        raise ValueError(f"{raw} is too large")
    if value != value.quantize(FEN):
        raise ValueError(f"{raw} has more than two decimals")
    return value.quantize(FEN)


SignedMoney = Annotated[Decimal, BeforeValidator(_signed_amount)]


class AccountEntryInput(BaseModel):
    """One account movement. ``current`` (当年) and ``history`` (历年) are signed amounts
    added to the balances: ``opening``, ``credit`` and ``transfer_in`` are not negative,
    ``transfer_out`` is not positive, an ``adjustment`` may be either."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal[ENTRY_KINDS]  # type: ignore[valid-type]
    date: Date
    current: SignedMoney = ZERO
    history: SignedMoney = ZERO
    note: Optional[str] = Field(default=None, max_length=200)


class AccountEntryView(BaseModel):
    id: int
    date: dt.date
    kind: str = Field(description="opening, credit, adjustment, transfer_in, transfer_out, settlement, reversal, …")
    current: str
    history: str
    setl_id: Optional[str] = None
    note: Optional[str] = None
    created_at: dt.datetime


class AccountView(BaseModel):
    """Balances as seen from ``year`` and every movement of the account."""

    psn_no: str
    scheme: str
    year: int
    current: str = Field(description="当年 balance")
    history: str = Field(description="历年 balance")
    total: str
    entries: list[AccountEntryView]


class EntryRecorded(BaseModel):
    entry: AccountEntryView
    account: AccountView


def entry_view(e: m.AccountEntry) -> dict[str, Any]:
    return {"id": e.id, "date": e.entry_date, "kind": e.kind, "current": fmt(e.current_amount),
            "history": fmt(e.history_amount), "setl_id": e.setl_id, "note": e.note, "created_at": e.created_at}


def account_view(session: Any, person: m.Person, year: int) -> dict[str, Any]:
    b = ledger.balances(session, person.psn_no, year)
    entries = session.scalars(select(m.AccountEntry).where(m.AccountEntry.psn_no == person.psn_no)
                              .order_by(m.AccountEntry.entry_date, m.AccountEntry.id)).all()
    return {"psn_no": person.psn_no, "scheme": person.scheme, "year": year, "current": fmt(b.current),
            "history": fmt(b.history), "total": fmt(b.total), "entries": [entry_view(e) for e in entries]}


@router.get("/persons/{psn_no}/account", summary="Personal-account balances and entries", response_model=AccountView,
            responses=responses(401, 404, 422))
def read_account(psn_no: str, caller: AnyCaller, service: ServiceDep,
                 year: Annotated[Optional[int], Query(ge=1990, le=2200,
                                                      description="the year the balances are seen from; default this year")] = None,
                 ) -> dict[str, Any]:
    """The 当年 and 历年 balances seen from the year, and every entry of the account (an
    institution: only for a person it has treated)."""
    with service.db.sessions() as session:
        person = visible_person(session, caller, psn_no)
        return account_view(session, person, year or dt.date.today().year)


def _check_signs(entry: AccountEntryInput) -> None:
    parts = (entry.current, entry.history)
    if entry.current == 0 and entry.history == 0:
        raise invalid("current and history are both zero: the entry moves nothing")
    if entry.kind in ("opening", "credit", "transfer_in") and any(p < 0 for p in parts):
        raise invalid(f"an {entry.kind} entry adds to the account: current and history must not be negative")
    if entry.kind == "transfer_out" and any(p > 0 for p in parts):
        raise invalid("a transfer_out entry takes from the account: current and history must not be positive")


def _check_not_negative(session: Any, psn_no: str, entry: AccountEntryInput) -> None:
    """Refuse the entry when a balance, seen from any year that matters, would be negative."""
    years = {entry.date.year, dt.date.today().year}
    years.update(int(y) for y in session.scalars(select(extract("year", m.AccountEntry.entry_date))
                                                 .where(m.AccountEntry.psn_no == psn_no).distinct()))
    for year in sorted(years):
        b = ledger.balances(session, psn_no, year)
        for part, value in (("当年 current", b.current), ("历年 history", b.history)):
            if value < 0:
                raise invalid(f"the entry would make the {part} balance seen from {year} negative ({fmt(value)})")


@router.post("/persons/{psn_no}/account/entries", summary="Record an account movement", status_code=201,
             response_model=EntryRecorded, responses=responses(400, 401, 403, 404, 409, 422),
             openapi_extra=json_request(AccountEntryInput, {"kind": "credit", "date": "2026-02-01", "current": "150.00"},
                                        "one movement; amounts are signed and added to the balances"))
def add_entry(psn_no: str, caller: AgencyCaller, raw: JsonBody, service: ServiceDep, rid: RequestId,
              response: Response) -> dict[str, Any]:
    """Record an opening balance (once), a credit, an adjustment or a transfer; refused when
    the person is a resident or when a balance would become negative."""
    entry = validated(AccountEntryInput, raw, "an account entry")
    plausible_dates(entry, "the entry")
    _check_signs(entry)
    with service.db.transaction() as session:
        person = locked_person(session, psn_no)  # settlements of the person wait; they read the balances
        if person.scheme != "employee":
            raise invalid(f"psn_no {psn_no} is a resident: residents have no personal account (G8)")
        if entry.kind == "opening" and session.scalar(select(m.AccountEntry.id).where(
                m.AccountEntry.psn_no == psn_no, m.AccountEntry.kind == "opening").limit(1)) is not None:
            raise conflict(f"psn_no {psn_no} already has opening balances; record an adjustment instead")
        row = m.AccountEntry(psn_no=psn_no, entry_date=entry.date, kind=entry.kind, current_amount=entry.current,
                             history_amount=entry.history, note=entry.note)
        session.add(row)
        session.flush()
        if entry.current < 0 or entry.history < 0:
            _check_not_negative(session, psn_no, entry)
        audit(session, caller, rid, "account.entry", "person", psn_no,
              {"entry_id": row.id, "kind": entry.kind, "date": entry.date.isoformat(), "current": fmt(entry.current),
               "history": fmt(entry.history)})
        view = {"entry": entry_view(row), "account": account_view(session, person, entry.date.year)}
    response.headers["Location"] = f"/api/v1/persons/{psn_no}/account"
    return view
