"""Persons through the REST API: registration, enrolments and events that must keep the
history coherent, coverage, personal accounts and running totals — on SQLite and PostgreSQL."""

from __future__ import annotations

from service.conftest import HZ_CENTRE, HZ_HOSPITAL
from service.test_rest_support import (
    AGENCY, API, AUDITOR, HZ_CENTRE_BEARER, HZ_HOSPITAL_BEARER, assert_problem, create_person, person_doc,
    hospital, settle_outpatient,
)


def audit_of(client, psn_no: str) -> list[tuple[str, str]]:
    items = client.get(f"{API}/audit", params={"entity": "person", "entity_id": psn_no}, headers=AUDITOR).json()["items"]
    return [(a["action"], a["actor"]) for a in reversed(items)]


# ---------------------------------------------------------------------- persons


def test_register_read_and_list_persons(client):
    doc = person_doc(filings={"chronic": ["hypertension"], "special": []}, ci_cap_bonus="120.00")
    r = client.post(f"{API}/persons", json=doc, headers=AGENCY)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"{API}/persons/{doc['psn_no']}"
    created = r.json()
    assert created["insuplc_admdvs"] == "330100" and created["ci_cap_bonus"] == "120.00"
    assert created["filings"] == {"chronic": ["hypertension"], "special": []}
    assert [e["start"] for e in created["enrolments"]] == ["2025-01-01"]
    assert len(created["contributions"]) == len(doc["contributions"])

    read = client.get(f"{API}/persons/{doc['psn_no']}", headers=AUDITOR).json()
    assert read == created
    page = client.get(f"{API}/persons", params={"city": "hangzhou", "limit": 500}, headers=AUDITOR).json()
    assert doc["psn_no"] in [p["psn_no"] for p in page["items"]] and page["limit"] == 500
    assert all(p["city"] == "hangzhou" for p in page["items"])
    residents = client.get(f"{API}/persons", params={"scheme": "resident"}, headers=AGENCY).json()["items"]
    assert all(p["scheme"] == "resident" for p in residents)
    one = client.get(f"{API}/persons", params={"limit": 1, "offset": 1}, headers=AGENCY).json()
    assert len(one["items"]) == 1 and one["offset"] == 1 and one["total"] >= 2
    assert audit_of(client, doc["psn_no"]) == [("person.create", "agency")]

    # Opening balances became the account's first entry.
    account = client.get(f"{API}/persons/{doc['psn_no']}/account", params={"year": 2026}, headers=AGENCY).json()
    assert (account["current"], account["history"], account["total"]) == ("300.00", "2000.00", "2300.00")
    assert [(e["kind"], e["current"], e["history"]) for e in account["entries"]] == [("opening", "300.00", "2000.00")]


def test_duplicates_and_invalid_documents_are_refused(client):
    doc = create_person(client)
    assert_problem(client.post(f"{API}/persons", json=doc, headers=AGENCY), 409, f"psn_no {doc['psn_no']}")
    twin = {**doc, "psn_no": doc["psn_no"] + "B"}
    body = assert_problem(client.post(f"{API}/persons", json=twin, headers=AGENCY), 409, "certno", doc["psn_no"])
    assert doc["certno"] not in body["detail"]
    overlapping = person_doc(enrolments=[
        {"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2020-01-01"},
        {"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2024-01-01"}])
    assert_problem(client.post(f"{API}/persons", json=overlapping, headers=AGENCY), 422, "overlap")
    assert_problem(client.post(f"{API}/persons", json=person_doc(category="child"), headers=AGENCY), 422, "category", "child")
    resident = {**person_doc(scheme="resident", account=None), "account": {"date": "2026-01-01", "current": "5.00"}}
    assert_problem(client.post(f"{API}/persons", json=resident, headers=AGENCY), 422, "residents have no personal account")
    assert_problem(client.post(f"{API}/persons", json={**person_doc(), "enrolments": []}, headers=AGENCY), 422, "enrolments")
    assert client.get(f"{API}/persons/{twin['psn_no']}", headers=AGENCY).status_code == 404
    assert audit_of(client, doc["psn_no"]) == [("person.create", "agency")]


