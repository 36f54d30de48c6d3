"""Coverage windows: is a person covered on a date, under what, since when — and if not,
why and from when.

The answer is computed from the person's history and the city's ``coverage/*`` policy:

- ``benefit_start``  when benefits start after registration, by way of enrolment
                     (单位职工, 灵活就业, 失业, newborns, special groups, scheme switches);
- ``resident_year``  the residents' annual cycle, mid-year enrolment, waiting periods;
- ``arrears``        suspension for unpaid months, the grace within which a back-payment
                     restores benefits retroactively, who bears costs meanwhile, and when
                     benefits return after a late back-payment or an interruption;
- ``retirement``     the retirees' window for uninterrupted benefits;
- ``imprisonment``   suspension while imprisoned.

The history is taken as recorded: a back-payment made after the date asked about still
restores that date retroactively when the rules say so (the answer says so too).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from yibao.errors import CaseError
from yibao.lifecycle.dates import add_months, natural_month
from yibao.lifecycle.history import Contribution, Enrolment, History
from yibao.lifecycle.policy_view import PolicyAt, Record
from yibao.policy.loader import CityPolicy, load_city

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Coverage:
    """The answer for one date."""

    date: dt.date
    covered: bool
    reason: str
    clause: str
    scheme: str | None = None
    category: str | None = None
    since: dt.date | None = None
    resumes: dt.date | None = None
    costs_borne_by: str | None = None  # while not covered: "person", "employer"; None = refused
    account_usable: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        d = lambda x: x.isoformat() if x else None  # noqa: E731
        return {
            "date": d(self.date),
            "covered": self.covered,
            "scheme": self.scheme,
            "category": self.category,
            "since": d(self.since),
            "resumes": d(self.resumes),
            "costs_borne_by": self.costs_borne_by,
            "account_usable": self.account_usable,
            "reason": self.reason,
            "clause": self.clause,
            "notes": list(self.notes),
        }


def coverage_on(history: History, day: dt.date, policy: CityPolicy | None = None) -> Coverage:
    """Coverage on ``day`` from the whole recorded history."""
    policy = policy or load_city(history.city)
    view = PolicyAt(policy, day, f"coverage on {day}")
    ended = _ended(history, day)
    if ended:
        return ended
    enrolment = history.enrolment_on(day) or _newborn_enrolment(history, day)
    if enrolment is None:
        return _not_enrolled(history, day)
    try:
        start, start_clause, start_notes, account_in_wait = _benefit_start(history, enrolment, day, view)
    except _NoBenefitYear as exc:
        return Coverage(day, False, str(exc), exc.clause, enrolment.scheme, enrolment.category, costs_borne_by="person")
    base = dict(scheme=enrolment.scheme, category=enrolment.category)
    if day < start:
        return Coverage(
            day, False, f"waiting period: benefits start {start}", start_clause, **base,
            resumes=start, costs_borne_by="person", account_usable=account_in_wait, notes=tuple(start_notes),
        )
    since = start
    notes = list(start_notes)
    if enrolment.scheme == "employee" and enrolment.mode in ("unit", "flexible", "unemployed"):
        arrears = _arrears(history, enrolment, day, view)
        if arrears is not None:
            if not arrears.covered:
                return Coverage(day, False, arrears.reason, arrears.clause, **base, resumes=arrears.resumes,
                                costs_borne_by=arrears.costs_borne_by, account_usable=arrears.account_usable, notes=tuple(notes))
            since = max(since, arrears.since or since)
            notes += arrears.notes
    jailed = _imprisoned(history, day, view)
    if jailed:
        return Coverage(day, False, jailed[0], jailed[1], **base, resumes=jailed[2], costs_borne_by="person")
    return Coverage(day, True, "covered", start_clause, **base, since=since, notes=tuple(notes))


def _rule(view: PolicyAt, name: str, key: str) -> Record | None:
    """The entry ``key`` of ``coverage.<name>``; ``None`` when the text has neither."""
    record = view.record(f"coverage.{name}")
    return record.get(key) if record is not None else None


# ------------------------------------------------------------------ ends and gaps


def _ended(history: History, day: dt.date) -> Coverage | None:
    for event in history.events_of("death", "emigration"):
        if event.date <= day:
            what = "died" if event.type == "death" else "settled abroad"
            return Coverage(day, False, f"the person {what} on {event.date}; insurance ended", "参保关系终止")
    return None


def _newborn_enrolment(history: History, day: dt.date) -> Enrolment | None:
    """A newborn registered after birth: the enrolment may reach back to the birth date."""
    birth = history.person.birth_date
    return next((e for e in history.enrolments if e.reason == "newborn" and birth <= day < e.start), None)


def _not_enrolled(history: History, day: dt.date) -> Coverage:
    later = sorted((e for e in history.enrolments if e.start > day), key=lambda e: e.start)
    earlier = sorted((e for e in history.enrolments if e.end and e.end < day), key=lambda e: e.end)
    if earlier:
        why = f"not enrolled on {day}: the last enrolment ({earlier[-1].scheme}, {earlier[-1].category}) ended {earlier[-1].end}"
    else:
        why = f"not enrolled on {day}"
    if later:
        why += f"; the next enrolment starts {later[0].start}"
    return Coverage(day, False, why, "参保登记")


# ------------------------------------------------------------------ benefit start


class _NoBenefitYear(Exception):
    def __init__(self, message: str, clause: str):
        super().__init__(message)
        self.clause = clause


def _apply_rule(entry: Record, origin: dt.date) -> dt.date:
    """`month: N` → the N-th natural month counting ``origin``'s month; `day: next|same`."""
    if entry.has("month"):
        return natural_month(origin, entry.whole("month"))
    rule = entry.word("day", allowed=("next", "same"), default="same")
    return origin + ONE_DAY if rule == "next" else origin


