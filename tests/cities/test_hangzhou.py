"""杭州 Hangzhou — the law, clause by clause (办法 + 实施细则 征求意见稿, seeds/001; readings H1–H8, G*).

Paragraphs are unnumbered: clauses are cited as 细则 + section + paragraph. The policy is
in force from 2026-01-01, so every visit is dated 2026. Every expected figure is worked by
hand (arithmetic in the comments); a person is an active employee with no account unless
stated.
"""

from __future__ import annotations


import pytest

from support import case, check, details, settle, split, visit

CITY = "hangzhou"
DAY = "2026-03-01"





def v(vid: str = "V1", date: str = DAY, **kw) -> dict:
    return visit(vid, date=date, **kw)


def one(person: dict | None = None, **kw) -> dict:
    return settle(case(CITY, person, v(**kw)))[0]



RETIRED = {"category": "retired"}
RESIDENT = {"scheme": "resident", "category": "adult"}


# =====================================================================================
# H1 — 细则 一/二 住院结算第1项: one deductible a year, at the highest level used
# =====================================================================================


def test_inpatient_deductible_tops_up_to_highest_level_H1():
    """杭州细则 一、住院结算第1项 两次及以上住院的，起付标准按其中最高等级医疗机构标准计算 (H1)."""
    s = settle(
        case(
            CITY,
            None,
            v("V1", "2026-02-01", kind="inpatient", level="secondary", inscope="10000"),
            v("V2", "2026-05-01", kind="inpatient", level="tertiary", inscope="10000"),
            v("V3", "2026-07-01", kind="inpatient", level="secondary", inscope="10000"),
            v("V4", "2026-09-01", kind="inpatient", level="primary", inscope="10000"),
        )
    )
    # V1: 其他医疗机构 500; 9500 × 84% = 7980
    check(s[0], act_pay_dedc=500, hifp_pay=7980)
    # V2: 800 − 500 = 300; axis [10000, 20000): 9700 × 82% = 7954
    check(s[1], act_pay_dedc=300, hifp_pay=7954)
    # V3: max(0, 500 − 800) = 0; axis [20000, 30000) × 84% = 8400
    check(s[2], act_pay_dedc=0, hifp_pay=8400)
    # V4: 社区 300 − 800 < 0 → 0; axis [30000, 40000) × 88% = 8800
    check(s[3], act_pay_dedc=0, hifp_pay=8800)


def test_resident_inpatient_deductible_tops_up_H1():
    """杭州细则 二、住院结算第1项: 三级800 其他500 社区300, the highest level (H1)."""
    s = settle(
        case(
            CITY,
            RESIDENT,
            v("V1", "2026-02-01", kind="inpatient", level="primary", inscope="10000"),
            v("V2", "2026-05-01", kind="inpatient", level="tertiary", inscope="10000"),
        )
    )
    # V1: 300; 9700 × 80% = 7760.  V2: 800 − 300 = 500; 9500 × 70% = 6650
    check(s[0], act_pay_dedc=300, hifp_pay=7760)
    check(s[1], act_pay_dedc=500, hifp_pay=6650)


def test_special_and_family_bed_owe_no_deductible_H1():
    """杭州细则 六、特殊病种门诊 按住院结算但不设住院起付标准; 家庭病床 不设起付标准 (H1)."""
    person = {"filings": {"chronic": [], "special": ["malignant_tumor"]}}
    s = settle(
        case(
            CITY,
            person,
            v("V1", "2026-02-01", kind="special", level="tertiary", disease="malignant_tumor", inscope="10000"),
            v("V2", "2026-03-01", kind="family_bed", level="primary", inscope="10000"),
            v("V3", "2026-04-01", kind="inpatient", level="tertiary", inscope="10000"),
        )
    )
    # V1: 10000 × 82% = 8200; V2: axis [10000, 20000) × 88% (社区) = 8800
    check(s[0], act_pay_dedc=0, hifp_pay=8200)
    check(s[1], act_pay_dedc=0, hifp_pay=8800)
    # V3: nothing borne yet → 800; axis [20000, 30000): 9200 × 82% = 7544
    check(s[2], act_pay_dedc=800, hifp_pay=7544)


# =====================================================================================
# H2 — 细则 一/二 住院结算第2-3项: segments at 40,000; limits 400k / 300k
# =====================================================================================


