"""Killing the service with SIGKILL in the middle of a load loses nothing it acknowledged
and leaves nothing half-written — on SQLite and on PostgreSQL.

A real ``yibao serve --workers 1`` process serves a migrated database with the demo data
and a few covered employees (the ``database_url`` fixture's database: a SQLite file, or a
fresh database — ``fresh_postgres`` — on the suite's ``postgres_server``). Several HIS
threads drive outpatient flows (2201 → 2203 → 2204 → 2207) over HTTP, each on its own
connection, and record every 2207 the service acknowledged (``infcode`` 0, with its
``setl_id`` and figures). After a random number of settlements, at a random moment, the
server's process group receives SIGKILL: no shutdown code runs, and requests are in
flight. PostgreSQL itself keeps running, as a real one would.

This happens twice over. After each crash, with the service down, the database must show:
every acknowledged settlement with the figures that were answered; no half-written
settlement (account entry, fee lines, visit status, stored answer: all there or none);
each person's settlements equal to settling the same visits one by one in the recorded
order; running totals equal to those derived from the settlements; ``rebuild_totals``
reproducing the stored totals exactly. Restarted on the same database, the service
answers again: each 2207 whose answer was lost in the crash is sent again with its msgid
(as an HIS does after a timeout) and ends with exactly one settlement of its visit, an
acknowledged one sent again gets its first answer, and new flows settle.
"""

from __future__ import annotations

import os
import random
import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from service.conftest import HZ_HOSPITAL, add_person, covered_person
from service.load_helpers import (
    GatewayRefused, ServerProcess, bill, doc_amounts, http_his, integrity_problems, ok, open_visit, row_amounts,
    send, serial_expectation, settle_input,
)
from yibao.service import ledger
from yibao.service.client import MsgIds
from yibao.service.db import models as m
from yibao.service.db.engine import Database

PERSONS = [f"3301000000{8000 + i}" for i in range(5)]
THREADS = 4
CRASHES = 2
YEAR = 2026
OPENING = ledger.Balances(Decimal("0.00"), Decimal("3000.00"))  # covered_person's 2024 opening, seen from 2026


