"""嘉兴 Jiaxing — the law, clause by clause (嘉政发〔2024〕22号, seeds/000; readings J1–J9, G*).

Every expected figure is worked by hand from the regulation and ``readings.md``; the
arithmetic is in the comment next to it. Visits are settled in-process with
``settle(case(...))``; a person is an active employee with no account unless stated.
"""

from __future__ import annotations


import pytest

from support import case, check, details, settle, split, visit

CITY = "jiaxing"





def one(person: dict | None = None, **v) -> dict:
    """Settle a single visit and return its settlement."""
    return settle(case(CITY, person, visit(**v)))[0]



RETIRED = {"category": "retired"}
RESIDENT = {"scheme": "resident", "category": "adult"}


# =====================================================================================
# J1 — (十六)1: ordinary outpatient deductible, one annual amount; 基层 exempt
# =====================================================================================


def test_outpatient_deductible_is_one_annual_amount_accumulated_J1():
    """嘉兴 (十六)1: 起付标准 在职 400, accumulated across visits (J1)."""
    s = settle(
        case(
            CITY,
            None,
            visit("V1", kind="outpatient", level="secondary", inscope="300"),
            visit("V2", date="2025-04-01", kind="outpatient", level="secondary", inscope="500"),
        )
    )
    # V1: 300 < 400 → all of it is deductible, fund pays nothing
    check(s[0], act_pay_dedc=300, hifp_pay=0, psn_cash_pay=300)
    # V2: 400 − 300 = 100 still owed; (500 − 100) × 70% (二级) = 280
    check(s[1], act_pay_dedc=100, hifp_pay=280, psn_cash_pay=220)


def test_outpatient_deductible_retired_200_and_rate_plus_5_J1_J4():
    """嘉兴 (十六)1 退休 起付标准 200; (十六)3 退休 +5 (J1, J4)."""
    s = one(RETIRED, kind="outpatient", level="tertiary", inscope="1200")
    # 1200 − 200 = 1000 × (60 + 5)% = 650
    check(s, act_pay_dedc=200, hifp_pay=650)


@pytest.mark.parametrize("level", ["clinic", "primary"])
def test_basic_level_outpatient_has_no_deductible_and_adds_nothing_J1(level):
    """嘉兴 (十六)1 基层医疗机构就诊不设起付标准; (六十四) 基层 (J1)."""
    s = settle(
        case(
            CITY,
            None,
            visit("V1", kind="outpatient", level=level, inscope="1000"),
            visit("V2", date="2025-04-01", kind="outpatient", level="secondary", inscope="1000"),
        )
    )
    # V1 at 基层: no deductible, 1000 × 85% = 850
    check(s[0], act_pay_dedc=0, hifp_pay=850)
    # V2: the 基层 visit added nothing → the full 400 is owed; 600 × 70% = 420
    check(s[1], act_pay_dedc=400, hifp_pay=420)


# =====================================================================================
# J2 — (十七)1 + (五十): per admission, the year's deductibles capped at 800
# =====================================================================================


def test_inpatient_deductible_capped_at_highest_standard_J2():
    """嘉兴 (十七)1 + (五十) 起付标准按年度累计，累计达到最高起付标准为限 (J2)."""
    s = settle(
        case(
            CITY,
            None,
            visit("V1", date="2025-02-01", kind="inpatient", level="secondary", inscope="10000"),
            visit("V2", date="2025-05-01", kind="inpatient", level="tertiary", inscope="10000"),
            visit("V3", date="2025-08-01", kind="inpatient", level="primary", inscope="5000"),
        )
    )
    # V1: 二级 500; (10000 − 500) × 85% = 8075
    check(s[0], act_pay_dedc=500, hifp_pay=8075)
    # V2: min(800, 800 − 500) = 300; (10000 − 300) × 80% = 7760
    check(s[1], act_pay_dedc=300, hifp_pay=7760)
    # V3: min(300, 800 − 800) = 0; 5000 × 90% = 4500
    check(s[2], act_pay_dedc=0, hifp_pay=4500)


def test_inpatient_deductible_each_admission_until_the_800_cap_J2():
    """嘉兴 (十七)1 一级及以下 300 per admission; (五十) capped at 800 a year (J2)."""
    visits = [visit(f"V{i}", date=f"2025-0{i + 1}-01", kind="inpatient", level="level1", inscope="3000") for i in range(1, 5)]
    s = settle(case(CITY, None, *visits))
    # owed = min(300, 800 − paid): 300, 300, 200, 0
    # fund = (3000 − owed) × 90%: 2430, 2430, 2520, 2700
    for got, (ded, fund) in zip(s, [(300, 2430), (300, 2430), (200, 2520), (0, 2700)]):
        check(got, act_pay_dedc=ded, hifp_pay=fund)


def test_special_and_family_bed_owe_no_inpatient_deductible_J2():
    """嘉兴 (十九)3 特殊病种 不设起付标准; (五十二)4 家庭病床 不设起付标准 (J2)."""
    person = {"filings": {"chronic": [], "special": ["malignant_tumor"]}}
    s = settle(
        case(
            CITY,
            person,
            visit("V1", date="2025-02-01", kind="special", level="tertiary", disease="malignant_tumor", inscope="10000"),
            visit("V2", date="2025-03-01", kind="family_bed", level="primary", inscope="2000"),
            visit("V3", date="2025-04-01", kind="inpatient", level="tertiary", inscope="10800"),
        )
    )
    # V1 special at 三级: no deductible, 10000 × 80% = 8000
    check(s[0], act_pay_dedc=0, hifp_pay=8000)
    # V2 family bed at 基层: no deductible, 2000 × 90% = 1800
    check(s[1], act_pay_dedc=0, hifp_pay=1800)
    # V3: nothing was borne before → the full 800; 10000 × 80% = 8000
    check(s[2], act_pay_dedc=800, hifp_pay=8000)


