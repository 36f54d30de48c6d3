"""生育津贴 — the maternity allowance of one claim: eligible or not, for how many days, on
which base, how much, paid to whom, and when.

    allowance = monthly base × days ÷ days per month     (rounded once, half up, to the fen)

Everything a city decides is data in ``policy/data/<city>/maternity/``:

- ``entitlement``       who receives it (by way of enrolment on the event date, and the
                        circumstances that exclude it), paid to whom, on which base;
- ``birth_days``, ``miscarriage_days``, ``procedure_days``
                        the days by component, or ``stated`` where the city pays the leave
                        actually taken (the claim states it);
- ``employer_base``     how the employer's average monthly base is found, new employers too;
- ``days_per_month``    the divisor;
- ``qualifying``        the continuous contribution months, counted to which month, and what
                        follows when they are short (``deferred`` or ``not_eligible``);
- ``nutrition_subsidy``, ``claim_deadline``   where the city has them.

A blank figure is refused with its name and clause (:class:`~yibao.errors.MissingPolicyValue`).
The claim format, the output and every reading: ``docs/lifecycle/maternity.md``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from yibao.case import Date, Money, decode_json, validate
from yibao.errors import CaseError
from yibao.lifecycle.coverage import coverage_on
from yibao.lifecycle.dates import add_months, first_of_month, month_of, months_between
from yibao.lifecycle.history import Enrolment, History, parse_history
from yibao.lifecycle.policy_view import PolicyAt, Record
from yibao.money import FEN, fmt, round_fen
from yibao.policy.loader import CityPolicy

#: Family-planning procedures with allowance days, and who undergoes them.
PROCEDURES = {
    "iud_insert": ("放置宫内节育器", "F"),
    "iud_remove": ("取出宫内节育器", "F"),
    "ligation": ("输卵管结扎", "F"),
    "postpartum_ligation": ("产后结扎输卵管", "F"),
    "vasectomy": ("输精管结扎", "M"),
}

#: The claimant's circumstances that may decide entitlement before her way of enrolment.
CIRCUMSTANCES = {
    "past_retirement_age": "超过法定退休年龄 past the legal retirement age",
    "public_funded": "财政供养人员 paid from public finance",
}

#: Ways of enrolment (history ``mode``), as the texts name them.
MODES = {
    "unit": "单位职工 unit employee",
    "flexible": "灵活就业人员 flexible worker",
    "unemployed": "领取失业保险金人员 receiving unemployment benefit",
    "retired": "退休人员 retiree",
}

ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
STATED = "stated"

# ====================================================================== the claim


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class MaternityEvent(_Strict):
    """What happened: a birth, a termination of pregnancy (流产、引产) or a procedure."""

    type: Literal["birth", "miscarriage", "procedure"]
    date: Date
    babies: int = Field(default=1, ge=1, le=9)
    difficult: bool = False
    child_order: Optional[int] = Field(default=None, ge=1, le=20)
    lawful: bool = True
    pregnancy_months: Optional[int] = Field(default=None, ge=0, le=10)
    procedure: Optional[Literal[tuple(PROCEDURES)]] = None  # type: ignore[valid-type]
    leave_days: Optional[int] = Field(default=None, ge=1, le=366)

    @model_validator(mode="after")
    def _fits_its_type(self) -> "MaternityEvent":
        applies = {
            "birth": {"babies", "difficult", "child_order", "lawful"},
            "miscarriage": {"pregnancy_months"},
            "procedure": {"procedure"},
        }
        for name in ("babies", "difficult", "child_order", "lawful", "pregnancy_months", "procedure"):
            if name in self.model_fields_set and name not in applies[self.type]:
                raise ValueError(f"`{name}` does not apply to a {self.type}")
        if self.type == "miscarriage" and self.pregnancy_months is None:
            raise ValueError("a miscarriage needs `pregnancy_months` (completed months of pregnancy)")
        if self.type == "procedure" and self.procedure is None:
            raise ValueError("a procedure event needs `procedure`")
        return self

    @property
    def sex(self) -> str:
        """Who this event happens to."""
        return PROCEDURES[self.procedure][1] if self.procedure else "F"


class EmployerMonth(_Strict):
    """One month of the employer's contribution records: insured employees and their bases."""

    month: str
    employees: int = Field(ge=1)
    base_total: Money

    @field_validator("month")
    @classmethod
    def _month(cls, value: str) -> str:
        try:
            month_of(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a month YYYY-MM") from None
        if len(value) != 7:
            raise ValueError(f"{value!r} is not a month YYYY-MM")
        return value

    @property
    def first_day(self) -> dt.date:
        return month_of(self.month)


class EmployerFacts(_Strict):
    """The employer's average monthly base as the agency has it, or the records to compute it."""

    id: Optional[str] = None
    average_base: Optional[Money] = None
    records: tuple[EmployerMonth, ...] = ()

    @model_validator(mode="after")
    def _one_record_a_month(self) -> "EmployerFacts":
        months = [r.month for r in self.records]
        twice = sorted({m for m in months if months.count(m) > 1})
        if twice:
            raise ValueError(f"the record for {twice[0]} is listed twice")
        return self


class Claim(_Strict):
    id: str = Field(default="claim", min_length=1)
    claim_date: Optional[Date] = None
    history: Union[str, dict[str, Any]]
    event: MaternityEvent
    employer: Optional[EmployerFacts] = None
    minimum_base: Optional[Money] = None
    last_year_base: Optional[Money] = None
    past_retirement_age: bool = False
    public_funded: bool = False
    pay_to_person: bool = False


@dataclass(frozen=True)
class MaternityClaim:
    """A validated claim with its person's history."""

    claim: Claim
    history: History

    @property
    def event(self) -> MaternityEvent:
        return self.claim.event

    @property
    def claim_date(self) -> dt.date:
        """The day the allowance is claimed (the event date when the claim does not say)."""
        return self.claim.claim_date or self.claim.event.date

    def error(self, message: str) -> CaseError:
        return CaseError(f"claim {self.claim.id}: {message}")


def parse_claim_text(text: str, base_dir: Path) -> MaternityClaim:
    """A claim from JSON text; a ``history`` given as a path is read relative to ``base_dir``."""
    claim = validate(Claim, decode_json(text), "a maternity claim")
    history = _history(claim.history, base_dir)
    return _coherent(MaternityClaim(claim, history))


def _history(ref: str | dict[str, Any], base_dir: Path) -> History:
    if isinstance(ref, dict):
        raw = ref
    else:
        path = base_dir / ref
        try:
            raw = decode_json(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CaseError(f"cannot read the history {ref}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CaseError(f"the history {ref} is not UTF-8 text") from None
    try:
        return parse_history(raw)
    except CaseError as exc:
        raise CaseError(f"history: {exc}") from None


def _coherent(mc: MaternityClaim) -> MaternityClaim:
    event = mc.event
    if mc.claim_date < event.date:
        raise mc.error(f"claim_date {mc.claim_date} is before the event ({event.date})")
    if mc.history.person.sex != event.sex:
        what = PROCEDURES[event.procedure][0] if event.procedure else f"a {event.type}"
        raise mc.error(f"{what} does not fit the person's sex ({mc.history.person.sex})")
    return mc


# ====================================================================== the answer


@dataclass(frozen=True)
class Check:
    """One condition of entitlement and how it came out."""

    name: str
    met: bool
    detail: str
    clause: str


@dataclass(frozen=True)
class DayPart:
    """One component of the allowance days, with its clause."""

    what: str
    days: int
    clause: str


@dataclass(frozen=True)
class MonthlyBase:
    """The monthly base and the divisor turning it into a daily one."""

    monthly: Decimal
    days_per_month: int
    source: str
    clause: str
    provisional: bool = False

    @property
    def daily(self) -> Decimal:
        return self.monthly / self.days_per_month


@dataclass(frozen=True)
class Payee:
    to: Literal["employer", "person"]
    id: str
    clause: str


@dataclass
class Assessment:
    """The answer to a claim, filled in as the rules are applied."""

    city: str
    claim_id: str
    person_id: str
    event: MaternityEvent
    mode: str | None = None
    eligible: bool = True
    reason: str | None = None
    clause: str | None = None
    checks: list[Check] = field(default_factory=list)
    days: list[DayPart] = field(default_factory=list)
    days_clause: str | None = None
    base: MonthlyBase | None = None
    allowance: Decimal | None = None
    nutrition_subsidy: tuple[Decimal, str] | None = None
    payee: Payee | None = None
    paid_by: Literal["fund", "employer"] = "fund"
    qualifies_from: dt.date | None = None
    deferred_until: dt.date | None = None
    claim_by: dt.date | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total_days(self) -> int:
        return sum(p.days for p in self.days)

    @property
    def payable_now(self) -> bool:
        return self.eligible and self.deferred_until is None

    def formula(self) -> str | None:
        if self.base is None or self.allowance is None:
            return None
        return f"{_show(self.base.monthly)} × {self.total_days} ÷ {self.base.days_per_month} = {fmt(self.allowance)}"

    def as_json(self) -> dict[str, Any]:
        month = lambda d: d.strftime("%Y-%m") if d else None  # noqa: E731
        return {
            "city": self.city,
            "claim_id": self.claim_id,
            "person_id": self.person_id,
            "event": self.event.model_dump(mode="json", exclude_unset=True),
            "enrolment": self.mode,
            "eligible": self.eligible,
            "payable_now": self.payable_now,
            "deferred_until": month(self.deferred_until),
            "qualifies_from": month(self.qualifies_from),
            "reason": self.reason,
            "clause": self.clause,
            "checks": [{"check": c.name, "met": c.met, "detail": c.detail, "clause": c.clause} for c in self.checks],
            "days": {
                "total": self.total_days,
                "clause": self.days_clause,
                "parts": [{"what": p.what, "days": p.days, "clause": p.clause} for p in self.days],
            }
            if self.days
            else None,
            "base": {
                "monthly": _show(self.base.monthly),
                "days_per_month": self.base.days_per_month,
                "daily": _show(self.base.daily),
                "provisional": self.base.provisional,
                "source": self.base.source,
                "clause": self.base.clause,
            }
            if self.base
            else None,
            "allowance": fmt(self.allowance) if self.allowance is not None else None,
            "formula": self.formula(),
            "nutrition_subsidy": {"amount": fmt(self.nutrition_subsidy[0]), "paid_to": "person", "clause": self.nutrition_subsidy[1]}
            if self.nutrition_subsidy
            else None,
            "payee": {"to": self.payee.to, "id": self.payee.id, "clause": self.payee.clause} if self.payee else None,
            "paid_by": self.paid_by,
            "claim_by": self.claim_by.isoformat() if self.claim_by else None,
            "notes": list(self.notes),
        }


def _show(amount: Decimal) -> str:
    """Money as text: two decimals when exact to the fen, else four (the exact value is used)."""
    return fmt(amount) if amount == amount.quantize(FEN) else str(amount.quantize(Decimal("0.0001")))


class _NotEligible(Exception):
    """Stops the assessment: the claim is not entitled, for this reason and clause."""

    def __init__(self, check: str, reason: str, clause: str):
        super().__init__(reason)
        self.check, self.reason, self.clause = check, reason, clause


# ====================================================================== the assessment


def assess(mc: MaternityClaim, policy: CityPolicy) -> Assessment:
    """Apply the city's rules to a claim, in the order the conditions are tested."""
    history, event = mc.history, mc.event
    if history.city != policy.city:
        raise mc.error(f"the history is for {history.city}, the policy for {policy.city}")
    out = Assessment(policy.city, mc.claim.id, history.person.id, event)
    view = PolicyAt(policy, event.date, f"claim {mc.claim.id}: the event date {event.date}")
    try:
        enrolment = _covered(view, mc, policy, out)
        out.mode = enrolment.mode
        entitled = _entitlement(view, mc, enrolment.mode, out)
        out.days, out.days_clause = _days(view, mc, out)
        out.nutrition_subsidy = _nutrition_subsidy(view, event)
        out.base = _monthly_base(view, mc, entitled, enrolment)
        _continuity(view, mc, out)
        out.payee = _payee(mc, entitled, enrolment)
    except _NotEligible as stop:
        out.eligible, out.reason, out.clause = False, stop.reason, stop.clause
        out.checks.append(Check(stop.check, False, stop.reason, stop.clause))
        out.nutrition_subsidy = None
        return out
    # one rounding, of the exact product (money.py)
    out.allowance = round_fen(out.base.monthly * out.total_days / out.base.days_per_month)
    _claim_deadline(view, mc, out)
    return out


# ---------------------------------------------------------------------- coverage


def _covered(view: PolicyAt, mc: MaternityClaim, policy: CityPolicy, out: Assessment) -> Enrolment:
    """The event falls in the employee scheme's benefit period (生育保险待遇享受起始时间与职工
    医保一致: 嘉兴 (四十), 杭州办法 五, 舟山 第四十八条; 随州 第三十三条; 苏州 第二十五条)."""
    day = mc.event.date
    enrolment = mc.history.enrolment_on(day)
    if enrolment is None or enrolment.scheme != "employee":
        where = "not enrolled" if enrolment is None else "enrolled in the resident scheme"
        raise _NotEligible("coverage", f"{where} on {day}: the allowance is a benefit of the employee scheme's 生育保险", view.clause("maternity.entitlement"))
    answer = coverage_on(mc.history, day, policy)
    if answer.covered:
        out.checks.append(Check("coverage", True, f"covered on {day} as {MODES.get(enrolment.mode, enrolment.mode)}", answer.clause))
    elif answer.costs_borne_by == "employer":
        # the employer's arrears: it owes the benefits the fund would have paid (readings M11)
        out.paid_by = "employer"
        out.checks.append(Check("coverage", True, f"benefits suspended on {day} for the employer's arrears ({answer.reason}): the employer pays the allowance", answer.clause))
    else:
        raise _NotEligible("coverage", f"not covered on {day}: {answer.reason}", answer.clause)
    return enrolment


# ---------------------------------------------------------------------- entitlement


@dataclass(frozen=True)
class _Entitled:
    """The entitlement entry that decided: paid to whom, on which base, and its clause."""

    paid_to: str
    on_request: str | None
    base: str
    clause: str


def _entitlement(view: PolicyAt, mc: MaternityClaim, mode: str, out: Assessment) -> _Entitled:
    """Who receives the allowance: the claimant's circumstances first, then her way of
    enrolment on the event date (舟山 第五十条: 按生育当月参保情况判断)."""
    record = view.require("maternity.entitlement")
    keys = [c for c in CIRCUMSTANCES if getattr(mc.claim, c)] + [mode]
    for key in keys:
        entry = record.get(key)
        if entry is None or entry.has("modes") and mode not in entry.words("modes", allowed=MODES):
            continue
        label = CIRCUMSTANCES.get(key) or MODES.get(key, key)
        paid_to = entry.word("paid_to", allowed=("employer", "person", "none"))
        if paid_to == "none":
            raise _NotEligible("entitlement", f"{label}: no maternity allowance", entry.clause)
        base = entry.word("base", allowed=("employer_average", "own_average"))
        on_request = entry.text("on_request")
        out.checks.append(Check("entitlement", True, f"{label}: paid to the {paid_to}", entry.clause))
        return _Entitled(paid_to, on_request, base, entry.clause)
    raise _NotEligible("entitlement", f"{MODES.get(mode, mode)}: not among those the text grants the allowance to", record.clause)


# ---------------------------------------------------------------------- days


def _days(view: PolicyAt, mc: MaternityClaim, out: Assessment) -> tuple[list[DayPart], str]:
    """The allowance days by component (each citing its parameter), or the leave actually
    taken where the city says so; and the full clause they come from."""
    event = mc.event
    rule = view.record(f"maternity.{event.type}_days")
    what = {"birth": "a birth", "miscarriage": "a termination of pregnancy", "procedure": "a family-planning procedure"}[event.type]
    if rule is None:
        raise _NotEligible("days", f"the text grants no allowance days for {what}", view.clause("maternity.birth_days"))
    value = rule.value()
    if value == STATED:
        if event.leave_days is None:
            raise mc.error(f"{view.city} pays the leave actually taken ({rule.clause}): state event.leave_days")
        return [DayPart("leave actually taken, as stated", event.leave_days, rule.clause)], rule.clause
    if not isinstance(value, dict):
        raise rule.error("", f"`{STATED}` or a record of days")
    clause = rule.clause_at()
    if event.leave_days is not None:
        raise mc.error(f"{view.city}'s text fixes the days ({clause}); event.leave_days is only for a city that pays the leave actually taken")
    # each component cites the parameter's own clause (rule.clause)
    parts = {"birth": _birth_days, "miscarriage": _miscarriage_days, "procedure": _procedure_days}[event.type](view, mc, rule, out)
    if not parts or sum(p.days for p in parts) == 0:
        raise _NotEligible("days", f"no allowance days for {what} as claimed", clause)
    return parts, clause


def _birth_days(view: PolicyAt, mc: MaternityClaim, rule: Record, out: Assessment) -> list[DayPart]:
    """产假: a base, the extended leave by the child's order for a birth under the law, more for
    a difficult birth and for each baby beyond the first (杭州细则 五, 随州 第二十八条, 舟山 第四十九条)."""
    event, clause = mc.event, rule.clause
    rule.check(allowed={"base", "child_order", "difficult", "per_extra_baby"})
    parts = []
    if rule.has("base"):
        parts.append(DayPart("产假 maternity leave", rule.whole("base"), clause))
    if rule.has("child_order"):
        parts += _child_order_days(view, mc, rule, out)
    if event.difficult:
        if rule.has("difficult"):
            parts.append(DayPart("难产 difficult birth", rule.whole("difficult"), clause))
        else:
            out.notes.append(f"no extra days for a difficult birth in {view.city}'s text")
    if event.babies > 1:
        if rule.has("per_extra_baby"):
            per = rule.whole("per_extra_baby")
            parts.append(DayPart(f"多胞胎 {event.babies - 1} more {'baby' if event.babies == 2 else 'babies'} × {per}", per * (event.babies - 1), clause))
        else:
            out.notes.append(f"no extra days for a multiple birth in {view.city}'s text")
    return parts


def _child_order_days(view: PolicyAt, mc: MaternityClaim, rule: Record, out: Assessment) -> list[DayPart]:
    event, clause = mc.event, rule.clause
    orders = rule.sub("child_order")  # a blank is refused by name before anything else
    if not event.lawful:
        out.notes.append("not a birth under the law (event.lawful = false): no days by the child's order")
        return []
    if event.child_order is None:
        raise mc.error(f"{view.city}'s days depend on the child's order ({clause}): state event.child_order")
    ordinal = ORDINALS.get(event.child_order, f"#{event.child_order}")
    for key in orders.keys():
        if ordinal in (k.strip() for k in key.split(",")):
            return [DayPart(f"by the child's order: {ordinal} child", orders.whole(key), clause)]
    out.notes.append(f"the text gives no days by the child's order for a {ordinal} child")
    return []


def _miscarriage_days(view: PolicyAt, mc: MaternityClaim, rule: Record, out: Assessment) -> list[DayPart]:
    """Bands of completed months of pregnancy, in order: the first whose ``below_months``
    exceeds the months applies (杭州细则 五, 随州 第二十八条, 舟山 第四十九条)."""
    months = mc.event.pregnancy_months
    assert months is not None
    for key, band in rule.subs():
        band.check(allowed={"below_months", "days"})
        below = band.whole("below_months") if band.has("below_months") else None
        if below is None or months < below:
            limit = f"under {below} months" if below is not None else "the last band"
            return [DayPart(f"终止妊娠 at {months} completed months ({key}: {limit})", band.whole("days"), rule.clause)]
    raise rule.error("", "the last band must have no `below_months`")


def _procedure_days(view: PolicyAt, mc: MaternityClaim, rule: Record, out: Assessment) -> list[DayPart]:
    """计划生育手术: days per procedure (杭州细则 五, 随州 第二十八条)."""
    procedure = mc.event.procedure
    assert procedure is not None
    rule.check(allowed=PROCEDURES)
    label = PROCEDURES[procedure][0]
    if not rule.has(procedure):
        raise _NotEligible("days", f"the text grants no allowance days for {label} ({procedure})", rule.clause)
    return [DayPart(f"{label} {procedure}", rule.whole(procedure), rule.clause)]


# ---------------------------------------------------------------------- nutrition subsidy


def _nutrition_subsidy(view: PolicyAt, event: MaternityEvent) -> tuple[Decimal, str] | None:
    """一次性营养补助 for a birth or a late termination (苏州 第二十六条)."""
    rule = view.record("maternity.nutrition_subsidy")
    if rule is None or event.type == "procedure":
        return None
    if event.type == "miscarriage":
        least = rule.whole("min_pregnancy_months")
        if event.pregnancy_months is None or event.pregnancy_months < least:
            return None
    return round_fen(rule.number("amount")), rule.clause_at()


# ---------------------------------------------------------------------- the base


def _monthly_base(view: PolicyAt, mc: MaternityClaim, entitled: _Entitled, enrolment: Enrolment) -> MonthlyBase:
    """The monthly base (the employer's average, or her own) and the days per month."""
    per_month = _days_per_month(view)
    if entitled.base == "own_average":
        monthly, source = _own_average(mc)
        return MonthlyBase(monthly, per_month, source, entitled.clause)
    employer = enrolment.employer
    if employer is None:
        raise mc.error(f"the {enrolment.mode} enrolment on {mc.event.date} names no employer, whose average base the allowance needs")
    facts = mc.claim.employer
    if facts is not None and facts.id is not None and facts.id != employer:
        raise mc.error(f"employer.id {facts.id!r} is not the employer of the enrolment on {mc.event.date} ({employer!r})")
    return _employer_average(view, mc, employer, per_month)


def _days_per_month(view: PolicyAt) -> int:
    """The divisor (``maternity.days_per_month``, a count): a whole number of days, not 0."""
    rec = view.require("maternity.days_per_month", "count")
    days = rec.value()
    if not isinstance(days, Decimal) or days != days.to_integral_value() or days <= 0:
        raise rec.error("", f"{days!r} is not a whole number of days above 0")
    return int(days)


def _own_average(mc: MaternityClaim) -> tuple[Decimal, str]:
    """Her own average monthly base of last year, weighted by months (杭州细则 五 按全年缴费基数
    加权平均; 嘉兴 (四十二)2 and 舟山 第五十条 read the same way, readings M2)."""
    if mc.claim.last_year_base is not None:
        return mc.claim.last_year_base, "her last-year monthly base, as stated by the claim"
    year = mc.event.date.year - 1
    bases: dict[str, Decimal] = {}
    for c in mc.history.contributions_of("employee"):
        if c.month.startswith(f"{year}-") and c.base is not None and c.kind in ("regular", "back_payment"):
            bases[c.month] = c.base
    if not bases:
        raise mc.error(f"no contribution base recorded for {year}, the year before the event: state last_year_base")
    total = sum(bases.values(), Decimal(0))
    return total / len(bases), f"her {year} bases weighted by month: {fmt(total)} ÷ {len(bases)} months"


def _employer_average(view: PolicyAt, mc: MaternityClaim, employer: str, per_month: int) -> MonthlyBase:
    """The employer's average monthly base: as stated, or from its records by the city's rule
    (``employer_base``), with the rule for a new employer."""
    facts = mc.claim.employer
    name = "maternity.employer_base"
    if facts is not None and facts.average_base is not None:
        return MonthlyBase(facts.average_base, per_month, f"employer {employer}'s average monthly base, as stated by the claim", view.clause(name))
    if facts is None or not facts.records:
        raise mc.error("a unit employee's allowance needs the employer's average monthly base: state employer.average_base or employer.records")
    rule = view.require(name)
    records = sorted(facts.records, key=lambda r: r.month)
    year = mc.event.date.year
    last_year = [r for r in records if r.first_day.year == year - 1]
    over = rule.word("average_over", allowed=AVERAGES)
    clause = rule.clause_at()
    new = rule.get("new_employer")
    if new is not None:
        when = new.word("when", allowed=("no_last_year_records", "last_year_incomplete"))
        if (not last_year) if when == "no_last_year_records" else len(last_year) < 12:
            over = new.word("average_over", allowed=AVERAGES)
            clause = new.clause
            if over == "first_full_year" and len(_first_full_year(records)) < 12:
                return _provisional(mc, new, employer, per_month)
    chosen, what = _records_for(over, records, year)
    if not chosen:
        raise mc.error(f"employer {employer} has no records for {what} ({clause}): state employer.average_base")
    total = sum((r.base_total for r in chosen), Decimal(0))
    people = sum(r.employees for r in chosen)
    source = f"employer {employer}, {what}: {fmt(total)} ÷ {people} insured employee-months"
    return MonthlyBase(total / people, per_month, source, clause)


#: How an employer's average is taken from its monthly records.
AVERAGES = ("last_year", "last_year_december", "event_year", "first_full_year")


def _records_for(over: str, records: list[EmployerMonth], year: int) -> tuple[list[EmployerMonth], str]:
    if over == "last_year":
        return [r for r in records if r.first_day.year == year - 1], f"{year - 1}"
    if over == "last_year_december":
        return [r for r in records if r.month == f"{year - 1}-12"], f"December {year - 1}"
    if over == "event_year":
        return [r for r in records if r.first_day.year == year], f"{year} (a new employer)"
    first = _first_full_year(records)
    span = f"its first full year {first[0].month}…{first[-1].month}" if first else "its first full year"
    return first, span


def _first_full_year(records: list[EmployerMonth]) -> list[EmployerMonth]:
    """The employer's first twelve continuous months of records (fewer if it has not had them)."""
    run: list[EmployerMonth] = []
    for r in records:
        if run and r.first_day != add_months(run[-1].first_day, 1):
            break
        run.append(r)
        if len(run) == 12:
            break
    return run


def _provisional(mc: MaternityClaim, new: Record, employer: str, per_month: int) -> MonthlyBase:
    """Advanced at the year's minimum base until the employer's first full year is known (杭州细则 五)."""
    new.word("until_then", allowed=("minimum_base",))  # the only way a text advances it
    clause = new.clause
    if mc.claim.minimum_base is None:
        raise mc.error(f"employer {employer}'s records show less than a full year of contributions: the allowance is advanced at the {mc.event.date.year} minimum base ({clause}): state minimum_base")
    source = f"the {mc.event.date.year} minimum contribution base, advanced until employer {employer} has contributed a full year, then topped up"
    return MonthlyBase(mc.claim.minimum_base, per_month, source, clause, provisional=True)


# ---------------------------------------------------------------------- continuity


def _continuity(view: PolicyAt, mc: MaternityClaim, out: Assessment) -> None:
    """连续缴费: the run of continuous fully paid months counted to the event, the month before
    it or the claim; when short, paid later (deferred) or not at all (嘉兴 (四十一), 杭州办法 五,
    随州 第三十三条, 舟山 第四十八条)."""
    rule = view.record("maternity.qualifying")
    if rule is None:
        return
    needed = rule.whole("months")
    if needed == 0:
        return
    counted_to = rule.word("counted_to", allowed=("event_month", "month_before_event", "claim_month"))
    if_short = rule.word("if_short", allowed=("deferred", "not_eligible"))
    clause = rule.clause_at()
    event_month = first_of_month(mc.event.date)
    anchor = {
        "event_month": event_month,
        "month_before_event": add_months(event_month, -1),
        "claim_month": first_of_month(mc.claim_date),
    }[counted_to]
    paid = _settled_months(mc.history)
    start, end = _run_to(paid, anchor, earliest=event_month)
    reached = add_months(start, needed - 1)  # the month the last needed one is paid
    have = months_between(start, end) + 1 if end else 0
    counted = f"{have} continuous months" + (f" {start:%Y-%m}…{end:%Y-%m}" if end else "") + f" counted to {anchor:%Y-%m}"
    if end is not None and reached <= end:
        out.checks.append(Check("continuity", True, f"{counted}: {needed} needed", clause))
        return
    if if_short == "not_eligible":
        begins = add_months(reached, 1) if counted_to == "month_before_event" else reached
        raise _NotEligible("continuity", f"{counted}, {needed} needed: benefits start {begins:%Y-%m} at the earliest", clause)
    last = _run_from(paid, end or start)
    if last is not None and last >= reached and reached <= first_of_month(mc.claim_date):
        out.qualifies_from = reached
        out.checks.append(Check("continuity", True, f"{counted}; {needed} reached {reached:%Y-%m}: paid retroactively (回溯支付)", clause))
        return
    out.deferred_until = reached
    out.checks.append(Check("continuity", False, f"{counted}, {needed} needed: deferred until {reached:%Y-%m} if contributions continue", clause))


def _settled_months(history: History) -> set[dt.date]:
    """Months of the employee scheme with a contribution paid in full (back-payments too)."""
    return {c.first_day for c in history.contributions_of("employee") if c.kind in ("regular", "back_payment") and c.settled}


def _run_to(paid: set[dt.date], anchor: dt.date, earliest: dt.date) -> tuple[dt.date, dt.date | None]:
    """The run of continuous paid months ending at ``anchor`` (or at the month before, while
    the anchor's own month is not yet paid): ``(first, last)``. Without one, ``(the first
    month a new run could start, None)`` — the anchor, and never before the event's month."""
    end = anchor if anchor in paid else add_months(anchor, -1)
    if end not in paid:
        return max(anchor, earliest), None
    start = end
    while add_months(start, -1) in paid:
        start = add_months(start, -1)
    return start, end


def _run_from(paid: set[dt.date], month: dt.date) -> dt.date | None:
    """The last month of the continuous run of paid months through ``month``."""
    if month not in paid:
        return None
    while add_months(month, 1) in paid:
        month = add_months(month, 1)
    return month


# ---------------------------------------------------------------------- payee and deadline


def _payee(mc: MaternityClaim, entitled: _Entitled, enrolment: Enrolment) -> Payee:
    """Who the fund pays: the employer (for the wages of the leave) or the person; 杭州's unit
    employee may ask for her own account (细则 五)."""
    person = mc.history.person.id
    if entitled.paid_to == "person":
        return Payee("person", person, entitled.clause)
    if mc.claim.pay_to_person:
        if entitled.on_request != "person":
            raise mc.error(f"pay_to_person: the text pays a unit employee's allowance to the employer ({entitled.clause})")
        return Payee("person", person, entitled.clause)
    assert enrolment.employer is not None
    return Payee("employer", enrolment.employer, entitled.clause)


def _claim_deadline(view: PolicyAt, mc: MaternityClaim, out: Assessment) -> None:
    """申领期限 — by 31 December of the N-th year after the event, in principle (杭州细则 五)."""
    rule = view.record("maternity.claim_deadline")
    if rule is None:
        return
    years = rule.whole("years_after_event")
    out.claim_by = dt.date(mc.event.date.year + years, 12, 31)
    if mc.claim_date > out.claim_by:
        out.notes.append(f"claimed {mc.claim_date}, after {out.claim_by} ({rule.clause_at()}): late in principle")


__all__ = ["Assessment", "Claim", "MaternityClaim", "MaternityEvent", "assess", "parse_claim_text"]
