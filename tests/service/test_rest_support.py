"""Helpers for the REST API tests (no tests here): credentials, persons made through
``POST /api/v1/persons`` and covered by construction, an outpatient visit settled through
the national gateway, and checks of problem documents."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from service.conftest import HZ_HOSPITAL, his_for
from yibao.service.auth import bearer
from yibao.service.client import HisClient

API = "/api/v1"
AGENCY = bearer("agency", "demo-secret-agency")
AUDITOR = bearer("auditor", "demo-secret-auditor")
HZ_HOSPITAL_BEARER = bearer("H33010000001", "demo-secret-hz-1")
HZ_CENTRE_BEARER = bearer("H33010000002", "demo-secret-hz-2")

CONSULT = "001101000010000-110100001"  # 普通门诊诊察费, class A in every demo catalogue
METFORMIN = "XA10BAE054A001010101445"  # 二甲双胍片, class A

_serial = itertools.count(1)


def months(first: str, last: str) -> list[str]:
    y, mo = int(first[:4]), int(first[5:])
    out = []
    while f"{y:04d}-{mo:02d}" <= last:
        out.append(f"{y:04d}-{mo:02d}")
        y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
    return out


def person_doc(*, city: str = "hangzhou", scheme: str = "employee", start: str = "2025-01-01",
               paid_until: str = "2026-12", account: tuple[str, str] | None = ("300.00", "2000.00"), **extra: Any) -> dict[str, Any]:
    """A new person (fresh psn_no and certno) enrolled from ``start`` with every month paid
    on time (an employee) or each year's premium paid (a resident): covered by construction."""
    n = next(_serial)
    admdvs = {"hangzhou": "330106", "jiaxing": "330402", "suizhou": "421302"}[city]
    doc: dict[str, Any] = {
        "psn_no": f"R{dt.datetime.now():%H%M%S}{n:05d}", "city": city, "certno": f"{admdvs}19850601{n % 1000:03d}{n % 10}",
        "name": "测试人员", "gend": "M", "brdy": "1985-06-01", "scheme": scheme,
        "category": "active" if scheme == "employee" else "adult",
    }
    if scheme == "employee":
        doc["employers"] = [{"id": "E1", "name": "示例单位"}]
        doc["enrolments"] = [{"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": start}]
        doc["contributions"] = [{"month": mo, "base": "8000.00", "due": "920.00", "paid": "920.00",
                                 "paid_date": f"{mo}-15", "payer": "employer"} for mo in months(start[:7], paid_until)]
        if account:
            doc["account"] = {"date": "2026-01-01", "current": account[0], "history": account[1]}
    else:
        first = int(start[:4])
        doc["enrolments"] = [{"scheme": "resident", "category": "adult", "mode": "resident", "start": f"{first - 1}-10-01"}]
        doc["contributions"] = [{"month": f"{year}-01", "scheme": "resident", "paid": "400.00", "paid_date": f"{year - 1}-11-15",
                                 "payer": "person", "kind": "premium"} for year in range(first, int(paid_until[:4]) + 1)]
    doc.update(extra)
    return doc


def yibao_settle(path: Path, *options: str) -> Any:
    """What the ``yibao settle`` command prints for a case file."""
    run = subprocess.run([sys.executable, "-m", "yibao", "settle", str(path), *options], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def create_person(client: TestClient, doc: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = doc or person_doc()
    r = client.post(f"{API}/persons", json=doc, headers=AGENCY)
    assert r.status_code == 201, r.text
    return doc


def assert_problem(r: Any, status: int, *fragments: str) -> dict[str, Any]:
    """The response is an RFC 7807 problem with ``status`` whose detail mentions every fragment."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body), body
    assert body["status"] == status
    assert body["type"].startswith("urn:yibao:problem:")
    assert body["instance"] == r.request.url.path
    assert body["request_id"] == r.headers["x-request-id"]
    for fragment in fragments:
        assert fragment in body["detail"], (fragment, body["detail"])
    return body


def hospital(client: TestClient, institution: tuple[str, str, str] = HZ_HOSPITAL) -> HisClient:
    """One signed-in HIS client per institution and test client (msgids count per HIS client)."""
    clients: dict[str, HisClient] = client.__dict__.setdefault("_rest_test_hospitals", {})
    if institution[0] not in clients:
        clients[institution[0]] = his_for(client, institution)
    return clients[institution[0]]


def settle_outpatient(client: TestClient, doc: dict[str, Any], *, institution: tuple[str, str, str] = HZ_HOSPITAL,
                      day: str = "2026-03-10", amounts: tuple[str, str] = ("25.00", "475.00")) -> tuple[str, str, dict]:
    """Register, upload two class-A lines and settle through the gateway; (mdtrt_id, setl_id, 2207 output)."""
    his = hospital(client, institution)
    psn_no, cert = doc["psn_no"], doc["certno"]
    insuplc = {"hangzhou": "330100", "jiaxing": "330400", "suizhou": "421300"}[doc["city"]]
    insutype = "310" if doc["scheme"] == "employee" else "390"
    r = his.call("2201", {"data": {"psn_no": psn_no, "insutype": insutype, "begntime": f"{day} 09:00:00",
                                   "mdtrt_cert_type": "02", "mdtrt_cert_no": cert, "ipt_otp_no": f"MZ{next(_serial)}"}},
                 insuplc_admdvs=insuplc)
    assert r["infcode"] == 0, r["err_msg"]
    mdtrt_id = r["output"]["data"]["mdtrt_id"]
    r = his.call("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11", "begntime": f"{day} 09:00:00"},
                          "diseinfo": [{"diag_type": "1", "diag_srt_no": "1", "diag_code": "J06.900", "diag_name": "上呼吸道感染"}]},
                 insuplc_admdvs=insuplc)
    assert r["infcode"] == 0, r["err_msg"]
    lines = [{"feedetl_sn": str(i), "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B1",
              "fee_ocur_time": f"{day} 09:10:00", "med_list_codg": code, "det_item_fee_sumamt": amount, "cnt": "1", "pric": amount}
             for i, (code, amount) in enumerate(zip((CONSULT, METFORMIN), amounts), start=1)]
    r = his.call("2204", {"feedetail": lines}, insuplc_admdvs=insuplc)
    assert r["infcode"] == 0, r["err_msg"]
    total = sum(Decimal(a) for a in amounts)
    r = his.call("2207", {"data": {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": cert, "med_type": "11",
                                   "medfee_sumamt": f"{total:.2f}", "psn_setlway": "01", "mdtrt_id": mdtrt_id, "chrg_bchno": "B1",
                                   "insutype": insutype, "acct_used_flag": "1"}}, insuplc_admdvs=insuplc)
    assert r["infcode"] == 0, r["err_msg"]
    return mdtrt_id, r["output"]["setlinfo"]["setl_id"], r["output"]


def reverse_outpatient(client: TestClient, psn_no: str, mdtrt_id: str, setl_id: str,
                       institution: tuple[str, str, str] = HZ_HOSPITAL) -> str:
    his = hospital(client, institution)
    r = his.call("2208", {"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "setl_id": setl_id}}, insuplc_admdvs="330100")
    assert r["infcode"] == 0, r["err_msg"]
    return r["output"]["setlinfo"]["setl_id"]
