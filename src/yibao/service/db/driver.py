"""Core statements run at the driver: compiled once, several sent in one round trip.

Through a Session every statement pays for SQLAlchemy's per-execution work (cache key,
parameter and result set-up), for psycopg's cursor machinery and, on PostgreSQL, for a round
trip of its own. For the dozen statements every settlement issues that is most of a call's
time, so they run here instead:

* :class:`Prepared` holds a Core statement and compiles it once per dialect — SQLAlchemy's
  own SQL text and its column types' bind and result processors, so values go in and come
  out exactly as they would through a Session (fen on SQLite, ``Decimal`` on PostgreSQL);
* :class:`Statements` runs them in one transaction of a Session. Writes are queued and sent
  with the next reads, or by :meth:`Statements.send` / :meth:`Statements.commit`.

Everything sent together is one round trip on PostgreSQL: libpq's pipeline mode on the
Session's psycopg connection, each statement prepared once per connection (its parameters
typed by the casts SQLAlchemy renders) and its values dumped and its rows loaded by psycopg's
own adapters. The server still runs the statements in order, each read seeing the writes and
the locks before it. On SQLite, which is in-process, they run one after another on the
sqlite3 cursor.

Driver errors are raised as the SQLAlchemy exceptions a Session would raise
(``IntegrityError``, ``OperationalError``, …), with the driver's error as ``orig``.
"""

from __future__ import annotations

import itertools
import operator
import re
import select
from collections import namedtuple
from typing import Any, Callable, Mapping, Sequence, Union

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

Parameters = Mapping[str, Any]
#: one statement's parameters, or a list of them (the statement runs once per item)
Values = Union[Parameters, list[Parameters]]


class Prepared:
    """A Core statement (or one per dialect name, where the SQL differs), compiled on first use."""

    def __init__(self, statement: Executable | Mapping[str, Executable]):
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def statement(self, dialect: Dialect) -> Executable:
        """The Core statement for this dialect (to run it through a Session instead)."""
        return self._statement[dialect.name] if isinstance(self._statement, Mapping) else self._statement

    def compiled(self, dialect: Dialect) -> "_Compiled":
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self.statement(dialect), dialect)
        return compiled


_NAMED = re.compile(r"%\((\w+)\)s|%%")


