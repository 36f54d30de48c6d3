"""The settlement contract (``case-format.md``): parsing and validating a case.

A case is one insured person and the visits to settle in order. Everything that enters
yibao through ``yibao settle`` (and later the REST preview) passes through
:func:`parse_case`, which either returns typed, immutable objects or raises one
:class:`~yibao.errors.CaseError` naming the visit and the field at fault.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal, Optional, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from yibao import vocabulary as V
from yibao.errors import CaseError
from yibao.money import ZERO, parse_amount

Money = Annotated[Decimal, BeforeValidator(parse_amount)]



def _parse_ratio(raw: object) -> Decimal:
    if isinstance(raw, bool) or raw is None:
        raise ValueError(f"{raw!r} is not a ratio")
    try:
        value = Decimal(str(raw).strip())
    except Exception:  # noqa: BLE001 - decimal raises several types
        raise ValueError(f"{raw!r} is not a number") from None
    if not value.is_finite() or not (ZERO <= value <= 1):
        raise ValueError(f"{raw} is not a ratio between 0 and 1")
    return value


Ratio = Annotated[Decimal, BeforeValidator(_parse_ratio)]


def _date(raw: object) -> dt.date:
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str):
        return _date_text(raw)
    raise ValueError(f"{raw!r} is not a date YYYY-MM-DD")


@lru_cache(maxsize=4096)
def _date_text(raw: str) -> dt.date:
    """A date written as text, remembered like :func:`yibao.money.parse_amount`'s amounts (a
    history repeats its dates; a ``date`` is immutable). A refused text raises each time."""
    if len(raw) != 10:
        raise ValueError(f"{raw!r} is not a date YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a date YYYY-MM-DD") from None
    if not 1900 <= day.year <= 2199:  # a typo, not a date insurance law can be about
        raise ValueError(f"{raw!r} is outside the years 1900–2199")
    return day


Date = Annotated[dt.date, BeforeValidator(_date)]

City = Literal[tuple(V.CITIES)]  # type: ignore[valid-type]
Scheme = Literal[tuple(V.SCHEMES)]  # type: ignore[valid-type]
Category = Literal[tuple(V.ALL_CATEGORIES)]  # type: ignore[valid-type]
Assistance = Literal[tuple(V.ASSISTANCE)]  # type: ignore[valid-type]
Flag = Literal[tuple(V.FLAGS)]  # type: ignore[valid-type]
Disease = Literal[tuple(V.DISEASES)]  # type: ignore[valid-type]
Kind = Literal[tuple(V.KINDS)]  # type: ignore[valid-type]
Level = Literal[tuple(V.LEVELS)]  # type: ignore[valid-type]
Location = Literal[tuple(V.LOCATIONS)]  # type: ignore[valid-type]
Route = Literal[tuple(V.ROUTES)]  # type: ignore[valid-type]
Procedure = Literal[tuple(V.PROCEDURES)]  # type: ignore[valid-type]
ItemClass = Literal[tuple(V.ITEM_CLASSES)]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Account(_Strict):
    """Opening personal-account balances: 当年 (current) and 历年 (history)."""

    current: Money = ZERO
    history: Money = ZERO


class Filings(_Strict):
    """Diseases filed for 慢性病 / 特殊病种 outpatient benefits (门诊待遇备案)."""

    chronic: tuple[Disease, ...] = ()
    special: tuple[Disease, ...] = ()


class Person(_Strict):
    id: str = Field(min_length=1)
    scheme: Scheme
    category: Category
    grade: int = Field(default=1, ge=1, le=2)
    birth_date: Optional[Date] = None
    sex: Optional[Literal["F", "M"]] = None
    assistance: Optional[Assistance] = None
    flags: tuple[Flag, ...] = ()
    filings: Filings = Filings()
    account: Account = Account()
    ci_cap_bonus: Money = ZERO

    @model_validator(mode="after")
    def _category_fits_scheme(self) -> "Person":
        allowed = V.CATEGORIES[self.scheme]
        if self.category not in allowed:
            raise ValueError(
                f"category {self.category!r} is not a {self.scheme} category "
                f"(one of {', '.join(allowed)})"
            )
        return self

    def age_on(self, day: dt.date) -> int | None:
        if self.birth_date is None:
            return None
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


class Item(_Strict):
    """One bill line; split by the catalogue stage (G3)."""

    code: str
    name: Optional[str] = None
    amount: Money
    item_class: ItemClass = Field(alias="class")
    selfpay_ratio: Optional[Ratio] = None
    over_limit: Money = ZERO

    @model_validator(mode="after")
    def _over_limit_within_amount(self) -> "Item":
        if self.over_limit > self.amount:
            raise ValueError(f"over_limit {self.over_limit} exceeds amount {self.amount}")
        return self


class Amounts(_Strict):
    """A bill already split by the catalogue."""

    fulamt_ownpay_amt: Money = ZERO
    overlmt_selfpay: Money = ZERO
    preselfpay_amt: Money = ZERO
    inscp_scp_amt: Money = ZERO


class Visit(_Strict):
    id: str = Field(min_length=1)
    date: Date
    kind: Kind
    level: Level
    location: Location = "local"
    route: Optional[Route] = None
    transfer_from: Optional[Level] = None
    disease: Optional[Disease] = None
    procedure: Optional[tuple[Procedure, ...]] = None
    use_account: bool = True
    items: Optional[tuple[Item, ...]] = None
    amounts: Optional[Amounts] = None

    @model_validator(mode="after")
    def _one_bill(self) -> "Visit":
        if (self.items is None) == (self.amounts is None):
            raise ValueError("give the bill as either `items` or `amounts`, exactly one of them")
        return self


class Case(_Strict):
    city: City
    person: Person
    visits: tuple[Visit, ...] = Field(min_length=1)


def decode_json(text: str) -> Any:
    """JSON text at a boundary: numbers become ``Decimal``, never ``float``."""
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise CaseError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise CaseError("malformed JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with thousands of digits
        raise CaseError(f"malformed JSON: {exc}") from None


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], raw: Any, what: str) -> M:
    """Validate decoded input against ``model``; one clear :class:`CaseError` on the first problem."""
    if not isinstance(raw, dict):
        raise CaseError(f"{what} must be a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise CaseError(_describe(exc, raw, what)) from None


def parse_case_text(text: str) -> Case:
    """Parse the JSON text of a case."""
    return parse_case(decode_json(text))


def parse_case(raw: Any) -> Case:
    """Validate a decoded case (city, person and visits)."""
    return validate(Case, raw, "a case")


def _describe(exc: ValidationError, raw: dict, what: str = "a case") -> str:
    """Turn pydantic's first error into one sentence naming the visit and the field."""
    err = exc.errors()[0]
    loc = list(err["loc"])
    # pydantic reports failed union/literal branches with extra loc parts; keep the path.
    where: list[str] = []
    prefix = ""
    if len(loc) >= 2 and loc[0] == "visits" and isinstance(loc[1], int):
        visits = raw.get("visits") or []
        vid = visits[loc[1]].get("id") if loc[1] < len(visits) and isinstance(visits[loc[1]], dict) else None
        prefix = f"visit {vid}: " if vid else f"visits[{loc[1]}]: "
        loc = loc[2:]
    for part in loc:
        if isinstance(part, int):
            where.append(f"[{part}]")
        else:
            where.append(("." if where else "") + str(part))
    field = "".join(where) or what.split()[-1]
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{prefix}unknown key {field!r}"
    if kind == "missing":
        return f"{prefix}{field} is required"
    if kind == "literal_error":
        got = err.get("input")
        allowed = err.get("ctx", {}).get("expected", "")
        return f"{prefix}{field}: {got!r} is not one of {allowed}"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{prefix}{field}: {msg}"