@pytest.mark.parametrize(
    "category, level, fund",
    [
        # inscope 50000: [ded, 40000) × first rate + [40000, 50000) × second rate
        ("active", "tertiary", 40944),  # 39200 × 82% + 10000 × 88% = 32144 + 8800
        ("retired", "tertiary", 42912),  # 39200 × 86% + 10000 × 92% = 33712 + 9200
        ("active", "secondary", 42180),  # 39500 × 84% + 10000 × 90% = 33180 + 9000
        ("retired", "secondary", 44160),  # 39500 × 88% + 10000 × 94% = 34760 + 9400
        ("active", "level1", 42180),
        ("retired", "level1", 44160),
        ("active", "primary", 44136),  # 39700 × 88% + 10000 × 92% = 34936 + 9200
        ("retired", "primary", 46124),  # 39700 × 92% + 10000 × 96% = 36524 + 9600
        ("active", "clinic", 44136),
    ],
)
def test_employee_inpatient_progressive_rates_at_40000_H2(category, level, fund):
    """杭州细则 一、住院结算第3项 超额累进: 起付标准以上至4万元(含) / 4万元以上 (H2)."""
    check(one({"category": category}, kind="inpatient", level=level, inscope="50000"), hifp_pay=fund)


def test_segment_boundary_on_the_cumulative_axis_H2_G5():
    """杭州细则 一、住院结算第2项 以出院日期为准累计计算; G5 the axis spans visits (H2)."""
    s = settle(
        case(
            CITY,
            None,
            v("V1", "2026-02-01", kind="inpatient", level="tertiary", inscope="30000"),
            v("V2", "2026-06-01", kind="inpatient", level="tertiary", inscope="30000"),
        )
    )
    # V1: 800; 29200 × 82% = 23944
    check(s[0], hifp_pay=23944)
    # V2: axis [30000, 60000): 10000 × 82% + 20000 × 88% = 8200 + 17600 = 25800
    check(s[1], act_pay_dedc=0, hifp_pay=25800)


def test_employee_inpatient_expense_limit_400000_H2():
    """杭州细则 一、住院结算第2项 住院支付限额 40万元 (H2)."""
    s = one(kind="inpatient", level="tertiary", inscope="450000")
    # 39200 × 82% = 32144; [40000, 400000) × 88% = 316800 → 348944; 50000 beyond
    # 大病: 450000 − 348944 = 101056; 75000 × 75% + 1056 × 80% = 56250 + 844.80 = 57094.80
    check(s, hifp_pay=348944, hifmi_pay="57094.80")


@pytest.mark.parametrize(
    "level, inscope, fund",
    [
        ("tertiary", "10800", 7000),  # 10000 × 70%
        ("secondary", "10500", 7500),  # 10000 × 75%
        ("level1", "10500", 7500),
        ("primary", "10300", 8000),  # 10000 × 80%
        ("clinic", "10300", 8000),
        ("tertiary", "50800", 35000),  # no 40,000 segment for residents: 50000 × 70%
    ],
)
def test_resident_inpatient_rates_H2(level, inscope, fund):
    """杭州细则 二、住院结算第3项 三级70% 其他75% 社区80% (H2)."""
    check(one(RESIDENT, kind="inpatient", level=level, inscope=inscope), hifp_pay=fund)


def test_resident_inpatient_expense_limit_300000_H2():
    """杭州细则 二、住院结算第2项 住院支付限额 30万元 (H2)."""
    s = one(RESIDENT, kind="inpatient", level="tertiary", inscope="310800")
    # [800, 300000) × 70% = 209440; 10800 beyond
    check(s, hifp_pay=209440)


# =====================================================================================
# H3 — 细则 一、普通门诊结算: A1, 600/200, rates, family doctor
# =====================================================================================


def test_current_account_first_then_deductible_A1_H3():
    """杭州细则 一、普通门诊结算第1项 先由个人账户当年资金支付 (H3, G8 A1)."""
    s = one({"account": {"current": "1000.00", "history": "0.00"}}, kind="outpatient", level="tertiary", inscope="2600")
    # current 1000 first; 1600 left: 600 deductible; 1000 × 76% = 760; cash 840
    check(s, act_pay_dedc=600, hifp_pay=760, acct_pay=1000, psn_cash_pay=840, balc=0)


