"""随州 Suizhou — the law, clause by clause (随政发〔2023〕21号, seeds/002; readings S1–S10, G*).

In force 2024-01-01 to 2028-12-31 (第七十九条). Every expected figure is worked by hand
(arithmetic in the comments); a person is an active employee unless stated. 随州 has no
default account rule to exercise here, so persons carry no account.
"""

from __future__ import annotations


import pytest

from support import case, check, details, money, settle, visit
from yibao.errors import MissingPolicyValue

CITY = "suizhou"





def one(person: dict | None = None, **kw) -> dict:
    return settle(case(CITY, person, visit(**kw)))[0]


def admissions(n: int, **kw) -> list[dict]:
    return [visit(f"V{i}", date=f"2025-{i + 1:02d}-01", **kw) for i in range(1, n + 1)]


RESIDENT = {"scheme": "resident", "category": "adult"}
WOMAN = {"sex": "F"}


# =====================================================================================
# S1 — 第二十一条, 第二十二条, 第四十六条: values left to separate city documents
# =====================================================================================


@pytest.mark.parametrize(
    "person, kind, level, disease, name, clause",
    [
        ({}, "outpatient", "secondary", None, "employee.outpatient", "第二十一条"),
        ({}, "pharmacy", "pharmacy", None, "employee.outpatient", "第二十一条"),
        ({"filings": {"chronic": ["hypertension"], "special": []}}, "chronic", "secondary", "hypertension", "employee.chronic", "第二十二条"),
        ({"filings": {"chronic": [], "special": ["malignant_tumor"]}}, "special", "tertiary", "malignant_tumor", "employee.special", "第二十二条"),
        (
            {"scheme": "resident", "category": "adult", "filings": {"chronic": ["coronary_heart_disease"], "special": []}},
            "chronic", "primary", "coronary_heart_disease", "resident.chronic", "第四十六条",
        ),
        (
            {"scheme": "resident", "category": "adult", "filings": {"chronic": [], "special": ["malignant_tumor"]}},
            "special", "tertiary", "malignant_tumor", "resident.special", "第四十六条",
        ),
    ],
)
def test_undelegated_outpatient_benefits_are_refused_with_value_and_clause_S1(person, kind, level, disease, name, clause):
    """随州 第二十一条 普通门诊 / 第二十二条 职工门诊慢特病 / 第四十六条 居民门诊慢特病 — 按我市相关规定 (S1)."""
    with pytest.raises(MissingPolicyValue) as err:
        one(person, kind=kind, level=level, disease=disease, inscope="500")
    message = str(err.value)
    assert err.value.visit == "V1" and "visit V1" in message
    assert err.value.name.startswith(name), err.value.name
    assert clause in err.value.clause and clause in message
    assert "missing policy value" in message


# =====================================================================================
# S2 — 第二十三条, 第四十七条, 第五十四条, 第二十七条: admissions and deductibles
# =====================================================================================


def test_employee_deductible_decreases_per_admission_to_floor_S2():
    """随州 第二十三条(二) 每增加一次住院，起付标准递减200元，但最低不少于400元 (S2)."""
    s = settle(case(CITY, None, *admissions(4, kind="inpatient", level="tertiary", inscope="10000")))
    # 800, 600, 400, max(400, 200) = 400; fund (10000 − d) × 91%
    expected = [(800, 8372), (600, 8554), (400, 8736), (400, 8736)]
    for got, (ded, fund) in zip(s, expected):
        check(got, act_pay_dedc=ded, hifp_pay=fund)


def test_resident_deductible_decreases_per_admission_to_floor_S2():
    """随州 第四十七条(一) 三级900 每增加一次住院递减200元，最低不少于200元 (S2)."""
    s = settle(case(CITY, RESIDENT, *admissions(5, kind="inpatient", level="tertiary", inscope="10000")))
    # 900, 700, 500, 300, max(200, 100) = 200; fund (10000 − d) × 70%
    expected = [(900, 6370), (700, 6510), (500, 6650), (300, 6790), (200, 6860)]
    for got, (ded, fund) in zip(s, expected):
        check(got, act_pay_dedc=ded, hifp_pay=fund)


def test_employee_secondary_and_resident_primary_floors_S2():
    """随州 第二十三条(一) 二级600 / 第四十七条(一) 一级及以下200, floors 400 / 200 (S2)."""
    emp = settle(case(CITY, None, *admissions(3, kind="inpatient", level="secondary", inscope="10000")))
    # 600, 400, 400 (floor); fund × 93%: 8742, 8928, 8928
    for got, (ded, fund) in zip(emp, [(600, 8742), (400, 8928), (400, 8928)]):
        check(got, act_pay_dedc=ded, hifp_pay=fund)
    res = settle(case(CITY, RESIDENT, *admissions(2, kind="inpatient", level="primary", inscope="10000")))
    # 200, 200 (floor); 9800 × 90% = 8820
    for got in res:
        check(got, act_pay_dedc=200, hifp_pay=8820)