def test_institutions_read_only_the_persons_they_treat(client):
    doc = create_person(client)
    psn = doc["psn_no"]
    assert_problem(client.get(f"{API}/persons", headers=HZ_HOSPITAL_BEARER), 403, "role institution")
    for suffix in ("", "/account", "/totals", "/coverage"):
        assert_problem(client.get(f"{API}/persons/{psn}{suffix}", headers=HZ_HOSPITAL_BEARER), 404, f"psn_no {psn}")
    # The same answer as for a person who does not exist: nothing is revealed.
    missing = assert_problem(client.get(f"{API}/persons/NOBODY", headers=HZ_HOSPITAL_BEARER), 404)
    assert missing["detail"] == "no person with psn_no NOBODY"

    settle_outpatient(client, doc, institution=HZ_HOSPITAL)
    seen = client.get(f"{API}/persons/{psn}", headers=HZ_HOSPITAL_BEARER).json()
    assert seen["psn_no"] == psn and seen["enrolments"] is None and seen["contributions"] is None
    for suffix in ("/account", "/totals", "/coverage"):
        assert client.get(f"{API}/persons/{psn}{suffix}", headers=HZ_HOSPITAL_BEARER).status_code == 200, suffix
    for suffix in ("/enrolments", "/events"):
        assert_problem(client.get(f"{API}/persons/{psn}{suffix}", headers=HZ_HOSPITAL_BEARER), 403)
    # Another institution of the same city still sees nothing.
    assert_problem(client.get(f"{API}/persons/{psn}", headers=HZ_CENTRE_BEARER), 404)
    assert HZ_CENTRE[0] == "H33010000002"


# ---------------------------------------------------------------------- enrolments and events


def test_add_enrolments_and_events(client):
    doc = create_person(client, person_doc(enrolments=[
        {"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2025-01-01", "end": "2026-06-30"}]))
    psn = doc["psn_no"]
    new = {"scheme": "employee", "category": "flexible", "mode": "flexible", "start": "2026-07-01", "reason": "left the employer"}
    r = client.post(f"{API}/persons/{psn}/enrolments", json=new, headers=AGENCY)
    assert r.status_code == 201, r.text
    added = r.json()
    assert {k: added[k] for k in new} == new and added["end"] is None and isinstance(added["id"], int)
    listed = client.get(f"{API}/persons/{psn}/enrolments", headers=AUDITOR).json()
    assert [(e["category"], e["start"], e["end"]) for e in listed] == [
        ("active", "2025-01-01", "2026-06-30"), ("flexible", "2026-07-01", None)]

    r = client.post(f"{API}/persons/{psn}/events", json={"date": "2026-05-01", "type": "arrears_order", "note": "限期补缴"}, headers=AGENCY)
    assert r.status_code == 201, r.text
    assert r.json()["detail"] == {"note": "限期补缴"}
    events = client.get(f"{API}/persons/{psn}/events", headers=AGENCY).json()
    assert [(e["date"], e["type"]) for e in events] == [("2026-05-01", "arrears_order")]
    assert audit_of(client, psn) == [("person.create", "agency"), ("enrolment.add", "agency"), ("event.add", "agency")]

    assert_problem(client.post(f"{API}/persons/{psn}/events", json={"date": "2026-05-01", "type": "holiday"}, headers=AGENCY),
                   422, "type", "holiday")
    assert_problem(client.post(f"{API}/persons/{psn}/events", json={"date": "2026-05-01", "type": "death", "why": "x"},
                               headers=AGENCY), 422, "unknown key 'why'")
    assert_problem(client.post(f"{API}/persons/NOBODY/events", json={"date": "2026-05-01", "type": "death"}, headers=AGENCY), 404)
    assert_problem(client.post(f"{API}/persons/{psn}/events", json={"date": "9999-12-31", "type": "arrears_order"}, headers=AGENCY),
                   422, "9999-12-31")
    far = {**new, "start": "0001-01-01", "end": "0001-12-31"}
    assert_problem(client.post(f"{API}/persons/{psn}/enrolments", json=far, headers=AGENCY), 422, "0001-01-01")
    old = person_doc(contributions=[{"month": "1850-01", "paid": "1.00", "paid_date": "1850-01-10"}])
    assert_problem(client.post(f"{API}/persons", json=old, headers=AGENCY), 422, "contributions[0]")