def _numbered(sql: str) -> tuple[str, list[str]]:
    """psycopg's ``%(name)s`` placeholders as libpq's ``$1, $2, …``, and the names in that order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "%"
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return _NAMED.sub(number, sql), names


class _Compiled:
    """One statement's SQL for one driver, with how its parameters are bound and its rows read.

    Everything that does not change from one execution to the next is worked out here, once:
    the parameters' order (taken with one ``itemgetter``), the positions whose column type
    converts the value first, and — from the first result's column types — the row maker."""

    def __init__(self, statement: Executable, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        if compiled.positiontup is None:  # psycopg's named placeholders: numbered for libpq
            self.sql, order = _numbered(compiled.string)
        else:
            self.sql, order = compiled.string, list(compiled.positiontup)
        self._dialect = dialect
        self._fixed = {name: value for name, value in compiled.params.items() if value is not None}
        processors = {name: processor for name, bind in compiled.binds.items()
                      if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
        self.arity = len(order)
        self._pick: Callable[[Parameters], tuple[Any, ...]] = (
            operator.itemgetter(*order) if len(order) > 1 else _one(order[0]) if order else lambda _values: ())
        self._processed = [(i, processors[name]) for i, name in enumerate(order) if name in processors]
        columns = list(getattr(statement, "selected_columns", ()))
        self._types = [column.type for column in columns]
        self._row = namedtuple("Row", [column.key for column in columns], rename=True) if columns else None  # type: ignore[misc]
        self._maker: Callable[[Sequence[Any]], Any] | None = None  # from the first result's column types

    @property
    def returns_rows(self) -> bool:
        return self._row is not None

    def parameters(self, values: Parameters) -> tuple[Any, ...]:
        """The values in the SQL's order, each as its column type binds it."""
        if self._fixed:
            values = {**self._fixed, **values}
        bound = self._pick(values)
        if not self._processed:
            return bound
        processed = list(bound)
        for i, processor in self._processed:
            processed[i] = processor(processed[i])
        return tuple(processed)

    def maker(self, column_types: Callable[[], Sequence[Any]]) -> Callable[[Sequence[Any]], Any]:
        """What turns one driver row into a named tuple, each value as the column's type reads
        it (``column_types``: the driver's types of the result's columns, asked once)."""
        if self._maker is None:
            make = self._row._make  # type: ignore[union-attr]
            readers = [(i, reader) for i, (type_, code) in enumerate(zip(self._types, column_types()))
                       if (reader := type_.dialect_impl(self._dialect).result_processor(self._dialect, code))]
            if not readers:
                self._maker = make
            else:
                def read(values: Sequence[Any]) -> Any:
                    values = list(values)
                    for i, reader in readers:
                        values[i] = reader(values[i])
                    return make(values)

                self._maker = read
        return self._maker


def _one(name: str) -> Callable[[Parameters], tuple[Any, ...]]:
    """The one-value case of ``itemgetter``, which would return the value itself, not a tuple."""
    return lambda values: (values[name],)


#: one statement to run: compiled, the parameter tuples (one per execution)
_Batch = list[tuple[_Compiled, list[tuple[Any, ...]]]]
_names = itertools.count()  # of prepared statements: unique in the process, so never taken twice on a connection


class Statements:
    """The statements of one transaction that bypass the Session, on its connection."""

    def __init__(self, session: Session):
        self.session = session
        self._connection = session.connection()
        self._dialect = self._connection.dialect
        self._dbapi = self._connection.connection.driver_connection
        self._queued: list[tuple[Prepared, Values]] = []
        if self._dialect.name == "postgresql":
            # one per DBAPI connection: the pool clears ``info`` when it replaces the connection,
            # and with it the statements prepared on the old one
            info = self._connection.connection.info
            pipeline = info.get("yibao.pipeline")
            if pipeline is None:
                pipeline = info["yibao.pipeline"] = _Pipeline(self._dbapi)
            self._send: Callable[[_Batch, bool], list[Any]] = pipeline.run
        else:
            self._send = self._one_by_one

    @property
    def dialect(self) -> Dialect:
        return self._dialect

    def queue(self, statement: Prepared, values: Values) -> None:
        """A write, sent with the next reads or by :meth:`send` (a list of values: once per item)."""
        self._queued.append((statement, values))

    def read(self, *reads: tuple[Prepared, Parameters]) -> list[list[Any]]:
        """The queued writes, then these reads, in one round trip: each read's rows (named tuples)."""
        return self._run(reads)

    def send(self) -> None:
        """Send the queued writes (one round trip on PostgreSQL; nothing when none is queued)."""
        if self._queued:
            self._run(())

    def commit(self) -> None:
        """Send the queued writes and commit, in the same round trip on PostgreSQL, where the
        Session's commit that follows then finds nothing to do; with nothing queued, and on
        SQLite, the Session commits."""
        if self._queued:
            self._run((), commit=True)

    def _run(self, reads: Sequence[tuple[Prepared, Parameters]], commit: bool = False) -> list[list[Any]]:
        batch: _Batch = []
        dialect = self._dialect
        for statement, values in [*self._queued, *reads]:
            compiled = statement.compiled(dialect)
            if type(values) is list:  # once per item (not isinstance(…, Mapping): that asks typing's ABCs, slowly)
                batch.append((compiled, [compiled.parameters(v) for v in values]))
            else:
                batch.append((compiled, [compiled.parameters(values)]))
        self._queued = []
        try:
            return self._send(batch, commit)
        except self._dialect.loaded_dbapi.Error as error:
            raise self._translated(error) from error

    def _one_by_one(self, batch: _Batch, commit: bool) -> list[Any]:
        """SQLite: each statement in turn on the sqlite3 cursor (the Session commits)."""
        results = []
        cursor = self._dbapi.cursor()
        for compiled, parameters in batch:
            if compiled.returns_rows:
                cursor.execute(compiled.sql, parameters[0])
                make = compiled.maker(lambda: [column[1] for column in cursor.description])
                results.append([make(row) for row in cursor.fetchall()])
            elif parameters:
                cursor.executemany(compiled.sql, parameters)
        return results

    def _translated(self, error: Exception) -> exc.DBAPIError:
        """The driver's error as SQLAlchemy raises it; a lost connection is not returned to the pool."""
        lost = self._dialect.is_disconnect(error, self._dbapi, None)
        if lost:
            self._connection.invalidate(error)
        return exc.DBAPIError.instance(None, None, error, self._dialect.loaded_dbapi.Error,
                                       connection_invalidated=lost, dialect=self._dialect)


class _Pipeline:
    """One round trip of statements on a psycopg connection, through libpq's pipeline mode.

    psycopg's own pipeline costs several times more CPU per statement (a cursor, query
    conversion and result bookkeeping each); here a statement is a prepared-statement call
    with parameters dumped as text by the connection's adapters, its rows loaded by them."""

    def __init__(self, dbapi: Any):
        from psycopg import errors, pq
        from psycopg.adapt import PyFormat, Transformer

        self._dbapi, self._pgconn = dbapi, dbapi.pgconn
        self._prepared: dict[str, bytes] = {}  # SQL → the name it is prepared under on this connection
        self._errors, self._pq = errors, pq
        self._sync = pq.ExecStatus.PIPELINE_SYNC
        self._transformer = Transformer(dbapi)  # the connection's adapters; one call at a time uses a connection
        self._text = PyFormat.TEXT
        self._formats: dict[int, list[Any]] = {}  # parameter count → every parameter dumped as text

    def run(self, batch: _Batch, commit: bool) -> list[Any]:
        plan = self._plan(batch, commit)
        pgconn = self._pgconn
        pgconn.enter_pipeline_mode()
        try:
            for kind, detail in plan:
                if kind == "command":
                    pgconn.send_query_params(detail, None)
                elif kind == "prepare":
                    pgconn.send_prepare(detail[1], detail[0].encode())
                else:
                    pgconn.send_query_prepared(detail[0], detail[1])
            pgconn.pipeline_sync()
            self._flush()
            answers = [self._result() for _ in plan]
            while self._result().status != self._sync:
                pass
        finally:
            pgconn.exit_pipeline_mode()
        return self._outcome(plan, answers)

    def _plan(self, batch: _Batch, commit: bool) -> list[tuple[str, Any]]:
        """What to send, in order: ("command", SQL), ("prepare", (SQL, name)), ("rows" | "write",
        (name, parameters, compiled)); each gets one result."""
        plan: list[tuple[str, Any]] = []
        if not self._dbapi.autocommit and self._pgconn.transaction_status == self._pq.TransactionStatus.IDLE:
            plan.append(("command", self._begin()))  # psycopg's own implicit BEGIN, which this bypasses
        preparing: dict[str, bytes] = {}
        dump = self._transformer.dump_sequence
        for compiled, parameters in batch:
            name = self._prepared.get(compiled.sql) or preparing.get(compiled.sql)
            if name is None:
                name = preparing[compiled.sql] = f"yibao_{next(_names)}".encode()
                plan.append(("prepare", (compiled.sql, name)))
            kind = "rows" if compiled.returns_rows else "write"
            formats = self._formats.get(compiled.arity)
            if formats is None:
                formats = self._formats[compiled.arity] = [self._text] * compiled.arity
            for values in parameters:
                plan.append((kind, (name, dump(values, formats), compiled)))
        if commit:
            plan.append(("command", b"COMMIT"))
        return plan

    def _outcome(self, plan: list[tuple[str, Any]], answers: list[Any]) -> list[Any]:
        """The reads' rows; the first error, if any statement failed (the rest were skipped)."""
        status = self._pq.ExecStatus
        results = []
        for (kind, detail), answer in zip(plan, answers):
            if answer.status == status.FATAL_ERROR:
                error = self._errors.error_from_result(answer, encoding=self._dbapi.info.encoding)
                if isinstance(error, self._errors.InvalidSqlStatementName):
                    self._prepared.clear()  # deallocated behind this back: prepare them again from the next call
                raise error
            if kind == "prepare":
                self._prepared[detail[0]] = detail[1]  # only once the server has it
            elif kind == "rows":
                results.append(self._rows(answer, detail[2]))
        return results

    def _begin(self) -> bytes:
        level = self._dbapi.isolation_level
        return b"BEGIN" if level is None else f"BEGIN ISOLATION LEVEL {level.name.replace('_', ' ')}".encode()

    def _flush(self) -> None:
        while self._pgconn.flush():
            self._wait(select.POLLIN | select.POLLOUT)
            self._pgconn.consume_input()

    def _result(self) -> Any:
        """The next result (waiting for it without holding the GIL); the separators are skipped."""
        pgconn = self._pgconn
        while True:
            while pgconn.is_busy():
                self._wait(select.POLLIN)
                pgconn.consume_input()
            result = pgconn.get_result()
            if result is not None:
                return result

    def _wait(self, events: int) -> None:
        poller = select.poll()  # not select(): a busy server's socket numbers may pass its limit
        poller.register(self._pgconn.socket, events)
        poller.poll()

    def _rows(self, result: Any, compiled: _Compiled) -> list[Any]:
        self._transformer.set_pgresult(result)
        make = compiled.maker(lambda: [result.ftype(i) for i in range(result.nfields)])
        return self._transformer.load_rows(0, result.ntuples, make)


__all__ = ["Prepared", "Statements", "Parameters", "Values"]
