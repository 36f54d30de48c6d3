"""The rules in force for one visit: parameter lookup by the visit's own date.

:class:`Rules` binds a city's policy to a date and a visit, and is the only way the
stages read figures. A blank figure (``null`` in the policy) raises
:class:`~yibao.errors.MissingPolicyValue` with its name and clause — never a silent 0.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Mapping

from yibao.errors import CaseError, MissingPolicyValue, PolicyError
from yibao.money import HUNDRED, ZERO
from yibao.policy.loader import CityPolicy, Parameter, Version
from yibao.policy.model import Adjusted
from yibao.policy.selectors import UNLIMITED, Missing, resolve


class Rules:
    def __init__(self, policy: CityPolicy, day: dt.date, visit_id: str):
        self.policy, self.day, self.visit_id = policy, day, visit_id
        self.city = policy.city
        if not policy.document.covers(day):
            raise CaseError(
                f"visit {visit_id}: date {day} is outside every policy version of "
                f"{policy.document.name} ({policy.document.title}, {policy.document.span()})"
            )

    # -------------------------------------------------------------- parameters

    def version(self, name: str) -> tuple[Parameter, Version] | None:
        param = self.policy.get(name)
        if param is None:
            return None
        version = param.at(self.day)
        if version is None:
            raise CaseError(f"visit {self.visit_id}: {self.city}:{name} has no value on {self.day}")
        return param, version

    def optional(self, name: str) -> Any | None:
        """A parameter's value, ``None`` when the city's text has no such rule."""
        found = self.version(name)
        if found is None:
            return None
        param, version = found
        if isinstance(version.value, Missing):
            raise self.missing(name, version.reference)
        return version.value

    def require(self, name: str) -> Any:
        """A parameter the settlement cannot do without."""
        value = self.optional(name)
        if value is None:
            raise PolicyError(f"{self.city} policy", name, f"is needed to settle visit {self.visit_id} but is not defined")
        return value

    def clause(self, name: str) -> str:
        found = self.version(name)
        return found[1].reference if found else ""

    def missing(self, name: str, clause: str) -> MissingPolicyValue:
        return MissingPolicyValue(self.city, name, clause, visit=self.visit_id)

    # -------------------------------------------------------------- figures

    def figure(self, node: Any, facts: Mapping[str, Any], name: str, clause: str | None = None) -> Any:
        """Resolve a selector to its leaf for these facts; a blank leaf is refused."""
        try:
            leaf, _ = resolve(node, facts)
        except LookupError as exc:
            raise CaseError(f"visit {self.visit_id}: {self.city}:{name}: {exc}") from None
        if isinstance(leaf, Missing):
            sep = "" if leaf.path.startswith("[") else "."
            where = f"{name}{sep}{leaf.path}" if leaf.path else name
            raise self.missing(where, clause or self.clause(name))
        return leaf

    def amount(self, node: Any, facts: Mapping[str, Any], name: str, clause: str | None = None) -> Decimal | None:
        """An amount; ``None`` means unlimited."""
        leaf = self.figure(node, facts, name, clause)
        return None if leaf == UNLIMITED else leaf

    def adjusted(self, adj: Adjusted, facts: Mapping[str, Any], name: str, clause: str | None = None) -> tuple[Decimal | None, list[str]]:
        """A figure after its adjustments; returns the value and the adjustments applied."""
        value = self.figure(adj.base, facts, name, clause)
        if value == UNLIMITED:
            return None, []
        notes: list[str] = []
        for a in adj.adjust:
            if not a.when.holds(facts):
                continue
            delta = self.figure(a.value, facts, name, a.reference or clause)
            before = value
            if a.op == "add":
                value = value + delta
            elif a.op == "set":
                value = delta
            elif a.op == "at_least":
                value = max(value, delta)
            elif a.op == "at_most":
                value = min(value, delta)
            if value != before:
                notes.append(f"{a.op} {delta} ({a.note or a.when.text}; {a.reference or clause or ''})".replace("; )", ")"))
        return value, notes


def clamp_rate(points: Decimal) -> Decimal:
    """Rates never exceed 100 nor fall below 0 (G9)."""
    return min(HUNDRED, max(ZERO, points))
