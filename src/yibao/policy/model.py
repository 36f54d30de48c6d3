"""Typed values of policy parameters, and the builders that validate them.

A parameter file declares a ``type``; :data:`TYPES` maps it to a builder that turns the
raw YAML of one dated value into an immutable object the engine uses. Builders reject
unknown keys, wrong types and malformed selectors with the path of the offending key.

The types are the *mechanisms* of the regulations, written once and parameterised:
``deductible`` (with its regime), ``rates`` (a segment scale on the cumulative axis plus
adjustments), ``expense_limit``, ``payment_caps``, ``nonlocal``, ``layer`` (大额/大病),
``assistance`` (医疗救助), …
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from yibao import vocabulary as V
from yibao.policy.selectors import (
    ALWAYS,
    UNLIMITED,
    Condition,
    Missing,
    SelectorError,
    amount_leaf,
    compile_condition,
    compile_selector,
    points_leaf,
    signed_amount_leaf,
    signed_points_leaf,
)

# ------------------------------------------------------------------ helpers


def _fields(raw: Any, path: str, required: set[str], optional: set[str]) -> dict:
    if not isinstance(raw, dict):
        raise SelectorError(path, f"expected a mapping with keys {', '.join(sorted(required | optional))}")
    unknown = set(raw) - required - optional
    if unknown:
        raise SelectorError(path, f"unknown key {sorted(unknown)[0]!r} (allowed: {', '.join(sorted(required | optional))})")
    absent = required - set(raw)
    if absent:
        raise SelectorError(path, f"key {sorted(absent)[0]!r} is required")
    return raw


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _list(raw: Any, path: str) -> list:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SelectorError(path, "expected a list")
    return raw


def _text(raw: Any, path: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise SelectorError(path, "expected text")
    return raw


def _choice(raw: Any, path: str, allowed: dict | set | tuple) -> str:
    if raw not in allowed:
        raise SelectorError(path, f"{raw!r} is not one of {', '.join(allowed)}")
    return raw


NEVER = Condition((("kind", frozenset()),), "never")

# ------------------------------------------------------------------ adjustments

_ADJUST_OPS = {"add": signed_points_leaf, "set": points_leaf, "at_least": points_leaf, "at_most": points_leaf}


@dataclass(frozen=True, slots=True)
class Adjustment:
    """``when`` it holds, change the figure: ``add`` (points or yuan), ``set``, ``at_least``, ``at_most``."""

    when: Condition
    op: str
    value: Any
    reference: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class Adjusted:
    """A figure (selector) and the adjustments applied to it in order."""

    base: Any
    adjust: tuple[Adjustment, ...]


def build_adjustments(raw: Any, path: str, leaf: Callable, signed_leaf: Callable) -> tuple[Adjustment, ...]:
    out = []
    for i, entry in enumerate(_list(raw, path)):
        sub = _join(path, i)
        _fields(entry, sub, set(), {"when", "add", "set", "at_least", "at_most", "reference", "note"})
        ops = [op for op in _ADJUST_OPS if op in entry]
        if len(ops) != 1:
            raise SelectorError(sub, "an adjustment has exactly one of add, set, at_least, at_most")
        op = ops[0]
        value = compile_selector(entry[op], signed_leaf if op == "add" else leaf, _join(sub, op))
        out.append(
            Adjustment(
                compile_condition(entry.get("when"), _join(sub, "when")),
                op,
                value,
                _text(entry.get("reference"), _join(sub, "reference")),
                _text(entry.get("note"), _join(sub, "note")),
            )
        )
    return tuple(out)


def build_adjusted(raw: Any, path: str, leaf: Callable, signed_leaf: Callable, base_key: str) -> Adjusted:
    """Either a plain selector or ``{<base_key>: selector, adjust: [...]}``."""
    if isinstance(raw, dict) and base_key in raw:
        _fields(raw, path, {base_key}, {"adjust"})
        return Adjusted(
            compile_selector(raw[base_key], leaf, _join(path, base_key)),
            build_adjustments(raw.get("adjust"), _join(path, "adjust"), leaf, signed_leaf),
        )
    return Adjusted(compile_selector(raw, leaf, path), ())


# ------------------------------------------------------------------ scales


@dataclass(frozen=True, slots=True)
class Segment:
    """From axis position ``start`` (yuan) on, pay ``rate`` percentage points."""

    start: Decimal
    rate: Any


def build_scale(raw: Any, path: str) -> tuple[Segment, ...]:
    if raw is None:
        return Missing(path)  # type: ignore[return-value]
    segments = []
    for i, entry in enumerate(_list(raw, path)):
        sub = _join(path, i)
        _fields(entry, sub, {"from", "rate"}, {"reference"})
        start = amount_leaf(entry["from"], _join(sub, "from"))
        if start == UNLIMITED:
            raise SelectorError(_join(sub, "from"), "a segment starts at an amount")
        segments.append(Segment(start, compile_selector(entry["rate"], points_leaf, _join(sub, "rate"))))
    if not segments or segments[0].start != 0:
        raise SelectorError(path, "a scale starts with a segment `from: 0`")
    if any(b.start <= a.start for a, b in zip(segments, segments[1:])):
        raise SelectorError(path, "scale segments must start at increasing positions")
    return tuple(segments)


# ------------------------------------------------------------------ the parameter types


@dataclass(frozen=True, slots=True)
class LineRule:
    when: Condition
    line: str
    as_kind: str | None
    reason: str | None


def build_lines(raw: Any, path: str) -> tuple[LineRule, ...]:
    """``lines``: which benefit line settles a visit — first matching rule wins."""
    rules = []
    for i, entry in enumerate(_list(raw, path)):
        sub = _join(path, i)
        _fields(entry, sub, {"line"}, {"when", "as_kind", "reason"})
        as_kind = entry.get("as_kind")
        if as_kind is not None:
            _choice(as_kind, _join(sub, "as_kind"), V.KINDS)
        rules.append(
            LineRule(
                compile_condition(entry.get("when"), _join(sub, "when")),
                _text(entry["line"], _join(sub, "line")) or "",
                as_kind,
                _text(entry.get("reason"), _join(sub, "reason")),
            )
        )
    if not rules:
        raise SelectorError(path, "at least one line rule is needed")
    return tuple(rules)


@dataclass(frozen=True, slots=True)
class Benefit:
    """How one benefit line uses the pooled fund."""

    pool: str
    account_first: Condition  # A1: which visits of the line the current-year account pays first
    fund_code: str | None
    pays_when: Condition
    not_paid_reason: str | None
    overflow_line: str | None
    counts_as_admission: Condition
    inherit: str | None  # a line whose parameters apply where this line defines none
    settle_level: str | None  # settle as if at this level whatever the hospital's (舟山 特殊病)


def build_benefit(raw: Any, path: str) -> Benefit:
    _fields(raw, path, {"pool"}, {"account_first", "fund_code", "pays_when", "not_paid_reason", "overflow_line", "admission_when", "inherit", "settle_level"})
    raw_a1 = raw.get("account_first", False)
    if isinstance(raw_a1, bool):
        account_first = ALWAYS if raw_a1 else NEVER
    else:
        account_first = compile_condition(raw_a1, _join(path, "account_first"))
    return Benefit(
        _choice(raw["pool"], _join(path, "pool"), V.POOLS),
        account_first,
        _text(raw.get("fund_code"), _join(path, "fund_code")),
        compile_condition(raw.get("pays_when"), _join(path, "pays_when")),
        _text(raw.get("not_paid_reason"), _join(path, "not_paid_reason")),
        _text(raw.get("overflow_line"), _join(path, "overflow_line")),
        compile_condition(raw.get("admission_when"), _join(path, "admission_when"))
        if "admission_when" in raw
        else (ALWAYS if raw["pool"] == "inpatient" else NEVER),
        _text(raw.get("inherit"), _join(path, "inherit")),
        _choice(raw["settle_level"], _join(path, "settle_level"), V.LEVELS) if raw.get("settle_level") is not None else None,
    )


REGIMES = {
    "none": "no deductible",
    "annual": "one annual amount, accumulated across visits until reached",
    "highest_level_top_up": "one per year, topped up to the highest level used so far (杭州, 舟山)",
    "per_admission_capped": "each admission owes its standard, the year's total capped (嘉兴)",
    "decreasing_per_admission": "each further admission owes less, down to a floor; transfers owe the difference (随州)",
}


@dataclass(frozen=True, slots=True)
class Exemption:
    when: Condition
    reference: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class DeductibleRule:
    regime: str
    standard: Adjusted | None
    exempt: tuple[Exemption, ...]
    annual_cap: Any
    step: Any
    floor: Any


def build_deductible(raw: Any, path: str) -> DeductibleRule:
    _fields(raw, path, {"regime"}, {"standard", "exempt", "annual_cap", "step", "floor"})
    regime = _choice(raw["regime"], _join(path, "regime"), REGIMES)
    needs = {
        "none": set(),
        "annual": {"standard"},
        "highest_level_top_up": {"standard"},
        "per_admission_capped": {"standard", "annual_cap"},
        "decreasing_per_admission": {"standard", "step", "floor"},
    }[regime]
    for key in needs:
        if key not in raw:
            raise SelectorError(_join(path, key), f"regime {regime} needs `{key}`")
    exempt = []
    for i, entry in enumerate(_list(raw.get("exempt"), _join(path, "exempt"))):
        sub = _join(_join(path, "exempt"), i)
        _fields(entry, sub, {"when"}, {"reference", "note"})
        exempt.append(
            Exemption(
                compile_condition(entry["when"], _join(sub, "when")),
                _text(entry.get("reference"), _join(sub, "reference")),
                _text(entry.get("note"), _join(sub, "note")),
            )
        )

    def amount(key: str) -> Any:
        return compile_selector(raw[key], amount_leaf, _join(path, key)) if key in raw else None

    return DeductibleRule(
        regime,
        build_adjusted(raw["standard"], _join(path, "standard"), amount_leaf, signed_amount_leaf, "base")
        if "standard" in raw
        else None,
        tuple(exempt),
        amount("annual_cap"),
        amount("step"),
        amount("floor"),
    )


@dataclass(frozen=True, slots=True)
class RateRule:
    """Pooled-fund rates: a scale on the pool's cumulative axis, then adjustments."""

    scale: tuple[Segment, ...]
    adjust: tuple[Adjustment, ...]


