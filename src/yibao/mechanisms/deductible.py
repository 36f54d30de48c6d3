"""Deductible regimes (起付标准): how much of a visit the person bears before the fund pays.

Every regime answers the same question — *what does this visit still owe?* — from the
visit's own standard and the year's running totals. The policy data names the regime:

================================  ==============================================================
``none``                          nothing is owed
``annual``                        one annual amount accumulated across visits (嘉兴/杭州 门诊)
``highest_level_top_up``          one per year at the highest level used so far (杭州/舟山 住院)
``per_admission_capped``          each admission owes its standard; the year's total is capped
                                  at the highest standard (嘉兴 (十七)1 + (五十))
``decreasing_per_admission``      the n-th admission owes ``max(floor, standard − step·(n−1))``;
                                  a transfer owes the difference upwards (随州 第二十三条)
================================  ==============================================================

``annual`` and ``highest_level_top_up`` share one formula, ``max(0, standard − paid)``:
an annual deductible is a top-up whose standard does not depend on the level.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from yibao.money import ZERO


@dataclass(frozen=True, slots=True)
class Owed:
    amount: Decimal
    how: str


def top_up(standard: Decimal, paid_this_year: Decimal) -> Owed:
    owed = max(ZERO, standard - paid_this_year)
    return Owed(owed, f"standard {standard} − already borne this year {paid_this_year}")


def per_admission_capped(standard: Decimal, annual_cap: Decimal, paid_this_year: Decimal) -> Owed:
    owed = min(standard, max(ZERO, annual_cap - paid_this_year))
    return Owed(owed, f"min(standard {standard}, cap {annual_cap} − already borne {paid_this_year})")


def decreasing_per_admission(standard: Decimal, step: Decimal, floor: Decimal, admissions_before: int) -> Owed:
    owed = max(floor, standard - step * admissions_before)
    return Owed(owed, f"admission no. {admissions_before + 1}: max(floor {floor}, {standard} − {step}×{admissions_before})")


def transfer_difference(standard: Decimal, from_standard: Decimal) -> Owed:
    owed = max(ZERO, standard - from_standard)
    return Owed(owed, f"transfer: standard {standard} − standard already owed at the first hospital {from_standard}")
