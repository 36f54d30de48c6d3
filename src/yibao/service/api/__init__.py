"""The REST API under ``/api/v1``: persons, accounts, institutions, the catalogue,
settlement preview, settlements and visits, and the audit log (``docs/service/rest.md``).

:func:`mount` adds it to the application. Every route authenticates (``deps``), answers
errors as RFC 7807 problem documents (``problems``), and carries a request id: the
client's ``x-request-id`` header (a token of at most 64 characters) or a new uuid4 hex,
echoed in the response's ``x-request-id`` header and written into every audit record the
request causes. Writes run in one transaction each, with their audit record; reads use a
short session. Request bodies and certificate numbers are never logged.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from yibao.service.api import accounts, audit, catalogue, institutions, openapi, persons, preview, problems, settlements
from yibao.service.api.deps import REQUEST_ID_HEADER, AnyCaller, new_request_id
from yibao.service.api.problems import API_PREFIX

if TYPE_CHECKING:
    from yibao.service.app import Service

log = logging.getLogger("yibao.api")

TAGS = [
    {"name": "persons", "description": "参保人员: person documents, enrolments, life events, coverage, running totals"},
    {"name": "accounts", "description": "个人账户: balances (当年/历年) and movements"},
    {"name": "institutions", "description": "定点医药机构"},
    {"name": "catalogue", "description": "医保目录: dated entries per city, CSV loading"},
    {"name": "settlement preview", "description": "试算: settle a case without storing anything"},
    {"name": "settlements", "description": "结算 and 就诊 as recorded by the national gateway"},
    {"name": "audit", "description": "审计日志"},
    {"name": "caller", "description": "who the credentials identify"},
]


class CallerView(BaseModel):
    paasid: str
    role: str = Field(description="institution, agency or auditor")
    institution_code: str | None = None


class RequestIds:
    """ASGI middleware: give every ``/api/`` request an id and echo it in ``x-request-id``;
    log one line per request (method, path, status, time, caller) — never its body."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        offered = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == REQUEST_ID_HEADER.encode()), None)
        rid = new_request_id(offered)
        scope["yibao.request_id"] = rid
        started = time.perf_counter()
        status: list[int] = []

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                headers = [h for h in message.get("headers", []) if h[0].lower() != REQUEST_ID_HEADER.encode()]
                message["headers"] = headers + [(REQUEST_ID_HEADER.encode(), rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            caller = scope.get("yibao.caller")
            log.info("%s %s status=%s ms=%.1f caller=%s request_id=%s", scope["method"], scope["path"],
                     status[0] if status else "-", (time.perf_counter() - started) * 1000,
                     caller.paasid if caller is not None else "-", rid)


def mount(app: FastAPI, service: "Service") -> None:
    """Add the REST API, its error handling and its documentation to ``app``; the handlers
    find ``service`` on ``app.state``."""
    app.state.service = service
    api = APIRouter(prefix=API_PREFIX)

    @api.get("/me", tags=["caller"], summary="The authenticated caller", response_model=CallerView,
             responses=problems.responses(401, parameters=False))
    def me(caller: AnyCaller) -> dict[str, Any]:
        """The paasid, role and institution the request's credentials identify."""
        return {"paasid": caller.paasid, "role": caller.role, "institution_code": caller.institution_code}

    for module in (persons, accounts, institutions, catalogue, preview, settlements, audit):
        api.include_router(module.router)
    app.include_router(api)
    app.openapi_tags = (app.openapi_tags or []) + TAGS
    problems.install(app)
    openapi.install(app)
    app.add_middleware(RequestIds)


__all__ = ["mount"]
