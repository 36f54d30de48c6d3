"""What every REST handler depends on: the service, the authenticated caller and its role,
the request id, the decoded JSON body, paging, and what an institution may see.

Authentication (认证) is :func:`yibao.service.auth.authenticate` on the request headers —
a bearer token or x-tif-* signed headers — with the service's credential cache, as the
gateway does. A signed request's nonce is recorded in its own short transaction before
the handler runs (the nonces table's key refuses a second use), so a replayed signed
request is refused (401) whatever the handler then does. Roles (角色):

* ``agency`` (经办机构) reads everything and makes every change;
* ``auditor`` (稽核) reads everything and changes nothing;
* ``institution`` (定点医药机构) reads only its own visits and settlements, and the persons
  it has treated; any record outside that is answered 404, exactly like a missing one.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Callable, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yibao.case import decode_json, validate
from yibao.errors import CaseError
from yibao.lifecycle.history import Contribution
from yibao.service.auth import AuthError, Caller, authenticate, spend_nonce
from yibao.service.api.problems import ProblemError, invalid, not_found
from yibao.service.db import models as m

if TYPE_CHECKING:
    from yibao.service.app import Service

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
MAX_JSON_BYTES = 2 * 1024 * 1024
MAX_CSV_BYTES = 32 * 1024 * 1024


def new_request_id(offered: str | None) -> str:
    """The client's ``x-request-id`` when it is a plain token of at most 64 characters, else a new uuid4 hex."""
    if offered and _REQUEST_ID.match(offered):
        return offered
    return uuid.uuid4().hex


def get_service(request: Request) -> "Service":
    return request.app.state.service


def request_id(request: Request) -> str:
    rid = request.scope.get("yibao.request_id")
    if rid is None:  # outside the middleware (never under /api/v1)
        rid = request.scope["yibao.request_id"] = new_request_id(request.headers.get(REQUEST_ID_HEADER))
    return rid


