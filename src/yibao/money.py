"""Exact money: yuan as ``Decimal``, rounded half up to the fen once per fund per visit (G1).

Binary floating point never touches an amount. Percentages in the policy files are
points (``85`` means 85 %); :func:`percent` turns them into exact fractions.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

ZERO = Decimal("0")
FEN = Decimal("0.01")
HUNDRED = Decimal("100")


def round_fen(amount: Decimal) -> Decimal:
    """Round an exact amount half up to the fen (G1)."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def percent(points: Decimal) -> Decimal:
    """A rate in percentage points as an exact fraction: ``percent(85) == Decimal('0.85')``."""
    return Decimal(points) / HUNDRED


def fmt(amount: Decimal) -> str:
    """The contract's money text: a string with exactly two decimals."""
    return str(round_fen(amount) + ZERO)  # + ZERO turns -0.00 into 0.00


#: what every check below accepts as written: digits (at most 15 before the point), at most two decimals
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,2})?")


def parse_amount(raw: object) -> Decimal:
    """Parse a contract amount (JSON string or number, at most two decimals, not negative).

    Raises ``ValueError`` with a reader-facing reason.
    """
    if type(raw) is str:
        return _parse_text(raw)
    return _parse_value(raw)


@lru_cache(maxsize=4096)
def _parse_text(raw: str) -> Decimal:
    """An amount written as text, remembered: the same few texts come back again and again (a
    person's history repeats one contribution base and amount for every month; a bill, its
    prices), and the answer depends on the text alone — a ``Decimal`` is immutable, so every
    caller may share it. A refused text raises each time (an exception is not remembered)."""
    if _PLAIN_AMOUNT.fullmatch(raw):  # the common case, decided at once
        return Decimal(raw).quantize(FEN)
    return _parse_value(raw)


def _parse_value(raw: object) -> Decimal:
    """Every form :func:`parse_amount` accepts, checked one by one."""
    if isinstance(raw, bool) or raw is None:
        raise ValueError(f"{raw!r} is not an amount")
    if isinstance(raw, float):  # never reached when JSON is parsed with parse_float=Decimal
        raise ValueError("amounts must not be binary floating point")
    try:
        value = Decimal(str(raw).strip()) if isinstance(raw, (str, int, Decimal)) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ValueError(f"{raw!r} is not a number")
    if value < 0:
        raise ValueError(f"{raw} is negative")
    if value.adjusted() > 14:  # beyond any bill; also keeps quantize within the context's precision
        raise ValueError(f"{raw} is too large an amount")
    if value != value.quantize(FEN):
        raise ValueError(f"{raw} has more than two decimals")
    return value.quantize(FEN)


def clamp(value: Decimal, low: Decimal = ZERO, high: Decimal | None = None) -> Decimal:
    """``value`` limited to ``[low, high]``."""
    if value < low:
        return low
    if high is not None and value > high:
        return high
    return value