def test_admission_count_restarts_each_year_S2_G2():
    """随州 第二十三条(二) 一个自然年度内多次住院; G2 totals restart on 1 January."""
    s = settle(
        case(
            CITY,
            None,
            visit("V1", date="2025-11-01", kind="inpatient", level="tertiary", inscope="10000"),
            visit("V2", date="2026-02-01", kind="inpatient", level="tertiary", inscope="10000"),
        )
    )
    check(s[0], act_pay_dedc=800, hifp_pay=8372)
    check(s[1], act_pay_dedc=800, hifp_pay=8372)


@pytest.mark.parametrize(
    "person, ded, fund",
    [
        ({}, 1200, 7128),  # employee 转市外 1200; (10000 − 1200) × (91 − 10)%
        (RESIDENT, 1500, 5100),  # resident 转市外 1500; (10000 − 1500) × (70 − 10)%
    ],
)
def test_referral_out_of_city_standard_S2_S4(person, ded, fund):
    """随州 第二十三条(一) 转市外定点医疗机构1200元; 第四十七条(一) 1500元; 第五十三条 −10% (S2, S4)."""
    s = one(person, kind="inpatient", level="tertiary", location="out_of_province", route="referral", inscope="10000")
    check(s, act_pay_dedc=ded, hifp_pay=fund)


def test_referral_standard_also_decreases_S2():
    """随州 第二十三条(二): a referral as 2nd admission owes 1200 − 200 (S2)."""
    s = settle(
        case(
            CITY,
            None,
            visit("V1", date="2025-02-01", kind="inpatient", level="tertiary", inscope="10000"),
            visit("V2", date="2025-05-01", kind="inpatient", level="tertiary", location="province", route="referral", inscope="10000"),
        )
    )
    check(s[0], act_pay_dedc=800, hifp_pay=8372)
    # 1000; 9000 × 81% = 7290
    check(s[1], act_pay_dedc=1000, hifp_pay=7290)


def test_transfer_up_pays_the_difference_and_is_not_an_admission_S2():
    """随州 第二十三条(二) 由低级别转诊到高级别 按高级别起付标准补差 (S2)."""
    s = settle(
        case(
            CITY,
            None,
            visit("V1", date="2025-02-01", kind="inpatient", level="secondary", inscope="10000"),
            visit("V2", date="2025-02-10", kind="inpatient", level="tertiary", transfer_from="secondary", inscope="10000"),
            visit("V3", date="2025-06-01", kind="inpatient", level="tertiary", inscope="10000"),
        )
    )
    # V1: 600; 9400 × 93% = 8742
    check(s[0], act_pay_dedc=600, hifp_pay=8742)
    # V2: 800 − 600 = 200; 9800 × 91% = 8918
    check(s[1], act_pay_dedc=200, hifp_pay=8918)
    # V3: the transfer was not an admission → 2nd admission: 800 − 200 = 600; 9400 × 91% = 8554
    check(s[2], act_pay_dedc=600, hifp_pay=8554)


def test_transfer_down_owes_nothing_and_is_not_an_admission_S2():
    """随州 第二十三条(二) 高级别转诊到低级别 不设起付标准 (S2)."""
    s = settle(
        case(
            CITY,
            None,
            visit("V1", date="2025-02-01", kind="inpatient", level="tertiary", inscope="10000"),
            visit("V2", date="2025-02-10", kind="inpatient", level="secondary", transfer_from="tertiary", inscope="10000"),
            visit("V3", date="2025-06-01", kind="inpatient", level="secondary", inscope="10000"),
        )
    )
    check(s[0], act_pay_dedc=800, hifp_pay=8372)
    # V2: none; 10000 × 93% = 9300
    check(s[1], act_pay_dedc=0, hifp_pay=9300)
    # V3: 2nd admission: 600 − 200 = 400; 9600 × 93% = 8928
    check(s[2], act_pay_dedc=400, hifp_pay=8928)


def test_resident_transfer_up_pays_the_difference_S2():
    """随州 第四十七条(一) 补差: 三级900 − 一级200 = 700 (S2)."""
    s = settle(
        case(
            CITY,
            RESIDENT,
            visit("V1", date="2025-02-01", kind="inpatient", level="primary", inscope="10000"),
            visit("V2", date="2025-02-10", kind="inpatient", level="tertiary", transfer_from="primary", inscope="10000"),
        )
    )
    check(s[0], act_pay_dedc=200, hifp_pay=8820)  # 9800 × 90%
    check(s[1], act_pay_dedc=700, hifp_pay=6510)  # 9300 × 70%


