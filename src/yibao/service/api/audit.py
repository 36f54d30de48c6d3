"""The audit log (审计日志), newest first: who changed what, when, under which request.

Read by the agency and auditors only. Records are written by every state change — REST
writes and gateway transactions alike — in the change's own transaction; names and
certificate numbers in them are masked.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from yibao.service.api.deps import OverseerCaller, PagingDep, ServiceDep
from yibao.service.api.problems import responses
from yibao.service.db import models as m

router = APIRouter(tags=["audit"])


class AuditRecordView(BaseModel):
    id: int
    at: dt.datetime
    request_id: str = Field(description="the x-request-id of a REST request, the msgid of a gateway message")
    actor: str = Field(description="the caller's paasid")
    role: str
    action: str = Field(examples=["person.create", "2207 settle"])
    entity: str
    entity_id: str
    detail: dict[str, Any] = Field(description="what changed; names and certificate numbers masked")


class AuditPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[AuditRecordView]


@router.get("/audit", summary="Read the audit log", response_model=AuditPage, responses=responses(401, 403, 422))
def read_audit(caller: OverseerCaller, service: ServiceDep, page: PagingDep,
               entity: Annotated[Optional[str], Query(max_length=40, description="e.g. person, visit, settlement")] = None,
               entity_id: Annotated[Optional[str], Query(max_length=60)] = None,
               actor: Annotated[Optional[str], Query(max_length=64, description="a paasid")] = None,
               request_id: Annotated[Optional[str], Query(max_length=64)] = None) -> dict[str, Any]:
    """Audit records, newest first, optionally narrowed to one entity, actor or request."""
    a = m.AuditRecord
    query = select(a)
    for column, value in ((a.entity, entity), (a.entity_id, entity_id), (a.actor, actor), (a.request_id, request_id)):
        if value:
            query = query.where(column == value)
    with service.db.sessions() as session:
        return page.page(session, query, (a.id.desc(),), lambda r: {
            "id": r.id, "at": r.at, "request_id": r.request_id, "actor": r.actor, "role": r.role, "action": r.action,
            "entity": r.entity, "entity_id": r.entity_id, "detail": r.detail})
