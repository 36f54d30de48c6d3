"""Parallel settlements for one person equal serial ones, on SQLite and PostgreSQL.

Why real servers and not ``TestClient``: the property under test is what the database
does when transactions for one person overlap, so the requests must reach the gateway at
the same time through the same stack a hospital uses. Each test runs against a listening
uvicorn server in two shapes:

* ``threads`` — uvicorn in a background thread of the test process, serving the ``app``
  fixture. Every gateway call runs in the server's thread pool on its own database
  connection, so the transactions overlap in the database; the GIL only interleaves Python
  code, and every wait on a lock or on I/O releases it.
* ``processes`` — ``yibao serve --workers 2`` as child processes: the two workers share
  nothing but the database, so only the database's locks can serialise them (and each
  worker's per-process caches must not carry one worker's view into the other's work).
* ``event loops`` — ``yibao serve --workers 4`` with ``YIBAO_GATEWAY_THREADS=0``: each
  worker's event loop answers one call at a time; a call waiting for the person's lock
  holds its worker while the others go on.

Each client thread has its own HTTP connection and its own signed-in ``HisClient``; a
barrier releases all the 2207s at once. The clients of one institution share a single
msgid sequence, as one HIS would.

The serial expectation is the engine itself: ``settle_case`` on the same visits in the
order the service recorded them (``settlements.created_at``), from the balances the person
had before the first settlement. Every recorded figure, the running totals and the account
balance must equal it; ``compare_totals`` must find the stored totals equal to the ones
derived from the settlements.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from service.conftest import HZ_HOSPITAL, add_person, covered_person
from service.load_helpers import (
    ServerProcess, ThreadedServer, bill, doc_amounts, http_his, integrity_problems, ok, open_visit, row_amounts,
    serial_expectation, settle_input,
)
from yibao.money import ZERO
from yibao.service import ledger
from yibao.service.client import MsgIds
from yibao.service.db import models as m
from yibao.service.db.engine import Database

N_VISITS = 10
PSN = "33010000007001"
YEAR = 2026


@pytest.fixture(params=["threads", "processes", "event loops"])
def server(request: pytest.FixtureRequest, database_url: str):
    """The base URL of a listening service on ``database_url``."""
    if request.param == "threads":
        with ThreadedServer(request.getfixturevalue("app")) as srv:
            yield srv.base_url
    elif request.param == "processes":
        with ServerProcess(database_url, workers=2) as srv:
            yield srv.base_url
    else:
        with ServerProcess(database_url, workers=4, env={"YIBAO_GATEWAY_THREADS": "0"}) as srv:
            yield srv.base_url


@pytest.fixture
def db(database_url: str):
    database = Database(database_url)
    yield database
    database.dispose()


def _in_parallel(calls):
    """Run the callables at once (released together by a barrier); their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_parallel_settlements_for_one_person_equal_serial_ones(server: str, database_url: str, db: Database) -> None:
    add_person(database_url, covered_person(PSN))  # 当年 1000.00, 历年 2000.00 opened in 2024
    with db.sessions() as session:
        opening = ledger.balances(session, PSN, YEAR)
    assert opening.total == Decimal("3000.00")

    msgids = MsgIds(HZ_HOSPITAL[0])
    setup = http_his(server, HZ_HOSPITAL, msgids)
    visits = [open_visit(setup, PSN, bill(k), ipt_otp_no=f"MZ{k:04d}") for k in range(N_VISITS)]
    clients = [http_his(server, HZ_HOSPITAL, msgids) for _ in visits]

    answers = _in_parallel([lambda his=his, mdtrt_id=mdtrt_id: his.call("2207", settle_input(PSN, mdtrt_id))
                            for his, mdtrt_id in zip(clients, visits)])

    outputs = [ok(a, f"2207 of {mdtrt_id}") for a, mdtrt_id in zip(answers, visits)]
    answered = {o["setlinfo"]["setl_id"]: o["setlinfo"] for o in outputs}
    assert len(answered) == N_VISITS

    with db.sessions() as session:
        serial = serial_expectation(session, PSN, opening)
        rows = serial.rows
        assert [r.setl_id for r in rows if r.kind == "final"] == [r.setl_id for r in rows]
        assert sorted(r.mdtrt_id for r in rows) == sorted(visits)
        assert set(answered) == {r.setl_id for r in rows}

        # each settlement, in the recorded order, is what settling one by one gives
        for position, (row, expected) in enumerate(zip(rows, serial.documents)):
            assert row_amounts(row) == doc_amounts(expected), f"settlement {position + 1} of {N_VISITS} ({row.setl_id})"
            assert {k: answered[row.setl_id][k] for k in row_amounts(row)} == row_amounts(row), "answer ≠ record"
        # …and the order matters: the same visits the other way round give other figures
        backwards = serial_expectation(session, PSN, opening, rows[::-1]).documents[::-1]
        assert [doc_amounts(d) for d in backwards] != [doc_amounts(d) for d in serial.documents]

        # running totals: stored = serial = derived from the settlements
        stored = ledger.stored_totals(session, PSN)
        assert stored == serial.totals
        report = ledger.compare_totals(session)
        assert report.identical, report.differences

        # the account: no payment lost, none counted twice
        closing = ledger.balances(session, PSN, YEAR)
        paid = sum((r.acct_pay for r in rows), ZERO)
        assert closing.total == serial.balance == opening.total - paid
        assert rows[-1].balc == closing.total
        entries = session.scalar(select(func.count()).select_from(m.AccountEntry).where(
            m.AccountEntry.psn_no == PSN, m.AccountEntry.kind == "settlement"))
        assert entries == sum(1 for r in rows if r.acct_pay != 0)
        assert integrity_problems(session) == []


def test_one_msgid_sent_twice_at_once_settles_once_and_answers_twice_the_same(
        server: str, database_url: str, db: Database) -> None:
    add_person(database_url, covered_person(PSN))
    msgids = MsgIds(HZ_HOSPITAL[0])
    setup = http_his(server, HZ_HOSPITAL, msgids)
    first, second = http_his(server, HZ_HOSPITAL, msgids), http_his(server, HZ_HOSPITAL, msgids)
    rounds = 4  # several races, each a pair of identical requests released together
    for k in range(rounds):
        mdtrt_id = open_visit(setup, PSN, bill(k), ipt_otp_no=f"MZ{k:04d}")
        msgid = msgids.next()
        a, b = _in_parallel([lambda his=his: his.call("2207", settle_input(PSN, mdtrt_id), msgid=msgid)
                             for his in (first, second)])
        ok(a, f"2207 {msgid}")
        assert a == b, "a duplicate must get the first answer, byte for byte"
        with db.sessions() as session:
            settled = session.scalars(select(m.Settlement).where(m.Settlement.mdtrt_id == mdtrt_id)).all()
            assert [s.setl_id for s in settled] == [a["output"]["setlinfo"]["setl_id"]]
            assert settled[0].msgid == msgid
            assert session.scalar(select(func.count()).select_from(m.Message).where(m.Message.msgid == msgid)) == 1
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.Settlement).where(m.Settlement.psn_no == PSN)) == rounds
        assert integrity_problems(session) == []
        assert ledger.compare_totals(session).identical
