"""The service's tables (SQLAlchemy 2 declarative models).

What is stored, and what is derived:

* A person's record (``persons``, ``enrolments``, ``events``) is the lifecycle history of
  ``docs/lifecycle/history.md`` split into rows; :func:`yibao.service.people.history_of`
  puts it back together for the coverage rules.
* Personal accounts are a ledger (``account_entries``): balances are sums, never stored.
* Running totals (``running_totals``) are a cache of the sum of the ``postings`` of every
  recorded settlement and reversal of the person-year, written in the same transaction;
  ``yibao service rebuild-totals`` recomputes them from the settlements and compares.
* A reversal is another ``settlements`` row with every amount and posting negated.
* ``messages`` keeps the first answer to each ``msgid`` (exactly-once replay);
  ``audit_log`` is append-only (PostgreSQL refuses UPDATE and DELETE on it by trigger).

Amounts use the exact types of :mod:`yibao.service.db.types`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from yibao.service.db.types import Money, Price, Quantity, Ratio


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def utc_now() -> dt.datetime:
    """Now, in UTC without a time zone: every ``created_at`` and ``loaded_at``."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Institution(Base):
    """定点医药机构: a hospital or pharmacy with its national code, city and level."""

    __tablename__ = "institutions"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)  # fixmedins_code
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(20))
    admdvs: Mapped[str] = mapped_column(String(6))  # 医保区划
    level: Mapped[str] = mapped_column(String(20))  # engine level: primary, secondary, tertiary, pharmacy, …
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class Credential(Base):
    """A caller: an institution's system, agency staff or an auditor."""

    __tablename__ = "credentials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    paasid: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))  # institution | agency | auditor
    institution_code: Mapped[Optional[str]] = mapped_column(ForeignKey("institutions.code"))
    secret: Mapped[str] = mapped_column(String(128))  # signs x-tif-signature; also the bearer token
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class Nonce(Base):
    """Each signed request's nonce, so that a replayed signed header is refused."""

    __tablename__ = "nonces"
    paasid: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class SignIn(Base):
    """9001 签到."""

    __tablename__ = "sign_ins"
    sign_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    opter: Mapped[str] = mapped_column(String(30))
    mac: Mapped[Optional[str]] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class Person(Base):
    """参保人: the settlement-relevant facts, and the history parts kept as documents."""

    __tablename__ = "persons"
    psn_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    city: Mapped[str] = mapped_column(String(20))
    insuplc_admdvs: Mapped[str] = mapped_column(String(6))
    certno: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    gend: Mapped[str] = mapped_column(String(1))  # F | M
    brdy: Mapped[dt.date] = mapped_column(Date)
    hukou: Mapped[str] = mapped_column(String(10), default="local")
    scheme: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(20))
    grade: Mapped[int] = mapped_column(Integer, default=1)
    assistance: Mapped[Optional[str]] = mapped_column(String(30))
    flags: Mapped[list[Any]] = mapped_column(default=list)
    filings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ci_cap_bonus: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    long_term_residence: Mapped[bool] = mapped_column(Boolean, default=False)  # 异地长期居住/安置备案
    # employers, relatives, contributions, credited_years: documents of the lifecycle history
    history_parts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # bumped whenever the history (enrolments, events, history_parts) changes: the cache key of the parsed history
    history_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now, onupdate=utc_now)


class Enrolment(Base):
    """参保登记: one period under one scheme."""

    __tablename__ = "enrolments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    psn_no: Mapped[str] = mapped_column(ForeignKey("persons.psn_no"), index=True)
    scheme: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(20))
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[Optional[dt.date]] = mapped_column(Date)
    employer: Mapped[Optional[str]] = mapped_column(String(60))
    grade: Mapped[int] = mapped_column(Integer, default=1)
    account: Mapped[str] = mapped_column(String(20), default="with_account")
    basis: Mapped[str] = mapped_column(String(20), default="wage")
    reason: Mapped[Optional[str]] = mapped_column(String(200))