# =====================================================================================
# J3 — (十六)2, (二十七)1: outpatient expense limit on the axis; chronic raised
# =====================================================================================


def test_outpatient_expense_limit_10000_J3():
    """嘉兴 (十六)2 最高支付限额 10000; (六十八)4 限额 is the highest expense (J3, G5)."""
    s = one(kind="outpatient", level="tertiary", inscope="12000")
    # axis [0, 12000): [0, 400) deductible; [400, 10000) × 60% = 5760; [10000, 12000) not paid
    check(s, act_pay_dedc=400, hifp_pay=5760, hifmi_pay=0, psn_cash_pay=6240)


def test_chronic_limit_raised_5000_on_the_same_axis_J3():
    """嘉兴 (十八)3 门诊最高支付限额提高5000元，提高额度限于慢性病针对性用药 (J3)."""
    person = {"filings": {"chronic": ["hypertension"], "special": []}}
    s = settle(
        case(
            CITY,
            person,
            visit("V1", date="2025-02-01", kind="outpatient", level="tertiary", inscope="9000"),
            visit("V2", date="2025-03-01", kind="chronic", level="tertiary", disease="hypertension", inscope="6000"),
            visit("V3", date="2025-04-01", kind="outpatient", level="tertiary", inscope="1000"),
            visit("V4", date="2025-05-01", kind="chronic", level="tertiary", disease="hypertension", inscope="1000"),
        )
    )
    # V1: 400 deductible; (9000 − 400) × 60% = 5160; axis now 9000
    check(s[0], act_pay_dedc=400, hifp_pay=5160)
    # V2 chronic: limit 15000; axis [9000, 15000) all payable × (60 + 3)% = 3780
    check(s[1], act_pay_dedc=0, hifp_pay=3780)
    # V3 ordinary: axis [15000, 16000) is beyond its own limit 10000 → 0
    check(s[2], hifp_pay=0)
    # V4 chronic: axis [16000, 17000) is beyond 15000 → 0
    check(s[3], hifp_pay=0)


def test_resident_outpatient_limit_2400_and_chronic_plus_1800_J3():
    """嘉兴 (二十七)1 居民 最高支付限额 2400; (二十九) 慢性病提高1800元 (J3)."""
    person = {**RESIDENT, "filings": {"chronic": ["diabetes"], "special": []}}
    s = settle(
        case(
            CITY,
            person,
            visit("V1", date="2025-02-01", kind="outpatient", level="primary", inscope="2000"),
            visit("V2", date="2025-03-01", kind="chronic", level="primary", disease="diabetes", inscope="2500"),
            visit("V3", date="2025-04-01", kind="outpatient", level="primary", inscope="100"),
        )
    )
    # V1: no resident deductible; 2000 × 55% = 1100
    check(s[0], act_pay_dedc=0, hifp_pay=1100)
    # V2 chronic: limit 2400 + 1800 = 4200; axis [2000, 4200) = 2200 × 65% = 1430; 300 beyond
    check(s[1], hifp_pay=1430)
    # V3 ordinary: axis [4500, 4600) beyond 2400 → 0
    check(s[2], hifp_pay=0)


def test_resident_outpatient_beyond_2400_not_paid_J3():
    """嘉兴 (二十七)1 居民 最高支付限额 2400 (J3)."""
    s = one(RESIDENT, kind="outpatient", level="primary", inscope="3000")
    # [0, 2400) × 55% = 1320; 600 beyond
    check(s, hifp_pay=1320, psn_cash_pay=1680)


# =====================================================================================
# J4 — (十六)3, (十八)3, (二十七)2, (二十九): outpatient rates
# =====================================================================================


@pytest.mark.parametrize(
    "kind, level, ded, fund",
    [
        ("outpatient", "clinic", 0, 1190),  # 基层: no deductible, 1400 × 85%
        ("outpatient", "primary", 0, 1190),  # 基层: 1400 × 85%
        ("outpatient", "level1", 400, 600),  # 其他: (1400 − 400) × 60%
        ("outpatient", "secondary", 400, 700),  # 二级: 1000 × 70%
        ("outpatient", "tertiary", 400, 600),  # 其他: 1000 × 60%
        ("pharmacy", "pharmacy", 400, 600),  # 其他医药机构 (药店): 1000 × 60%
    ],
)
def test_employee_outpatient_rates_by_level_J4(kind, level, ded, fund):
    """嘉兴 (十六)3 基层85% 二级70% 其他医药机构60% (J4)."""
    check(one(kind=kind, level=level, inscope="1400"), act_pay_dedc=ded, hifp_pay=fund)


