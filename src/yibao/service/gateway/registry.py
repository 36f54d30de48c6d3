"""The transaction table and what every handler receives."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.orm import Session

from yibao.case import _describe
from yibao.service.audit import audit_row
from yibao.service.auth import Caller
from yibao.service.cache import Caches
from yibao.service.codes import Codes
from yibao.service.config import Settings
from yibao.service.policies import Policies
from yibao.service.db import models as m
from yibao.service.db.driver import Statements
from yibao.service.db.hot import INSERT_AUDIT
from yibao.service.gateway.envelope import Envelope, GatewayError


@dataclass(frozen=True)
class Institution:
    """What a transaction reads of the calling institution (cached per process)."""

    code: str
    name: str
    city: str
    admdvs: str
    level: str


@dataclass
class Call:
    """One transaction being answered, inside its database transaction."""

    #: the transaction's statements run at the driver (the settlement path; every call's nonce,
    #: audit row and answer); the ORM :attr:`session` shares the transaction
    statements: Statements
    envelope: Envelope
    caller: Caller
    codes: Codes
    settings: Settings
    request_id: str
    received: dt.datetime
    caches: Caches
    policies: Policies

    @property
    def session(self) -> Session:
        """The ORM session, once the queued statements are sent: the database sees every
        statement in the order the handler issued it."""
        self.statements.send()
        return self.statements.session

    @property
    def input(self) -> dict[str, Any]:
        return self.envelope.input

    @property
    def institution(self) -> Institution:
        code = self.envelope.fixmedins_code

        def load() -> Institution | None:
            row = self.session.get(m.Institution, code)
            return Institution(row.code, row.name, row.city, row.admdvs, row.level) if row is not None else None

        inst = self.caches.institutions.get(code, load)
        if inst is None:
            raise GatewayError(f"fixmedins_code {self.envelope.fixmedins_code} is not a 定点医药机构 of this agency")
        return inst

    def audit(self, action: str, entity: str, entity_id: str, detail: dict[str, Any] | None = None) -> None:
        """Queue the audit row of a state change (sent with the transaction's last statements)."""
        self.statements.queue(INSERT_AUDIT, audit_row(
            self.caller, self.request_id, f"{self.envelope.infno} {action}", entity, entity_id,
            {"msgid": self.envelope.msgid, **(detail or {})}))

    def visit(self, mdtrt_id: Any, psn_no: Any = None) -> m.Visit:
        """A visit of the calling institution (another institution's visit is not found)."""
        return self.own_visit(self.session.get(m.Visit, str(mdtrt_id)) if mdtrt_id else None, mdtrt_id, psn_no)

    def own_visit(self, visit: Any, mdtrt_id: Any, psn_no: Any = None) -> Any:
        """``visit`` as read by ``mdtrt_id`` (an ORM object or a row), if it is the calling
        institution's (and ``psn_no``'s); refused otherwise, as another institution's visit is not found."""
        if visit is None or visit.institution_code != self.envelope.fixmedins_code:
            raise GatewayError(f"mdtrt_id {mdtrt_id} is not a visit of institution {self.envelope.fixmedins_code}")
        if psn_no is not None and str(psn_no) != visit.psn_no:
            raise GatewayError(f"mdtrt_id {mdtrt_id} is not a visit of psn_no {psn_no}")
        return visit


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Transaction:
    infno: str
    name: str
    handler: Handler


TRANSACTIONS: dict[str, Transaction] = {}


def register(infno: str, name: str, handler: Handler) -> None:
    if infno in TRANSACTIONS:
        raise ValueError(f"transaction {infno} is registered twice")
    TRANSACTIONS[infno] = Transaction(infno, name, handler)


def transaction(infno: str, name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``infno``."""
    def decorate(handler: Handler) -> Handler:
        register(infno, name, handler)
        return handler

    return decorate


class Node(BaseModel):
    """An input node: the fields the handler reads are validated; others are kept, unread."""

    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)


N = TypeVar("N", bound=Node)


def node(call: Call, model: type[N], name: str = "data") -> N:
    raw = call.input.get(name)
    if not isinstance(raw, dict):
        raise GatewayError(f"input.{name} is missing or not an object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise GatewayError(f"input.{name}: {_describe(exc, raw, f'input.{name}')}") from None


def nodes(call: Call, model: type[N], name: str) -> list[N]:
    raw = call.input.get(name)
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise GatewayError(f"input.{name} is missing or empty")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise GatewayError(f"input.{name}[{i}] is not an object")
        try:
            out.append(model.model_validate(item))
        except ValidationError as exc:
            raise GatewayError(f"input.{name}[{i}]: {_describe(exc, item, f'input.{name}[{i}]')}") from None
    return out
