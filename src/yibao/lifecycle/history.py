"""A person's history: the documented JSON every lifecycle command reads.

The shape (see ``docs/lifecycle-formats.md``)::

    {
      "city": "hangzhou",
      "person": {"id": "P-1", "birth_date": "1970-05-01", "sex": "F", "hukou": "local"},
      "employers": [{"id": "E1", "name": "…", "founded": "2010-01-01"}],
      "relatives": [{"id": "P-2", "relation": "spouse", "insured_in_province": true}],
      "enrolments": [{"scheme": "employee", "category": "active", "mode": "unit",
                      "employer": "E1", "start": "2020-03-01", "end": null}],
      "contributions": [{"month": "2020-03", "base": "8000.00", "due": "920.00",
                         "paid": "920.00", "paid_date": "2020-03-15", "payer": "employer"}],
      "events": [{"date": "2024-05-01", "type": "arrears_order"}],
      "credited_years": [{"kind": "deemed", "years": "4.5", "local": true}],
      "account_entries": [{"kind": "family_aid", "date": "2024-06-01", "relative": "P-2", "amount": "300.00"}]
    }

Everything is validated at the boundary like a settlement case: unknown keys, unknown
values, impossible dates and overlapping enrolments are refused with one clear message.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from yibao.case import Assistance, City, Date, Flag, Money, Scheme, decode_json, validate
from yibao import vocabulary as V
from yibao.lifecycle.account_movements import AccountMovement

Mode = Literal["unit", "flexible", "unemployed", "retired", "resident"]
Payer = Literal["employer", "person", "unemployment_fund", "government", "pension_fund"]
Relation = Literal["spouse", "parent", "child", "sibling", "grandparent", "grandchild"]
CreditKind = Literal["actual", "deemed", "transferred", "military", "pre_reform", "resident_converted"]

EVENT_TYPES = {
    "arrears_order": "税务机关责令限期缴纳 — an order to pay arrears (starts the 60-day limit)",
    "retirement": "办理医保退休手续 — retirement with medical-insurance benefits (`approved`: pension approval date)",
    "imprisonment": "判刑收监 — the judgment takes effect",
    "release": "刑满释放 — released",
    "death": "死亡",
    "emigration": "出国（境）定居 — settled abroad",
    "transfer_in": "转入 — relationship transferred in (`years`, `balance`)",
    "transfer_out": "转出 — relationship transferred out",
    "assistance": "救助身份认定 — an assistance category recognised (`assistance`)",
    "assistance_end": "救助身份终止",
    "student_enrolment": "大学新生入学",
    "graduation": "毕业",
    "pension_suspended": "停发基本养老金",
    "protection_end": "其他医疗保障终止 — 复转军人、公费医疗等终止 (随州 第四十一条)",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PersonInfo(_Strict):
    id: str = Field(min_length=1)
    birth_date: Date
    sex: Literal["F", "M"]
    hukou: Literal["local", "province", "other"] = "local"
    name: Optional[str] = None
    certno: Optional[str] = None
    flags: tuple[Flag, ...] = ()


class Employer(_Strict):
    id: str = Field(min_length=1)
    name: Optional[str] = None
    founded: Optional[Date] = None


class Relative(_Strict):
    id: str = Field(min_length=1)
    relation: Relation
    insured_in_province: bool = True
    insured_in_city: bool = True


class Enrolment(_Strict):
    """One period under one scheme (参保登记): from ``start`` (the registration date) to ``end``."""

    scheme: Scheme
    category: str
    mode: Mode
    start: Date
    end: Optional[Date] = None
    employer: Optional[str] = None
    grade: int = Field(default=1, ge=1, le=2)
    account: Literal["with_account", "pooled_only"] = "with_account"  # 随州 统账结合 / 单建统筹
    basis: Literal["wage", "injury_allowance"] = "wage"  # 工伤职工: contributions on the 伤残津贴
    reason: Optional[str] = None

    @model_validator(mode="after")
    def _consistent(self) -> "Enrolment":
        if self.category not in V.CATEGORIES[self.scheme]:
            raise ValueError(f"category {self.category!r} is not a {self.scheme} category (one of {', '.join(V.CATEGORIES[self.scheme])})")
        if (self.scheme == "resident") != (self.mode == "resident"):
            raise ValueError(f"mode {self.mode!r} does not fit scheme {self.scheme!r}")
        if self.mode == "unit" and not self.employer:
            raise ValueError("a unit enrolment names its employer")
        if self.end is not None and self.end < self.start:
            raise ValueError(f"ends {self.end} before it starts {self.start}")
        return self

    def active_on(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


class Contribution(_Strict):
    """One month's contribution (or a year's resident premium, ``month`` = its January)."""

    month: str
    scheme: Scheme = "employee"
    base: Optional[Money] = None
    due: Optional[Money] = None
    paid: Money = Decimal("0")
    paid_date: Optional[Date] = None
    payer: Payer = "employer"
    kind: Literal["regular", "back_payment", "retirement_top_up", "premium"] = "regular"

    @field_validator("month")
    @classmethod
    def _month(cls, value: str) -> str:
        if not _is_month(value):
            raise ValueError(f"{value!r} is not a month YYYY-MM")
        return value

    @model_validator(mode="after")
    def _paid_has_date(self) -> "Contribution":
        if self.paid > 0 and self.paid_date is None:
            raise ValueError("a paid contribution needs its paid_date")
        return self

    @property
    def first_day(self) -> dt.date:
        return dt.date.fromisoformat(self.month + "-01")

    @property
    def settled(self) -> bool:
        """Paid in full (or nothing was due)."""
        return self.paid > 0 and (self.due is None or self.paid >= self.due)


@lru_cache(maxsize=4096)
def _is_month(value: str) -> bool:
    """Whether ``value`` is a month ``YYYY-MM``; remembered, as a history names the same months
    again and again (and every person's history the same recent ones)."""
    try:
        dt.date.fromisoformat(value + "-01")
    except ValueError:
        return False
    return len(value) == 7


class Event(_Strict):
    date: Date
    type: Literal[tuple(EVENT_TYPES)]  # type: ignore[valid-type]
    assistance: Optional[Assistance] = None
    approved: Optional[Date] = None
    years: Optional[Decimal] = None
    balance: Optional[Money] = None
    note: Optional[str] = None


class CreditedYears(_Strict):
    """Contribution years credited other than by this city's monthly records."""

    kind: CreditKind
    years: Decimal = Field(ge=0)
    local: bool = False
    note: Optional[str] = None


class History(_Strict):
    city: City
    person: PersonInfo
    employers: tuple[Employer, ...] = ()
    relatives: tuple[Relative, ...] = ()
    enrolments: tuple[Enrolment, ...] = ()
    contributions: tuple[Contribution, ...] = ()
    events: tuple[Event, ...] = ()
    credited_years: tuple[CreditedYears, ...] = ()
    #: Recorded personal-account movements (optional; see ``docs/lifecycle/accounts.md``).
    account_entries: tuple[AccountMovement, ...] = ()

    @model_validator(mode="after")
    def _coherent(self) -> "History":
        employers = {e.id for e in self.employers}
        for i, e in enumerate(self.enrolments):
            if e.employer and e.employer not in employers:
                raise ValueError(f"enrolments[{i}] names employer {e.employer!r}, which is not in `employers`")
        for scheme in V.SCHEMES:  # the same scheme twice at once is impossible; both schemes at once is 重复参保
            ordered = sorted((e for e in self.enrolments if e.scheme == scheme), key=lambda e: e.start)
            for a, b in zip(ordered, ordered[1:]):
                if a.end is None or a.end >= b.start:
                    raise ValueError(f"{scheme} enrolments overlap: one from {a.start} is still open when another starts {b.start}")
        seen: set[tuple[str, str, str]] = set()
        for c in self.contributions:
            key = (c.month, c.scheme, c.kind)
            if key in seen and c.kind == "regular":
                raise ValueError(f"contribution for {c.month} ({c.scheme}) is listed twice")
            seen.add(key)
        return self

    # ------------------------------------------------------------ queries

    def enrolments_on(self, day: dt.date) -> list[Enrolment]:
        return [e for e in self.enrolments if e.active_on(day)]

    def enrolment_on(self, day: dt.date) -> Enrolment | None:
        """The enrolment in force; with both schemes at once (重复参保) the employee one."""
        active = sorted(self.enrolments_on(day), key=lambda e: e.scheme != "employee")
        return active[0] if active else None

    def previous_enrolment(self, enrolment: Enrolment) -> Enrolment | None:
        earlier = [e for e in self.enrolments if e.end is not None and e.end < enrolment.start]
        return max(earlier, key=lambda e: e.end) if earlier else None

    def events_of(self, *types: str) -> list[Event]:
        return sorted((e for e in self.events if e.type in types), key=lambda e: e.date)

    def contributions_of(self, scheme: str = "employee") -> list[Contribution]:
        return sorted((c for c in self.contributions if c.scheme == scheme), key=lambda c: (c.month, c.kind))

    def age_on(self, day: dt.date) -> int:
        b = self.person.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


def parse_history_text(text: str) -> History:
    return parse_history(decode_json(text))


def parse_history(raw: Any) -> History:
    """Validate a decoded history (docs/lifecycle/history.md)."""
    return validate(History, raw, "a person's history")


__all__ = ["History", "parse_history", "parse_history_text", "EVENT_TYPES", "City", "Date"]
