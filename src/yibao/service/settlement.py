"""Settle a stored visit, record the settlement, reverse it.

The engine is the same one ``yibao settle`` runs (:func:`yibao.engine.pipeline.settle_visit`);
this module only turns the database's rows into its inputs and its outputs into rows:

* inputs (:func:`compute`, from what :func:`yibao.service.db.hot.read_settlement` read) —
  the person (scheme, category, assistance, filings), the coverage on the settlement date
  from the stored history, the person-year's running totals, the account balances, and the
  visit's unsettled fee lines as bill items;
* outputs (:func:`record`, queued on the transaction's driver-level statements) — one
  ``settlements`` row with the amounts, ``setldetail``, trace and postings; the account
  entry; the running totals; the fee lines marked as settled; the visit's status.

Every caller holds the person's lock (``read_settlement(lock=True)``, :func:`lock_person`)
for the whole transaction, so two settlements for one person serialise and neither loses
the other's totals. A reversal is another settlement row with everything negated.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from yibao.case import Visit as EngineVisit
from yibao.engine.pipeline import Settlement as EngineSettlement
from yibao.engine.pipeline import settle_visit
from yibao.engine.rules import Rules
from yibao.engine.state import TraceStep, VisitState
from yibao.errors import CaseError
from yibao.money import ZERO, fmt
from yibao.policy.loader import CityPolicy, load_city
from yibao.report import ACCOUNT_CODE, LAYER_CODES, settlement_json
from yibao.service import ledger
from yibao.service.codes import Codes
from yibao.service.db import hot
from yibao.service.db import models as m
from yibao.service.db.driver import Statements
from yibao.service.people import cached_coverage, cached_history, case_person, history_of_rows

if TYPE_CHECKING:
    from yibao.service.cache import Caches

AMOUNT_FIELDS = (
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc",
    "hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "oth_pay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay",
    "psn_part_amt",
)
GEND = {"M": "1", "F": "2"}  # national 性别 codes


_LOCK_PERSON = select(m.Person).where(m.Person.psn_no == bindparam("psn_no")).with_for_update()


class SettlementError(CaseError):
    """The visit cannot be settled (or reversed) as asked."""


def lock_person(session: Session, psn_no: str) -> m.Person:
    """Load the person and hold their row lock to the end of the transaction (PostgreSQL
    ``FOR UPDATE``; on SQLite the transaction already holds the write lock)."""
    person = session.scalars(_LOCK_PERSON, {"psn_no": psn_no}).first()
    if person is None:
        raise SettlementError(f"psn_no {psn_no} is not an insured person of this agency")
    return person


def live_settlement(session: Session, mdtrt_id: str) -> str | None:
    """The visit's settlement (final or interim) that no reversal has undone, if any."""
    return session.scalar(select(m.Settlement.setl_id).where(
        m.Settlement.mdtrt_id == mdtrt_id, m.Settlement.kind != "reversal", m.Settlement.reversed_by.is_(None)))


def new_id(day: dt.date) -> str:
    """A 30-character identifier: the date and 22 random hex digits."""
    return f"{day:%Y%m%d}{uuid.uuid4().hex[:22]}"


@dataclass(frozen=True)
class Computed:
    """The engine's answer for a visit, before anything is recorded."""

    state: VisitState
    engine_visit: EngineVisit
    balance_after: Decimal
    lines: list[Any]  # fee_lines rows (read-only values)

    @property
    def document(self) -> dict[str, Any]:
        return settlement_json(EngineSettlement(self.engine_visit, self.state, self.balance_after))


def settlement_day(visit: m.Visit, interim_day: dt.date | None = None) -> dt.date:
    """The date that decides the year and the policy version: an inpatient stay's
    discharge date, an interim settlement's own date, an outpatient visit's date."""
    if interim_day is not None:
        return interim_day
    if visit.setting == "inpatient":
        if visit.endtime is None:
            raise SettlementError(f"mdtrt_id {visit.mdtrt_id}: the stay has no discharge (2402) yet; settle it after discharge or as an interim settlement")
        return visit.endtime.date()
    return visit.begntime.date()


