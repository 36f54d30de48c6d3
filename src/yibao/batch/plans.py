"""Compile the policy into numeric *plans*, one per distinct visit profile.

Every branch the settlement takes — which benefit line, which deductible regime and
standard, which rates, limits, caps, layers and assistance rate — depends only on the
visit's *facts* (scheme, category, level, kind, location, age …) and on the date's policy
version, never on amounts. So the batch engine resolves the rules once per distinct
profile, with the reference engine's own stages and :class:`~yibao.engine.rules.Rules`
(``classify`` itself chooses the line), and records the figures as integers:

* amounts in fen, rates in hundredths of a percentage point ("bp": 85 % → 8500);
* a figure the regulation leaves blank becomes an *error id* in its slot. Where the
  reference engine reads a figure only when the amounts reach it (a segment's rate, a
  layer's threshold when there is a basis), the slot is read lazily by the kernel, so a
  visit is refused exactly when the reference engine would refuse it.

The plan's layout (field indices) is shared with :mod:`yibao.batch.kernel`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterator, Mapping

import numpy as np

from yibao.case import Account, Amounts, Filings, Person, Visit
from yibao.engine.context import VisitContext
from yibao.engine.rules import Rules, clamp_rate
from yibao.engine.stages import pooled as pooled_stage
from yibao.engine.stages.classify import classify
from yibao.engine.stages.layers import ORDER as LAYER_ORDER
from yibao.engine.state import Totals, VisitState
from yibao.errors import YibaoError
from yibao.money import ZERO
from yibao.policy.loader import CityPolicy
from yibao.policy.model import AccountRule, AssistanceRule, Benefit, DeductibleRule, Layer, NonlocalRule, RateRule
from yibao.policy.selectors import UNLIMITED, Choice, Condition

#: The visit id and date the representative visits carry; error messages get the real ones.
PLACEHOLDER = "\x00visit\x00"
DATE_PLACEHOLDER = "\x00date\x00"

MAX_LINES = 2  # a line and the line it overflows to (随州 生育 → 住院)
MAX_SEGMENTS = 8
MAX_CAPS = 4
MAX_BURDEN_CAPS = 2
NONE = -1  # "no such limit" in an amount slot

# self-pay components (G6) as bits
COMPONENT_BITS = {"fulamt": 1, "overlmt": 2, "preselfpay": 4, "pooled_personal": 8, "beyond_expense_limit": 16}
MINUS_BITS = {"hifob": 1, "hifmi": 2}

# deductible regimes
DED_NONE, DED_TOP_UP, DED_CAPPED, DED_DECREASING, DED_TRANSFER = 0, 1, 2, 3, 4

# ---------------------------------------------------------------- plan fields
# PLAN[p, ·]
P_ERR, P_OUTPATIENT, P_ACCOUNT_FIRST, P_USE_ACCOUNT, P_ACCT_SRC0, P_ACCT_SRC1, P_ACCT_ERR, P_NLINES = range(8)
P_FIELDS = 8
# LINE[p, j, ·]
(L_ERR, L_PAYS, L_AXIS, L_DED, L_ADM, L_SHARE, L_REGIME, L_COUNTS, L_STD, L_CAP, L_STEP, L_FLOOR, L_TRANSFER,
 L_NSEG, L_LIMIT, L_TOP_MASK, L_TOP_RATE, L_NCAP, L_ADMISSION, L_OVERFLOW) = range(20)
L_FIELDS = 20
# SEG[p, j, s, ·] (lines) and LSEG[p, f, s, ·] (layers)
S_START, S_RATE, S_ERR = range(3)
# CAP[p, j, c, ·]
C_APPLIES, C_LIMIT, C_COUNTER, C_COUNTS, C_ERR = range(5)
# LAYER[p, f, ·]  f: 0 hifob, 1 hifmi
(Y_PRESENT, Y_MASK, Y_ERR, Y_THRESHOLD, Y_LIMIT, Y_NSEG, Y_PAYLIMIT, Y_BONUS, Y_AXIS, Y_PAID) = range(10)
Y_FIELDS = 10
# ASSIST[p, ·]
(A_PRESENT, A_MASK, A_MINUS, A_ERR, A_RATE, A_ANNUAL, A_OUTPATIENT, A_LIMIT_ERR, A_NBURDEN, A_PAID, A_OUTP_CTR) = range(11)
A_FIELDS = 11
# BURDEN[p, b, ·]
B_BEAR, B_PLUS = range(2)


class _Lazy(Exception):
    """Raised inside a compile step to store an error id in a slot instead of failing."""


@dataclass(frozen=True)
class Profile:
    """The facts that decide a visit's plan (all strings as in the case format)."""

    city: str
    day: dt.date  # a day of the policy epoch
    scheme: str
    category: str
    grade: int
    sex: str | None
    assistance: str | None
    flags: tuple[str, ...]
    chronic_filings: tuple[str, ...]
    special_filings: tuple[str, ...]
    age: int | None
    kind: str
    level: str
    location: str
    route: str | None
    transfer_from: str | None
    disease: str | None
    procedure: tuple[str, ...] | None
    use_account: bool


