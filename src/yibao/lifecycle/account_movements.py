"""Recorded personal-account movements: the optional ``account_entries`` of a history.

Most of a personal account follows from the history itself — monthly crediting from the
enrolments and contributions, the year-end rollover, a transfer in or out, a death. What
does not (a visit's account payment, a premium paid for a relative, 家庭共济, a clearing
on application, an inheritance, a deductible refund, opening balances migrated from an
older system) is recorded as one *movement* in ``account_entries``::

    "account_entries": [
      {"kind": "opening", "date": "2026-01-01", "current": "0.00", "history": "5000.00"},
      {"kind": "settlement", "date": "2026-03-02", "visit_id": "V1", "current": "120.00",
       "history": "0.00", "deductible": "0.00", "pool": "outpatient"},
      {"kind": "premium", "date": "2026-04-01", "premium": "resident", "for": "P-2", "amount": "800.00"},
      {"kind": "family_aid", "date": "2026-05-01", "relative": "P-2", "amount": "300.00"},
      {"kind": "clearing", "date": "2027-02-01", "ground": "emigration"},
      {"kind": "inheritance", "date": "2027-02-01", "heir": "张三"},
      {"kind": "deductible_refund", "date": "2026-12-31", "year": 2026, "paid": "600.00"}
    ]

A movement is a request, not a posting: the ledger (:mod:`yibao.lifecycle.accounts`)
replays it against the city's rules and the balances on its date, so a movement that no
longer fits (a relative who does not qualify, a balance too small) is refused whenever
the history is read. ``docs/lifecycle/accounts.md`` documents each kind.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from yibao.case import Date, Money
from yibao.money import ZERO

#: Premiums the account may pay (policy files name them in ``account/premiums.yaml``).
PREMIUMS = {
    "critical_illness": "大病保险",
    "ltc": "长期护理保险",
    "resident": "城乡居民基本医疗保险",
    "commercial": "惠民型商业补充医疗保险",
}
Premium = Literal[tuple(PREMIUMS)]  # type: ignore[valid-type]

#: Grounds on which an account is cleared (paid out to the person, 清算/发还/一次性支取).
CLEARING_GROUNDS = {
    "emigration": "出国（境）定居注销户籍 — settled abroad (an `emigration` event on or before the date)",
    "non_local_left": "非本市户籍且未在其他统筹地参保 — not of local hukou, left, not insured elsewhere",
}
ClearingGround = Literal[tuple(CLEARING_GROUNDS)]  # type: ignore[valid-type]


class _Movement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    date: Date
    note: Optional[str] = None


class Opening(_Movement):
    """Balances brought in from before the ledger starts (a migration, or before the policy)."""

    kind: Literal["opening"]
    current: Money = ZERO
    history: Money = ZERO


class SettlementPayment(_Movement):
    """What one settled visit took from the account (``yibao account settle`` records it).

    ``deductible`` and ``pool`` are the visit's 起付标准 borne and its benefit pool, kept so
    that 杭州's retirement-year refund can find the outpatient deductible actually paid."""

    kind: Literal["settlement"]
    visit_id: str = Field(min_length=1)
    current: Money = ZERO
    history: Money = ZERO
    deductible: Optional[Money] = None
    pool: Optional[Literal["outpatient", "inpatient"]] = None


class PremiumPayment(_Movement):
    """A premium paid from the account, for the member (``for: self``) or a relative's id."""

    kind: Literal["premium"]
    premium: Premium
    for_: str = Field(default="self", alias="for", min_length=1)
    amount: Money

    @model_validator(mode="after")
    def _positive(self) -> "PremiumPayment":
        if self.amount <= 0:
            raise ValueError("amount: a premium is a positive amount")
        return self


class FamilyAid(_Movement):
    """家庭共济: the account pays a relative's medical costs (or transfers to the relative's use)."""

    kind: Literal["family_aid"]
    relative: str = Field(min_length=1)
    amount: Money
    purpose: Optional[str] = None

    @model_validator(mode="after")
    def _positive(self) -> "FamilyAid":
        if self.amount <= 0:
            raise ValueError("amount: family aid is a positive amount")
        return self


class Clearing(_Movement):
    """清算/发还: on application, the balance is paid out to the person."""

    kind: Literal["clearing"]
    ground: ClearingGround


class Inheritance(_Movement):
    """继承: after the member's death, the balance is paid to the heirs."""

    kind: Literal["inheritance"]
    heir: Optional[str] = None


class DeductibleRefund(_Movement):
    """杭州: in the retirement year, 80 % of the outpatient deductible paid beyond what was due.

    ``paid`` is the deductible actually borne that year; without it, the sum of the year's
    recorded outpatient settlements' ``deductible`` is used."""

    kind: Literal["deductible_refund"]
    year: int = Field(ge=1990, le=2100)
    paid: Optional[Money] = None


AccountMovement = Annotated[
    Union[Opening, SettlementPayment, PremiumPayment, FamilyAid, Clearing, Inheritance, DeductibleRefund],
    Field(discriminator="kind"),
]

KINDS = ("opening", "settlement", "premium", "family_aid", "clearing", "inheritance", "deductible_refund")


__all__ = [
    "AccountMovement",
    "Opening",
    "SettlementPayment",
    "PremiumPayment",
    "FamilyAid",
    "Clearing",
    "Inheritance",
    "DeductibleRefund",
    "PREMIUMS",
    "CLEARING_GROUNDS",
    "KINDS",
]
