"""What a stage may read besides the visit's state: the person, the visit, the rules."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from yibao.case import Person, Visit
from yibao.engine.rules import Rules


@dataclass(frozen=True, slots=True)
class VisitContext:
    person: Person
    visit: Visit
    rules: Rules
    account_current: Decimal  # balances before this visit
    account_history: Decimal

    @property
    def scheme(self) -> str:
        return self.person.scheme
