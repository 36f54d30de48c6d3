"""A city's personal-account rules: the ``record`` files of ``policy/data/<city>/account/``.

Each concept is one file (``docs/lifecycle/accounts.md`` lists their keys): the monthly
crediting standard, when crediting runs, the year-end rollover and its interest, automatic
premiums, the premiums and 家庭共济 the account may pay, 嘉兴's 当年 part usable like 历年,
overdrafts, transfers, clearing, inheritance and 杭州's deductible refund.

:class:`AccountRules` reads them by date, each through a
:class:`~yibao.lifecycle.policy_view.Record`. A file that is absent means the city's text
has no such rule (the reader returns ``None``); a blank figure (``null``) raises
:class:`~yibao.errors.MissingPolicyValue` with the name ``yibao policy check`` lists and the
nearest clause — but only when a computation actually reads it; a malformed record raises
:class:`~yibao.errors.PolicyError` naming the file and the key.

Two figures the account uses are the contributions' own, stated once there: what a yearly
premium takes from the account (its lines ``from: current_account``) and the minimum
contribution base (the floor of ``contributions.base_limits``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from yibao import vocabulary as V
from yibao.errors import CaseError
from yibao.lifecycle.account_movements import CLEARING_GROUNDS, PREMIUMS
from yibao.lifecycle.contributions import Context, base_limits, from_account, limit
from yibao.lifecycle.history import EVENT_TYPES, Relation
from yibao.lifecycle.person import Situation
from yibao.lifecycle.policy_view import PolicyAt, Record
from yibao.policy.loader import CityPolicy

SUBS = ("current", "history")
SUB_NAMES = {"current": "当年账户", "history": "历年账户"}
RELATIONS: tuple[str, ...] = Relation.__args__  # type: ignore[attr-defined]
RELATIVE_CONDITIONS = {
    "insured_in_province": "insured in the province (参加本省基本医疗保险)",
    "insured_in_city": "insured in the city (参加本市基本医疗保险)",
}


# ------------------------------------------------------------------ the rules, typed


@dataclass(frozen=True)
class Standard:
    """One month's crediting standard (account/crediting.yaml)."""

    method: str  # share_of_base | fixed | none
    rec: Record

    @property
    def clause(self) -> str:
        return self.rec.clause

    def rate(self) -> Decimal:
        return self.rec.number("rate")

    def amount(self) -> Decimal:
        return self.rec.number("amount")

    @property
    def base(self) -> str:
        return self.rec.word("base", allowed=BASES, default="month")

    @property
    def prorate(self) -> str:
        return self.rec.word("prorate", allowed=PRORATES, default="none")


METHODS = {"share_of_base": "本人缴费基数的一定比例", "fixed": "定额", "none": "不设个人账户"}
BASES = {"month": "the month's own contribution base", "previous_december": "上年度12月申报的缴费基数 (嘉兴 (十四))"}
PRORATES = {"none": "no proration", "with_account_months": "统账结合 months over all months (随州 第二十条（三）)"}


@dataclass(frozen=True)
class Period:
    """When crediting runs (account/crediting_period.yaml)."""

    status_on: str  # first_day | month
    leaving_month: str  # credited | not_credited
    stops: tuple[str, ...]
    resumes: tuple[str, ...]
    stops_use: tuple[str, ...]
    clause: str


@dataclass(frozen=True)
class Draw:
    """Which sub-accounts may pay a use, in order, and under which clause."""

    sources: tuple[str, ...]
    clause: str


@dataclass(frozen=True)
class AnnualPremium:
    """A premium the account pays every year: how much, and from which sub-accounts."""

    premium: str
    amount: Decimal
    draw: Draw


@dataclass(frozen=True)
class RelativeRule:
    """Which relatives a use may serve: relations and conditions (insured in the province …)."""

    relations: tuple[str, ...]
    requires: tuple[str, ...]
    clause: str


@dataclass(frozen=True)
class Overdraft:
    """A current-year overdraft: offset from, and who bears the rest (account/overdraft.yaml)."""

    offset_from: tuple[str, ...]
    living: str  # make_good
    deceased: str  # write_off | make_good
    clause: str


