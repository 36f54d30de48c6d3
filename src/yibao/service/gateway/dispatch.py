"""One gateway call, from bytes to the answer.

1. parse and validate the envelope (a bad one is answered ``infcode`` −1 at once);
2. authenticate the caller and check it acts for the envelope's ``fixmedins_code``;
3. in **one database transaction**: claim the ``msgid`` (a replay returns the first answer
   and changes nothing; a concurrent duplicate waits on the claim, then replays), run the
   handler, store the answer and the signed request's nonce. Either all of it commits or
   none of it does — a crash at any point leaves the whole settlement or nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError

from yibao.errors import YibaoError
from yibao.service.auth import AuthError, Caller, authenticate, record_nonce, record_nonce_alone
from yibao.service.codes import Codes
from yibao.service.config import Settings
from yibao.service.db import models as m
from yibao.service.db.engine import Database
from yibao.service.gateway import people, queries, settling, visits  # noqa: F401 - they register the transactions
from yibao.service.gateway.envelope import Envelope, GatewayError, parse_envelope, response
from yibao.service.gateway.registry import TRANSACTIONS, Call

log = logging.getLogger("yibao.gateway")
RETRIES = 5


class Answer:
    def __init__(self, body: dict[str, Any], status: int = 200):
        self.body, self.status = body, status


class Gateway:
    def __init__(self, db: Database, codes: Codes, settings: Settings):
        self.db, self.codes, self.settings = db, codes, settings

    def call(self, body: bytes, headers: dict[str, str]) -> Answer:
        received = dt.datetime.now()
        started = time.perf_counter()
        envelope: Envelope | None = None
        try:
            envelope = parse_envelope(body)
            with self.db.sessions() as session:
                caller = authenticate(session, headers, skew=self.settings.signature_skew)
            answer = self._run(envelope, caller, received)
        except AuthError as exc:
            answer = Answer(response(envelope, None, received=received, error=str(exc)), exc.status)
        except GatewayError as exc:
            answer = Answer(response(envelope, None, received=received, error=str(exc)))
        log.info("infno=%s msgid=%s fixmedins=%s infcode=%s ms=%.1f%s",
                 envelope.infno if envelope else "-", envelope.msgid if envelope else "-",
                 envelope.fixmedins_code if envelope else "-", answer.body["infcode"],
                 (time.perf_counter() - started) * 1000, f" err={answer.body['err_msg']}" if answer.body["infcode"] else "")
        return answer

    def _run(self, envelope: Envelope, caller: Caller, received: dt.datetime) -> Answer:
        if caller.role != "institution" or caller.institution_code != envelope.fixmedins_code:
            record_nonce_alone(self.db, caller)
            raise AuthError(f"caller {caller.paasid} may not act for institution {envelope.fixmedins_code}", 403)
        tx = TRANSACTIONS.get(envelope.infno)
        if tx is None:
            record_nonce_alone(self.db, caller)
            raise GatewayError(f"infno {envelope.infno} is not a transaction this service answers "
                               f"({', '.join(sorted(TRANSACTIONS))})")
        digest = hashlib.sha256(json.dumps([envelope.infno, envelope.input], sort_keys=True, default=str).encode()).hexdigest()
        for attempt in range(RETRIES):
            try:
                return Answer(self._once(tx, envelope, caller, received, digest))
            except IntegrityError as exc:
                if "nonce" in str(exc.orig).lower():
                    raise AuthError("x-tif-nonce was already used (replayed request)") from None
                continue  # a concurrent duplicate msgid committed first: replay its answer
            except OperationalError:
                if attempt == RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))  # a deadlock or a busy database: try the whole call again
            except (GatewayError, YibaoError) as exc:
                record_nonce_alone(self.db, caller)
                raise GatewayError(str(exc)) from None
        raise GatewayError(f"msgid {envelope.msgid}: could not be answered after {RETRIES} attempts")

    def _once(self, tx, envelope: Envelope, caller: Caller, received: dt.datetime, digest: str) -> dict[str, Any]:  # noqa: ANN001
        with self.db.transaction() as session:
            stored = session.get(m.Message, envelope.msgid)
            if stored is not None:
                if stored.institution_code != envelope.fixmedins_code or stored.infno != envelope.infno or stored.digest != digest:
                    raise GatewayError(f"msgid {envelope.msgid} was already used for a different request")
                record_nonce(session, caller)
                return stored.response
            claim = m.Message(msgid=envelope.msgid, institution_code=envelope.fixmedins_code, infno=envelope.infno,
                              digest=digest, response={}, mdtrt_id=_subject(envelope))
            session.add(claim)
            session.flush()  # a concurrent duplicate blocks here until the first commits, then fails and replays
            if self.settings.require_sign_in and envelope.infno != "9001":
                _check_sign_in(session, envelope)
            call = Call(session, envelope, caller, self.codes, self.settings, envelope.msgid, received)
            output = tx.handler(call)
            answer = response(envelope, output, received=received)
            claim.response = answer
            if claim.mdtrt_id is None and isinstance(output, dict):
                claim.mdtrt_id = _created_visit(output)
            record_nonce(session, caller)
            return answer


def _check_sign_in(session, envelope: Envelope) -> None:  # noqa: ANN001
    sign = session.get(m.SignIn, envelope.sign_no) if envelope.sign_no else None
    if sign is None or sign.institution_code != envelope.fixmedins_code:
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
