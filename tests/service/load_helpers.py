"""Helpers for the concurrency and crash tests: servers that really listen, outpatient
flows over HTTP, the serial expectation from the engine, and the invariants a settlement
database keeps whatever happened to the process that wrote it.

* :class:`ThreadedServer` — uvicorn serving an application object on a loopback socket
  from a background thread (one process, the gateway's own thread pool);
* :class:`ServerProcess` — ``yibao serve`` as a child process in its own process group,
  which can be killed with SIGKILL and is always reaped;
* :func:`open_visit` / :func:`settle_input` — 2201 → 2203 → 2204, then the 2207 input;
* :func:`serial_expectation` — the engine (:func:`yibao.engine.pipeline.settle_case`) run
  on the person's recorded settlements, one by one, in the order they were recorded;
* :func:`integrity_problems` — every way a settlement could be half-written.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yibao.case import Case
from yibao.case import Visit as EngineVisit
from yibao.engine.pipeline import Settlement as EngineSettlement
from yibao.engine.pipeline import settle_case
from yibao.money import ZERO, fmt
from yibao.report import settlement_json
from yibao.service import ledger
from yibao.service.client import GATEWAY_PATH, HisClient, MsgIds
from yibao.service.db import models as m
from yibao.service.people import case_person

VENV_BIN = Path(sys.executable).parent
AMOUNTS = (
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc",
    "hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "oth_pay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay",
    "psn_part_amt",
)

# Catalogue codes of the 杭州 demo catalogue (src/yibao/service/demo/catalogue/hangzhou.csv).
CONSULT = "001101000010000-110100001"  # 普通门诊诊察费, 甲类
CEFTRIAXONE = "XJ01DDA128B002010100056"  # 头孢曲松钠注射剂, 乙类 10 %, 限价 12.50
NUTRITION = "ZZZ000000001"  # 自费营养品, 丙类
DAY = "2026-06-15"  # the visits' date: inside every test person's coverage and a year with a policy


def bill(k: int) -> list[tuple[str, Decimal, Decimal]]:
    """The ``k``-th visit's bill as (code, quantity, unit price): amounts differ from visit to
    visit, so that the order of settlement changes each visit's figures (the deductible is
    crossed once, the account runs out once)."""
    lines = [(CONSULT, Decimal(1), Decimal("25.00")), (CEFTRIAXONE, Decimal(20 + 7 * (k % 9)), Decimal("13.00"))]
    if k % 3 == 0:
        lines.append((NUTRITION, Decimal(1), Decimal(30 + k)))
    return lines


# ---------------------------------------------------------------------- calling the gateway


class GatewayRefused(AssertionError):
    pass


def ok(answer: dict[str, Any], what: str) -> dict[str, Any]:
    if answer.get("infcode") != 0:
        raise GatewayRefused(f"{what}: infcode {answer.get('infcode')}: {answer.get('err_msg')}")
    return answer["output"]


def send(his: HisClient, infno: str, input_: dict[str, Any], *, msgid: str | None = None) -> tuple[str, dict[str, Any]]:
    """One call, answering its msgid too."""
    msgid, body, headers = his.request(infno, input_, msgid=msgid)
    return msgid, his.http.post(GATEWAY_PATH, content=body, headers=headers).json()


def http_his(base_url: str, institution: tuple[str, str, str], msgids: MsgIds | None = None, *,
             timeout: float = 60.0) -> HisClient:
    """A signed-in HIS over its own keep-alive HTTP connection.

    Clients of one institution should share one :class:`MsgIds`: two sequences of the same
    institution would both produce ``code + second + 0001``."""
    code, secret, admdvs = institution
    his = HisClient(httpx.Client(base_url=base_url, timeout=timeout), institution_code=code, paasid=code,
                    secret=secret, admdvs=admdvs)
    if msgids is not None:
        his.msgids = msgids
    his.sign_in()
    return his


def open_visit(his: HisClient, psn_no: str, lines: Iterable[tuple[str, Decimal, Decimal]], *, day: str = DAY,
               ipt_otp_no: str = "MZ1") -> str:
    """Register an outpatient visit (2201), give its information (2203), upload its bill (2204)."""
    begntime = f"{day} 09:00:00"
    reg = ok(his.call("2201", {"data": {"psn_no": psn_no, "insutype": "310", "begntime": begntime, "mdtrt_cert_type": "02",
                                        "mdtrt_cert_no": psn_no, "ipt_otp_no": ipt_otp_no, "med_type": "11"}}), "2201")
    mdtrt_id = reg["data"]["mdtrt_id"]
    ok(his.call("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11", "begntime": begntime},
                         "diseinfo": [{"diag_type": "1", "diag_srt_no": "1", "diag_code": "J06.900", "diag_name": "上呼吸道感染"}]}),
       "2203")
    feedetail = [{"feedetl_sn": str(i), "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B1",
                  "fee_ocur_time": f"{day} 09:10:00", "med_list_codg": code, "cnt": str(cnt), "pric": str(pric),
                  "det_item_fee_sumamt": str((cnt * pric).quantize(Decimal("0.01")))}
                 for i, (code, cnt, pric) in enumerate(lines, 1)]
    ok(his.call("2204", {"feedetail": feedetail}), "2204")
    return mdtrt_id


def settle_input(psn_no: str, mdtrt_id: str) -> dict[str, Any]:
    return {"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "mdtrt_cert_type": "02", "mdtrt_cert_no": psn_no,
                     "med_type": "11", "insutype": "310", "psn_setlway": "01", "acct_used_flag": "1"}}


# ---------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadedServer:
    """uvicorn serving ``app`` from a daemon thread, on a socket bound before it starts."""

    def __init__(self, app: Any):
        import uvicorn

        # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets that say so,
        # and without it every keep-alive answer waits for the client's delayed ACK
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "ThreadedServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the in-process server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()


class ServerProcess:
    """``yibao serve --database URL --port P --workers W`` as a child process.

    It runs in its own session (process group), so :meth:`kill` (SIGKILL) reaches the
    workers too; :meth:`stop` is safe to call any number of times and always reaps."""

    def __init__(self, database_url: str, *, workers: int = 1, port: int | None = None,
                 env: dict[str, str] | None = None, log_dir: Path | None = None):
        self.database_url, self.workers = database_url, workers
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.env.pop("YIBAO_DATABASE_URL", None)
        self.log_path = Path(tempfile.mkstemp(prefix="yibao-serve-", suffix=".log", dir=log_dir)[1])
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(VENV_BIN / "yibao"), "serve", "--database", self.database_url, "--port", str(self.port),
                 "--workers", str(self.workers), "--log-level", "warning"],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"yibao serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"yibao serve did not answer /health within {timeout} s:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL, as a power cut or the OOM killer would: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self.kill()
        try:  # stragglers of the group (uvicorn's worker processes)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)


# ---------------------------------------------------------------------- what the engine says


@dataclass(frozen=True)
class Serial:
    """Settling the recorded visits one by one, in the recorded order."""

    rows: list[m.Settlement]  # the recorded settlements, in created_at order
    settlements: list[EngineSettlement]  # the engine's, in the same order
    totals: dict[tuple[str, int, str], Decimal]  # running totals (non-account postings)

    @property
    def documents(self) -> list[dict[str, Any]]:
        return [settlement_json(s) for s in self.settlements]

    @property
    def balance(self) -> Decimal:
        return self.settlements[-1].balance


def engine_visit(visit: m.Visit, lines: list[m.FeeLine]) -> EngineVisit:
    """The engine's visit for a stored outpatient visit and its fee lines (case format)."""
    items = []
    for line in lines:
        item: dict[str, Any] = {"code": line.med_list_codg, "amount": line.det_item_fee_sumamt,
                                "class": {"01": "A", "02": "B", "03": "C"}[line.chrgitm_lv]}
        if item["class"] == "B":
            item["selfpay_ratio"] = line.selfpay_prop
        if item["class"] != "C":
            item["over_limit"] = line.overlmt_amt
        items.append(item)
    return EngineVisit.model_validate({
        "id": visit.mdtrt_id, "date": visit.begntime.date(), "kind": visit.kind, "level": visit.level,
        "location": visit.location, "route": visit.route, "disease": visit.disease, "use_account": True,
        "items": items,
    })