@pytest.mark.parametrize(
    "kind, level, ded, fund",
    [
        ("outpatient", "primary", 0, 1080),  # 1200 × (85 + 5)%
        ("outpatient", "secondary", 200, 750),  # (1200 − 200) × (70 + 5)%
        ("outpatient", "tertiary", 200, 650),  # 1000 × (60 + 5)%
        ("pharmacy", "pharmacy", 200, 650),  # 1000 × (60 + 5)%
    ],
)
def test_retired_outpatient_rates_plus_5_J4(kind, level, ded, fund):
    """嘉兴 (十六)3 退休人员在上述比例基础上增加5个百分点 (J4)."""
    check(one(RETIRED, kind=kind, level=level, inscope="1200"), act_pay_dedc=ded, hifp_pay=fund)


@pytest.mark.parametrize(
    "category, level, inscope, fund",
    [
        ("active", "primary", "1000", 880),  # 1000 × (85 + 3)%
        ("active", "secondary", "1400", 730),  # (1400 − 400) × (70 + 3)%
        ("active", "level1", "1400", 630),  # 1000 × (60 + 3)%
        ("active", "tertiary", "1400", 630),  # 1000 × (60 + 3)%
        ("active", "pharmacy", "1400", 830),  # 1000 × 83% (药店 flat)
        ("retired", "tertiary", "1200", 680),  # (1200 − 200) × (60 + 5 + 3)%
        ("retired", "pharmacy", "1200", 830),  # (1200 − 200) × 83% (药店 flat)
    ],
)
def test_employee_chronic_rates_plus_3_and_83_at_pharmacy_J4(category, level, inscope, fund):
    """嘉兴 (十八)3 慢性病 在普通门(急)诊报销比例基础上提高3个百分点、定点零售药店83% (J4)."""
    person = {"category": category, "filings": {"chronic": ["hypertension"], "special": []}}
    check(one(person, kind="chronic", level=level, disease="hypertension", inscope=inscope), hifp_pay=fund)


@pytest.mark.parametrize(
    "kind, level, fund",
    [
        ("outpatient", "clinic", 550),  # 基层 55%
        ("outpatient", "primary", 550),
        ("outpatient", "secondary", 450),  # 二级 45%
        ("outpatient", "level1", 350),  # 其他 35%
        ("outpatient", "tertiary", 350),
        ("pharmacy", "pharmacy", 350),
    ],
)
def test_resident_outpatient_rates_J4(kind, level, fund):
    """嘉兴 (二十七)2 居民 基层55% 二级45% 其他医药机构35%; no deductible (J4)."""
    check(one(RESIDENT, kind=kind, level=level, inscope="1000"), act_pay_dedc=0, hifp_pay=fund)


@pytest.mark.parametrize(
    "level, fund",
    [("primary", 650), ("clinic", 650), ("secondary", 500), ("level1", 350), ("tertiary", 350), ("pharmacy", 530)],
)
def test_resident_chronic_absolute_rates_J4(level, fund):
    """嘉兴 (二十九) 居民慢性病 基层65% 二级50% 其他35% 药店53% — absolute rates (J4)."""
    person = {**RESIDENT, "filings": {"chronic": ["diabetes"], "special": []}}
    # 1000 × rate
    check(one(person, kind="chronic", level=level, disease="diabetes", inscope="1000"), hifp_pay=fund)


def test_unfiled_chronic_visit_is_ordinary_outpatient_G4():
    """G4: a chronic visit whose disease is not filed is settled as ordinary outpatient."""
    # 1400 at 二级, no filings: 400 deductible, 1000 × 70% (not 73%) = 700
    check(one(kind="chronic", level="secondary", disease="hypertension", inscope="1400"), hifp_pay=700)


# =====================================================================================
# J5 — (十七)2-3, (二十八): inpatient segments and limits
# =====================================================================================


def test_inpatient_segments_to_200k_then_85_percent_J5():
    """嘉兴 (十七)3 起付标准以上至20万元 80% (三级); 20万元以上至最高支付限额 85% (J5)."""
    s = one(kind="inpatient", level="tertiary", inscope="300000")
    # [800, 200000) × 80% = 159360; [200000, 300000) × 85% = 85000 → 244360
    check(s, act_pay_dedc=800, hifp_pay=244360)


def test_retired_plus_5_only_in_first_segment_J5():
    """嘉兴 (十七)3 退休 +5 on 起付标准以上至20万元 only; above 20万 85% for everyone (J5)."""
    s = one(RETIRED, kind="inpatient", level="tertiary", inscope="300000")
    # [800, 200000) × 85% = 169320; [200000, 300000) × 85% = 85000 → 254320
    check(s, act_pay_dedc=800, hifp_pay=254320)


def test_nothing_beyond_one_million_J5():
    """嘉兴 (十七)2 最高支付限额100万元，超过的费用由个人自付 (J5); (三十三)2 → 大病 (J7)."""
    s = one(kind="inpatient", level="tertiary", inscope="1100000")
    # 159360 + [200000, 1000000) × 85% = 680000 → 839360; [1000000, 1100000) not paid
    # 大病 basis = 1100000 − 839360 = 260640; (260640 − 15000) × 70% = 171948
    check(s, hifp_pay=839360, hifmi_pay=171948, psn_cash_pay=88692)