def _benefit_start(history: History, e: Enrolment, day: dt.date, view: PolicyAt) -> tuple[dt.date, str, list[str], bool]:
    """When this enrolment's benefits start (for residents: in ``day``'s year)."""
    previous = history.previous_enrolment(e)
    gap_days = (e.start - previous.end).days - 1 if previous and previous.end else None
    if e.scheme == "resident":
        return _resident_start(history, e, day, view, previous, gap_days)
    if e.mode == "retired":
        return _retiree_start(history, e, view, previous)
    # continuity: a new employee enrolment right after another keeps benefits running
    if previous and previous.scheme == "employee" and gap_days is not None and gap_days <= 0:
        start, clause, notes, account = _benefit_start(history, previous, previous.end, view)
        return start, clause, notes + [f"continuous with the {previous.mode} enrolment from {previous.start}"], account
    if previous and previous.scheme == "resident" and gap_days is not None:
        switch = _switch_rule(view, gap_days=gap_days)
        if switch:
            entry, key = switch
            return _apply_rule(entry, e.start), entry.clause, [f"scheme switch ({key})"], False
    entry = _rule(view, "benefit_start", e.mode)
    if entry is None:
        raise CaseError(f"{view.city}: coverage.benefit_start has no rule for a {e.mode} enrolment")
    start = _apply_rule(entry, e.start)
    account = bool(entry.raw("account_usable")) if e.account == "with_account" else False
    return start, entry.clause, [], account


def _switch_rule(view: PolicyAt, *, gap_days: int) -> tuple[Record, str] | None:
    """The rule for a switch from the resident scheme to the employee scheme after ``gap_days``."""
    record = view.record("coverage.benefit_start")
    if record is None:
        return None
    if gap_days <= 0 and record.has("resident_to_employee"):
        return record.sub("resident_to_employee"), "resident_to_employee"
    short = record.get("switch_gap_short")
    if short and gap_days <= 31 * short.whole("within_months"):
        return short, "switch_gap_short"
    if record.has("switch_gap_long_to_employee"):
        return record.sub("switch_gap_long_to_employee"), "switch_gap_long_to_employee"
    return None


