"""The batch settlement on Apache Spark: the compiled engine, one partition of persons at a time.

The compiled engine (:mod:`yibao.batch.engine`) settles each person's visits in (date,
table order) with running totals per person-year, so any set of persons *with all their
visits* can be settled on its own. This module distributes exactly that:

1. the visits, each joined with its person's columns (and, for itemised bills, with its
   bill lines nested as a list), are ``repartition``-ed by ``person_id`` and sorted within
   each partition by (``person_id``, ``date``, input row number);
2. ``mapInArrow`` runs :func:`_settle_partition` on every partition: it gathers the
   partition's Arrow record batches into chunks that end at a person boundary, splits each
   chunk back into a persons table (one row per person) and a visits (and lines) table,
   and calls :func:`yibao.batch.engine.settle` on it — the same validation, plans and
   numba kernel as the single-machine engine;
3. the result rows carry the input row number, so :func:`settle_tables` returns them in
   the visits' order and :func:`settle_files` writes them in that order.

Every column equals the compiled engine's except ``plan``: plans are compiled and numbered
per chunk, so the number means nothing across the batch and Spark results hold ``-1``.

Policies are loaded once per Python worker process (:data:`_POLICIES`). The overlay files
are read on the driver and travel to the executors as a broadcast of their *texts*, which
each worker writes to a temporary directory of its own once — nothing but the yibao
package needs to be installed on the executors. ``docs/batch/spark.md`` has the design,
how to run it locally and on a cluster, and tuning.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yibao.batch import engine, tables
from yibao.batch.tables import TableError
from yibao.errors import YibaoError

if TYPE_CHECKING:  # pyspark is an optional dependency: ``pip install 'yibao[spark]'``
    from pyspark.sql import DataFrame, SparkSession

#: Visits handed to one :func:`yibao.batch.engine.settle` call inside a partition (at most
#: this many plus one person's visits): bounds a Python worker's memory, whatever the
#: partition's size.
PARTITION_CHUNK = 1_000_000

APP_NAME = "yibao-batch"

PERSON_COLUMNS = tuple(c.name for c in tables.PERSONS)
VISIT_COLUMNS = tuple(c.name for c in tables.VISITS)
LINE_FIELDS = tuple(c.name for c in tables.LINES if c.name != "visit_id")

# internal columns: input row numbers, and markers that the joins found a visit / a person
ROW, LINE_ROW, LINES, HAS_VISIT, HAS_PERSON = "_row", "_lrow", "_lines", "_has_visit", "_has_person"
_ROW_BITS = 40  # settle_files: row number = file ordinal << 40 | row index in the file

#: What ``mapInArrow`` yields: the RESULTS columns (all nullable for Spark) and the row number.
OUT_SCHEMA = pa.schema([pa.field(f.name, f.type, nullable=True) for f in tables.schema(tables.RESULTS)]
                       + [pa.field(ROW, pa.int64(), nullable=True)])

#: Policies per (overlay set, city), loaded once per Python worker process.
_POLICIES: dict[tuple[str, str], Any] = {}


# ---------------------------------------------------------------------- session


def session(master: str = "local[2]", *, conf: dict[str, str] | None = None) -> "SparkSession":
    """A SparkSession for the batch (the caller stops it).

    A ``local[...]`` master gets settings for one machine: the Python workers run this
    interpreter, everything binds to 127.0.0.1, no web UI, few shuffle partitions, 2 GiB of
    driver memory. On a cluster master those — and which Python the executors run
    (``spark.pyspark.python``) — are left to ``spark-submit`` and ``spark-defaults.conf``;
    Arrow is enabled either way. ``conf`` adds or overrides settings.
    """
    SparkSession = _pyspark().SparkSession
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise YibaoError("Spark needs a Java runtime (17 or later): install one, or set JAVA_HOME")
    builder = SparkSession.builder.master(master).appName(APP_NAME)
    settings = {"spark.sql.execution.arrow.pyspark.enabled": "true"}
    if master.startswith("local"):
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        settings.update({
            "spark.pyspark.python": sys.executable,
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.memory": "2g",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": str(2 * _local_cores(master)),
        })
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextmanager
def _session(master: str, spark: "SparkSession | None") -> Iterator["SparkSession"]:
    """The given session; else the process's active one; else a new one, stopped after."""
    if spark is None:
        spark = _pyspark().SparkSession.getActiveSession()
    if spark is not None:
        yield spark
        return
    spark = session(master)
    try:
        yield spark
    finally:
        spark.stop()