def build_rates(raw: Any, path: str) -> RateRule:
    _fields(raw, path, {"scale"}, {"adjust"})
    return RateRule(
        build_scale(raw["scale"], _join(path, "scale")),
        build_adjustments(raw.get("adjust"), _join(path, "adjust"), points_leaf, signed_points_leaf),
    )


def build_expense_limit(raw: Any, path: str) -> Adjusted:
    """The highest in-scope expense the fund pays towards, as a position on the axis."""
    return build_adjusted(raw, path, amount_leaf, signed_amount_leaf, "limit")


@dataclass(frozen=True, slots=True)
class PaymentCap:
    """A cap on the fund's payments — per year, per day or per visit — over the visits it
    ``counts``. ``procedure_limits``: a per-visit limit summed over the visit's procedures."""

    name: str
    limit: Any
    per: str
    applies: Condition
    counts: Condition
    reference: str | None
    procedure_limits: tuple[tuple[str, Any], ...] = ()


def build_payment_caps(raw: Any, path: str) -> tuple[PaymentCap, ...]:
    caps = []
    names: set[str] = set()
    for i, entry in enumerate(_list(raw, path)):
        sub = _join(path, i)
        _fields(entry, sub, {"name", "limit"}, {"per", "applies", "counts", "reference"})
        name = _text(entry["name"], _join(sub, "name")) or ""
        if name in names:
            raise SelectorError(_join(sub, "name"), f"cap {name!r} is defined twice")
        names.add(name)
        per = _choice(entry.get("per", "year"), _join(sub, "per"), ("year", "day", "visit"))
        raw_limit = entry["limit"]
        procedures: tuple[tuple[str, Any], ...] = ()
        if isinstance(raw_limit, dict) and set(raw_limit) == {"sum_of_procedures"}:
            if per != "visit":
                raise SelectorError(_join(sub, "per"), "a limit summed over procedures is per visit")
            mapping = _fields(raw_limit["sum_of_procedures"], _join(sub, "limit.sum_of_procedures"), set(), set(V.PROCEDURES))
            procedures = tuple(
                (proc, compile_selector(v, amount_leaf, _join(sub, f"limit.sum_of_procedures.{proc}"))) for proc, v in mapping.items()
            )
            limit: Any = None
        else:
            limit = compile_selector(raw_limit, amount_leaf, _join(sub, "limit"))
        caps.append(
            PaymentCap(
                name,
                limit,
                per,
                compile_condition(entry.get("applies"), _join(sub, "applies")),
                compile_condition(entry.get("counts", entry.get("applies")), _join(sub, "counts")),
                _text(entry.get("reference"), _join(sub, "reference")),
                procedures,
            )
        )
    return tuple(caps)