@pytest.mark.parametrize(
    "category, level, inscope, fund",
    [
        ("active", "clinic", "10300", 9000),  # (10300 − 300) × 90%
        ("active", "primary", "10300", 9000),
        ("active", "level1", "10300", 9000),
        ("active", "secondary", "10500", 8500),  # (10500 − 500) × 85%
        ("active", "tertiary", "10800", 8000),  # (10800 − 800) × 80%
        ("retired", "level1", "10300", 9500),  # 10000 × 95%
        ("retired", "secondary", "10500", 9000),  # 10000 × 90%
        ("retired", "tertiary", "10800", 8500),  # 10000 × 85%
    ],
)
def test_employee_inpatient_rates_by_level_J5(category, level, inscope, fund):
    """嘉兴 (十七)1,3 基层及一级 90% / 二级 85% / 三级 80%, 退休 +5 (J5)."""
    check(one({"category": category}, kind="inpatient", level=level, inscope=inscope), hifp_pay=fund)


@pytest.mark.parametrize(
    "level, inscope, fund",
    [
        ("clinic", "10300", 9000),  # (10300 − 300) × 90%
        ("primary", "10300", 9000),
        ("level1", "10300", 8500),  # 其他一级 85%
        ("secondary", "10500", 7500),  # 10000 × 75%
        ("tertiary", "10800", 6500),  # 10000 × 65%
    ],
)
def test_resident_inpatient_rates_by_level_J5(level, inscope, fund):
    """嘉兴 (二十八)3 居民 基层90% 其他一级85% 二级75% 三级65% (J5)."""
    check(one(RESIDENT, kind="inpatient", level=level, inscope=inscope), hifp_pay=fund)


def test_resident_inpatient_limit_200k_J5():
    """嘉兴 (二十八)2 居民 最高支付限额 20万元 (J5)."""
    s = one(RESIDENT, kind="inpatient", level="tertiary", inscope="250000")
    # [800, 200000) × 65% = 129480; [200000, 250000) not paid
    # 大病: 250000 − 129480 = 120520; (120520 − 15000) × 70% = 73864
    check(s, act_pay_dedc=800, hifp_pay=129480, hifmi_pay=73864)


@pytest.mark.parametrize("category, fund", [("active", 8500), ("retired", 9000)])
def test_special_visit_uses_inpatient_rate_of_its_level_J5(category, fund):
    """嘉兴 (十九)3 特殊病种 视作住院 (不设起付标准) 按住院支付比例 (J5)."""
    person = {"category": category, "filings": {"chronic": [], "special": ["lupus"]}}
    # 二级: 10000 × 85% (退休 90%), no deductible
    check(one(person, kind="special", level="secondary", disease="lupus", inscope="10000"), act_pay_dedc=0, hifp_pay=fund)


# =====================================================================================
# J6 — (四十九), (五十一): non-local care
# =====================================================================================


@pytest.mark.parametrize("route", ["referral", "emergency"])
def test_nonlocal_referral_10_percent_first_then_tertiary_J6(route):
    """嘉兴 (四十九)1 转诊: 个人自付10%后，统一按三级医院的起付标准、报销比例支付 (J6)."""
    s = one(kind="inpatient", level="secondary", location="province", route=route, inscope="10000")
    # 10% = 1000 personal; 9000 − 800 (三级 deductible) = 8200 × 80% (三级) = 6560
    check(s, act_pay_dedc=800, hifp_pay=6560, psn_cash_pay=3440)


@pytest.mark.parametrize("route", [None, "temporary"])
def test_nonlocal_temporary_20_percent_first_then_tertiary_J6(route):
    """嘉兴 (四十九)2 未经规范转诊: 个人自付20%后按三级 (J6; G12 no route = temporary)."""
    extra = {"route": route} if route else {}
    s = one(kind="inpatient", level="secondary", location="out_of_province", inscope="10000", **extra)
    # 20% = 2000; 8000 − 800 = 7200 × 80% = 5760
    check(s, act_pay_dedc=800, hifp_pay=5760, psn_cash_pay=4240)


def test_nonlocal_long_term_settled_as_local_J6():
    """嘉兴 (五十一) 异地安置 视同我市定点医疗机构 (J6)."""
    s = one(kind="inpatient", level="secondary", location="out_of_province", route="long_term", inscope="10000")
    # local 二级: 500; 9500 × 85% = 8075
    check(s, act_pay_dedc=500, hifp_pay=8075)


def test_nonlocal_outpatient_at_primary_settled_as_tertiary_J6():
    """嘉兴 (四十九)2: the rest settled with the 三级 deductible and rate whatever the level (J6)."""
    s = one(kind="outpatient", level="primary", location="province", inscope="1400")
    # 20% of 1400 = 280; 1120 − 400 (no 基层 exemption: settled as 三级) = 720 × 60% = 432
    check(s, act_pay_dedc=400, hifp_pay=432)


# =====================================================================================
# J7 — (三十三)(三十四)(三十九): 大病保险
# =====================================================================================


def test_ci_outpatient_only_beyond_the_expense_limit_J7():
    """嘉兴 (三十三)2 门诊最高支付限额以上的自付费用; (三十四) 1.5万(不含)以上 70% (J7)."""
    s = one(kind="outpatient", level="tertiary", inscope="40000")
    # fund: [400, 10000) × 60% = 5760; beyond the limit: 30000
    # 大病 basis = 30000 only (not the deductible or co-pay): (30000 − 15000) × 70% = 10500
    check(s, hifp_pay=5760, hifmi_pay=10500)