def compute(rows: hot.SettlementRows, *, day: dt.date, use_account: bool, policy: CityPolicy | None = None,
            caches: "Caches | None" = None) -> Computed:
    """Run the engine on the visit's unsettled lines, from what :func:`hot.read_settlement` read."""
    person, visit, lines = rows.person, rows.visit, rows.lines
    if not lines:
        raise SettlementError(f"mdtrt_id {visit.mdtrt_id}: no unsettled fee lines; upload them first (2204/2301)")
    policy = policy or load_city(person.city)
    engine_visit = _engine_visit(person, visit, lines, day, use_account)
    opening = ledger.balances_of(rows.account_years, day.year) if person.scheme == "employee" else ledger.Balances(ZERO, ZERO)
    histories, coverages = (caches.histories, caches.coverages) if caches else (None, None)
    history = cached_history(person, histories, lambda: history_of_rows(person, rows.enrolments, rows.events))
    cover = cached_coverage(person, history, day, policy, coverages) if history.enrolments else None
    state = settle_visit(
        case_person(person, opening.current, opening.history, cover), engine_visit, Rules(policy, day, visit.mdtrt_id),
        ledger.totals_of(rows.totals, day.year), opening.current, opening.history, cover=cover,
    )
    return Computed(state, engine_visit, opening.total - state.acct_total, lines)


def _engine_visit(person: m.Person, visit: m.Visit, lines: list[Any], day: dt.date, use_account: bool) -> EngineVisit:
    kind = visit.kind
    if kind == "chronic_or_special":
        special = set(person.filings.get("special", ()))
        kind = "special" if visit.disease in special else "chronic"
    return EngineVisit.model_validate({
        "id": visit.mdtrt_id, "date": day, "kind": kind, "level": visit.level, "location": visit.location,
        "route": visit.route, "transfer_from": visit.transfer_from, "disease": visit.disease,
        "procedure": visit.procedure, "use_account": use_account and person.scheme == "employee",
        "items": _items(lines),
    })


def _items(lines: list[Any]) -> list[dict[str, Any]]:
    """The bill: one item per line; a refund line (negative quantity) nets into its code's lines."""
    if all(line.det_item_fee_sumamt >= 0 for line in lines):
        return [_item(line.med_list_codg, line.chrgitm_lv, line.selfpay_prop, line.det_item_fee_sumamt, line.overlmt_amt) for line in lines]
    merged: "OrderedDict[tuple[str, str, Decimal], list[Decimal]]" = OrderedDict()
    for line in lines:
        key = (line.med_list_codg, line.chrgitm_lv, line.selfpay_prop)
        total = merged.setdefault(key, [ZERO, ZERO])
        total[0] += line.det_item_fee_sumamt
        total[1] += line.overlmt_amt
    items = []
    for (code, lv, ratio), (amount, over) in merged.items():
        if amount < 0:
            raise SettlementError(f"fee lines of {code}: refunds exceed the charges ({fmt(amount)})")
        if amount > 0:
            items.append(_item(code, lv, ratio, amount, max(ZERO, min(over, amount))))
    return items


def _item(code: str, lv: str, ratio: Decimal, amount: Decimal, over: Decimal) -> dict[str, Any]:
    item_class = {"01": "A", "02": "B", "03": "C"}[lv]
    item: dict[str, Any] = {"code": code, "amount": amount, "class": item_class}
    if item_class == "B":
        item["selfpay_ratio"] = ratio
    if item_class != "C":
        item["over_limit"] = over
    return item


def setlinfo(codes: Codes, person: m.Person, visit: m.Visit, doc: dict[str, Any], *, setl_id: str | None,
             setl_time: dt.datetime, msgid: str) -> dict[str, Any]:
    """The national ``setlinfo`` for a settlement document (``settlement_json`` shape)."""
    info: dict[str, Any] = {
        "mdtrt_id": visit.mdtrt_id, "setl_id": setl_id, "psn_no": person.psn_no, "psn_name": person.name,
        "psn_cert_type": "01", "certno": person.certno, "gend": GEND[person.gend], "naty": "01",
        "brdy": person.brdy.isoformat(), "age": _age(person.brdy, setl_time.date()),
        "insutype": visit.insutype, "psn_type": codes.psn_type[person.category], "cvlserv_flag": "0",
        "setl_time": setl_time.strftime("%Y-%m-%d %H:%M:%S"), "mdtrt_cert_type": visit.info.get("mdtrt_cert_type", "02"),
        "med_type": visit.med_type, "clr_type": visit.med_type[:2], "clr_way": "1", "clr_optins": person.insuplc_admdvs,
        "medins_setl_id": msgid, "year": doc["year"],
    }
    for name in AMOUNT_FIELDS:
        info[name] = doc[name]
    info["hosp_part_amt"] = "0.00"
    info["acct_mulaid_pay"] = doc["acct_mulaid_pay"]
    info["balc"] = doc["balc"]
    info["trace"] = doc["trace"]
    return info