@dataclass(frozen=True, slots=True)
class NonlocalRule:
    """Non-local care (异地就医): a personal share first, a rate change, a fixed level."""

    when: Condition
    personal_share: Any
    rate_points: Any
    settle_level: str | None
    reference: str | None
    note: str | None


def build_nonlocal(raw: Any, path: str) -> tuple[NonlocalRule, ...]:
    rules = []
    for i, entry in enumerate(_list(raw, path)):
        sub = _join(path, i)
        _fields(entry, sub, {"when"}, {"personal_share", "rate_points", "settle_level", "reference", "note"})
        level = entry.get("settle_level")
        if level is not None:
            _choice(level, _join(sub, "settle_level"), V.LEVELS)
        rules.append(
            NonlocalRule(
                compile_condition(entry["when"], _join(sub, "when")),
                compile_selector(entry["personal_share"], points_leaf, _join(sub, "personal_share"))
                if "personal_share" in entry
                else None,
                compile_selector(entry["rate_points"], signed_points_leaf, _join(sub, "rate_points"))
                if "rate_points" in entry
                else None,
                level,
                _text(entry.get("reference"), _join(sub, "reference")),
                _text(entry.get("note"), _join(sub, "note")),
            )
        )
    return tuple(rules)


#: Parts of a visit's personal burden a later layer may work on (G6).
COMPONENTS = {
    "fulamt": "全自费 fulamt_ownpay_amt",
    "overlmt": "超限价 overlmt_selfpay",
    "preselfpay": "乙类先行自付 preselfpay_amt",
    "pooled_personal": "pooled in-scope not paid by the basic fund",
    "beyond_expense_limit": "in-scope part beyond the basic expense limit",
}


