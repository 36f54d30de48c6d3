"""The reference batch: every person's visits through the per-visit engine, as tables.

:func:`settle_tables` reads the claim tables back into cases (:func:`yibao.batch.convert.
tables_to_cases`), settles each person with :func:`yibao.engine.pipeline.settle_case` —
the engine behind ``yibao settle`` and the settlement service — and writes the results
table of :mod:`yibao.batch.tables`. It is the differential oracle of the compiled batch
engine and the baseline of its speed comparison, so it is kept simple: no shortcut, one
``settle_case`` per person (more only when a visit is refused).

**A refused visit.** When the engine refuses a person's case (a
:class:`~yibao.errors.YibaoError`: a figure the policy leaves blank, a bill it cannot
settle, …), the visit at fault is found by settling growing prefixes of the person's
visits: the first prefix that is refused ends with it. That visit gets status
``refused``, the engine's message and zero amounts (``balc`` too), and the person's other
visits are settled again *without it* — as the settlement service does, a refused
settlement records nothing, so it neither counts towards the year's totals nor spends the
account. This repeats until the remaining visits settle. A visit whose row does not make
a valid visit (or a person whose row does not make a valid person) is refused the same
way, with the validation message.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any, Sequence

import pyarrow as pa

from yibao.batch import tables as T
from yibao.batch.convert import raw_cases, to_fen
from yibao.case import Case, Visit, parse_case
from yibao.engine.pipeline import Settlement, settle_case
from yibao.errors import YibaoError
from yibao.policy.loader import CityPolicy
from yibao.report import settlement_json

Outcome = Settlement | str  # a settlement, or why the visit was refused


def settle_tables(
    persons: pa.Table, visits: pa.Table, lines: pa.Table | None = None, *, overlays: Sequence[str] = (),
    progress: bool = False,
) -> pa.Table:
    """The results table: one row per row of ``visits``, in its order.

    ``overlays`` are policy overlay files; each names its city and is applied to that
    city's policy only (as the settlement service does). ``progress`` shows a bar of the
    persons settled on standard error. Raises
    :class:`~yibao.batch.tables.TableError` for tables that do not validate and
    :class:`~yibao.errors.PolicyError` for an overlay that does not load.
    """
    from yibao.service.policies import Policies

    policies = Policies(tuple(str(o) for o in overlays))
    cache: dict[str, CityPolicy] = {}
    columns: dict[str, list[Any]] = {c.name: [None] * visits.num_rows for c in T.RESULTS}
    people = raw_cases(persons, visits, lines)
    if progress:
        from tqdm import tqdm

        people = tqdm(people, total=persons.num_rows, unit="person", desc="reference", file=sys.stderr)
    for raw, rows in people:
        city = raw["city"]
        if city not in cache:
            cache[city] = policies.for_city(city)
        outcomes = settle_person(raw, cache[city])
        for row, raw_visit, outcome in zip(rows, raw["visits"], outcomes):
            _result(columns, row, raw["person"]["id"], city, raw_visit, outcome)
    return pa.table(columns, schema=T.schema(T.RESULTS))


def settle_person(raw: dict[str, Any], policy: CityPolicy) -> list[Outcome]:
    """Settle one person's case (a decoded case dict); one outcome per visit, in order."""
    outcomes: list[Outcome | None] = [None] * len(raw["visits"])
    kept: list[tuple[int, Visit]] = []
    case: Case | None = None
    try:
        case = parse_case(raw)
        kept = list(enumerate(case.visits))
    except YibaoError:  # find the rows at fault: each visit with the person on its own
        for i, raw_visit in enumerate(raw["visits"]):
            try:
                one = parse_case({"city": raw["city"], "person": raw["person"], "visits": [raw_visit]})
            except YibaoError as exc:
                outcomes[i] = str(exc)
                continue
            case = case or one
            kept.append((i, one.visits[0]))
    while kept:
        assert case is not None
        try:
            settlements = settle_case(_with(case, kept), policy)
        except YibaoError:
            at, message = _first_refused(case, kept, policy)
            outcomes[kept[at][0]] = message
            del kept[at]
            continue
        for (i, _), s in zip(kept, settlements):
            outcomes[i] = s
        break
    return outcomes  # type: ignore[return-value]  # every visit has its outcome


def _with(case: Case, kept: list[tuple[int, Visit]]) -> Case:
    return case.model_copy(update={"visits": tuple(v for _, v in kept)})


def _first_refused(case: Case, kept: list[tuple[int, Visit]], policy: CityPolicy) -> tuple[int, str]:
    """The position in ``kept`` of the first visit refused, and the engine's message."""
    for n in range(1, len(kept) + 1):
        try:
            settle_case(_with(case, kept[:n]), policy)
        except YibaoError as exc:
            return n - 1, str(exc)
    raise AssertionError("the whole case was refused but none of its prefixes")  # pragma: no cover


def _result(columns: dict[str, list[Any]], row: int, person_id: str, city: str, raw_visit: dict[str, Any], outcome: Outcome) -> None:
    date = raw_visit["date"]
    values: dict[str, Any] = {"visit_id": raw_visit["id"], "person_id": person_id, "city": city, "date": date, "plan": -1}
    if isinstance(outcome, Settlement):
        doc = settlement_json(outcome)
        values.update(year=doc["year"], status="settled", error=None)
        values.update({f"{name}_fen": to_fen(Decimal(doc[name]), name) for name in T.RESULT_MONEY})
    else:
        values.update(year=date.year, status="refused", error=outcome)
        values.update({f"{name}_fen": 0 for name in T.RESULT_MONEY})
    for key, value in values.items():
        columns[key][row] = value
