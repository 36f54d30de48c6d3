"""One gateway call, from bytes to the answer.

1. parse and validate the envelope (a bad one is answered ``infcode`` −1 at once);
2. authenticate the caller and check it acts for the envelope's ``fixmedins_code``;
3. in **one database transaction**: record the signed request's nonce (a replayed request
   fails on its key), run the handler, store the answer under its ``msgid``. Either all of
   it commits or none of it does — a crash at any point leaves the whole settlement or
   nothing. A replayed ``msgid`` fails on its own effects (the visit is settled already)
   or on the stored answer's key, rolls back, and is answered with the stored answer: the
   first answer, and nothing changed. A concurrent duplicate waits on the person's lock
   and then replays the same way.

The nonce, the audit rows and the answer are written through the transaction's
driver-level :class:`~yibao.service.db.driver.Statements`, queued and sent with the
handler's next statements: a settlement is two round trips in all (``db/hot.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from yibao.errors import YibaoError
from yibao.service.auth import AuthError, Caller, authenticate, record_nonce, spend_nonce
from yibao.service.cache import Caches
from yibao.service.codes import Codes
from yibao.service.config import Settings
from yibao.service.policies import Policies
from yibao.service.db import models as m
from yibao.service.db.driver import Statements
from yibao.service.db.engine import Database
from yibao.service.db.hot import INSERT_MESSAGE
from yibao.service.gateway import people, queries, settling, visits  # noqa: F401 - they register the transactions
from yibao.service.gateway.envelope import Envelope, GatewayError, parse_envelope, response
from yibao.service.gateway.registry import TRANSACTIONS, Call, Transaction

log = logging.getLogger("yibao.gateway")
RETRIES = 5


class Answer:
    def __init__(self, body: dict[str, Any], status: int = 200):
        self.body, self.status = body, status


class Gateway:
    def __init__(self, db: Database, codes: Codes, settings: Settings, caches: Caches | None = None,
                 policies: Policies | None = None):
        self.db, self.codes, self.settings = db, codes, settings
        self.caches = caches or Caches()
        self.policies = policies or Policies(settings.overlays)

    def call(self, body: bytes, headers: dict[str, str]) -> Answer:
        received = dt.datetime.now()
        started = time.perf_counter()
        envelope: Envelope | None = None
        try:
            envelope = parse_envelope(body)
            answer = Answer(self._run(envelope, headers, received))
        except AuthError as exc:
            answer = Answer(response(envelope, None, received=received, error=str(exc)), exc.status)
        except GatewayError as exc:
            answer = Answer(response(envelope, None, received=received, error=str(exc)))
        log.info("infno=%s msgid=%s fixmedins=%s infcode=%s ms=%.1f%s",
                 envelope.infno if envelope else "-", envelope.msgid if envelope else "-",
                 envelope.fixmedins_code if envelope else "-", answer.body["infcode"],
                 (time.perf_counter() - started) * 1000, f" err={answer.body['err_msg']}" if answer.body["infcode"] else "")
        return answer

    def _run(self, envelope: Envelope, headers: dict[str, str], received: dt.datetime) -> dict[str, Any]:
        with self.db.sessions() as session:  # a cached credential needs no database at all
            caller = authenticate(session, headers, skew=self.settings.signature_skew,
                                  cache=self.caches.credentials)
        tx = TRANSACTIONS.get(envelope.infno)
        digest = hashlib.sha256(json.dumps([envelope.infno, envelope.input], sort_keys=True, default=str).encode()).hexdigest()
        try:
            return self._attempts(tx, envelope, caller, received, digest)
        except (AuthError, GatewayError) as exc:
            if not getattr(exc, "replayed_nonce", False):
                spend_nonce(self.db, caller)  # a refused request spends its nonce too
            raise

    def _attempts(self, tx: Transaction | None, envelope: Envelope, caller: Caller, received: dt.datetime,
                  digest: str) -> dict[str, Any]:
        for attempt in range(RETRIES):
            try:
                return self._once(tx, envelope, caller, received, digest)
            except IntegrityError as exc:
                if "nonce" in str(exc.orig).lower():
                    refused = AuthError("x-tif-nonce was already used (replayed request)")
                    refused.replayed_nonce = True  # type: ignore[attr-defined]
                    raise refused from None
                stored = self._stored(envelope, digest)  # the msgid was answered (perhaps concurrently): replay
                if stored is not None:
                    return stored
                raise
            except OperationalError:
                if attempt == RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))  # a deadlock or a busy database: try the whole call again
            except (GatewayError, YibaoError) as exc:
                stored = self._stored(envelope, digest)  # a replay of an answered message fails on its own effects
                if stored is not None:
                    return stored
                raise GatewayError(str(exc)) from None
        raise GatewayError(f"msgid {envelope.msgid}: could not be answered after {RETRIES} attempts")

    def _once(self, tx: Transaction | None, envelope: Envelope, caller: Caller, received: dt.datetime,
              digest: str) -> dict[str, Any]:
        """Everything in one transaction. The answer is stored last, keyed by msgid: a
        replay either fails on its own effects or on that key, and then gets the stored answer."""
        with self.db.transaction() as session:
            # handlers flush where a later read needs it; no flush before every query
            session.autoflush = False
            statements = Statements(session)
            record_nonce(statements, caller)  # first: a replayed signed request fails on the key, whatever else it did
            try:
                output = self._handle(tx, envelope, caller, received, statements)
            except (AuthError, GatewayError, YibaoError):
                statements.send()  # a refusal of a replayed signed request is the nonce's: it is checked first
                raise
            answer = response(envelope, output, received=received)
            subject = _subject(envelope) or (_created_visit(output) if isinstance(output, dict) else None)
            statements.queue(INSERT_MESSAGE, {
                "msgid": envelope.msgid, "institution_code": envelope.fixmedins_code, "infno": envelope.infno,
                "digest": digest, "response": answer, "mdtrt_id": subject, "created_at": received})
            session.flush()  # the handler's ORM changes, then the queued statements: in the order they were made
            statements.commit()
            return answer

    def _handle(self, tx: Transaction | None, envelope: Envelope, caller: Caller, received: dt.datetime,
                statements: Statements) -> Any:
        if caller.role != "institution" or caller.institution_code != envelope.fixmedins_code:
            raise AuthError(f"caller {caller.paasid} may not act for institution {envelope.fixmedins_code}", 403)
        if tx is None:
            raise GatewayError(f"infno {envelope.infno} is not a transaction this service answers "
                               f"({', '.join(sorted(TRANSACTIONS))})")
        if self.settings.require_sign_in and envelope.infno != "9001":
            self._check_sign_in(statements.session, envelope)
        return tx.handler(Call(statements, envelope, caller, self.codes, self.settings, envelope.msgid, received,
                               self.caches, self.policies))

    def _stored(self, envelope: Envelope, digest: str) -> dict[str, Any] | None:
        with self.db.sessions() as session:
            stored = session.get(m.Message, envelope.msgid)
            if stored is None:
                return None
            if stored.digest == settling.CORRECTED and stored.institution_code == envelope.fixmedins_code:
                raise GatewayError(f"msgid {envelope.msgid} was corrected (2601) before it arrived; it takes no effect")
            if stored.institution_code != envelope.fixmedins_code or stored.infno != envelope.infno or stored.digest != digest:
                raise GatewayError(f"msgid {envelope.msgid} was already used for a different request")
            return stored.response

    def _check_sign_in(self, session: Session, envelope: Envelope) -> None:
        def load() -> str | None:
            sign = session.get(m.SignIn, envelope.sign_no) if envelope.sign_no else None
            return sign.institution_code if sign is not None else None

        owner = self.caches.sign_ins.get(envelope.sign_no, load) if envelope.sign_no else None
        if owner != envelope.fixmedins_code:
            raise GatewayError("sign_no is missing or not a sign-in of this institution; sign in with 9001 first")


def _subject(envelope: Envelope) -> str | None:
    """The visit a message is about, for 2601 to find later."""
    for name in ("data", "mdtrtinfo", "dscginfo"):
        node = envelope.input.get(name)
        if isinstance(node, dict) and node.get("mdtrt_id"):
            return str(node["mdtrt_id"])[:30]
    lines = envelope.input.get("feedetail")
    if isinstance(lines, list) and lines and isinstance(lines[0], dict) and lines[0].get("mdtrt_id"):
        return str(lines[0]["mdtrt_id"])[:30]
    return None


def _created_visit(output: dict[str, Any]) -> str | None:
    result = output.get("data") or output.get("result")
    return result.get("mdtrt_id") if isinstance(result, dict) else None