def _local_cores(master: str) -> int:
    found = re.match(r"local\[(\d+|\*)", master)
    if not found:
        return 1  # "local": one thread
    if found.group(1) == "*":
        return os.cpu_count() or 2
    return max(1, int(found.group(1)))


def _pyspark_storage() -> Any:
    from pyspark import StorageLevel

    return StorageLevel


def _pyspark() -> Any:
    try:
        from pyspark import sql
    except ImportError:
        raise YibaoError("the spark engine needs PySpark: pip install 'yibao[spark]'") from None
    return sql


# ---------------------------------------------------------------------- entry points


def settle_tables(persons: pa.Table, visits: pa.Table, lines: pa.Table | None = None, *, overlays: Sequence[str] = (),
                  master: str = "local[2]", partitions: int | None = None, spark: "SparkSession | None" = None) -> pa.Table:
    """Settle ``visits`` of ``persons`` on Spark: the RESULTS table, one row per visit in the
    visits' order, equal to :func:`yibao.batch.engine.settle_tables` but for ``plan`` (-1).

    The tables are validated on the driver first, so a bad table is refused with the same
    :class:`TableError` (naming the rows) as the compiled engine gives. ``spark``: a session
    to use (not stopped); otherwise the active one, or a new one on ``master``, stopped after.
    """
    persons = tables.validate(persons, tables.PERSONS, "persons", "person_id")
    visits = tables.validate(visits, tables.VISITS, "visits", "visit_id")
    _check_persons(persons, visits)
    lines = _check_lines(lines, visits) if lines is not None and lines.num_rows else None
    overlays = tuple(str(o) for o in overlays)
    engine.policies_for([], overlays)  # a bad overlay is refused here, before Spark starts
    if not visits.num_rows:
        return _documented(_no_plans(engine.settle_tables(persons, visits, lines, overlays=overlays)))
    n = visits.num_rows
    with _session(master, spark) as spark:
        persons_df = spark.createDataFrame(_plain(persons))
        visits_df = spark.createDataFrame(_plain(visits).append_column(ROW, pa.array(np.arange(n, dtype=np.int64))))
        lines_df = None
        if lines is not None:
            lines_df = spark.createDataFrame(
                _plain(lines).append_column(LINE_ROW, pa.array(np.arange(lines.num_rows, dtype=np.int64))))
        results, shipped = _settled(spark, persons_df, visits_df, lines_df, overlays, partitions)
        try:
            with _table_errors():
                out = results.toArrow()
        finally:
            shipped.destroy()
    where = np.full(n, -1, np.int64)
    where[out.column(ROW).to_numpy()] = np.arange(out.num_rows)
    if out.num_rows != n or (where < 0).any():
        raise YibaoError(f"spark returned {out.num_rows} results for {n} visits, not one for each")
    return _documented(out.take(pa.array(where)).drop_columns([ROW]))


def settle_files(visits_path: str | Path, out_path: str | Path, *, persons_path: str | Path | None = None,
                 lines_path: str | Path | None = None, overlays: Sequence[str] = (), master: str = "local[2]",
                 partitions: int | None = None, spark: "SparkSession | None" = None) -> dict[str, Any]:
    """Parquet in, Parquet out, all in Spark: nothing passes through the driver's memory.

    ``visits_path`` is a Parquet file or a directory of part files (local, HDFS, S3, …, as
    Spark reads them); the persons default to ``persons.parquet`` beside it, and the lines
    to ``lines.parquet`` beside it when that exists (local paths only). ``out_path`` becomes
    a directory of Parquet part files (replaced if present) holding the RESULTS rows in the
    visits' order — file by file in path order, row by row within each — so that reading the
    directory back gives them in that order. No plans file is written (see ``plan``).
    Returns :func:`yibao.batch.engine.summary`'s figures, computed by Spark.
    """
    visits_path = str(visits_path)
    beside = visits_path.rstrip("/").rpartition("/")[0] or "."
    persons_path = str(persons_path) if persons_path else f"{beside}/persons.parquet"
    if lines_path is None and "://" not in visits_path and Path(beside, "lines.parquet").exists():
        lines_path = f"{beside}/lines.parquet"
    overlays = tuple(str(o) for o in overlays)
    engine.policies_for([], overlays)
    with _session(master, spark) as spark:
        persons_df = _read(spark, persons_path, tables.PERSONS, "persons")
        visits_df = _read(spark, visits_path, tables.VISITS, "visits", ROW)
        lines_df = _read(spark, str(lines_path), tables.LINES, "lines", LINE_ROW) if lines_path else None
        _unique(persons_df, "persons", "person_id")
        _unique(visits_df, "visits", "visit_id")
        results, shipped = _settled(spark, persons_df, visits_df, lines_df, overlays, partitions)
        # kept on the executors' disks: the global sort samples its input before sorting it,
        # and the settlement must run once, not once for the sample and again for the sort
        results = results.persist(_pyspark_storage().DISK_ONLY)
        try:
            with _table_errors():
                summary = _summary(results)
                (results.orderBy(ROW).drop(ROW).write.mode("overwrite").option("compression", "zstd")
                 .parquet(str(out_path)))
        finally:
            results.unpersist()
            shipped.destroy()
        return summary


