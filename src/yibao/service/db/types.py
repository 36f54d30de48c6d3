"""Exact decimal columns on every database.

PostgreSQL stores them as ``NUMERIC(p, s)``. SQLite has no exact decimal type (its
NUMERIC affinity may fall back to binary floating point), so there the value is kept as an
integer count of the smallest unit — fen for money — and turned back into ``Decimal`` on
the way out. ``SUM`` over such a column is exact on both when typed with the same class:
``func.sum(col, type_=Money)``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class Scaled(TypeDecorator[Decimal]):
    """A decimal with a fixed number of places; more places than that is an error, not a rounding."""

    impl = Numeric
    cache_ok = True

    def __init__(self, places: int, precision: int = 18):
        super().__init__()
        self.places = places
        self.precision = precision
        self._unit = Decimal(1).scaleb(-places)
        self._factor = 10**places

    def __repr__(self) -> str:  # how migrations render the column
        return f"Scaled({self.places}, {self.precision})"

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.places, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = Decimal(value)
        fixed = exact.quantize(self._unit)
        if fixed != exact:
            raise ValueError(f"{value} has more than {self.places} decimal places")
        return int(fixed.scaleb(self.places)) if dialect.name == "sqlite" else fixed

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.places).quantize(self._unit)
        return Decimal(value).quantize(self._unit)


def Money() -> Scaled:  # noqa: N802 - reads as a type in column declarations
    """Yuan with two decimals (fen on SQLite)."""
    return Scaled(2)


def Ratio() -> Scaled:  # noqa: N802
    """A ratio with four decimals (the national interface's precision)."""
    return Scaled(4, 8)


def Quantity() -> Scaled:  # noqa: N802
    """A quantity with four decimals."""
    return Scaled(4)


def Price() -> Scaled:  # noqa: N802
    """A unit price with six decimals."""
    return Scaled(6, 20)