def authenticated(request: Request) -> Caller:
    """The caller, from the headers; a signed request's nonce is spent here."""
    service = get_service(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    with service.db.sessions() as session:
        caller = authenticate(session, headers, skew=service.settings.signature_skew,
                              cache=service.caches.credentials)
    if not spend_nonce(service.db, caller):
        raise AuthError("x-tif-nonce was already used (replayed request)")
    request.scope["yibao.caller"] = caller
    return caller


def roles(*allowed: str) -> Callable[..., Caller]:
    """A dependency: the authenticated caller, who must have one of ``allowed`` (else 403)."""

    def dependency(caller: Annotated[Caller, Depends(authenticated)]) -> Caller:
        caller.require(*allowed)
        return caller

    dependency.__name__ = f"role_{'_or_'.join(allowed)}"
    return dependency


AnyCaller = Annotated[Caller, Depends(authenticated)]
AgencyCaller = Annotated[Caller, Depends(roles("agency"))]
OverseerCaller = Annotated[Caller, Depends(roles("agency", "auditor"))]
RequestId = Annotated[str, Depends(request_id)]
ServiceDep = Annotated[Any, Depends(get_service)]  # the Service


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ProblemError(413, f"the body is larger than {limit} bytes")
    body = await request.body()
    if len(body) > limit:
        raise ProblemError(413, f"the body is larger than {limit} bytes")
    return body


async def json_body(request: Request) -> Any:
    """The request body decoded with :func:`yibao.case.decode_json` (numbers become ``Decimal``)."""
    media = _media_type(request)
    if media and media != "application/json" and not media.endswith("+json"):
        raise ProblemError(415, f"send the body as application/json (got {media})")
    body = await _body(request, MAX_JSON_BYTES)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ProblemError(400, "the body is not UTF-8 text", kind="malformed-json") from None
    if not text.strip():
        raise ProblemError(400, "the body is empty; send a JSON object", kind="malformed-json")
    try:
        return decode_json(text)
    except CaseError as exc:
        raise ProblemError(400, str(exc), kind="malformed-json") from None
    except RecursionError:
        raise ProblemError(400, "malformed JSON: nested too deeply", kind="malformed-json") from None
    except ValueError as exc:  # e.g. an integer literal of thousands of digits
        raise ProblemError(400, f"malformed JSON: {exc}", kind="malformed-json") from None


async def csv_body(request: Request) -> str:
    """The request body as CSV text (``text/csv``, UTF-8)."""
    media = _media_type(request)
    if media not in ("text/csv", "text/plain", "application/csv"):
        raise ProblemError(415, f"send the catalogue as text/csv (got {media or 'no content-type'})")
    body = await _body(request, MAX_CSV_BYTES)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ProblemError(400, "the CSV is not UTF-8 text") from None


JsonBody = Annotated[Any, Depends(json_body)]
CsvBody = Annotated[str, Depends(csv_body)]


class Paging(BaseModel):
    limit: int
    offset: int

    def page(self, session: Session, query: Any, order_by: tuple[Any, ...], view: Callable[[Any], Any]) -> dict[str, Any]:
        """One page of ``query`` in ``order_by`` order: ``total``, ``limit``, ``offset`` and the viewed ``items``."""
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        rows = session.scalars(query.order_by(*order_by).limit(self.limit).offset(self.offset)).all()
        return {"total": total, "limit": self.limit, "offset": self.offset, "items": [view(r) for r in rows]}


def paging(limit: Annotated[int, Query(ge=1, le=500, description="at most this many items (1–500)")] = 50,
           offset: Annotated[int, Query(ge=0, description="skip this many items")] = 0) -> Paging:
    return Paging(limit=limit, offset=offset)


PagingDep = Annotated[Paging, Depends(paging)]


# ---------------------------------------------------------------------- visibility


def has_treated(session: Session, institution_code: str | None, psn_no: str) -> bool:
    """Whether the institution has a visit of the person."""
    return session.scalar(select(m.Visit.mdtrt_id).where(
        m.Visit.psn_no == psn_no, m.Visit.institution_code == institution_code).limit(1)) is not None


def visible_person(session: Session, caller: Caller, psn_no: str) -> m.Person:
    """The person, if the caller may see them: an institution only a person it has treated."""
    person = session.get(m.Person, psn_no)
    if person is None or (caller.role == "institution" and not has_treated(session, caller.institution_code, psn_no)):
        raise not_found(f"no person with psn_no {psn_no}")
    return person


def locked_person(session: Session, psn_no: str) -> m.Person:
    """The person with their row lock held to the end of the transaction (as settlement does)."""
    person = session.scalars(select(m.Person).where(m.Person.psn_no == psn_no).with_for_update()).first()
    if person is None:
        raise not_found(f"no person with psn_no {psn_no}")
    return person


def sees_institution_only(caller: Caller) -> str | None:
    """The institution code a caller's reads are limited to (``None``: everything)."""
    return caller.institution_code if caller.role == "institution" else None


def parsed(parse: Callable[[Any], T], raw: Any) -> T:
    """``parse(raw)`` — a validator of the body; its :class:`CaseError` naming the field
    becomes a 422, and so does a number too large to be an amount at all (``1e400``)."""
    try:
        return parse(raw)
    except ArithmeticError:
        raise ProblemError(422, "a number in the body is out of range (amounts are yuan with at most two decimals)") from None


def validated(model: type[M], raw: Any, what: str) -> M:
    """Validate a decoded body against ``model`` (see :func:`parsed`)."""
    return parsed(lambda r: validate(model, r, what), raw)


EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2199, 12, 31)


def plausible_dates(model: BaseModel, what: str) -> None:
    """Refuse (422) a fact to be stored with a date outside 1900–2199: the lifecycle rules
    count months and days from such dates, and nothing insured lies beyond them."""

    def walk(value: Any, path: str) -> None:
        if isinstance(value, Contribution):
            check(value.first_day, f"{path}.month")
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name), f"{path}.{name}" if path else name)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, dt.date):
            check(value, path)

    def check(day: dt.date, path: str) -> None:
        if not (EARLIEST <= day <= LATEST):
            raise invalid(f"{what}: {path or 'date'} {day.isoformat()} is not between {EARLIEST} and {LATEST}")

    walk(model, "")