@dataclass(frozen=True, slots=True)
class BasisRule:
    when: Condition
    components: tuple[str, ...]
    note: str | None


def build_basis(raw: Any, path: str) -> tuple[BasisRule, ...]:
    rules = []
    for i, entry in enumerate(_list(raw, path)):
        sub = _join(path, i)
        _fields(entry, sub, {"components"}, {"when", "note"})
        comps = tuple(_choice(c, _join(sub, "components"), COMPONENTS) for c in _list(entry["components"], sub))
        rules.append(BasisRule(compile_condition(entry.get("when"), _join(sub, "when")), comps, _text(entry.get("note"), sub)))
    if not rules:
        raise SelectorError(path, "at least one basis rule is needed")
    return tuple(rules)


@dataclass(frozen=True, slots=True)
class TopUp:
    """A second payment by the pooled fund of part of the remaining self-pay (e.g. 老工人)."""

    when: Condition
    rate: Any
    basis: tuple[BasisRule, ...]


def build_top_up(raw: Any, path: str) -> TopUp:
    _fields(raw, path, {"when", "rate", "basis"}, set())
    return TopUp(
        compile_condition(raw["when"], _join(path, "when")),
        compile_selector(raw["rate"], points_leaf, _join(path, "rate")),
        build_basis(raw["basis"], _join(path, "basis")),
    )