def recorded_in_order(session: Session, psn_no: str) -> list[m.Settlement]:
    rows = session.scalars(select(m.Settlement).where(m.Settlement.psn_no == psn_no)
                           .order_by(m.Settlement.created_at, m.Settlement.setl_id)).all()
    stamps = [r.created_at for r in rows]
    assert len(set(stamps)) == len(stamps), "two settlements of one person carry the same created_at"
    return list(rows)


def serial_expectation(session: Session, psn_no: str, opening: ledger.Balances,
                       rows: list[m.Settlement] | None = None) -> Serial:
    """``settle_case`` on the person's recorded visits in the recorded order (or the order
    of ``rows``), from the ``opening`` balances."""
    person = session.get(m.Person, psn_no)
    assert person is not None
    rows = recorded_in_order(session, psn_no) if rows is None else rows
    visits = []
    for row in rows:
        visit = session.get(m.Visit, row.mdtrt_id)
        lines = session.scalars(select(m.FeeLine).where(m.FeeLine.setl_id == row.setl_id).order_by(m.FeeLine.id)).all()
        visits.append(engine_visit(visit, list(lines)))
    case = Case.model_validate({"city": person.city, "person": case_person(person, opening.current, opening.history),
                                "visits": visits})
    settlements = settle_case(case)
    totals: dict[tuple[str, int, str], Decimal] = {}
    for s in settlements:
        for counter, amount in s.state.postings:
            if not counter.startswith("account."):
                key = (psn_no, s.year, counter)
                totals[key] = totals.get(key, ZERO) + amount
    return Serial(rows, settlements, totals)


