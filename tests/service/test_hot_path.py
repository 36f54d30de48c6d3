"""The settlement path's driver-level statements (``db/hot.py`` run by ``db/driver.py``)
read and write exactly what the Session would, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from conftest import fresh_postgres
from gateway_helpers import CONSULT, CT, Hospital, new_person
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from yibao.service import ledger
from yibao.service.db import hot
from yibao.service.db import models as m
from yibao.service.db.driver import Statements
from yibao.service.db.engine import Database
from yibao.service.db.migrate import upgrade


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


def test_the_settled_lines_are_marked_in_one_statement_by_id(database_url, visit):
    """``MARK_LINES`` takes the ids as one list: those lines get the ``setl_id``, no other line does."""
    p, mdtrt_id = visit
    db = Database(database_url)
    with db.sessions() as session:
        setl_id = session.scalars(select(m.Settlement.setl_id).where(m.Settlement.psn_no == p.psn_no)).one()
        statements = Statements(session)
        lines = hot.read_settlement(statements, p.psn_no, mdtrt_id, lock=True).lines
        assert len(lines) == 2
        statements.queue(hot.MARK_LINES, {"line_ids": [lines[0].id], "setl_id": setl_id})
        statements.send()
        marked = dict(session.execute(select(m.FeeLine.id, m.FeeLine.setl_id).where(m.FeeLine.mdtrt_id == mdtrt_id)).all())
        assert marked == {lines[0].id: setl_id, lines[1].id: None}
        statements.queue(hot.MARK_LINES, {"line_ids": [line.id for line in lines], "setl_id": setl_id})
        statements.send()
        marked = dict(session.execute(select(m.FeeLine.id, m.FeeLine.setl_id).where(m.FeeLine.mdtrt_id == mdtrt_id)).all())
        assert marked == {lines[0].id: setl_id, lines[1].id: setl_id}
        session.rollback()
    db.dispose()


def test_amount_date_and_month_texts_are_remembered_and_refusals_repeated():
    """The history parse remembers what a text parses to (the same immutable value for every
    caller); a refused text is refused every time, with its reason."""
    from yibao.case import _date
    from yibao.lifecycle.history import Contribution
    from yibao.money import parse_amount

    assert parse_amount("800.00") is parse_amount("800.00") == Decimal("800.00")
    assert parse_amount(" 800.5 ") == Decimal("800.50")  # the other forms, as before
    for _ in range(2):
        with pytest.raises(ValueError, match="more than two decimals"):
            parse_amount("800.005")
        with pytest.raises(ValueError, match="not an amount"):
            parse_amount(True)
        with pytest.raises(ValueError, match="not a date"):
            _date("2026-02-30")
        with pytest.raises(ValueError, match="not a date"):
            _date(20260215)
        with pytest.raises(ValueError, match="not a month"):
            Contribution.model_validate({"month": "2026-13", "paid": "0"})
    assert _date("2026-02-15") is _date("2026-02-15") == dt.date(2026, 2, 15)
    assert Contribution.model_validate({"month": "2026-02", "paid": "800.00", "paid_date": "2026-02-15"}).paid == Decimal("800.00")


def test_a_server_process_freezes_its_heap_and_collects_young_objects_less_often():
    import gc

    from yibao.service.app import settle_heap

    threshold = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (10_000, *threshold[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_json_columns_round_trip_as_the_standard_library_would_read_them(database_url):
    """JSON columns are written and read by orjson: text, nesting and numbers come back as
    written; keys that are not strings are stored as strings, as ``json.dumps`` stores them."""
    db = Database(database_url)
    detail = {"名字": "张三", "nested": [1, {"amount": "12.30"}, None, True], 3: "three"}
    with db.transaction() as session:
        session.add(m.AuditRecord(request_id="r-json", actor="a", role="agency", action="test", entity="json",
                                  entity_id="1", detail=detail))
    with db.sessions() as session:
        stored = session.scalars(select(m.AuditRecord).where(m.AuditRecord.request_id == "r-json")).one()
        assert stored.detail == {"名字": "张三", "nested": [1, {"amount": "12.30"}, None, True], "3": "three"}
    db.dispose()


def test_settlement_rows_are_stored_uncompressed_on_postgresql(postgres_server):
    """Migration 0002: the tables whose rows carry a trace or an answer keep rows of up to a
    page as they are (no pglz on every insert)."""
    url = fresh_postgres(postgres_server)
    upgrade(url)
    db = Database(url)
    with db.sessions() as session:
        options = dict(session.execute(text(
            "SELECT relname, reloptions FROM pg_class WHERE relname IN ('settlements', 'messages', 'audit_log')")).all())
    db.dispose()
    assert options == {table: ["toast_tuple_target=8160"] for table in ("settlements", "messages", "audit_log")}