def test_ci_threshold_15000_on_the_cumulative_basis_J7():
    """嘉兴 (三十四) 个人累计医疗费用1.5万元(不含)以上 70% (J7, G5, G10)."""
    s = settle(
        case(
            CITY,
            None,
            visit("V1", date="2025-02-01", kind="inpatient", level="tertiary", inscope="50000"),
            visit("V2", date="2025-06-01", kind="inpatient", level="tertiary", inscope="50000"),
        )
    )
    # V1: 800; 49200 × 80% = 39360; 自付 10640 < 15000 → no 大病
    check(s[0], hifp_pay=39360, hifmi_pay=0)
    # V2: no deductible left; 50000 × 80% = 40000; 自付 10000 on CI axis [10640, 20640)
    #     (20640 − 15000) × 70% = 3948
    check(s[1], act_pay_dedc=0, hifp_pay=40000, hifmi_pay=3948)


def test_ci_basis_includes_preselfpay_and_overlimit_not_fulamt_J7_G6():
    """嘉兴 (六十八)1 自付 includes 乙类先行自付 and 超限价 (G6), 自费 excluded (J7)."""
    s = one(kind="inpatient", level="tertiary", **split(inscp=100000, pre=5000, over=1000, ful=3000))
    # fund: 800; 99200 × 80% = 79360; pooled 自付 20640
    # basis = 5000 + 1000 + 20640 = 26640; (26640 − 15000) × 70% = 8148
    check(s, hifp_pay=79360, hifmi_pay=8148, psn_cash_pay=109000 - 79360 - 8148)


def test_ci_chronic_visit_counts_its_whole_selfpay_J7():
    """嘉兴 (三十三)1 门诊慢特病 自付医疗费用 (J7)."""
    person = {"filings": {"chronic": ["hypertension"], "special": []}}
    s = one(person, kind="chronic", level="tertiary", disease="hypertension", inscope="30000")
    # fund: 400 deductible; [400, 15000) × 63% = 9198; beyond 15000 not paid
    # basis = 30000 − 9198 = 20802; (20802 − 15000) × 70% = 4061.40
    check(s, hifp_pay=9198, hifmi_pay="4061.40")


def test_ci_expense_limit_600000_J7():
    """嘉兴 (三十四) 纳入大病保险支付范围的个人累计医疗费用最高支付限额为60万元 (J7)."""
    s = settle(
        case(
            CITY,
            None,
            visit("V1", date="2025-02-01", kind="inpatient", level="tertiary", **split(inscp=1100000, pre=400000)),
            visit("V2", date="2025-06-01", kind="inpatient", level="primary", inscope="10000"),
        )
    )
    # V1 fund: 159360 + 680000 = 839360; basis = 400000 + 260640 = 660640
    #    CI pays [15000, 600000) × 70% = 409500
    check(s[0], hifp_pay=839360, hifmi_pay=409500)
    # V2: inpatient axis already beyond 1,000,000 → fund 0; CI axis beyond 600000 → 0
    check(s[1], hifp_pay=0, hifmi_pay=0, psn_cash_pay=10000)


def test_ci_assistance_recipients_7500_and_80_percent_without_limit_J7():
    """嘉兴 (三十九) 医疗救助对象 7500元以上 80%，不设最高支付限额 (J7); (三十六)3 低边 80% (J8)."""
    s = one({"assistance": "marginal"}, kind="inpatient", level="tertiary", **split(inscp=1100000, pre=400000))
    # basis 660640; (660640 − 7500) × 80% = 522512 (no 600k limit)
    # 救助: (660640 − 522512) × 80% = 110502.40 (within 120000)
    check(s, hifp_pay=839360, hifmi_pay=522512, maf_pay="110502.40")


def test_ci_assistance_recipient_small_bill_J7_J8():
    """嘉兴 (三十九) 7500 以上 80%; (三十六)5 其他对象 50% on what 大病 left (J7, J8)."""
    s = one({"assistance": "other"}, kind="inpatient", level="tertiary", inscope="50000")
    # fund 39360; 自付 10640; CI (10640 − 7500) × 80% = 2512; 救助 (10640 − 2512) × 50% = 4064
    check(s, hifp_pay=39360, hifmi_pay=2512, maf_pay=4064, psn_cash_pay=4064)


# =====================================================================================
# J8 — (三十六)(三十七): 医疗救助
# =====================================================================================


@pytest.mark.parametrize(
    "assistance, maf",
    [
        ("destitute", 2800),  # 全额
        ("subsistence", 2520),  # 90%
        ("marginal", 2240),  # 80%
        ("expenditure_poverty", 1960),  # 70%
        ("disabled_severe", 1400),  # other categories: 50%
        ("orphan", 1400),
        ("returned_poverty", 1400),
        ("other", 1400),
        (None, 0),
    ],
)
def test_assistance_rate_per_category_J8(assistance, maf):
    """嘉兴 (三十六)1–5: 特困全额 / 低保90% / 低边80% / 支出型70% / 其他不低于50% (J8)."""
    s = one({"assistance": assistance}, kind="inpatient", level="tertiary", inscope="10800")
    # fund (10800 − 800) × 80% = 8000; 自付 2800 (< 7500: no 大病); 救助 = rate × 2800
    check(s, hifp_pay=8000, hifmi_pay=0, maf_pay=maf, psn_cash_pay=2800 - maf)


