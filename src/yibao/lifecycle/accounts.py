"""The personal account (个人账户) as a ledger.

Every movement of money is an :class:`Entry` — a date, a sub-account (``current`` 当年 or
``history`` 历年), a signed amount, its kind, its clause, a memo and the fact it comes
from. Balances are never stored: :class:`Ledger` sums its entries.

:func:`build_ledger` derives the whole ledger from a person's history and the city's
policy, replaying in date order:

* ``opening`` balances (a recorded movement), if any — the ledger starts there;
* transfers in (``transfer_in`` events), monthly crediting (:mod:`.account_crediting`)
  and the premiums the account pays automatically every year;
* the recorded movements (``account_entries``: visits' account payments, premiums,
  家庭共济, clearing, inheritance, 杭州's deductible refund), each checked against the
  rules and the balances on its date;
* closings (``transfer_out`` and ``death`` events), which first offset a 当年 overdraft
  from 历年, then have the rest made good by the person or written off;
* year ends: interest, then the rollover of 当年 into 历年.

Nothing here reads or writes storage: the ledger is a pure function of its inputs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from yibao.errors import CaseError, MissingPolicyValue
from yibao.lifecycle.account_crediting import Credit, monthly_credits, stopped_on
from yibao.lifecycle.account_movements import (
    Clearing,
    DeductibleRefund,
    FamilyAid,
    Inheritance,
    Opening,
    PremiumPayment,
    PREMIUMS,
    SettlementPayment,
)
from yibao.lifecycle.account_rules import RELATIVE_CONDITIONS, SUB_NAMES, SUBS, AccountRules, Draw, RelativeRule
from yibao.lifecycle.history import Event, History, Relative
from yibao.lifecycle.person import Situation, latest_enrolment
from yibao.money import ZERO, fmt, percent, round_fen
from yibao.policy.loader import CityPolicy
from yibao.policy.selectors import Missing, resolve

KINDS = {
    "opening": "期初余额 balances brought in",
    "crediting": "月划入 monthly crediting",
    "interest": "利息 interest",
    "rollover": "年度结转 当年 → 历年",
    "settlement": "就医结算 a visit's account payment",
    "premium": "缴费 a premium paid from the account",
    "family_aid": "家庭共济 to a relative",
    "transfer_in": "转入 transferred in",
    "transfer_out": "转出 transferred out",
    "clearing": "清算/发还 paid out to the person",
    "inheritance": "继承 paid out to the heirs",
    "overdraft_offset": "透支冲抵 当年 overdraft covered by 历年",
    "make_good": "本人补足 overdraft made good by the person",
    "write_off": "核销 overdraft written off by the pooled fund",
    "deductible_refund": "起付标准退还 deductible refund",
}

# Within one day: opening, transfers in, crediting, automatic premiums, recorded movements,
# closings, then the year end.
_OPENING, _TRANSFER_IN, _CREDIT, _ANNUAL, _MOVEMENT, _CLOSING, _YEAR_END = range(7)


@dataclass(frozen=True)
class Entry:
    """One movement of money in one sub-account."""

    date: dt.date
    sub: str  # current | history
    amount: Decimal  # + into the account, − out of it
    kind: str
    clause: str
    memo: str
    source: str  # the fact it comes from: contributions[3], events[1], account_entries[0], year_end 2026 …
    ref: str | None = None  # a visit, a relative, a premium, an heir
    overdraft: bool = False  # this entry took 当年 below zero (a recorded overdraft)
    history_like: Decimal | None = None  # 嘉兴 (十五)2: part credited (+) or drawn (−) usable like 历年

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "date": self.date.isoformat(),
            "sub": self.sub,
            "amount": fmt(self.amount),
            "kind": self.kind,
            "clause": self.clause,
            "memo": self.memo,
            "source": self.source,
        }
        if self.ref is not None:
            out["ref"] = self.ref
        if self.overdraft:
            out["overdraft"] = True
        if self.history_like is not None:
            out["history_like"] = fmt(self.history_like)
        return out


@dataclass(frozen=True)
class Balances:
    current: Decimal = ZERO
    history: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.current + self.history

    def as_json(self) -> dict[str, str]:
        return {"current": fmt(self.current), "history": fmt(self.history), "total": fmt(self.total)}


@dataclass(frozen=True)
class Ledger:
    """A person's account: entries in order; every balance is their sum."""

    city: str
    person_id: str
    start: dt.date | None
    until: dt.date
    entries: tuple[Entry, ...] = ()

    def balances(self, on: dt.date | None = None) -> Balances:
        """The balances at the end of ``on`` (default: of the ledger)."""
        picked = [e for e in self.entries if on is None or e.date <= on]
        return Balances(_sum(picked, "current"), _sum(picked, "history"))

    def running(self) -> list[tuple[Entry, Balances]]:
        """Every entry with the balances right after it."""
        out, current, history = [], ZERO, ZERO
        for e in self.entries:
            current += e.amount if e.sub == "current" else ZERO
            history += e.amount if e.sub == "history" else ZERO
            out.append((e, Balances(current, history)))
        return out

    def from_source(self, *sources: str) -> list[Entry]:
        return [e for e in self.entries if e.source in sources]