@pytest.mark.parametrize("person, day_fund, ded, fund", [({}, 9100, 800, 8372), (RESIDENT, 7000, 900, 6370)])
def test_day_surgery_owes_nothing_and_is_not_an_admission_S2(person, day_fund, ded, fund):
    """随州 第五十四条 日间手术 不设起付标准，按住院支付比例 (S2)."""
    s = settle(
        case(
            CITY,
            person,
            visit("V1", date="2025-02-01", kind="day_surgery", level="tertiary", inscope="10000"),
            visit("V2", date="2025-05-01", kind="inpatient", level="tertiary", inscope="10000"),
        )
    )
    # V1: 10000 × 91% (resident 70%), no deductible
    check(s[0], act_pay_dedc=0, hifp_pay=day_fund)
    # V2: still the 1st admission → the full standard
    check(s[1], act_pay_dedc=ded, hifp_pay=fund)


def test_employee_delivery_owes_nothing_but_counts_as_an_admission_S2_S9():
    """随州 第二十七条(二) 住院分娩不设起付标准，按职工住院相关政策 (S2, S9)."""
    s = settle(
        case(
            CITY,
            WOMAN,
            visit("V1", date="2025-02-01", kind="delivery", level="tertiary", inscope="10000"),
            visit("V2", date="2025-06-01", kind="inpatient", level="tertiary", inscope="10000"),
        )
    )
    # V1: no deductible; 10000 × 91% = 9100, paid as 生育 (510100)
    check(s[0], act_pay_dedc=0, hifp_pay=9100)
    assert details(s[0]) == {"510100": "9100.00"}
    # V2: the delivery was the 1st admission → 600; 9400 × 91% = 8554
    check(s[1], act_pay_dedc=600, hifp_pay=8554)
    assert details(s[1]) == {"310100": "8554.00"}


# =====================================================================================
# S3 — 第四十七条(一): special groups, no deductible in the transition period only
# =====================================================================================


@pytest.mark.parametrize(
    "extra",
    [
        {"assistance": "subsistence"},
        {"assistance": "destitute"},
        {"assistance": "orphan"},
        {"assistance": "disabled_severe"},
        {"flags": ["severe_mental"]},
        {"flags": ["family_planning_hardship"]},
    ],
    ids=["subsistence", "destitute", "orphan", "disabled_severe", "severe_mental", "family_planning_hardship"],
)
def test_special_groups_no_deductible_until_2025_then_standard_from_2026_S3(extra):
    """随州 第四十七条(一) 特困/孤儿/低保/丧失劳动能力残疾人/严重精神障碍/计生特困 过渡期内住院不设起付标准，2026年起执行 (S3)."""
    person = {**RESIDENT, **extra}
    before = one(person, date="2025-12-31", kind="inpatient", level="tertiary", inscope="10000")
    after = one(person, date="2026-01-01", kind="inpatient", level="tertiary", inscope="10000")
    # 2025-12-31: none; 10000 × 70% = 7000.  2026-01-01: 900; 9100 × 70% = 6370
    check(before, act_pay_dedc=0, hifp_pay=7000)
    check(after, act_pay_dedc=900, hifp_pay=6370)


def test_subsistence_stay_discharged_across_new_year_TEMPORAL_S3():
    """随州 第四十七条(一) the TEMPORAL rule inside one case: the discharge date decides (S3, G2)."""
    s = settle(
        case(
            CITY,
            {**RESIDENT, "assistance": "subsistence"},
            visit("V1", date="2025-12-31", kind="inpatient", level="tertiary", inscope="10000"),
            visit("V2", date="2026-01-01", kind="inpatient", level="tertiary", inscope="10000"),
        )
    )
    check(s[0], act_pay_dedc=0, hifp_pay=7000)
    check(s[1], act_pay_dedc=900, hifp_pay=6370)


def test_marginal_is_not_a_special_group_S3():
    """随州 第四十七条(一): 低保边缘 is not listed — the standard applies in 2025 (S3)."""
    s = one({**RESIDENT, "assistance": "marginal"}, date="2025-12-31", kind="inpatient", level="tertiary", inscope="10000")
    check(s, act_pay_dedc=900, hifp_pay=6370)


# =====================================================================================
# S4 — 第二十三条(三), 第四十七条(二), 第五十三条: 乙类 10%, rates, non-local
# =====================================================================================


def test_default_class_b_selfpay_10_percent_S4():
    """随州 第二十三条(三) 乙类药品、项目 个人先行自付10% (default selfpay_ratio, S4)."""
    items = [
        {"code": "A1", "amount": "1000.00", "class": "A"},
        {"code": "B1", "amount": "1000.00", "class": "B"},
        {"code": "C1", "amount": "200.00", "class": "C"},
    ]
    s = one(kind="inpatient", level="tertiary", items=items)
    # 先行自付 1000 × 10% = 100; in-scope 1000 + 900 = 1900; 800 deductible; 1100 × 91% = 1001
    check(s, fulamt_ownpay_amt=200, preselfpay_amt=100, inscp_scp_amt=1900, act_pay_dedc=800, hifp_pay=1001)


