"""The append-only audit log, and masking for everything that is logged.

Every state change writes one :class:`~yibao.service.db.models.AuditRecord` in the same
transaction: who (paasid and role), what (action, entity, id, a masked detail), when and
under which request id. Certificate numbers and names never reach a log in clear: the
detail is masked here, and :class:`MaskingFilter` masks ID-number-like strings in every
log line of the ``yibao`` loggers.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from sqlalchemy.orm import Session

from yibao.service.auth import Caller
from yibao.service.db.hot import INSERT_AUDIT
from yibao.service.people import mask_certno, mask_name

SENSITIVE = {"certno": mask_certno, "mdtrt_cert_no": mask_certno, "psn_cert_no": mask_certno, "name": mask_name,
             "psn_name": mask_name, "coner_name": mask_name}
# 18-character resident ID numbers (and 15-digit old ones) anywhere in a log line.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8}|\d{6})(\d{2}[0-9Xx]?)(?![0-9A-Za-z])")


def masked(detail: Any) -> Any:
    """A copy of ``detail`` with sensitive fields masked, at any depth."""
    if isinstance(detail, dict):
        return {k: (SENSITIVE[k](v) if k in SENSITIVE and isinstance(v, str) else masked(v)) for k, v in detail.items()}
    if isinstance(detail, list):
        return [masked(v) for v in detail]
    return detail


def mask_text(text: str) -> str:
    return _ID_NUMBER.sub(lambda mt: mt.group(1)[:3] + "*" * (len(mt.group(0)) - 5) + mt.group(0)[-2:], text)


def audit_row(caller: Caller, request_id: str, action: str, entity: str, entity_id: str,
              detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The audit row of a state change (``hot.INSERT_AUDIT`` values), its detail masked."""
    return {"request_id": request_id, "actor": caller.paasid, "role": caller.role, "action": action, "entity": entity,
            "entity_id": entity_id, "detail": masked(detail or {}), "at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)}


def audit(session: Session, caller: Caller, request_id: str, action: str, entity: str, entity_id: str,
          detail: dict[str, Any] | None = None) -> None:
    """Write the audit row of a state change in the session's transaction."""
    connection = session.connection()
    connection.execute(INSERT_AUDIT.statement(connection.dialect),
                       audit_row(caller, request_id, action, entity, entity_id, detail))


class MaskingFilter(logging.Filter):
    """Masks ID numbers in every record that passes (install on the service's handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage())
        record.args = ()
        return True
