"""Settle claim tables: validate, encode, compile the plans, run the kernel, write results.

:func:`settle_tables` is the whole batch for in-memory Arrow tables; :func:`settle_files`
reads and writes Parquet. The steps:

1. validate the tables against :mod:`yibao.batch.tables` (errors name the rows);
2. split bills given as lines (G3: 先行自付 rounded per line, the city's default ratio);
3. encode every fact as a small integer, find the distinct visit *profiles* (facts, policy
   epoch, age band) and compile one plan per profile (:mod:`yibao.batch.plans`);
4. sort by (person, date) and run :func:`yibao.batch.kernel.settle_sorted` over chunks that
   end at a person boundary;
5. assemble the results in the input's row order.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from yibao import vocabulary as V
from yibao.batch import kernel, plans, tables
from yibao.batch.tables import TableError
from yibao.errors import YibaoError
from yibao.money import fmt
from yibao.policy.loader import CityPolicy
from yibao.engine.rules import Rules

CHUNK = 2_000_000  # visits per kernel call at most (the progress bar's step)
MIN_CHUNK = 100_000  # fewer visits than this a thread are settled on one thread
SLICE = 1 << 20  # result rows assembled (and written, as a row group) at a time
#: Visits settled in one pass at most, when a file's visits come grouped by person (see
#: :func:`settle_files`): a pass's arrays take about 300 bytes a visit, about 1.2 GiB
PASS = 4_000_000
_EPOCH = dt.date(1970, 1, 1)


@dataclass
class Settled:
    """A batch's results (``tables.RESULTS``, in the visits' order; ``None`` when they went
    to a sink), their totals (:func:`tally`) and its plans."""

    results: pa.Table | None
    totals: dict[str, int] = field(default_factory=dict)
    plans: list[dict[str, Any]] = field(default_factory=list)
    counters: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, Any]:
        return _summary_of(self.totals)


# ---------------------------------------------------------------------- policies


def policies_for(cities: Sequence[str], overlays: Sequence[str] = ()) -> dict[str, CityPolicy]:
    """Each city's policy with the overlays that name it (an overlay names its city)."""
    from yibao.service.policies import Policies

    chosen = Policies(tuple(str(o) for o in overlays))
    return {city: chosen.for_city(city) for city in cities}


# ---------------------------------------------------------------------- entry points


def settle_tables(persons: pa.Table, visits: pa.Table, lines: pa.Table | None = None, *,
                  overlays: Sequence[str] = (), progress: bool = False) -> pa.Table:
    """Settle ``visits`` of ``persons``; the RESULTS table, one row per visit in order."""
    return settle(persons, visits, lines, overlays=overlays, progress=progress).results