def test_resident_default_class_b_selfpay_10_percent_S4():
    """随州 第四十七条(二) 乙类 个人先行自付10%，再按甲类比例支付 (S4)."""
    items = [{"code": "B1", "amount": "2000.00", "class": "B"}]
    s = one(RESIDENT, kind="inpatient", level="tertiary", items=items)
    # 先行自付 200; in-scope 1800 − 900 = 900 × 70% = 630
    check(s, preselfpay_amt=200, inscp_scp_amt=1800, hifp_pay=630)


@pytest.mark.parametrize(
    "person, level, inscope, fund",
    [
        ({}, "clinic", "10400", 9500),  # (10400 − 400) × 95%
        ({}, "primary", "10400", 9500),
        ({}, "level1", "10400", 9500),
        ({}, "secondary", "10600", 9300),  # (10600 − 600) × 93%
        ({}, "tertiary", "10800", 9100),  # (10800 − 800) × 91%
        ({"category": "retired"}, "tertiary", "10800", 9100),  # no retiree uplift
        (RESIDENT, "clinic", "10200", 9000),  # (10200 − 200) × 90%
        (RESIDENT, "level1", "10200", 9000),
        (RESIDENT, "secondary", "10500", 8000),  # (10500 − 500) × 80%
        (RESIDENT, "tertiary", "10900", 7000),  # (10900 − 900) × 70%
    ],
)
def test_inpatient_rates_by_level_S4(person, level, inscope, fund):
    """随州 第二十三条(三) 职工 95/93/91; 第四十七条(二) 居民 90/80/70 (S4)."""
    check(one(person, kind="inpatient", level=level, inscope=inscope), hifp_pay=fund)


@pytest.mark.parametrize(
    "person, inscope, location, route, fund",
    [
        ({}, "10800", "province", "emergency", 8100),  # 10000 × (91 − 10)%
        ({}, "10800", "out_of_province", None, 7100),  # temporary: 10000 × (91 − 20)%
        ({}, "10800", "province", "temporary", 7100),
        ({}, "10800", "out_of_province", "long_term", 9100),  # as local
        (RESIDENT, "10900", "province", "emergency", 6000),  # 10000 × (70 − 10)%
        (RESIDENT, "10900", "out_of_province", None, 5000),  # 10000 × (70 − 20)%
        (RESIDENT, "10900", "province", "long_term", 7000),
    ],
)
def test_nonlocal_rate_minus_10_or_20_points_S4(person, inscope, location, route, fund):
    """随州 第五十三条 异地转诊和急诊抢救 下降10%; 临时外出 下降20%; 长期居住 一致 (S4, G9)."""
    extra = {"route": route} if route else {}
    check(one(person, kind="inpatient", level="tertiary", location=location, inscope=inscope, **extra), hifp_pay=fund)


# =====================================================================================
# S5 — 第二十四条, 第四十九条: the basic fund's annual payment limit
# =====================================================================================


def test_employee_annual_fund_limit_200000_across_visits_S5_S6():
    """随州 第二十四条 基本医疗保险基金年度最高支付限额为20万元 (S5); 第二十五条 大额 (S6)."""
    s = settle(
        case(
            CITY,
            None,
            visit("V1", date="2025-02-01", kind="inpatient", level="tertiary", inscope="150000"),
            visit("V2", date="2025-06-01", kind="inpatient", level="tertiary", inscope="100000"),
            visit("V3", date="2026-02-01", kind="inpatient", level="tertiary", inscope="10000"),
        )
    )
    # V1: 800; 149200 × 91% = 135772; 大额 basis 14228: (14228 − 6000) × 85% = 6993.80
    check(s[0], hifp_pay=135772, hifob_pay="6993.80")
    # V2: 600; 99400 × 91% = 90454 → only 200000 − 135772 = 64228
    #     大额 basis 100000 − 64228 = 35772 on [14228, 50000) × 85% = 30406.20
    check(s[1], act_pay_dedc=600, hifp_pay=64228, hifob_pay="30406.20")
    # V3: a new year: 800; 9200 × 91% = 8372
    check(s[2], act_pay_dedc=800, hifp_pay=8372)


def test_resident_annual_fund_limit_150000_across_visits_S5_S8():
    """随州 第四十九条 基本医疗保险基金年度最高支付限额为15万元 (S5); 第五十条 大病 (S8)."""
    s = settle(
        case(
            CITY,
            RESIDENT,
            visit("V1", date="2025-02-01", kind="inpatient", level="tertiary", inscope="200000"),
            visit("V2", date="2025-06-01", kind="inpatient", level="tertiary", inscope="50000"),
        )
    )
    # V1: 900; 199100 × 70% = 139370; 大病 basis 60630: 18000 × 60% + 30630 × 65% = 30709.50
    check(s[0], hifp_pay=139370, hifmi_pay="30709.50")
    # V2: 700; 49300 × 70% = 34510 → 150000 − 139370 = 10630
    #     大病 basis 39370 on [60630, 100000) × 65% = 25590.50
    check(s[1], hifp_pay=10630, hifmi_pay="25590.50")


