"""Stage 2 — classify the visit: its facts, impossible visits (G13), filings (G4), and the
benefit line (待遇类别) that settles it, chosen by the city's ``<scheme>.lines`` rules."""

from __future__ import annotations

from typing import Any

from yibao.engine.context import VisitContext
from yibao.engine.state import Totals, TraceStep, VisitState
from yibao.errors import CaseError
from yibao.money import ZERO
from yibao.policy.model import Benefit, LineRule

_AT_PHARMACY = {"pharmacy", "chronic", "special"}
_FEMALE_ONLY = {"delivery", "prenatal"}


def classify(ctx: VisitContext, totals: Totals, state: VisitState) -> VisitState:
    person, visit = ctx.person, ctx.visit
    _reject_impossible(ctx)
    steps: list[TraceStep] = []
    kind = visit.kind
    filings = {"chronic": person.filings.chronic, "special": person.filings.special}
    filed = kind in filings and visit.disease in filings[kind]
    if kind in filings and not filed:
        steps.append(
            TraceStep(
                "filing",
                "未备案 not filed",
                ZERO,
                f"{visit.disease} is not in the person's {kind} filings: settled as ordinary outpatient",
                "G4",
            )
        )
        kind = "outpatient"
    facts = base_facts(ctx, kind, filed)
    line, as_kind, reason = _choose_line(ctx, facts)
    if as_kind and as_kind != kind:
        steps.append(TraceStep("line", "待遇类别 benefit line", ZERO, f"settled as {as_kind}: {reason or ''}".strip(), ctx.rules.clause(f"{ctx.scheme}.lines")))
        facts = {**facts, "kind": as_kind}
    benefit: Benefit = ctx.rules.require(f"{ctx.scheme}.{line}.benefit")
    facts = {**facts, "line": line, "pool": benefit.pool}
    steps.append(
        TraceStep("line", "待遇类别 benefit line", ZERO, f"{facts['kind']} visit settled by the {line} line ({benefit.pool} pool)", ctx.rules.clause(f"{ctx.scheme}.lines"))
    )
    return state.with_(*steps, facts=facts, line=line, pool=benefit.pool)


def base_facts(ctx: VisitContext, kind: str, filed: bool) -> dict[str, Any]:
    person, visit = ctx.person, ctx.visit
    nonlocal_route = None if visit.location == "local" else (visit.route or "temporary")  # G12
    return {
        "scheme": person.scheme,
        "category": person.category,
        "grade": str(person.grade),
        "level": visit.level,
        "kind": kind,
        "location": visit.location,
        "route": nonlocal_route,
        "assistance": person.assistance,
        "disease": visit.disease,
        "sex": person.sex,
        "age": person.age_on(visit.date),
        "flags": frozenset(person.flags),
        "procedures": frozenset(visit.procedure or ()),
        "filed": filed,
        "filed_chronic": frozenset(person.filings.chronic),
        "disease_lists": _DiseaseLists(ctx),
    }


class _DiseaseLists:
    """The city's disease lists, read only when a rule asks (a blank list is refused)."""

    def __init__(self, ctx: VisitContext):
        self._ctx = ctx

    def get(self, which: str, default: Any = ()) -> Any:
        value = self._ctx.rules.optional(f"diseases.{which}")
        return default if value is None else value


def _choose_line(ctx: VisitContext, facts: dict[str, Any]) -> tuple[str, str | None, str | None]:
    rules: tuple[LineRule, ...] = ctx.rules.require(f"{ctx.scheme}.lines")
    for rule in rules:
        if rule.when.holds(facts):
            return rule.line, rule.as_kind, rule.reason
    raise CaseError(
        f"visit {ctx.visit.id}: {ctx.rules.policy.document.name} has no {ctx.scheme} benefit for a "
        f"{facts['kind']} visit at {facts['level']}"
    )


def _reject_impossible(ctx: VisitContext) -> None:
    """G13: visits that cannot happen are refused, never settled silently."""
    person, visit = ctx.person, ctx.visit
    where = f"visit {visit.id}"
    if visit.level == "pharmacy" and visit.kind not in _AT_PHARMACY:
        raise CaseError(f"{where}: kind {visit.kind!r} cannot take place at a pharmacy (level 'pharmacy')")
    if visit.kind == "pharmacy" and visit.level != "pharmacy":
        raise CaseError(f"{where}: kind 'pharmacy' (定点零售药店购药) needs level 'pharmacy', not {visit.level!r}")
    if visit.kind in _FEMALE_ONLY and person.sex == "M":
        raise CaseError(f"{where}: a {visit.kind} visit for a male person")
    if visit.kind in ("chronic", "special") and visit.disease is None:
        raise CaseError(f"{where}: a {visit.kind} visit needs `disease`")
    if visit.kind == "family_planning" and not visit.procedure:
        raise CaseError(f"{where}: a family_planning visit needs `procedure`")
    if visit.procedure and visit.kind != "family_planning":
        raise CaseError(f"{where}: `procedure` is only for family_planning visits")
    if visit.location == "local" and visit.route is not None:
        raise CaseError(f"{where}: route {visit.route!r} is only for a non-local visit (location is 'local')")
    if visit.kind == "family_planning" and person.sex == "M" and set(visit.procedure or ()) - {"vasectomy"}:
        raise CaseError(f"{where}: procedure {sorted(set(visit.procedure or ()) - {'vasectomy'})[0]!r} for a male person")
    if visit.kind == "family_planning" and person.sex == "F" and "vasectomy" in (visit.procedure or ()):
        raise CaseError(f"{where}: procedure 'vasectomy' for a female person")