def test_history_account_pays_the_remaining_share_G8():
    """杭州细则 一、个人账户历年资金 应由个人负担的医疗费用 (G8)."""
    s = one({"account": {"current": "1000.00", "history": "5000.00"}}, kind="outpatient", level="tertiary", inscope="2600")
    # as above; the remaining 840 from history: acct 1840, balance 6000 − 1840 = 4160
    check(s, hifp_pay=760, acct_pay=1840, psn_cash_pay=0, balc=4160)


def test_outpatient_deductible_annual_H3():
    """杭州细则 一、普通门诊结算第1项 个人承担一个门诊起付标准 在职600 (H3)."""
    s = settle(
        case(
            CITY,
            None,
            v("V1", "2026-02-01", kind="outpatient", level="tertiary", inscope="400"),
            v("V2", "2026-03-01", kind="outpatient", level="tertiary", inscope="1200"),
        )
    )
    # V1: 400 of 600; V2: 200 left; 1000 × 76% = 760
    check(s[0], act_pay_dedc=400, hifp_pay=0)
    check(s[1], act_pay_dedc=200, hifp_pay=760)


@pytest.mark.parametrize(
    "category, kind, level, fund",
    [
        # active: (1600 − 600) × rate; retired: (1200 − 200) × rate
        ("active", "outpatient", "tertiary", 760),  # 76%
        ("retired", "outpatient", "tertiary", 820),  # 82%
        ("active", "outpatient", "secondary", 800),  # 80%
        ("retired", "outpatient", "secondary", 860),  # 86%
        ("active", "outpatient", "level1", 800),
        ("active", "pharmacy", "pharmacy", 800),  # 药店 按其他医疗机构 (细则 六)
        ("retired", "pharmacy", "pharmacy", 860),
        ("active", "outpatient", "primary", 860),  # 社区 86%
        ("retired", "outpatient", "primary", 920),  # 社区 92%
        ("active", "outpatient", "clinic", 860),
    ],
)
def test_employee_outpatient_rates_and_deductibles_H3(category, kind, level, fund):
    """杭州细则 一、普通门诊结算第1、3项 起付标准 在职600/退休200; 三级76/82 其他80/86 社区86/92 (H3)."""
    inscope, ded = ("1600", 600) if category == "active" else ("1200", 200)
    check(one({"category": category}, kind=kind, level=level, inscope=inscope), act_pay_dedc=ded, hifp_pay=fund)


def test_family_doctor_deductible_minus_300_and_plus_3_at_community_H3():
    """杭州细则 一、普通门诊结算第4项 +3 个百分点; 第5项 门诊起付标准最高减免300元 (H3)."""
    s = settle(
        case(
            CITY,
            {"flags": ["family_doctor"]},
            v("V1", "2026-02-01", kind="outpatient", level="primary", inscope="1300"),
            v("V2", "2026-03-01", kind="outpatient", level="tertiary", inscope="1300"),
        )
    )
    # V1 at 社区: 600 − 300 = 300; 1000 × (86 + 3)% = 890
    check(s[0], act_pay_dedc=300, hifp_pay=890)
    # V2 at 三级: 600 − 300 borne = 300; 1000 × 76% (no +3) = 760
    check(s[1], act_pay_dedc=300, hifp_pay=760)


def test_family_doctor_community_after_deductible_paid_elsewhere_H3():
    """杭州细则 一、普通门诊结算第5项: owed = max(0, 600 − 300 − borne) at 社区 (H3)."""
    s = settle(
        case(
            CITY,
            {"flags": ["family_doctor"]},
            v("V1", "2026-02-01", kind="outpatient", level="tertiary", inscope="600"),
            v("V2", "2026-03-01", kind="outpatient", level="clinic", inscope="1000"),
        )
    )
    check(s[0], act_pay_dedc=600, hifp_pay=0)
    # V2: max(0, 300 − 600) = 0; 1000 × 89% = 890
    check(s[1], act_pay_dedc=0, hifp_pay=890)


def test_family_doctor_retired_owes_nothing_at_community_H3():
    """杭州细则 一、普通门诊结算第4-5项: 退休 200 − 300 → 0; 92 + 3 = 95% (H3)."""
    s = one({"category": "retired", "flags": ["family_doctor"]}, kind="outpatient", level="primary", inscope="1000")
    check(s, act_pay_dedc=0, hifp_pay=950)