@dataclass
class Counters:
    """The running totals a batch keeps per person-year, by name → slot."""

    names: list[str] = field(default_factory=list)
    daily: list[bool] = field(default_factory=list)

    def slot(self, name: str, daily: bool = False) -> int:
        if name not in self.names:
            self.names.append(name)
            self.daily.append(daily)
        return self.names.index(name)


class Compiler:
    """Compiles profiles of one city policy into plan rows; collects the error texts."""

    def __init__(self, policy: CityPolicy, counters: Counters, errors: list[str]):
        self.policy, self.counters, self.errors = policy, counters, errors
        self.rows: list[dict[str, Any]] = []
        self.descriptions: list[dict[str, Any]] = []
        self._day = dt.date.min
        self.layer_names = [name for name, p in policy.parameters.items() if p.type == "layer"]

    # ------------------------------------------------------------------ errors

    def error_id(self, exc: BaseException) -> int:
        text = str(exc).replace(self._day.isoformat(), DATE_PLACEHOLDER)
        if text not in self.errors:
            self.errors.append(text)
        return self.errors.index(text) + 1

    # ------------------------------------------------------------------ one plan

    def compile(self, profile: Profile) -> int:
        """Append the plan of ``profile``; return its index among this compiler's rows."""
        plan = _empty_plan()
        self._day = profile.day
        described: dict[str, Any] = {"city": self.policy.city, "profile": _describe_profile(profile)}
        try:
            self._compile(profile, plan, described)
        except YibaoError as exc:
            plan["plan"][P_ERR] = self.error_id(exc)
            described["refused"] = self.errors[plan["plan"][P_ERR] - 1].replace(PLACEHOLDER, "<visit>").replace(DATE_PLACEHOLDER, "<date>")
        self.rows.append(plan)
        self.descriptions.append(described)
        return len(self.rows) - 1

    def _compile(self, profile: Profile, plan: dict[str, np.ndarray], described: dict[str, Any]) -> None:
        person, visit = _representatives(profile)
        rules = Rules(self.policy, profile.day, PLACEHOLDER)
        ctx = VisitContext(person, visit, rules, ZERO, ZERO)
        state = classify(ctx, Totals(), VisitState(PLACEHOLDER, profile.day.year))
        scheme = person.scheme
        P = plan["plan"]
        P[P_OUTPATIENT] = state.pool == "outpatient"
        described.update(line=state.line, pool=state.pool, clauses=[t.source for t in state.trace if t.source])
        benefit: Benefit = rules.require(f"{scheme}.{state.line}.benefit")
        use_account = bool(visit.use_account and scheme == "employee")
        P[P_USE_ACCOUNT] = use_account
        P[P_ACCOUNT_FIRST] = use_account and benefit.account_first.holds(state.facts)
        # the lines: the visit's own, then the one it overflows to (read only when something overflows)
        line, j = state.line, 0
        while True:
            self._line(ctx, state, line, benefit, plan, j)
            if not benefit.overflow_line:
                break
            if j + 1 >= MAX_LINES:
                raise YibaoError(f"{self.policy.city}: benefit line {line} overflows more than {MAX_LINES - 1} time(s)")
            line, j = benefit.overflow_line, j + 1
            try:
                benefit = rules.require(f"{scheme}.{line}.benefit")
            except YibaoError as exc:
                plan["line"][j, L_ERR] = self.error_id(exc)
                break
        P[P_NLINES] = j + 1
        in_force = [(name, layer) for name in self.layer_names if (layer := rules.optional(name)) is not None]
        for f, fund in enumerate(LAYER_ORDER):
            self._layer(ctx, state, [(n, layer) for n, layer in in_force if layer.fund == fund], fund, plan, f)
        self._assistance(ctx, state, plan)
        self._account(ctx, plan)

    # ------------------------------------------------------------------ 统筹基金 (pooled.py)

    def _line(self, ctx: VisitContext, state: VisitState, line: str, benefit: Benefit, plan: dict[str, np.ndarray], j: int) -> None:
        L = plan["line"][j]
        try:
            self._line_figures(ctx, state, line, benefit, plan, j)
        except YibaoError as exc:  # the reference reads these only when the line has an amount
            L[L_ERR] = self.error_id(exc)
        L[L_OVERFLOW] = benefit.overflow_line is not None

    def _line_figures(self, ctx: VisitContext, state: VisitState, line: str, benefit: Benefit, plan: dict[str, np.ndarray], j: int) -> None:
        rules, scheme = ctx.rules, ctx.scheme
        L, SEG, CAP = plan["line"][j], plan["seg"][j], plan["cap"][j]
        own = pooled_stage._own_names(ctx, line, benefit)
        facts: dict[str, Any] = {**state.facts, "line": line, "pool": benefit.pool}
        if benefit.settle_level:
            facts["level"] = benefit.settle_level
        pool = benefit.pool
        L[L_AXIS] = self.counters.slot(f"pool.{pool}.axis")
        L[L_DED] = self.counters.slot(f"pool.{pool}.deductible")
        L[L_ADM] = self.counters.slot(f"pool.{pool}.admissions")
        L[L_PAYS] = benefit.pays_when.holds(facts)
        if not L[L_PAYS]:
            return
        # 异地: personal share, rate points, fixed level (pooled._nonlocal)
        points = ZERO
        if facts["location"] != "local":
            name = f"{scheme}.nonlocal"
            for rule in rules.optional(name) or ():
                rule: NonlocalRule
                if not rule.when.holds(facts):
                    continue
                clause = rule.reference or rules.clause(name)
                if rule.personal_share is not None:
                    L[L_SHARE] = _bp(rules.figure(rule.personal_share, facts, name, clause), name)
                if rule.rate_points is not None:
                    points = rules.figure(rule.rate_points, facts, name, clause)
                if rule.settle_level:
                    facts = {**facts, "level": rule.settle_level}
                break
        # 起付标准 (pooled._deductible)
        pname = own("deductible")
        ded: DeductibleRule = rules.require(pname)
        clause = rules.clause(pname)
        exempt = next((e for e in ded.exempt if e.when.holds(facts)), None)
        if exempt is not None or ded.regime == "none":
            L[L_REGIME], L[L_COUNTS] = DED_NONE, False
        else:
            L[L_COUNTS] = True
            standard, _ = pooled_stage._standard(ctx, ded.standard, facts, pname, clause)
            L[L_STD] = _fen(standard, pname)
            if ded.regime in ("annual", "highest_level_top_up"):
                L[L_REGIME] = DED_TOP_UP
            elif ded.regime == "per_admission_capped":
                L[L_REGIME] = DED_CAPPED
                L[L_CAP] = _limit(rules.amount(ded.annual_cap, facts, pname, clause), pname)
            elif ctx.visit.transfer_from is not None:
                L[L_REGIME] = DED_TRANSFER
                from_standard, _ = pooled_stage._standard(ctx, ded.standard, {**facts, "level": ctx.visit.transfer_from}, pname, clause)
                L[L_TRANSFER] = _fen(max(ZERO, standard - from_standard), pname)
            else:
                L[L_REGIME] = DED_DECREASING
                L[L_STEP] = _fen(rules.amount(ded.step, facts, pname, clause), pname)
                L[L_FLOOR] = _fen(rules.amount(ded.floor, facts, pname, clause), pname)
        # 分段比例 and 最高支付限额 (pooled._rate, pooled._expense_limit)
        rates: RateRule = rules.require(own("rates"))
        rates_clause = rules.clause(own("rates"))
        limit, _, _ = pooled_stage._expense_limit(ctx, facts, own("expense_limit"))
        scale = rates.scale
        if not isinstance(scale, tuple):
            raise rules.missing(f"{own('rates')}.scale", rates_clause)
        if len(scale) > MAX_SEGMENTS:
            raise YibaoError(f"{own('rates')}: more than {MAX_SEGMENTS} segments")
        L[L_NSEG] = len(scale)
        for s, segment in enumerate(scale):
            SEG[s, S_START] = _fen(segment.start, own("rates"))
            try:
                rate, _ = pooled_stage._rate(ctx, rates, s, facts, own("rates"), rates_clause, points)
                SEG[s, S_RATE] = _bp(rate, own("rates"))
            except YibaoError as exc:  # read when an amount falls in this segment
                SEG[s, S_ERR] = self.error_id(exc)
        L[L_LIMIT] = _limit(limit, own("expense_limit"))
        # 再支付 top-up (pooled._top_up)
        top = rules.optional(own("top_up"))
        if top is not None and top.when.holds(facts):
            basis_rule = next((b for b in top.basis if b.when.holds(facts)), None)
            if basis_rule is not None:
                L[L_TOP_MASK] = _mask(basis_rule.components)
                L[L_TOP_RATE] = _bp(rules.figure(top.rate, facts, own("top_up"), rules.clause(own("top_up"))), own("top_up"))
        # 支付限额 caps (pooled._apply_caps, pooled._cap_postings)
        caps = pooled_stage._caps(ctx)
        if len(caps) > MAX_CAPS:
            raise YibaoError(f"{scheme}.payment_caps: more than {MAX_CAPS} caps")
        L[L_NCAP] = len(caps)
        cname = f"{scheme}.payment_caps"
        for c, cap in enumerate(caps):
            C = CAP[c]
            C[C_COUNTER] = NONE if cap.per == "visit" else self.counters.slot(f"cap.{cap.name}", daily=cap.per == "day")
            C[C_COUNTS] = cap.per != "visit" and cap.counts.holds(facts)
            C[C_APPLIES] = cap.applies.holds(facts)
            C[C_LIMIT] = NONE
            if C[C_APPLIES]:
                value = pooled_stage._cap_limit(ctx, cap, facts, cname, cap.reference or rules.clause(cname))
                C[C_LIMIT] = _limit(value, cname)
        L[L_ADMISSION] = benefit.counts_as_admission.holds(facts) and ctx.visit.transfer_from is None

    # ------------------------------------------------------------------ 大额, 大病 (layers.py)

    def _layer(self, ctx: VisitContext, state: VisitState, mine: list[tuple[str, Layer]], fund: str,
               plan: dict[str, np.ndarray], f: int) -> None:
        rules, facts = ctx.rules, state.facts
        if not mine:
            return
        if len(mine) > 1:
            raise YibaoError(f"{rules.city}: more than one {fund} layer is in force ({', '.join(n for n, _ in mine)})")
        name, layer = mine[0]
        Y, SEG = plan["layer"][f], plan["lseg"][f]
        if not layer.applies.holds(facts):
            return
        rule = next((b for b in layer.basis if b.when.holds(facts)), None)
        if rule is None:
            return
        Y[Y_PRESENT], Y[Y_MASK] = True, _mask(rule.components)
        Y[Y_AXIS] = self.counters.slot(f"layer.{fund}.axis")
        Y[Y_PAID] = self.counters.slot(f"layer.{fund}.paid")
        Y[Y_BONUS] = layer.person_bonus
        clause = rules.clause(name)
        try:  # read only when there is a basis
            threshold = rules.amount(layer.threshold, facts, name, clause)
            if threshold is None:
                raise YibaoError(f"policy error in {rules.city} policy: {name}.threshold: a threshold is an amount, not `unlimited`")
            Y[Y_THRESHOLD] = _fen(threshold, name)
            limit = rules.amount(layer.expense_limit, facts, name, clause)
            Y[Y_LIMIT] = _limit(limit, name)
            scale = rules.figure(layer.scale, facts, name, clause)
            if len(scale) > MAX_SEGMENTS:
                raise YibaoError(f"{name}: more than {MAX_SEGMENTS} segments")
            Y[Y_NSEG] = len(scale)
            for s, segment in enumerate(scale):
                SEG[s, S_START] = _fen(segment.start, name)
                try:
                    SEG[s, S_RATE] = _bp(clamp_rate(rules.figure(segment.rate, facts, name, clause)), name)
                except YibaoError as exc:
                    SEG[s, S_ERR] = self.error_id(exc)
            cap = rules.amount(layer.payment_limit, facts, name, clause)
            Y[Y_PAYLIMIT] = _limit(cap, name)
        except YibaoError as exc:
            Y[Y_ERR] = self.error_id(exc)

    # ------------------------------------------------------------------ 医疗救助 (assistance.py)

    def _assistance(self, ctx: VisitContext, state: VisitState, plan: dict[str, np.ndarray]) -> None:
        pname = "assistance.assistance"
        rules, facts = ctx.rules, state.facts
        rule: AssistanceRule | None = rules.optional(pname)
        if rule is None:
            return
        basis_rule = next((b for b in rule.basis if b.when.holds(facts)), None)
        if basis_rule is None:
            return
        A, B = plan["assist"], plan["burden"]
        A[A_PRESENT], A[A_MASK] = True, _mask(basis_rule.components)
        A[A_MINUS] = sum(MINUS_BITS[m] for m in rule.minus)
        A[A_PAID] = self.counters.slot("assistance.paid")
        A[A_OUTP_CTR] = self.counters.slot("assistance.outpatient")
        A[A_ANNUAL] = A[A_OUTPATIENT] = NONE
        clause = rules.clause(pname)
        try:
            rate, _ = rules.adjusted(rule.rate, facts, pname, clause)
            A[A_RATE] = _bp(rate, pname) if rate else 0
            caps = [cap for cap in rule.burden_caps if cap.when.holds(facts)]
            if len(caps) > MAX_BURDEN_CAPS:
                raise YibaoError(f"{pname}: more than {MAX_BURDEN_CAPS} burden caps apply")
            A[A_NBURDEN] = len(caps)
            for b, cap in enumerate(caps):
                B[b, B_BEAR] = _bp(rules.figure(cap.bear, facts, pname, cap.reference or clause), pname)
                B[b, B_PLUS] = _mask(cap.plus)
        except YibaoError as exc:
            A[A_ERR] = self.error_id(exc)
            return
        try:  # read only when a regular payment is computed
            for node, slot in ((rule.annual_limit, A_ANNUAL), (rule.outpatient_limit if state.pool == "outpatient" else None, A_OUTPATIENT)):
                if node is None:
                    continue
                value = rules.amount(node, facts, pname, clause)
                A[slot] = _limit(value, pname)
        except YibaoError as exc:
            A[A_LIMIT_ERR] = self.error_id(exc)

    # ------------------------------------------------------------------ 个人账户 (account.py)

    def _account(self, ctx: VisitContext, plan: dict[str, np.ndarray]) -> None:
        P = plan["plan"]
        if not P[P_USE_ACCOUNT]:
            return
        try:
            rule: AccountRule = ctx.rules.require("account.remaining_share")
            order = [1 if s == "current" else 2 for s in rule.remaining_from] + [0, 0]
            P[P_ACCT_SRC0], P[P_ACCT_SRC1] = order[0], order[1]
        except YibaoError as exc:  # read only when something remains for the account
            P[P_ACCT_ERR] = self.error_id(exc)


