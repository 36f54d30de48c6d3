"""Visits' account payments as ledger movements (``yibao account settle``).

Two inputs are accepted:

* a **case** (``case-format.md``): it is settled here with the ledger's balances on its
  first visit's date in place of ``person.account``, and each visit's payment from 当年
  (A1 and the remaining share) and 历年 is recorded, with its deductible and pool;
* the **settlement output** of ``yibao settle`` together with its case (for the visits'
  dates): the split between 当年 and 历年 is read from each settlement's trace
  (``account_first`` and the ``account`` steps), and must add up to its ``acct_pay``.

The first is exact for a case settled now; the second records settlements made elsewhere
(e.g. against a preset 当年 balance) exactly as they were made.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from yibao.case import Account, Case
from yibao.engine.pipeline import settle_case
from yibao.errors import CaseError
from yibao.lifecycle.account_movements import SettlementPayment
from yibao.lifecycle.accounts import build_ledger
from yibao.lifecycle.history import History
from yibao.money import ZERO, fmt, parse_amount
from yibao.policy.loader import CityPolicy


def payments_from_case(history: History, policy: CityPolicy, case: Case) -> list[SettlementPayment]:
    """Settle ``case`` with the ledger's balances and return each visit's account payment."""
    _same_person(history, case)
    first = min(v.date for v in case.visits)
    ledger = build_ledger(history, policy, first)
    balances = ledger.balances(first)
    account = Account(current=max(ZERO, balances.current), history=max(ZERO, balances.history))
    settled = settle_case(case.model_copy(update={"person": case.person.model_copy(update={"account": account})}), policy)
    return [
        SettlementPayment(
            kind="settlement",
            date=s.visit.date,
            visit_id=s.visit.id,
            current=s.state.account_first + s.state.acct_current,
            history=s.state.acct_history,
            deductible=s.state.deductible,
            pool=s.state.pool or None,
        )
        for s in settled
    ]


def payments_from_output(history: History, output: Any, case: Case) -> list[SettlementPayment]:
    """Each settlement of ``yibao settle``'s output, dated by its visit in ``case``."""
    _same_person(history, case)
    if not isinstance(output, dict) or not isinstance(output.get("settlements"), list):
        raise CaseError("a settlement output is the JSON `yibao settle` prints: {city, person_id, settlements: [...]}")
    if output.get("city") != history.city or output.get("person_id") != history.person.id:
        raise CaseError(f"the settlements are of {output.get('person_id')!r} in {output.get('city')!r}, the history of {history.person.id!r} in {history.city!r}")
    dates = {v.id: v.date for v in case.visits}
    return [_payment(s, dates) for s in output["settlements"]]


def _payment(settlement: Any, dates: dict[str, dt.date]) -> SettlementPayment:
    if not isinstance(settlement, dict) or "visit_id" not in settlement:
        raise CaseError("each settlement needs its `visit_id`, `acct_pay` and `trace`")
    vid = settlement["visit_id"]
    if vid not in dates:
        raise CaseError(f"settlement of visit {vid}: the case has no such visit (its date is needed)")
    current, history = _split(settlement)
    total = _amount(settlement.get("acct_pay", "0"), f"visit {vid}: acct_pay")
    if current + history != total:
        raise CaseError(f"visit {vid}: acct_pay is {fmt(total)} but its trace shows {fmt(current + history)} from the account")
    deductible = _amount(settlement.get("act_pay_dedc", "0"), f"visit {vid}: act_pay_dedc")
    return SettlementPayment(kind="settlement", date=dates[vid], visit_id=vid, current=current, history=history, deductible=deductible)


def _split(settlement: dict) -> tuple[Decimal, Decimal]:
    """当年 and 历年 payments from the trace: A1, then the ``account`` steps by their label."""
    current = history = ZERO
    for step in settlement.get("trace") or []:
        name, label = step.get("step"), str(step.get("label", ""))
        amount = _amount(step.get("amount", "0"), f"visit {settlement['visit_id']}: trace {name}")
        if name == "account_first" or (name == "account" and label.startswith("当年")):
            current += amount
        elif name == "account" and label.startswith("历年"):
            history += amount
    return current, history


def _amount(raw: Any, where: str) -> Decimal:
    try:
        return parse_amount(raw)
    except ValueError as exc:
        raise CaseError(f"{where}: {exc}") from None


def _same_person(history: History, case: Case) -> None:
    if case.city != history.city or case.person.id != history.person.id:
        raise CaseError(f"the case is of {case.person.id!r} in {case.city}, the history of {history.person.id!r} in {history.city}")
    if case.person.scheme != "employee":
        raise CaseError(f"{case.person.id} is a resident in this case; residents have no personal account (G8)")


__all__ = ["payments_from_case", "payments_from_output"]