CHILD = {"scheme": "resident", "category": "child"}


@pytest.mark.parametrize(
    "birth, assistance, disease, maf",
    [
        ("2011-03-01", None, "congenital_heart_disease", 3440),  # 14 on the visit date: 80% × 4300
        ("2019-06-01", None, "leukemia", 3440),  # aged 5: 80%
        ("2015-01-01", "other", "leukemia", 3440),  # 50% raised to 80%
        ("2015-01-01", "destitute", "leukemia", 4300),  # 100% stays 100%
        ("2010-03-01", None, "congenital_heart_disease", 0),  # 15 on the visit date: no child rule
        ("2010-03-01", "other", "congenital_heart_disease", 2150),  # 15: category 50% × 4300
        ("2015-01-01", None, None, 0),  # another disease: no child rule
    ],
)
def test_assistance_child_rule_with_birth_date_J8(birth, assistance, disease, maf):
    """嘉兴 (三十六) 0-14周岁(含14周岁)儿童患先天性心脏病、白血病 自付费用 80% 补助 (J8)."""
    person = {**CHILD, "birth_date": birth, "assistance": assistance}
    s = one(person, date="2025-03-01", kind="inpatient", level="tertiary", disease=disease, inscope="10800")
    # resident 三级: (10800 − 800) × 65% = 6500; 自付 4300 (no 大病 at either threshold)
    check(s, hifp_pay=6500, hifmi_pay=0, maf_pay=maf)


def test_assistance_annual_limit_120000_across_visits_J8():
    """嘉兴 (三十七) 年最高医疗救助额为12万元 (J8)."""
    s = settle(
        case(
            CITY,
            {"assistance": "destitute"},
            visit("V1", date="2025-02-01", kind="outpatient", level="primary", **split(inscp=1000, pre=100000)),
            visit("V2", date="2025-03-01", kind="outpatient", level="primary", **split(inscp=1000, pre=30000)),
            visit("V3", date="2025-04-01", kind="inpatient", level="tertiary", inscope="10800"),
        )
    )
    # V1: 基层 1000 × 85% = 850; 大病: ordinary outpatient within the limit → 0
    #     救助 100% × (100000 + 150) = 100150
    check(s[0], hifp_pay=850, hifmi_pay=0, maf_pay=100150)
    # V2: 850; 自付 30150 → only 120000 − 100150 = 19850 left
    check(s[1], hifp_pay=850, maf_pay=19850, psn_cash_pay=10300)
    # V3: 8000; 自付 2800 → the year's assistance is used up
    check(s[2], hifp_pay=8000, maf_pay=0, psn_cash_pay=2800)


# =====================================================================================
# J9 — (二十): 建国前老工人
# =====================================================================================

VETERAN = {"category": "retired", "flags": ["pre1949_worker"]}


@pytest.mark.parametrize("level, inscope, ded", [("tertiary", "1200", 200), ("primary", "1000", 0)])
def test_pre1949_worker_outpatient_95_percent_above_deductible_J9(level, inscope, ded):
    """嘉兴 (二十) 老工人门诊 起付标准以上的费用由统筹基金按95%支付 (J9)."""
    # (inscope − deductible) = 1000 × 95% = 950
    check(one(VETERAN, kind="outpatient", level=level, inscope=inscope), act_pay_dedc=ded, hifp_pay=950)


def test_pre1949_worker_inpatient_95_percent_of_remaining_selfpay_J9():
    """嘉兴 (二十) 住院按基本医疗保险规定报销后，对其自付的费用由统筹基金再按95%支付 (J9)."""
    s = one(VETERAN, kind="inpatient", level="tertiary", **split(inscp=10800, pre=1000))
    # normal: 800; 10000 × 85% (退休) = 8500; 自付 = 1000 + 800 + 1500 = 3300
    # again: 3300 × 95% = 3135 → hifp 8500 + 3135 = 11635; the person keeps 165
    check(s, hifp_pay=11635, psn_cash_pay=165)


def test_pre1949_worker_special_outpatient_also_topped_up_J9():
    """嘉兴 (二十) 住院(含特殊病种门诊) 自付再按95% (J9)."""
    person = {**VETERAN, "filings": {"chronic": [], "special": ["malignant_tumor"]}}
    s = one(person, kind="special", level="tertiary", disease="malignant_tumor", inscope="10000")
    # 10000 × 85% = 8500; 自付 1500 × 95% = 1425 → 9925
    check(s, hifp_pay=9925, psn_cash_pay=75)


# =====================================================================================
# A1 / G8 — (十五)(十六): current-year account first; history pays the rest
# =====================================================================================


def test_current_account_pays_outpatient_first_history_pays_the_rest_A1_G8():
    """嘉兴 (十六) 先由当年个人账户支付; (十五)2 历年账户支付自付和自费 (G8 A1)."""
    person = {"account": {"current": "500.00", "history": "3000.00"}}
    s = one(person, kind="outpatient", level="secondary", **split(inscp=1500, ful=100))
    # A1: current pays 500 of the in-scope 1500; pooled 1000: 400 deductible, 600 × 70% = 420
    # remaining 1600 − 420 − 500 = 680 from history; balance 3500 − 1180 = 2320
    check(s, act_pay_dedc=400, hifp_pay=420, acct_pay=1180, psn_cash_pay=0, balc=2320)
    assert details(s) == {"310100": "420.00", "310200": "1180.00"}


