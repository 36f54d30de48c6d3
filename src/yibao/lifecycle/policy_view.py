"""A city's policy read on one date, for the lifecycle commands.

The lifecycle rules (contribution schedules, premiums, retirement requirements, top-ups,
the personal account, coverage windows, the maternity allowance) are ``record``
parameters: mappings of named figures with selectors allowed anywhere (``policy/model.py``).
:class:`PolicyAt` binds a policy to a date; :class:`Record` walks one record, resolving
selectors against a person's facts (:data:`NO_FACTS` where a rule selects on nothing) and
keeping track of where it is, so that

* a blank figure (``null``) raises :class:`~yibao.errors.MissingPolicyValue` with the same
  name ``yibao policy check`` lists (``contributions.unit.lines.employer.rate``), the nearest
  clause (a ``reference`` inside the record, else the version's), and the version's date;
* a malformed record (unknown key, text where a figure belongs) raises
  :class:`~yibao.errors.PolicyError` naming the parameter file and the key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Iterator, Mapping

from yibao.errors import CaseError, MissingPolicyValue, PolicyError
from yibao.policy.loader import CityPolicy, Parameter, Version
from yibao.policy.selectors import UNLIMITED, Condition, Missing, SelectorError, compile_condition, resolve

#: Keys any record mapping may carry besides its figures.
DOC_KEYS = frozenset({"reference", "note"})

#: The facts of a rule that selects on nothing (an account rule, a coverage window): a
#: selector met there has no fact to choose by, so it takes its ``other`` or is refused.
NO_FACTS: Mapping[str, Any] = MappingProxyType({})

#: Words a record may be asked for, as a mapping of word to meaning or a plain collection.
Allowed = Mapping[str, Any] | set[str] | frozenset[str] | tuple[str, ...]

#: Conditions on lifecycle facts that are not settlement dimensions, with their values
#: (see :class:`yibao.lifecycle.person.Situation`).
EXTRA_KEYS: dict[str, tuple[str, ...]] = {
    "hukou": ("local", "province", "other"),
    "account": ("with_account", "pooled_only"),
    "basis": ("wage", "injury_allowance"),
    "born": ("in_the_year", "before"),
}
#: Every key :meth:`Record.applies` reads.
APPLIES_KEYS = frozenset({"when", "unless", *EXTRA_KEYS})


class PolicyAt:
    """One city's policy in force on ``day``; ``what`` names the date in the refusal when the
    policy does not cover it."""

    def __init__(self, policy: CityPolicy, day: dt.date, what: str):
        self.policy, self.day = policy, day
        doc = policy.document
        if not doc.covers(day):
            raise CaseError(f"{what} is outside {doc.name}'s policy ({doc.title}, {doc.span()})")

    @property
    def city(self) -> str:
        return self.policy.city

    def record(self, name: str, kind: str = "record") -> "Record | None":
        """The parameter ``name`` on this date; ``None`` when the city's text has no such rule.

        It must be of type ``kind``: a ``record`` is walked key by key; any other type (a
        ``count``) is one figure, :meth:`Record.value`."""
        param = self.policy.get(name)
        if param is None:
            return None
        if param.type != kind:
            raise PolicyError(param.source, "type", f"{name} must be a `{kind}` (it is `{param.type}`)")
        version = param.at(self.day)
        if version is None:
            raise CaseError(f"{self.city}:{name} has no value on {self.day}")
        return Record(param, version, version.value, "", version.reference)

    def require(self, name: str, kind: str = "record") -> "Record":
        """:meth:`record`, for a rule the computation cannot do without."""
        found = self.record(name, kind)
        if found is None:
            raise PolicyError(f"{self.city} policy", name, "is needed here but the city defines no such parameter")
        return found

    def clause(self, name: str) -> str:
        """The clause of parameter ``name`` (of any type) on this date; ``""`` when the city has none."""
        param = self.policy.get(name)
        version = param.at(self.day) if param is not None else None
        return version.reference if version is not None else ""


@dataclass(frozen=True)
class Record:
    """A position inside one dated parameter value.

    Every reading takes the person's ``facts``, against which the selectors on the way are
    resolved; a rule that selects on nothing is read without them. The options that follow
    (``allowed``, ``required``, ``default``) are keywords."""

    param: Parameter
    version: Version
    node: Any
    path: str
    clause: str

    # ------------------------------------------------------------ navigation

    @property
    def name(self) -> str:
        return self.param.name + (f".{self.path}" if self.path else "")

    def value(self, facts: Mapping[str, Any] = NO_FACTS) -> Any:
        """This node after its selectors; a blank raises missing."""
        return self._resolve(self.node, facts, self.path)

    def mapping(self, facts: Mapping[str, Any] = NO_FACTS) -> dict:
        """This node as a mapping (after its selectors); blank → missing, else a policy error."""
        node = self.value(facts)
        if not isinstance(node, dict):
            raise self.error("", f"expected a mapping, found {node!r}")
        return node

    def has(self, key: str, facts: Mapping[str, Any] = NO_FACTS) -> bool:
        return key in self.mapping(facts)

    def keys(self, facts: Mapping[str, Any] = NO_FACTS, *, figures_only: bool = True) -> list[str]:
        return [k for k in self.mapping(facts) if not (figures_only and k in DOC_KEYS)]

    def sub(self, key: str, facts: Mapping[str, Any] = NO_FACTS) -> "Record":
        """The mapping under ``key``; its own ``reference`` becomes the clause below it."""
        mapping = self.mapping(facts)
        if key not in mapping:
            raise self.error(key, "is required")
        path = self._join(key)
        node = self._resolve(mapping[key], facts, path)
        clause = self.clause_at(facts)
        if isinstance(node, dict) and isinstance(node.get("reference"), str):
            clause = node["reference"]
        return Record(self.param, self.version, node, path, clause)

    def get(self, key: str, facts: Mapping[str, Any] = NO_FACTS) -> "Record | None":
        """:meth:`sub`, or ``None`` when there is no ``key`` — a rule the text does not have."""
        return self.sub(key, facts) if self.has(key, facts) else None

    def clause_at(self, facts: Mapping[str, Any] = NO_FACTS) -> str:
        """The clause of this mapping as the person's facts select it: its own ``reference``
        (a selector may lead to an entry that has one), else the nearest above it."""
        reference = self.mapping(facts).get("reference")
        return reference if isinstance(reference, str) else self.clause

    def subs(self, facts: Mapping[str, Any] = NO_FACTS) -> Iterator[tuple[str, "Record"]]:
        """Each named entry of this mapping (``reference``/``note`` aside), in order."""
        for key in self.keys(facts):
            yield key, self.sub(key, facts)

    def check(self, facts: Mapping[str, Any] = NO_FACTS, *, allowed: Allowed, required: Allowed = frozenset()) -> None:
        """Refuse unknown keys (``reference``/``note`` are always allowed) and absent required ones."""
        mapping = self.mapping(facts)
        unknown = set(mapping) - set(allowed) - DOC_KEYS
        if unknown:
            raise self.error(sorted(unknown)[0], f"unknown key (allowed: {', '.join(sorted(allowed))})")
        for key in sorted(set(required) - set(mapping)):
            raise self.error(key, "is required")

    # ------------------------------------------------------------ leaves

    def raw(self, key: str, facts: Mapping[str, Any] = NO_FACTS, *, default: Any = None) -> Any:
        """A leaf, selectors resolved; ``default`` when absent; a blank raises missing."""
        mapping = self.mapping(facts)
        if key not in mapping:
            return default
        return self._resolve(mapping[key], facts, self._join(key))

    def number(self, key: str, facts: Mapping[str, Any] = NO_FACTS) -> Decimal:
        value = self.raw(key, facts)
        if value is None:
            raise self.error(key, "is required")
        if not isinstance(value, Decimal):
            raise self.error(key, f"{value!r} is not a number")
        return value

    def whole(self, key: str, facts: Mapping[str, Any] = NO_FACTS) -> int:
        """A count of months, days or years: a number without a fraction, not below 0."""
        value = self.number(key, facts)
        if value != value.to_integral_value() or value < 0:
            raise self.error(key, f"{value} is not a whole number")
        return int(value)

    def text(self, key: str, facts: Mapping[str, Any] = NO_FACTS, *, allowed: Allowed | None = None, default: str | None = None) -> str | None:
        """A word (one of ``allowed``, if given); ``default`` when absent."""
        value = self.raw(key, facts, default=default)
        if value is None:
            return None
        if not isinstance(value, str) or value == UNLIMITED:
            raise self.error(key, f"{value!r} is not a word")
        if allowed is not None and value not in allowed:
            raise self.error(key, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def word(self, key: str, facts: Mapping[str, Any] = NO_FACTS, *, allowed: Allowed | None = None, default: str | None = None) -> str:
        """:meth:`text` that must be there (unless a ``default`` is given)."""
        value = self.text(key, facts, allowed=allowed, default=default)
        if value is None:
            raise self.error(key, "is required")
        return value

    def words(self, key: str, facts: Mapping[str, Any] = NO_FACTS, *, allowed: Allowed) -> tuple[str, ...]:
        """A word or a list of words, each one of ``allowed``; none when absent."""
        value = self.raw(key, facts, default=())
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if item not in allowed:
                raise self.error(key, f"{item!r} is not one of {', '.join(allowed)}")
        return tuple(items)

    def condition(self, key: str, facts: Mapping[str, Any] = NO_FACTS) -> Condition | None:
        """A ``when:``-style condition (the settlement's dimensions, flags and ages)."""
        mapping = self.mapping(facts)
        if key not in mapping:
            return None
        node = mapping[key]
        if not isinstance(node, dict):
            raise self.error(key, "a condition is a mapping of dimension to values")
        raw = {k: _plain(v) for k, v in node.items()}
        try:
            return compile_condition(raw, self._join(key))
        except SelectorError as exc:
            raise PolicyError(self.param.source, self._where(exc.path), str(exc)) from None

    def applies(self, facts: Mapping[str, Any], extra: Mapping[str, str]) -> bool:
        """Whether this entry's ``when`` holds, its ``unless`` does not, and its lifecycle keys
        (:data:`EXTRA_KEYS`: ``hukou``, ``account``, ``basis``, ``born``) match."""
        when = self.condition("when", facts)
        if when is not None and not when.holds(facts):
            return False
        unless = self.condition("unless", facts)
        if unless is not None and unless.holds(facts):
            return False
        for key, allowed in EXTRA_KEYS.items():
            if self.has(key, facts) and extra.get(key) not in self.words(key, facts, allowed=allowed):
                return False
        return True

    # ------------------------------------------------------------ errors

    def missing(self, path: str) -> MissingPolicyValue:
        """The blank at ``path``, named as ``yibao policy check`` lists it, with the clause here."""
        name = self.param.name + (f".{path}" if path else "")
        clause = self.clause
        if self.version.start is not None and len(self.param.versions) > 1:
            clause = f"{clause}; version from {self.version.start}"
        return MissingPolicyValue(self.param.city, name, clause)

    def error(self, key: str, problem: str) -> PolicyError:
        """A malformed ``key`` of this mapping (``""``: the mapping itself), naming the file."""
        return PolicyError(self.param.source, self._where(self._join(key) if key else self.path), problem)

    def _where(self, path: str) -> str:
        label = self.version.start.isoformat() if self.version.start else "effective"
        return f"values[{label}].value" + (f".{path}" if path else "")

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


def _plain(value: Any) -> Any:
    """A compiled record leaf back as YAML would give it (for ``compile_condition``)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


__all__ = ["PolicyAt", "Record", "DOC_KEYS", "NO_FACTS"]
