"""Errors of the REST API as RFC 7807 problem documents (``application/problem+json``).

Every refusal under ``/api/v1`` answers with one body::

    {"type": "urn:yibao:problem:validation", "title": "Unprocessable Entity", "status": 422,
     "detail": "enrolments[0].start: '2026-13-01' is not a date YYYY-MM-DD",
     "instance": "/api/v1/persons", "request_id": "4f0c…"}

``type`` names the kind of problem (the list is :data:`KINDS`), ``detail`` is one sentence
naming the field or the record at fault, ``instance`` the request path and ``request_id``
the id echoed in the ``x-request-id`` header. Bad input is always a 4xx: malformed JSON is
400, a missing or wrong credential 401, a role that may not act 403, an unknown or
invisible record 404, a duplicate 409, and everything that fails validation 422.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Optional

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from yibao.errors import YibaoError
from yibao.service.auth import AuthError

log = logging.getLogger("yibao.api")

API_PREFIX = "/api/v1"
MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:yibao:problem:"

#: The problem types, by the status they come with.
KINDS = {
    400: "malformed-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "validation",
    500: "internal",
    503: "unavailable",
}


class Problem(BaseModel):
    """An RFC 7807 problem document."""

    type: str = Field(description="URI naming the kind of problem (`urn:yibao:problem:<kind>`)",
                      examples=["urn:yibao:problem:validation"])
    title: str = Field(description="the HTTP status phrase", examples=["Unprocessable Entity"])
    status: int = Field(description="the HTTP status code", examples=[422])
    detail: str = Field(description="one sentence naming the field or record at fault",
                        examples=["enrolments[0].start: '2026-13-01' is not a date YYYY-MM-DD"])
    instance: str = Field(description="the request path", examples=["/api/v1/persons"])
    request_id: Optional[str] = Field(default=None, description="the request's id (also the `x-request-id` header)")


class ProblemError(Exception):
    """Raised by a handler to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, kind: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.kind, self.headers = status, detail, kind, headers


def not_found(detail: str) -> ProblemError:
    return ProblemError(404, detail)


def conflict(detail: str) -> ProblemError:
    return ProblemError(409, detail)


def invalid(detail: str) -> ProblemError:
    return ProblemError(422, detail)


def request_id_of(request: Request) -> str | None:
    return request.scope.get("yibao.request_id")


def problem_response(request: Request, status: int, detail: str, *, kind: str | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    body = {
        "type": TYPE_PREFIX + (kind or KINDS.get(status, "error")),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": request_id_of(request),
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def _is_api(request: Request) -> bool:
    return request.url.path == API_PREFIX or request.url.path.startswith(API_PREFIX + "/")


def describe_validation(exc: RequestValidationError) -> str:
    """One sentence for FastAPI's parameter validation: which parameter, and why."""
    errors = exc.errors()
    if not errors:
        return "the request does not validate"
    err = errors[0]
    loc = [str(part) for part in err.get("loc", ())]
    places = {"query": "query parameter", "path": "path parameter", "header": "header", "body": "body"}
    where = places.get(loc[0], loc[0]) if loc else "request"
    name = ".".join(loc[1:]) or "value"
    got = err.get("input")
    shown = f" (got {got!r})" if isinstance(got, (str, int)) and len(str(got)) <= 60 else ""
    return f"{where} {name}: {err.get('msg', 'is not valid')}{shown}"


def install(app: FastAPI) -> None:
    """Answer every error under ``/api/v1`` with a problem document (other paths keep their own answers)."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(request, exc.status, exc.detail, kind=exc.kind, headers=exc.headers)

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="yibao"'} if exc.status == 401 else None
        return problem_response(request, exc.status, str(exc), headers=headers)

    @app.exception_handler(YibaoError)
    async def _yibao(request: Request, exc: YibaoError) -> JSONResponse:
        return problem_response(request, 422, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if not _is_api(request):
            return await request_validation_exception_handler(request, exc)
        return problem_response(request, 422, describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Any:
        if not _is_api(request):
            return await http_exception_handler(request, exc)
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no resource at {request.url.path}"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(request, exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # A concurrent request stored the same key first (the handlers check before writing).
        return problem_response(request, 409, "the change conflicts with a record stored meanwhile; read it and try again")

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc.orig).__name__ if exc.orig is not None else "OperationalError")
        return problem_response(request, 503, "the database is busy or unavailable; try again", headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s on %s %s (request %s)", type(exc).__name__, request.method, request.url.path,
                  request_id_of(request))
        return problem_response(request, 500, "an unexpected error; the request id identifies it in the service's log")


def responses(*statuses: int, parameters: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problem statuses a route may answer (422 too
    when it takes parameters: their validation answers a problem as well)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses) | ({422} if parameters else set())):
        out[status] = {"description": f"{HTTPStatus(status).phrase} ({KINDS.get(status, 'error')})",
                       "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    return out