def _retiree_start(history: History, e: Enrolment, view: PolicyAt, previous: Enrolment | None) -> tuple[dt.date, str, list[str], bool]:
    rule = view.record("coverage.retirement")
    event = next((ev for ev in history.events_of("retirement") if ev.date >= e.start - dt.timedelta(days=31)), None)
    if rule is None or event is None or previous is None or previous.scheme != "employee":
        return e.start, view.clause("coverage.retirement") or "退休", [], False
    window = rule.whole("window_months")
    approved = event.approved or event.date
    if event.date <= add_months(approved, window):
        start, clause, notes, _ = _benefit_start(history, previous, previous.end or e.start, view)
        return start, rule.clause_at(), notes + [f"retired within {window} months of approval: benefits continue"], False
    late = natural_month(event.date, rule.whole("late_month"))
    return late, rule.clause_at(), [f"retirement registered more than {window} months after approval"], False


def _premium_for(history: History, year: int) -> Contribution | None:
    paid = [c for c in history.contributions_of("resident") if c.month == f"{year}-01" and c.paid > 0]
    return min(paid, key=lambda c: c.paid_date) if paid else None


def _resident_start(history: History, e: Enrolment, day: dt.date, view: PolicyAt, previous: Enrolment | None, gap_days: int | None) -> tuple[dt.date, str, list[str], bool]:
    year = day.year
    # newborns: from birth when enrolled in time
    birth = history.person.birth_date
    newborn = _rule(view, "benefit_start", "newborn") if e.reason == "newborn" and birth.year == year else None
    if newborn and e.start <= add_months(birth, newborn.whole("within_months")):
        return birth, newborn.clause, ["newborn enrolled in time: covered from birth"], False
    # university freshmen: from a fixed day of the entry year, on next year's premium (苏州 第二十九条)
    student = _rule(view, "benefit_start", "student") if e.reason == "new_student" and e.start.year == year else None
    if student and _premium_for(history, year + 1) is not None:
        return dt.date(year, student.whole("month_of_year"), 1), student.clause, ["university freshman"], False
    premium = _premium_for(history, year)
    pay_by = _rule(view, "resident_year", "pay_by")
    if premium is None:
        clause = pay_by.clause if pay_by else view.clause("coverage.resident_year")
        raise _NoBenefitYear(f"no resident premium paid for {year}", clause)
    paid = premium.paid_date
    assert paid is not None
    if pay_by is not None:
        deadline_month = pay_by.whole("month")
        deadline = dt.date(year - 1 if deadline_month == 12 else year, deadline_month, pay_by.whole("day"))
        if paid <= deadline:
            return dt.date(year, 1, 1), pay_by.clause, [f"premium for {year} paid {paid}, in the collection period"], False
    # paid during the year
    if previous is not None and previous.scheme == "employee" and gap_days is not None:
        rule = _rule(view, "benefit_start", "employee_to_resident")
        if rule is not None:
            within = rule.whole("within_months") if rule.has("within_months") else 0
            if paid <= add_months(previous.end, within):
                return _apply_rule(rule, paid), rule.clause, ["switch from the employee scheme"], False
            if rule.has("late_month"):
                return natural_month(paid, rule.whole("late_month")), rule.clause, ["switch from the employee scheme after the window: waiting period"], False
    ended = _protection_end(history, e)
    other = _rule(view, "benefit_start", "other_protection_to_resident") if ended else None
    if other and ended:
        if paid <= add_months(ended, other.whole("within_months")):
            return _apply_rule(other, paid), other.clause, [f"other medical protection ended {ended}"], False
        return natural_month(paid, other.whole("late_month")), other.clause, [f"other medical protection ended {ended}, more than the window before: waiting period"], False
    special_group = e.reason == "special_group" or bool(history.events_of("assistance"))
    special = _rule(view, "benefit_start", "resident_special_group") if special_group else None
    if special:
        return _apply_rule(special, paid), special.clause, ["special group enrolled mid-year"], False
    cont = _rule(view, "benefit_start", "resident_continuation")
    if cont and e.reason in cont.words("reasons", allowed=CONTINUATION_REASONS):
        return _apply_rule(cont, paid), cont.clause, ["continuation enrolment"], False
    waiting = _rule(view, "resident_year", "waiting")
    if waiting is not None:
        months, notes = _waiting_months(history, year, waiting)
        return add_months(paid, months), waiting.clause, notes, False
    mid = _rule(view, "resident_year", "mid_year")
    if mid is None:
        raise _NoBenefitYear(f"premium for {year} paid {paid}, after the collection period, and no mid-year rule applies", view.clause("coverage.resident_year"))
    return _apply_rule(mid, paid), mid.clause, [f"premium for {year} paid {paid}, mid-year"], False