class Book:
    """The plans of one batch: each distinct profile compiled once, however many passes the
    batch is settled in (a file too large for one pass is settled a slice of persons at a
    time). A plan's number — the results' ``plan`` column, its place in the plans file —
    is its place here, and the error texts and counters are shared by all the passes."""

    def __init__(self, policies: Mapping[str, CityPolicy]):
        self.policies = policies
        self.counters = Counters()
        self.errors: list[str] = []
        self.rows: list[dict[str, np.ndarray]] = []
        self.descriptions: list[dict[str, Any]] = []
        self._compilers: dict[str, Compiler] = {}
        self._numbers: dict[Profile, int] = {}
        self._refusing: int | None = None

    def number(self, profile: Profile) -> int:
        """The plan of ``profile``, compiled the first time it is asked for."""
        number = self._numbers.get(profile)
        if number is None:
            compiler = self._compilers.get(profile.city)
            if compiler is None:
                compiler = self._compilers[profile.city] = Compiler(self.policies[profile.city], self.counters, self.errors)
            k = compiler.compile(profile)
            number = self._numbers[profile] = self._add(compiler.rows[k], compiler.descriptions[k])
        return number

    def refusing(self) -> int:
        """A plan that refuses every visit and touches no total: for a visit refused before
        any rule applies (a bill the catalogue cannot split, a resident given an account),
        whose own error says why."""
        if self._refusing is None:
            plan = _empty_plan()
            self.errors.append("refused before any rule applies")
            plan["plan"][P_ERR] = len(self.errors)
            self._refusing = self._add(plan, {"refused": self.errors[-1]})
        return self._refusing

    def _add(self, row: dict[str, np.ndarray], described: dict[str, Any]) -> int:
        self.rows.append(row)
        self.descriptions.append(described)
        return len(self.rows) - 1