def _sum(entries: list[Entry] | tuple[Entry, ...], sub: str) -> Decimal:
    return sum((e.amount for e in entries if e.sub == sub), ZERO)


# ------------------------------------------------------------------ building the ledger


def build_ledger(history: History, policy: CityPolicy, until: dt.date) -> Ledger:
    """The ledger of ``history``'s account up to the end of ``until``."""
    builder = _Builder(history, policy)
    start = builder.start()
    if start is None or until < start:
        return Ledger(history.city, history.person.id, start, until)
    for day, _, _, step in sorted(builder.steps(start, until), key=lambda s: s[:3]):
        builder.check_covered(day)
        step()
    return Ledger(history.city, history.person.id, start, until, tuple(builder.entries))


Step = tuple[dt.date, int, int, Callable[[], None]]


@dataclass
class _Builder:
    history: History
    policy: CityPolicy
    entries: list[Entry] = field(default_factory=list)
    closed: tuple[dt.date, str] | None = None  # the account was paid out: (when, how)
    undetermined_years: set[int] = field(default_factory=set)
    visits: dict[str, dt.date] = field(default_factory=dict)
    refunds: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rules = AccountRules(self.policy)
        deaths = self.history.events_of("death")
        self.death: Event | None = deaths[0] if deaths else None
        self.doc = self.policy.document

    # ------------------------------------------------------------ the timeline

    def start(self) -> dt.date | None:
        """The opening's date, else the first employee enrolment's (or transfer in's);
        ``None``: the person never had an account."""
        openings = [m for m in self.history.account_entries if isinstance(m, Opening)]
        if len(openings) > 1:
            raise CaseError(f"account_entries: {len(openings)} `opening` entries; an account opens once")
        if openings:
            return openings[0].date
        starts = [e.start for e in self.history.enrolments if e.scheme == "employee"]
        if not starts:
            if self.history.account_entries or self.history.events_of("transfer_in"):
                raise CaseError(f"{self.history.person.id} has no employee enrolment, hence no personal account (residents have none, G8)")
            return None
        first = min(starts + [e.date for e in self.history.events_of("transfer_in")])
        if self.doc.start is not None and first < self.doc.start:
            raise CaseError(
                f"the account of {self.history.person.id} starts on {first}, before {self.doc.name}'s policy "
                f"({self.doc.span()}): record its balances on a date within it (`yibao account open`)"
            )
        return first

    def steps(self, start: dt.date, until: dt.date) -> list[Step]:
        opening = any(isinstance(m, Opening) for m in self.history.account_entries)
        credits = monthly_credits(self.history, self.rules, start, until, not_before=start if opening else None)
        steps: list[Step] = [(c.date, _CREDIT, i, _bind(self.credit, c)) for i, c in enumerate(credits)]
        first_credit: dict[int, dt.date] = {}
        for c in credits:
            first_credit.setdefault(c.date.year, c.date)
        steps += [(day, _ANNUAL, 0, _bind(self.annual_premiums, year, day)) for year, day in first_credit.items()]
        for i, event in enumerate(self.history.events):
            if not (start <= event.date <= until):
                continue
            if event.type == "transfer_in":
                steps.append((event.date, _TRANSFER_IN, i, _bind(self.transfer_in, i, event)))
            elif event.type == "transfer_out":
                steps.append((event.date, _CLOSING, i, _bind(self.transfer_out, i, event)))
            elif event.type == "death":
                steps.append((event.date, _CLOSING, i, _bind(self.deceased, i, event)))
        for i, movement in enumerate(self.history.account_entries):
            if movement.date < start:
                raise CaseError(f"account_entries[{i}] ({movement.kind}, {movement.date}) is before the account's opening on {start}")
            if movement.date <= until:
                phase = _OPENING if isinstance(movement, Opening) else _MOVEMENT
                steps.append((movement.date, phase, i, _bind(self.movement, i, movement)))
        for year in range(start.year, until.year + 1):
            day = dt.date(year, 12, 31)
            if start <= day <= until:
                steps.append((day, _YEAR_END, 0, _bind(self.year_end, year, day)))
        return steps

    def check_covered(self, day: dt.date) -> None:
        if not self.doc.covers(day):
            raise CaseError(f"{day} is outside {self.doc.name}'s policy ({self.doc.title}, {self.doc.span()})")

    def situation(self, day: dt.date) -> Situation:
        """The member on ``day``, under the employee enrolment in force (or the last before it)."""
        enrolment = latest_enrolment(self.history, "employee", day)
        if enrolment is None:
            raise CaseError(f"{self.history.person.id} has no employee enrolment on or before {day}")
        return Situation(self.history, enrolment, day)

    # ------------------------------------------------------------ balances and postings

    def balance(self, sub: str) -> Decimal:
        return _sum(self.entries, sub)

    def post(self, day: dt.date, sub: str, amount: Decimal, kind: str, clause: str, memo: str, source: str, **extra: Any) -> None:
        if amount != 0:
            self.entries.append(Entry(day, sub, amount, kind, clause, memo, source, **extra))

    # ------------------------------------------------------------ derived from the history

    def credit(self, c: Credit) -> None:
        self.closed = None  # crediting means a (new) enrolment: the account is open
        self.post(c.date, "current", c.amount, "crediting", c.clause, c.memo, c.source, ref=c.month, history_like=c.history_like)
        if c.history_like_blank:
            self.undetermined_years.add(c.date.year)

    def annual_premiums(self, year: int, day: dt.date) -> None:
        """Premiums the account pays every year, at the year's first crediting (杭州 三、大病保险)."""
        for annual in self.rules.annual_premiums(self.situation(day)):
            use = f"the member's {PREMIUMS[annual.premium]} {year}"
            self.draw(day, round_fen(annual.amount), annual.draw, use, "premium", f"year {year}", annual.premium, overdraft_ok=True)

    def transfer_in(self, index: int, event: Event) -> None:
        """转入: the balance brought from the former pooling area (杭州细则: all into 历年)."""
        rule = self.rules.transfer(event.date)
        if event.balance is None:
            raise CaseError(f"events[{index}]: a transfer_in on {event.date} needs the `balance` transferred in")
        into = rule.word("into", allowed=SUBS)
        self.post(event.date, into, event.balance, "transfer_in", rule.clause, f"transferred in{_note(event.note)}", f"events[{index}]")

    def transfer_out(self, index: int, event: Event) -> None:
        """转出: costs settled first (every visit up to the day is posted), overdraft offset, then
        the actual balance leaves with the person."""
        rule = self.rules.transfer(event.date)
        self.close(event.date, "transfer_out", rule.clause, f"transferred out{_note(event.note)}", f"events[{index}]", deceased=False)

    def deceased(self, index: int, event: Event) -> None:
        """死亡: crediting stops; a 当年 overdraft is offset from 历年, the rest written off (杭州,
        舟山) or made good by the heirs (苏州). The balance then awaits inheritance."""
        self.settle_overdraft(event.date, f"events[{index}]", deceased=True)

    def year_end(self, year: int, day: dt.date) -> None:
        """Interest on each sub-account's year-end balance into 历年, then 当年 → 历年."""
        if self.is_closed(day):
            return
        interest = self.rules.interest(day)
        if interest is not None:
            into = interest.word("into", allowed=SUBS, default="history")
            bases = {sub: max(ZERO, self.balance(sub)) for sub in SUBS}  # both on the rollover day
            for sub, base in bases.items():
                if base > 0:
                    rate = interest.number(sub)
                    memo = f"{year}: {SUB_NAMES[sub]} {fmt(base)} × {_num(rate)}%"
                    self.post(day, into, round_fen(base * percent(rate)), "interest", interest.clause, memo, f"year_end {year}", ref=sub)
        rollover = self.rules.rollover(day)
        current = self.balance("current")
        if rollover is not None and current > 0:
            memo = f"{year}: 当年 balance {fmt(current)} carried into 历年"
            self.post(day, "current", -current, "rollover", rollover.clause, memo, f"year_end {year}")
            self.post(day, "history", current, "rollover", rollover.clause, memo, f"year_end {year}")

    # ------------------------------------------------------------ recorded movements

    def movement(self, index: int, m: Any) -> None:
        source = f"account_entries[{index}]"
        handler = {
            "opening": self.opening,
            "settlement": self.settlement,
            "premium": self.premium,
            "family_aid": self.family_aid,
            "clearing": self.clearing,
            "inheritance": self.inheritance,
            "deductible_refund": self.deductible_refund,
        }[m.kind]
        handler(m, source)

    def opening(self, m: Opening, source: str) -> None:
        memo = f"balances brought in{_note(m.note)}"
        self.post(m.date, "current", m.current, "opening", "", memo, source)
        self.post(m.date, "history", m.history, "opening", "", memo, source)

    def settlement(self, m: SettlementPayment, source: str) -> None:
        """A visit's account payment, as settled (`yibao account settle`)."""
        self.check_usable(m.date, f"visit {m.visit_id}")
        if m.visit_id in self.visits:
            raise CaseError(f"{source}: visit {m.visit_id} is already in the account (recorded on {self.visits[m.visit_id]})")
        self.visits[m.visit_id] = m.date
        clause = self.rules.clause("remaining_share", m.date, "G8")
        history = self.balance("history")
        if m.history > history:
            raise CaseError(f"{source}: visit {m.visit_id} on {m.date} pays {fmt(m.history)} from 历年 but 历年 holds {fmt(history)}")
        current_after = self.balance("current") - m.current
        overdraft = m.current > 0 and current_after < 0
        if overdraft and self.rules.overdraft(m.date) is None:
            raise CaseError(
                f"{source}: visit {m.visit_id} on {m.date} pays {fmt(m.current)} from 当年 but 当年 holds "
                f"{fmt(self.balance('current'))}, and {self.doc.name} has no overdraft (预设) rule"
            )
        memo = f"visit {m.visit_id}"
        if m.deductible is not None:
            memo += f"; deductible borne {fmt(m.deductible)}" + (f" ({m.pool})" if m.pool else "")
        self.post(m.date, "current", -m.current, "settlement", clause, memo, source, ref=m.visit_id, overdraft=overdraft)
        self.post(m.date, "history", -m.history, "settlement", clause, memo, source, ref=m.visit_id)

    def premium(self, m: PremiumPayment, source: str) -> None:
        """A premium for the member or a relative (大病/居民/长护/惠民保)."""
        self.check_usable(m.date, "a premium")
        name = PREMIUMS[m.premium]
        if m.for_ == "self":
            draw = self.rules.premium_for_self(m.date, m.premium)
            use = f"the member's own {name}"
        else:
            relative = self.relative(m.for_, source)
            draw, rule = self.rules.premium_for_relative(m.date, m.premium)
            self.qualifies(relative, rule, f"have a {name} premium paid")
            use = f"{name} of {relative.id} ({relative.relation})"
        self.draw(m.date, m.amount, draw, use, "premium", source, f"{m.for_}:{m.premium}", use_key="premium")

    def family_aid(self, m: FamilyAid, source: str) -> None:
        """家庭共济: the member's account pays for a relative."""
        self.check_usable(m.date, "family aid")
        relative = self.relative(m.relative, source)
        draw, rule = self.rules.family_aid(m.date)
        self.qualifies(relative, rule, "receive family aid (家庭共济)")
        use = f"家庭共济 to {relative.id} ({relative.relation})" + (f": {m.purpose}" if m.purpose else "")
        self.draw(m.date, m.amount, draw, use, "family_aid", source, relative.id, use_key="family_aid")

    def clearing(self, m: Clearing, source: str) -> None:
        """清算/发还 on application: settle costs, offset an overdraft, pay the balance out."""
        grounds, clause = self.rules.clearing(m.date)
        if m.ground not in grounds:
            listed = ", ".join(grounds) or "none"
            raise CaseError(f"{source}: {self.doc.name} clears an account only on {listed}, not on {m.ground} ({clause})")
        if self.death is not None and self.death.date <= m.date:
            raise CaseError(f"{source}: after the member's death ({self.death.date}) the account is inherited, not cleared")
        if m.ground == "emigration" and not any(e.date <= m.date for e in self.history.events_of("emigration")):
            raise CaseError(f"{source}: clearing on emigration needs an `emigration` event on or before {m.date}")
        if m.ground == "non_local_left":
            if self.history.person.hukou == "local":
                raise CaseError(f"{source}: the member has local hukou; a non-local account is cleared only for non-local members ({clause})")
            if any(e.scheme == "employee" and e.active_on(m.date) for e in self.history.enrolments):
                raise CaseError(f"{source}: the member is still enrolled on {m.date}; clear the account after leaving ({clause})")
        self.check_open(m.date, "clearing")
        self.close(m.date, "clearing", clause, f"paid out to the member ({m.ground}){_note(m.note)}", source, deceased=False)

    def inheritance(self, m: Inheritance, source: str) -> None:
        """继承: after death, the actual balance is paid to the heirs."""
        clause = self.rules.inheritance(m.date)
        if self.death is None or self.death.date > m.date:
            raise CaseError(f"{source}: an inheritance on {m.date} needs a `death` event on or before it")
        self.check_open(m.date, "inheritance")
        heir = f" {m.heir}" if m.heir else "s"
        self.close(m.date, "inheritance", clause, f"paid to the heir{heir}{_note(m.note)}", source, deceased=True, ref=m.heir)

    def deductible_refund(self, m: DeductibleRefund, source: str) -> None:
        """杭州细则 一、职工医保 门诊: in the retirement year the outpatient deductible is prorated by
        the months before and after retirement; 80 % of what was paid beyond it goes to 历年."""
        rule = self.rules.deductible_refund(m.date)
        if m.year in self.refunds:
            raise CaseError(f"{source}: the deductible of {m.year} is already refunded")
        self.refunds.add(m.year)
        retired = [e for e in self.history.events_of("retirement") if e.date.year == m.year]
        if not retired:
            raise CaseError(f"{source}: no retirement in {m.year}; the deductible refund applies to the retirement year only ({rule.clause})")
        active_months = retired[0].date.month - 1  # the month of retirement counts as retired
        retired_months = 12 - active_months
        name = rule.word("standard")
        active, pensioner = (self.deductible_standard(name, dt.date(m.year, 12, 31), c, rule.clause) for c in ("active", "retired"))
        due = round_fen((active * active_months + pensioner * retired_months) / 12)
        paid = m.paid if m.paid is not None else self.deductible_paid(m.year, source)
        rate = rule.number("rate")
        refund = round_fen(max(ZERO, paid - due) * percent(rate))
        memo = (
            f"{m.year}: due {fmt(active)} × {active_months}/12 + {fmt(pensioner)} × {retired_months}/12 = {fmt(due)}; "
            f"paid {fmt(paid)}; {_num(rate)}% of {fmt(max(ZERO, paid - due))}"
        )
        self.post(m.date, rule.word("into", allowed=SUBS), refund, "deductible_refund", rule.clause, memo, source, ref=str(m.year))

    # ------------------------------------------------------------ closing an account

    def close(self, day: dt.date, kind: str, clause: str, memo: str, source: str, *, deceased: bool, ref: str | None = None) -> None:
        """Offset an overdraft, then pay out every positive balance."""
        self.settle_overdraft(day, source, deceased=deceased)
        for sub in SUBS:
            self.post(day, sub, -max(ZERO, self.balance(sub)), kind, clause, memo, source, ref=ref)
        self.closed = (day, kind)

    def settle_overdraft(self, day: dt.date, source: str, *, deceased: bool) -> None:
        """A 当年 overdraft is offset from 历年; what remains is made good by the person, or
        written off by the pooled fund for a deceased member where the city says so."""
        owed = -self.balance("current")
        if owed <= 0:
            return
        rule = self.rules.overdraft(day)
        if rule is None:  # cannot happen: an overdraft is refused where there is no rule
            raise CaseError(f"{day}: 当年 is overdrawn by {fmt(owed)} but {self.doc.name} has no overdraft rule")
        for sub in rule.offset_from:
            take = min(owed, max(ZERO, self.balance(sub)))
            if take > 0:
                memo = f"当年 overdraft {fmt(owed)} offset from {SUB_NAMES[sub]}"
                self.post(day, sub, -take, "overdraft_offset", rule.clause, memo, source)
                self.post(day, "current", take, "overdraft_offset", rule.clause, memo, source)
                owed -= take
        if owed > 0:
            kind = "write_off" if deceased and rule.deceased == "write_off" else "make_good"
            who = "the pooled fund writes off" if kind == "write_off" else ("the heirs make good" if deceased else "the member makes good")
            self.post(day, "current", owed, kind, rule.clause, f"{who} the remaining overdraft {fmt(owed)}", source)

    # ------------------------------------------------------------ checks and draws

    def is_closed(self, day: dt.date) -> bool:
        """Paid out (transfer out, clearing, inheritance) and not reopened by a new enrolment."""
        if self.closed is None:
            return False
        when = self.closed[0]
        return not any(e.scheme == "employee" and when < e.start <= day for e in self.history.enrolments)

    def check_open(self, day: dt.date, what: str) -> None:
        if self.is_closed(day):
            when, how = self.closed  # type: ignore[misc]
            raise CaseError(f"{what} on {day}: the account was closed on {when} ({how})")

    def check_usable(self, day: dt.date, what: str) -> None:
        """The account pays only while open, before death, and not while use is stopped."""
        if self.death is not None and day > self.death.date:
            raise CaseError(f"{what} on {day}: the member died on {self.death.date}")
        self.check_open(day, what)
        period = self.rules.period(day)
        stop = stopped_on(self.history, day, period.stops_use, period.resumes)
        if stop is not None:
            raise CaseError(f"{what} on {day}: the account may not be used since {stop.date} ({stop.type}; {period.clause})")

    def relative(self, rid: str, source: str) -> Relative:
        found = next((r for r in self.history.relatives if r.id == rid), None)
        if found is None:
            raise CaseError(f"{source}: {rid!r} is not among the history's `relatives`")
        return found

    def qualifies(self, relative: Relative, rule: RelativeRule, what: str) -> None:
        if relative.relation not in rule.relations:
            allowed = ", ".join(rule.relations) or "nobody"
            raise CaseError(
                f"{relative.id} ({relative.relation}) may not {what} from this account in {self.doc.name}: "
                f"only {allowed} ({rule.clause})"
            )
        for condition in rule.requires:
            if not getattr(relative, condition):
                raise CaseError(
                    f"{relative.id} ({relative.relation}) may not {what} from this account in {self.doc.name}: "
                    f"the relative must be {RELATIVE_CONDITIONS[condition]} ({rule.clause})"
                )

    def draw(self, day: dt.date, amount: Decimal, draw: Draw, use: str, kind: str, source: str, ref: str,
             *, use_key: str = "", overdraft_ok: bool = False) -> None:
        """Pay ``amount`` from the allowed sub-accounts in order (then 嘉兴's 当年 part usable
        like 历年); refuse if they do not hold enough — unless an automatic premium may overdraw
        当年 where the city has a 预设 (overdraft) rule."""
        left = amount
        takes: list[tuple[str, Decimal, Decimal | None, bool]] = []  # sub, amount, history_like, overdraft
        for sub in draw.sources:
            take = min(left, max(ZERO, self.balance(sub)))
            if take > 0:
                takes.append((sub, take, None, False))
                left -= take
        if left > 0 and "history" in draw.sources:
            take = min(left, self.history_like_available(day, use_key))
            if take > 0:
                takes.append(("current", take, -take, False))
                left -= take
        if left > 0:
            if not (overdraft_ok and "current" in draw.sources and self.rules.overdraft(day) is not None):
                held = sum((max(ZERO, self.balance(s)) for s in draw.sources), ZERO)
                names = " + ".join(SUB_NAMES[s] for s in draw.sources)
                raise CaseError(f"{source}: the account cannot pay {fmt(amount)} for {use} on {day}: {names} hold {fmt(held)} ({draw.clause})")
            takes.append(("current", left, None, True))
        for sub, take, like, overdraft in takes:
            self.post(day, sub, -take, kind, draw.clause, use, source, ref=ref, history_like=like, overdraft=overdraft)

    def history_like_available(self, day: dt.date, use_key: str) -> Decimal:
        """嘉兴 (十五)2: what is left this year of 当年's part usable like 历年 (not for 家庭共济)."""
        rule = self.rules.history_like(day)
        if rule is None or use_key in rule.words("not_for", allowed=("family_aid", "premium")):
            return ZERO
        if day.year in self.undetermined_years:
            self.rules.minimum_base(self.situation(day))  # blank: raises naming the figure and its clause
        year = [e for e in self.entries if e.date.year == day.year and e.history_like is not None]
        left = sum((e.history_like for e in year), ZERO)  # type: ignore[misc]
        return max(ZERO, min(self.balance("current"), left))

    def deductible_standard(self, name: str, day: dt.date, category: str, clause: str) -> Decimal:
        """The annual outpatient deductible of a category, from the settlement's own parameter."""
        param = self.policy.get(str(name))
        version = param.at(day) if param is not None else None
        if version is None:
            raise CaseError(f"{self.doc.name}: the deductible parameter {name} is not defined on {day} ({clause})")
        if isinstance(version.value, Missing):
            raise MissingPolicyValue(self.policy.city, str(name), version.reference)
        standard = getattr(version.value, "standard", None)
        if standard is None:
            raise CaseError(f"{self.doc.name}: {name} is not a deductible with a standard ({clause})")
        leaf, _ = resolve(standard.base, {"category": category, "scheme": "employee"})
        if isinstance(leaf, Missing):
            raise MissingPolicyValue(self.policy.city, f"{name}.{leaf.path}", version.reference)
        return leaf

    def deductible_paid(self, year: int, source: str) -> Decimal:
        """The outpatient deductible borne in ``year``, from the recorded settlements."""
        found = [
            m.deductible
            for m in self.history.account_entries
            if isinstance(m, SettlementPayment) and m.date.year == year and m.pool == "outpatient" and m.deductible is not None
        ]
        if not found:
            raise CaseError(f"{source}: give `paid` — no recorded outpatient settlement of {year} carries its deductible")
        return sum(found, ZERO)


def _bind(fn: Callable[..., None], *args: Any) -> Callable[[], None]:
    return lambda: fn(*args)


def _note(note: str | None) -> str:
    return f" — {note}" if note else ""


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")


__all__ = ["Entry", "Balances", "Ledger", "build_ledger", "KINDS"]
