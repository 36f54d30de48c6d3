"""Settlements and visits through the REST API: what the gateway recorded, searched and
read back; an institution sees only its own — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from service.conftest import HZ_CENTRE, HZ_HOSPITAL
from service.test_rest_support import (
    AGENCY, API, AUDITOR, HZ_CENTRE_BEARER, HZ_HOSPITAL_BEARER, assert_problem, create_person, person_doc,
    reverse_outpatient, settle_outpatient,
)

SHARED = Path(__file__).resolve().parents[1] / "data" / "shared_cases"
AMOUNTS = ["medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc",
           "hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "oth_pay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay",
           "psn_part_amt", "balc"]


def test_a_settlement_reads_back_as_the_gateway_answered_it(client):
    doc = create_person(client)
    mdtrt_id, setl_id, answer = settle_outpatient(client, doc, day="2026-03-10")
    r = client.get(f"{API}/settlements/{setl_id}", headers=AGENCY)
    assert r.status_code == 200, r.text
    stored = r.json()
    info = stored["setlinfo"]
    assert {k: info[k] for k in AMOUNTS} == {k: answer["setlinfo"][k] for k in AMOUNTS}
    assert (info["setl_id"], info["mdtrt_id"], info["psn_no"], info["setl_type"], info["orig_setl_id"], info["reversed_by"]) == (
        setl_id, mdtrt_id, doc["psn_no"], "final", None, None)
    assert stored["setldetail"] == answer["setldetail"]
    # The same figures as `yibao settle` on the worked case hz-emp-outpatient V1 (500.00, the same balances).
    expected = json.loads((SHARED / "hz-emp-outpatient.expected.json").read_text(encoding="utf-8"))["settlements"][0]
    assert {k: info[k] for k in AMOUNTS} == {k: expected[k] for k in AMOUNTS}
    assert client.get(f"{API}/settlements/{setl_id}", headers=HZ_HOSPITAL_BEARER).json() == stored
    assert client.get(f"{API}/settlements/{setl_id}", headers=AUDITOR).json() == stored


def test_visit_with_its_fee_lines_and_settlements(client):
    doc = create_person(client)
    mdtrt_id, setl_id, _ = settle_outpatient(client, doc, amounts=("25.00", "75.50"))
    r = client.get(f"{API}/visits/{mdtrt_id}", headers=HZ_HOSPITAL_BEARER)
    assert r.status_code == 200, r.text
    visit = r.json()
    assert (visit["psn_no"], visit["institution_code"], visit["setting"], visit["status"], visit["med_type"]) == (
        doc["psn_no"], HZ_HOSPITAL[0], "outpatient", "settled", "11")
    assert visit["begntime"] == "2026-03-10T09:00:00" and visit["diagnoses"][0]["diag_code"] == "J06.900"
    assert [(f["feedetl_sn"], f["det_item_fee_sumamt"], f["chrgitm_lv"], f["inscp_scp_amt"], f["setl_id"]) for f in visit["fee_lines"]] == [
        ("1", "25.00", "01", "25.00", setl_id), ("2", "75.50", "01", "75.50", setl_id)]
    assert visit["settlements"] == [setl_id]

    reversal = reverse_outpatient(client, doc["psn_no"], mdtrt_id, setl_id)
    visit = client.get(f"{API}/visits/{mdtrt_id}", headers=AGENCY).json()
    assert visit["settlements"] == [setl_id, reversal] and visit["status"] == "open"
    assert all(f["setl_id"] is None for f in visit["fee_lines"])
    rev = client.get(f"{API}/settlements/{reversal}", headers=AGENCY).json()["setlinfo"]
    assert (rev["setl_type"], rev["orig_setl_id"], rev["medfee_sumamt"]) == ("reversal", setl_id, "-100.50")
    assert client.get(f"{API}/settlements/{setl_id}", headers=AGENCY).json()["setlinfo"]["reversed_by"] == reversal
    assert_problem(client.get(f"{API}/visits/NOSUCHVISIT", headers=AGENCY), 404, "NOSUCHVISIT")


def test_search_settlements(client):
    a, b = create_person(client), create_person(client)
    m1, s1, _ = settle_outpatient(client, a, day="2026-03-10")
    m2, s2, _ = settle_outpatient(client, a, day="2026-04-20")
    m3, s3, _ = settle_outpatient(client, b, day="2026-04-21", institution=HZ_CENTRE)

    def ids(headers=AGENCY, **params):
        page = client.get(f"{API}/settlements", params=params, headers=headers).json()
        assert page["total"] >= len(page["items"])
        return [s["setl_id"] for s in page["items"]]

    assert set(ids()) == {s1, s2, s3}
    assert ids(psn_no=a["psn_no"]) == [s1, s2]
    assert ids(mdtrt_id=m3) == [s3]
    assert set(ids(date_from="2026-04-01")) == {s2, s3}
    assert ids(date_from="2026-03-01", date_to="2026-03-31") == [s1]
    assert ids(date_to="2026-01-31") == []
    assert len(ids(limit=2)) == 2 and len(ids(limit=2, offset=2)) == 1
    item = client.get(f"{API}/settlements", params={"mdtrt_id": m1}, headers=AUDITOR).json()["items"][0]
    assert (item["setl_type"], item["institution_code"], item["setl_date"], item["medfee_sumamt"]) == (
        "final", HZ_HOSPITAL[0], "2026-03-10", "500.00")
    assert item["fund_pay_sumamt"].endswith(".00") or len(item["fund_pay_sumamt"].split(".")[1]) == 2

    # An institution finds only its own.
    assert set(ids(HZ_HOSPITAL_BEARER)) == {s1, s2}
    assert ids(HZ_CENTRE_BEARER) == [s3]
    assert ids(HZ_CENTRE_BEARER, psn_no=a["psn_no"]) == []
    assert ids(HZ_HOSPITAL_BEARER, mdtrt_id=m3) == []


def test_an_institution_cannot_see_another_institutions_visit_or_settlement(client):
    doc = create_person(client)
    mdtrt_id, setl_id, _ = settle_outpatient(client, doc, institution=HZ_HOSPITAL)
    visit = assert_problem(client.get(f"{API}/visits/{mdtrt_id}", headers=HZ_CENTRE_BEARER), 404)
    missing_visit = assert_problem(client.get(f"{API}/visits/2026031000000000000000000000ff", headers=HZ_CENTRE_BEARER), 404)
    assert visit["detail"].replace(mdtrt_id, "?") == missing_visit["detail"].replace("2026031000000000000000000000ff", "?")
    settlement = assert_problem(client.get(f"{API}/settlements/{setl_id}", headers=HZ_CENTRE_BEARER), 404)
    assert settlement["detail"] == f"no settlement with setl_id {setl_id}"
    assert_problem(client.get(f"{API}/persons/{doc['psn_no']}", headers=HZ_CENTRE_BEARER), 404)
    # The institution that treated the person reads all three.
    for path in (f"/visits/{mdtrt_id}", f"/settlements/{setl_id}", f"/persons/{doc['psn_no']}"):
        assert client.get(API + path, headers=HZ_HOSPITAL_BEARER).status_code == 200, path


def test_a_resident_settlement(client):
    doc = create_person(client, person_doc(scheme="resident", account=None))
    mdtrt_id, setl_id, answer = settle_outpatient(client, doc, day="2026-05-06", amounts=("25.00", "175.00"))
    info = client.get(f"{API}/settlements/{setl_id}", headers=AGENCY).json()["setlinfo"]
    assert info["insutype"] == "390" and info["acct_pay"] == "0.00" and info["medfee_sumamt"] == "200.00"
    assert {k: info[k] for k in AMOUNTS} == {k: answer["setlinfo"][k] for k in AMOUNTS}
    account = client.get(f"{API}/persons/{doc['psn_no']}/account", headers=AGENCY).json()
    assert account["scheme"] == "resident" and account["total"] == "0.00" and account["entries"] == []
