"""Cases ⇄ claim tables: the settlement contract's cases as the batch's columnar tables.

:func:`cases_to_tables` turns cases (``case-format.md``, :mod:`yibao.case`) into the
persons, visits and lines tables of :mod:`yibao.batch.tables`; :func:`tables_to_cases`
is its inverse, used by the reference runner (:mod:`yibao.batch.reference`).
:func:`convert_command` is ``yibao batch convert CASE.json… -o DIR``.

Money is exact both ways: yuan (``Decimal``, two decimals) ↔ integer fen, never ``float``.
A 乙类先行自付 ratio is stored in millionths (``selfpay_ratio_ppm``); a ratio with more than
six decimals cannot be stored exactly and is refused.

**Identifiers.** Person ids and visit ids must be unique across the tables. When a case
reuses a person id or a visit id of an *earlier* case (the worked cases all call their
person ``P1``), every id of that case — its person's and all its visits' — is prefixed
with the case's position in the input, 0-based: ``"3:P1"``, ``"3:V1"``. The first case
using an id keeps it unchanged, so ids are left alone whenever they are already unique.
Pass ``on_collision="error"`` to refuse such input instead. Two visits of *one* case with
the same id are always refused (no prefix can tell them apart).

**What does not survive the round trip.** The tables have no column for an item's
``name``; a set (flags, filings, procedures) comes back sorted without repeats; an empty
``procedure`` list comes back as none; a visit with an empty ``items`` list comes back as
zero ``amounts``. Nothing of this changes a settlement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Sequence

import pyarrow as pa

from yibao.batch import tables as T
from yibao.case import Case, parse_case, parse_case_text
from yibao.errors import CaseError, YibaoError

PPM = Decimal(1_000_000)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Tables:
    """The claim tables of :mod:`yibao.batch.tables`; ``lines`` may have no rows."""

    persons: pa.Table
    visits: pa.Table
    lines: pa.Table


# ---------------------------------------------------------------- exact conversions


def to_fen(amount: Decimal, what: str = "amount") -> int:
    """Yuan (at most two decimals) as integer fen, exactly."""
    fen = amount * HUNDRED
    if fen != fen.to_integral_value():
        raise CaseError(f"{what}: {amount} has more than two decimals")
    return int(fen)


def from_fen(fen: int) -> Decimal:
    """Integer fen as yuan with two decimals: ``from_fen(12345) == Decimal("123.45")``."""
    return Decimal(int(fen)).scaleb(-2)


def ratio_to_ppm(ratio: Decimal, what: str = "selfpay_ratio") -> int:
    """A ratio as millionths, exactly; more than six decimals is refused."""
    ppm = ratio * PPM
    if ppm != ppm.to_integral_value():
        raise CaseError(f"{what}: {ratio} has more than 6 decimals; the tables hold a ratio in millionths")
    return int(ppm)


def ppm_to_ratio(ppm: int) -> Decimal:
    return Decimal(int(ppm)).scaleb(-6)


def _join(members: Iterable[str]) -> str:
    return "+".join(sorted(set(members)))


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(text.split("+")) if text else ()


# ---------------------------------------------------------------- cases → tables


def cases_to_tables(cases: Iterable[Case], *, on_collision: Literal["prefix", "error"] = "prefix") -> Tables:
    """The persons, visits and lines tables of ``cases``, validated against their schemas.

    One person row per case, one visit row per visit (in the cases' order), one line row
    per item of a visit given with ``items`` (its split columns are then 0). Ids reused
    across cases are prefixed with the case's 0-based position (``"3:P1"``) or, with
    ``on_collision="error"``, refused. Raises :class:`~yibao.errors.CaseError`.
    """
    persons: dict[str, list[Any]] = {c.name: [] for c in T.PERSONS}
    visits: dict[str, list[Any]] = {c.name: [] for c in T.VISITS}
    lines: dict[str, list[Any]] = {c.name: [] for c in T.LINES}
    person_ids: set[str] = set()
    visit_ids: set[str] = set()
    for index, case in enumerate(cases):
        own = [v.id for v in case.visits]
        if len(set(own)) != len(own):
            dup = next(v for v in own if own.count(v) > 1)
            raise CaseError(f"case {index} (person {case.person.id}): visit id {dup!r} appears more than once")
        prefix = ""
        clash = [case.person.id] if case.person.id in person_ids else []
        clash += [v for v in own if v in visit_ids]
        if clash:
            if on_collision == "error":
                raise CaseError(f"case {index} (person {case.person.id}): id {clash[0]!r} is already used by an earlier case")
            prefix = f"{index}:"
            renamed = [prefix + case.person.id] if prefix + case.person.id in person_ids else []
            renamed += [prefix + v for v in own if prefix + v in visit_ids]
            if renamed:
                raise CaseError(f"case {index} (person {case.person.id}): id {clash[0]!r} is already used by an "
                                f"earlier case, and so is {renamed[0]!r}; give the cases unique ids")
        pid = prefix + case.person.id
        person_ids.add(pid)
        _person_row(persons, pid, case)
        for visit in case.visits:
            vid = prefix + visit.id
            visit_ids.add(vid)
            _visit_rows(visits, lines, vid, pid, visit)
    return Tables(
        T.validate(pa.table(persons, schema=T.schema(T.PERSONS)), T.PERSONS, "persons", "person_id"),
        T.validate(pa.table(visits, schema=T.schema(T.VISITS)), T.VISITS, "visits", "visit_id"),
        T.validate(pa.table(lines, schema=T.schema(T.LINES)), T.LINES, "lines"),
    )


def _person_row(out: dict[str, list[Any]], pid: str, case: Case) -> None:
    p = case.person
    where = f"person {p.id}"
    row = {
        "person_id": pid,
        "city": case.city,
        "scheme": p.scheme,
        "category": p.category,
        "grade": p.grade,
        "birth_date": p.birth_date,
        "sex": p.sex,
        "assistance": p.assistance,
        "flags": _join(p.flags),
        "chronic_filings": _join(p.filings.chronic),
        "special_filings": _join(p.filings.special),
        "account_current_fen": to_fen(p.account.current, f"{where}: account.current"),
        "account_history_fen": to_fen(p.account.history, f"{where}: account.history"),
        "ci_cap_bonus_fen": to_fen(p.ci_cap_bonus, f"{where}: ci_cap_bonus"),
    }
    for key, value in row.items():
        out[key].append(value)


def _visit_rows(visits: dict[str, list[Any]], lines: dict[str, list[Any]], vid: str, pid: str, v) -> None:
    where = f"visit {v.id}"
    split = dict.fromkeys(T.SPLIT, 0)
    if v.amounts is not None:
        a = v.amounts
        split = {
            "fulamt_ownpay_amt_fen": to_fen(a.fulamt_ownpay_amt, f"{where}: amounts.fulamt_ownpay_amt"),
            "overlmt_selfpay_fen": to_fen(a.overlmt_selfpay, f"{where}: amounts.overlmt_selfpay"),
            "preselfpay_amt_fen": to_fen(a.preselfpay_amt, f"{where}: amounts.preselfpay_amt"),
            "inscp_scp_amt_fen": to_fen(a.inscp_scp_amt, f"{where}: amounts.inscp_scp_amt"),
        }
    row = {
        "visit_id": vid,
        "person_id": pid,
        "date": v.date,
        "kind": v.kind,
        "level": v.level,
        "location": v.location,
        "route": v.route,
        "transfer_from": v.transfer_from,
        "disease": v.disease,
        "procedure": _join(v.procedure or ()),
        "use_account": v.use_account,
        **split,
    }
    for key, value in row.items():
        visits[key].append(value)
    for i, item in enumerate(v.items or ()):
        at = f"{where}: items[{i}]"
        ratio = None if item.selfpay_ratio is None else ratio_to_ppm(item.selfpay_ratio, f"{at}.selfpay_ratio")
        line = {
            "visit_id": vid,
            "code": item.code,
            "item_class": item.item_class,
            "amount_fen": to_fen(item.amount, f"{at}.amount"),
            "over_limit_fen": to_fen(item.over_limit, f"{at}.over_limit"),
            "selfpay_ratio_ppm": ratio,
        }
        for key, value in line.items():
            lines[key].append(value)


# ---------------------------------------------------------------- tables → cases


def tables_to_cases(
    persons: pa.Table, visits: pa.Table, lines: pa.Table | None = None
) -> Iterator[tuple[Case, tuple[int, ...]]]:
    """One ``(case, rows)`` per person with visits, in the persons table's order.

    ``case`` holds the person and their visits sorted by date, visits of one date in
    table order; ``rows`` are those visits' row numbers in ``visits``, in the same order.
    A visit with rows in ``lines`` is given as ``items`` (its split columns are then
    ignored), any other visit as ``amounts`` from its split columns. Persons without
    visits yield nothing. Raises :class:`~yibao.batch.tables.TableError` for tables that
    do not validate, and :class:`~yibao.errors.CaseError` for a case that does not.
    """
    for raw, rows in raw_cases(persons, visits, lines):
        try:
            case = parse_case(raw)
        except YibaoError as exc:
            raise CaseError(f"person {raw['person']['id']}: {exc}") from None
        yield case, rows


def raw_cases(
    persons: pa.Table, visits: pa.Table, lines: pa.Table | None = None
) -> Iterator[tuple[dict[str, Any], tuple[int, ...]]]:
    """As :func:`tables_to_cases`, the cases as decoded (not yet validated) case dicts."""
    persons = T.validate(persons, T.PERSONS, "persons", "person_id")
    visits = T.validate(visits, T.VISITS, "visits", "visit_id")
    items_of: dict[str, list[dict[str, Any]]] = {}
    if lines is not None:
        lines = T.validate(lines, T.LINES, "lines")
        known = set(visits.column("visit_id").to_pylist())
        for i, line in enumerate(lines.to_pylist()):
            if line["visit_id"] not in known:
                raise T.TableError(f"lines.visit_id: {line['visit_id']!r} in row {i} is not a visit of the visits table")
            items_of.setdefault(line["visit_id"], []).append(_item(line))
    person_rows = persons.to_pylist()
    by_person: dict[str, list[tuple[dt.date, int]]] = {p["person_id"]: [] for p in person_rows}
    visit_rows = visits.to_pylist()
    for i, v in enumerate(visit_rows):
        if v["person_id"] not in by_person:
            raise T.TableError(f"visits.person_id: {v['person_id']!r} in row {i} ({v['visit_id']}) is not a person of the persons table")
        by_person[v["person_id"]].append((v["date"], i))
    for p in person_rows:
        own = sorted(by_person[p["person_id"]])  # by date, then row: the table order
        if not own:
            continue
        rows = tuple(i for _, i in own)
        raw = {
            "city": p["city"],
            "person": _person(p),
            "visits": [_visit(visit_rows[i], items_of.get(visit_rows[i]["visit_id"])) for i in rows],
        }
        yield raw, rows


def _person(p: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p["person_id"],
        "scheme": p["scheme"],
        "category": p["category"],
        "grade": int(p["grade"]),
        "flags": list(_split(p["flags"])),
        "filings": {"chronic": list(_split(p["chronic_filings"])), "special": list(_split(p["special_filings"]))},
        "account": {"current": from_fen(p["account_current_fen"]), "history": from_fen(p["account_history_fen"])},
        "ci_cap_bonus": from_fen(p["ci_cap_bonus_fen"]),
    }
    for key in ("birth_date", "sex", "assistance"):
        if p[key] is not None:
            out[key] = p[key]
    return out


def _visit(v: dict[str, Any], items: list[dict[str, Any]] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": v["visit_id"],
        "date": v["date"],
        "kind": v["kind"],
        "level": v["level"],
        "location": v["location"],
        "use_account": v["use_account"],
    }
    for key in ("route", "transfer_from", "disease"):
        if v[key] is not None:
            out[key] = v[key]
    if v["procedure"]:
        out["procedure"] = list(_split(v["procedure"]))
    if items:
        out["items"] = items
    else:
        out["amounts"] = {name.removesuffix("_fen"): from_fen(v[name]) for name in T.SPLIT}
    return out


def _item(line: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": line["code"],
        "class": line["item_class"],
        "amount": from_fen(line["amount_fen"]),
        "over_limit": from_fen(line["over_limit_fen"]),
    }
    if line["selfpay_ratio_ppm"] is not None:
        out["selfpay_ratio"] = ppm_to_ratio(line["selfpay_ratio_ppm"])
    return out


# ---------------------------------------------------------------- yibao batch convert


def read_cases(case_paths: Sequence[str | Path]) -> list[Case]:
    """Parse case JSON files; an error names the file."""
    cases = []
    for path in case_paths:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CaseError(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CaseError(f"{path} is not UTF-8 text") from None
        try:
            cases.append(parse_case_text(text))
        except YibaoError as exc:
            raise CaseError(f"{path}: {exc}") from None
    return cases


def convert_command(case_paths: Sequence[str | Path], out_dir: str | Path) -> dict[str, Any]:
    """``yibao batch convert``: case files → ``out_dir/{persons,visits,lines}.parquet``.

    ``lines.parquet`` is written only when some visit is given with ``items``; a stale one
    left in ``out_dir`` by an earlier run is removed so that the folder is one claim set.
    Returns what was written: ``{"persons": n, "visits": n, "lines": n, "files": [...]}``.
    """
    import pyarrow.parquet as pq

    tables = cases_to_tables(read_cases(case_paths))
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        files = []
        for name, table in (("persons", tables.persons), ("visits", tables.visits), ("lines", tables.lines)):
            path = out / f"{name}.parquet"
            if name == "lines" and table.num_rows == 0:
                path.unlink(missing_ok=True)
                continue
            pq.write_table(table, path)
            files.append(str(path))
    except OSError as exc:
        raise CaseError(f"cannot write to {out}: {exc.strerror or exc}") from None
    return {"persons": tables.persons.num_rows, "visits": tables.visits.num_rows,
            "lines": tables.lines.num_rows, "files": files}