def test_resident_fund_limit_counts_outpatient_and_inpatient_together_S5():
    """随州 第四十九条 (含门诊和住院费用) (S5)."""
    s = settle(
        case(
            CITY,
            RESIDENT,
            visit("V1", date="2025-02-01", kind="outpatient", level="primary", inscope="100"),
            visit("V2", date="2025-06-01", kind="inpatient", level="tertiary", inscope="220000"),
        )
    )
    check(s[0], hifp_pay=50)  # 100 × 50%
    # V2: 219100 × 70% = 153370 → 150000 − 50 = 149950
    check(s[1], hifp_pay=149950)


# =====================================================================================
# S6 — 第二十五条: 职工大额医疗费用补助
# =====================================================================================


def test_major_medical_above_6000_on_the_cumulative_basis_S6():
    """随州 第二十五条 个人年度累计负担的政策范围内的医疗费用超过6000元以上部分 85% (S6)."""
    s = settle(
        case(
            CITY,
            None,
            visit("V1", date="2025-02-01", kind="inpatient", level="tertiary", inscope="50000"),
            visit("V2", date="2025-06-01", kind="inpatient", level="tertiary", inscope="50000"),
        )
    )
    # V1: 800; 49200 × 91% = 44772; basis 5228 < 6000 → 0
    check(s[0], hifp_pay=44772, hifob_pay=0)
    # V2: 600; 49400 × 91% = 44954; basis 5046 on [5228, 10274): 4274 × 85% = 3632.90
    check(s[1], hifp_pay=44954, hifob_pay="3632.90")
    assert details(s[1])["330100"] == "3632.90"


def test_major_medical_90_percent_above_100000_no_limit_S5_S6():
    """随州 第二十五条 10万元以上部分报销90%，不设年度最高支付限额 (S6); 第二十四条 (S5)."""
    s = one(kind="inpatient", level="tertiary", inscope="1000000")
    # fund: 999200 × 91% = 909272 → limited to 200000; basis 800000
    # 大额: 94000 × 85% + 700000 × 90% = 79900 + 630000 = 709900
    check(s, hifp_pay=200000, hifob_pay=709900, hifmi_pay=0, psn_cash_pay=90100)


def test_major_medical_basis_is_policy_scope_personal_burden_only_S6_G6():
    """随州 第二十五条 政策范围内 (G6: pooled in-scope − hifp), not 先行自付 (S6)."""
    s = one(kind="inpatient", level="tertiary", amounts={"inscp_scp_amt": "50000", "preselfpay_amt": "5000"})
    # fund 44772; basis 5228 only (< 6000) → 0
    check(s, hifp_pay=44772, hifob_pay=0)


def test_residents_have_no_major_medical_S6_S8():
    """随州 第二十五条 大额 is for 职工医保参保人员; 第五十条 大病 for residents (S8)."""
    s = one(RESIDENT, kind="inpatient", level="tertiary", inscope="50000")
    check(s, hifob_pay=0)


# =====================================================================================
# S7 — 第四十四条, 第四十五条: resident outpatient pooling and 两病
# =====================================================================================


@pytest.mark.parametrize(
    "level, inscope, fund",
    [
        ("clinic", "100", 30),  # 50 → 卫生室 每人每天30元
        ("primary", "200", 50),  # 100 → 卫生院 每人每天50元
        ("level1", "80", 40),  # below the daily limit: 40
        ("clinic", "40", 20),
    ],
)
def test_resident_outpatient_50_percent_with_daily_limits_S7(level, inscope, fund):
    """随州 第四十四条 一级及以下 50%; 日限额 卫生室30元 卫生院50元; 不设起付标准 (S7)."""
    check(one(RESIDENT, kind="outpatient", level=level, inscope=inscope), act_pay_dedc=0, hifp_pay=fund)


def test_resident_outpatient_daily_limit_shared_by_same_day_visits_S7():
    """随州 第四十四条 每人每天30元 (S7)."""
    s = settle(
        case(
            CITY,
            RESIDENT,
            visit("V1", date="2025-03-01", kind="outpatient", level="clinic", inscope="40"),
            visit("V2", date="2025-03-01", kind="outpatient", level="clinic", inscope="40"),
            visit("V3", date="2025-03-02", kind="outpatient", level="clinic", inscope="40"),
        )
    )
    check(s[0], hifp_pay=20)
    check(s[1], hifp_pay=10)  # 30 − 20
    check(s[2], hifp_pay=20)  # a new day


