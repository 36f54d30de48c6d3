"""Who is calling: per-caller credentials, roles, and the signed-header convention.

Every request authenticates in one of two ways:

* **Signed headers** (the regional gateway convention)::

      x-tif-paasid:    the caller's id
      x-tif-timestamp: Unix seconds, within ``signature_skew`` of the server clock
      x-tif-nonce:     a random string, never used twice by the same caller
      x-tif-signature: hex SHA-256 of timestamp + secret + nonce + timestamp

  A replayed nonce is refused (the ``nonces`` table remembers it).
* **Bearer token**: ``Authorization: Bearer <paasid>.<secret>`` — for tools and staff.

Roles: ``institution`` (bound to one fixmedins_code: its own visits only), ``agency``
(manages persons, institutions, the catalogue; may read everything) and ``auditor``
(reads only).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yibao.service.db import models as m
from yibao.service.db.driver import Statements
from yibao.service.db.hot import INSERT_NONCE

if TYPE_CHECKING:
    from yibao.service.cache import TtlCache

ROLES = ("institution", "agency", "auditor")


class AuthError(Exception):
    """The caller is not who they claim, or may not do this."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Caller:
    paasid: str
    role: str
    institution_code: str | None
    nonce: str | None = None  # a signed request's nonce, recorded by the handler's transaction

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise AuthError(f"role {self.role} may not do this (needs {' or '.join(roles)})", 403)


def signature(secret: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha256(f"{timestamp}{secret}{nonce}{timestamp}".encode()).hexdigest()


def signed_headers(paasid: str, secret: str, *, now: float | None = None) -> dict[str, str]:
    """Headers for a signed request (what a client sends)."""
    timestamp = str(int(now if now is not None else time.time()))
    nonce = secrets.token_hex(16)
    return {"x-tif-paasid": paasid, "x-tif-timestamp": timestamp, "x-tif-nonce": nonce,
            "x-tif-signature": signature(secret, timestamp, nonce)}


def bearer(paasid: str, secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {paasid}.{secret}"}


@dataclass(frozen=True)
class _Credential:
    paasid: str
    secret: str
    role: str
    institution_code: str | None


def authenticate(session: Session, headers: dict[str, str], *, skew: int, now: float | None = None,
                 cache: "TtlCache | None" = None) -> Caller:
    """The caller of a request, from its headers; raises :class:`AuthError`.

    A signed request's nonce is not checked here: the caller records it (:func:`record_nonce`)
    in a transaction, where the primary key refuses a second use."""
    paasid = headers.get("x-tif-paasid")
    if paasid:
        return _signed(session, headers, paasid, skew, time.time() if now is None else now, cache)
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
        paasid, _, secret = token.partition(".")
        cred = _credential(session, paasid, cache)
        if not secret or not hmac.compare_digest(cred.secret, secret):
            raise AuthError("invalid bearer token")
        return Caller(cred.paasid, cred.role, cred.institution_code)
    raise AuthError("authentication required: x-tif-* signed headers or a bearer token")


def _credential(session: Session, paasid: str, cache: "TtlCache | None" = None) -> _Credential:
    def load() -> _Credential | None:
        row = session.scalars(select(m.Credential).where(m.Credential.paasid == paasid)).first()
        if row is None or not row.active:
            return None
        return _Credential(row.paasid, row.secret, row.role, row.institution_code)

    cred = cache.get(paasid, load) if cache is not None else load()
    if cred is None:
        raise AuthError("unknown or inactive x-tif-paasid")
    return cred


def _signed(session: Session, headers: dict[str, str], paasid: str, skew: int, now: float,
            cache: "TtlCache | None") -> Caller:
    timestamp, nonce, sig = (headers.get(k, "") for k in ("x-tif-timestamp", "x-tif-nonce", "x-tif-signature"))
    if not (timestamp and nonce and sig):
        raise AuthError("signed request needs x-tif-timestamp, x-tif-nonce and x-tif-signature")
    if not timestamp.isdigit() or abs(int(timestamp) - now) > skew:
        raise AuthError(f"x-tif-timestamp is not within {skew} s of the server clock")
    if len(nonce) > 64:
        raise AuthError("x-tif-nonce is longer than 64 characters")
    cred = _credential(session, paasid, cache)
    if not hmac.compare_digest(signature(cred.secret, timestamp, nonce), sig.lower()):
        raise AuthError("x-tif-signature does not match")
    return Caller(cred.paasid, cred.role, cred.institution_code, nonce=nonce)


def record_nonce(statements: Statements, caller: Caller) -> None:
    """Remember a signed request's nonce in the caller's transaction (a replay fails on the key):
    queued, so that it reaches the database with the transaction's first statements."""
    if caller.nonce is not None:
        statements.queue(INSERT_NONCE, {"paasid": caller.paasid, "nonce": caller.nonce,
                                        "seen_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)})


def spend_nonce(db, caller: Caller) -> bool:  # noqa: ANN001 - a Database
    """Remember a signed request's nonce in a transaction of its own; False if it was spent before."""
    if caller.nonce is None:
        return True
    try:
        with db.transaction() as session:
            statements = Statements(session)
            record_nonce(statements, caller)
            statements.send()
    except IntegrityError:  # the nonce's primary key
        return False
    return True


def new_credential(session: Session, paasid: str, role: str, institution_code: str | None, secret: str | None = None) -> str:
    """Create a credential; returns its secret (shown once)."""
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}", 422)
    if (role == "institution") != (institution_code is not None):
        raise AuthError("an institution credential names its institution, and only it does", 422)
    secret = secret or secrets.token_hex(24)
    session.add(m.Credential(paasid=paasid, role=role, institution_code=institution_code, secret=secret))
    return secret