def test_no_outpatient_expense_limit_H3():
    """杭州细则 一、普通门诊结算: no 最高支付限额 for outpatient (H3)."""
    s = one(kind="outpatient", level="primary", inscope="100600")
    # (100600 − 600) × 86% = 86000
    check(s, act_pay_dedc=600, hifp_pay=86000)


# =====================================================================================
# H4 — 细则 二、居民普通门诊结算
# =====================================================================================


def test_resident_outpatient_deductible_300_H4():
    """杭州细则 二、普通门诊结算第1项 先由个人承担300元的门诊起付标准 (H4)."""
    s = one(RESIDENT, kind="outpatient", level="tertiary", inscope="1300")
    # 1000 × 40% = 400
    check(s, act_pay_dedc=300, hifp_pay=400)


def test_resident_community_exempt_and_adds_nothing_H4():
    """杭州细则 二、普通门诊结算第4项 社区就诊门诊起付标准减免300元 (H4)."""
    s = settle(
        case(
            CITY,
            RESIDENT,
            v("V1", "2026-02-01", kind="outpatient", level="primary", inscope="1000"),
            v("V2", "2026-03-01", kind="outpatient", level="tertiary", inscope="1300"),
        )
    )
    check(s[0], act_pay_dedc=0, hifp_pay=700)  # 1000 × 70%
    check(s[1], act_pay_dedc=300, hifp_pay=400)  # the 社区 visit added nothing


@pytest.mark.parametrize(
    "category, level, ded, fund",
    [
        ("child", "primary", 0, 910),  # 1300 × 70%
        ("adult", "primary", 0, 910),
        ("elderly", "clinic", 0, 910),
        ("student", "primary", 300, 700),  # students are not exempt: 1000 × 70%
    ],
)
def test_resident_community_exemption_not_for_students_H4(category, level, ded, fund):
    """杭州细则 二、第4项 参保的少年儿童和其他居民 (not 大学生) 社区减免 (H4)."""
    s = one({"scheme": "resident", "category": category}, kind="outpatient", level=level, inscope="1300")
    check(s, act_pay_dedc=ded, hifp_pay=fund)


@pytest.mark.parametrize(
    "category, grade, kind, level, inscope, fund",
    [
        ("adult", 1, "outpatient", "tertiary", "1300", 400),  # 1000 × 40%
        ("adult", 1, "outpatient", "secondary", "1300", 600),  # 其他 60%
        ("adult", 1, "outpatient", "level1", "1300", 600),
        ("adult", 1, "pharmacy", "pharmacy", "1300", 600),
        ("adult", 1, "outpatient", "primary", "1000", 700),  # 社区 70%, exempt
        ("child", 1, "outpatient", "tertiary", "1300", 400),
        ("student", 1, "outpatient", "secondary", "1300", 600),
        ("adult", 2, "outpatient", "tertiary", "1300", 300),  # 二档 30%
        ("adult", 2, "outpatient", "secondary", "1300", 500),  # 二档 50%
        ("adult", 2, "pharmacy", "pharmacy", "1300", 500),
        ("adult", 2, "outpatient", "primary", "1000", 600),  # 二档 社区 60%
        ("elderly", 2, "outpatient", "primary", "1000", 600),
    ],
)
def test_resident_outpatient_rates_by_grade_H4(category, grade, kind, level, inscope, fund):
    """杭州细则 二、普通门诊结算第2项 一档 40/60/70; 二档 30/50/60 (H4)."""
    person = {"scheme": "resident", "category": category, "grade": grade}
    check(one(person, kind=kind, level=level, inscope=inscope), hifp_pay=fund)


@pytest.mark.parametrize(
    "category, grade, inscope, ded, fund",
    [
        ("adult", 1, "1000", 0, 730),  # 1000 × (70 + 3)%
        ("child", 1, "1000", 0, 730),
        ("elderly", 2, "1000", 0, 630),  # 1000 × (60 + 3)%
        ("student", 1, "1300", 300, 700),  # no +3 and no exemption for students
    ],
)
def test_resident_family_doctor_plus_3_at_community_H4(category, grade, inscope, ded, fund):
    """杭州细则 二、普通门诊结算第3项 签约的少儿和其他居民 社区 +3 个百分点 (H4)."""
    person = {"scheme": "resident", "category": category, "grade": grade, "flags": ["family_doctor"]}
    check(one(person, kind="outpatient", level="primary", inscope=inscope), act_pay_dedc=ded, hifp_pay=fund)


