"""Engines and transactions for SQLite (the embedded default) and PostgreSQL.

Writers for one person must serialise (running totals and the account are read, then
written). On PostgreSQL the settlement locks the person's row (``SELECT … FOR UPDATE``);
SQLite has one writer at a time, and every transaction starts ``BEGIN IMMEDIATE`` so that
a read-then-write never races another writer. SQLite runs in WAL mode: a killed process
loses no committed transaction.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from typing import Iterator

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

#: JSON columns are written and read by orjson, several times faster than the standard
#: library on the settlement path (a trace, a ``setldetail``, the stored answer, a person's
#: history parts). Keys that are not strings are written as strings, as ``json.dumps`` does.
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def json_bytes(value: object) -> bytes:
    """A JSON column's value as UTF-8 JSON (psycopg sends the bytes as they are)."""
    return orjson.dumps(value, option=_JSON_OPTIONS)


def json_text(value: object) -> str:
    """A JSON column's value as text (SQLite stores JSON as text)."""
    return json_bytes(value).decode()


def make_engine(url: str, *, pool_size: int = 8) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               json_serializer=json_text, json_deserializer=orjson.loads)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # noqa: ANN001
            dbapi_conn.isolation_level = None  # SQLAlchemy issues BEGIN itself
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # noqa: ANN001
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    # no pre-ping: it costs a round trip per request; connections are recycled instead, and a
    # dropped one fails its call, which the gateway retries as a whole. psycopg prepares no
    # statement of its own: the settlement path prepares its own (db/driver.py), and psycopg
    # deallocates every prepared statement of a connection at each rollback once it has one.
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=600,
                         connect_args={"prepare_threshold": None},
                         json_serializer=json_bytes, json_deserializer=orjson.loads)


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str, *, pool_size: int = 8):
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer; threads of one process queue here, in order, rather than
        # polling the database lock with growing sleeps (which makes a long tail of waits)
        self._writer = threading.RLock() if self.is_sqlite else nullcontext()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed whole on success, rolled back whole on any error."""
        with self._writer, self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
