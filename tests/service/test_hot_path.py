"""The settlement path's driver-level statements (``db/hot.py`` run by ``db/driver.py``)
read and write exactly what the Session would, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from gateway_helpers import CONSULT, CT, Hospital, new_person
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from yibao.service import ledger
from yibao.service.db import hot
from yibao.service.db import models as m
from yibao.service.db.driver import Statements
from yibao.service.db.engine import Database


def _values(row: object, model: type) -> dict:
    return {c.key: getattr(row, c.key) for c in model.__table__.columns}


@pytest.fixture
def visit(client, database_url):
    """A person with two years of account entries and running totals, and an open visit with lines."""
    h = Hospital(client)
    p = new_person(database_url)
    first = h.register(p, "2026-03-02 09:00:00")
    h.visit_info(p, first, "2026-03-02 09:00:00")
    lines = [dict(sn=1, code=CONSULT, cnt=1, pric="25.00", when="2026-03-02 09:10:00"),
             dict(sn=2, code=CT, cnt=1, pric="320.00", when="2026-03-02 09:12:00")]
    h.upload(p, first, lines)
    h.ok("2207", h.settle_input(p, first, "345.00"), p)  # an account entry and running totals of 2026
    second = h.register(p, "2026-03-09 09:00:00")
    h.visit_info(p, second, "2026-03-09 09:00:00")
    h.upload(p, second, lines)
    return p, second


def test_reads_are_the_sessions(database_url, visit):
    p, mdtrt_id = visit
    db = Database(database_url)
    with db.transaction() as session:
        rows = hot.read_settlement(Statements(session), p.psn_no, mdtrt_id, lock=True)
        person, stored = session.get(m.Person, p.psn_no), session.get(m.Visit, mdtrt_id)
        assert rows.person._asdict() == _values(person, m.Person)
        assert rows.visit._asdict() == _values(stored, m.Visit)
        lines = session.scalars(select(m.FeeLine).where(m.FeeLine.mdtrt_id == mdtrt_id).order_by(m.FeeLine.id))
        assert [line._asdict() for line in rows.lines] == [_values(line, m.FeeLine) for line in lines]
        assert [e.id for e in rows.enrolments] == [e.id for e in session.scalars(
            select(m.Enrolment).where(m.Enrolment.psn_no == p.psn_no).order_by(m.Enrolment.start))]
        for year in (2025, 2026, 2027):
            entries = session.scalars(select(m.AccountEntry).where(m.AccountEntry.psn_no == p.psn_no)).all()
            current = sum((e.current_amount for e in entries if e.entry_date.year == year), Decimal(0))
            history = sum((e.current_amount + e.history_amount for e in entries), Decimal(0)) - current
            assert ledger.balances_of(rows.account_years, year) == ledger.Balances(current, history)
            assert ledger.balances(session, p.psn_no, year) == ledger.balances_of(rows.account_years, year)
            stored_totals = {(t.counter, t.amount) for t in session.scalars(select(m.RunningTotal).where(
                m.RunningTotal.psn_no == p.psn_no, m.RunningTotal.year == year))}
            assert set(ledger.totals_of(rows.totals, year).as_dict().items()) == stored_totals
        assert ledger.totals_of(rows.totals, 2026).as_dict(), "the first settlement's totals"
    db.dispose()


def test_writes_are_the_sessions_and_fail_as_it_does(database_url, visit):
    p, _ = visit
    db = Database(database_url)
    nonce = {"paasid": "test", "nonce": "n-1", "seen_at": dt.datetime(2026, 3, 9, 10, 0, 0, 123456)}
    entry = {"psn_no": p.psn_no, "entry_date": dt.date(2026, 3, 9), "kind": "credit", "current_amount": Decimal("12.30"),
             "history_amount": Decimal("0.05"), "setl_id": None, "note": "test", "created_at": nonce["seen_at"]}
    with db.transaction() as session:
        statements = Statements(session)
        statements.queue(hot.INSERT_NONCE, nonce)
        statements.queue(hot.INSERT_ENTRY, entry)
        statements.send()
    with db.sessions() as session:
        assert _values(session.get(m.Nonce, ("test", "n-1")), m.Nonce) == nonce
        stored = session.scalars(select(m.AccountEntry).where(m.AccountEntry.note == "test")).one()
        assert {k: v for k, v in _values(stored, m.AccountEntry).items() if k != "id"} == entry
    with pytest.raises(IntegrityError, match="nonce"), db.transaction() as session:
        statements = Statements(session)
        statements.queue(hot.INSERT_NONCE, nonce)
        statements.read((hot.PERSON, {"psn_no": p.psn_no}))
    with pytest.raises(IntegrityError, match="nonce"), db.transaction() as session:
        statements = Statements(session)
        statements.queue(hot.INSERT_NONCE, nonce)
        statements.commit()
    db.dispose()