def test_an_enrolment_that_makes_the_history_incoherent_is_refused_and_nothing_is_stored(client):
    doc = create_person(client)
    psn = doc["psn_no"]
    before = client.get(f"{API}/persons/{psn}/enrolments", headers=AGENCY).json()
    audit_before = audit_of(client, psn)
    overlapping = {"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2026-01-01"}
    assert_problem(client.post(f"{API}/persons/{psn}/enrolments", json=overlapping, headers=AGENCY), 422, "overlap")
    unknown_employer = {"scheme": "employee", "category": "active", "mode": "unit", "employer": "E9", "start": "2010-01-01",
                        "end": "2011-12-31"}
    assert_problem(client.post(f"{API}/persons/{psn}/enrolments", json=unknown_employer, headers=AGENCY), 422, "E9")
    assert_problem(client.post(f"{API}/persons/{psn}/enrolments", json={**overlapping, "start": "2026-02-30"}, headers=AGENCY),
                   422, "start", "not a date")
    assert_problem(client.post(f"{API}/persons/{psn}/enrolments", json={**overlapping, "mode": "resident"}, headers=AGENCY),
                   422, "mode")
    assert client.get(f"{API}/persons/{psn}/enrolments", headers=AGENCY).json() == before
    assert audit_of(client, psn) == audit_before
    # An earlier, non-overlapping period is fine.
    earlier = {**overlapping, "start": "2015-01-01", "end": "2019-12-31"}
    assert client.post(f"{API}/persons/{psn}/enrolments", json=earlier, headers=AGENCY).status_code == 201


# ---------------------------------------------------------------------- coverage


def test_coverage_on_a_date(client):
    doc = create_person(client, person_doc(start="2025-01-01", paid_until="2026-12"))
    psn = doc["psn_no"]
    covered = client.get(f"{API}/persons/{psn}/coverage", params={"date": "2026-03-10"}, headers=AGENCY).json()
    assert covered["covered"] is True and covered["scheme"] == "employee" and covered["date"] == "2026-03-10"
    assert covered["clause"] and covered["since"]
    late = create_person(client, person_doc(start="2026-06-01", paid_until="2026-12"))
    before = client.get(f"{API}/persons/{late['psn_no']}/coverage", params={"date": "2026-03-10"}, headers=AUDITOR).json()
    assert before["covered"] is False and before["reason"]
    assert_problem(client.get(f"{API}/persons/{psn}/coverage", params={"date": "2024-06-01"}, headers=AGENCY), 422,
                   "outside", "policy")
    unpaid = create_person(client, person_doc(start="2025-01-01", paid_until="2025-06"))
    later = client.get(f"{API}/persons/{unpaid['psn_no']}/coverage", params={"date": "2026-03-10"}, headers=AGENCY).json()
    assert later["covered"] is False and "unpaid" in later["reason"]
    assert client.get(f"{API}/persons/{psn}/coverage", headers=AGENCY).status_code == 200  # today
    assert_problem(client.get(f"{API}/persons/{psn}/coverage", params={"date": "2026-3-1"}, headers=AGENCY), 422, "date")
    assert_problem(client.get(f"{API}/persons/{psn}/coverage", params={"date": "9999-12-31"}, headers=AGENCY), 422, "9999-12-31")
    assert_problem(client.get(f"{API}/persons/NOBODY/coverage", headers=AGENCY), 404)


# ---------------------------------------------------------------------- accounts


