"""Every worked case of the shared set, through the real ``yibao settle`` command.

The cases are copied into ``tests/data/shared_cases`` (they are facts); every amount
field of every settlement must match to the fen. The trace and the order of
``setldetail`` rows are free, but the set of ``setldetail`` rows must match.
"""

from __future__ import annotations

import json

import pytest

from support import SHARED_CASES, run_cli

AMOUNTS = [
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
    "act_pay_dedc", "hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "oth_pay", "fund_pay_sumamt",
    "acct_pay", "acct_mulaid_pay", "psn_cash_pay", "psn_part_amt", "balc",
]
CASES = sorted(SHARED_CASES.glob("*.case.json"))


def test_the_shared_cases_are_all_here():
    assert len(CASES) >= 12


@pytest.mark.parametrize("path", CASES, ids=[p.name.removesuffix(".case.json") for p in CASES])
def test_shared_case(path):
    expected = json.loads(path.with_name(path.name.replace(".case.json", ".expected.json")).read_text())
    run = run_cli("settle", str(path))
    assert run.code == 0, run.err
    got = run.json
    assert got["city"] == expected["city"]
    assert len(got["settlements"]) == len(expected["settlements"])
    for g, e in zip(got["settlements"], expected["settlements"]):
        assert g["visit_id"] == e["visit_id"]
        assert g["year"] == e["year"]
        for field in AMOUNTS:
            if field in e:
                assert g[field] == e[field], f"{e['visit_id']}.{field}"
        rows = lambda s: sorted((r["fund_pay_type"], r["fund_payamt"]) for r in s["setldetail"])  # noqa: E731
        assert rows(g) == rows(e), e["visit_id"]
        assert g["trace"], "every settlement explains itself"