# ---------------------------------------------------------------------- the pipeline


def _settled(spark: "SparkSession", persons: "DataFrame", visits: "DataFrame", lines: "DataFrame | None",
             overlays: tuple[str, ...], partitions: int | None) -> tuple["DataFrame", Any]:
    """The results DataFrame (RESULTS columns and the row number) and the overlays' broadcast."""
    F = _pyspark().functions
    persons = persons.select(*PERSON_COLUMNS).withColumn(HAS_PERSON, F.lit(True))
    visits = visits.select(*VISIT_COLUMNS, ROW).withColumn(HAS_VISIT, F.lit(True))
    if lines is not None:  # each visit's lines as one list, in the lines' input order
        nested = lines.groupBy("visit_id").agg(
            F.array_sort(F.collect_list(F.struct(LINE_ROW, *LINE_FIELDS))).alias(LINES))
        visits = visits.join(nested, "visit_id", "full")  # "full": lines of no visit are found, not dropped
    joined = visits.join(persons, "person_id", "left")
    n = partitions or 3 * spark.sparkContext.defaultParallelism
    arranged = joined.repartition(n, "person_id").sortWithinPartitions("person_id", "date", ROW)
    shipped = spark.sparkContext.broadcast(_overlay_texts(overlays))
    settle = _PartitionSettler(shipped, PARTITION_CHUNK)
    return arranged.mapInArrow(settle, _spark_schema(OUT_SCHEMA)), shipped


class _PartitionSettler:
    """The function ``mapInArrow`` runs on each partition (a picklable object: the broadcast
    of the overlays and the chunk size travel with it)."""

    def __init__(self, overlays: Any, chunk: int):
        self.overlays, self.chunk = overlays, chunk

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return _settle_partition(batches, self.overlays.value, self.chunk)


def _settle_partition(batches: Iterator[pa.RecordBatch], overlays: tuple[str, tuple[tuple[str, str], ...]],
                      chunk: int) -> Iterator[pa.RecordBatch]:
    """Settle a partition sorted by (person, date, row), chunk by chunk; a chunk holds whole persons."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        _check_joined(batch)
        pending.append(batch)
        count += batch.num_rows
        if count >= chunk:
            cut = _last_person_start(pending)
            if cut:  # settle every person but the last, whose visits may go on in the next batch
                table = pa.Table.from_batches(pending)
                yield from _settle_chunk(table.slice(0, cut), overlays)
                pending = table.slice(cut).to_batches()
                count = table.num_rows - cut
    if pending:
        yield from _settle_chunk(pa.Table.from_batches(pending), overlays)


def _check_joined(batch: pa.RecordBatch) -> None:
    """Lines of no visit, and visits of no person, are refused as the compiled engine refuses them."""
    names = batch.schema.names
    if LINES in names and batch.column(HAS_VISIT).null_count:
        orphans = pc.filter(batch.column("visit_id"), pc.is_null(batch.column(HAS_VISIT))).to_pylist()
        raise TableError(f"lines.visit_id: not in the visits table: {_some(orphans)}")
    if batch.column(HAS_PERSON).null_count:
        unknown = pc.filter(batch, pc.is_null(batch.column(HAS_PERSON)))
        pairs = [f"{v} ({p})" for v, p in zip(unknown.column("visit_id").to_pylist(), unknown.column("person_id").to_pylist())]
        raise TableError(f"visits.person_id: not in the persons table for visit(s) {_some(pairs)}")


def _some(items: list[Any], limit: int = 5) -> str:
    more = f" and {len(items) - limit} more in this partition" if len(items) > limit else ""
    return ", ".join(str(x) for x in items[:limit]) + more


def _last_person_start(batches: list[pa.RecordBatch]) -> int:
    """Where the last person's rows begin in the concatenation of ``batches`` (sorted by person)."""
    offset = sum(b.num_rows for b in batches)
    last = batches[-1].column("person_id")[-1].as_py()
    for batch in reversed(batches):
        offset -= batch.num_rows
        pid = batch.column("person_id")
        if pid[0].as_py() != last:  # the last person starts in this batch, or at the start of the next
            found = pc.index(pid, last).as_py()
            return offset + (found if found >= 0 else batch.num_rows)
    return 0