#: Reasons a resident enrolment may give for joining mid-year (嘉兴 (二十三), 杭州细则 二).
CONTINUATION_REASONS = ("continuation", "new_student", "graduate", "returned_soldier", "marriage_migrant", "released", "new_hukou")


def _protection_end(history: History, e: Enrolment) -> dt.date | None:
    """The end of another medical protection just before this enrolment (随州 第四十一条)."""
    ends = [ev.date for ev in history.events_of("protection_end", "release") if ev.date <= e.start]
    return ends[-1] if ends else None


def _waiting_months(history: History, year: int, waiting: Record) -> tuple[int, list[str]]:
    """杭州: fixed 3 months, +1 for each extra year without insurance, repairable by back-payment."""
    fixed = waiting.whole("fixed_months")
    per_gap = waiting.whole("per_gap_year")
    gaps = 0
    y = year - 1
    while y >= history.person.birth_date.year and not _insured_in(history, y):
        gaps += 1
        y -= 1
    repaired = sum(1 for c in history.contributions_of("resident") if c.kind == "back_payment" and c.paid > 0 and int(c.month[:4]) in range(year - gaps, year))
    variable = max(0, gaps * per_gap - repaired)
    if gaps >= waiting.whole("repair_floor_after_gap_years") and repaired:
        variable = max(variable, waiting.whole("repair_floor_months") - fixed)
    return fixed + variable, [f"waiting {fixed} + {variable} months ({gaps} uninsured years, {repaired} repaired by back-payment)"]


def _insured_in(history: History, year: int) -> bool:
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    if any(c.month == f"{year}-01" and c.paid > 0 and c.kind == "premium" for c in history.contributions_of("resident")):
        return True
    return any(e.scheme == "employee" and e.start <= last and (e.end is None or e.end >= first) for e in history.enrolments)


# ------------------------------------------------------------------ arrears


@dataclass(frozen=True)
class _ArrearsAnswer:
    covered: bool
    reason: str
    clause: str
    since: dt.date | None = None
    resumes: dt.date | None = None
    costs_borne_by: str | None = None
    account_usable: bool = False
    notes: tuple[str, ...] = ()


def _arrears(history: History, e: Enrolment, day: dt.date, view: PolicyAt) -> _ArrearsAnswer | None:
    """Suspension for unpaid months up to ``day``; ``None`` when no rule applies."""
    rule = _rule(view, "arrears", e.mode if e.mode != "unemployed" else "unit")
    if rule is None:
        return None
    clause = rule.clause
    # every month from the enrolment's to the one before ``day``'s (the month of ``day`` itself
    # is not yet late), as month numbers: a history has hundreds of months and few are late
    spells = _spells(_month_number(e.start), _month_number(day), _paid_dates(history))
    since: dt.date | None = None
    notes: list[str] = []
    for first, length, cured in spells:
        result = _spell(first, length, cured, day, rule, view, history, e)
        if result is None:
            continue
        if not result.covered:
            return _ArrearsAnswer(False, result.reason, clause, resumes=result.resumes, costs_borne_by=result.costs_borne_by, account_usable=result.account_usable)
        if result.since:
            since = result.since
        notes += result.notes
    return _ArrearsAnswer(True, "covered", clause, since=since, notes=tuple(notes))


def _month_number(day: dt.date) -> int:
    """The month of ``day`` counted from year 0 (consecutive months differ by one)."""
    return day.year * 12 + day.month - 1


def _paid_dates(history: History) -> dict[int, dt.date]:
    """Month number → the date its employee contribution was paid (the latest payment for it)."""
    out: dict[int, dt.date] = {}
    for c in history.contributions:
        if c.scheme == "employee" and c.paid > 0 and c.paid_date is not None:
            month = int(c.month[:4]) * 12 + int(c.month[5:]) - 1
            out[month] = max(out.get(month, c.paid_date), c.paid_date)
    return out


