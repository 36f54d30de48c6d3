"""The closed vocabularies of the settlement contract, with their Chinese terms.

Every enumeration used by cases and by policy selectors lives here once, so that a
typo in a policy file (``tertairy``) or a case (``"kind": "inpatent"``) is caught at the
boundary with the list of what is allowed.
"""

from __future__ import annotations

CITIES = {
    "jiaxing": "嘉兴",
    "hangzhou": "杭州",
    "suizhou": "随州",
    "suzhou": "苏州",
    "zhoushan": "舟山",
}

SCHEMES = {"employee": "职工医保", "resident": "居民医保"}

CATEGORIES = {
    "employee": {"active": "在职", "retired": "退休", "flexible": "灵活就业", "unemployed": "领取失业金"},
    "resident": {"child": "少儿/未成年", "student": "大学生", "adult": "成年/其他居民", "elderly": "老年居民"},
}
ALL_CATEGORIES = {k: v for group in CATEGORIES.values() for k, v in group.items()}

ASSISTANCE = {
    "destitute": "特困人员",
    "subsistence": "最低生活保障",
    "marginal": "低保边缘",
    "expenditure_poverty": "支出型贫困",
    "disabled_severe": "重度残疾",
    "orphan": "孤儿",
    "returned_poverty": "返贫致贫/监测对象",
    "other": "其他特殊困难人员",
}

FLAGS = {
    "family_doctor": "家庭医生签约",
    "pre1949_worker": "建国前参加革命工作的老工人",
    "disabled_veteran": "一至六级残疾军人",
    "severe_mental": "严重精神障碍患者",
    "family_planning_hardship": "计生特殊困难家庭",
    "entitled_group": "享受定期抚恤补助的优抚对象",
    "welfare_institution": "公办福利机构集中收养人员",
    "child_in_difficulty": "享受基本生活费的困境儿童",
}

KINDS = {
    "outpatient": "普通门(急)诊",
    "pharmacy": "定点零售药店购药",
    "chronic": "慢性病门诊",
    "special": "特殊病种门诊",
    "inpatient": "住院",
    "family_bed": "家庭病床",
    "day_surgery": "日间手术",
    "prenatal": "产前检查",
    "delivery": "住院分娩",
    "family_planning": "计划生育手术",
}

LEVELS = {
    "clinic": "村卫生室/社区卫生服务站/诊所",
    "primary": "社区卫生服务中心/乡镇卫生院",
    "level1": "其他一级及以下医疗机构",
    "secondary": "二级医疗机构",
    "tertiary": "三级医疗机构",
    "pharmacy": "定点零售药店",
}

LOCATIONS = {"local": "统筹区内", "province": "省内异地", "out_of_province": "跨省异地"}

ROUTES = {
    "long_term": "异地长期居住/安置备案",
    "referral": "转诊备案",
    "emergency": "急诊抢救",
    "temporary": "临时外出未转诊",
}

PROCEDURES = {
    "iud_insert": "放置宫内节育器",
    "iud_remove": "取出宫内节育器",
    "abortion": "流产",
    "induced_labor": "引产",
    "ligation": "输卵管结扎",
    "vasectomy": "输精管结扎",
}

DISEASES = {
    "hypertension": "高血压",
    "diabetes": "糖尿病",
    "coronary_heart_disease": "冠心病",
    "asthma": "支气管哮喘",
    "chronic_kidney_disease": "慢性肾脏病",
    "chronic_liver_disease": "慢性肝病",
    "rheumatoid_arthritis": "类风湿关节炎",
    "schizophrenia": "精神分裂症(情感性精神病)",
    "malignant_tumor": "恶性肿瘤",
    "lupus": "系统性红斑狼疮",
    "hemophilia": "血友病",
    "aplastic_anemia": "再生障碍性贫血",
    "severe_mental_disorder": "重性精神障碍",
    "decompensated_cirrhosis": "失代偿期肝硬化",
    "autism": "儿童孤独症",
    "epilepsy": "癫痫",
    "cerebral_palsy": "脑瘫",
    "tuberculosis": "肺结核",
    "copd": "慢性阻塞性肺疾病",
    "alzheimers": "阿尔茨海默病",
    "parkinsons": "帕金森病",
    "uremia_dialysis": "尿毒症透析",
    "organ_transplant_antirejection": "器官移植术后抗排异治疗",
    "diabetes_insulin": "糖尿病胰岛素治疗",
    "aids": "艾滋病",
    "prostatic_hyperplasia": "慢性前列腺增生",
    "hyperlipidemia": "高脂血症",
    "osteoporosis": "骨质疏松症",
    "peritoneal_dialysis": "腹透",
    "congenital_heart_disease": "先天性心脏病",
    "leukemia": "白血病",
}

ITEM_CLASSES = {"A": "甲类", "B": "乙类", "C": "丙类/目录外"}

#: Benefit pools sharing running totals (G4).
POOLS = {"outpatient": "门诊", "inpatient": "住院"}

#: The funds of the one-stop settlement and the contract field each one fills.
FUNDS = {
    "hifp": "基本医疗保险统筹基金",
    "hifob": "职工大额医疗费用补助",
    "hifmi": "大病保险",
    "maf": "医疗救助",
    "oth": "其他基金",
}

#: The selector / condition dimensions a policy file may use, with their allowed values.
DIMENSIONS: dict[str, dict[str, str]] = {
    "scheme": SCHEMES,
    "category": ALL_CATEGORIES,
    "level": LEVELS,
    "kind": KINDS,
    "location": LOCATIONS,
    "route": ROUTES,
    "assistance": {**ASSISTANCE, "none": "无救助身份"},
    "grade": {"1": "一档", "2": "二档"},
    "disease": DISEASES,
    "sex": {"F": "女", "M": "男"},
    "pool": POOLS,
}