def _settle_chunk(table: pa.Table, overlays: tuple[str, tuple[tuple[str, str], ...]]) -> Iterator[pa.RecordBatch]:
    pid = table.column("person_id")
    starts = np.concatenate([[0], np.flatnonzero(pc.not_equal(pid[1:], pid[:-1]).to_numpy(zero_copy_only=False)) + 1])
    persons = table.select(list(PERSON_COLUMNS)).take(pa.array(starts))
    visits = table.select(list(VISIT_COLUMNS))
    lines = _unnest(table) if LINES in table.column_names else None
    cities = sorted(set(persons.column("city").to_pylist()) - {None})
    # one thread: Spark already runs one task a core
    results = engine.settle(persons, visits, lines, policies=_policies(overlays, cities), threads=1).results
    results = _no_plans(results).append_column(ROW, table.column(ROW))
    results = pa.Table.from_arrays([results.column(f.name).cast(f.type) for f in OUT_SCHEMA], schema=OUT_SCHEMA)
    yield from results.to_batches()


def _unnest(table: pa.Table) -> pa.Table | None:
    """The chunk's bill lines as a LINES table: each visit's list, in the lines' input order."""
    nested = table.column(LINES).combine_chunks()
    if not len(nested) or nested.null_count == len(nested):
        return None
    items = pc.list_flatten(nested)
    if not len(items):
        return None
    owner = table.column("visit_id").combine_chunks().take(pc.list_parent_indices(nested))
    return pa.Table.from_arrays([owner, *(items.field(name) for name in LINE_FIELDS)], names=["visit_id", *LINE_FIELDS])


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary-encoded columns decoded (Spark takes plain Arrow types)."""
    for k, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            table = table.set_column(k, pa.field(f.name, f.type.value_type, f.nullable), table.column(k).cast(f.type.value_type))
    return table


def _documented(results: pa.Table) -> pa.Table:
    """The results in the documented RESULTS schema (plain types, ``tables.RESULTS``)."""
    target = tables.schema(tables.RESULTS)
    return pa.Table.from_arrays([results.column(f.name).cast(f.type) for f in target], schema=target)


def _no_plans(results: pa.Table) -> pa.Table:
    k = results.schema.get_field_index("plan")
    return results.set_column(k, results.schema.field(k), pa.array(np.full(results.num_rows, -1, np.int32)))


# ---------------------------------------------------------------------- overlays and policies


def _overlay_texts(overlays: tuple[str, ...]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The overlay files' names and texts, in order, and a key naming that set."""
    texts = tuple((Path(path).name, Path(path).read_text(encoding="utf-8")) for path in overlays)
    digest = hashlib.sha256()
    for name, text in texts:
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()[:20], texts


def _policies(overlays: tuple[str, tuple[tuple[str, str], ...]], cities: list[str]) -> dict[str, Any]:
    """Each city's policy with the shipped overlays, loaded once per worker process."""
    key, texts = overlays
    missing = [c for c in cities if (key, c) not in _POLICIES]
    if missing:
        found = engine.policies_for(missing, _materialise(key, texts))
        _POLICIES.update({(key, c): found[c] for c in missing})
    return {c: _POLICIES[(key, c)] for c in cities}


def _materialise(key: str, texts: tuple[tuple[str, str], ...]) -> list[str]:
    """The overlay texts as files in this machine's temporary directory (written once)."""
    if not texts:
        return []
    folder = Path(tempfile.gettempdir()) / f"yibao-overlays-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, (name, text) in enumerate(texts):
        path = folder / f"{k:02d}-{name}"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            partial = folder / f".{path.name}.{os.getpid()}"
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, path)
        paths.append(str(path))
    return paths


# ---------------------------------------------------------------------- checks and files