@pytest.mark.parametrize("kind, level", [("outpatient", "secondary"), ("outpatient", "tertiary"), ("pharmacy", "pharmacy")])
def test_resident_outpatient_pays_nothing_above_level1_S7(kind, level):
    """随州 第四十四条 在一级及以下定点医疗机构 — elsewhere the fund pays nothing (S7)."""
    check(one(RESIDENT, kind=kind, level=level, inscope="100"), hifp_pay=0, psn_cash_pay=100)


def test_resident_outpatient_annual_limit_350_S7():
    """随州 第四十四条 年封顶350元 (S7)."""
    visits = [visit(f"V{i}", date=f"2025-03-{i:02d}", kind="outpatient", level="primary", inscope="100") for i in range(1, 9)]
    s = settle(case(CITY, RESIDENT, *visits))
    # 50 a day for 7 days = 350; the 8th pays nothing
    for got in s[:7]:
        check(got, hifp_pay=50)
    check(s[7], hifp_pay=0)


def _seven_ordinary_days() -> list[dict]:
    return [visit(f"O{i}", date=f"2025-03-{i:02d}", kind="outpatient", level="primary", inscope="100") for i in range(1, 8)]


@pytest.mark.parametrize(
    "filed, disease, fund",
    [
        (["hypertension"], "hypertension", 100),  # 450 − 350
        (["diabetes"], "diabetes", 150),  # 500 − 350
        (["hypertension", "diabetes"], "hypertension", 200),  # 550 − 350
    ],
)
def test_two_diseases_limit_includes_ordinary_payments_S7(filed, disease, fund):
    """随州 第四十五条 高血压450 糖尿病500 两病550 最高支付限额包含门诊统筹年度支付限额 (S7)."""
    person = {**RESIDENT, "filings": {"chronic": filed, "special": []}}
    s = settle(
        case(
            CITY,
            person,
            *_seven_ordinary_days(),
            visit("C1", date="2025-04-01", kind="chronic", level="primary", disease=disease, inscope="400"),
            visit("C2", date="2025-04-02", kind="chronic", level="primary", disease=disease, inscope="100"),
        )
    )
    for got in s[:7]:
        check(got, hifp_pay=50)  # ordinary: 350 in all
    # 400 × 50% = 200, only the room left under the 两病 limit
    check(s[7], act_pay_dedc=0, hifp_pay=fund)
    check(s[8], hifp_pay=0)


def test_two_diseases_first_then_ordinary_inside_the_same_limit_S7():
    """随州 第四十五条 两病 50%, 不受日限额限制; the 450 includes ordinary payments (S7)."""
    person = {**RESIDENT, "filings": {"chronic": ["hypertension"], "special": []}}
    s = settle(
        case(
            CITY,
            person,
            visit("C1", date="2025-03-01", kind="chronic", level="clinic", disease="hypertension", inscope="860"),
            visit("O1", date="2025-03-02", kind="outpatient", level="primary", inscope="200"),
            visit("O2", date="2025-03-03", kind="outpatient", level="primary", inscope="200"),
        )
    )
    # C1: 860 × 50% = 430, no daily limit at a 卫生室
    check(s[0], hifp_pay=430)
    # O1: 100 → daily 50 → only 450 − 430 = 20 left
    check(s[1], hifp_pay=20)
    check(s[2], hifp_pay=0)


def test_resident_prenatal_inside_350_without_daily_or_level_limit_S7():
    """随州 第四十四条 产前检查费 纳入门诊统筹，不受日限额和医疗机构等级限制 (S7)."""
    person = {**RESIDENT, **WOMAN}
    s = settle(
        case(
            CITY,
            person,
            visit("P1", date="2025-03-01", kind="prenatal", level="tertiary", inscope="600"),
            visit("O1", date="2025-03-02", kind="outpatient", level="primary", inscope="200"),
            visit("O2", date="2025-03-03", kind="outpatient", level="primary", inscope="200"),
        )
    )
    # P1 at 三级: 600 × 50% = 300 (no daily limit, no level limit)
    check(s[0], hifp_pay=300)
    # O1: 100 → daily 50 → 350 − 300 = 50
    check(s[1], hifp_pay=50)
    check(s[2], hifp_pay=0)


def test_resident_prenatal_capped_by_the_350_S7():
    """随州 第四十四条 年封顶350元 also binds 产前检查 (S7)."""
    s = one({**RESIDENT, **WOMAN}, kind="prenatal", level="tertiary", inscope="1000")
    check(s, hifp_pay=350)  # 500 → 350


# =====================================================================================
# S8 — 第五十条: 城乡居民大病保险
# =====================================================================================


def test_resident_ci_threshold_12000_S8():
    """随州 第五十条(一) 起付标准1.2万元; (二) 1.2万–3万 60% (S8)."""
    s = one(RESIDENT, kind="inpatient", level="tertiary", inscope="50000")
    # 900; 49100 × 70% = 34370; basis 15630; (15630 − 12000) × 60% = 2178
    check(s, hifp_pay=34370, hifmi_pay=2178)
    assert details(s)["390200"] == "2178.00"