# =====================================================================================
# H5 — 细则 六、异地就医结算
# =====================================================================================


@pytest.mark.parametrize(
    "location, route",
    [
        ("province", None),  # 省内异地免备案，按规定结算
        ("province", "temporary"),
        ("out_of_province", "long_term"),
        ("out_of_province", "referral"),
        ("out_of_province", "emergency"),
    ],
)
def test_nonlocal_settled_as_local_H5(location, route):
    """杭州细则 六、异地就医结算第2、3、6项: province and filed/emergency care as local (H5)."""
    extra = {"route": route} if route else {}
    s = one(kind="inpatient", level="tertiary", location=location, inscope="10800", **extra)
    # 800; 10000 × 82% = 8200
    check(s, act_pay_dedc=800, hifp_pay=8200)


@pytest.mark.parametrize("route", [None, "temporary"])
def test_out_of_province_temporary_20_percent_first_H5(route):
    """杭州细则 六、异地就医结算第5项 临时外出 省外 先自付20%后再按规定结算 (H5, G12)."""
    extra = {"route": route} if route else {}
    s = one(kind="inpatient", level="tertiary", location="out_of_province", inscope="10800", **extra)
    # 20% × 10800 = 2160; 8640 − 800 = 7840 × 82% = 6428.80
    check(s, act_pay_dedc=800, hifp_pay="6428.80")


def test_out_of_province_temporary_outpatient_H5():
    """杭州细则 六、异地就医结算第5项 applies to outpatient care too (H5)."""
    s = one(kind="outpatient", level="tertiary", location="out_of_province", inscope="2600")
    # 20% = 520; 2080 − 600 = 1480 × 76% = 1124.80
    check(s, act_pay_dedc=600, hifp_pay="1124.80")


# =====================================================================================
# H6 — 细则 三、大病保险
# =====================================================================================
#
# A first 三级 admission with in-scope 10800 (deductible 800): the fund pays 10000 × rate,
# leaving a pooled 自付 of 10800 − fund. 乙类先行自付 brings the 大病 basis to a round sum.


@pytest.mark.parametrize(
    "person, pre, hifmi",
    [
        ({}, 27400, 3750),  # fund 8200; basis 27400 + 2600 = 30000; (30000 − 25000) × 75%
        ({"category": "retired"}, 27800, 12750),  # fund 8600; basis 30000; (30000 − 13000) × 75%
        ({"assistance": "subsistence"}, 27400, 19125),  # 持证 (30000 − 7500) × 85%
        ({"assistance": "destitute"}, 27400, 19125),
        ({"assistance": "marginal"}, 27400, 19125),
        ({"assistance": "disabled_severe"}, 27400, 19125),
        ({"category": "retired", "assistance": "marginal"}, 27800, 19125),  # 持证 first: 7500
        ({"assistance": "orphan"}, 27400, 3750),  # not 持证
        ({"scheme": "resident", "category": "adult"}, 26200, 3500),  # fund 7000; (30000 − 25000) × 70%
        ({"scheme": "resident", "category": "child"}, 26200, 3500),
    ],
)
def test_ci_thresholds_7500_13000_25000_H6(person, pre, hifmi):
    """杭州细则 三、大病保险 起付标准 持证人员7500元，退休人员1.3万元，其他参保人员2.5万元 (H6)."""
    s = one(person, kind="inpatient", level="tertiary", **split(inscp=10800, pre=pre))
    check(s, hifmi_pay=hifmi)


def test_ci_employee_progressive_segments_H6():
    """杭州细则 三、非持证 职工 75 / 80 / 85 / 90 (超额累进) (H6)."""
    s = one(kind="inpatient", level="tertiary", **split(inscp=10800, pre=497400))
    # basis 497400 + 2600 = 500000:
    # 75000 × 75% + 100000 × 80% + 200000 × 85% + 100000 × 90% = 56250 + 80000 + 170000 + 90000
    check(s, hifp_pay=8200, hifmi_pay=396250)