@dataclass(frozen=True, slots=True)
class Layer:
    """A layer after the basic fund on its own cumulative axis: 职工大额 or 大病保险."""

    fund: str
    applies: Condition
    basis: tuple[BasisRule, ...]
    threshold: Any
    scale: Any
    expense_limit: Any
    payment_limit: Any
    person_bonus: bool


def build_layer(raw: Any, path: str) -> Layer:
    _fields(
        raw,
        path,
        {"fund", "basis", "threshold", "scale"},
        {"applies", "expense_limit", "payment_limit", "person_bonus"},
    )
    bonus = raw.get("person_bonus", False)
    if not isinstance(bonus, bool):
        raise SelectorError(_join(path, "person_bonus"), "true or false")
    return Layer(
        _choice(raw["fund"], _join(path, "fund"), ("hifob", "hifmi")),
        compile_condition(raw.get("applies"), _join(path, "applies")),
        build_basis(raw["basis"], _join(path, "basis")),
        compile_selector(raw["threshold"], amount_leaf, _join(path, "threshold")),
        compile_selector(raw["scale"], lambda r, p: build_scale(r, p), _join(path, "scale")),
        compile_selector(raw.get("expense_limit", UNLIMITED), amount_leaf, _join(path, "expense_limit")),
        compile_selector(raw.get("payment_limit", UNLIMITED), amount_leaf, _join(path, "payment_limit")),
        bonus,
    )


@dataclass(frozen=True, slots=True)
class BurdenCap:
    """医疗救助 pays whatever the patient would bear beyond a share of the visit (杭州 透析)."""

    when: Condition
    bear: Any
    plus: tuple[str, ...]
    reference: str | None


@dataclass(frozen=True, slots=True)
class AssistanceRule:
    """医疗救助: a rate per assistance category on what earlier layers left."""

    basis: tuple[BasisRule, ...]
    minus: tuple[str, ...]
    rate: Adjusted
    annual_limit: Any
    outpatient_limit: Any
    burden_caps: tuple[BurdenCap, ...]


def build_assistance(raw: Any, path: str) -> AssistanceRule:
    _fields(raw, path, {"basis", "rate", "annual_limit"}, {"minus", "outpatient_limit", "burden_caps"})
    caps = []
    for i, entry in enumerate(_list(raw.get("burden_caps"), _join(path, "burden_caps"))):
        sub = _join(_join(path, "burden_caps"), i)
        _fields(entry, sub, {"when", "bear"}, {"plus", "reference"})
        caps.append(
            BurdenCap(
                compile_condition(entry["when"], _join(sub, "when")),
                compile_selector(entry["bear"], points_leaf, _join(sub, "bear")),
                tuple(_choice(c, _join(sub, "plus"), COMPONENTS) for c in _list(entry.get("plus"), sub)),
                _text(entry.get("reference"), _join(sub, "reference")),
            )
        )
    return AssistanceRule(
        build_basis(raw["basis"], _join(path, "basis")),
        tuple(_choice(f, _join(path, "minus"), ("hifob", "hifmi")) for f in _list(raw.get("minus"), path)),
        build_adjusted(raw["rate"], _join(path, "rate"), points_leaf, signed_points_leaf, "base"),
        compile_selector(raw["annual_limit"], amount_leaf, _join(path, "annual_limit")),
        compile_selector(raw.get("outpatient_limit", UNLIMITED), amount_leaf, _join(path, "outpatient_limit")),
        tuple(caps),
    )


@dataclass(frozen=True, slots=True)
class AccountRule:
    """Which sub-accounts pay the remaining personal share, in order (G8)."""

    remaining_from: tuple[str, ...]


