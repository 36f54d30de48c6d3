"""The national interface's envelope: the request every transaction arrives in, and the
response every transaction answers with (``docs/service/gateway.md``)."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from decimal import Decimal
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from yibao.case import _describe


class GatewayError(Exception):
    """A refusal: answered with ``infcode`` −1 and this message as ``err_msg``."""


class Envelope(BaseModel):
    """The fields the service reads; the other envelope fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow", frozen=True)

    infno: str = Field(pattern=r"^\d{4}$")
    msgid: str = Field(min_length=30, max_length=30)
    mdtrtarea_admvs: str = Field(pattern=r"^\d{6}$")
    insuplc_admdvs: Optional[str] = Field(default=None, pattern=r"^(\d{6})?$")
    recer_sys_code: Optional[str] = None
    infver: Optional[str] = None
    opter_type: Optional[str] = Field(default=None, pattern=r"^[123]$")
    opter: str = Field(min_length=1, max_length=30)
    opter_name: Optional[str] = None
    inf_time: str
    fixmedins_code: str = Field(min_length=1, max_length=20)
    fixmedins_name: Optional[str] = None
    sign_no: Optional[str] = None
    input: dict[str, Any] = Field(default_factory=dict)

    @field_validator("inf_time")
    @classmethod
    def _inf_time(cls, value: str) -> str:
        parse_datetime(value, "inf_time")
        return value

    @property
    def time(self) -> dt.datetime:
        return parse_datetime(self.inf_time, "inf_time")


def parse_envelope(body: bytes) -> Envelope:
    try:
        raw = json.loads(body, parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GatewayError(f"the request body is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise GatewayError("the request body must be a JSON object (the envelope)")
    try:
        envelope = Envelope.model_validate(raw)
    except ValidationError as exc:
        raise GatewayError(_describe(exc, raw, "the envelope")) from None
    if not envelope.msgid.startswith(envelope.fixmedins_code) or not _MSGID_TAIL.match(envelope.msgid[len(envelope.fixmedins_code):]):
        raise GatewayError("msgid must be fixmedins_code + yyyyMMddHHmmss + a sequence number (30 characters)")
    return envelope


_MSGID_TAIL = re.compile(r"^\d{14}\d+$")


#: the national interface's datetime, ``yyyy-MM-dd HH:mm:ss`` exactly (ASCII digits only)
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)


def parse_datetime(value: Any, field: str) -> dt.datetime:
    """A ``yyyy-MM-dd HH:mm:ss`` text as a datetime. The shape is checked first, so the ISO
    parser (many times faster than ``strptime``) sees nothing but that shape."""
    if isinstance(value, str) and _DATETIME.fullmatch(value):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise GatewayError(f"{field}: {value!r} is not a datetime yyyy-MM-dd HH:mm:ss")


def response(envelope: Envelope | None, output: Any, *, received: dt.datetime, error: str | None = None) -> dict[str, Any]:
    now = dt.datetime.now()
    return {
        "infcode": -1 if error else 0,
        "inf_refmsgid": f"{(envelope.mdtrtarea_admvs if envelope else '000000')}{now:%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}",
        "refmsg_time": f"{received:%Y%m%d%H%M%S}{received.microsecond // 1000:03d}",
        "respond_time": f"{now:%Y%m%d%H%M%S}{now.microsecond // 1000:03d}",
        "err_msg": (error or "")[:200] if error else None,
        "output": output if not error else {},
    }
