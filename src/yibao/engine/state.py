"""The typed state a visit carries through the pipeline, and the running totals.

:class:`VisitState` is immutable; each stage returns a new one with its payments, the
postings it adds to the person-year's running totals, and the trace explaining them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Iterable, Mapping

from yibao.money import ZERO


@dataclass(frozen=True, slots=True)
class Split:
    """The catalogue split of a bill (G3)."""

    fulamt: Decimal = ZERO  # 全自费 fulamt_ownpay_amt
    overlmt: Decimal = ZERO  # 超限价自费 overlmt_selfpay
    preselfpay: Decimal = ZERO  # 乙类先行自付 preselfpay_amt
    inscp: Decimal = ZERO  # 符合政策范围 inscp_scp_amt

    @property
    def total(self) -> Decimal:
        return self.fulamt + self.overlmt + self.preselfpay + self.inscp


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One step that moved money (or decided not to), with its rule and clause."""

    step: str
    label: str
    amount: Decimal
    rule: str
    source: str
    fund: str | None = None

    def as_json(self) -> dict[str, Any]:
        out = {"step": self.step, "label": self.label, "amount": _fmt(self.amount), "rule": self.rule, "source": self.source}
        if self.fund:
            out["fund"] = self.fund
        return out


def _fmt(amount: Decimal) -> str:
    from yibao.money import fmt

    exact = amount.normalize()
    return fmt(amount) if exact == amount.quantize(Decimal("0.01")) else str(exact)


@dataclass(frozen=True, slots=True)
class VisitState:
    """Everything known about one visit as it moves through the stages."""

    visit_id: str
    year: int
    split: Split = Split()
    facts: Mapping[str, Any] = field(default_factory=dict)
    line: str = ""
    pool: str = ""
    account_first: Decimal = ZERO  # A1: current-year account paid in-scope before the fund
    nonlocal_share: Decimal = ZERO  # 异地 personal share taken first (G12)
    deductible: Decimal = ZERO  # act_pay_dedc
    beyond_limit: Decimal = ZERO  # in-scope beyond the basic expense limit
    hifp: tuple[tuple[str, Decimal], ...] = ()  # (fund_pay_type, amount) — 统筹 and 生育 parts
    hifob: Decimal = ZERO
    hifmi: Decimal = ZERO
    maf: Decimal = ZERO
    oth: Decimal = ZERO
    acct_current: Decimal = ZERO  # current-year account, beyond A1
    acct_history: Decimal = ZERO
    postings: tuple[tuple[str, Decimal], ...] = ()
    trace: tuple[TraceStep, ...] = ()

    # ---------------------------------------------------------------- derived

    @property
    def hifp_total(self) -> Decimal:
        return sum((a for _, a in self.hifp), ZERO)

    @property
    def fund_total(self) -> Decimal:
        return self.hifp_total + self.hifob + self.hifmi + self.maf + self.oth

    @property
    def acct_total(self) -> Decimal:
        return self.account_first + self.acct_current + self.acct_history

    @property
    def pooled_inscope(self) -> Decimal:
        """In-scope amount less what the current-year account paid first (G6)."""
        return self.split.inscp - self.account_first

    def component(self, name: str) -> Decimal:
        """A part of the personal burden before the basic fund paid (``pooled_personal``:
        the pooled in-scope amount, from which :meth:`self_pay` deducts the fund)."""
        if name == "fulamt":
            return self.split.fulamt
        if name == "overlmt":
            return self.split.overlmt
        if name == "preselfpay":
            return self.split.preselfpay
        if name == "pooled_personal":
            return self.pooled_inscope
        if name == "beyond_expense_limit":
            return self.beyond_limit
        raise KeyError(name)

    def self_pay(self, components: tuple[str, ...], fund_paid: Decimal | None = None) -> Decimal:
        """The 自付 a later layer works on (G6): the components, less what the basic fund paid
        when the pooled in-scope amount is one of them. A fund that paid part of 自付 itself
        (嘉兴 老工人) therefore reduces the basis by exactly what it paid."""
        total = sum((self.component(c) for c in components), ZERO)
        if "pooled_personal" in components:
            total -= self.hifp_total if fund_paid is None else fund_paid
        return max(ZERO, total)

    # ---------------------------------------------------------------- updates

    def with_(self, *steps: TraceStep, post: Iterable[tuple[str, Decimal]] = (), **changes: Any) -> "VisitState":
        return replace(self, trace=self.trace + steps, postings=self.postings + tuple(post), **changes)


class Totals:
    """A person-year's running totals, folded from the postings of recorded settlements."""

    def __init__(self, postings: Iterable[tuple[str, Decimal]] = ()):
        self._sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
        self.add(postings)

    def add(self, postings: Iterable[tuple[str, Decimal]]) -> None:
        for counter, amount in postings:
            self._sums[counter] += amount

    def __getitem__(self, counter: str) -> Decimal:
        return self._sums.get(counter, ZERO)

    def as_dict(self) -> dict[str, Decimal]:
        return dict(self._sums)
