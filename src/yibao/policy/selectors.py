"""Selectors and conditions: how a policy file says "this figure depends on …".

A *selector* is either a leaf (a figure) or a one-key mapping ``by_<dimension>`` whose
entries are chosen by the visit's facts::

    rate:
      by_level:
        clinic, primary: 85      # comma-separated keys share an entry
        secondary: 70
        other: 60                # fallback for any value not listed

A *condition* (``when:``) is a mapping of dimension → allowed values; all must hold.
Both are compiled once at load time, with every dimension and key checked against
:data:`yibao.vocabulary.DIMENSIONS`, so a typo fails at load with the file and key named.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping

from yibao import vocabulary as V

#: A limit that does not exist ("不设最高支付限额"), as opposed to a blank one (``null``).
UNLIMITED = "unlimited"


class SelectorError(ValueError):
    """A malformed selector; ``path`` says where inside the parameter value."""

    def __init__(self, path: str, problem: str):
        self.path = path
        super().__init__(problem)


@dataclass(frozen=True, slots=True)
class Choice:
    """A compiled ``by_<dimension>`` node."""

    dimension: str
    options: tuple[tuple[frozenset[str], Any], ...]
    other: Any
    has_other: bool
    path: str

    def pick(self, facts: Mapping[str, Any]) -> tuple[Any, str]:
        if self.dimension == "filed":
            filed = facts.get("filed_chronic", frozenset())
            for keys, node in self.options:
                if all(k in filed for k in next(iter(keys)).split("+")):
                    return node, f"filed={next(iter(keys))}"
            if self.has_other:
                return self.other, "filed=other"
            raise LookupError(f"{self.path} has no entry for the filed diseases and no `other`")
        value = facts.get(self.dimension)
        key = "none" if value is None and self.dimension == "assistance" else value
        key = str(key) if key is not None else None
        for keys, node in self.options:
            if key in keys:
                return node, f"{self.dimension}={key}"
        if self.has_other:
            return self.other, f"{self.dimension}=other"
        raise LookupError(f"{self.path} has no entry for {self.dimension}={key!r} and no `other`")


@dataclass(frozen=True, slots=True)
class Missing:
    """A figure the regulation leaves blank: where it sits inside its parameter."""

    path: str


def _split_keys(raw_key: Any) -> list[str]:
    return [part.strip() for part in str(raw_key).split(",") if part.strip()]


def compile_selector(raw: Any, leaf: Callable[[Any, str], Any], path: str = "") -> Any:
    """Compile a raw YAML selector; ``leaf(value, path)`` validates and converts leaves."""
    if raw is None:
        return Missing(path)
    if isinstance(raw, dict) and len(raw) == 1 and str(next(iter(raw))).startswith("by_"):
        key = str(next(iter(raw)))
        dimension = key[3:]
        if dimension not in V.DIMENSIONS and dimension != "filed":
            raise SelectorError(path, f"unknown selector {key!r} (dimensions: {', '.join(V.DIMENSIONS)})")
        entries = raw[key]
        if not isinstance(entries, dict) or not entries:
            raise SelectorError(path, f"{key} needs a mapping of values")
        allowed = V.DIMENSIONS.get(dimension, V.DISEASES)
        options: list[tuple[frozenset[str], Any]] = []
        seen: set[str] = set()
        other, has_other = None, False
        for entry_key, node in entries.items():
            sub = f"{path}.{key}[{entry_key}]" if path else f"{key}[{entry_key}]"
            if str(entry_key) == "other":
                other, has_other = compile_selector(node, leaf, sub), True
                continue
            keys = _split_keys(entry_key)
            if dimension == "filed":  # `a+b`: every one of these diseases is filed
                for k in str(entry_key).split("+"):
                    if k.strip() not in V.DISEASES:
                        raise SelectorError(sub, f"{k.strip()!r} is not a disease key")
                options.append((frozenset([str(entry_key).replace(" ", "")]), compile_selector(node, leaf, sub)))
                continue
            for k in keys:
                if k not in allowed:
                    raise SelectorError(sub, f"{k!r} is not a {dimension} (one of {', '.join(allowed)})")
                if k in seen:
                    raise SelectorError(sub, f"{dimension} {k!r} is listed twice")
                seen.add(k)
            options.append((frozenset(keys), compile_selector(node, leaf, sub)))
        return Choice(dimension, tuple(options), other, has_other, path or key)
    return leaf(raw, path)


def resolve(node: Any, facts: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """Walk a compiled selector down to its leaf; returns ``(leaf, choices made)``.

    The leaf may be :class:`Missing`; callers decide how to report it (see
    :meth:`yibao.policy.loader.Parameter.figure`).
    """
    taken: list[str] = []
    while isinstance(node, Choice):
        node, label = node.pick(facts)
        taken.append(label)
    return node, taken


# ---------------------------------------------------------------- leaves


def amount_leaf(raw: Any, path: str) -> Decimal | str:
    """Yuan, or ``unlimited``."""
    if raw == UNLIMITED:
        return UNLIMITED
    return _decimal(raw, path, "an amount in yuan")


def points_leaf(raw: Any, path: str) -> Decimal:
    """A rate in percentage points (0–100)."""
    value = _decimal(raw, path, "a rate in percentage points")
    if not (Decimal(0) <= value <= Decimal(100)):
        raise SelectorError(path, f"rate {value} is outside 0–100 percentage points")
    return value


def signed_points_leaf(raw: Any, path: str) -> Decimal:
    """A change of rate in percentage points (may be negative)."""
    return _decimal(raw, path, "a number of percentage points")


def signed_amount_leaf(raw: Any, path: str) -> Decimal:
    return _decimal(raw, path, "an amount in yuan")


def _decimal(raw: Any, path: str, what: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str, Decimal)):
        raise SelectorError(path, f"{raw!r} is not {what}")
    try:
        value = Decimal(str(raw))
    except Exception:  # noqa: BLE001
        raise SelectorError(path, f"{raw!r} is not {what}") from None
    if not value.is_finite():
        raise SelectorError(path, f"{raw!r} is not {what}")
    return value


# ---------------------------------------------------------------- conditions

#: Condition keys beyond the selector dimensions.
_EXTRA_CONDITIONS = {"flag", "filed", "age_max", "age_min", "segment", "procedure", "line", "disease_list"}


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled ``when:`` mapping; an empty condition always holds."""

    tests: tuple[tuple[str, Any], ...]
    text: str

    def holds(self, facts: Mapping[str, Any]) -> bool:
        for key, expected in self.tests:
            if key == "flag":
                if not (facts.get("flags", frozenset()) & expected):
                    return False
            elif key == "procedure":
                if not (facts.get("procedures", frozenset()) & expected):
                    return False
            elif key == "filed":
                if bool(facts.get("filed")) != expected:
                    return False
            elif key == "age_max":
                age = facts.get("age")
                if age is None or age > expected:
                    return False
            elif key == "age_min":
                age = facts.get("age")
                if age is None or age < expected:
                    return False
            elif key == "disease_list":
                if facts.get("disease") not in facts.get("disease_lists", {}).get(expected, ()):
                    return False
            else:
                value = facts.get(key)
                if key == "assistance" and value is None:
                    value = "none"
                if (str(value) if value is not None else None) not in expected:
                    return False
        return True

    def __bool__(self) -> bool:  # an empty condition is "always"
        return bool(self.tests)