def build_account(raw: Any, path: str) -> AccountRule:
    _fields(raw, path, {"remaining_from"}, set())
    order = tuple(_choice(s, _join(path, "remaining_from"), ("current", "history")) for s in _list(raw["remaining_from"], path))
    return AccountRule(order)


def build_selfpay_default(raw: Any, path: str) -> Any:
    """乙类 先行自付 default: a ratio, or ``per_item`` where the province sets it per item."""
    if raw == "per_item":
        return "per_item"
    value = amount_leaf(raw, path)
    if value == UNLIMITED or not (0 <= value <= 1):
        raise SelectorError(path, "a ratio between 0 and 1, or `per_item`")
    return value


def build_diseases(raw: Any, path: str) -> frozenset[str]:
    return frozenset(_choice(d, path, V.DISEASES) for d in _list(raw, path))


def _selector_of(leaf: Callable) -> Callable[[Any, str], Any]:
    return lambda raw, path: compile_selector(raw, leaf, path)


def text_leaf(raw: Any, path: str) -> str:
    if not isinstance(raw, str):
        raise SelectorError(path, f"{raw!r} is not text")
    return raw


def date_leaf(raw: Any, path: str) -> Any:
    import datetime as _dt

    if not isinstance(raw, _dt.date):
        raise SelectorError(path, f"{raw!r} is not a date YYYY-MM-DD")
    return raw


def record_leaf(raw: Any, path: str) -> Any:
    """A record: named figures (each itself a selector), e.g. a premium with its parts.

    Fields hold amounts, ``unlimited``, text, dates, lists or true/false; ``null`` is a blank figure."""
    if not isinstance(raw, dict):
        return _figure_leaf(raw, path)
    return {str(k): compile_selector(v, record_leaf, _join(path, str(k))) for k, v in raw.items()}


def _figure_leaf(raw: Any, path: str) -> Any:
    import datetime as _dt

    if isinstance(raw, (bool, _dt.date, list)):
        return tuple(raw) if isinstance(raw, list) else raw
    if isinstance(raw, str) and raw != UNLIMITED:
        try:
            Decimal(raw)
        except Exception:  # noqa: BLE001 - text such as a mechanism name
            return raw
    return amount_leaf(raw, path)


#: type name → (builder, what it is). ``null`` anywhere inside a value means "missing".
TYPES: dict[str, tuple[Callable[[Any, str], Any], str]] = {
    "amount": (_selector_of(amount_leaf), "an amount in yuan (or a selector of amounts)"),
    "rate": (_selector_of(points_leaf), "a rate in percentage points (or a selector)"),
    "count": (_selector_of(amount_leaf), "a number"),
    "text": (_selector_of(text_leaf), "a word or name (e.g. a mechanism), or a selector of them"),
    "date": (_selector_of(date_leaf), "a date"),
    "record": (_selector_of(record_leaf), "named figures (a mapping), or a selector of records"),
    "lines": (build_lines, "which benefit line settles each visit"),
    "benefit": (build_benefit, "how a benefit line uses the pooled fund"),
    "deductible": (build_deductible, "a deductible (起付标准) and its regime"),
    "rates": (build_rates, "pooled-fund rates on the cumulative axis"),
    "expense_limit": (build_expense_limit, "the highest expense the fund pays towards (最高支付限额 as expense)"),
    "payment_caps": (build_payment_caps, "caps on the fund's payments (per day / per year)"),
    "nonlocal": (build_nonlocal, "non-local care rules (异地就医)"),
    "top_up": (build_top_up, "a second pooled-fund payment of part of the self-pay"),
    "layer": (build_layer, "a layer after the basic fund (职工大额 / 大病保险)"),
    "assistance": (build_assistance, "medical assistance (医疗救助)"),
    "account": (build_account, "personal-account use (个人账户)"),
    "selfpay_default": (build_selfpay_default, "乙类 先行自付 default ratio"),
    "diseases": (build_diseases, "a list of disease keys"),
}