def _spells(first: int, end: int, paid_on: dict[int, dt.date]) -> list[tuple[dt.date, int, dt.date | None]]:
    """Runs of the months ``first`` … ``end`` − 1 not paid by their month's end: (first month,
    length, date all were paid)."""
    spells: list[tuple[dt.date, int, dt.date | None]] = []
    run: list[int] = []
    for month in range(first, end):
        paid = paid_on.get(month)
        if paid is None or _month_number(paid) > month:  # unpaid, or paid after the month's last day
            run.append(month)
        elif run:
            spells.append(_close(run, paid_on))
            run = []
    if run:
        spells.append(_close(run, paid_on))
    return spells


def _close(run: list[int], paid_on: dict[int, dt.date]) -> tuple[dt.date, int, dt.date | None]:
    dates = [paid_on.get(m) for m in run]
    cured = None if any(d is None for d in dates) else max(d for d in dates if d is not None)
    return dt.date(run[0] // 12, run[0] % 12 + 1, 1), len(run), cured


def _spell(first: dt.date, length: int, cured: dt.date | None, day: dt.date, rule: Record, view: PolicyAt, history: History, e: Enrolment) -> _ArrearsAnswer | None:
    if length < rule.whole("suspend_after"):
        return None
    suspend = natural_month(first, rule.whole("suspend_month"))
    if cured is not None and cured < suspend:
        return None  # paid before any suspension began
    if day < suspend:
        return None
    account = bool(rule.raw("account_usable"))
    grace = _grace_deadline(rule, first, suspend, history)
    if cured is not None and grace is not None and cured <= grace:
        note = f"months from {first:%Y-%m} back-paid on {cured} within the grace ({grace}): benefits restored retroactively"
        return _ArrearsAnswer(True, "covered", "", notes=(note,))
    borne = rule.word("late_costs")
    if cured is None:
        pending = f"; a back-payment by {grace} restores it retroactively" if grace and day <= grace else ""
        return _ArrearsAnswer(False, f"suspended from {suspend}: contributions unpaid since {first:%Y-%m}{pending}", "", costs_borne_by=borne, account_usable=account)
    restore = _restore_date(rule, length, cured, view, e)
    if day < restore:
        return _ArrearsAnswer(False, f"suspended from {suspend}: contributions unpaid since {first:%Y-%m}, back-paid {cured} after the grace; benefits return {restore}", "", resumes=restore, costs_borne_by=borne, account_usable=account)
    return _ArrearsAnswer(True, "covered", "", since=restore, notes=(f"suspended {suspend} – {restore - ONE_DAY} for arrears from {first:%Y-%m}",))


def _grace_deadline(rule: Record, first: dt.date, suspend: dt.date, history: History) -> dt.date | None:
    grace = rule.get("grace")
    if grace is None:
        return None
    if grace.has("days_after_order"):
        days = grace.whole("days_after_order")
        orders = [ev.date for ev in history.events_of("arrears_order") if ev.date >= first]
        start = orders[0] if orders else suspend  # readings R25: no order recorded → from the suspension
        return start + dt.timedelta(days=days)
    months = grace.whole("months")
    return add_months(first, months) - ONE_DAY


def _restore_date(rule: Record, length: int, cured: dt.date, view: PolicyAt, e: Enrolment) -> dt.date:
    if rule.has("reenrol_after") and length > rule.whole("reenrol_after"):
        entry = _rule(view, "benefit_start", e.mode)
        return _apply_rule(entry, cured) if entry else cured
    if rule.has("interruption_after") and length > rule.whole("interruption_after"):
        return natural_month(cured, rule.whole("interruption_restore_month"))
    return natural_month(cured, rule.whole("restore_month"))


# ------------------------------------------------------------------ imprisonment


def _imprisoned(history: History, day: dt.date, view: PolicyAt) -> tuple[str, str, dt.date | None] | None:
    rule = view.record("coverage.imprisonment")
    if rule is None:
        return None
    for event in history.events_of("imprisonment"):
        start = natural_month(event.date, rule.whole("suspend_month"))
        release = next((r.date for r in history.events_of("release") if r.date >= event.date), None)
        if start <= day and (release is None or day < release):
            return (f"imprisoned: benefits suspended from {start}", rule.clause, release)
    return None