ALWAYS = Condition((), "always")


def compile_condition(raw: Any, path: str, lines: frozenset[str] | None = None) -> Condition:
    """Compile ``when:``; values may be a single item or a list."""
    if raw is None:
        return ALWAYS
    if not isinstance(raw, dict):
        raise SelectorError(path, "`when` must be a mapping of dimension to values")
    tests: list[tuple[str, Any]] = []
    for key, value in raw.items():
        sub = f"{path}.{key}"
        if key == "filed":
            if not isinstance(value, bool):
                raise SelectorError(sub, "`filed` is true or false")
            tests.append((key, value))
        elif key in ("age_max", "age_min"):
            if not isinstance(value, int) or isinstance(value, bool):
                raise SelectorError(sub, f"`{key}` is a whole number of years")
            tests.append((key, value))
        elif key == "segment":
            values = value if isinstance(value, list) else [value]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                raise SelectorError(sub, "`segment` lists segment numbers (0 = first)")
            tests.append((key, frozenset(str(v) for v in values)))
        elif key == "disease_list":
            if value not in ("chronic", "special"):
                raise SelectorError(sub, "`disease_list` is `chronic` or `special`")
            tests.append((key, value))
        else:
            values = [str(v) for v in (value if isinstance(value, list) else [value])]
            if key == "flag":
                allowed: Mapping[str, str] | frozenset[str] = V.FLAGS
            elif key == "procedure":
                allowed = V.PROCEDURES
            elif key == "line":
                allowed = lines if lines is not None else frozenset(values)
            elif key in V.DIMENSIONS:
                allowed = V.DIMENSIONS[key]
            else:
                raise SelectorError(
                    sub,
                    f"unknown condition {key!r} (use {', '.join(sorted(set(V.DIMENSIONS) | _EXTRA_CONDITIONS))})",
                )
            for v in values:
                if v not in allowed:
                    raise SelectorError(sub, f"{v!r} is not a {key} (one of {', '.join(sorted(allowed))})")
            tests.append((key, frozenset(values)))
    text = ", ".join(f"{k}={_show(v)}" for k, v in tests)
    return Condition(tuple(tests), text)


def _show(value: Any) -> str:
    if isinstance(value, frozenset):
        return "|".join(sorted(value))
    return str(value)
