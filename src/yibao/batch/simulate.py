"""Policy simulation: what a reform costs the funds, and who pays for it.

The same claims are settled twice — under the current policy (the base overlays) and
under the reform (the base overlays plus the reform overlay) — and :func:`compare` turns
the two RESULTS tables and the persons table into one comparison. ``compare`` is pure:
no files, no plotting, no settlement; :mod:`yibao.batch.report_html` writes it out and
``yibao simulate`` (:mod:`yibao.commands.simulate`) runs the whole thing.

Definitions (``docs/batch/simulate.md``):

compared visits  the visits settled in *both* runs. A visit refused in either run is left
                 out of every money figure and counted, with its messages, under
                 ``refused`` — never silently dropped.
burden           a person's ``psn_part_amt`` (account + cash) summed over their compared
                 visits; ``cash`` is ``psn_cash_pay`` alone. Claims normally cover one
                 year, so this is the annual burden.
change           reform minus base (positive: the person pays more; for a fund: it
                 spends more).
claimants        persons with at least one compared visit.
deciles          claimants ranked by their *baseline* burden, ties broken by
                 ``person_id``; the claimant of 0-based rank ``r`` among ``k`` is in
                 decile ``r * 10 // k + 1`` (1 = lowest burden, sizes differ by at most one).
winners/losers   among all persons of the persons table: pay more (change > 0), pay less
                 (change < 0), same (change = 0, including persons without claims).

All money is summed in integer fen (``int64``) and written as yuan strings with two
decimals; a mean is the exact quotient rounded half up to the fen. Shares are floats.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yibao import vocabulary as V

FORMAT = "yibao-simulation/1"

#: The funds compared, with the RESULTS column each one sums (``<key>_pay_fen``).
FUNDS: tuple[tuple[str, str], ...] = (
    ("hifp", "统筹基金"),
    ("hifob", "职工大额医疗费用补助"),
    ("hifmi", "大病保险"),
    ("maf", "医疗救助"),
    ("oth", "其他基金"),
)
ACCOUNT = ("acct", "个人账户")
UNKNOWN = "unknown"
NONE = "none"

_RESULT_COLUMNS = ("visit_id", "person_id", "date", "year", "status", "error", "medfee_sumamt_fen",
                   "fund_pay_sumamt_fen", "acct_pay_fen", "psn_cash_pay_fen", "psn_part_amt_fen",
                   *(f"{key}_pay_fen" for key, _ in FUNDS))
_PERSON_COLUMNS = ("person_id", "scheme", "category", "assistance")

SettleFn = Callable[..., pa.Table]


class SimulationError(ValueError):
    """The two runs or the persons table cannot be compared; the message says why."""


# ---------------------------------------------------------------------- money


def yuan(fen: int) -> str:
    """Integer fen as the contract's yuan text: ``-12345 → '-123.45'``, exactly."""
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def mean_yuan(total_fen: int, count: int) -> str | None:
    """The exact mean of ``count`` amounts totalling ``total_fen``, rounded half up to the fen."""
    if count == 0:
        return None
    fen = (Decimal(int(total_fen)) / Decimal(int(count))).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return yuan(int(fen))


def percent(change_fen: int, base_fen: int) -> float | None:
    """``change / base`` in percent (a float, 4 decimals); ``None`` when the base is zero."""
    if int(base_fen) == 0:
        return None
    return round(100 * int(change_fen) / int(base_fen), 4)


