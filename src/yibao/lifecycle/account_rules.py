"""A city's personal-account rules: the ``record`` files of ``policy/data/<city>/account/``.

Each concept is one file (``docs/lifecycle/accounts.md`` lists their keys): the monthly
crediting standard, when crediting runs, the year-end rollover and its interest, automatic
premiums, the premiums and 家庭共济 the account may pay, 嘉兴's 当年 part usable like 历年,
overdrafts, transfers, clearing, inheritance and 杭州's deductible refund.

:class:`AccountRules` reads them by date. A file that is absent means the city's text has
no such rule (the reader returns ``None``); a blank figure (``null``) raises
:class:`~yibao.errors.MissingPolicyValue` with the name ``yibao policy check`` lists and the
nearest clause — but only when a computation actually reads it; a malformed record raises
:class:`~yibao.errors.PolicyError` naming the file and the key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from yibao import vocabulary as V
from yibao.errors import CaseError, MissingPolicyValue, PolicyError
from yibao.lifecycle.account_movements import CLEARING_GROUNDS, PREMIUMS
from yibao.lifecycle.history import EVENT_TYPES, Relation
from yibao.policy.loader import CityPolicy, Parameter, Version
from yibao.policy.selectors import Missing, resolve

SUBS = ("current", "history")
SUB_NAMES = {"current": "当年账户", "history": "历年账户"}
RELATIONS: tuple[str, ...] = Relation.__args__  # type: ignore[attr-defined]
RELATIVE_CONDITIONS = {
    "insured_in_province": "insured in the province (参加本省基本医疗保险)",
    "insured_in_city": "insured in the city (参加本市基本医疗保险)",
}
_DOC_KEYS = {"reference", "note"}
_REQUIRED = object()


# ------------------------------------------------------------------ reading one record


@dataclass(frozen=True)
class Rec:
    """A position inside one dated ``record`` value, with the clause that governs it."""

    param: Parameter
    version: Version
    node: Any
    path: str
    clause: str

    @property
    def name(self) -> str:
        return self.param.name + (f".{self.path}" if self.path else "")

    def mapping(self, facts: Mapping[str, Any] | None = None) -> dict:
        node = self._resolve(self.node, facts or {}, self.path)
        if not isinstance(node, dict):
            raise self.error("", f"expected named figures, found {node!r}")
        return node

    def check(self, allowed: set[str], facts: Mapping[str, Any] | None = None) -> "Rec":
        unknown = set(self.mapping(facts)) - allowed - _DOC_KEYS
        if unknown:
            raise self.error(sorted(unknown)[0], f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return self

    def has(self, key: str, facts: Mapping[str, Any] | None = None) -> bool:
        return key in self.mapping(facts)

    def sub(self, key: str, facts: Mapping[str, Any] | None = None) -> "Rec":
        """The entry under ``key``; a ``reference`` inside it becomes the clause below."""
        mapping = self.mapping(facts)
        if key not in mapping:
            raise self.error(key, "is required")
        path = self._join(key)
        node = self._resolve(mapping[key], facts or {}, path)
        clause = node["reference"] if isinstance(node, dict) and isinstance(node.get("reference"), str) else self.clause
        return Rec(self.param, self.version, node, path, clause)

    def leaf(self, key: str, facts: Mapping[str, Any] | None = None, default: Any = _REQUIRED) -> Any:
        mapping = self.mapping(facts)
        if key not in mapping:
            if default is _REQUIRED:
                raise self.error(key, "is required")
            return default
        return self._resolve(mapping[key], facts or {}, self._join(key))

    def number(self, key: str, facts: Mapping[str, Any] | None = None) -> Decimal:
        value = self.leaf(key, facts)
        if not isinstance(value, Decimal):
            raise self.error(key, f"{value!r} is not a number")
        return value

    def word(self, key: str, allowed: Mapping[str, Any] | tuple[str, ...], default: Any = _REQUIRED) -> str:
        value = self.leaf(key, None, default)
        if value not in allowed:
            raise self.error(key, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def words(self, key: str, allowed: Mapping[str, Any] | tuple[str, ...], default: tuple = ()) -> tuple[str, ...]:
        value = self.leaf(key, None, default)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if item not in allowed:
                raise self.error(key, f"{item!r} is not one of {', '.join(allowed)}")
        return tuple(items)

    # ------------------------------------------------------------ errors

    def missing(self, path: str) -> MissingPolicyValue:
        return MissingPolicyValue(self.param.city, self.param.name + (f".{path}" if path else ""), self.clause)

    def error(self, key: str, problem: str) -> PolicyError:
        label = self.version.start.isoformat() if self.version.start else "effective"
        path = self._join(key) if key else self.path
        return PolicyError(self.param.source, f"values[{label}].value" + (f".{path}" if path else ""), problem)

    def _join(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _resolve(self, node: Any, facts: Mapping[str, Any], path: str) -> Any:
        try:
            leaf, _ = resolve(node, facts)
        except LookupError as exc:
            raise CaseError(f"{self.param.city}:{self.param.name}: {exc}") from None
        if isinstance(leaf, Missing):
            raise self.missing(leaf.path or path)
        return leaf


# ------------------------------------------------------------------ the rules, typed


@dataclass(frozen=True)
class Standard:
    """One month's crediting standard (account/crediting.yaml)."""

    method: str  # share_of_base | fixed | none
    rec: Rec

    @property
    def clause(self) -> str:
        return self.rec.clause

    def rate(self) -> Decimal:
        return self.rec.number("rate")

    def amount(self) -> Decimal:
        return self.rec.number("amount")

    @property
    def base(self) -> str:
        return self.rec.word("base", BASES, "month")

    @property
    def prorate(self) -> str:
        return self.rec.word("prorate", PRORATES, "none")


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

    def record(self, concept: str, day: dt.date) -> Rec | None:
        """``account.<concept>`` on ``day``; ``None`` when the city's text has no such rule."""
        name = f"account.{concept}"
        param = self.policy.get(name)
        if param is None:
            return None
        if param.type != "record":
            raise PolicyError(param.source, "type", f"{name} must be a `record` (it is `{param.type}`)")
        version = param.at(day)
        if version is None:
            doc = self.policy.document
            raise CaseError(f"{day} is outside {doc.name}'s policy ({doc.title}, {doc.span()})")
        return Rec(param, version, version.value, "", version.reference)

    def clause(self, concept: str, day: dt.date, fallback: str = "") -> str:
        """The clause of ``account.<concept>`` on ``day`` (any parameter type)."""
        param = self.policy.get(f"account.{concept}")
        version = param.at(day) if param is not None else None
        return version.reference if version is not None else fallback

    # ------------------------------------------------------------ crediting

    def standard(self, day: dt.date, category: str, flags: tuple[str, ...]) -> Standard | None:
        """The month's crediting standard for a category (a flag's own standard first)."""
        rec = self.record("crediting", day)
        if rec is None:
            return None
        rec.check({"standard", "for_flags"})
        chosen: Rec | None = None
        if rec.has("for_flags"):
            special = rec.sub("for_flags")
            for flag in special.mapping():
                if flag in _DOC_KEYS:
                    continue
                if flag not in V.FLAGS:
                    raise special.error(flag, f"{flag!r} is not a flag (one of {', '.join(V.FLAGS)})")
                if flag in flags:
                    chosen = special.sub(flag)
                    break
        if chosen is None:
            chosen = rec.sub("standard", {"category": category, "scheme": "employee"})
        chosen.check({"method", "rate", "amount", "base", "prorate"})
        return Standard(chosen.word("method", METHODS), chosen)

    def period(self, day: dt.date) -> Period:
        rec = self.record("crediting_period", day)
        if rec is None:
            return Period("month", "credited", ("death",), (), (), "")
        rec.check({"status_on", "leaving_month", "stops", "resumes", "stops_use"})
        return Period(
            rec.word("status_on", ("first_day", "month"), "month"),
            rec.word("leaving_month", ("credited", "not_credited"), "credited"),
            rec.words("stops", EVENT_TYPES),
            rec.words("resumes", EVENT_TYPES),
            rec.words("stops_use", EVENT_TYPES),
            rec.clause,
        )

    # ------------------------------------------------------------ year end

    def rollover(self, day: dt.date) -> Rec | None:
        rec = self.record("rollover", day)
        if rec is not None:
            rec.check({"into"})
            rec.word("into", ("history",))
        return rec

    def interest(self, day: dt.date) -> Rec | None:
        """Annual rates in percent on each sub-account's year-end balance (read when needed)."""
        rec = self.record("interest", day)
        if rec is not None:
            rec.check({"current", "history", "into"})
        return rec

    def annual_premiums(self, day: dt.date) -> list[tuple[str, Rec]]:
        """Premiums deducted from the account every year (杭州 大病 48, 舟山 第三十七条)."""
        rec = self.record("annual_premiums", day)
        if rec is None:
            return []
        out = []
        for kind in rec.mapping():
            if kind in _DOC_KEYS:
                continue
            if kind not in PREMIUMS:
                raise rec.error(kind, f"{kind!r} is not a premium (one of {', '.join(PREMIUMS)})")
            out.append((kind, rec.sub(kind).check({"amount", "from"})))
        return out

    # ------------------------------------------------------------ uses

    def premium_for_self(self, day: dt.date, premium: str) -> Draw:
        rec = self._need("premiums", day, "premiums paid from the account")
        rec.check({"self", "relatives"})
        own = rec.sub("self") if rec.has("self") else None
        if own is None or not own.has(premium):
            allowed = [k for k in (own.mapping() if own else {}) if k not in _DOC_KEYS]
            listed = ", ".join(allowed) if allowed else "none"
            raise CaseError(
                f"{self.policy.document.name}: the account may not pay the member's own {premium} premium "
                f"(the text lists: {listed}; {rec.clause})"
            )
        return Draw(own.words(premium, SUBS), own.clause)

    def premium_for_relative(self, day: dt.date, premium: str) -> tuple[Draw, RelativeRule]:
        rec = self._need("premiums", day, "premiums paid from the account")
        rec.check({"self", "relatives"})
        if not rec.has("relatives"):
            raise CaseError(f"{self.policy.document.name}: the account may not pay a relative's premium ({rec.clause})")
        rel = rec.sub("relatives").check({"relations", "requires", "kinds"})
        kinds = rel.sub("kinds")
        if not kinds.has(premium):
            listed = ", ".join(k for k in kinds.mapping() if k not in _DOC_KEYS) or "none"
            raise CaseError(
                f"{self.policy.document.name}: the account may not pay a relative's {premium} premium "
                f"(the text lists: {listed}; {rel.clause})"
            )
        return Draw(kinds.words(premium, SUBS), rel.clause), self._relatives(rel)

    def family_aid(self, day: dt.date) -> tuple[Draw, RelativeRule]:
        rec = self._need("family_aid", day, "家庭共济 (family mutual aid)")
        rec.check({"relations", "requires", "from"})
        return Draw(rec.words("from", SUBS), rec.clause), self._relatives(rec)

    def _relatives(self, rec: Rec) -> RelativeRule:
        return RelativeRule(rec.words("relations", RELATIONS), rec.words("requires", RELATIVE_CONDITIONS), rec.clause)

    def history_like(self, day: dt.date) -> Rec | None:
        """嘉兴 (十五)2: the part of an active member's credit above a share of the minimum base."""
        rec = self.record("history_like_current", day)
        if rec is not None:
            rec.check({"rate", "minimum_base", "categories", "not_for"})
        return rec

    # ------------------------------------------------------------ closing

    def overdraft(self, day: dt.date) -> Overdraft | None:
        rec = self.record("overdraft", day)
        if rec is None:
            return None
        rec.check({"offset_from", "living", "deceased"})
        return Overdraft(
            rec.words("offset_from", SUBS),
            rec.word("living", ("make_good",)),
            rec.word("deceased", ("write_off", "make_good")),
            rec.clause,
        )

    def transfer(self, day: dt.date) -> Rec:
        rec = self._need("transfer", day, "transferring the account")
        rec.check({"into"})
        rec.word("into", SUBS)
        return rec

    def clearing(self, day: dt.date) -> tuple[tuple[str, ...], str]:
        rec = self._need("clearing", day, "clearing the account (清算/发还)")
        rec.check({"grounds"})
        return rec.words("grounds", CLEARING_GROUNDS), rec.clause

    def inheritance(self, day: dt.date) -> str:
        rec = self._need("inheritance", day, "inheriting the account")
        rec.check({"to"})
        rec.word("to", ("heirs",))
        return rec.clause

    def deductible_refund(self, day: dt.date) -> Rec:
        rec = self._need("deductible_refund", day, "refunding the outpatient deductible of the retirement year")
        rec.check({"standard", "rate", "into"})
        return rec

    def _need(self, concept: str, day: dt.date, what: str) -> Rec:
        rec = self.record(concept, day)
        if rec is None:
            raise CaseError(f"{self.policy.document.name} ({self.policy.document.title}) has no rule for {what}")
        return rec


__all__ = ["AccountRules", "Rec", "Standard", "Period", "Draw", "RelativeRule", "Overdraft", "SUBS", "SUB_NAMES"]
