"""Synthetic populations and a year of claims per city (``yibao synth``).

:func:`generate` yields, block after block of persons, a ``persons`` table and a
``visits`` table in the schemas of :mod:`yibao.batch.tables`; :func:`write` streams them
to ``persons.parquet`` and ``visits.parquet``. Everything is vectorised with numpy: no
Python loop runs per person or per claim, only per block and per disease or kind.

Reproducible: block ``b`` of persons draws from its own generator,
``Generator(PCG64(SeedSequence(seed, spawn_key=(city, year, b))))``, and blocks have a
fixed size, so the tables depend on (city, persons, year, seed) only — never on how they
are buffered into Parquet row groups. Identifiers are deterministic:
``P{admdvs}{index:09d}`` for persons and ``V{admdvs}{year}{index:09d}{seq:04d}`` for
visits (the person's index and the visit's rank in that person's year).

Only visits the city can settle are generated: the impossible visits of
:func:`yibao.engine.stages.classify._reject_impossible` never appear (pharmacy kind ⇔
pharmacy level, a disease for every chronic and special visit, sex-consistent
family-planning procedures, a route only off-site, female-only kinds for women), and a
kind is generated only when the city's ``<scheme>.lines`` give it a benefit line. Filings
follow the city's disease lists where the city has them. The distributions are written
down, with their reasoning, in ``docs/batch/synth.md``; the figures are illustrative.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pyarrow as pa

from yibao import vocabulary as V
from yibao.batch import tables

#: Persons per block: the unit of randomness (each block has its own seeded generator).
BLOCK = 8192

#: 医保区划 of each pooling city (as in ``yibao/service/codes/national.yaml``).
ADMDVS = {"jiaxing": "330400", "hangzhou": "330100", "suizhou": "421300", "suzhou": "320500", "zhoushan": "330900"}

# ------------------------------------------------------------------------------ codes

KINDS = list(V.KINDS)
LEVELS = list(V.LEVELS)  # clinic, primary, level1, secondary, tertiary, pharmacy
LOCATIONS = list(V.LOCATIONS)
ROUTES = list(V.ROUTES)
DISEASES = sorted(V.DISEASES)  # a filing set is a bit mask over this order, so joins come out sorted
FLAGS = sorted(V.FLAGS)
ASSISTANCE = list(V.ASSISTANCE)
CATEGORIES = ["active", "retired", "flexible", "unemployed", "child", "student", "adult", "elderly"]
SCHEMES = ["employee", "resident"]
SEXES = ["F", "M"]
#: family-planning procedure sets, each already '+'-joined in sorted order
PROCEDURE_SETS = ["iud_insert", "iud_remove", "abortion", "induced_labor", "ligation", "vasectomy", "abortion+iud_insert"]

K = {k: i for i, k in enumerate(KINDS)}
L = {k: i for i, k in enumerate(LEVELS)}
D = {k: i for i, k in enumerate(DISEASES)}
C = {k: i for i, k in enumerate(CATEGORIES)}
R = {k: i for i, k in enumerate(ROUTES)}


def _p(**shares: float) -> np.ndarray:
    """Level shares as a vector over LEVELS (normalised)."""
    v = np.array([shares.get(level, 0.0) for level in LEVELS], dtype=float)
    return v / v.sum()


# ------------------------------------------------------------------------------ cities


@dataclass(frozen=True)
class CityProfile:
    """What varies by city (illustrative): employment, retirement coverage, assistance, costs."""

    work: float  # share of persons aged 23–59 insured as employees (the rest are residents)
    retire: float  # share of persons aged 60–69 who are retired employees
    assistance: float  # multiplier of the assistance shares
    grade2: float  # share of adult/elderly residents on contribution grade 2
    cost: float  # multiplier of every bill


PROFILES = {
    "jiaxing": CityProfile(work=0.75, retire=0.65, assistance=0.6, grade2=0.0, cost=1.00),
    "hangzhou": CityProfile(work=0.78, retire=0.66, assistance=0.5, grade2=0.35, cost=1.15),
    "suizhou": CityProfile(work=0.55, retire=0.45, assistance=1.5, grade2=0.0, cost=0.75),
    "suzhou": CityProfile(work=0.80, retire=0.66, assistance=0.5, grade2=0.0, cost=1.10),
    "zhoushan": CityProfile(work=0.68, retire=0.60, assistance=0.7, grade2=0.0, cost=0.95),
}

# ------------------------------------------------------------------------------ persons

#: age pyramid: 5-year bands from 0 (the last 90–99), shares in % (shaped on China's 2020 census)
PYRAMID = np.array([5.2, 6.0, 6.1, 5.4, 5.3, 6.4, 8.4, 7.3, 7.0, 8.0, 8.6, 7.8,
                    5.7, 5.2, 3.7, 2.4, 1.5, 0.8, 0.3])

#: assistance groups: (share among residents, among employees relative to residents, who)
ASSISTANCE_SHARES = {
    "subsistence": (0.022, 0.08, "any"),
    "destitute": (0.004, 0.02, "old"),  # 特困: mostly elderly without family
    "marginal": (0.010, 0.10, "any"),
    "expenditure_poverty": (0.003, 0.10, "any"),
    "disabled_severe": (0.008, 0.15, "any"),
    "orphan": (0.001, 0.0, "child"),  # of children only
    "returned_poverty": (0.006, 0.05, "any"),
    "other": (0.003, 0.10, "any"),
}

# chronic/special filing probabilities by age, at knots 0, 20, 40, 60, 80 (linear between)
AGE_KNOTS = np.array([0, 20, 40, 60, 80])


@dataclass(frozen=True)
class Disease:
    name: str
    kind: str  # the kind of filing it normally is: "chronic" or "special"
    p: tuple[float, float, float, float, float]  # filing probability at AGE_KNOTS
    sex: str | None = None
    visits: float = 6.0  # special visits a year (chronic visits are per person, see below)
    median: float = 250.0  # yuan per special visit
    sigma: float = 0.5
    pharmacy: float = 0.10  # share of special visits at a 双通道 pharmacy


DISEASE_MODELS = (
    Disease("hypertension", "chronic", (0, 0.002, 0.04, 0.16, 0.28)),
    Disease("diabetes", "chronic", (0, 0.001, 0.02, 0.08, 0.12)),
    Disease("coronary_heart_disease", "chronic", (0, 0, 0.005, 0.03, 0.08)),
    Disease("hyperlipidemia", "chronic", (0, 0.001, 0.02, 0.05, 0.06)),
    Disease("copd", "chronic", (0, 0, 0.003, 0.015, 0.04), visits=6, median=500),
    Disease("chronic_kidney_disease", "chronic", (0, 0.001, 0.004, 0.01, 0.02)),
    Disease("chronic_liver_disease", "chronic", (0, 0.001, 0.006, 0.008, 0.006)),
    Disease("rheumatoid_arthritis", "chronic", (0, 0.001, 0.004, 0.007, 0.008)),
    Disease("asthma", "chronic", (0.004, 0.003, 0.003, 0.005, 0.007)),
    Disease("schizophrenia", "chronic", (0, 0.003, 0.004, 0.004, 0.003)),
    Disease("parkinsons", "chronic", (0, 0, 0.0005, 0.006, 0.015), visits=6, median=600),
    Disease("alzheimers", "chronic", (0, 0, 0, 0.003, 0.03), visits=6, median=500),
    Disease("prostatic_hyperplasia", "chronic", (0, 0, 0.005, 0.04, 0.08), sex="M"),
    Disease("osteoporosis", "chronic", (0, 0, 0.002, 0.03, 0.07), sex="F"),
    Disease("tuberculosis", "chronic", (0, 0.0004, 0.0005, 0.0006, 0.0008), visits=6, median=400),
    Disease("malignant_tumor", "special", (0.0002, 0.0005, 0.004, 0.012, 0.02), visits=10, median=3500, sigma=1.0),
    Disease("uremia_dialysis", "special", (0, 0.0001, 0.0004, 0.0008, 0.001), visits=104, median=420, sigma=0.15, pharmacy=0),
    Disease("peritoneal_dialysis", "special", (0, 0.00002, 0.00008, 0.00015, 0.0002), visits=12, median=3000, sigma=0.3),
    Disease("organ_transplant_antirejection", "special", (0.00001, 0.00005, 0.0002, 0.0002, 0.0001), visits=12, median=2200, sigma=0.4),
    Disease("severe_mental_disorder", "special", (0, 0.002, 0.003, 0.003, 0.002), visits=10, median=450),
    Disease("aplastic_anemia", "special", (0.00005,) * 5, visits=10, median=1500, sigma=0.6),
    Disease("hemophilia", "special", (0.0001,) * 5, sex="M", visits=12, median=5000, sigma=0.7),
    Disease("lupus", "special", (0, 0.0006, 0.0007, 0.0005, 0.0003), sex="F", visits=6, median=800, sigma=0.6),
    Disease("decompensated_cirrhosis", "special", (0, 0, 0.0004, 0.001, 0.001), visits=8, median=1500, sigma=0.7),
    Disease("autism", "special", (0.003, 0, 0, 0, 0), visits=24, median=900, sigma=0.4, pharmacy=0),
    Disease("cerebral_palsy", "special", (0.0015, 0.0005, 0, 0, 0), visits=24, median=900, sigma=0.4, pharmacy=0),
    Disease("epilepsy", "special", (0.002,) * 5, visits=6, median=400),
    Disease("diabetes_insulin", "special", (0, 0.0005, 0.004, 0.012, 0.015), visits=8, median=450),
    Disease("aids", "special", (0, 0.0002, 0.0002, 0.0001, 0), visits=6, median=300),
    Disease("leukemia", "special", (0.0001,) * 5, visits=10, median=8000, sigma=0.8),
)

# ------------------------------------------------------------------------------ visits

# outpatient visits a year by age (knots), before the person's frailty and the scheme factor
OUTPATIENT_AGES = np.array([0, 3, 6, 15, 25, 45, 60, 75, 90])
OUTPATIENT_MEAN = np.array([10, 7, 4, 2.5, 2.8, 4, 7, 11, 13])
PHARMACY_AGES = np.array([18, 40, 60, 80])
PHARMACY_MEAN = np.array([2.5, 3.5, 6, 8])
INPATIENT_AGES = np.array([0, 5, 15, 45, 60, 75, 90])
INPATIENT_RATE = np.array([0.10, 0.04, 0.04, 0.08, 0.16, 0.28, 0.40])
FRAILTY_SHAPE = 1.3  # gamma frailty, mean 1: negative-binomial counts, correlated across kinds

OUTPATIENT_LEVELS = {
    "employee": _p(clinic=0.08, primary=0.35, level1=0.05, secondary=0.22, tertiary=0.30),
    "resident": _p(clinic=0.20, primary=0.42, level1=0.05, secondary=0.18, tertiary=0.15),
}
INPATIENT_LEVELS = {
    "employee": _p(primary=0.15, level1=0.07, secondary=0.33, tertiary=0.45),
    "resident": _p(primary=0.22, level1=0.08, secondary=0.38, tertiary=0.32),
}
CHRONIC_LEVELS = _p(primary=0.45, level1=0.05, secondary=0.22, tertiary=0.18, pharmacy=0.10)
PRENATAL_LEVELS = _p(primary=0.30, secondary=0.35, tertiary=0.35)
DELIVERY_LEVELS = _p(primary=0.05, level1=0.05, secondary=0.40, tertiary=0.50)
DAY_SURGERY_LEVELS = _p(secondary=0.35, tertiary=0.65)
FAMILY_BED_LEVELS = _p(primary=0.8, level1=0.2)
FAMILY_PLANNING_LEVELS = _p(primary=0.4, secondary=0.4, tertiary=0.2)

# median bill in yuan by level (clinic, primary, level1, secondary, tertiary, pharmacy)
OUTPATIENT_MEDIAN = np.array([40, 85, 120, 210, 360, 0.0])
CHRONIC_MEDIAN = np.array([0, 230, 250, 300, 380, 220.0])
INPATIENT_MEDIAN = np.array([0, 3500, 4500, 7000, 12000, 0.0])
INPATIENT_TAIL = np.array([0, 0.004, 0.004, 0.012, 0.03, 0])  # share of stays drawn from the Pareto tail
PRENATAL_MEDIAN = np.array([0, 180, 200, 260, 350, 0.0])
SPECIAL_LEVEL_FACTOR = np.array([1, 0.8, 0.85, 0.9, 1.15, 1.0])
DELIVERY_LEVEL_FACTOR = np.array([1, 0.8, 0.85, 1.0, 1.2, 1.0])
PROCEDURE_MEDIAN = np.array([300, 200, 1200, 3000, 2500, 1500, 1500.0])  # by PROCEDURE_SETS

# catalogue split by kind: (share of bills with no 全自费 part, mean 全自费 share,
#   share of bills with a 超限价 part, mean 超限价 share, mean 先行自付 share)
SPLIT = {
    "outpatient": (0.35, 0.06, 0.05, 0.03, 0.035),
    "pharmacy": (0.30, 0.10, 0.03, 0.03, 0.045),
    "chronic": (0.50, 0.03, 0.03, 0.02, 0.040),
    "special": (0.40, 0.04, 0.05, 0.02, 0.050),
    "inpatient": (0.05, 0.08, 0.25, 0.02, 0.050),
    "family_bed": (0.30, 0.03, 0.05, 0.02, 0.040),
    "day_surgery": (0.10, 0.06, 0.20, 0.02, 0.050),
    "prenatal": (0.30, 0.10, 0.02, 0.02, 0.030),
    "delivery": (0.10, 0.07, 0.15, 0.02, 0.040),
    "family_planning": (0.40, 0.05, 0.02, 0.02, 0.030),
}
_SPLIT = np.array([SPLIT[k] for k in KINDS])

# non-local care: (share in the province, share out of the province) and the routes' shares
NONLOCAL = {"outpatient": (0.03, 0.01), "inpatient": (0.06, 0.02), "day_surgery": (0.04, 0.01), "delivery": (0.03, 0.01)}
ROUTE_SHARES = {
    "outpatient": np.array([0.35, 0.10, 0.15, 0.40]),  # long_term, referral, emergency, temporary
    "inpatient": np.array([0.25, 0.35, 0.20, 0.20]),
}

# ------------------------------------------------------------------------------ helpers


def _interp(x: np.ndarray, knots: np.ndarray, values: Any) -> np.ndarray:
    return np.interp(x, knots, np.asarray(values, dtype=float))


def _choose(rng: np.random.Generator, probs: np.ndarray, n: int) -> np.ndarray:
    """``n`` draws of an index with probabilities ``probs`` (one row, or one row per draw)."""
    u = rng.random(n)
    if probs.ndim == 1:
        return np.minimum(np.searchsorted(np.cumsum(probs), u, side="right"), len(probs) - 1)
    cdf = np.cumsum(probs, axis=1)
    return np.minimum((u[:, None] >= cdf).sum(axis=1), probs.shape[1] - 1)


def _lognormal(rng: np.random.Generator, median: np.ndarray, sigma: Any, n: int) -> np.ndarray:
    return median * np.exp(np.asarray(sigma) * rng.standard_normal(n))


def _year_days(year: int) -> tuple[int, int]:
    """(days since 1970-01-01 of 1 January, days in the year)."""
    start = (dt.date(year, 1, 1) - dt.date(1970, 1, 1)).days
    return start, (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days


def _day_cdf(year: int, weekend: tuple[float, float]) -> np.ndarray:
    """Cumulative weights of the year's days: a winter peak and quieter weekends."""
    start, n = _year_days(year)
    d = np.arange(n)
    w = 1 + 0.18 * np.cos(2 * np.pi * (d - 20) / n)
    weekday = (start + d + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    w = w * np.where(weekday == 5, weekend[0], np.where(weekday == 6, weekend[1], 1.0))
    cdf = np.cumsum(w)
    return cdf / cdf[-1]


def _days(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)


def _strings(codes: np.ndarray, vocabulary: list[str]) -> pa.Array:
    """A string column from integer codes into ``vocabulary`` (negative codes are null)."""
    codes = np.asarray(codes)
    idx = pa.array(codes.astype(np.int32), mask=codes < 0) if (codes < 0).any() else pa.array(codes.astype(np.int32))
    return pa.array(vocabulary, pa.string()).take(idx)


def _mask_strings(masks: np.ndarray, names: list[str]) -> pa.Array:
    """'+'-joined member names of bit masks (bit i is ``names[i]``; names sorted, so joins are)."""
    unique, inverse = np.unique(masks, return_inverse=True)
    joined = ["+".join(names[b] for b in range(len(names)) if (int(m) >> b) & 1) for m in unique]
    return pa.array(joined, pa.string()).take(pa.array(inverse.astype(np.int32)))


def _digits(out: np.ndarray, col: int, values: np.ndarray, width: int) -> None:
    v = values.astype(np.int64)
    for j in range(width - 1, -1, -1):
        out[:, col + j] = 48 + v % 10
        v //= 10


def _fixed_ids(prefix: str, parts: list[tuple[np.ndarray, int]], n: int) -> pa.Array:
    """Fixed-width identifiers: ``prefix`` then each number zero-padded to its width."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    width = len(head) + sum(w for _, w in parts)
    buf = np.empty((n, width), dtype=np.uint8)
    buf[:, : len(head)] = head
    col = len(head)
    for values, w in parts:
        if len(values) and int(values.max()) >= 10**w:
            raise ValueError(f"an identifier part does not fit in {w} digits")
        _digits(buf, col, values, w)
        col += w
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf.tobytes()))


def _seeded(seed: int, city: str, year: int, block: int) -> np.random.Generator:
    key = (list(V.CITIES).index(city), year, block)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


# ------------------------------------------------------------------------------ the city's policy


@dataclass(frozen=True)
class CityRules:
    """What the generator takes from the city's policy: the kinds each scheme's benefit
    lines accept, and the city's chronic and special disease lists (None: no list)."""

    kinds: dict[str, frozenset[str]]
    chronic: frozenset[str] | None
    special: frozenset[str] | None
    covered: bool  # the policy document is in force during the year


def city_rules(city: str, year: int) -> CityRules:
    from yibao.policy.loader import load_city
    from yibao.policy.selectors import Missing

    policy = load_city(city)
    day = dt.date(year, 7, 1)

    def value(name: str) -> Any:
        """The value in force mid-year; outside the policy's span, the nearest version's."""
        param = policy.get(name)
        if param is None or not param.versions:
            return None
        version = param.at(day)
        if version is None:
            later = [v for v in param.versions if v.start is not None and v.start > day]
            version = min(later, key=lambda v: v.start) if later else param.versions[-1]
        return None if isinstance(version.value, Missing) else version.value

    kinds = {}
    for scheme in SCHEMES:
        rules = value(f"{scheme}.lines") or ()
        accepted = set()
        for rule in rules:
            tests = dict(rule.when.tests)
            accepted |= set(tests["kind"]) if "kind" in tests else set(KINDS)
        kinds[scheme] = frozenset(accepted)
    lists = {}
    for which in ("chronic", "special"):
        found = value(f"diseases.{which}")
        lists[which] = frozenset(found) if found else None
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    return CityRules(kinds, lists["chronic"], lists["special"], policy.document.covers(start) and policy.document.covers(end))


def _filing_kinds(rules: CityRules) -> list[tuple[Disease, str]]:
    """Each disease model with the kind of filing it gets in this city (unfiled ones dropped):
    its usual kind if on that list, else the other kind if on that one; without lists, its usual kind."""
    lists = {"chronic": rules.chronic, "special": rules.special}
    out = []
    for model in DISEASE_MODELS:
        other = "special" if model.kind == "chronic" else "chronic"
        if lists["chronic"] is None and lists["special"] is None:
            out.append((model, model.kind))
        elif lists[model.kind] is None or model.name in lists[model.kind]:
            out.append((model, model.kind))
        elif lists[other] is not None and model.name in lists[other]:
            out.append((model, other))
    return out


# ------------------------------------------------------------------------------ one block


@dataclass
class _Persons:
    n: int
    age: np.ndarray
    female: np.ndarray
    employee: np.ndarray
    category: np.ndarray
    frailty: np.ndarray
    chronic: np.ndarray  # bit masks over DISEASES
    special: np.ndarray
    table: pa.Table


class _Visits:
    """Visit columns accumulated stream by stream (one stream per kind or disease)."""

    FIELDS = ("person", "kind", "level", "day", "location", "route", "transfer", "disease", "procedure", "bill")

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {f: [] for f in self.FIELDS}

    def add(self, person: np.ndarray, kind: str, level: np.ndarray, day: np.ndarray, bill: np.ndarray, *,
            location: np.ndarray | None = None, route: np.ndarray | None = None, transfer: np.ndarray | None = None,
            disease: np.ndarray | int = -1, procedure: np.ndarray | None = None) -> None:
        m = len(person)
        if not m:
            return
        none = np.full(m, -1, dtype=np.int8)
        cols = {
            "person": person.astype(np.int32), "kind": np.full(m, K[kind], dtype=np.int8), "level": level.astype(np.int8),
            "day": day.astype(np.int32), "location": np.zeros(m, np.int8) if location is None else location.astype(np.int8),
            "route": none if route is None else route.astype(np.int8),
            "transfer": none if transfer is None else transfer.astype(np.int8),
            "disease": np.broadcast_to(np.asarray(disease, dtype=np.int8), (m,)),
            "procedure": none if procedure is None else procedure.astype(np.int8), "bill": bill,
        }
        for f in self.FIELDS:
            self.parts[f].append(cols[f])

    def arrays(self) -> dict[str, np.ndarray]:
        if not self.parts["person"]:
            return {f: np.zeros(0, np.int64 if f == "bill" else np.int32) for f in self.FIELDS}
        return {f: np.concatenate(v) for f, v in self.parts.items()}


class _Block:
    def __init__(self, city: str, year: int, seed: int, rules: CityRules, filing_kinds: list[tuple[Disease, str]]):
        self.city, self.year, self.seed, self.rules = city, year, seed, rules
        self.profile = PROFILES[city]
        self.admdvs = ADMDVS[city]
        self.filing_kinds = filing_kinds
        self.jan1, self.ndays = _year_days(year)
        self.visit_cdf = _day_cdf(year, (0.75, 0.6))
        self.stay_cdf = _day_cdf(year, (0.85, 0.7))
        self.pyramid_cdf = np.cumsum(PYRAMID) / PYRAMID.sum()

    # ---------------------------------------------------------------- persons

    def persons(self, rng: np.random.Generator, start: int, n: int) -> _Persons:
        prof = self.profile
        band = np.minimum(np.searchsorted(self.pyramid_cdf, rng.random(n), side="right"), len(PYRAMID) - 1)
        width = np.where(band == len(PYRAMID) - 1, 10, 5)
        age = (band * 5 + np.floor(rng.random(n) * width)).astype(np.int32)  # age on 1 January
        # born between 2 January of (year − age − 1) and 31 December of it: `age` on 1 January
        birth_year = (self.year - age - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
        birth = birth_year - 1 - np.floor(rng.random(n) * 364).astype(np.int64)
        female = rng.random(n) < np.where(age < 60, 0.485, np.where(age < 80, 0.52, 0.58))

        # scheme and category
        p_emp = np.select(
            [age < 18, age < 23, age < 60, age < 70, age < 80],
            [0.0, 0.12, prof.work, prof.retire, prof.retire * 0.85],
            prof.retire * 0.7,
        )
        employee = rng.random(n) < p_emp
        retire_age = np.where(female, np.where(rng.random(n) < 0.3, 50, 55), 60)
        working = rng.random(n)
        cat_emp = np.where(age >= retire_age, C["retired"],
                           np.where(working < 0.86, C["active"], np.where(working < 0.98, C["flexible"], C["unemployed"])))
        student = rng.random(n) < 0.55
        cat_res = np.select([age < 18, (age < 23) & student, age < 60], [C["child"], C["student"], C["adult"]], C["elderly"])
        category = np.where(employee, cat_emp, cat_res).astype(np.int8)
        grade = np.where(~employee & ((category == C["adult"]) | (category == C["elderly"])) & (rng.random(n) < prof.grade2), 2, 1)

        # assistance (医疗救助): one group at most
        u = rng.random(n)
        assistance = np.full(n, -1, dtype=np.int8)
        cum = np.zeros(n)
        for name, (share, emp_factor, who) in ASSISTANCE_SHARES.items():
            p = share * prof.assistance * np.where(employee, emp_factor, 1.0)
            if who == "child":
                p = np.where(age < 18, p, 0.0)
            elif who == "old":
                p = np.where(age >= 60, p * 3, p * 0.3)
            hit = (u >= cum) & (u < cum + p)
            assistance[hit] = ASSISTANCE.index(name)
            cum = cum + p

        # flags (rare, but 家庭医生签约 is common among the elderly)
        fl = np.zeros(n, dtype=np.int64)
        flag_p = {
            "family_doctor": np.where(age >= 60, 0.35, 0.10),
            "pre1949_worker": np.where(employee & (category == C["retired"]) & (age >= 90), 0.05, 0.0),
            "disabled_veteran": np.where(~female & (age >= 30), 0.0005, 0.0),
            "severe_mental": np.full(n, 0.004),
            "family_planning_hardship": np.where(age >= 50, 0.001, 0.0),
            "entitled_group": np.full(n, 0.001),
            "welfare_institution": np.full(n, 0.0002),
            "child_in_difficulty": np.where(age < 18, 0.001, 0.0),
        }
        for name in FLAGS:
            fl |= (rng.random(n) < flag_p[name]).astype(np.int64) << FLAGS.index(name)

        # filings, rising with age
        chronic = np.zeros(n, dtype=np.int64)
        special = np.zeros(n, dtype=np.int64)
        for model, kind in self.filing_kinds:
            p = _interp(age, AGE_KNOTS, model.p)
            if model.sex:
                p = np.where(female == (model.sex == "F"), p, 0.0)
            has = (rng.random(n) < p).astype(np.int64) << D[model.name]
            if kind == "chronic":
                chronic |= has
            else:
                special |= has

        # opening account balances (employees only; residents have no account, G8)
        retired = category == C["retired"]
        cur_median = np.select([retired, category == C["active"], category == C["flexible"]], [1500.0, 600.0, 200.0], 0.0)
        hist_median = np.select([retired, category == C["active"], category == C["flexible"]], [12000.0, 4000.0, 1500.0], 1000.0)
        current = _lognormal(rng, cur_median, 0.8, n)
        history = _lognormal(rng, hist_median, 1.1, n) * (rng.random(n) >= 0.08)
        current_fen = np.where(employee, np.round(current * 100), 0).astype(np.int64)
        history_fen = np.where(employee, np.round(history * 100), 0).astype(np.int64)
        frailty = rng.gamma(FRAILTY_SHAPE, 1 / FRAILTY_SHAPE, n)

        index = np.arange(start + 1, start + n + 1, dtype=np.int64)  # persons are numbered from 1
        cols = {
            "person_id": _fixed_ids("P" + self.admdvs, [(index, 9)], n),
            "city": pa.array([self.city], pa.string()).take(pa.array(np.zeros(n, np.int32))),
            "scheme": _strings(np.where(employee, 0, 1), SCHEMES),
            "category": _strings(category, CATEGORIES),
            "grade": pa.array(grade.astype(np.int8), pa.int8()),
            "birth_date": pa.array(birth.astype(np.int32), pa.int32()).view(pa.date32()),
            "sex": _strings(np.where(female, 0, 1), SEXES),
            "assistance": _strings(assistance, ASSISTANCE),
            "flags": _mask_strings(fl, FLAGS),
            "chronic_filings": _mask_strings(chronic, DISEASES),
            "special_filings": _mask_strings(special, DISEASES),
            "account_current_fen": pa.array(current_fen, tables.MONEY),
            "account_history_fen": pa.array(history_fen, tables.MONEY),
            "ci_cap_bonus_fen": pa.array(np.zeros(n, np.int64), tables.MONEY),
        }
        table = pa.Table.from_arrays([cols[c.name] for c in tables.PERSONS], schema=tables.schema(tables.PERSONS))
        return _Persons(n, age, female, employee, category, frailty, chronic, special, table)

    # ---------------------------------------------------------------- visits

    def _nonlocal(self, rng: np.random.Generator, kind: str, m: int) -> tuple[np.ndarray, np.ndarray]:
        province, outside = NONLOCAL[kind]
        u = rng.random(m)
        location = np.where(u < province, 1, np.where(u < province + outside, 2, 0))
        shares = ROUTE_SHARES["inpatient" if kind in ("inpatient", "day_surgery", "delivery") else "outpatient"]
        route = np.where(location > 0, _choose(rng, shares, m), -1)
        return location, route

    def visits(self, rng: np.random.Generator, p: _Persons) -> _Visits:
        out = _Visits()
        cost = self.profile.cost
        n, age = p.n, p.age
        accepts = {s: self.rules.kinds[s] for s in SCHEMES}
        scheme_ok = {k: np.where(p.employee, k in accepts["employee"], k in accepts["resident"]) for k in KINDS}
        idx = np.arange(n)

        def who(kind: str, counts: np.ndarray) -> np.ndarray:
            return np.repeat(idx, np.where(scheme_ok[kind], counts, 0))

        # 普通门诊: negative binomial by age (Poisson with the person's gamma frailty)
        mean = _interp(age, OUTPATIENT_AGES, OUTPATIENT_MEAN) * np.where(p.employee, 1.15, 0.85) * p.frailty
        person = who("outpatient", rng.poisson(mean))
        m = len(person)
        scheme = (~p.employee[person]).astype(np.intp)
        level = _choose(rng, np.stack([OUTPATIENT_LEVELS[s] for s in SCHEMES])[scheme], m)
        location, route = self._nonlocal(rng, "outpatient", m)
        age_factor = 1 + 0.006 * np.maximum(age[person] - 30, 0)
        bill = _lognormal(rng, OUTPATIENT_MEDIAN[level] * age_factor * np.where(location > 0, 1.2, 1.0) * cost, 0.85, m)
        out.add(person, "outpatient", level, _days(rng, self.visit_cdf, m), bill, location=location, route=route)

        # 定点药店购药: employees
        mean = np.where(p.employee & (age >= 18), _interp(age, PHARMACY_AGES, PHARMACY_MEAN), 0.0) * np.sqrt(p.frailty)
        person = who("pharmacy", rng.poisson(mean))
        m = len(person)
        bill = _lognormal(rng, np.full(m, 110.0 * cost), 0.75, m)
        out.add(person, "pharmacy", np.full(m, L["pharmacy"]), _days(rng, self.visit_cdf, m), bill)

        # 慢性病门诊: filed persons, about monthly, the disease one of their filings
        nfiled = np.bitwise_count(p.chronic).astype(float)
        mean = np.where(nfiled > 0, 5 + 3 * np.maximum(nfiled - 1, 0), 0.0)
        person = who("chronic", rng.poisson(mean))
        m = len(person)
        disease = _pick_bit(rng, p.chronic[person], len(DISEASES))
        level = _choose(rng, CHRONIC_LEVELS, m)
        bill = _lognormal(rng, CHRONIC_MEDIAN[level] * cost, 0.6, m)
        out.add(person, "chronic", level, _days(rng, self.visit_cdf, m), bill, disease=disease)

        # 特殊病种门诊: a stream per filed special disease, at the disease's own frequency and cost
        for model, kind in self.filing_kinds:
            if kind != "special":
                continue
            has = (p.special >> D[model.name]) & 1
            if not has.any():
                continue
            person = who("special", np.where(has == 1, rng.poisson(model.visits, n), 0))
            m = len(person)
            if not m:
                continue
            shares = _p(secondary=0.5, tertiary=0.5) if model.pharmacy == 0 else \
                _p(secondary=0.35 * (1 - model.pharmacy) / 0.9, tertiary=0.55 * (1 - model.pharmacy) / 0.9, pharmacy=model.pharmacy)
            level = _choose(rng, shares, m)
            bill = _lognormal(rng, model.median * SPECIAL_LEVEL_FACTOR[level] * cost, model.sigma, m)
            out.add(person, "special", level, _days(rng, self.visit_cdf, m), bill, disease=D[model.name])

        # 住院: rising with age and illness, repeated for the frail; a heavy (Pareto) tail
        serious = ((p.special >> D["malignant_tumor"]) & 1) * 2.0 + ((p.special >> D["uremia_dialysis"]) & 1) * 1.0
        rate = _interp(age, INPATIENT_AGES, INPATIENT_RATE) * p.frailty * (1 + serious + 0.3 * np.bitwise_count(p.chronic))
        person = who("inpatient", rng.poisson(rate))
        m = len(person)
        scheme = (~p.employee[person]).astype(np.intp)
        level = _choose(rng, np.stack([INPATIENT_LEVELS[s] for s in SCHEMES])[scheme], m)
        location, route = self._nonlocal(rng, "inpatient", m)
        transfer = np.full(m, -1)
        moved = (level >= L["secondary"]) & (level != L["pharmacy"]) & (rng.random(m) < 0.03)
        below = np.floor(rng.random(m) * np.where(level == L["tertiary"], 3, 2)).astype(int)  # primary, level1[, secondary]
        transfer[moved] = np.array([L["primary"], L["level1"], L["secondary"]])[below[moved]]
        age_factor = 1 + 0.008 * np.maximum(age[person] - 40, 0)
        body = _lognormal(rng, INPATIENT_MEDIAN[level] * age_factor * np.where(location > 0, 1.3, 1.0), 0.8, m)
        tail = 60000 * (1 + rng.pareto(1.5, m))
        bill = np.minimum(np.where(rng.random(m) < INPATIENT_TAIL[level], np.maximum(body, tail), body) * cost, 3_000_000)
        out.add(person, "inpatient", level, _days(rng, self.stay_cdf, m), bill, location=location, route=route, transfer=transfer)

        # 日间手术 (cataracts and the like) and 家庭病床 (the very old)
        rate = _interp(age, np.array([0, 40, 60, 80]), [0.002, 0.006, 0.015, 0.02])
        person = who("day_surgery", rng.poisson(rate))
        m = len(person)
        level = _choose(rng, DAY_SURGERY_LEVELS, m)
        location, route = self._nonlocal(rng, "day_surgery", m)
        bill = _lognormal(rng, np.where(level == L["tertiary"], 7500.0, 5500.0) * cost, 0.45, m)
        out.add(person, "day_surgery", level, _days(rng, self.stay_cdf, m), bill, location=location, route=route)

        rate = np.where(age >= 80, 0.014, np.where(age >= 70, 0.004, 0.0))
        person = who("family_bed", rng.poisson(rate))
        m = len(person)
        level = _choose(rng, FAMILY_BED_LEVELS, m)
        out.add(person, "family_bed", level, _days(rng, self.stay_cdf, m), _lognormal(rng, np.full(m, 2500.0 * cost), 0.6, m))

        # pregnancies of women 18–46: delivery inside the year or up to 270 days after it;
        # prenatal visits in the 9 months before, those inside the year kept
        window = self.ndays + 270
        rate = np.where(p.female, _interp(age, np.array([18, 22, 27, 32, 37, 42, 46]), [0.01, 0.04, 0.07, 0.05, 0.025, 0.006, 0]), 0.0)
        rate = np.where((age >= 18) & (age <= 46), rate, 0.0) * window / self.ndays
        mother = np.flatnonzero((rng.random(n) < rate) & scheme_ok["delivery"])
        due = np.floor(rng.random(len(mother)) * window).astype(np.int64)
        inside = due < self.ndays
        person, day = mother[inside], due[inside]
        m = len(person)
        level = _choose(rng, DELIVERY_LEVELS, m)
        location, route = self._nonlocal(rng, "delivery", m)
        median = np.where(rng.random(m) < 0.4, 9000.0, 4500.0) * DELIVERY_LEVEL_FACTOR[level]
        out.add(person, "delivery", level, day, _lognormal(rng, median * cost, 0.3, m), location=location, route=route)
        checks = rng.poisson(8, len(mother)) * scheme_ok["prenatal"][mother]
        person = np.repeat(mother, checks)
        day = np.repeat(due, checks) - 14 - np.floor(rng.random(len(person)) * 252).astype(np.int64)
        keep = (day >= 0) & (day < self.ndays)
        person, day = person[keep], day[keep]
        m = len(person)
        level = _choose(rng, PRENATAL_LEVELS, m)
        out.add(person, "prenatal", level, day, _lognormal(rng, PRENATAL_MEDIAN[level] * cost, 0.6, m))

        # 计划生育手术: women 20–49 (the procedure sex-consistent), vasectomies for men 25–55
        rate = np.where(p.female, np.where((age >= 20) & (age <= 49), 0.025, 0.0), np.where((age >= 25) & (age <= 55), 0.0008, 0.0))
        person = who("family_planning", rng.poisson(rate))
        m = len(person)
        women = _choose(rng, np.array([0.38, 0.27, 0.258, 0.03, 0.04, 0.0, 0.022]), m)
        procedure = np.where(p.female[person], women, PROCEDURE_SETS.index("vasectomy"))
        level = _choose(rng, FAMILY_PLANNING_LEVELS, m)
        bill = _lognormal(rng, PROCEDURE_MEDIAN[procedure] * np.where(level == L["tertiary"], 1.2, 1.0) * cost, 0.4, m)
        out.add(person, "family_planning", level, _days(rng, self.visit_cdf, m), bill, procedure=procedure)
        return out

    # ---------------------------------------------------------------- the visits table

    def visits_table(self, rng: np.random.Generator, p: _Persons, start: int, use_account: np.ndarray) -> pa.Table:
        v = self.visits(rng, p).arrays()
        m = len(v["person"])
        order = np.lexsort((np.arange(m), v["day"], v["person"]))
        v = {f: a[order] for f, a in v.items()}
        person = v["person"]
        first = np.searchsorted(person, person, side="left")
        seq = np.arange(m) - first + 1
        kind = v["kind"].astype(np.intp)
        fen = _split(rng, kind, np.maximum(np.round(v["bill"] * 100), 100).astype(np.int64))
        gidx = person.astype(np.int64) + start + 1
        cols = {
            "visit_id": _fixed_ids(f"V{ADMDVS[self.city]}{self.year:04d}", [(gidx, 9), (seq, 4)], m),
            "person_id": _fixed_ids("P" + ADMDVS[self.city], [(gidx, 9)], m),
            "date": pa.array((self.jan1 + v["day"]).astype(np.int32), pa.int32()).view(pa.date32()),
            "kind": _strings(kind, KINDS),
            "level": _strings(v["level"], LEVELS),
            "location": _strings(v["location"], LOCATIONS),
            "route": _strings(v["route"], ROUTES),
            "transfer_from": _strings(v["transfer"], LEVELS),
            "disease": _strings(v["disease"], DISEASES),
            "procedure": _strings(np.where(v["procedure"] < 0, len(PROCEDURE_SETS), v["procedure"]), PROCEDURE_SETS + [""]),
            "use_account": pa.array(use_account[person], pa.bool_()),
            **{name: pa.array(fen[i], tables.MONEY) for i, name in enumerate(tables.SPLIT)},
        }
        return pa.Table.from_arrays([cols[c.name] for c in tables.VISITS], schema=tables.schema(tables.VISITS))


def _pick_bit(rng: np.random.Generator, masks: np.ndarray, nbits: int) -> np.ndarray:
    """One set bit of each mask, uniformly (−1 for an empty mask)."""
    count = np.bitwise_count(masks).astype(np.int64)
    target = np.floor(rng.random(len(masks)) * count).astype(np.int64)
    out = np.full(len(masks), -1, dtype=np.int64)
    seen = np.zeros(len(masks), dtype=np.int64)
    for b in range(nbits):
        has = (masks >> b) & 1
        out = np.where((has == 1) & (seen == target) & (out < 0), b, out)
        seen += has
    return out


def _split(rng: np.random.Generator, kind: np.ndarray, total: np.ndarray) -> np.ndarray:
    """The catalogue split of each bill (fen): 全自费, 超限价, 先行自付, and the rest 符合范围.
    Each share is its kind's mean times a lognormal factor of mean 1 (cheaper than beta draws)."""
    m = len(kind)
    par = _SPLIT[kind]

    def share(mean: np.ndarray, sigma: float) -> np.ndarray:
        return mean * np.exp(sigma * rng.standard_normal(m) - sigma * sigma / 2)

    fulamt = np.where(rng.random(m) < par[:, 0], 0.0, share(par[:, 1], 0.8))
    overlmt = np.where(rng.random(m) < par[:, 2], share(par[:, 3], 0.6), 0.0)
    pre = share(par[:, 4], 0.35)
    scale = np.minimum(1.0, 0.9 / np.maximum(fulamt + overlmt + pre, 1e-12))
    parts = np.floor(total * np.stack([fulamt, overlmt, pre]) * scale).astype(np.int64)
    return np.vstack([parts, total - parts.sum(axis=0)])


# ------------------------------------------------------------------------------ public API


def generate(city: str, persons: int, year: int, seed: int = 0, *, rules: CityRules | None = None) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Yield ``(persons, visits)`` tables, one pair per block of :data:`BLOCK` persons, in
    person order; each block's visits are sorted by (person, date)."""
    if city not in ADMDVS:
        raise ValueError(f"unknown city {city!r} (one of {', '.join(ADMDVS)})")
    if persons < 0 or persons >= 10**9:
        raise ValueError("persons must be between 0 and 999,999,999")
    if not 1900 <= year <= 2199:
        raise ValueError("year must be between 1900 and 2199")
    if seed < 0:
        raise ValueError("seed must not be negative")
    rules = rules or city_rules(city, year)
    block = _Block(city, year, seed, rules, _filing_kinds(rules))
    for b, start in enumerate(range(0, persons, BLOCK)):
        n = min(BLOCK, persons - start)
        rng = _seeded(seed, city, year, b)
        p = block.persons(rng, start, n)
        use_account = p.employee & (rng.random(n) < 0.92)
        yield p.table, block.visits_table(rng, p, start, use_account)


@dataclass
class Summary:
    """What :func:`write` produced."""

    city: str
    year: int
    seed: int
    persons: int = 0
    employees: int = 0
    claims: int = 0
    billed_fen: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    over_100k: int = 0  # claims billed above 100,000 yuan
    persons_path: Path | None = None
    visits_path: Path | None = None
    seconds: float = 0.0
    covered: bool = True

    def add(self, persons: pa.Table, visits: pa.Table) -> None:
        import pyarrow.compute as pc

        self.persons += persons.num_rows
        self.employees += int(pc.sum(pc.equal(persons["scheme"], "employee")).as_py() or 0)
        self.claims += visits.num_rows
        total = None
        for name in tables.SPLIT:
            col = visits[name].to_numpy()
            total = col if total is None else total + col
        if total is not None and len(total):
            self.billed_fen += int(total.sum())
            self.over_100k += int((total > 10_000_000).sum())
        for item in pc.value_counts(visits["kind"]).to_pylist():
            self.by_kind[item["values"]] = self.by_kind.get(item["values"], 0) + item["counts"]


class _RowGroups:
    """Buffers tables and writes row groups of exactly ``size`` rows (the last one shorter)."""

    def __init__(self, writer: Any, size: int):
        self.writer, self.size = writer, max(1, size)
        self.buffer: list[pa.Table] = []
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        self.buffer.append(table)
        self.rows += table.num_rows
        if self.rows >= self.size:
            whole = pa.concat_tables(self.buffer)
            cut = self.rows - self.rows % self.size
            self.writer.write_table(whole.slice(0, cut), row_group_size=self.size)
            rest = whole.slice(cut)
            self.buffer, self.rows = [rest], rest.num_rows

    def close(self) -> None:
        if self.rows:
            self.writer.write_table(pa.concat_tables(self.buffer), row_group_size=self.size)
        self.buffer, self.rows = [], 0


def default_out(city: str, persons: int, year: int) -> Path:
    return Path(f"synth-{city}-{persons}-{year}")


def write(city: str, persons: int, year: int, seed: int = 0, out: str | Path | None = None, *,
          row_group_rows: int = 1 << 20, compression: str = "zstd",
          progress: Callable[[int], None] | None = None, rules: CityRules | None = None) -> Summary:
    """Generate and write ``out/persons.parquet`` and ``out/visits.parquet``; memory stays
    flat (at most about ``row_group_rows`` visits are buffered). ``progress`` is called
    with the number of persons done after each block."""
    import pyarrow.parquet as pq

    began = time.perf_counter()
    rules = rules or city_rules(city, year)
    out = Path(out) if out is not None else default_out(city, persons, year)
    out.mkdir(parents=True, exist_ok=True)
    summary = Summary(city, year, seed, persons_path=out / "persons.parquet", visits_path=out / "visits.parquet", covered=rules.covered)
    options = dict(compression=compression, write_statistics=True)
    with pq.ParquetWriter(summary.persons_path, tables.schema(tables.PERSONS), **options) as pw, \
            pq.ParquetWriter(summary.visits_path, tables.schema(tables.VISITS), **options) as vw:
        persons_out = _RowGroups(pw, row_group_rows)
        visits_out = _RowGroups(vw, row_group_rows)
        for ptable, vtable in generate(city, persons, year, seed, rules=rules):
            summary.add(ptable, vtable)
            persons_out.add(ptable)
            visits_out.add(vtable)
            if progress is not None:
                progress(ptable.num_rows)
        persons_out.close()
        visits_out.close()
    summary.seconds = time.perf_counter() - began
    return summary


# ------------------------------------------------------------------------------ as cases


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def case_dicts(persons: pa.Table, visits: pa.Table) -> Iterator[dict]:
    """Each person's year of visits as a case of the settlement contract (``case-format.md``),
    in the persons' order — to settle synthetic claims with the reference engine. Persons
    without visits are skipped."""
    by_person: dict[str, list[dict]] = {}
    for v in visits.to_pylist():
        visit: dict[str, Any] = {
            "id": v["visit_id"], "date": v["date"].isoformat(), "kind": v["kind"], "level": v["level"],
            "location": v["location"], "use_account": v["use_account"],
            "amounts": {name.removesuffix("_fen"): _yuan(v[name]) for name in tables.SPLIT},
        }
        for key, col in (("route", "route"), ("transfer_from", "transfer_from"), ("disease", "disease")):
            if v[col] is not None:
                visit[key] = v[col]
        if v["procedure"]:
            visit["procedure"] = v["procedure"].split("+")
        by_person.setdefault(v["person_id"], []).append(visit)
    for p in persons.to_pylist():
        visits_of = by_person.get(p["person_id"])
        if not visits_of:
            continue
        person: dict[str, Any] = {
            "id": p["person_id"], "scheme": p["scheme"], "category": p["category"], "grade": p["grade"],
            "flags": [f for f in p["flags"].split("+") if f],
            "filings": {"chronic": [d for d in p["chronic_filings"].split("+") if d],
                        "special": [d for d in p["special_filings"].split("+") if d]},
            "account": {"current": _yuan(p["account_current_fen"]), "history": _yuan(p["account_history_fen"])},
            "ci_cap_bonus": _yuan(p["ci_cap_bonus_fen"]),
        }
        for key in ("sex", "assistance"):
            if p[key] is not None:
                person[key] = p[key]
        if p["birth_date"] is not None:
            person["birth_date"] = p["birth_date"].isoformat()
        yield {"city": p["city"], "person": person, "visits": visits_of}