def settle(persons: pa.Table, visits: pa.Table, lines: pa.Table | None = None, *, overlays: Sequence[str] = (),
           policies: Mapping[str, CityPolicy] | None = None, progress: bool | Callable[[int], None] = False,
           threads: int | None = None, sink: Callable[[pa.Table], None] | None = None, book: plans.Book | None = None,
           first_row: int = 0, seen_ids: tables.SeenIds | None = None) -> Settled:
    """Settle ``visits`` of ``persons`` with their plans and timings; the kernel runs on
    ``threads`` threads (default: one a processor). ``sink``, if given, receives the
    results in slices of rows, in order, as they are assembled (a writer can start early),
    and they are not kept: memory stays at a slice's.

    A batch settled in passes (:func:`settle_files` on a large file) gives every pass the
    same ``book`` (its plans and policies), the pass's ``first_row`` in the whole table
    (errors name rows by it) and ``seen_ids``, where the visit ids are gathered to be
    checked once for repeats at the end, instead of in each pass. ``progress`` is then a
    function told how many visits were settled."""
    import time

    clock = {"start": time.perf_counter()}

    def lap(name: str) -> None:
        now = time.perf_counter()
        clock[name] = now - clock.pop("_last", clock["start"])
        clock["_last"] = now

    persons = tables.validate(persons, tables.PERSONS, "persons", "person_id")
    visits = tables.validate(visits, tables.VISITS, "visits", "visit_id", unique=False, first_row=first_row)
    n = visits.num_rows
    with ThreadPoolExecutor(1) as pool:  # the visit ids checked on a second core while the persons are looked up
        if seen_ids is None:
            unique = pool.submit(tables.check_unique, visits, "visits", "visit_id")
        else:
            unique = pool.submit(seen_ids.add, visits.column("visit_id"))
        try:
            pidx = _person_index(visits, persons, first_row)
        finally:
            unique.result()  # a repeated visit id is the error to tell first
    person_city_codes, person_city_values = _encode(persons, ("city",))
    city_names = sorted(v for v in person_city_values["city"] if v is not None)
    if book is None:
        book = plans.Book(dict(policies) if policies is not None else policies_for(city_names, overlays))
    policies = book.policies
    lap("validate")

    days = _days(visits.column("date"))
    city_dict = {c: k for k, c in enumerate(city_names)}
    person_city = np.array([city_dict.get(v, -1) for v in person_city_values["city"]], np.int32)[person_city_codes["city"]]
    city = person_city[pidx] if n else np.zeros(0, np.int32)

    # policy epochs and age bands, per city
    epoch = np.zeros(n, np.int32)
    band = np.zeros(n, np.int32)
    birth = _days(persons.column("birth_date"), nulls=True)
    marks_of: dict[str, list[dt.date]] = {}
    breaks_of: dict[str, list[int]] = {}
    for c, name in enumerate(city_names):
        rows = slice(None) if len(city_names) == 1 else np.flatnonzero(city == c)
        marks = plans.epochs(policies[name])
        breaks = plans.age_breaks(policies[name])
        marks_of[name], breaks_of[name] = marks, breaks
        epoch[rows] = np.searchsorted(np.array([(m - _EPOCH).days for m in marks], np.int64), days[rows], side="right")
        if breaks:  # without age conditions every age is alike
            ages = _ages(birth[pidx[rows]], days[rows])
            band[rows] = np.where(ages < 0, -1, np.searchsorted(np.array(breaks, np.int64), np.maximum(ages, 0), side="right"))
    lap("epochs")

    split = [_ints(visits.column(name)) for name in tables.SPLIT]
    refused_rows: dict[int, str] = {}
    if lines is not None and lines.num_rows:
        split, refused_rows = _split_lines(lines, visits, split, city, epoch, city_names, marks_of, policies, days)
    refused_rows.update(_residents_with_accounts(persons, pidx))  # checked first, as the reference engine does
    lap("lines")

    # profiles: person facts × visit facts × epoch × age band. A fact the city's policy never
    # looks at is blanked for its visits, so it does not multiply the plans.
    person_cols = ("city", "scheme", "category", "grade", "assistance", "flags", "chronic_filings")
    person_codes, person_values = _encode(persons, person_cols + ("sex",))
    visit_cols = ("kind", "level", "location", "route", "transfer_from", "disease", "procedure")
    visit_codes, visit_values = _encode(visits, visit_cols)
    filed = _filed(persons, visit_codes, visit_values, pidx)
    employee = (pc.equal(persons.column("scheme"), "employee").to_numpy(zero_copy_only=False))
    use_account = visits.column("use_account").to_numpy() & employee[pidx]  # residents have no account (G8)
    reads = {name: plans.dimensions_read(policies[name]) for name in city_names}
    by_filed = {name: plans.reads_filed_set(policies[name]) for name in city_names}
    for c, name in enumerate(city_names):
        read = reads[name]
        mine = slice(None) if len(city_names) == 1 else person_city == c
        theirs = slice(None) if len(city_names) == 1 else city == c
        for dim in ("category", "grade", "assistance", "flags"):
            if dim not in read:
                person_codes[dim][mine] = len(person_values[dim]) - 1
        if not by_filed[name]:
            person_codes["chronic_filings"][mine] = len(person_values["chronic_filings"]) - 1
        keep = plans.flags_read(policies[name])  # only the flags some rule asks about
        _recode(person_codes["flags"], person_values["flags"], mine,
                lambda v: None if v is None else "+".join(f for f in v.split("+") if f in keep))
        if not by_filed[name]:  # (a `by_filed` city sees the disease among the filed set)
            # each class stands for its first disease of the whole vocabulary, whichever of
            # them this table has: the same plan for the same class in every pass of a file
            classes = plans.disease_classes(policies[name], sorted(set(V.DISEASES).union(d for d in visit_values["disease"] if d is not None)))
            _recode(visit_codes["disease"], visit_values["disease"], theirs, lambda d: None if d is None else classes[d])
    sex = person_codes["sex"][pidx]
    sex_null = len(person_values["sex"]) - 1
    sexed_kinds = [k for k, v in enumerate(visit_values["kind"]) if v in ("delivery", "prenatal", "family_planning")]
    for c, name in enumerate(city_names):  # sex matters where the policy reads it, or the kind needs it (G13)
        if "sex" not in reads[name]:
            sex[(city == c) & ~np.isin(visit_codes["kind"], sexed_kinds)] = sex_null
    person_key = _combine([person_codes[k] for k in person_cols])[0].astype(np.int32)
    parts = [person_key[pidx], sex] + [visit_codes[k] for k in visit_cols] + [use_account, filed, epoch, band]
    profile_of, first_row_of = _combine(parts)
    lap("profiles")

    numbers = np.empty(len(first_row_of) + 1, np.int32)  # each profile's plan in the book (and the refusing plan)
    for j, r in enumerate(first_row_of):
        r = int(r)
        p = int(pidx[r])
        pf = {k: person_values[k][person_codes[k][p]] for k in person_cols}
        name = city_names[person_city[p]]
        vf = {k: visit_values[k][visit_codes[k][r]] for k in visit_cols}
        kind, disease = vf["kind"], vf["disease"]
        chronic = _members(pf["chronic_filings"])
        if filed[r] and kind == "chronic" and disease not in chronic:
            chronic = chronic + (disease,)
        special = (disease,) if filed[r] and kind == "special" else ()
        profile = plans.Profile(
            city=name, day=plans.representative_day(marks_of[name], int(epoch[r]), (_EPOCH + dt.timedelta(days=int(days[r]))).year),
            scheme=pf["scheme"], category=pf["category"], grade=int(pf["grade"] or 1), sex=person_values["sex"][sex[r]],
            assistance=pf["assistance"], flags=_members(pf["flags"]), chronic_filings=chronic, special_filings=special,
            age=plans.representative_age(breaks_of[name], int(band[r])),
            kind=kind, level=vf["level"], location=vf["location"], route=vf["route"], transfer_from=vf["transfer_from"],
            disease=disease, procedure=_members(vf["procedure"]) or None, use_account=bool(use_account[r]),
        )
        numbers[j] = book.number(profile)
    if refused_rows:  # visits refused before any rule: a plan that refuses, so the totals stay untouched
        numbers[-1] = book.refusing()
        profile_of = profile_of.copy()
        profile_of[list(refused_rows)] = len(numbers) - 1
    else:
        numbers = numbers[:-1]
    plan_of = numbers[profile_of]  # each visit's plan in the book
    rows = [book.rows[k] for k in numbers]
    packed, distinct = plans.pack(rows)
    # the facts' codes are done with: their memory serves the kernel's outputs next
    del person_codes, visit_codes, person_key, parts, sex, use_account, filed, epoch, band, city
    lap("compile")

    # sort by (person, day); visits of one person keep their table order on one day
    order = None if _sorted(pidx, days) else np.lexsort((days, pidx))
    arrange = (lambda a: a) if order is None else (lambda a: a[order])
    s_pidx, s_days, s_plan = arrange(pidx), arrange(days), arrange(distinct.astype(np.int32)[profile_of])
    s_year = _year(s_days)
    year = s_year if order is None else _year(days)
    s_split = [arrange(a) for a in split]
    acct_cur, acct_hist, bonus = (_ints(persons.column(c)) for c in ("account_current_fen", "account_history_fen", "ci_cap_bonus_fen"))
    daily = np.array(book.counters.daily or [False], np.bool_)
    # every output is written by the kernel; its pages are touched here, so that the kernel's
    # time is the pass's own (a fresh page's first touch is a fault, dear on a virtual machine)
    out = np.empty((len(kernel.OUTPUTS), n), np.int64)
    out.fill(0)
    lap("sort")
    workers = max(1, min(threads or os.cpu_count() or 1, n // MIN_CHUNK or 1))
    bar = progress if callable(progress) else _progress(n, progress)

    def settle_chunk(bound: tuple[int, int]) -> int:
        lo, hi = bound
        kernel.settle_sorted(s_pidx[lo:hi], s_days[lo:hi], s_year[lo:hi], s_plan[lo:hi], *(a[lo:hi] for a in s_split),
                             acct_cur, acct_hist, bonus, packed["plan"], packed["line"], packed["seg"], packed["cap"],
                             packed["layer"], packed["lseg"], packed["assist"], packed["burden"], daily,
                             *(column[lo:hi] for column in out))
        return hi - lo

    # chunks end at a person's last visit, so they are independent: the kernel releases the
    # interpreter's lock and each core takes chunks in turn (four a core, so that the cores
    # finish together though persons' visits differ in number)
    bounds = _chunks(s_pidx, min(CHUNK, -(-n // (4 * workers))))
    if workers == 1:
        for bound in bounds:
            bar(settle_chunk(bound))
    else:
        with ThreadPoolExecutor(workers) as pool:
            for done in pool.map(settle_chunk, bounds):
                bar(done)
    if not callable(progress):
        bar(None)
    lap("kernel")

    if order is not None:
        result = np.empty_like(out)
        result[:, order] = out
        out = result
    pieces, totals = [], dict.fromkeys(TOTALS, 0)
    for piece in _results(visits, persons, pidx, days, year, split, out, plan_of, book.errors, refused_rows):
        for name, value in tally(piece).items():
            totals[name] += value
        if sink is not None:
            sink(piece)
        else:
            pieces.append(piece)
    results = pa.concat_tables(pieces) if sink is None else None
    lap("results")
    clock.pop("_last", None)
    clock.pop("start", None)
    return Settled(results, totals, book.descriptions, list(book.counters.names), clock)


def settle_files(visits_path: str | Path, out_path: str | Path, *, persons_path: str | Path | None = None,
                 lines_path: str | Path | None = None, overlays: Sequence[str] = (), progress: bool = False,
                 pass_size: int | None = None) -> Settled:
    """Parquet in, Parquet out; the plans go beside the results as ``<out>.plans.json``.

    A visits file of more than ``pass_size`` visits (default :data:`PASS`) whose visits come
    grouped by person (each person's visits one after another, as a claims extract per
    insured person has them) is settled in passes of about that many visits, each a set of
    whole persons: memory stays that of a pass, however large the file. Otherwise — and
    when bills are given as lines — the file is settled in one pass."""
    import time

    visits_path = Path(visits_path)
    persons_path = Path(persons_path) if persons_path else visits_path.with_name("persons.parquet")
    if lines_path is None and visits_path.with_name("lines.parquet").exists():
        lines_path = visits_path.with_name("lines.parquet")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    persons = _read(persons_path, "persons", DICTIONARY_COLUMNS)
    read = time.perf_counter() - t
    t = time.perf_counter()
    passes = None if lines_path else _passes(visits_path, persons, pass_size or PASS)
    if passes is not None:
        timings = {"read": read, "passes": time.perf_counter() - t}
        settled = _settle_in_passes(visits_path, persons, passes, out_path, overlays, progress, timings)
    else:
        t = time.perf_counter()
        visits = _read(visits_path, "visits", DICTIONARY_COLUMNS)
        lines = _read(Path(lines_path), "lines") if lines_path else None
        read += time.perf_counter() - t
        with _ResultWriter(out_path) as writer:
            settled = settle(persons, visits, lines, overlays=overlays, progress=progress, sink=writer.write)
            t = time.perf_counter()
        settled.timings = {"read": read, **settled.timings, "write": time.perf_counter() - t}
    _write_plans(Path(f"{out_path}.plans.json"), settled.counters, settled.plans)
    return settled


def _write_plans(path: Path, counters: list[str], described: list[dict[str, Any]]) -> None:
    """The plans file: JSON with a plan a line (each line written by the C encoder, which an
    indented dump does not use: a large batch has thousands of plans)."""
    plans_text = ",\n".join(json.dumps(plan, ensure_ascii=False) for plan in described)
    path.write_text(f'{{"counters": {json.dumps(counters, ensure_ascii=False)},\n"plans": [\n{plans_text}\n]}}\n',
                    encoding="utf-8")


@dataclass
class _Passes:
    """Where a visits file grouped by person is cut into passes: ``cuts`` (row numbers,
    from 0 to the number of visits), and each person's first row (``run_start``) and row in
    the persons table (``person``), in the file's order."""

    cuts: list[int]
    run_start: np.ndarray
    person: np.ndarray

    def persons_of(self, lo: int, hi: int) -> np.ndarray:
        """The persons-table rows of the persons whose visits are rows ``lo`` to ``hi``."""
        return self.person[np.searchsorted(self.run_start, lo):np.searchsorted(self.run_start, hi)]


def _passes(visits_path: Path, persons: pa.Table, size: int) -> _Passes | None:
    """The passes for a file of more than ``size`` visits grouped by person; ``None`` for
    one pass (a smaller file, visits not grouped, an unreadable file or an unknown person:
    the one pass gives the errors, naming the rows)."""
    try:
        n = pq.ParquetFile(visits_path).metadata.num_rows
        if n <= size:
            return None
        runs = _runs(pq.read_table(visits_path, columns=["person_id"]).column("person_id"), persons)
    except (FileNotFoundError, KeyError, pa.ArrowException, OSError):
        return None
    run_start, person = runs.start, runs.person
    if runs.unknown or np.bincount(person, minlength=1).max() > 1:  # an unknown person; a person's visits in two runs
        return None
    cuts = [0]
    while n - cuts[-1] > size:
        k = int(np.searchsorted(run_start, cuts[-1] + size))  # the first person starting at or after the target
        if k == len(run_start):
            break
        cuts.append(int(run_start[k]))
    cuts.append(n)
    return _Passes(cuts, run_start, person)


def _settle_in_passes(visits_path: Path, persons: pa.Table, passes: _Passes, out_path: Path, overlays: Sequence[str],
                      progress: bool, timings: dict[str, float]) -> Settled:
    """Settle a visits file grouped by person one pass at a time, into one results file:
    the passes share one :class:`~yibao.batch.plans.Book` (a profile is compiled once), and
    the visit ids are checked for repeats across the passes at the end. Each step's time is
    added to ``timings``."""
    import time

    persons = tables.validate(persons, tables.PERSONS, "persons", "person_id")  # whole, once; each pass sees its own persons
    cities = sorted(v for v in _encode(persons, ("city",))[1]["city"] if v is not None)
    book = plans.Book(policies_for(cities, overlays))
    seen = tables.SeenIds()
    bar = _progress(passes.cuts[-1], progress)
    totals = dict.fromkeys(TOTALS, 0)
    reader = _prefetched(_read_rows(visits_path, passes.cuts))
    with _ResultWriter(out_path) as writer:
        for lo, hi in zip(passes.cuts, passes.cuts[1:]):
            t = time.perf_counter()
            visits = next(reader)
            timings["read"] += time.perf_counter() - t  # (the wait for it: a pass is read while the one before is settled)
            settled = settle(persons.take(passes.persons_of(lo, hi)), visits, overlays=overlays, progress=bar,
                             sink=writer.write, book=book, first_row=lo, seen_ids=seen)
            for name, value in settled.totals.items():
                totals[name] += value
            for name, value in settled.timings.items():
                timings[name] = timings.get(name, 0.0) + value
            del visits, settled  # before the next pass is read
        t = time.perf_counter()
        with ThreadPoolExecutor(1) as pool:  # the visit ids checked while the writer finishes
            checking = pool.submit(seen.check, "visits", "visit_id",
                                   lambda: pq.read_table(visits_path, columns=["visit_id"]).column("visit_id"))
            writer.drain()
            checking.result()  # inside the writer's block: a repeated id removes the results file
    timings["write"] = time.perf_counter() - t
    bar(None)
    return Settled(None, totals, book.descriptions, list(book.counters.names), timings)


def _prefetched(items: Iterator[Any]) -> Iterator[Any]:
    """The items, each next one made on a thread while the caller works on the one before
    (reading and decoding Parquet mostly run outside the interpreter's lock)."""
    with ThreadPoolExecutor(1) as pool:
        coming = pool.submit(next, items, None)
        while (item := coming.result()) is not None:
            coming = pool.submit(next, items, None)
            yield item


def _read_rows(path: Path, cuts: list[int]) -> Iterator[pa.Table]:
    """The visits file's rows ``cuts[k]`` to ``cuts[k + 1]``, one table after another, read
    in the file's own batches (text columns dictionary-encoded, as :func:`_read` reads them)."""
    file = pq.ParquetFile(path, read_dictionary=_present(path, DICTIONARY_COLUMNS))
    batches = file.iter_batches(batch_size=SLICE)
    pending: list[pa.RecordBatch] = []
    have = 0
    for lo, hi in zip(cuts, cuts[1:]):
        while have < hi - lo:
            batch = next(batches)
            pending.append(batch)
            have += batch.num_rows
        table = pa.Table.from_batches(pending)
        yield table.slice(0, hi - lo)
        rest = table.slice(hi - lo)
        pending, have = rest.to_batches(), rest.num_rows
        del table, rest


class _ResultWriter:
    """Writes result slices to one Parquet file on a thread of its own, while the next
    slice is assembled. Money columns are delta-encoded (small integers, often repeated
    or zero: smaller and faster to write than plain values); the few-valued text columns
    keep their dictionaries; a person id is written as text."""

    PENDING = 2  # slices queued at most: the assembler waits rather than outrun the disk

    def __init__(self, path: Path):
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.pool = ThreadPoolExecutor(1)
        self.pending: list[Any] = []

    def write(self, piece: pa.Table) -> None:
        while len(self.pending) >= self.PENDING:
            self.pending.pop(0).result()
        self.pending.append(self.pool.submit(self._write, piece))

    def drain(self) -> None:
        """Wait until every slice given is written (a writing error is raised here)."""
        while self.pending:
            self.pending.pop(0).result()

    def _write(self, piece: pa.Table) -> None:
        if pa.types.is_dictionary(piece.schema.field("person_id").type):  # a million-value dictionary only slows the writer
            column = piece.schema.get_field_index("person_id")
            piece = piece.set_column(column, "person_id", piece.column(column).cast(pa.string()))
        if self.writer is None:
            money = [name for name in piece.column_names if name.endswith("_fen")]
            self.writer = pq.ParquetWriter(self.path, piece.schema, compression="lz4", use_dictionary=["city", "status", "error"],
                                           write_statistics=False, column_encoding=dict.fromkeys(money, "DELTA_BINARY_PACKED"))
        self.writer.write_table(piece)

    def __enter__(self) -> "_ResultWriter":
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        failed = kind is not None
        try:
            for future in self.pending:
                if failed:
                    future.cancel()
                else:
                    try:
                        future.result()
                    except BaseException:
                        failed = True
                        raise
        finally:
            self.pool.shutdown(wait=True)
            if self.writer is not None:
                self.writer.close()
            if failed:
                self.path.unlink(missing_ok=True)  # no half-written results


#: The funds the summary totals.
FUNDS = ("medfee_sumamt", "hifp_pay", "hifob_pay", "hifmi_pay", "maf_pay", "acct_pay", "psn_cash_pay")
TOTALS = ("visits", "settled") + FUNDS


def tally(results: pa.Table) -> dict[str, int]:
    """The counts and each fund's total in fen: :data:`TOTALS` (slices' tallies add up)."""
    out = {"visits": results.num_rows, "settled": pc.sum(pc.equal(results.column("status"), "settled")).as_py() or 0}
    for name in FUNDS:
        out[name] = pc.sum(results.column(f"{name}_fen")).as_py() or 0
    return out


def summary(results: pa.Table) -> dict[str, Any]:
    """Totals by fund in yuan (exact), and the counts."""
    return _summary_of(tally(results))


def _summary_of(totals: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {"visits": totals["visits"], "settled": totals["settled"],
                           "refused": totals["visits"] - totals["settled"]}
    for name in FUNDS:
        out[name] = fmt(Decimal(totals[name]) / 100)
    return out


# ---------------------------------------------------------------------- steps


#: Text columns read dictionary-encoded: few distinct values each. (Not ``person_id``: a
#: person has a few visits, and a Parquet writer stores so many distinct values plain.)
DICTIONARY_COLUMNS = ("city", "scheme", "category", "sex", "assistance", "flags", "chronic_filings", "special_filings",
                      "kind", "level", "location", "route", "transfer_from", "disease", "procedure")


def _read(path: Path, what: str, dictionary: Sequence[str] = ()) -> pa.Table:
    try:
        return pq.read_table(path, read_dictionary=_present(path, dictionary))
    except FileNotFoundError:
        raise TableError(f"{what}: no such file {path}") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise TableError(f"{what}: {path} is not a readable Parquet file ({exc})") from None


def _present(path: Path, columns: Sequence[str]) -> list[str]:
    """Those of ``columns`` the Parquet file has (an optional column may be left out)."""
    names = set(pq.read_schema(path).names)
    return [c for c in columns if c in names]


def _person_index(visits: pa.Table, persons: pa.Table, first_row: int = 0) -> np.ndarray:
    """Each visit's row in the persons table."""
    runs = _runs(visits.column("person_id"), persons)
    pidx = runs.spread()
    if runs.unknown:
        raise TableError(f"visits.person_id: not in the persons table in "
                         f"{tables._rows(pidx < 0, visits.column('visit_id'), first_row=first_row)}")
    return pidx


@dataclass
class _Runs:
    """A person id column as runs of equal ids: where each run starts, and its person's row in
    the persons table (−1: not there)."""

    start: np.ndarray
    person: np.ndarray
    rows: int

    @property
    def unknown(self) -> bool:
        return bool((self.person < 0).any())

    def spread(self) -> np.ndarray:
        """Each row's person (int32)."""
        return np.repeat(self.person, np.diff(np.append(self.start, self.rows)))


def _runs(person_ids: pa.ChunkedArray, persons: pa.Table) -> _Runs:
    """The runs of ``person_ids``, each looked up once in the persons table: a claims table
    usually has a person's visits together, so there are several times fewer runs than rows."""
    starts, lo, last = [], 0, None
    for chunk in person_ids.chunks:
        if not len(chunk):
            continue
        ids = chunk.indices if pa.types.is_dictionary(chunk.type) else chunk  # (in a chunk, one index is one id)
        same = np.empty(len(chunk), np.bool_)  # each id equal to the one before it (a null to nothing)
        same[1:] = pc.fill_null(pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1)), False).to_numpy(zero_copy_only=False)
        same[0] = last is not None and chunk[0].as_py() == last
        last = chunk[len(chunk) - 1].as_py()
        starts.append(lo + np.flatnonzero(~same))
        lo += len(chunk)
    start = np.concatenate(starts) if starts else np.zeros(0, np.int64)
    known = persons.column("person_id").combine_chunks()
    if pa.types.is_dictionary(known.type):
        known = known.cast(pa.string())
    heads = person_ids.take(pa.array(start))
    person = pc.fill_null(pc.index_in(heads, value_set=known), -1).to_numpy(zero_copy_only=False).astype(np.int32)
    return _Runs(start, person, len(person_ids))


def _residents_with_accounts(persons: pa.Table, pidx: np.ndarray) -> dict[int, str]:
    """Visits of residents given account balances: refused, as the reference engine refuses the case (G8)."""
    resident = pc.equal(persons.column("scheme"), "resident")
    funded = pc.or_(pc.not_equal(persons.column("account_current_fen"), 0), pc.not_equal(persons.column("account_history_fen"), 0))
    bad = pc.and_(resident, funded).to_numpy(zero_copy_only=False)
    if not bad.any():
        return {}
    message = "person.account: residents have no personal account (G8); give zero balances or none"
    return {int(r): message for r in np.flatnonzero(bad[pidx])}


def _days(column: pa.ChunkedArray, nulls: bool = False) -> np.ndarray:
    """Days since 1970-01-01 as int32 (``int32.min`` for a null where ``nulls`` is allowed)."""
    ints = pc.cast(column.combine_chunks(), pa.int32())
    if nulls:
        ints = pc.fill_null(ints, np.iinfo(np.int32).min)
    return ints.to_numpy(zero_copy_only=False)


def _ints(column: pa.ChunkedArray) -> np.ndarray:
    """An integer column as int64 numpy, without a copy where it already is one."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.int64)


def _calendar(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(year, month×100 + day) of days since 1970, by a table over the days' span."""
    if not len(days):
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    lo, hi = int(days.min()), int(days.max())
    span = np.arange(lo, hi + 1).astype("datetime64[D]")
    years, months = span.astype("datetime64[Y]"), span.astype("datetime64[M]")
    year = (years.astype(np.int64) + 1970).astype(np.int32)
    md = ((months - years).astype(np.int64) * 100 + 100 + (span - months).astype(np.int64) + 1).astype(np.int32)
    return year[days - lo], md[days - lo]


def _year(days: np.ndarray) -> np.ndarray:
    return _calendar(days)[0]


def _ages(birth: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Whole years from birth to day (−1 where the birth date is unknown)."""
    unknown = birth == np.iinfo(np.int32).min
    by, bmd = _calendar(np.where(unknown, 0, birth))
    dy, dmd = _calendar(day)
    return np.where(unknown, -1, dy - by - (dmd < bmd))


def _encode(table: pa.Table, columns: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, list[Any]]]:
    """Each column as small integer codes (a writable int32 array: codes get simplified)
    and the values they stand for; a null is the last value, ``None``. A dictionary-encoded
    column gives its codes almost for free: each chunk's dictionary is mapped onto one for
    the column, and its indices translated straight into the codes."""
    codes, values = {}, {}
    for name in columns:
        col = table.column(name)
        if not pa.types.is_dictionary(col.type):
            col = pa.chunked_array([pc.dictionary_encode(col.combine_chunks() if col.num_chunks else pa.array([], col.type))])
        dictionary = tables.dictionary_values(col)
        idx = np.empty(len(col), np.int32)
        lo = 0
        for chunk in col.chunks:
            # this chunk's dictionary in the column's; a null is one past the end
            mapping = np.append(pc.index_in(chunk.dictionary, value_set=dictionary).to_numpy(zero_copy_only=False), len(dictionary))
            indices = pc.fill_null(chunk.indices, len(chunk.dictionary)) if chunk.null_count else chunk.indices
            idx[lo:lo + len(chunk)] = mapping.astype(np.int32)[indices.to_numpy(zero_copy_only=False)]
            lo += len(chunk)
        codes[name], values[name] = idx, dictionary.to_pylist() + [None]
    return codes, values


def _recode(codes: np.ndarray, values: list[Any], rows: np.ndarray, simpler: Callable[[Any], Any]) -> None:
    """Replace, in ``rows``, each value by ``simpler(value)`` (appending new values as needed)."""
    index = {v: k for k, v in enumerate(values)}
    mapping = np.array([index.setdefault(simpler(v), len(index)) for v in list(values)], np.int64)
    values.extend(v for v in list(index)[len(values):])
    codes[rows] = mapping[codes[rows]]


def _combine(parts: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One code per distinct combination of ``parts`` (in first-seen order), and each code's first row."""
    if not len(parts[0]):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return kernel.distinct_rows(tuple(np.asarray(part, np.int32) for part in parts))


def _members(value: str | None) -> tuple[str, ...]:
    return tuple(x for x in (value or "").split("+") if x)


def _filed(persons: pa.Table, visit_codes: dict[str, np.ndarray], visit_values: dict[str, list[Any]],
           pidx: np.ndarray) -> np.ndarray:
    """Is the visit's disease filed for its kind (G4)? Decided once per distinct
    (kind, filings, disease), then spread over the visits."""
    kinds, diseases = visit_values["kind"], visit_values["disease"]
    filing_kinds = [k for k, v in enumerate(kinds) if v in ("chronic", "special")]
    rows = np.flatnonzero(np.isin(visit_codes["kind"], filing_kinds) & (visit_codes["disease"] != len(diseases) - 1))
    filed = np.zeros(len(pidx), np.bool_)
    if not len(rows):
        return filed
    codes, values = _encode(persons, ("chronic_filings", "special_filings"))
    p = pidx[rows]
    is_chronic = np.asarray(visit_codes["kind"][rows]) == kinds.index("chronic") if "chronic" in kinds else np.zeros(len(rows), np.bool_)
    sets = np.where(is_chronic, codes["chronic_filings"][p], codes["special_filings"][p]).astype(np.int64)
    dense, first = _combine([sets, visit_codes["disease"][rows], is_chronic])
    answers = np.zeros(len(first), np.bool_)
    for c, r in enumerate(first):
        listed = values["chronic_filings" if is_chronic[r] else "special_filings"][sets[r]] or ""
        answers[c] = diseases[visit_codes["disease"][rows[r]]] in listed.split("+")
    filed[rows] = answers[dense]
    return filed


def _split_lines(lines: pa.Table, visits: pa.Table, split: list[np.ndarray], city: np.ndarray, epoch: np.ndarray,
                 city_names: list[str], marks_of: dict[str, list[dt.date]], policies: Mapping[str, CityPolicy],
                 days: np.ndarray) -> tuple[list[np.ndarray], dict[int, str]]:
    """The catalogue split (G3) of bills given as lines: C → 自费; over_limit → 超限价;
    B × 先行自付比例, rounded half up per line; the rest in scope."""
    lines = tables.validate(lines, tables.LINES, "lines")
    vid = visits.column("visit_id").combine_chunks()
    row = pc.index_in(lines.column("visit_id"), value_set=vid)
    if row.null_count:
        raise TableError(f"lines.visit_id: not in the visits table in {tables._rows(pc.is_null(row).to_numpy(zero_copy_only=False), None)}")
    row = row.to_numpy(zero_copy_only=False).astype(np.int64)
    amount = lines.column("amount_fen").to_numpy().astype(np.int64)
    over = lines.column("over_limit_fen").to_numpy().astype(np.int64)
    if (over > amount).any():
        raise TableError(f"lines.over_limit_fen exceeds amount_fen in {tables._rows(over > amount, None)}")
    has_lines = np.zeros(visits.num_rows, np.bool_)
    has_lines[row] = True
    given = np.zeros(visits.num_rows, np.bool_)
    for a in split:
        given |= a != 0
    if (given & has_lines).any():
        raise TableError("visits: give a bill either as split columns or as lines, not both, in "
                         + tables._rows(given & has_lines, vid))
    cls = lines.column("item_class").to_numpy(zero_copy_only=False)
    ratio = pc.fill_null(lines.column("selfpay_ratio_ppm"), -1).to_numpy().astype(np.int64)
    is_c, is_b = cls == "C", cls == "B"
    refused: dict[int, str] = {}
    needs_default = np.flatnonzero(is_b & (ratio < 0))
    if len(needs_default):
        for k in needs_default:
            r = row[k]
            name = city_names[city[r]]
            default, problem = _default_ratio(policies[name], plans.representative_day(marks_of[name], int(epoch[r]), int(_year(days[r:r + 1])[0])))
            if default is None:
                if r not in refused:
                    position = int(np.sum(row[:k] == r))
                    code = lines.column("code")[int(k)].as_py()
                    refused[r] = f"visit {vid[int(r)].as_py()}: items[{position}] ({code}) is 乙类 without selfpay_ratio, and {problem}"
                ratio[k] = 0
            else:
                ratio[k] = default
    base = amount - over
    pre = np.where(is_b, (base * ratio + 500_000) // 1_000_000, 0)
    parts = [np.where(is_c, amount, 0), np.where(is_c, 0, over), pre, np.where(is_c, 0, base - pre)]
    out = [a.copy() for a in split]
    for target, values in zip(out, parts):
        np.add.at(target, row, values)
    return out, refused


def _default_ratio(policy: CityPolicy, day: dt.date) -> tuple[int | None, str]:
    """The city's default 先行自付比例 in millionths, or why there is none."""
    rules = Rules(policy, day, plans.PLACEHOLDER)
    try:
        value = rules.optional("catalogue.selfpay_default")
    except YibaoError as exc:
        return None, str(exc)
    if value is None or value == "per_item":
        return None, f"{policy.document.name} has no default ratio ({rules.clause('catalogue.selfpay_default') or 'the province sets it per item'})"
    return int(Decimal(value) * 1_000_000), ""


def _sorted(pidx: np.ndarray, days: np.ndarray) -> bool:
    if len(pidx) < 2:
        return True
    dp = np.diff(pidx)
    return bool((dp >= 0).all() and ((dp > 0) | (np.diff(days) >= 0)).all())


def _chunks(person: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Slices of about ``size`` visits that never split a person."""
    n = len(person)
    bounds, lo = [], 0
    while lo < n:
        hi = min(n, lo + size)
        if hi < n:
            p = person[hi - 1]
            hi = int(np.searchsorted(person, p, side="right"))
        bounds.append((lo, hi))
        lo = hi
    return bounds


def _progress(total: int, show: bool) -> Callable[[int | None], None]:
    if not show:
        return lambda step: None
    from tqdm import tqdm

    bar = tqdm(total=total, unit=" claims", unit_scale=True, desc="settling", leave=False)

    def step(k: int | None) -> None:
        if k is None:
            bar.close()
        else:
            bar.update(k)

    return step


def _results(visits: pa.Table, persons: pa.Table, pidx: np.ndarray, days: np.ndarray, year: np.ndarray, split: list[np.ndarray],
             out: np.ndarray, profile_of: np.ndarray, errors: list[str], refused_rows: dict[int, str]) -> Iterator[pa.Table]:
    """The RESULTS table in slices of :data:`SLICE` rows; its text columns dictionary-encoded
    (they repeat a few values), each with one dictionary for the whole table."""
    status = out[0]
    refused = np.flatnonzero(status != 0)
    message_of = np.full(len(status), -1, np.int32)
    seen: dict[str, int] = {}
    vid = visits.column("visit_id")
    for r in refused:
        text = refused_rows.get(int(r)) or errors[status[r] - 1].replace(plans.PLACEHOLDER, vid[int(r)].as_py()).replace(
            plans.DATE_PLACEHOLDER, (_EPOCH + dt.timedelta(days=int(days[r]))).isoformat())
        message_of[r] = seen.setdefault(text, len(seen))
    messages = pa.array(list(seen), pa.string())
    city = persons.column("city")
    city = city if pa.types.is_dictionary(city.type) else pc.dictionary_encode(city)
    city = city.combine_chunks() if isinstance(city, pa.ChunkedArray) else city
    city_of = city.indices.to_numpy(zero_copy_only=False)
    statuses = pa.array(["settled", "refused"])
    for lo in range(0, max(len(status), 1), SLICE):
        rows = slice(lo, lo + SLICE)
        ok = status[rows] == 0
        money = {name: out[1 + k, rows] for k, name in enumerate(kernel.OUTPUTS[1:])}
        fulamt, overlmt, pre, inscp = (np.where(ok, a[rows], 0) for a in split)
        fund = money["hifp_pay"] + money["hifob_pay"] + money["hifmi_pay"] + money["maf_pay"]
        errs = message_of[rows]
        columns = {
            "visit_id": vid.slice(lo, SLICE),
            "person_id": visits.column("person_id").slice(lo, SLICE),
            "city": pa.DictionaryArray.from_arrays(pa.array(city_of[pidx[rows]]), city.dictionary),
            "date": visits.column("date").slice(lo, SLICE),
            "year": pa.array(year[rows].astype(np.int16)),
            "status": pa.DictionaryArray.from_arrays(pa.array((~ok).astype(np.int8)), statuses),
            "error": pa.DictionaryArray.from_arrays(pa.array(errs, mask=errs < 0), messages),
            "plan": pa.array(profile_of[rows].astype(np.int32)),
            "medfee_sumamt_fen": fulamt + overlmt + pre + inscp, "fulamt_ownpay_amt_fen": fulamt, "overlmt_selfpay_fen": overlmt,
            "preselfpay_amt_fen": pre, "inscp_scp_amt_fen": inscp, "act_pay_dedc_fen": money["act_pay_dedc"],
            "hifp_pay_fen": money["hifp_pay"], "hifob_pay_fen": money["hifob_pay"], "hifmi_pay_fen": money["hifmi_pay"],
            "maf_pay_fen": money["maf_pay"], "oth_pay_fen": np.zeros(len(ok), np.int64), "fund_pay_sumamt_fen": fund,
            "acct_pay_fen": money["acct_pay"], "psn_cash_pay_fen": money["psn_cash_pay"],
            "psn_part_amt_fen": money["acct_pay"] + money["psn_cash_pay"], "balc_fen": money["balc"],
        }
        yield pa.table(columns)
