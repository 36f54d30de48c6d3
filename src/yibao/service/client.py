"""A small client for the national gateway: envelopes, msgids, signed headers.

Used by the tests, the load benchmark and the README's examples; an HIS integrator can
read it as the executable description of what the gateway expects::

    his = HisClient(base_url, institution_code="H33010000001", paasid="H33010000001", secret="…",
                    admdvs="330100")
    his.sign_in()
    reg = his.call("2201", {"data": {...}})
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import secrets
import threading
from decimal import Decimal
from typing import Any

from yibao.service.auth import signed_headers

GATEWAY_PATH = "/fsi/api/rsfComIfsService/callService"


class MsgIds:
    """msgid = institution code + yyyyMMddHHmmss + sequence, 30 characters in all."""

    def __init__(self, institution_code: str):
        self.code = institution_code
        # a random start: two clients of one institution in the same second do not collide
        self._seq = itertools.count(secrets.randbelow(10**6))
        self._lock = threading.Lock()

    def next(self, now: dt.datetime | None = None) -> str:
        with self._lock:
            n = next(self._seq)
        stamp = f"{(now or dt.datetime.now()):%Y%m%d%H%M%S}"
        width = 30 - len(self.code) - len(stamp)
        return f"{self.code}{stamp}{n % 10**width:0{width}d}"


def envelope(infno: str, input_: dict[str, Any], *, msgid: str, institution_code: str, admdvs: str,
             insuplc_admdvs: str | None = None, sign_no: str | None = None, opter: str = "001",
             inf_time: dt.datetime | None = None) -> dict[str, Any]:
    return {
        "infno": infno, "msgid": msgid, "mdtrtarea_admvs": admdvs, "insuplc_admdvs": insuplc_admdvs or "",
        "recer_sys_code": "HIS", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "SM2",
        "infver": "V1.0", "opter_type": "1", "opter": opter, "opter_name": "收费员",
        "inf_time": f"{(inf_time or dt.datetime.now()):%Y-%m-%d %H:%M:%S}",
        "fixmedins_code": institution_code, "fixmedins_name": "", "sign_no": sign_no or "", "input": input_,
    }


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, default=lambda o: str(o) if isinstance(o, Decimal) else o).encode()


class HisClient:
    """A hospital system's view of the gateway over any HTTP client with ``post(url, content=, headers=)``."""

    def __init__(self, http: Any, *, institution_code: str, paasid: str, secret: str, admdvs: str):
        self.http = http
        self.code, self.paasid, self.secret, self.admdvs = institution_code, paasid, secret, admdvs
        self.msgids = MsgIds(institution_code)
        self.sign_no: str | None = None

    def request(self, infno: str, input_: dict[str, Any], *, msgid: str | None = None,
                insuplc_admdvs: str | None = None, inf_time: dt.datetime | None = None) -> tuple[str, bytes, dict[str, str]]:
        msgid = msgid or self.msgids.next()
        body = dumps(envelope(infno, input_, msgid=msgid, institution_code=self.code, admdvs=self.admdvs,
                              insuplc_admdvs=insuplc_admdvs, sign_no=self.sign_no, inf_time=inf_time))
        headers = {"content-type": "application/json", **signed_headers(self.paasid, self.secret)}
        return msgid, body, headers

    def call(self, infno: str, input_: dict[str, Any], **kw: Any) -> dict[str, Any]:
        _, body, headers = self.request(infno, input_, **kw)
        return self.http.post(GATEWAY_PATH, content=body, headers=headers).json()

    def sign_in(self) -> str:
        out = self.call("9001", {"signIn": {"opter_no": "001", "mac": "00-00-00-00-00-00", "ip": "127.0.0.1"}})
        if out["infcode"] != 0:
            raise RuntimeError(out["err_msg"])
        self.sign_no = out["output"]["signinoutb"]["sign_no"]
        return self.sign_no
