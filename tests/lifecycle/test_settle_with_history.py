"""Settlement given a person's history consults coverage and the account ledger (issue:
"the settlement engine consults coverage and the account ledger when given a history")."""

from __future__ import annotations

import json

from support import SHARED_CASES, run_cli, write_case

HISTORY = {
    "city": "jiaxing",
    "person": {"id": "P1", "birth_date": "1980-01-01", "sex": "F"},
    "employers": [{"id": "E1"}],
    "enrolments": [{"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2025-01-10"}],
    "contributions": [
        {"month": f"2025-{m:02d}", "base": "8000", "due": "880", "paid": "880", "paid_date": f"2025-{m:02d}-20"} for m in range(1, 6)
    ],
}


def test_opening_balances_come_from_the_ledger_and_this_cases_payments(tmp_path):
    """嘉兴 (十四)1: 2 % of 8,000 = 160 credited to 当年 each paid month; A1 (G8) spends it.
    By 04-24: 3 credits (Feb–Apr; the registration month is not credited) = 480 → V1's 300
    leaves 180; by 05-24 the ledger has 640, less V1's 300 = 340 → V2's 300 leaves 40."""
    case = {
        "city": "jiaxing",
        "person": {"id": "P1", "scheme": "employee", "category": "active"},
        "visits": [
            {"id": "V1", "date": "2025-04-25", "kind": "outpatient", "level": "tertiary", "amounts": {"inscp_scp_amt": "300.00"}},
            {"id": "V2", "date": "2025-05-25", "kind": "outpatient", "level": "tertiary", "amounts": {"inscp_scp_amt": "300.00"}},
        ],
    }
    run = run_cli("settle", write_case(tmp_path, case, "c.json"), "--history", write_case(tmp_path, HISTORY, "h.json"))
    assert run.code == 0, run.err
    v1, v2 = run.json["settlements"]
    assert (v1["acct_pay"], v1["balc"]) == ("300.00", "180.00")
    assert (v2["acct_pay"], v2["balc"]) == ("300.00", "40.00")
    assert any(t["step"] == "account_ledger" for t in v1["trace"])


def test_shared_cases_are_unchanged_without_a_history():
    for path in sorted(SHARED_CASES.glob("*.case.json")):
        expected = json.loads(path.with_name(path.name.replace(".case.json", ".expected.json")).read_text())
        got = run_cli("settle", str(path)).json
        assert [s["hifp_pay"] for s in got["settlements"]] == [s["hifp_pay"] for s in expected["settlements"]]


def test_a_history_of_another_person_is_refused(tmp_path):
    case = {"city": "jiaxing", "person": {"id": "OTHER", "scheme": "employee", "category": "active"},
            "visits": [{"id": "V1", "date": "2025-04-25", "kind": "outpatient", "level": "tertiary", "amounts": {"inscp_scp_amt": "1.00"}}]}
    run = run_cli("settle", write_case(tmp_path, case, "c.json"), "--history", write_case(tmp_path, HISTORY, "h.json"))
    assert run.code == 2 and run.out == "" and "OTHER" in run.err