#: The trace's fund names for the national fund_pay_type codes (统筹 and 生育 codes are the basic fund).
_TRACE_FUND = {ACCOUNT_CODE: "acct", **{code: fund for fund, code in LAYER_CODES.items()}}


def setldetail(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """``setldetail`` rows with the national fields; each fund's trace steps as its process note."""
    rows = []
    for d in doc["setldetail"]:
        fund = _TRACE_FUND.get(d["fund_pay_type"], "hifp")
        steps = [t for t in doc["trace"] if t.get("fund") == fund]
        rows.append({
            "fund_pay_type": d["fund_pay_type"], "inscp_scp_amt": doc["inscp_scp_amt"], "crt_payb_lmt_amt": None,
            "fund_payamt": d["fund_payamt"], "fund_payamt_type": "1",
            "setl_proc_info": "; ".join(f"{t['label']} {t['amount']} ({t['source']})" for t in steps)[:500] or None,
        })
    return rows


def _age(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class Recorded:
    setl_id: str
    setlinfo: dict[str, Any]
    setldetail: list[dict[str, Any]]


def record(statements: Statements, codes: Codes, person: Any, visit: Any, computed: Computed, *,
           kind: str, setl_time: dt.datetime, msgid: str) -> Recorded:
    """Queue the writes of a computed settlement: the row, the account entry, the totals, the
    lines, the visit's status (sent with the transaction's last statements)."""
    doc = computed.document
    state = computed.state
    day = computed.engine_visit.date
    setl_id = new_id(day)
    postings = [(c, a) for c, a in state.postings]
    statements.queue(hot.INSERT_SETTLEMENT, dict(
        setl_id=setl_id, mdtrt_id=visit.mdtrt_id, psn_no=person.psn_no, institution_code=visit.institution_code,
        kind=kind, year=state.year, setl_date=day, setl_time=setl_time, insutype=visit.insutype,
        med_type=visit.med_type, clr_type=visit.med_type[:2],
        **{name: Decimal(doc[name]) for name in AMOUNT_FIELDS}, balc=Decimal(doc["balc"]),
        setldetail=doc["setldetail"], trace=doc["trace"], postings=[[c, str(a)] for c, a in postings], msgid=msgid,
        created_at=dt.datetime.now(),
    ))
    account = _account_parts(postings)
    if account != (ZERO, ZERO):
        statements.queue(hot.INSERT_ENTRY, {
            "psn_no": person.psn_no, "entry_date": day, "kind": "settlement", "current_amount": account[0],
            "history_amount": account[1], "setl_id": setl_id, "note": f"visit {visit.mdtrt_id}", "created_at": setl_time})
    statements.queue(hot.ADD_TOTALS, ledger.total_rows(
        person.psn_no, state.year, [(c, a) for c, a in postings if not c.startswith("account.")]))
    statements.queue(hot.MARK_LINES, {"line_ids": [line.id for line in computed.lines], "setl_id": setl_id})
    if kind == "final":
        statements.queue(hot.SET_VISIT_STATUS, {"visit_id": visit.mdtrt_id, "status": "settled"})
    info = setlinfo(codes, person, visit, doc, setl_id=setl_id, setl_time=setl_time, msgid=msgid)
    return Recorded(setl_id, info, setldetail(doc))


def _account_parts(postings: list[tuple[str, Decimal]]) -> tuple[Decimal, Decimal]:
    current = sum((a for c, a in postings if c == "account.current"), ZERO)
    history = sum((a for c, a in postings if c == "account.history"), ZERO)
    return current, history


def reverse(session: Session, codes: Codes, person: m.Person, original: m.Settlement, *, setl_time: dt.datetime,
            msgid: str, actor: str) -> Recorded:
    """Reverse a settlement: a new row with every amount and posting negated; the account
    entry and running totals restored exactly; the lines free to settle again."""
    if original.kind == "reversal":
        raise SettlementError(f"setl_id {original.setl_id} is itself a reversal")
    if original.reversed_by is not None:
        raise SettlementError(f"setl_id {original.setl_id} is already reversed by {original.reversed_by}")
    visit = session.get(m.Visit, original.mdtrt_id)
    assert visit is not None
    later = session.scalar(select(m.Settlement.setl_id).where(
        m.Settlement.mdtrt_id == visit.mdtrt_id, m.Settlement.kind != "reversal", m.Settlement.reversed_by.is_(None),
        m.Settlement.created_at > original.created_at))
    if later is not None:
        raise SettlementError(f"setl_id {original.setl_id}: reverse the later settlement {later} of this visit first")
    setl_id = new_id(setl_time.date())
    negated = [[c, str(-Decimal(a))] for c, a in original.postings]
    step = TraceStep("reversal", "结算撤销 reversal", -original.medfee_sumamt,
                     f"reverses {original.setl_id} of {original.setl_date} at the request of {actor}: every amount, "
                     "the account payment and the running totals are restored", "2208/2305")
    row = m.Settlement(
        setl_id=setl_id, mdtrt_id=original.mdtrt_id, psn_no=original.psn_no, institution_code=original.institution_code,
        kind="reversal", reverses=original.setl_id, year=original.year, setl_date=setl_time.date(), setl_time=setl_time,
        insutype=original.insutype, med_type=original.med_type, clr_type=original.clr_type,
        **{name: -getattr(original, name) for name in AMOUNT_FIELDS},
        balc=ZERO,
        setldetail=[{**d, "fund_payamt": fmt(-Decimal(d["fund_payamt"]))} for d in original.setldetail],
        trace=[step.as_json()], postings=negated, msgid=msgid,
    )
    original.reversed_by = setl_id
    session.add(row)
    session.flush()
    entry = session.scalars(select(m.AccountEntry).where(m.AccountEntry.setl_id == original.setl_id)).first()
    if entry is not None:
        session.add(m.AccountEntry(psn_no=original.psn_no, entry_date=entry.entry_date, kind="reversal",
                                   current_amount=-entry.current_amount, history_amount=-entry.history_amount,
                                   setl_id=setl_id, note=f"reverses {original.setl_id}"))
    ledger.add_to_totals(session, original.psn_no, original.year,
                         [(c, Decimal(a)) for c, a in negated if not c.startswith("account.")])
    for line in session.scalars(select(m.FeeLine).where(m.FeeLine.setl_id == original.setl_id)):
        line.setl_id = None
    if original.kind == "final":
        visit.status = "discharged" if visit.setting == "inpatient" else "open"
    session.flush()
    row.balc = ledger.balances(session, original.psn_no, setl_time.year).total if person.scheme == "employee" else ZERO
    doc = _stored_document(row)
    info = setlinfo(codes, person, visit, doc, setl_id=setl_id, setl_time=setl_time, msgid=msgid)
    info["orig_setl_id"] = original.setl_id
    return Recorded(setl_id, info, setldetail(doc))


def _stored_document(row: m.Settlement) -> dict[str, Any]:
    """A recorded settlement row in the shape of ``settlement_json``."""
    return {**{name: fmt(getattr(row, name)) for name in AMOUNT_FIELDS}, "year": row.year, "acct_mulaid_pay": "0.00",
            "balc": fmt(row.balc), "trace": row.trace, "setldetail": row.setldetail}


def settlement_document(codes: Codes, session: Session, row: m.Settlement) -> dict[str, Any]:
    """A stored settlement as ``setlinfo`` + ``setldetail`` (5203, REST queries)."""
    person = session.get(m.Person, row.psn_no)
    visit = session.get(m.Visit, row.mdtrt_id)
    assert person is not None and visit is not None
    doc = _stored_document(row)
    info = setlinfo(codes, person, visit, doc, setl_id=row.setl_id, setl_time=row.setl_time, msgid=row.msgid)
    info.update(setl_type=row.kind, orig_setl_id=row.reverses, reversed_by=row.reversed_by)
    return {"setlinfo": info, "setldetail": setldetail(doc)}