def test_account_movements(client):
    doc = create_person(client, person_doc(account=None))
    psn = doc["psn_no"]
    empty = client.get(f"{API}/persons/{psn}/account", params={"year": 2026}, headers=AGENCY).json()
    assert (empty["total"], empty["entries"]) == ("0.00", [])

    def post(body, who=AGENCY):
        return client.post(f"{API}/persons/{psn}/account/entries", json=body, headers=who)

    r = post({"kind": "opening", "date": "2026-01-01", "current": "500.00", "history": "1000.00", "note": "migrated"})
    assert r.status_code == 201, r.text
    assert r.json()["entry"]["kind"] == "opening" and r.json()["account"]["total"] == "1500.00"
    assert_problem(post({"kind": "opening", "date": "2026-01-02", "current": "1.00"}), 409, "opening")
    r = post({"kind": "credit", "date": "2026-02-01", "current": 150})
    assert r.status_code == 201 and r.json()["account"]["current"] == "650.00"
    r = post({"kind": "transfer_out", "date": "2026-03-01", "current": "-50.00", "history": "-100.00"})
    assert r.status_code == 201 and (r.json()["account"]["current"], r.json()["account"]["history"]) == ("600.00", "900.00")
    r = post({"kind": "adjustment", "date": "2026-03-02", "history": "-0.01"})
    assert r.status_code == 201 and r.json()["account"]["history"] == "899.99"

    # Seen from 2027, the 2026 entries are all 历年.
    next_year = client.get(f"{API}/persons/{psn}/account", params={"year": 2027}, headers=AUDITOR).json()
    assert (next_year["current"], next_year["history"], next_year["total"]) == ("0.00", "1499.99", "1499.99")
    assert [e["kind"] for e in next_year["entries"]] == ["opening", "credit", "transfer_out", "adjustment"]

    entries_before = len(next_year["entries"])
    assert_problem(post({"kind": "transfer_out", "date": "2026-04-01", "current": "-600.01"}), 422, "negative")
    assert_problem(post({"kind": "adjustment", "date": "2027-01-10", "history": "-1500.00"}), 422, "negative")
    assert_problem(post({"kind": "credit", "date": "2026-04-01", "current": "-5.00"}), 422, "must not be negative")
    assert_problem(post({"kind": "transfer_out", "date": "2026-04-01", "current": "5.00"}), 422, "must not be positive")
    assert_problem(post({"kind": "credit", "date": "2026-04-01"}), 422, "moves nothing")
    assert_problem(post({"kind": "gift", "date": "2026-04-01", "current": "5.00"}), 422, "kind", "gift")
    assert_problem(post({"kind": "credit", "date": "2026-04-01", "current": "5.001"}), 422, "current", "two decimals")
    assert_problem(post({"kind": "credit", "date": "2026-04-01", "current": "1e400"}), 422, "current")
    assert_problem(post({"kind": "credit", "date": "2026-04-01", "current": "5.00"}, AUDITOR), 403)
    assert_problem(post({"kind": "credit", "date": "2026-04-01", "current": "5.00"}, HZ_HOSPITAL_BEARER), 403)
    assert len(client.get(f"{API}/persons/{psn}/account", headers=AGENCY).json()["entries"]) == entries_before
    assert [a for a, _ in audit_of(client, psn)] == ["person.create"] + ["account.entry"] * 4

    resident = create_person(client, person_doc(scheme="resident", account=None))
    r = client.post(f"{API}/persons/{resident['psn_no']}/account/entries", json={"kind": "credit", "date": "2026-02-01", "current": "1.00"},
                    headers=AGENCY)
    assert_problem(r, 422, "residents have no personal account")
    assert_problem(client.post(f"{API}/persons/NOBODY/account/entries", json={"kind": "credit", "date": "2026-02-01", "current": "1.00"},
                               headers=AGENCY), 404)


def test_running_totals_and_balances_follow_settlements(client):
    doc = create_person(client)
    psn = doc["psn_no"]
    assert client.get(f"{API}/persons/{psn}/totals", params={"year": 2026}, headers=AGENCY).json() == {
        "psn_no": psn, "year": 2026, "totals": {}}
    settle_outpatient(client, doc, day="2026-03-10", amounts=("25.00", "475.00"))
    totals = client.get(f"{API}/persons/{psn}/totals", params={"year": 2026}, headers=HZ_HOSPITAL_BEARER).json()
    assert totals["totals"] and all(isinstance(v, str) and v.count(".") == 1 and len(v.split(".")[1]) == 2
                                    for v in totals["totals"].values())
    # The same figures the gateway's 5206 answers.
    out = hospital(client).call("5206", {"data": {"psn_no": psn, "cum_ym": "202603"}}, insuplc_admdvs="330100")
    assert out["infcode"] == 0, out["err_msg"]
    cum = out["output"]["cuminfo"]
    assert {c["cum_type_code"]: c["cum"] for c in cum} == totals["totals"]
    assert client.get(f"{API}/persons/{psn}/totals", params={"year": 2025}, headers=AGENCY).json()["totals"] == {}
    # The 500.00 visit of the worked case hz-emp-outpatient V1: the account pays it all.
    account = client.get(f"{API}/persons/{psn}/account", params={"year": 2026}, headers=AGENCY).json()
    assert account["total"] == "1800.00"
    assert [(e["kind"], e["current"], e["history"]) for e in account["entries"]] == [
        ("opening", "300.00", "2000.00"), ("settlement", "-300.00", "-200.00")]
    assert account["entries"][1]["setl_id"]
    assert_problem(client.get(f"{API}/persons/{psn}/totals", params={"year": "this"}, headers=AGENCY), 422, "year")