def test_ci_segments_on_the_cumulative_basis_H6_G5():
    """杭州细则 三、大病保险 in a 结算年度 the basis accumulates across visits (H6, G5)."""
    s = settle(
        case(
            CITY,
            None,
            v("V1", "2026-02-01", kind="inpatient", level="tertiary", **split(inscp=10800, pre=147400)),
            v("V2", "2026-06-01", kind="inpatient", level="tertiary", **split(inscp=10800, pre=98056)),
        )
    )
    # V1: basis 150000: 75000 × 75% + 50000 × 80% = 56250 + 40000 = 96250
    check(s[0], hifp_pay=8200, hifmi_pay=96250)
    # V2: no deductible; 10800 × 82% = 8856; basis 98056 + 1944 = 100000 on [150000, 250000):
    #     50000 × 80% + 50000 × 85% = 40000 + 42500 = 82500
    check(s[1], hifp_pay=8856, hifmi_pay=82500)


def test_ci_resident_progressive_segments_H6():
    """杭州细则 三、非持证 居民 70 / 75 / 80 (H6)."""
    s = one(RESIDENT, kind="inpatient", level="tertiary", **split(inscp=10800, pre=296200))
    # basis 296200 + 3800 = 300000: 75000 × 70% + 100000 × 75% + 100000 × 80% = 52500 + 75000 + 80000
    check(s, hifp_pay=7000, hifmi_pay=207500)


def test_ci_certified_progressive_segments_and_assistance_H6_H7():
    """杭州细则 三、持证人员 85 / 90 / 95; 四、残疾人证 救助80% (H6, H7)."""
    s = one({"assistance": "disabled_severe"}, kind="inpatient", level="tertiary", **split(inscp=10800, pre=497400))
    # basis 500000: 92500 × 85% + 300000 × 90% + 100000 × 95% = 78625 + 270000 + 95000 = 443625
    # 救助 (500000 − 443625) × 80% = 45100
    check(s, hifmi_pay=443625, maf_pay=45100)


def test_ci_payment_limit_600000_H6():
    """杭州细则 三、大病保险基金最高支付限额为60万元(含) (H6)."""
    s = settle(
        case(
            CITY,
            None,
            v("V1", "2026-02-01", kind="inpatient", level="tertiary", **split(inscp=10800, pre=997400)),
            v("V2", "2026-06-01", kind="inpatient", level="tertiary", **split(inscp=10800, pre=98056)),
        )
    )
    # V1 basis 1,000,000: 56250 + 80000 + 170000 + 600000 × 90% = 846250 → limited to 600000
    check(s[0], hifmi_pay=600000)
    # V2: the year's limit is used up
    check(s[1], hifp_pay=8856, hifmi_pay=0)


def test_ci_payment_limit_raised_by_ci_cap_bonus_H6():
    """杭州细则 三、激励机制 提高大病保险最高支付限额 (case `ci_cap_bonus`) (H6)."""
    s = one({"ci_cap_bonus": "10000.00"}, kind="inpatient", level="tertiary", **split(inscp=10800, pre=997400))
    # 846250 → limited to 600000 + 10000
    check(s, hifmi_pay=610000)


def test_ci_no_payment_limit_for_certified_H6():
    """杭州细则 三、持证人员不设支付限额 (H6); 四、特困 全额救助 (H7)."""
    s = one({"assistance": "destitute"}, kind="inpatient", level="tertiary", **split(inscp=10800, pre=997400))
    # basis 1,000,000: 78625 + 270000 + 600000 × 95% = 918625; 救助 100% × 81375
    check(s, hifmi_pay=918625, maf_pay=81375, psn_cash_pay=0)


def test_ci_counts_outpatient_selfpay_too_H6():
    """杭州办法 三 / 细则 三: 门诊、住院治疗中发生的自付费用 — every visit kind (H6, G6)."""
    s = one(kind="outpatient", level="tertiary", **split(inscp=1600, pre=29160))
    # fund: (1600 − 600) × 76% = 760; basis 29160 + 840 = 30000; (30000 − 25000) × 75% = 3750
    check(s, hifp_pay=760, hifmi_pay=3750)


# =====================================================================================
# H7 — 细则 四、医疗救助 (持证人员)
# =====================================================================================


