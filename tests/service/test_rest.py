"""The REST API under /api/v1: authentication, roles, problem documents, request ids,
the OpenAPI document, settlement preview, institutions, the catalogue and the audit log.

Every test runs on SQLite and on PostgreSQL (the ``client`` fixture), against the real
application with the demo data loaded.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from service.test_rest_support import (
    AGENCY, API, AUDITOR, HZ_CENTRE_BEARER, HZ_HOSPITAL_BEARER, assert_problem, create_person, person_doc, yibao_settle,
)
from yibao.service.auth import bearer, signature, signed_headers

SHARED = Path(__file__).resolve().parents[1] / "data" / "shared_cases"
CASES = sorted(SHARED.glob("*.case.json"))
AMOUNTS = ["medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc",
           "hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "oth_pay", "fund_pay_sumamt", "acct_pay", "acct_mulaid_pay",
           "psn_cash_pay", "psn_part_amt", "balc"]


def api_routes(client) -> list[tuple[str, str]]:
    """Every (method, path) of the REST API as the OpenAPI document lists it, path parameters filled in."""
    out = []
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        if not path.startswith(API):
            continue
        filled = path.replace("{city}", "hangzhou")
        while "{" in filled:
            start, end = filled.index("{"), filled.index("}")
            filled = filled[:start] + "x" + filled[end + 1:]
        out.extend((method.upper(), filled) for method in operations)
    return out


JSON, CSV = "application/json", "text/csv"
WRITES = [  # (path, body, content type): one of each write of the API
    (f"{API}/persons", json.dumps(person_doc()), JSON),
    (f"{API}/persons/33010000000001/enrolments",
     json.dumps({"scheme": "resident", "category": "adult", "mode": "resident", "start": "2010-01-01", "end": "2010-12-31"}), JSON),
    (f"{API}/persons/33010000000001/events", json.dumps({"date": "2026-05-01", "type": "arrears_order"}), JSON),
    (f"{API}/persons/33010000000001/account/entries", json.dumps({"kind": "credit", "date": "2026-02-01", "current": "10.00"}), JSON),
    (f"{API}/institutions",
     json.dumps({"code": "H33010000099", "name": "x", "city": "hangzhou", "admdvs": "330106", "level": "secondary"}), JSON),
    (f"{API}/catalogue/hangzhou", "code,name,class,selfpay_ratio,price_limit,begin_date,end_date\nZ1,x,A,,,2026-01-01,\n", CSV),
]


# ---------------------------------------------------------------------- service endpoints and documentation


def test_health_and_docs_need_no_credentials(client):
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/v1/persons", "/api/v1/persons/{psn_no}/account/entries", "/api/v1/settle/preview",
                 "/api/v1/settlements/{setl_id}", "/api/v1/visits/{mdtrt_id}", "/api/v1/audit", "/api/v1/catalogue/{city}"):
        assert path in paths, path
    for path, operations in paths.items():
        if not path.startswith(API):
            continue
        for method, op in operations.items():
            assert op.get("summary") and op.get("tags"), (method, path)
            assert "HTTPValidationError" not in json.dumps(op), (method, path)  # errors are problem documents
    # Every $ref resolves; the request bodies name their models.
    text = json.dumps(schema)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in schema["components"]["schemas"], ref
    body = paths["/api/v1/persons"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/PersonDocument") and body["example"]["psn_no"]
    assert "text/csv" in paths["/api/v1/catalogue/{city}"]["post"]["requestBody"]["content"]


def test_every_api_route_refuses_a_request_without_credentials(client):
    routes = api_routes(client)
    assert len(routes) >= 20
    for method, path in routes:
        r = client.request(method, path, content=b"{}", headers={"content-type": "application/json"})
        body = assert_problem(r, 401, "authentication required")
        assert r.headers["www-authenticate"].startswith("Bearer"), (method, path)
        assert body["type"] == "urn:yibao:problem:unauthenticated"


def test_wrong_credentials_are_401(client):
    assert_problem(client.get(f"{API}/me", headers=bearer("agency", "not-the-secret")), 401, "invalid bearer token")
    assert_problem(client.get(f"{API}/me", headers=bearer("nobody", "x")), 401, "unknown or inactive")
    assert_problem(client.get(f"{API}/me", headers={"Authorization": "Basic YWdlbmN5Og=="}), 401)
    headers = signed_headers("agency", "demo-secret-agency")
    headers["x-tif-signature"] = "0" * 64
    assert_problem(client.get(f"{API}/me", headers=headers), 401, "does not match")
    stale = signed_headers("agency", "demo-secret-agency", now=time.time() - 3600)
    assert_problem(client.get(f"{API}/me", headers=stale), 401, "x-tif-timestamp")


def test_signed_headers_authenticate_and_a_replayed_nonce_is_refused(client):
    headers = signed_headers("auditor", "demo-secret-auditor")
    r = client.get(f"{API}/me", headers=headers)
    assert r.status_code == 200 and r.json() == {"paasid": "auditor", "role": "auditor", "institution_code": None}
    assert_problem(client.get(f"{API}/persons", headers=headers), 401, "already used")
    # A nonce is spent even when the request it came with is refused afterwards (403 here).
    headers = signed_headers("auditor", "demo-secret-auditor")
    assert_problem(client.post(f"{API}/institutions", json={}, headers=headers), 403)
    assert_problem(client.get(f"{API}/me", headers=headers), 401, "already used")
    # Bearer tokens and signed headers of an institution identify it.
    assert client.get(f"{API}/me", headers=HZ_HOSPITAL_BEARER).json()["institution_code"] == "H33010000001"
    ts = str(int(time.time()))
    signed = {"x-tif-paasid": "H33010000002", "x-tif-timestamp": ts, "x-tif-nonce": "n-1",
              "x-tif-signature": signature("demo-secret-hz-2", ts, "n-1")}
    assert client.get(f"{API}/me", headers=signed).json()["institution_code"] == "H33010000002"


@pytest.mark.parametrize("who", ["auditor", "institution"])
def test_only_the_agency_writes(client, who):
    headers = AUDITOR if who == "auditor" else HZ_HOSPITAL_BEARER
    posts = {path for path, ops in client.get("/openapi.json").json()["paths"].items() if "post" in ops}
    assert posts - {f"{API}/settle/preview", "/fsi/api/rsfComIfsService/callService"} == {
        f"{API}/persons", f"{API}/persons/{{psn_no}}/enrolments", f"{API}/persons/{{psn_no}}/events",
        f"{API}/persons/{{psn_no}}/account/entries", f"{API}/institutions", f"{API}/catalogue/{{city}}"}, "WRITES covers every write"
    before = client.get(f"{API}/audit", headers=AGENCY).json()["total"]
    for path, body, content_type in WRITES:
        r = client.post(path, content=body.encode(), headers={**headers, "content-type": content_type})
        assert_problem(r, 403, f"role {who}", "agency")
    assert client.get(f"{API}/audit", headers=AGENCY).json()["total"] == before
    assert client.get(f"{API}/institutions/H33010000099", headers=AGENCY).status_code == 404


def test_request_ids_are_echoed_and_audited(client):
    r = client.post(f"{API}/institutions", headers={**AGENCY, "x-request-id": "req-42.a"},
                    json={"code": "H33010000077", "name": "杭州示例门诊部", "city": "hangzhou", "admdvs": "330106", "level": "clinic"})
    assert r.status_code == 201 and r.headers["x-request-id"] == "req-42.a"
    records = client.get(f"{API}/audit", params={"request_id": "req-42.a"}, headers=AUDITOR).json()["items"]
    assert [(a["action"], a["entity"], a["entity_id"], a["actor"], a["role"]) for a in records] == [
        ("institution.create", "institution", "H33010000077", "agency", "agency")]
    # Without one (or with one that is not a plain token), a new uuid4 hex.
    for headers in (AGENCY, {**AGENCY, "x-request-id": "bad id with spaces"}):
        rid = client.get(f"{API}/me", headers=headers).headers["x-request-id"]
        assert len(rid) == 32 and int(rid, 16) >= 0
    assert "x-request-id" in client.get(f"{API}/nowhere", headers=AGENCY).headers


# ---------------------------------------------------------------------- problems


def test_request_problems_are_4xx_problem_documents(client):
    post = lambda path, body, **h: client.post(path, content=body, headers={**AGENCY, "content-type": "application/json", **h})  # noqa: E731
    assert_problem(post(f"{API}/persons", b'{"psn_no": '), 400, "malformed JSON")
    assert_problem(post(f"{API}/persons", b""), 400, "empty")
    assert_problem(post(f"{API}/persons", b"\xff\xfe"), 400, "UTF-8")
    assert_problem(post(f"{API}/persons", b"[1, 2]"), 422, "must be a JSON object")
    assert_problem(post(f"{API}/persons", b"[" * 50_000 + b"]" * 50_000), 400, "nested too deeply")
    assert_problem(post(f"{API}/persons", b'{"grade": ' + b"1" * 5000 + b"}"), 400, "malformed JSON")
    assert_problem(post(f"{API}/settle/preview", b'{"city": "hangzhou", "person": {"id": "P", "scheme": "employee", '
                                                  b'"category": "active", "ci_cap_bonus": 1e999}, "visits": []}'), 422, "too large")
    assert_problem(post(f"{API}/persons", json.dumps({**person_doc(), "ci_cap_bonus": "NaN"}).encode()), 422, "ci_cap_bonus")
    assert_problem(client.post(f"{API}/persons", content=b"<x/>", headers={**AGENCY, "content-type": "application/xml"}), 415)
    assert_problem(post(f"{API}/persons", b" " * (2 * 1024 * 1024 + 1)), 413)
    doc = person_doc()
    assert_problem(post(f"{API}/persons", json.dumps({**doc, "colour": "red"}).encode()), 422, "unknown key 'colour'")
    assert_problem(post(f"{API}/persons", json.dumps({**doc, "brdy": "1985-02-30"}).encode()), 422, "brdy", "not a date")
    bad_contribution = {**doc, "contributions": [{"month": "2025-13", "paid": "1.00", "paid_date": "2025-01-01"}]}
    assert_problem(post(f"{API}/persons", json.dumps(bad_contribution).encode()), 422, "contributions[0].month")
    assert_problem(post(f"{API}/persons", json.dumps({**doc, "ci_cap_bonus": 1.505}).encode()), 422, "ci_cap_bonus", "two decimals")
    assert_problem(client.get(f"{API}/settlements", params={"date_from": "2026-02-30"}, headers=AGENCY), 422, "date_from")
    assert_problem(client.get(f"{API}/settlements", params={"limit": 0}, headers=AGENCY), 422, "limit")
    assert_problem(client.get(f"{API}/persons/{doc['psn_no']}/coverage", params={"date": "tomorrow"}, headers=AGENCY), 422, "date")
    assert_problem(client.get(f"{API}/settlements", params={"date_from": "2026-03-02", "date_to": "2026-03-01"}, headers=AGENCY),
                   422, "date_to")
    assert_problem(client.get(f"{API}/no/such/thing", headers=AGENCY), 404)
    assert_problem(client.delete(f"{API}/persons", headers=AGENCY), 405, "DELETE")
    # Outside /api/v1 the framework's own answers stay as they were.
    r = client.get("/no/such/thing")
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"


def test_nothing_sensitive_is_logged(client, caplog):
    doc = person_doc(name="欧阳娜娜")
    with caplog.at_level(logging.DEBUG):
        create_person(client, doc)
        client.get(f"{API}/persons/{doc['psn_no']}", headers=AGENCY)
        client.post(f"{API}/persons", json={**doc, "extra": doc["certno"]}, headers=AGENCY)
    assert caplog.records, "the API logs one line per request"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert doc["certno"] not in text and doc["name"] not in text
    detail = client.get(f"{API}/audit", params={"entity_id": doc["psn_no"]}, headers=AUDITOR).json()["items"][0]["detail"]
    assert detail["certno"] != doc["certno"] and detail["certno"][:3] == doc["certno"][:3]
    assert detail["name"] == "欧***"


# ---------------------------------------------------------------------- preview


def test_preview_answers_what_yibao_settle_prints(client):
    from yibao.case import parse_case_text
    from yibao.engine.pipeline import settle_case
    from yibao.report import case_json

    assert len(CASES) >= 12
    for path in CASES:
        text = path.read_text(encoding="utf-8")
        r = client.post(f"{API}/settle/preview", content=text.encode(), headers={**AGENCY, "content-type": "application/json"})
        assert r.status_code == 200, (path.name, r.text)
        case = parse_case_text(text)
        assert r.json() == json.loads(json.dumps(case_json(case.city, case.person.id, settle_case(case)))), path.name


@pytest.mark.parametrize("name", ["hz-emp-outpatient", "jx-emp-inpatient-big", "sz-res-inpatient-ci"])
def test_preview_matches_the_worked_cases_and_the_command(client, name):
    text = (SHARED / f"{name}.case.json").read_text(encoding="utf-8")
    expected = json.loads((SHARED / f"{name}.expected.json").read_text(encoding="utf-8"))
    r = client.post(f"{API}/settle/preview", content=text.encode(), headers={**HZ_CENTRE_BEARER, "content-type": "application/json"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got == yibao_settle(SHARED / f"{name}.case.json")  # exactly what the command prints
    assert got["city"] == expected["city"] and len(got["settlements"]) == len(expected["settlements"])
    for g, e in zip(got["settlements"], expected["settlements"]):
        assert {k: g[k] for k in AMOUNTS if k in e} == {k: e[k] for k in AMOUNTS if k in e}, e["visit_id"]
        assert sorted((d["fund_pay_type"], d["fund_payamt"]) for d in g["setldetail"]) == \
            sorted((d["fund_pay_type"], d["fund_payamt"]) for d in e["setldetail"])


def test_preview_settles_with_the_service_overlays(database_url, tmp_path):
    from fastapi.testclient import TestClient

    from yibao.service.app import create_app
    from yibao.service.config import Settings

    overlay = tmp_path / "hangzhou-overlay.yaml"
    overlay.write_text(
        "city: hangzhou\n"
        "parameters:\n"
        "  employee.outpatient.deductible:\n"
        "    values:\n"
        "      2026-01-01:\n"
        "        value:\n"
        "          standard: {base: {by_category: {other: 300}}}\n", encoding="utf-8")
    path = SHARED / "hz-emp-outpatient.case.json"
    app = create_app(Settings(database_url=database_url, overlays=(str(overlay),)))
    try:
        with TestClient(app) as client:
            r = client.post(f"{API}/settle/preview", content=path.read_bytes(), headers={**AGENCY, "content-type": "application/json"})
    finally:
        app.state.service.db.dispose()
    assert r.status_code == 200, r.text
    assert r.json() == yibao_settle(path, "--overlay", str(overlay))
    assert r.json() != yibao_settle(path)


def test_preview_refuses_what_yibao_settle_refuses_and_stores_nothing(client):
    case = json.loads((SHARED / "hz-emp-outpatient.case.json").read_text(encoding="utf-8"))
    before = client.get(f"{API}/audit", headers=AUDITOR).json()["total"]
    r = client.post(f"{API}/settle/preview", json={**case, "visits": [{**case["visits"][0], "kind": "outpatent"}]}, headers=AUDITOR)
    assert_problem(r, 422, "visit V1", "kind", "outpatent")
    r = client.post(f"{API}/settle/preview", json={**case, "person": {**case["person"], "account": {"current": "-1.00"}}}, headers=AUDITOR)
    assert_problem(r, 422, "person.account.current", "negative")
    zs = {"city": "zhoushan", "person": {"id": "P", "scheme": "employee", "category": "active"},
          "visits": [{"id": "V9", "date": "2026-03-01", "kind": "inpatient", "level": "tertiary",
                      "amounts": {"inscp_scp_amt": "1000.00"}}]}
    body = assert_problem(client.post(f"{API}/settle/preview", json=zs, headers=AUDITOR), 422, "visit V9", "missing policy value",
                          "第二十四条")
    assert body["detail"] == "visit V9: missing policy value zhoushan:employee.inpatient.deductible.standard.base.by_level" \
        "[tertiary] (舟山 第二十四条（一）); the regulation leaves it blank — supply it in an overlay (see `yibao policy " \
        "template zhoushan`)"
    early = {**zs, "city": "hangzhou", "visits": [{**zs["visits"][0], "date": "2020-03-01"}]}
    assert_problem(client.post(f"{API}/settle/preview", json=early, headers=HZ_HOSPITAL_BEARER), 422, "outside every policy version")
    assert_problem(client.post(f"{API}/settle/preview", json={**zs, "person": {**zs["person"], "account": {"current": "1e400"}}},
                               headers=AUDITOR), 422, "too large")
    assert client.get(f"{API}/audit", headers=AUDITOR).json()["total"] == before
    assert client.get(f"{API}/settlements", headers=AUDITOR).json()["total"] == 0


# ---------------------------------------------------------------------- institutions


def test_institutions(client):
    listed = client.get(f"{API}/institutions", params={"city": "hangzhou"}, headers=HZ_HOSPITAL_BEARER).json()
    assert listed["total"] >= 2 and all(i["city"] == "hangzhou" for i in listed["items"])
    one = client.get(f"{API}/institutions/H33010000001", headers=AUDITOR).json()
    assert one["level"] == "tertiary" and one["admdvs"] == "330106"
    assert_problem(client.get(f"{API}/institutions/H99", headers=AGENCY), 404, "H99")

    new = {"code": "H33040000088", "name": "嘉兴示例医院", "city": "jiaxing", "admdvs": "330402", "level": "secondary"}
    r = client.post(f"{API}/institutions", json=new, headers=AGENCY)
    assert r.status_code == 201 and r.headers["location"] == f"{API}/institutions/H33040000088"
    assert {k: r.json()[k] for k in new} == new
    assert client.get(f"{API}/institutions/H33040000088", headers=HZ_CENTRE_BEARER).json()["name"] == "嘉兴示例医院"
    assert_problem(client.post(f"{API}/institutions", json=new, headers=AGENCY), 409, "already registered")
    for change, words in [({"level": "quaternary"}, ("level", "quaternary")), ({"admdvs": "33040"}, ("admdvs",)),
                          ({"city": "beijing"}, ("city",)), ({"admdvs": "330106"}, ("admdvs 330106", "jiaxing")),
                          ({"code": "H 1"}, ("code",)), ({"beds": 300}, ("unknown key 'beds'",))]:
        assert_problem(client.post(f"{API}/institutions", json={**new, "code": "H33040000089", **change}, headers=AGENCY), 422, *words)
    audit = client.get(f"{API}/audit", params={"entity": "institution"}, headers=AGENCY).json()["items"]
    assert [(a["action"], a["entity_id"]) for a in audit] == [("institution.create", "H33040000088")]


# ---------------------------------------------------------------------- catalogue


def test_catalogue_lookup_and_loading(client):
    r = client.get(f"{API}/catalogue/hangzhou", params={"code": "XA10BAE054A001010101445", "date": "2026-03-01"}, headers=HZ_HOSPITAL_BEARER)
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == 1 and page["items"][0]["class"] == "A" and page["date"] == "2026-03-01"
    assert client.get(f"{API}/catalogue/hangzhou", params={"limit": 5}, headers=AUDITOR).json()["total"] > 5

    csv_v1 = ("code,name,class,selfpay_ratio,price_limit,begin_date,end_date\n"
              "ZT0001,测试注射液,B,0.15,20.000000,2026-01-01,\n"
              "ZT0002,测试检查,A,,,2026-01-01,\n")
    r = client.post(f"{API}/catalogue/hangzhou", content=csv_v1.encode(), headers={**AGENCY, "content-type": "text/csv"},
                    params={"source": "test-v1.csv"})
    assert r.status_code == 201 and r.json() == {"city": "hangzhou", "added": 2, "closed": 0, "source": "test-v1.csv"}
    csv_v2 = "code,name,class,selfpay_ratio,price_limit,begin_date,end_date\nZT0001,测试注射液,A,,,2026-07-01,\n"
    r = client.post(f"{API}/catalogue/hangzhou", content=csv_v2.encode(), headers={**AGENCY, "content-type": "text/csv; charset=utf-8"})
    assert r.status_code == 201 and r.json()["closed"] == 1
    before = client.get(f"{API}/catalogue/hangzhou", params={"code": "ZT0001", "date": "2026-06-30"}, headers=AGENCY).json()["items"]
    after = client.get(f"{API}/catalogue/hangzhou", params={"code": "ZT0001", "date": "2026-07-01"}, headers=AGENCY).json()["items"]
    assert [(e["class"], e["selfpay_ratio"], e["price_limit"], e["end_date"], e["source"]) for e in before] == [
        ("B", "0.1500", "20.000000", "2026-06-30", "test-v1.csv")]
    assert [(e["class"], e["selfpay_ratio"], e["begin_date"], e["end_date"]) for e in after] == [("A", None, "2026-07-01", None)]
    assert client.get(f"{API}/catalogue/hangzhou", params={"code": "ZT0001", "date": "2025-12-31"}, headers=AGENCY).json()["total"] == 0

    bad = "code,name,class,selfpay_ratio,price_limit,begin_date,end_date\nZT0003,x,D,,,2026-01-01,\n"
    assert_problem(client.post(f"{API}/catalogue/hangzhou", content=bad.encode(), headers={**AGENCY, "content-type": "text/csv"}),
                   422, "line 2 column class", "'D'")
    half = "code,name,class,selfpay_ratio,price_limit,begin_date,end_date\nZT0004,x,A,,,2026-01-01,\nZT0005,x,A,,,2026-13-01,\n"
    assert_problem(client.post(f"{API}/catalogue/hangzhou", content=half.encode(), headers={**AGENCY, "content-type": "text/csv"}),
                   422, "line 3 column begin_date")
    assert client.get(f"{API}/catalogue/hangzhou", params={"code": "ZT0004"}, headers=AGENCY).json()["total"] == 0  # all or nothing
    assert_problem(client.post(f"{API}/catalogue/hangzhou", content=b"a,b\n", headers={**AGENCY, "content-type": "text/csv"}),
                   422, "missing column")
    assert_problem(client.post(f"{API}/catalogue/hangzhou", json={"code": "x"}, headers=AGENCY), 415, "text/csv")
    assert_problem(client.get(f"{API}/catalogue/atlantis", headers=AGENCY), 404, "atlantis")
    audit = client.get(f"{API}/audit", params={"entity": "catalogue"}, headers=AUDITOR).json()["items"]
    assert [(a["action"], a["entity_id"], a["detail"]["added"]) for a in audit] == [
        ("catalogue.load", "hangzhou", 1), ("catalogue.load", "hangzhou", 2)]


# ---------------------------------------------------------------------- audit


def test_audit_log_is_for_the_agency_and_auditors(client):
    doc = create_person(client)
    assert_problem(client.get(f"{API}/audit", headers=HZ_HOSPITAL_BEARER), 403, "role institution")
    page = client.get(f"{API}/audit", params={"limit": 1}, headers=AUDITOR).json()
    assert page["limit"] == 1 and len(page["items"]) == 1 and page["total"] >= 1
    newest = page["items"][0]
    assert (newest["action"], newest["entity"], newest["entity_id"], newest["actor"]) == ("person.create", "person", doc["psn_no"], "agency")
    assert client.get(f"{API}/audit", params={"offset": page["total"]}, headers=AGENCY).json()["items"] == []
