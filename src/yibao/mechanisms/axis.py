"""The cumulative axis (G5): where a visit's amount falls among segments and limits.

Each benefit pool (and each later layer: 大额, 大病) accumulates the year's amounts on an
axis starting at 0. A visit occupies ``[start, start + length)``. Segment boundaries,
a threshold (起付线 of a layer) and an expense limit (最高支付限额 read as an expense) are
positions on that axis; the visit is cut at each of them into :class:`Piece`\\ s.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from yibao.money import ZERO


@dataclass(frozen=True, slots=True)
class Piece:
    """A part of the visit's interval lying in one segment, on one side of the limits."""

    low: Decimal
    high: Decimal
    segment: int  # index into the scale's segments
    payable: bool  # above the threshold and within the expense limit

    @property
    def length(self) -> Decimal:
        return self.high - self.low


def cut(
    start: Decimal,
    length: Decimal,
    segment_starts: Sequence[Decimal],
    *,
    threshold: Decimal = ZERO,
    limit: Decimal | None = None,
) -> list[Piece]:
    """Cut ``[start, start + length)`` at every segment start, the threshold and the limit.

    ``segment_starts`` are the positions where segments begin (the first is 0). A piece
    is payable when it lies at or above ``threshold`` and below ``limit`` (``None``: no limit).
    """
    end = start + length
    if length <= ZERO:
        return []
    marks = {start, end}
    for mark in (*segment_starts, threshold, *(() if limit is None else (limit,))):
        if start < mark < end:
            marks.add(mark)
    points = sorted(marks)
    pieces = []
    for low, high in zip(points, points[1:]):
        segment = max(i for i, s in enumerate(segment_starts) if s <= low) if segment_starts else 0
        payable = low >= threshold and (limit is None or high <= limit)
        pieces.append(Piece(low, high, segment, payable))
    return pieces
