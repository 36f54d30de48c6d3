"""Properties every settlement must have, over generated persons and visits (hypothesis).

Identities of the contract, no negative amount, no fund paying more than it is given,
running totals within their limits, the account never overdrawn, and determinism.
Generated across the three cities whose texts give every figure; visits whose values
the text leaves to other documents (随州 S1) are not generated here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import settle

D = Decimal
SPANS = {"jiaxing": (2025, 2026), "hangzhou": (2026, 2027), "suizhou": (2024, 2026)}
KINDS_AT = {
    "pharmacy": ["pharmacy", "chronic", "special"],
    "other": ["outpatient", "chronic", "special", "inpatient", "family_bed", "day_surgery", "delivery"],
}
SUIZHOU_MISSING = {("employee", "outpatient"), ("employee", "pharmacy"), ("employee", "chronic"), ("employee", "special"), ("resident", "special")}


def money(max_yuan: int) -> st.SearchStrategy[str]:
    return st.integers(min_value=0, max_value=max_yuan * 100).map(lambda fen: f"{fen // 100}.{fen % 100:02d}")


@st.composite
def persons(draw, city: str):
    scheme = draw(st.sampled_from(["employee", "resident"]))
    category = draw(st.sampled_from(["active", "retired", "flexible", "unemployed"] if scheme == "employee" else ["child", "student", "adult", "elderly"]))
    p = {
        "id": "P",
        "scheme": scheme,
        "category": category,
        "grade": draw(st.sampled_from([1, 2])),
        "sex": "F",
        "birth_date": draw(st.sampled_from(["1950-06-01", "1985-02-03", "2015-09-30"])),
        "assistance": draw(st.sampled_from([None, None, None, "destitute", "subsistence", "marginal", "disabled_severe", "orphan", "other"])),
        "flags": draw(st.lists(st.sampled_from(["family_doctor", "pre1949_worker", "severe_mental"]), max_size=2, unique=True)),
        "filings": {
            "chronic": draw(st.lists(st.sampled_from(["hypertension", "diabetes", "copd"]), max_size=2, unique=True)),
            "special": draw(st.lists(st.sampled_from(["malignant_tumor", "uremia_dialysis"]), max_size=2, unique=True)),
        },
        "ci_cap_bonus": draw(money(20000)) if city == "hangzhou" else "0.00",
    }
    if scheme == "employee":
        p["account"] = {"current": draw(money(3000)), "history": draw(money(20000))}
    return p


@st.composite
def visits(draw, city: str, scheme: str, n: int):
    first, last = SPANS[city]
    out = []
    days = sorted(draw(st.lists(st.integers(0, (last - first + 1) * 365 - 1), min_size=n, max_size=n)))
    for i, offset in enumerate(days):
        level = draw(st.sampled_from(["clinic", "primary", "level1", "secondary", "tertiary", "pharmacy"]))
        kind = draw(st.sampled_from(KINDS_AT["pharmacy" if level == "pharmacy" else "other"]))
        if city == "suizhou" and ((scheme, kind) in SUIZHOU_MISSING or (scheme == "resident" and kind == "chronic")):
            kind = "inpatient" if level != "pharmacy" else None
            if kind is None:
                level, kind = "secondary", "inpatient"
        location = draw(st.sampled_from(["local", "local", "local", "province", "out_of_province"]))
        v = {
            "id": f"V{i}",
            "date": (dt.date(first, 1, 1) + dt.timedelta(days=offset)).isoformat(),
            "kind": kind,
            "level": level,
            "location": location,
            "route": None if location == "local" else draw(st.sampled_from([None, "long_term", "referral", "emergency", "temporary"])),
            "use_account": draw(st.booleans()),
        }
        if kind in ("chronic", "special"):
            v["disease"] = draw(st.sampled_from(["hypertension", "diabetes", "copd", "malignant_tumor", "uremia_dialysis"]))
        if kind in ("inpatient", "family_bed", "day_surgery", "delivery") and level != "pharmacy":
            v["transfer_from"] = draw(st.sampled_from([None, None, "primary", "tertiary"]))
        big = kind in ("inpatient", "family_bed", "day_surgery", "delivery", "special")
        items = []
        for j in range(draw(st.integers(1, 3))):
            cls = draw(st.sampled_from(["A", "A", "B", "C"]))
            amount = draw(money(400000 if big else 6000))
            item = {"code": f"X{j}", "amount": amount, "class": cls}
            if cls == "B":
                item["selfpay_ratio"] = draw(st.sampled_from(["0.05", "0.10", "0.15", "0.20"]))
            if cls != "C" and draw(st.booleans()):
                item["over_limit"] = draw(money(int(D(amount)) // 10 if D(amount) >= 10 else 0))
            items.append(item)
        v["items"] = items
        out.append(v)
    return out


@st.composite
def cases(draw):
    city = draw(st.sampled_from(sorted(SPANS)))
    person = draw(persons(city))
    vs = draw(visits(city, person["scheme"], draw(st.integers(1, 6))))
    return {"city": city, "person": person, "visits": vs}


FUNDS = ["hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "oth_pay"]
AMOUNTS = ["medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc",
           *FUNDS, "fund_pay_sumamt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay", "psn_part_amt", "balc"]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_settlement_properties(c):
    out = settle(c)
    again = settle(c)
    assert out == again, "settlement is deterministic"
    person = c["person"]
    opening = D(person.get("account", {}).get("current", "0")) + D(person.get("account", {}).get("history", "0"))
    balance = opening
    per_year = defaultdict(lambda: defaultdict(D))
    for v, s in zip(c["visits"], out):
        a = {k: D(s[k]) for k in AMOUNTS}
        # -- shape and sign
        for k in AMOUNTS:
            assert a[k] >= 0, k
            assert s[k] == f"{a[k]:.2f}", f"{k} has exactly two decimals"
        # -- the contract's identities
        assert a["medfee_sumamt"] == a["fulamt_ownpay_amt"] + a["overlmt_selfpay"] + a["preselfpay_amt"] + a["inscp_scp_amt"]
        assert a["medfee_sumamt"] == a["fund_pay_sumamt"] + a["psn_part_amt"]
        assert a["fund_pay_sumamt"] == sum(a[f] for f in FUNDS)
        assert a["psn_part_amt"] == a["acct_pay"] + a["psn_cash_pay"]
        assert sum(D(r["fund_payamt"]) for r in s["setldetail"]) == a["fund_pay_sumamt"] + a["acct_pay"]
        # -- no fund pays more than it is given
        if "pre1949_worker" in person["flags"]:  # 嘉兴 (二十): the fund also pays 95% of 自付, which includes 超限价
            assert a["hifp_pay"] <= a["inscp_scp_amt"] + a["preselfpay_amt"] + a["overlmt_selfpay"]
        else:
            assert a["hifp_pay"] <= a["inscp_scp_amt"]
        assert a["act_pay_dedc"] <= a["inscp_scp_amt"]
        assert a["hifob_pay"] + a["hifmi_pay"] + a["maf_pay"] <= a["medfee_sumamt"] - a["hifp_pay"] - a["fulamt_ownpay_amt"]
        # -- the account: never overdrawn, never used when the visit says no or for residents
        assert a["acct_pay"] <= balance
        balance -= a["acct_pay"]
        assert a["balc"] == balance
        if person["scheme"] == "resident":
            assert a["acct_pay"] == 0
        # -- running totals within their limits
        y = per_year[(s["year"])]
        for k in FUNDS + ["act_pay_dedc"]:
            y[k] += a[k]
        if c["city"] == "suizhou":
            assert y["maf_pay"] == 0, "S10: no assistance figures in 随州's text"
        if c["city"] == "jiaxing":
            assert y["maf_pay"] <= 120000, "J8: assistance ≤ 120,000 a year"
        if c["city"] == "hangzhou" and person["assistance"] not in ("destitute", "subsistence", "marginal", "disabled_severe"):
            assert y["hifmi_pay"] <= 600000 + D(person["ci_cap_bonus"]), "H6"
    for year, y in per_year.items():
        if c["city"] == "suizhou":
            limit = 200000 if person["scheme"] == "employee" else 150000
            # S5 caps the basic fund; 生育 (510100) payments are outside it
            assert y["hifp_pay"] <= limit + sum(
                D(r["fund_payamt"]) for s in out if s["year"] == year for r in s["setldetail"] if r["fund_pay_type"] == "510100"
            )


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**9))
def test_inpatient_deductible_never_exceeds_the_years_highest_standard(seed):
    """嘉兴 J2 and 杭州 H1: however many admissions, the year's deductibles ≤ 800."""
    import random

    rnd = random.Random(seed)
    for city, year in (("jiaxing", 2025), ("hangzhou", 2026)):
        vs = [
            {"id": f"V{i}", "date": f"{year}-{1 + i:02d}-01", "kind": "inpatient", "level": rnd.choice(["primary", "secondary", "tertiary"]),
             "amounts": {"inscp_scp_amt": str(rnd.randint(0, 5000))}, "use_account": False}
            for i in range(rnd.randint(1, 8))
        ]
        out = settle({"city": city, "person": {"id": "P", "scheme": "employee", "category": "active"}, "visits": vs})
        assert sum(D(s["act_pay_dedc"]) for s in out) <= 800