class AccountRules:
    """The personal-account parameters of one city, read by date."""

    def __init__(self, policy: CityPolicy):
        self.policy = policy
        self.city = policy.city

    def at(self, day: dt.date) -> PolicyAt:
        """The city's policy on ``day`` (refused when the policy does not cover it)."""
        return PolicyAt(self.policy, day, str(day))

    def record(self, concept: str, day: dt.date) -> Record | None:
        """``account.<concept>`` on ``day``; ``None`` when the city's text has no such rule."""
        return self.at(day).record(f"account.{concept}")

    def clause(self, concept: str, day: dt.date, fallback: str = "") -> str:
        """The clause of ``account.<concept>`` on ``day`` (any parameter type)."""
        return self.at(day).clause(f"account.{concept}") or fallback

    # ------------------------------------------------------------ crediting

    def standard(self, day: dt.date, category: str, flags: tuple[str, ...]) -> Standard | None:
        """The month's crediting standard for a category (a flag's own standard first)."""
        rec = self.record("crediting", day)
        if rec is None:
            return None
        rec.check(allowed={"standard", "for_flags"})
        chosen: Record | None = None
        special = rec.get("for_flags")
        for flag in special.keys() if special else ():
            if flag not in V.FLAGS:
                raise special.error(flag, f"{flag!r} is not a flag (one of {', '.join(V.FLAGS)})")
            if flag in flags:
                chosen = special.sub(flag)
                break
        if chosen is None:
            chosen = rec.sub("standard", {"category": category, "scheme": "employee"})
        chosen.check(allowed={"method", "rate", "amount", "base", "prorate"})
        return Standard(chosen.word("method", allowed=METHODS), chosen)

    def period(self, day: dt.date) -> Period:
        rec = self.record("crediting_period", day)
        if rec is None:
            return Period("month", "credited", ("death",), (), (), "")
        rec.check(allowed={"status_on", "leaving_month", "stops", "resumes", "stops_use"})
        return Period(
            rec.word("status_on", allowed=("first_day", "month"), default="month"),
            rec.word("leaving_month", allowed=("credited", "not_credited"), default="credited"),
            rec.words("stops", allowed=EVENT_TYPES),
            rec.words("resumes", allowed=EVENT_TYPES),
            rec.words("stops_use", allowed=EVENT_TYPES),
            rec.clause,
        )

    def history_like(self, day: dt.date) -> Record | None:
        """嘉兴 (十五)2: the part of an active member's credit above ``rate`` % of the minimum
        base (:meth:`minimum_base`) is usable like 历年, except for the uses ``not_for``."""
        rec = self.record("history_like_current", day)
        if rec is not None:
            rec.check(allowed={"rate", "categories", "not_for"})
        return rec

    def minimum_base(self, situation: Situation) -> Decimal:
        """The minimum contribution base on the situation's day: the floor of
        ``contributions.base_limits`` (嘉兴 (八)1: the province's 缴费基数下限)."""
        ctx = Context(self.at(situation.day), situation)
        limits = base_limits(ctx)
        floor = limit(ctx, limits, "floor")
        if floor is None:
            raise limits.error("floor", "is unlimited, but the current-year part usable like 历年 is measured against it")
        return floor

    # ------------------------------------------------------------ year end

    def rollover(self, day: dt.date) -> Record | None:
        rec = self.record("rollover", day)
        if rec is not None:
            rec.check(allowed={"into"})
            rec.word("into", allowed=("history",))
        return rec

    def interest(self, day: dt.date) -> Record | None:
        """Annual rates in percent on each sub-account's year-end balance (read when needed)."""
        rec = self.record("interest", day)
        if rec is not None:
            rec.check(allowed={"current", "history", "into"})
        return rec

    def annual_premiums(self, situation: Situation) -> list[AnnualPremium]:
        """Premiums deducted from the account every year (杭州 大病 48, 舟山 第三十七条): the
        sub-accounts from ``account.annual_premiums``; the amount from the premium's own
        ``contributions`` record, its lines paid from the account
        (:func:`~yibao.lifecycle.contributions.from_account`)."""
        view = self.at(situation.day)
        rec = view.record("account.annual_premiums")
        if rec is None:
            return []
        ctx = Context(view, situation)
        out = []
        for kind in rec.keys():
            if kind not in PREMIUMS:
                raise rec.error(kind, f"{kind!r} is not a premium (one of {', '.join(PREMIUMS)})")
            entry = rec.sub(kind)
            entry.check(allowed={"from"})
            draw = Draw(entry.words("from", allowed=SUBS), entry.clause)
            out.append(AnnualPremium(kind, from_account(ctx, kind), draw))
        return out

    # ------------------------------------------------------------ uses

    def premium_for_self(self, day: dt.date, premium: str) -> Draw:
        rec = self._need("premiums", day, "premiums paid from the account")
        rec.check(allowed={"self", "relatives"})
        own = rec.get("self")
        if own is None or not own.has(premium):
            listed = ", ".join(own.keys() if own else ()) or "none"
            raise CaseError(
                f"{self.policy.document.name}: the account may not pay the member's own {premium} premium "
                f"(the text lists: {listed}; {rec.clause})"
            )
        return Draw(own.words(premium, allowed=SUBS), own.clause)

    def premium_for_relative(self, day: dt.date, premium: str) -> tuple[Draw, RelativeRule]:
        rec = self._need("premiums", day, "premiums paid from the account")
        rec.check(allowed={"self", "relatives"})
        rel = rec.get("relatives")
        if rel is None:
            raise CaseError(f"{self.policy.document.name}: the account may not pay a relative's premium ({rec.clause})")
        rel.check(allowed={"relations", "requires", "kinds"})
        kinds = rel.sub("kinds")
        if not kinds.has(premium):
            listed = ", ".join(kinds.keys()) or "none"
            raise CaseError(
                f"{self.policy.document.name}: the account may not pay a relative's {premium} premium "
                f"(the text lists: {listed}; {rel.clause})"
            )
        return Draw(kinds.words(premium, allowed=SUBS), rel.clause), self._relatives(rel)

    def family_aid(self, day: dt.date) -> tuple[Draw, RelativeRule]:
        rec = self._need("family_aid", day, "家庭共济 (family mutual aid)")
        rec.check(allowed={"relations", "requires", "from"})
        return Draw(rec.words("from", allowed=SUBS), rec.clause), self._relatives(rec)

    def _relatives(self, rec: Record) -> RelativeRule:
        return RelativeRule(rec.words("relations", allowed=RELATIONS), rec.words("requires", allowed=RELATIVE_CONDITIONS), rec.clause)

    # ------------------------------------------------------------ closing

    def overdraft(self, day: dt.date) -> Overdraft | None:
        rec = self.record("overdraft", day)
        if rec is None:
            return None
        rec.check(allowed={"offset_from", "living", "deceased"})
        return Overdraft(
            rec.words("offset_from", allowed=SUBS),
            rec.word("living", allowed=("make_good",)),
            rec.word("deceased", allowed=("write_off", "make_good")),
            rec.clause,
        )

    def transfer(self, day: dt.date) -> Record:
        rec = self._need("transfer", day, "transferring the account")
        rec.check(allowed={"into"})
        rec.word("into", allowed=SUBS)
        return rec

    def clearing(self, day: dt.date) -> tuple[tuple[str, ...], str]:
        rec = self._need("clearing", day, "clearing the account (清算/发还)")
        rec.check(allowed={"grounds"})
        return rec.words("grounds", allowed=CLEARING_GROUNDS), rec.clause

    def inheritance(self, day: dt.date) -> str:
        rec = self._need("inheritance", day, "inheriting the account")
        rec.check(allowed={"to"})
        rec.word("to", allowed=("heirs",))
        return rec.clause

    def deductible_refund(self, day: dt.date) -> Record:
        rec = self._need("deductible_refund", day, "refunding the outpatient deductible of the retirement year")
        rec.check(allowed={"standard", "rate", "into"})
        return rec

    def _need(self, concept: str, day: dt.date, what: str) -> Record:
        rec = self.record(concept, day)
        if rec is None:
            raise CaseError(f"{self.policy.document.name} ({self.policy.document.title}) has no rule for {what}")
        return rec


__all__ = [
    "AccountRules", "AnnualPremium", "Draw", "Overdraft", "Period", "RelativeRule", "Standard", "SUBS", "SUB_NAMES",
]