class Event(Base):
    """A life event of the lifecycle history (retirement, arrears order, death, …)."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    psn_no: Mapped[str] = mapped_column(ForeignKey("persons.psn_no"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    type: Mapped[str] = mapped_column(String(30))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AccountEntry(Base):
    """One movement of a personal account (个人账户): 当年 and 历年 parts, signed."""

    __tablename__ = "account_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    psn_no: Mapped[str] = mapped_column(ForeignKey("persons.psn_no"), index=True)
    entry_date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(30))  # opening | credit | settlement | reversal | transfer | …
    current_amount: Mapped[Decimal] = mapped_column(Money())
    history_amount: Mapped[Decimal] = mapped_column(Money())
    setl_id: Mapped[Optional[str]] = mapped_column(ForeignKey("settlements.setl_id"))
    note: Mapped[Optional[str]] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class CatalogueItem(Base):
    """One dated version of a catalogue entry (药品/诊疗项目/医用耗材目录)."""

    __tablename__ = "catalogue_items"
    __table_args__ = (Index("ix_catalogue_lookup", "city", "code", "begin_date"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    city: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(50))  # med_list_codg
    name: Mapped[str] = mapped_column(String(200))
    item_class: Mapped[str] = mapped_column(String(1))  # A 甲类 | B 乙类 | C 丙类
    selfpay_ratio: Mapped[Optional[Decimal]] = mapped_column(Ratio())  # 先行自付比例 (乙类)
    price_limit: Mapped[Optional[Decimal]] = mapped_column(Price())  # 最高限价 per unit
    begin_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[Optional[dt.date]] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class Visit(Base):
    """就诊: an outpatient registration (2201) or an admission (2401)."""

    __tablename__ = "visits"
    mdtrt_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    psn_no: Mapped[str] = mapped_column(ForeignKey("persons.psn_no"), index=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"), index=True)
    setting: Mapped[str] = mapped_column(String(10))  # outpatient | inpatient
    insutype: Mapped[str] = mapped_column(String(6))
    med_type: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(20))  # engine kind
    level: Mapped[str] = mapped_column(String(20))
    location: Mapped[str] = mapped_column(String(20), default="local")
    route: Mapped[Optional[str]] = mapped_column(String(20))
    transfer_from: Mapped[Optional[str]] = mapped_column(String(20))
    disease: Mapped[Optional[str]] = mapped_column(String(40))
    procedure: Mapped[Optional[list[Any]]] = mapped_column()
    diagnoses: Mapped[list[Any]] = mapped_column(default=list)
    begntime: Mapped[dt.datetime] = mapped_column(DateTime)
    endtime: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    ipt_otp_no: Mapped[Optional[str]] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | discharged | settled | cancelled
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the other fields the HIS sent
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class FeeLine(Base):
    """费用明细: one uploaded line with its catalogue split."""

    __tablename__ = "fee_lines"
    __table_args__ = (Index("ix_fee_lines_visit", "mdtrt_id", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mdtrt_id: Mapped[str] = mapped_column(ForeignKey("visits.mdtrt_id"))
    feedetl_sn: Mapped[str] = mapped_column(String(30))
    chrg_bchno: Mapped[Optional[str]] = mapped_column(String(30))
    med_list_codg: Mapped[str] = mapped_column(String(50))
    medins_list_codg: Mapped[Optional[str]] = mapped_column(String(50))
    name: Mapped[Optional[str]] = mapped_column(String(200))
    cnt: Mapped[Decimal] = mapped_column(Quantity())
    pric: Mapped[Decimal] = mapped_column(Price())
    det_item_fee_sumamt: Mapped[Decimal] = mapped_column(Money())
    fee_ocur_time: Mapped[dt.datetime] = mapped_column(DateTime)
    chrgitm_lv: Mapped[str] = mapped_column(String(2))  # 01 甲 02 乙 03 丙
    selfpay_prop: Mapped[Decimal] = mapped_column(Ratio())
    pric_uplmt_amt: Mapped[Optional[Decimal]] = mapped_column(Price())
    fulamt_ownpay_amt: Mapped[Decimal] = mapped_column(Money())
    overlmt_amt: Mapped[Decimal] = mapped_column(Money())
    preselfpay_amt: Mapped[Decimal] = mapped_column(Money())
    inscp_scp_amt: Mapped[Decimal] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | withdrawn
    msgid: Mapped[Optional[str]] = mapped_column(String(40))  # the upload (2204/2301) that brought it, for 2601
    setl_id: Mapped[Optional[str]] = mapped_column(ForeignKey("settlements.setl_id"))  # interim settlement that took it


class Settlement(Base):
    """结算: a settlement, an interim settlement or a reversal (amounts negated)."""

    __tablename__ = "settlements"
    setl_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    mdtrt_id: Mapped[str] = mapped_column(ForeignKey("visits.mdtrt_id"), index=True)
    psn_no: Mapped[str] = mapped_column(ForeignKey("persons.psn_no"), index=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # final | interim | reversal
    reverses: Mapped[Optional[str]] = mapped_column(String(30), unique=True)
    reversed_by: Mapped[Optional[str]] = mapped_column(String(30))
    year: Mapped[int] = mapped_column(Integer)
    setl_date: Mapped[dt.date] = mapped_column(Date, index=True)
    setl_time: Mapped[dt.datetime] = mapped_column(DateTime)
    insutype: Mapped[str] = mapped_column(String(6))
    med_type: Mapped[str] = mapped_column(String(6))
    clr_type: Mapped[str] = mapped_column(String(6))
    medfee_sumamt: Mapped[Decimal] = mapped_column(Money())
    fulamt_ownpay_amt: Mapped[Decimal] = mapped_column(Money())
    overlmt_selfpay: Mapped[Decimal] = mapped_column(Money())
    preselfpay_amt: Mapped[Decimal] = mapped_column(Money())
    inscp_scp_amt: Mapped[Decimal] = mapped_column(Money())
    act_pay_dedc: Mapped[Decimal] = mapped_column(Money())
    hifp_pay: Mapped[Decimal] = mapped_column(Money())
    hifob_pay: Mapped[Decimal] = mapped_column(Money())
    hifmi_pay: Mapped[Decimal] = mapped_column(Money())
    maf_pay: Mapped[Decimal] = mapped_column(Money())
    oth_pay: Mapped[Decimal] = mapped_column(Money())
    fund_pay_sumamt: Mapped[Decimal] = mapped_column(Money())
    acct_pay: Mapped[Decimal] = mapped_column(Money())
    psn_cash_pay: Mapped[Decimal] = mapped_column(Money())
    psn_part_amt: Mapped[Decimal] = mapped_column(Money())
    balc: Mapped[Decimal] = mapped_column(Money())
    setldetail: Mapped[list[Any]] = mapped_column()
    trace: Mapped[list[Any]] = mapped_column()
    postings: Mapped[list[Any]] = mapped_column()  # [[counter, "amount"], …] — running totals derive from these
    msgid: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class RunningTotal(Base):
    """A person-year's running total (累计): the sum of the settlements' postings, kept current."""

    __tablename__ = "running_totals"
    psn_no: Mapped[str] = mapped_column(ForeignKey("persons.psn_no"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    counter: Mapped[str] = mapped_column(String(80), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money())


class Message(Base):
    """The first successful answer to each gateway ``msgid`` (exactly once)."""

    __tablename__ = "messages"
    msgid: Mapped[str] = mapped_column(String(40), primary_key=True)
    institution_code: Mapped[str] = mapped_column(String(20))
    infno: Mapped[str] = mapped_column(String(4))
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the request's input
    mdtrt_id: Mapped[Optional[str]] = mapped_column(String(30))  # the visit the message was about (for 2601)
    response: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


class AuditRecord(Base):
    """Append-only: who changed what, when, under which request (names and cert numbers masked)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    request_id: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(60))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


__all__ = [
    "AccountEntry", "AuditRecord", "Base", "CatalogueItem", "Credential", "Enrolment", "Event", "FeeLine",
    "Institution", "Message", "Nonce", "Person", "RunningTotal", "Settlement", "SignIn", "Visit",
]


@event.listens_for(Session, "before_flush")
def _bump_history_version(session: Session, _context: Any, _instances: Any) -> None:
    """Any change to a person's enrolments, events or own row bumps ``history_version``,
    so a cached parsed history is never used after the facts changed."""
    touched: set[str] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, (Enrolment, Event)):
            touched.add(obj.psn_no)
        elif isinstance(obj, Person) and obj not in session.new and session.is_modified(obj):
            touched.add(obj.psn_no)
    for psn_no in touched:
        person = session.get(Person, psn_no)
        if person is not None and person not in session.new:
            person.history_version = Person.history_version + 1