def test_current_account_covers_the_bill_then_runs_out_A1():
    """嘉兴 (十六): only the remainder after the current account enters the deductible (A1)."""
    person = {"account": {"current": "2000.00", "history": "0.00"}}
    s = settle(
        case(
            CITY,
            person,
            visit("V1", date="2025-02-01", kind="outpatient", level="secondary", inscope="1500"),
            visit("V2", date="2025-03-01", kind="outpatient", level="secondary", inscope="1000"),
        )
    )
    # V1: current pays all 1500; nothing enters the deductible
    check(s[0], act_pay_dedc=0, hifp_pay=0, acct_pay=1500, balc=500)
    # V2: current pays 500; 500 left: 400 deductible, 100 × 70% = 70; 430 cash (no history)
    check(s[1], act_pay_dedc=400, hifp_pay=70, acct_pay=500, psn_cash_pay=430, balc=0)


def test_inpatient_remaining_share_from_history_account_only_G8():
    """嘉兴 (十五)1 当年账户 for 普通门诊; (十五)2 历年账户 pays the personal share (G8)."""
    person = {"account": {"current": "1000.00", "history": "200.00"}}
    s = one(person, kind="inpatient", level="tertiary", inscope="10800")
    # fund 8000; personal 2800: history 200, the current account is not used; cash 2600
    check(s, hifp_pay=8000, acct_pay=200, psn_cash_pay=2600, balc=1000)


def test_use_account_false_pays_nothing_from_the_account_G8():
    """case-format `use_account: false`: no A1, no account payment (G7, G8)."""
    person = {"account": {"current": "500.00", "history": "3000.00"}}
    s = one(person, kind="outpatient", level="secondary", inscope="1500", use_account=False)
    # no A1: 400 deductible; 1100 × 70% = 770; 730 cash
    check(s, act_pay_dedc=400, hifp_pay=770, acct_pay=0, psn_cash_pay=730, balc=3500)


def test_year_restarts_deductibles_G2():
    """G2: running totals restart on 1 January (嘉兴 (六十八)5 一个结算年度)."""
    s = settle(
        case(
            CITY,
            None,
            visit("V1", date="2025-12-31", kind="inpatient", level="tertiary", inscope="10800"),
            visit("V2", date="2026-01-01", kind="inpatient", level="tertiary", inscope="10800"),
        )
    )
    check(s[0], act_pay_dedc=800, hifp_pay=8000)
    check(s[1], act_pay_dedc=800, hifp_pay=8000)
    assert (s[0]["year"], s[1]["year"]) == (2025, 2026)


def test_remaining_outpatient_selfpay_from_history_not_current_G8():
    """嘉兴 (十五)1 当年账户 pays 符合医保支付范围的 普通门诊; 自费 only from history (G8)."""
    person = {"account": {"current": "2000.00", "history": "0.00"}}
    s = one(person, kind="outpatient", level="secondary", **split(inscp=500, ful=300))
    # A1 500; nothing left for the fund; 自费 300: history is empty → cash (current not used)
    check(s, hifp_pay=0, acct_pay=500, psn_cash_pay=300, balc=1500)


def test_current_account_rolls_over_to_history_at_year_end_G8():
    """嘉兴 (十三) 当年个人账户有结余的，次年结转为历年个人账户 (G8, G2)."""
    person = {"account": {"current": "1000.00", "history": "0.00"}}
    s = settle(
        case(
            CITY,
            person,
            visit("V1", date="2025-06-01", kind="outpatient", level="primary", inscope="200"),
            visit("V2", date="2026-01-10", kind="inpatient", level="tertiary", inscope="10800"),
        )
    )
    check(s[0], acct_pay=200, hifp_pay=0, balc=800)
    # V2: fund 8000; the 800 left over is history now and pays part of the 2800
    check(s[1], hifp_pay=8000, acct_pay=800, psn_cash_pay=2000, balc=0)


def test_current_account_first_for_chronic_visits_A1():
    """G8 A1: 嘉兴 outpatient, pharmacy and chronic visits — current-year account first."""
    person = {"account": {"current": "500.00", "history": "0.00"}, "filings": {"chronic": ["hypertension"], "special": []}}
    s = one(person, kind="chronic", level="secondary", disease="hypertension", inscope="1900")
    # A1 500; pooled 1400: 400 deductible; 1000 × 73% = 730; cash 670
    check(s, act_pay_dedc=400, hifp_pay=730, acct_pay=500, psn_cash_pay=670, balc=0)


def test_no_current_account_first_for_special_visits_A1():
    """嘉兴 (十九)3 特殊病种 视作住院: no A1; the current account is not for the personal share (G8)."""
    person = {"account": {"current": "1000.00", "history": "0.00"}, "filings": {"chronic": [], "special": ["malignant_tumor"]}}
    s = one(person, kind="special", level="tertiary", disease="malignant_tumor", inscope="10000")
    check(s, hifp_pay=8000, acct_pay=0, psn_cash_pay=2000, balc=1000)