@pytest.fixture
def servers():
    """Every server process a test starts is stopped and reaped, whatever happens."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()
        server.log_path.unlink(missing_ok=True)


class Load:
    """HIS threads settling outpatient visits until the server goes away."""

    def __init__(self, base_url: str, rnd: random.Random, msgids: MsgIds):
        self.base_url, self.rnd, self.msgids = base_url, rnd, msgids
        self.lock = threading.Lock()
        self.acknowledged: dict[str, tuple[str, str, dict]] = {}  # setl_id → (msgid, mdtrt_id, setlinfo)
        self.uncertain: list[tuple[str, str, str]] = []  # (msgid, psn_no, mdtrt_id) of 2207s cut off by the crash
        self.refusals: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(THREADS)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a load thread did not stop"

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def _run(self, i: int) -> None:
        try:
            his = http_his(self.base_url, HZ_HOSPITAL, self.msgids, timeout=30)
        except httpx.TransportError:
            return
        except RuntimeError as exc:  # 9001 refused
            with self.lock:
                self.refusals.append(f"9001: {exc}")
            return
        k = i
        while not self.stop.is_set():
            with self.lock:
                psn_no = self.rnd.choice(PERSONS)
            k += THREADS
            try:
                mdtrt_id = open_visit(his, psn_no, bill(k), ipt_otp_no=f"MZ{k:05d}")
            except httpx.TransportError:
                return  # the server is gone; this visit may be half-prepared, which is allowed
            except GatewayRefused as exc:
                with self.lock:
                    self.refusals.append(str(exc))
                return
            msgid = his.msgids.next()
            try:
                _, answer = send(his, "2207", settle_input(psn_no, mdtrt_id), msgid=msgid)
            except (httpx.TransportError, ValueError):
                with self.lock:
                    self.uncertain.append((msgid, psn_no, mdtrt_id))
                return
            with self.lock:
                if answer["infcode"] == 0:
                    info = answer["output"]["setlinfo"]
                    self.acknowledged[info["setl_id"]] = (msgid, mdtrt_id, info)
                else:
                    self.refusals.append(f"2207 {mdtrt_id}: {answer['err_msg']}")
                    return


def _check_database(database_url: str, acknowledged: dict[str, tuple[str, str, dict]], where: str) -> None:
    db = Database(database_url)
    try:
        with db.sessions() as session:
            for setl_id, (msgid, mdtrt_id, info) in acknowledged.items():
                row = session.get(m.Settlement, setl_id)
                assert row is not None, f"acknowledged settlement {setl_id} is lost ({where})"
                assert (row.msgid, row.mdtrt_id) == (msgid, mdtrt_id)
                assert row_amounts(row) == {k: info[k] for k in row_amounts(row)}, f"{setl_id} changed ({where})"
            assert integrity_problems(session) == [], where
            for psn_no in PERSONS:
                rows = session.scalars(select(m.Settlement.setl_id).where(m.Settlement.psn_no == psn_no)).all()
                if not rows:
                    continue
                serial = serial_expectation(session, psn_no, OPENING)
                for row, expected in zip(serial.rows, serial.documents):
                    assert row_amounts(row) == doc_amounts(expected), f"{psn_no} {row.setl_id} ({where})"
                assert ledger.stored_totals(session, psn_no) == serial.totals
                assert ledger.balances(session, psn_no, YEAR).total == serial.balance
            report = ledger.compare_totals(session)
            assert report.identical, f"stored ≠ derived running totals ({where}): {report.differences}"
            before = ledger.stored_totals(session)
        with db.transaction() as session:
            rebuilt = ledger.rebuild_totals(session)
        assert rebuilt.identical, rebuilt.differences
        with db.sessions() as session:
            assert ledger.stored_totals(session) == before, "rebuild_totals did not reproduce the stored totals"
    finally:
        db.dispose()


def test_sigkill_mid_load_loses_no_acknowledged_settlement_and_half_writes_nothing(
        database_url: str, servers: list[ServerProcess], tmp_path: Path) -> None:
    for psn_no in PERSONS:
        add_person(database_url, covered_person(psn_no))
    seed = int.from_bytes(os.urandom(4), "big")
    rnd = random.Random(seed)
    msgids = MsgIds(HZ_HOSPITAL[0])
    acknowledged: dict[str, tuple[str, str, dict]] = {}
    uncertain: list[tuple[str, str, str]] = []

    for crash in range(CRASHES):
        server = ServerProcess(database_url, workers=1, log_dir=tmp_path)
        servers.append(server)
        server.start()
        if uncertain:
            _recover(server.base_url, msgids, uncertain, acknowledged)
        load = Load(server.base_url, rnd, msgids)
        threshold = rnd.randint(10, 25)
        load.start()
        deadline = time.monotonic() + 60
        while load.count() < threshold and not load.refusals and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rnd.uniform(0, 0.15))  # a random moment, with flows at every stage in flight
        server.kill()
        load.join()
        where = f"crash {crash + 1}, seed {seed}"
        assert load.refusals == [], f"refused during the load ({where}): {load.refusals[:3]}\n{server.log()}"
        assert load.count() >= threshold, f"only {load.count()} settlements in 60 s ({where})\n{server.log()}"
        acknowledged.update(load.acknowledged)
        uncertain = list(load.uncertain)
        _check_database(database_url, acknowledged, where)

    again = ServerProcess(database_url, workers=1, log_dir=tmp_path)
    servers.append(again)
    again.start()
    his = _recover(again.base_url, msgids, uncertain, acknowledged)
    # a new flow settles
    mdtrt_id = open_visit(his, PERSONS[0], bill(1), ipt_otp_no="MZ-AFTER")
    msgid, answer = send(his, "2207", settle_input(PERSONS[0], mdtrt_id))
    info = ok(answer, "2207 after the restart")["setlinfo"]
    acknowledged[info["setl_id"]] = (msgid, mdtrt_id, info)
    again.stop()

    db = Database(database_url)
    try:
        with db.sessions() as session:
            settled = session.execute(select(m.Settlement.mdtrt_id, func.count()).group_by(m.Settlement.mdtrt_id)).all()
            assert all(n == 1 for _, n in settled), "a visit was settled twice"
            assert len(settled) == len(acknowledged), "a settlement nobody was told about"
    finally:
        db.dispose()
    _check_database(database_url, acknowledged, f"after the restart, seed {seed}")


def _recover(base_url: str, msgids: MsgIds, uncertain: list[tuple[str, str, str]],
             acknowledged: dict[str, tuple[str, str, dict]]):
    """What an HIS does after the service comes back: send each 2207 it got no answer to
    again, with the same msgid. It must end with exactly one settlement of the visit,
    whether the first attempt committed before the crash or not. An acknowledged 2207 sent
    again is answered as the first time."""
    his = http_his(base_url, HZ_HOSPITAL, msgids)
    for msgid, psn_no, mdtrt_id in uncertain:
        info = ok(his.call("2207", settle_input(psn_no, mdtrt_id), msgid=msgid), f"2207 {msgid} sent again")["setlinfo"]
        acknowledged[info["setl_id"]] = (msgid, mdtrt_id, info)
    if acknowledged:
        msgid, mdtrt_id, info = next(iter(acknowledged.values()))
        replay = ok(his.call("2207", settle_input(info["psn_no"], mdtrt_id), msgid=msgid), "2207 replay")
        assert replay["setlinfo"] == info
    return his