def _check_persons(persons: pa.Table, visits: pa.Table) -> None:
    known = pc.is_in(visits.column("person_id"), value_set=persons.column("person_id").combine_chunks())
    if not pc.all(known).as_py():
        raise TableError("visits.person_id: not in the persons table in "
                         + tables._rows(pc.invert(known).to_numpy(zero_copy_only=False), visits.column("visit_id").combine_chunks()))


def _check_lines(lines: pa.Table, visits: pa.Table) -> pa.Table:
    """The compiled engine's checks of the lines against the visits, with its messages."""
    lines = tables.validate(lines, tables.LINES, "lines")
    vid = visits.column("visit_id").combine_chunks()
    known = pc.is_in(lines.column("visit_id"), value_set=vid)
    if not pc.all(known).as_py():
        raise TableError(f"lines.visit_id: not in the visits table in {tables._rows(pc.invert(known).to_numpy(zero_copy_only=False), None)}")
    over = pc.greater(lines.column("over_limit_fen"), lines.column("amount_fen")).to_numpy(zero_copy_only=False)
    if over.any():
        raise TableError(f"lines.over_limit_fen exceeds amount_fen in {tables._rows(over, None)}")
    given = np.zeros(visits.num_rows, np.bool_)
    for name in tables.SPLIT:
        given |= visits.column(name).to_numpy() != 0
    has_lines = pc.is_in(vid, value_set=lines.column("visit_id").combine_chunks()).to_numpy(zero_copy_only=False)
    if (given & has_lines).any():
        raise TableError("visits: give a bill either as split columns or as lines, not both, in "
                         + tables._rows(given & has_lines, vid))
    return lines


def _read(spark: "SparkSession", path: str, columns: tuple[tables.Column, ...], what: str, row: str | None = None) -> "DataFrame":
    """A Parquet table as a DataFrame of its documented columns, with its row number ``row``
    (file ordinal in path order << 40 | row index in the file) when asked."""
    F = _pyspark().functions
    try:
        df = spark.read.parquet(path)
    except Exception as exc:  # AnalysisException: PATH_NOT_FOUND, UNABLE_TO_INFER_SCHEMA, …
        raise TableError(f"{what}: {path} is not a readable Parquet file or directory ({_first_line(exc)})") from None
    missing = [c.name for c in columns if c.name not in df.columns]
    if missing:
        raise TableError(f"{what}: missing column(s) {', '.join(missing)}")
    names = [c.name for c in columns]
    if row is None:
        return df.select(*names)
    files = sorted((r[0] for r in df.select("_metadata.file_path").distinct().collect()), key=unquote)
    if len(files) >= 2 ** (63 - _ROW_BITS):
        raise TableError(f"{what}: {path} has too many files ({len(files)})")
    ordinal = F.create_map(*(F.lit(x) for k, name in enumerate(files) for x in (name, k)))
    number = F.shiftleft(ordinal[F.col("_metadata.file_path")].cast("long"), _ROW_BITS) + F.col("_metadata.row_index")
    return df.select(*names, number.alias(row))


def _unique(df: "DataFrame", what: str, column: str) -> None:
    twice = df.groupBy(column).count().where("count > 1").limit(1).collect()
    if twice:
        raise TableError(f"{what}.{column}: {twice[0][0]!r} appears more than once")


def _summary(results: "DataFrame") -> dict[str, Any]:
    """:func:`yibao.batch.engine.summary`'s figures, summed by Spark."""
    from decimal import Decimal

    F = _pyspark().functions
    money = ("medfee_sumamt", "hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "acct_pay", "psn_cash_pay")
    row = results.agg(F.count(F.lit(1)).alias("visits"), F.sum(F.when(F.col("status") == "settled", 1).otherwise(0)).alias("settled"),
                      *(F.sum(f"{m}_fen").alias(m) for m in money)).collect()[0]
    out: dict[str, Any] = {"visits": row["visits"], "settled": row["settled"] or 0}
    out["refused"] = out["visits"] - out["settled"]
    for m in money:
        out[m] = str((Decimal(row[m] or 0) / 100).quantize(Decimal("0.01")))
    return out


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


@contextmanager
def _table_errors() -> Iterator[None]:
    """A :class:`TableError` raised in a Spark task is raised again here, as itself."""
    try:
        yield
    except Exception as exc:
        found = re.search(r"TableError: (.+)", str(exc))
        if found and not isinstance(exc, TableError):
            message = found.group(1).strip()
            if re.search(r"\brow \d", message):
                message += " (rows counted within a Spark partition; the ids are exact)"
            raise TableError(message) from None
        raise


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