def test_nonlocal_personal_share_does_not_enter_the_axis_G12_J6():
    """G12: the non-local personal share is 自付 and does not enter the axis (嘉兴 (四十九)1)."""
    s = settle(
        case(
            CITY,
            None,
            visit("V1", date="2025-02-01", kind="inpatient", level="secondary", location="province", route="referral", inscope="10000"),
            visit("V2", date="2025-06-01", kind="inpatient", level="tertiary", inscope="200000"),
        )
    )
    # V1: 1000 personal; 800 deductible; 8200 × 80% = 6560; the axis holds 9000
    check(s[0], hifp_pay=6560)
    # V2: deductible 800 already borne; axis [9000, 209000):
    #     191000 × 80% + 9000 × 85% = 152800 + 7650 = 160450
    check(s[1], act_pay_dedc=0, hifp_pay=160450)


def test_setldetail_codes_for_every_fund_paying():
    """case-format setldetail: 310100 职工统筹, 390200 大病, 610100 医疗救助, 310200 个人账户."""
    person = {"assistance": "other", "account": {"current": "0.00", "history": "1000.00"}}
    s = one(person, kind="inpatient", level="tertiary", inscope="50000")
    # fund 39360; 大病 2512; 救助 4064; personal 4064 from history (1000) and cash
    check(s, hifp_pay=39360, hifmi_pay=2512, maf_pay=4064, acct_pay=1000, psn_cash_pay=3064)
    assert details(s) == {"310100": "39360.00", "390200": "2512.00", "610100": "4064.00", "310200": "1000.00"}
    resident = one(RESIDENT, kind="inpatient", level="tertiary", inscope="10800")
    assert details(resident) == {"390100": "6500.00"}


def test_trace_cites_the_clauses_applied():
    """case-format trace: every step that moved money, with the clause it comes from."""
    s = one(kind="inpatient", level="tertiary", inscope="10800")
    sources = {t["step"]: t["source"] for t in s["trace"]}
    assert "(十七)1" in sources["deductible"]
    assert any("(十七)3" in t["source"] for t in s["trace"] if t["step"] == "pooled_segment")
    unfiled = one(kind="chronic", level="secondary", disease="hypertension", inscope="1400")
    assert any("G4" in t["source"] for t in unfiled["trace"]), "the trace says why a chronic visit is ordinary"


@pytest.mark.parametrize("kind, level, fund", [("family_bed", "primary", 1800), ("inpatient", "primary", 1530)])
def test_resident_family_bed_owes_no_deductible_J2(kind, level, fund):
    """嘉兴 (五十二)4 家庭病床 不设起付标准 — residents too (J2); a stay at 基层 owes 300."""
    # family bed: 2000 × 90% = 1800; inpatient: (2000 − 300) × 90% = 1530
    check(one(RESIDENT, kind=kind, level=level, inscope="2000"), hifp_pay=fund)


def test_resident_nonlocal_referral_settled_as_tertiary_J6():
    """嘉兴 (四十九)1 applies to residents: 10% first, then 三级 800 and 65% (J6)."""
    s = one(RESIDENT, kind="inpatient", level="primary", location="province", route="referral", inscope="10000")
    # 1000 personal; 9000 − 800 = 8200 × 65% = 5330
    check(s, act_pay_dedc=800, hifp_pay=5330)


def test_pre1949_worker_with_assistance_gets_assistance_only_on_what_is_left_J9_J8():
    """嘉兴 (二十) 老工人 自付再按95%; (三十六) 救助 on 扣除…补助后个人自付的费用 (J9, J8, G6, G7)."""
    s = one({**VETERAN, "assistance": "destitute"}, kind="inpatient", level="tertiary", **split(inscp=10800, pre=1000))
    # fund 8500 + 95% × 3300 = 11635; what is left of the 自付: 3300 − 3135 = 165
    # 大病: 165 < 7500 → 0; 救助 100% × 165 = 165; the person pays nothing (never a negative share)
    check(s, hifp_pay=11635, hifmi_pay=0, maf_pay=165, psn_cash_pay=0)


def test_pre1949_worker_ci_basis_is_the_selfpay_left_after_the_top_up_J9_J7():
    """嘉兴 (二十) then (三十三)1 按规定支付后(含各类补助)的自付 (J9, J7, G6, G7)."""
    s = one(VETERAN, kind="inpatient", level="tertiary", **split(inscp=300000, pre=100000))
    # normal: [800, 200000) × 85% + 100000 × 85% = 169320 + 85000 = 254320
    # 自付 100000 + 45680 = 145680; again 95% = 138396 → hifp 392716; left 7284
    # 大病 basis 7284 < 15000 → 0; the person pays 7284
    check(s, hifp_pay=392716, hifmi_pay=0, psn_cash_pay=7284)


def test_current_account_first_covers_only_outpatient_pharmacy_chronic_G8():
    """readings G8 (A1): the current-year account pays first for outpatient, pharmacy and
    chronic visits only; a prenatal visit (ordinary outpatient benefit, (四十三)) goes
    straight to the deductible, and the account pays the personal share from 历年 only."""
    c = case(
        "jiaxing",
        {"sex": "F", "account": {"current": "500.00", "history": "1000.00"}},
        visit("V1", "2025-04-01", "prenatal", "secondary", inscope="300.00"),
    )
    [s] = settle(c)
    # no A1: 300 all enters the 400 deductible; history pays the 300 personal share
    assert s["act_pay_dedc"] == "300.00"
    assert s["hifp_pay"] == "0.00"
    assert s["acct_pay"] == "300.00"
    assert s["balc"] == "1200.00"  # current 500 untouched + history 700
