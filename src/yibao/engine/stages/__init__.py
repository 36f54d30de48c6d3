"""The settlement stages, in the order the one-stop settlement runs them (G7).

Each stage is ``stage(ctx, totals, state) -> state``: pure, reading the visit context and
the person-year's running totals, returning the new state with payments, postings and
trace. :data:`PIPELINE` is the order.
"""

from yibao.engine.stages.account import personal_account
from yibao.engine.stages.account_first import current_account_first
from yibao.engine.stages.assistance import medical_assistance
from yibao.engine.stages.catalogue import catalogue_split
from yibao.engine.stages.classify import classify
from yibao.engine.stages.layers import supplementary_layers
from yibao.engine.stages.pooled import pooled_fund

PIPELINE = (
    catalogue_split,  # 目录划分: 自费 / 超限价 / 先行自付 / 符合范围
    classify,  # facts, G4/G13, which benefit line settles the visit
    current_account_first,  # A1: 当年账户先行支付
    pooled_fund,  # 统筹基金: 异地先行自付 → 起付标准 → 分段比例 → 限额
    supplementary_layers,  # 职工大额, 大病保险
    medical_assistance,  # 医疗救助
    personal_account,  # 个人账户 for the remaining share, then 现金
)

#: A visit outside the coverage windows: the bill is split, no fund pays; the account
#: may pay where the text allows it during a suspension (苏州 第二十一条), then cash.
UNCOVERED_PIPELINE = (catalogue_split, personal_account)