def row_amounts(row: m.Settlement) -> dict[str, str]:
    return {name: fmt(getattr(row, name)) for name in (*AMOUNTS, "balc")}


def doc_amounts(doc: dict[str, Any]) -> dict[str, str]:
    return {name: doc[name] for name in (*AMOUNTS, "balc")}


def nonzero(totals: dict[Any, Decimal]) -> dict[Any, Decimal]:
    return {k: v for k, v in totals.items() if v != 0}


# ---------------------------------------------------------------------- invariants


def integrity_problems(session: Session) -> list[str]:
    """Every sign of a half-written settlement or registration; empty when all is whole."""
    problems: list[str] = []
    settlements = session.scalars(select(m.Settlement).order_by(m.Settlement.setl_id)).all()
    live_final = {s.mdtrt_id for s in settlements if s.kind == "final" and s.reversed_by is None}
    for s in settlements:
        entries = session.scalars(select(m.AccountEntry).where(m.AccountEntry.setl_id == s.setl_id)).all()
        paid = sum((e.current_amount + e.history_amount for e in entries), ZERO)
        if s.acct_pay != 0 and (len(entries) != 1 or paid != -s.acct_pay):
            problems.append(f"{s.setl_id}: acct_pay {s.acct_pay} but account entries {[(e.current_amount, e.history_amount) for e in entries]}")
        if s.acct_pay == 0 and entries:
            problems.append(f"{s.setl_id}: no account payment but {len(entries)} account entries")
        visit = session.get(m.Visit, s.mdtrt_id)
        if visit is None:
            problems.append(f"{s.setl_id}: its visit {s.mdtrt_id} does not exist")
            continue
        if s.kind == "final" and s.reversed_by is None:
            if visit.status != "settled":
                problems.append(f"{s.setl_id}: visit {visit.mdtrt_id} is {visit.status!r}, not 'settled'")
            lines = session.scalars(select(m.FeeLine).where(m.FeeLine.mdtrt_id == s.mdtrt_id, m.FeeLine.status == "active")).all()
            taken = [ln for ln in lines if ln.setl_id == s.setl_id]
            if not taken or len(taken) != len(lines):
                problems.append(f"{s.setl_id}: {len(taken)} of the visit's {len(lines)} active fee lines point to it")
            if sum((ln.det_item_fee_sumamt for ln in taken), ZERO) != s.medfee_sumamt:
                problems.append(f"{s.setl_id}: its fee lines do not add up to medfee_sumamt {s.medfee_sumamt}")
        message = session.get(m.Message, s.msgid)
        if message is None:
            problems.append(f"{s.setl_id}: no message row for its msgid {s.msgid}")
        elif (message.response.get("output") or {}).get("setlinfo", {}).get("setl_id") != s.setl_id:
            problems.append(f"{s.setl_id}: message {s.msgid} answers something else")
    for visit in session.scalars(select(m.Visit).where(m.Visit.status == "settled")):
        if visit.mdtrt_id not in live_final:
            problems.append(f"visit {visit.mdtrt_id} is 'settled' without a settlement")
    for message in session.scalars(select(m.Message).where(m.Message.infno == "2207")):
        setl_id = (message.response.get("output") or {}).get("setlinfo", {}).get("setl_id")
        if message.response.get("infcode") == 0 and session.get(m.Settlement, setl_id) is None:
            problems.append(f"message {message.msgid} answered setl_id {setl_id}, which is not recorded")
    for message in session.scalars(select(m.Message).where(m.Message.infno == "2201")):
        mdtrt_id = ((message.response.get("output") or {}).get("data") or {}).get("mdtrt_id")
        if session.get(m.Visit, mdtrt_id) is None:
            problems.append(f"message {message.msgid} registered visit {mdtrt_id}, which does not exist")
    orphans = session.scalar(select(func.count()).select_from(m.FeeLine).where(
        m.FeeLine.setl_id.is_not(None), m.FeeLine.setl_id.not_in(select(m.Settlement.setl_id))))
    if orphans:
        problems.append(f"{orphans} fee line(s) point to a settlement that does not exist")
    return problems