@pytest.mark.parametrize(
    "assistance, hifmi",
    [
        ("destitute", "6259.50"),  # (15630 − 6000) × (60 + 5)%
        ("orphan", "6259.50"),
        ("subsistence", "6259.50"),
        ("returned_poverty", "6259.50"),
        ("marginal", 2178),  # not a listed group: (15630 − 12000) × 60%
        ("disabled_severe", 2178),
    ],
)
def test_resident_ci_special_groups_threshold_halved_rates_plus_5_S8(assistance, hifmi):
    """随州 第五十条(四) 特困、孤儿、低保、返贫致贫 起付标准减半，各段比例提高5% (S8)."""
    # dated 2026 so that every group owes the 900 deductible (S3)
    s = one({**RESIDENT, "assistance": assistance}, date="2026-03-01", kind="inpatient", level="tertiary", inscope="50000")
    check(s, act_pay_dedc=900, hifp_pay=34370, hifmi_pay=hifmi)


def test_resident_ci_segments_60_65_75_S8():
    """随州 第五十条(二) 1.2万–3万 60%; 3万–10万 65%; 10万以上 75% (S8)."""
    s = one(RESIDENT, kind="inpatient", level="tertiary", inscope="400000")
    # fund 399100 × 70% = 279370 → limited to 150000 (S5); basis 250000
    # 18000 × 60% + 70000 × 65% + 150000 × 75% = 10800 + 45500 + 112500 = 168800
    check(s, hifp_pay=150000, hifmi_pay=168800)


def test_resident_ci_on_the_cumulative_basis_S8():
    """随州 第五十条 个人年度累计负担 — the basis accumulates across visits (S8, G5)."""
    s = settle(
        case(
            CITY,
            RESIDENT,
            visit("V1", date="2025-02-01", kind="inpatient", level="tertiary", inscope="50000"),
            visit("V2", date="2025-06-01", kind="inpatient", level="tertiary", inscope="50000"),
        )
    )
    check(s[0], hifmi_pay=2178)
    # V2: 700; 49300 × 70% = 34510; basis 15490 on [15630, 31120):
    #     14370 × 60% + 1120 × 65% = 8622 + 728 = 9350
    check(s[1], hifp_pay=34510, hifmi_pay=9350)


def test_resident_ci_payment_limit_350000_S8():
    """随州 第五十条(三) 年度最高支付限额35万元 (S8)."""
    s = one(RESIDENT, kind="inpatient", level="tertiary", inscope="1000000")
    # fund 150000; basis 850000: 10800 + 45500 + 750000 × 75% = 618800 → 350000
    check(s, hifp_pay=150000, hifmi_pay=350000)


def test_resident_ci_no_limit_for_special_groups_S8():
    """随州 第五十条(四) 取消最高支付限额 (S8)."""
    s = one({**RESIDENT, "assistance": "subsistence"}, date="2026-03-01", kind="inpatient", level="tertiary", inscope="1000000")
    # basis 850000: 24000 × 65% + 70000 × 70% + 750000 × 80% = 15600 + 49000 + 600000 = 664600
    check(s, hifp_pay=150000, hifmi_pay=664600)


def test_employees_have_no_ci_S8():
    """随州 第五十条 is for 参保居民; employees have 大额 instead (S8)."""
    s = one(kind="inpatient", level="tertiary", inscope="100000")
    # 800; 99200 × 91% = 90272; basis 9728: (9728 − 6000) × 85% = 3168.80 大额, no 大病
    check(s, hifp_pay=90272, hifob_pay="3168.80", hifmi_pay=0)


# =====================================================================================
# S9 — 第二十七条: 职工生育医疗费用
# =====================================================================================


def test_employee_prenatal_100_percent_up_to_800_a_year_S9():
    """随州 第二十七条(一) 产前检查费用按100%支付，最高支付限额800元 (S9)."""
    s = settle(
        case(
            CITY,
            WOMAN,
            visit("V1", date="2025-03-01", kind="prenatal", level="secondary", inscope="500"),
            visit("V2", date="2025-05-01", kind="prenatal", level="tertiary", inscope="300"),
        )
    )
    check(s[0], act_pay_dedc=0, hifp_pay=500, psn_cash_pay=0)
    check(s[1], hifp_pay=300, psn_cash_pay=0)
    assert details(s[0]) == {"510100": "500.00"} and details(s[1]) == {"510100": "300.00"}


def test_employee_prenatal_beyond_800_is_refused_for_21st_article_S9_S1():
    """随州 第二十七条(一) 超出生育保险支付限额 纳入职工医保普通门诊统筹 — whose values 第二十一条 leaves to the city (S9, S1)."""
    with pytest.raises(MissingPolicyValue) as err:
        settle(
            case(
                CITY,
                WOMAN,
                visit("V1", date="2025-03-01", kind="prenatal", level="secondary", inscope="600"),
                visit("V2", date="2025-05-01", kind="prenatal", level="secondary", inscope="300"),
            )
        )
    assert err.value.visit == "V2"
    assert "第二十一条" in str(err.value) and err.value.name.startswith("employee.outpatient")