def _sum_by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Exact int64 sums of ``values`` grouped by ``index`` (0 ≤ index < size)."""
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, index, values.astype(np.int64, copy=False))
    return out


def _np(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return arr.to_numpy(zero_copy_only=False)


# ---------------------------------------------------------------------- the comparison


@dataclass(frozen=True)
class Attribute:
    """A person attribute: its values, and each person's code into ``keys``."""

    values: pa.Array
    codes: np.ndarray
    keys: list[str]


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare`.

    ``summary`` is JSON-ready (money as yuan strings); ``persons`` holds one row per person
    (the persons table's, then any person met only in the results) with their figures in fen.
    """

    summary: dict[str, Any]
    persons: pa.Table


def compare(persons: pa.Table, base: pa.Table, reform: pa.Table, *, top: int = 20, messages: int = 5,
            bins: int = 20) -> Comparison:
    """Compare two settlements of the same claims (see the module's definitions)."""
    _require(base, _RESULT_COLUMNS, "base results")
    _require(reform, _RESULT_COLUMNS, "reform results")
    _require(persons, _PERSON_COLUMNS, "persons")
    if base.num_rows != reform.num_rows:
        raise SimulationError(f"the runs settled different claims: {base.num_rows} visits in the base run, "
                              f"{reform.num_rows} in the reform run")
    for name in ("visit_id", "person_id"):
        a, b = base.column(name), reform.column(name)
        if not a.equals(b):
            first = int(np.flatnonzero(~_np(pc.fill_null(pc.equal(a, b), False)))[0])
            raise SimulationError(f"the runs settled different claims: row {first} is {a[first].as_py()!r} "
                                  f"in the base run, {b[first].as_py()!r} in the reform run ({name})")

    # persons: the table's, then any person met only in the results (category "unknown")
    ids = persons.column("person_id").combine_chunks()
    visit_persons = base.column("person_id")
    where = pc.index_in(visit_persons, value_set=ids)
    n_table = len(ids)
    person_of_visit = _np(pc.fill_null(where, -1)).astype(np.int64)
    lost = person_of_visit < 0
    strangers = pa.array([], pa.string())
    if lost.any():
        lost_ids = pc.filter(visit_persons, pa.array(lost)).combine_chunks().cast(pa.string())
        strangers = pc.unique(lost_ids)
        ids = pa.concat_arrays([ids.cast(pa.string()), strangers])
        person_of_visit[lost] = n_table + _np(pc.index_in(lost_ids, value_set=strangers)).astype(np.int64)
    m = len(ids)
    id_rank = _np(pc.rank(ids, sort_keys="ascending", tiebreaker="dense")).astype(np.int64)  # ties by person_id
    if m and int(id_rank.max()) != m:
        raise SimulationError("persons.person_id: a person appears more than once")

    # visits compared and refused
    base_ok = _np(pc.equal(base.column("status"), "settled")).astype(bool)
    reform_ok = _np(pc.equal(reform.column("status"), "settled")).astype(bool)
    both = base_ok & reform_ok
    excluded = np.flatnonzero(~both)  # usually few: zeroed rather than filtered out (no copy of every column)

    def col(table: pa.Table, name: str) -> np.ndarray:
        values = _np(table.column(name)).astype(np.int64, copy=False)
        if len(excluded):
            values = values.copy()
            values[excluded] = 0
        return values

    visits = np.bincount(person_of_visit, minlength=m).astype(np.int64)
    if len(excluded):
        visits -= np.bincount(person_of_visit[excluded], minlength=m)
    pv = person_of_visit
    burden_b, burden_r = _sum_by(pv, col(base, "psn_part_amt_fen"), m), _sum_by(pv, col(reform, "psn_part_amt_fen"), m)
    cash_b, cash_r = _sum_by(pv, col(base, "psn_cash_pay_fen"), m), _sum_by(pv, col(reform, "psn_cash_pay_fen"), m)
    change, cash_change = burden_r - burden_b, cash_r - cash_b
    claimant = visits > 0

    # deciles of claimants by baseline burden, ties by person_id
    decile = np.zeros(m, dtype=np.int64)
    claimant_rows = np.flatnonzero(claimant)
    k = len(claimant_rows)
    if k:
        order = np.lexsort((id_rank[claimant_rows], burden_b[claimant_rows]))
        decile[claimant_rows[order]] = np.arange(k, dtype=np.int64) * 10 // k + 1

    # the persons' groups, as codes into each attribute's distinct values
    def attribute(name: str, missing: str) -> Attribute:
        values = pc.fill_null(persons.column(name).combine_chunks().cast(pa.string()), missing)
        if m > n_table:
            values = pa.concat_arrays([values, pa.array([UNKNOWN] * (m - n_table), pa.string())])
        encoded = values.dictionary_encode()
        return Attribute(values, _np(encoded.indices).astype(np.int64), encoded.dictionary.to_pylist())

    scheme, category, assistance = attribute("scheme", UNKNOWN), attribute("category", UNKNOWN), attribute("assistance", NONE)
    per_person = dict(visits=visits, burden_b=burden_b, burden_r=burden_r, change=change,
                      cash_b=cash_b, cash_r=cash_r, cash_change=cash_change, claimant=claimant, id_rank=id_rank)

    groups = {
        "category": _groups(category, list(V.ALL_CATEGORIES.items()), per_person),
        "scheme": _groups(scheme, list(V.SCHEMES.items()), per_person),
        "assistance": _groups(assistance, [*V.ASSISTANCE.items(), (NONE, "无救助身份")], per_person),
        "decile": _decile_rows(decile, per_person),
    }

    summary: dict[str, Any] = {
        "format": FORMAT,
        "claims": _claims(base, excluded, n_table, len(strangers), int(claimant.sum())),
        "funds": _funds(base, reform, excluded),
        "burden": _burden(per_person, m),
        "groups": groups,
        "winners_losers": _winners(ids, scheme, category, assistance, per_person, top),
        "histogram": _histogram(change[claimant], bins),
        "refused": _refused(base, reform, base_ok, reform_ok, messages),
    }
    table = pa.table({
        "person_id": ids,
        "scheme": scheme.values, "category": category.values, "assistance": assistance.values,
        "visits": pa.array(visits, pa.int64()),
        "base_burden_fen": pa.array(burden_b), "reform_burden_fen": pa.array(burden_r),
        "burden_change_fen": pa.array(change),
        "base_cash_fen": pa.array(cash_b), "reform_cash_fen": pa.array(cash_r), "cash_change_fen": pa.array(cash_change),
        "decile": pa.array(decile.astype(np.int8), pa.int8(), mask=decile == 0),
    })
    return Comparison(summary, table)


def _require(table: pa.Table, names: Sequence[str], what: str) -> None:
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise SimulationError(f"{what}: missing column(s) {', '.join(missing)}")


def _total(table: pa.Table, name: str, excluded: np.ndarray) -> int:
    """The exact sum of a fen column over the compared visits (all rows but ``excluded``)."""
    column = table.column(name)
    total = pc.sum(column).as_py() or 0
    if len(excluded):
        total -= pc.sum(column.take(pa.array(excluded))).as_py() or 0
    return int(total)


def _claims(base: pa.Table, excluded: np.ndarray, persons: int, strangers: int, claimants: int) -> dict[str, Any]:
    dates = base.column("date")
    years = sorted(y for y in pc.unique(base.column("year")).to_pylist() if y is not None)
    lo, hi = pc.min(dates).as_py(), pc.max(dates).as_py()
    return {
        "visits": base.num_rows,
        "compared_visits": base.num_rows - len(excluded),
        "persons": persons,
        "persons_not_in_table": strangers,
        "claimants": claimants,
        "date_from": lo.isoformat() if lo else None,
        "date_to": hi.isoformat() if hi else None,
        "years": years,
        "billed": yuan(_total(base, "medfee_sumamt_fen", excluded)),
    }


def _line(key: str, label: str, b: int, r: int) -> dict[str, Any]:
    return {"key": key, "label": label, "base": yuan(b), "reform": yuan(r), "change": yuan(r - b),
            "change_pct": percent(r - b, b)}


def _funds(base: pa.Table, reform: pa.Table, excluded: np.ndarray) -> dict[str, Any]:
    def total(table: pa.Table, name: str) -> int:
        return _total(table, name, excluded)

    rows = [_line(key, label, total(base, f"{key}_pay_fen"), total(reform, f"{key}_pay_fen")) for key, label in FUNDS]
    pooled_b, pooled_r = total(base, "fund_pay_sumamt_fen"), total(reform, "fund_pay_sumamt_fen")
    pooled = _line("total", "基金支付合计", pooled_b, pooled_r)
    account = _line(*ACCOUNT, total(base, "acct_pay_fen"), total(reform, "acct_pay_fen"))
    billed_b, billed_r = total(base, "medfee_sumamt_fen"), total(reform, "medfee_sumamt_fen")
    burden_change = total(reform, "psn_part_amt_fen") - total(base, "psn_part_amt_fen")
    return {
        "funds": rows,
        "total": pooled,
        "account": account,
        # the bill is the same in both runs, so what the funds save the persons pay
        "check": {"billed_equal": billed_b == billed_r,
                  "funds_plus_burden_change": yuan(pooled_r - pooled_b + burden_change)},
    }


def _burden(p: dict[str, np.ndarray], m: int) -> dict[str, Any]:
    b, r = int(p["burden_b"].sum()), int(p["burden_r"].sum())
    cb, cr = int(p["cash_b"].sum()), int(p["cash_r"].sum())
    claimants = int(p["claimant"].sum())
    return {
        "psn_part": _line("psn_part", "个人负担 account + cash", b, r),
        "cash": _line("cash", "现金 cash", cb, cr),
        "persons": m,
        "claimants": claimants,
        "mean_change_per_person": mean_yuan(r - b, m),
        "mean_change_per_claimant": mean_yuan(r - b, claimants),
        "mean_cash_change_per_claimant": mean_yuan(cr - cb, claimants),
    }


def _group_rows(codes: np.ndarray, keys: Sequence[tuple[str, str]], p: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """One row per key (``codes`` index into ``keys``), each sum made in one pass over all persons."""
    k = len(keys)

    def count(mask: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(codes if mask is None else codes[mask], minlength=k)

    persons, claimants = count(), count(p["claimant"])
    more, less = count(p["change"] > 0), count(p["change"] < 0)
    sums = {name: _sum_by(codes, p[name], k) for name in ("burden_b", "burden_r", "cash_b", "cash_r")}
    rows = []
    for i, (key, label) in enumerate(keys):
        b, r, cb, cr = (int(sums[name][i]) for name in ("burden_b", "burden_r", "cash_b", "cash_r"))
        n, c = int(persons[i]), int(claimants[i])
        rows.append({
            "key": key, "label": label, "persons": n, "claimants": c,
            "base": yuan(b), "reform": yuan(r), "change": yuan(r - b), "change_pct": percent(r - b, b),
            "cash_base": yuan(cb), "cash_reform": yuan(cr), "cash_change": yuan(cr - cb), "cash_change_pct": percent(cr - cb, cb),
            "mean_change_per_person": mean_yuan(r - b, n), "mean_change_per_claimant": mean_yuan(r - b, c),
            "pay_more": int(more[i]), "pay_less": int(less[i]),
        })
    return rows


def _groups(attr: Attribute, vocabulary: list[tuple[str, str]], p: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """One row per group present, in the vocabulary's order, then any other value."""
    labels = dict(vocabulary)
    known = [k for k, _ in vocabulary if k in attr.keys]
    order = known + sorted(set(attr.keys) - set(known))
    position = np.array([order.index(k) for k in attr.keys], dtype=np.int64)  # dictionary code → row
    codes = position[attr.codes] if len(attr.codes) else attr.codes
    return _group_rows(codes, [(k, labels.get(k, "未知 unknown")) for k in order], p)


def _decile_rows(decile: np.ndarray, p: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    claimant = decile > 0
    present = sorted(set(np.unique(decile[claimant]).tolist()))
    if not present:
        return []
    codes = decile[claimant] - 1
    sub = {name: value[claimant] for name, value in p.items()}
    rows = _group_rows(codes, [(str(d), f"D{d}") for d in range(1, 11)], sub)
    low = np.full(10, np.iinfo(np.int64).max, dtype=np.int64)
    high = np.full(10, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(low, codes, sub["burden_b"])
    np.maximum.at(high, codes, sub["burden_b"])
    for row, lo, hi in zip(rows, low, high):
        row["base_min"], row["base_max"] = (yuan(lo), yuan(hi)) if row["persons"] else (None, None)
    return [row for row in rows if row["persons"]]


def _winners(ids: pa.Array, scheme: Attribute, category: Attribute, assistance: Attribute,
             p: dict[str, np.ndarray], top: int) -> dict[str, Any]:
    change, claimant = p["change"], p["claimant"]

    def listing(rows: np.ndarray) -> list[dict[str, Any]]:
        return [{"person_id": ids[int(i)].as_py(), "scheme": scheme.values[int(i)].as_py(),
                 "category": category.values[int(i)].as_py(), "assistance": assistance.values[int(i)].as_py(),
                 "visits": int(p["visits"][i]),
                 "base": yuan(p["burden_b"][i]), "reform": yuan(p["burden_r"][i]), "change": yuan(change[i]),
                 "cash_change": yuan(p["cash_change"][i])} for i in rows]

    def extreme(sign: int) -> np.ndarray:
        """The ``top`` largest changes of this sign, ties by person_id."""
        rows = np.flatnonzero(change * sign > 0)
        if len(rows) > top > 0:  # keep every row reaching the top-th value (ties included), then sort those
            size = -(change[rows] * sign)
            cut = np.partition(size, top - 1)[top - 1]
            rows = rows[size <= cut]
        order = np.lexsort((p["id_rank"][rows], -(change[rows] * sign)))
        return rows[order[:top]]

    claim_change = np.sort(change[claimant])
    quantiles = {}
    if len(claim_change):
        for q in (0, 10, 25, 50, 75, 90, 100):  # nearest rank
            quantiles[f"p{q}"] = yuan(int(claim_change[max(0, -(-q * len(claim_change) // 100) - 1)]))
    return {
        "persons": len(change),
        "pay_more": int((change > 0).sum()),
        "pay_less": int((change < 0).sum()),
        "same": int((change == 0).sum()),
        "same_with_claims": int(((change == 0) & claimant).sum()),
        "without_claims": int((~claimant).sum()),
        "increase_total": yuan(int(change[change > 0].sum())),
        "decrease_total": yuan(int(change[change < 0].sum())),
        "claimant_change_quantiles": quantiles,
        "largest_increases": listing(extreme(1)),
        "largest_decreases": listing(extreme(-1)),
    }


def nice_step(raw: float) -> int:
    """The smallest 1/2/5 × 10ⁿ fen at least ``raw`` (at least 1 fen)."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= raw:
                return step * m
        step *= 10


def _histogram(changes: np.ndarray, bins: int) -> dict[str, Any]:
    """Claimants' per-person change in bins [edge_i, edge_i+1) on multiples of a round
    step (so 0 is an edge); persons with no change are counted apart."""
    zero = int((changes == 0).sum())
    nonzero = changes[changes != 0]
    if not len(nonzero):
        return {"unit": "yuan", "edges": [], "counts": [], "zero": zero, "claimants": len(changes)}
    lo, hi = int(nonzero.min()), int(nonzero.max())
    step = nice_step((hi - lo + 1) / max(1, bins))
    start, stop = (lo // step) * step, (hi // step + 1) * step
    edges = np.arange(start, stop + step, step, dtype=np.int64)
    which = np.searchsorted(edges, nonzero, side="right") - 1
    counts = np.bincount(which, minlength=len(edges) - 1)[: len(edges) - 1]
    return {"unit": "yuan", "edges": [yuan(e) for e in edges], "counts": [int(c) for c in counts],
            "zero": zero, "claimants": len(changes)}


def _refused(base: pa.Table, reform: pa.Table, base_ok: np.ndarray, reform_ok: np.ndarray,
             messages: int) -> dict[str, Any]:
    def run(table: pa.Table, ok: np.ndarray) -> dict[str, Any]:
        rows = np.flatnonzero(~ok)
        out: dict[str, Any] = {"count": len(rows), "messages": []}
        if not len(rows):
            return out
        sub = table.select(["visit_id", "error"]).take(pa.array(rows))
        # one message per cause: the engine's leading "visit <id>: " is not part of it
        errors = pc.replace_substring_regex(pc.fill_null(sub.column("error"), "(no message)"), r"^visit \S+?: ", "")
        counts = pc.value_counts(errors.combine_chunks())
        found = sorted(((c["counts"].as_py(), c["values"].as_py()) for c in counts), key=lambda t: (-t[0], t[1]))
        firsts = _np(pc.index_in(pa.array([m for _, m in found[:messages]], pa.string()), value_set=errors.combine_chunks()))
        out["messages"] = [{"message": msg, "count": n, "first_visit": sub.column("visit_id")[int(i)].as_py()}
                           for (n, msg), i in zip(found[:messages], firsts)]
        out["distinct_messages"] = len(found)
        return out

    return {
        "base": run(base, base_ok),
        "reform": run(reform, reform_ok),
        "base_only": int((~base_ok & reform_ok).sum()),
        "reform_only": int((base_ok & ~reform_ok).sum()),
        "both": int((~base_ok & ~reform_ok).sum()),
        "excluded_visits": int((~(base_ok & reform_ok)).sum()),
    }


# ---------------------------------------------------------------------- the reform


def describe_reform(city: str, reform: str, base_overlays: Sequence[str] = ()) -> dict[str, Any]:
    """What the reform overlay changes: each parameter whose text differs once it is laid
    over the base policy, as a unified diff of the parameter's YAML. Loading both policies
    also refuses a malformed overlay before any claim is settled (:class:`PolicyError`)."""
    import difflib
    from pathlib import Path

    import yaml

    from yibao.policy.loader import load_city

    before = load_city(city, tuple(str(o) for o in base_overlays))
    after = load_city(city, (*(str(o) for o in base_overlays), str(reform)))
    try:
        raw = yaml.safe_load(Path(reform).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):  # pragma: no cover - load_city has read it already
        raw = {}

    def dump(value: Any) -> list[str]:
        if value is None:
            return []
        return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, default_flow_style=False).splitlines()

    changes = []
    for name in sorted(set(before.raw) | set(after.raw)):
        a, b = before.raw.get(name), after.raw.get(name)
        if a == b:
            continue
        diff = difflib.unified_diff(dump(a), dump(b), f"{name} (current)", f"{name} (reform)", lineterm="", n=2)
        param = after.parameters.get(name) or before.parameters.get(name)
        changes.append({"parameter": name, "description": param.description if param else "",
                        "diff": "\n".join(diff)})
    if before.document.start != after.document.start or before.document.end != after.document.end:
        changes.append({"parameter": "effective", "description": "the document's dates",
                        "diff": f"- {before.document.span()}\n+ {after.document.span()}"})
    return {"file": str(reform), "description": raw.get("description") if isinstance(raw, dict) else None,
            "base_overlays": [str(o) for o in base_overlays], "changes": changes}


# ---------------------------------------------------------------------- the two runs


def settle_function() -> SettleFn:
    """The fast engine's ``settle_tables``."""
    from yibao.batch.engine import settle_tables

    return settle_tables


def accepts_progress(settle: SettleFn) -> bool:
    try:
        params = inspect.signature(settle).parameters
    except (TypeError, ValueError):
        return False
    return "progress" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


@dataclass(frozen=True)
class Runs:
    base: pa.Table
    reform: pa.Table
    seconds: tuple[float, float]


def settle_run(settle: SettleFn, persons: pa.Table, visits: pa.Table, overlays: Sequence[str],
               progress: bool = False) -> pa.Table:
    """One settlement of the claims; ``progress=True`` is passed only to a function taking it."""
    extra = {"progress": True} if progress and accepts_progress(settle) else {}
    results = settle(persons, visits, None, overlays=tuple(str(o) for o in overlays), **extra)
    if results.num_rows != visits.num_rows:
        raise SimulationError(f"the settle function returned {results.num_rows} rows for {visits.num_rows} visits")
    return results


def run_both(persons: pa.Table, visits: pa.Table, reform: str, base_overlays: Sequence[str] = (), *,
             settle: SettleFn | None = None, progress: bool = False) -> Runs:
    """Settle ``visits`` under the base overlays, then under the base overlays + ``reform``."""
    settle = settle or settle_function()
    out, seconds = [], []
    for overlays in (tuple(base_overlays), (*base_overlays, reform)):
        t0 = time.perf_counter()
        out.append(settle_run(settle, persons, visits, overlays, progress))
        seconds.append(time.perf_counter() - t0)
    return Runs(out[0], out[1], (seconds[0], seconds[1]))


def simulate(persons: pa.Table, visits: pa.Table, reform: str, base_overlays: Sequence[str] = (), *,
             settle: SettleFn | None = None, progress: bool = False, top: int = 20) -> Comparison:
    """Settle twice and compare (no files written)."""
    runs = run_both(persons, visits, reform, base_overlays, settle=settle, progress=progress)
    return compare(persons, runs.base, runs.reform, top=top)


__all__ = ["Comparison", "Runs", "SimulationError", "compare", "run_both", "simulate", "yuan", "mean_yuan",
           "percent", "settle_function", "settle_run", "describe_reform", "accepts_progress"]