@pytest.mark.parametrize(
    "assistance, maf",
    [
        ("destitute", 2600),  # 全额救助
        ("subsistence", 2080),  # 80%
        ("disabled_severe", 2080),  # 80%
        ("marginal", 1820),  # 70%
        ("orphan", 0),  # not 持证
        ("expenditure_poverty", 0),
        ("returned_poverty", 0),
        ("other", 0),
        (None, 0),
    ],
)
def test_assistance_rates_100_80_70_H7(assistance, maf):
    """杭州细则 四、特困 全额 / 低保、残疾人证 80% / 低边 70% (H7)."""
    s = one({"assistance": assistance}, kind="inpatient", level="tertiary", inscope="10800")
    # fund 8200; 自付 2600 (< 7500: no 大病); 救助 rate × 2600
    check(s, hifp_pay=8200, hifmi_pay=0, maf_pay=maf)


def test_assistance_annual_limit_150000_H7():
    """杭州细则 四、其他医疗救助对象年度救助限额为15万元 (H7)."""
    s = settle(
        case(
            CITY,
            {"assistance": "subsistence"},
            v("V1", "2026-02-01", kind="inpatient", level="tertiary", **split(inscp=10800, pre=997400)),
            v("V2", "2026-05-01", kind="inpatient", level="tertiary", **split(inscp=10800, pre=1998056)),
            v("V3", "2026-09-01", kind="inpatient", level="tertiary", **split(inscp=10800, pre=998056)),
        )
    )
    # V1 basis 1,000,000: 大病 918625; 救助 81375 × 80% = 65100
    check(s[0], hifmi_pay=918625, maf_pay=65100)
    # V2: fund 10800 × 82% = 8856; basis 2,000,000 on [1M, 3M) × 95% = 1,900,000; 救助 100000 × 80% = 80000
    check(s[1], hifp_pay=8856, hifmi_pay=1900000, maf_pay=80000)
    # V3: basis 1,000,000 × 95% = 950000; 救助 would be 40000, only 150000 − 145100 = 4900 left
    check(s[2], hifmi_pay=950000, maf_pay=4900)


def test_assistance_outpatient_limit_20000_H7():
    """杭州细则 四、(其中普通门诊费用年度救助限额为2万元) (H7, G4 pools)."""
    s = settle(
        case(
            CITY,
            {"assistance": "subsistence"},
            v("V1", "2026-02-01", kind="outpatient", level="tertiary", **split(inscp=1600, pre=106660)),
            v("V2", "2026-03-01", kind="outpatient", level="tertiary", **split(inscp=1000, pre=49760)),
            v("V3", "2026-04-01", kind="inpatient", level="tertiary", **split(inscp=10800, pre=7400)),
        )
    )
    # V1: fund 760; basis 106660 + 840 = 107500; 大病 92500 × 85% + 7500 × 90% = 85375
    #     救助 (107500 − 85375) × 80% = 17700
    check(s[0], hifp_pay=760, hifmi_pay=85375, maf_pay=17700)
    # V2: fund 1000 × 76% = 760; basis 50000 × 90% = 45000; 救助 4000 → 20000 − 17700 = 2300
    check(s[1], hifp_pay=760, hifmi_pay=45000, maf_pay=2300)
    # V3 inpatient: fund 8200; basis 7400 + 2600 = 10000 × 90% = 9000; 救助 1000 × 80% = 800
    check(s[2], hifp_pay=8200, hifmi_pay=9000, maf_pay=800)


def test_destitute_assistance_has_no_limits_H7():
    """杭州细则 四、《特困人员救助供养证》持有者不设年度救助限额 (H7)."""
    s = settle(
        case(
            CITY,
            {"assistance": "destitute"},
            v("V1", "2026-02-01", kind="outpatient", level="tertiary", **split(inscp=1600, pre=106660)),
            v("V2", "2026-03-01", kind="inpatient", level="tertiary", **split(inscp=10800, pre=3997400)),
        )
    )
    # V1: 大病 85375; 救助 100% × 22125 (beyond the 20000 outpatient limit of others)
    check(s[0], hifmi_pay=85375, maf_pay=22125, psn_cash_pay=0)
    # V2: fund 8200; basis 4,000,000 on [107500, 4107500):
    #     [107500, 400000) × 90% = 263250; [400000, 4107500) × 95% = 3522125 → 3785375
    #     救助 4000000 − 3785375 = 214625 (beyond 150000)
    check(s[1], hifp_pay=8200, hifmi_pay=3785375, maf_pay=214625, psn_cash_pay=0)


# =====================================================================================
# H8 — 细则 六、门诊透析 纳入特殊医疗救助对象
# =====================================================================================