@pytest.mark.parametrize(
    "sex, procedures, inscope",
    [
        ("F", ["iud_insert", "iud_remove"], "900"),  # limit 500 + 450 = 950
        ("F", ["abortion"], "1000"),  # limit 1000
        ("F", ["induced_labor", "ligation"], "5000"),  # limit 2500 + 2800 = 5300
        ("F", ["ligation"], "2800"),
        ("M", ["vasectomy"], "2000"),  # 输卵(精)管结扎 2800
    ],
)
def test_family_planning_100_percent_within_summed_limits_S9(sex, procedures, inscope):
    """随州 第二十七条(三) 计划生育医疗费用按100%支付，同时开展多项手术项目的，支付限额累加 (S9)."""
    s = one({"sex": sex}, kind="family_planning", level="secondary", procedure=procedures, inscope=inscope)
    check(s, act_pay_dedc=0, hifp_pay=inscope, psn_cash_pay=0)
    assert details(s) == {"510100": money(inscope)}


def test_family_planning_beyond_the_limit_is_refused_for_21st_article_S9_S1():
    """随州 第二十七条(三) 放置节育环 500: the remainder follows the ordinary benefit (S9, S1)."""
    with pytest.raises(MissingPolicyValue) as err:
        one(WOMAN, kind="family_planning", level="secondary", procedure=["iud_insert"], inscope="600")
    assert "第二十一条" in str(err.value)


# =====================================================================================
# S10 — no 医疗救助 rates in 随州's text
# =====================================================================================


@pytest.mark.parametrize("person", [{"assistance": "destitute"}, {**RESIDENT, "assistance": "destitute"}])
def test_no_medical_assistance_in_suizhou_S10(person):
    """随州: the text sets no 医疗救助 benefit rates — maf_pay is 0 (S10)."""
    s = one(person, date="2026-03-01", kind="inpatient", level="tertiary", inscope="10000")
    assert s["maf_pay"] == "0.00"
    assert "610100" not in details(s)


def test_account_pays_current_then_history_G8():
    """G8: 随州 (第二十条(五) 按国家、省有关规定) — the remaining share from current then history."""
    s = one({"account": {"current": "500.00", "history": "1000.00"}}, kind="inpatient", level="tertiary", inscope="10800")
    # fund 10000 × 91% = 9100; personal 1700: current 500 + history 1000; cash 200
    check(s, hifp_pay=9100, acct_pay=1500, psn_cash_pay=200, balc=0)
    assert details(s) == {"310100": "9100.00", "310200": "1500.00"}


def test_resident_delivery_follows_resident_inpatient_rules_S2():
    """随州 第四十八条 参保居民住院分娩 参照居民医保住院相关政策执行 — deductible, admission (S2)."""
    s = settle(
        case(
            CITY,
            {**RESIDENT, **WOMAN},
            visit("V1", date="2025-02-01", kind="delivery", level="tertiary", inscope="10000"),
            visit("V2", date="2025-06-01", kind="inpatient", level="tertiary", inscope="10000"),
        )
    )
    check(s[0], act_pay_dedc=900, hifp_pay=6370)  # 9100 × 70%
    assert details(s[0]) == {"390100": "6370.00"}
    check(s[1], act_pay_dedc=700, hifp_pay=6510)  # 2nd admission: 9300 × 70%


def test_resident_ci_basis_excludes_preselfpay_G6_S8():
    """G6 随州: 政策范围内 personal burden — pooled in-scope − hifp, not 先行自付 (S8)."""
    s = one(RESIDENT, kind="inpatient", level="tertiary", amounts={"inscp_scp_amt": "50000", "preselfpay_amt": "5000"})
    check(s, hifp_pay=34370, hifmi_pay=2178)


def test_resident_abortion_outpatient_inside_pooling_without_daily_or_level_limit_S7():
    """随州 第四十四条 先兆流产、流产、引产门诊费用纳入门诊统筹保障范围，不受日限额和医疗机构等级限制."""
    s = one({**RESIDENT, **WOMAN}, kind="family_planning", level="tertiary", procedure=["abortion"], inscope="400")
    check(s, hifp_pay=200)  # 400 × 50%, at a 三级 hospital, above the 50 daily limit


def test_trace_cites_the_articles():
    """case-format trace: each step with its clause (随州 第二十三条, 第二十五条)."""
    s = one(kind="inpatient", level="tertiary", inscope="100000")
    sources = {t["step"]: t["source"] for t in s["trace"]}
    assert "第二十三条" in sources["deductible"]
    assert any("第二十五条" in t["source"] for t in s["trace"] if t["step"].startswith("hifob"))
    assert details(s) == {"310100": "90272.00", "330100": "3168.80"}