# ---------------------------------------------------------------------- packing


def _empty_plan() -> dict[str, np.ndarray]:
    return {
        "plan": np.zeros(P_FIELDS, np.int64),
        "line": np.zeros((MAX_LINES, L_FIELDS), np.int64),
        "seg": np.zeros((MAX_LINES, MAX_SEGMENTS, 3), np.int64),
        "cap": np.zeros((MAX_LINES, MAX_CAPS, 5), np.int64),
        "layer": np.zeros((2, Y_FIELDS), np.int64),
        "lseg": np.zeros((2, MAX_SEGMENTS, 3), np.int64),
        "assist": np.zeros(A_FIELDS, np.int64),
        "burden": np.zeros((MAX_BURDEN_CAPS, 2), np.int64),
    }


def pack(rows: list[dict[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Stack the distinct plan rows into the kernel's arrays (one leading axis: the plan),
    and give each row's index among them. Many profiles compile to the same figures (a
    fact that changes no rule still makes its own profile): keeping one copy of each keeps
    the arrays the kernel reads at every visit small enough for the processor's cache."""
    if not rows:
        rows = [_empty_plan()]
    seen: dict[bytes, int] = {}
    distinct: list[dict[str, np.ndarray]] = []
    index = np.empty(len(rows), np.int64)
    for k, row in enumerate(rows):
        figures = b"".join(row[key].tobytes() for key in row)
        if figures not in seen:
            seen[figures] = len(distinct)
            distinct.append(row)
        index[k] = seen[figures]
    return {key: np.ascontiguousarray(np.stack([r[key] for r in distinct])) for key in rows[0]}, index


# ---------------------------------------------------------------------- helpers


def _fen(amount: Decimal | str | None, name: str) -> int:
    """An amount in fen, exactly; a figure that must be an amount cannot be `unlimited`."""
    if amount is None or amount == UNLIMITED:
        raise YibaoError(f"{name}: an amount is needed here, not `unlimited`")
    fen = Decimal(amount) * 100
    if fen != fen.to_integral_value():
        raise YibaoError(f"{name}: amount {amount} is not a whole number of fen")
    return int(fen)


def _limit(amount: Decimal | str | None, name: str) -> int:
    """A limit in fen, or :data:`NONE` where there is none (``unlimited``)."""
    return NONE if amount is None or amount == UNLIMITED else _fen(amount, name)


def _bp(points: Decimal, name: str) -> int:
    """Percentage points as hundredths of a point (85 → 8500); exact or refused."""
    bp = Decimal(points) * 100
    if bp != bp.to_integral_value():
        raise YibaoError(f"{name}: rate {points}% has more than two decimals; the batch engine counts hundredths of a point")
    return int(bp)


def _mask(components: tuple[str, ...]) -> int:
    return sum(COMPONENT_BITS[c] for c in components)


def _representatives(profile: Profile) -> tuple[Person, Visit]:
    birth = None if profile.age is None else dt.date(profile.day.year - profile.age, 1, 1)
    person = Person.model_construct(
        id="batch", scheme=profile.scheme, category=profile.category, grade=profile.grade, birth_date=birth,
        sex=profile.sex, assistance=profile.assistance, flags=profile.flags,
        filings=Filings.model_construct(chronic=profile.chronic_filings, special=profile.special_filings),
        account=Account(), ci_cap_bonus=ZERO,
    )
    visit = Visit.model_construct(
        id=PLACEHOLDER, date=profile.day, kind=profile.kind, level=profile.level, location=profile.location,
        route=profile.route, transfer_from=profile.transfer_from, disease=profile.disease, procedure=profile.procedure,
        use_account=profile.use_account, items=None, amounts=Amounts(),
    )
    return person, visit


def _describe_profile(profile: Profile) -> dict[str, Any]:
    out = {f.name: getattr(profile, f.name) for f in dataclasses.fields(profile)}
    out["day"] = profile.day.isoformat()
    return {k: v for k, v in out.items() if v not in (None, (), "")}


# ---------------------------------------------------------------------- what the policy reads


def walk(node: Any) -> Iterator[Any]:
    """Every node inside a compiled parameter value (conditions, choices, leaves)."""
    yield node
    if isinstance(node, Choice):
        for _, sub in node.options:
            yield from walk(sub)
        if node.has_other:
            yield from walk(node.other)
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            yield from walk(getattr(node, f.name))
    elif isinstance(node, (tuple, list)):
        for sub in node:
            yield from walk(sub)
    elif isinstance(node, dict):
        for sub in node.values():
            yield from walk(sub)


def epochs(policy: CityPolicy) -> list[dt.date]:
    """The days on which any figure of the policy changes: an epoch is the span between two."""
    marks = set()
    for bound in (policy.document.start, policy.document.end and policy.document.end + dt.timedelta(days=1)):
        if bound:
            marks.add(bound)
    for param in policy.parameters.values():
        for version in param.versions:
            if version.start:
                marks.add(version.start)
            if version.end:
                marks.add(version.end + dt.timedelta(days=1))
    return sorted(marks)


def age_breaks(policy: CityPolicy) -> list[int]:
    """Ages at which some condition changes its answer: ages between two breaks are alike."""
    breaks: set[int] = set()
    for param in policy.parameters.values():
        for version in param.versions:
            for node in walk(version.value):
                if isinstance(node, Condition):
                    for key, expected in node.tests:
                        if key == "age_min":
                            breaks.add(expected)
                        elif key == "age_max":
                            breaks.add(expected + 1)
    return sorted(breaks)


def dimensions_read(policy: CityPolicy) -> set[str]:
    """The facts some condition or selector of the policy looks at (``flag`` and
    ``by_flag`` both count as ``flags``): a fact outside this set cannot change a plan."""
    read: set[str] = set()
    for param in policy.parameters.values():
        for version in param.versions:
            for node in walk(version.value):
                if isinstance(node, Choice):
                    read.add(node.dimension)
                elif isinstance(node, Condition):
                    read.update(key for key, _ in node.tests)
    return {"flags" if d == "flag" else d for d in read}


def flags_read(policy: CityPolicy) -> set[str]:
    """The flags some ``when: {flag: …}`` condition asks about; other flags change nothing."""
    found: set[str] = set()
    for param in policy.parameters.values():
        for version in param.versions:
            for node in walk(version.value):
                if isinstance(node, Condition):
                    found.update(*(expected for key, expected in node.tests if key == "flag"))
    return found


def disease_classes(policy: CityPolicy, diseases: list[str]) -> dict[str, str]:
    """Each disease → the first disease every rule treats alike: same answer to every
    ``disease`` condition and selector and the same membership of every disease list."""
    sets: list[frozenset[str]] = []
    for param in policy.parameters.values():
        for version in param.versions:
            if param.type == "diseases" and isinstance(version.value, (tuple, list, frozenset, set)):
                sets.append(frozenset(version.value))
            for node in walk(version.value):
                if isinstance(node, Choice) and node.dimension == "disease":
                    sets.extend(keys for keys, _ in node.options)
                elif isinstance(node, Condition):
                    sets.extend(expected for key, expected in node.tests if key == "disease")
    first: dict[tuple[bool, ...], str] = {}
    return {d: first.setdefault(tuple(d in group for group in sets), d) for d in sorted(diseases)}


def reads_filed_set(policy: CityPolicy) -> bool:
    """Does any figure depend on *which* chronic diseases are filed (``by_filed``)?"""
    return any(isinstance(node, Choice) and node.dimension == "filed"
               for param in policy.parameters.values() for version in param.versions for node in walk(version.value))


def representative_day(marks: list[dt.date], epoch: int, year_hint: int) -> dt.date:
    """A day inside ``epoch`` (0: before the first mark)."""
    if epoch == 0:
        return (marks[0] - dt.timedelta(days=1)) if marks else dt.date(year_hint, 1, 1)
    return marks[epoch - 1]


def representative_age(breaks: list[int], bucket: int) -> int | None:
    if bucket < 0:
        return None
    return breaks[bucket - 1] if bucket > 0 else 0