def test_dialysis_employee_bears_5_percent_plus_preselfpay_H8():
    """杭州细则 六、门诊透析 职工医保参保人员个人承担5%，其余由医疗救助资金支付 (H8)."""
    person = {"filings": {"chronic": [], "special": ["uremia_dialysis"]}}
    s = one(person, kind="special", level="tertiary", disease="uremia_dialysis", **split(inscp=10000, pre=500, ful=200))
    # fund 10000 × 82% (no deductible) = 8200; 自付 500 + 1800 = 2300 (< 25000: no 大病)
    # the patient bears 5% × 10000 + 500 = 1000 (+ 自费 200); 救助 2300 − 1000 = 1300
    check(s, act_pay_dedc=0, hifp_pay=8200, hifmi_pay=0, maf_pay=1300, psn_cash_pay=1200)


@pytest.mark.parametrize("disease", ["uremia_dialysis", "peritoneal_dialysis"])
def test_dialysis_resident_bears_10_percent_plus_preselfpay_H8(disease):
    """杭州细则 六、门诊透析 城乡居民医保参保人员个人承担10% (H8)."""
    person = {**RESIDENT, "filings": {"chronic": [], "special": [disease]}}
    s = one(person, kind="special", level="tertiary", disease=disease, **split(inscp=10000, pre=500))
    # fund 10000 × 70% = 7000; 自付 3500; bears 1000 + 500 = 1500; 救助 2000
    check(s, hifp_pay=7000, hifmi_pay=0, maf_pay=2000, psn_cash_pay=1500)


def test_account_first_then_nonlocal_share_then_deductible_G12():
    """G12: A1 → the non-local personal share (20%) → deductible (杭州细则 一 + 六)."""
    s = one({"account": {"current": "600.00", "history": "0.00"}}, kind="outpatient", level="tertiary",
            location="out_of_province", inscope="2600")
    # A1 600; pooled 2000; 20% = 400 personal; 1600 − 600 = 1000 × 76% = 760
    check(s, act_pay_dedc=600, hifp_pay=760, acct_pay=600, psn_cash_pay=1240)


def test_unfiled_special_visit_is_ordinary_outpatient_G4():
    """G4: a special visit whose disease is not filed is settled as ordinary outpatient."""
    s = one(kind="special", level="tertiary", disease="malignant_tumor", inscope="1600")
    # outpatient: 600 deductible; 1000 × 76% = 760 (not 82% without deductible)
    check(s, act_pay_dedc=600, hifp_pay=760)


def test_ci_basis_excludes_what_the_current_account_paid_first_G6():
    """G6: "pooled in-scope" is inscp less the A1 part (杭州细则 三, H6)."""
    s = one({"account": {"current": "1000.00", "history": "0.00"}}, kind="outpatient", level="tertiary",
            **split(inscp=2600, pre=28000))
    # A1 1000; pooled 1600: 600 + 1000 × 76% = 760; pooled 自付 840
    # basis 28000 + 840 = 28840; (28840 − 25000) × 75% = 2880
    check(s, hifp_pay=760, hifmi_pay=2880)


def test_ci_basis_excludes_over_limit_in_hangzhou_G6():
    """G6 杭州: preselfpay + (pooled in-scope − hifp); 超限价 is not in it (H6)."""
    s = one(kind="inpatient", level="tertiary", **split(inscp=10800, pre=27400, over=5000))
    # basis 27400 + 2600 = 30000 (the 5000 超限价 left out); (30000 − 25000) × 75% = 3750
    check(s, hifmi_pay=3750)


def test_setldetail_and_trace_cite_the_clauses():
    """case-format setldetail / trace (杭州细则 一、住院结算第1项; 三、大病保险; 四、医疗救助)."""
    s = one({"assistance": "subsistence"}, kind="inpatient", level="tertiary", **split(inscp=10800, pre=27400))
    assert details(s) == {"310100": "8200.00", "390200": "19125.00", "610100": "8700.00"}
    sources = {t["step"]: t["source"] for t in s["trace"]}
    assert "住院结算第1项" in sources["deductible"]
    assert any("大病保险" in t["source"] for t in s["trace"] if t["step"].startswith("hifmi"))
    assert any("医疗救助" in t["source"] for t in s["trace"] if t["step"] == "assistance")
