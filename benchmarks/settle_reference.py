"""Benchmark: the reference engine settling a year of visits for a population.

    .venv/bin/python benchmarks/settle_reference.py [--persons 10000] [--visits 20] [--seed 1]

Generates persons of the three fully specified cities (嘉兴, 杭州, 随州) with 20 visits
each over one year — mostly outpatient and pharmacy, some chronic, inpatient and special
— settles every person's case with the reference (per-visit, exact ``Decimal``) engine,
and prints visits settled per second. Policy loading happens once and is not timed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from yibao.case import parse_case  # noqa: E402
from yibao.engine.pipeline import settle_case  # noqa: E402
from yibao.policy.loader import load_city  # noqa: E402

YEARS = {"jiaxing": 2025, "hangzhou": 2026, "suizhou": 2024}
LEVELS = ["clinic", "primary", "level1", "secondary", "tertiary"]


def make_case(rnd: random.Random, city: str, pid: int, n_visits: int) -> dict:
    scheme = rnd.choice(["employee", "resident"])
    category = rnd.choice(["active", "active", "retired", "flexible"] if scheme == "employee" else ["child", "student", "adult", "elderly"])
    person = {
        "id": f"P{pid}",
        "scheme": scheme,
        "category": category,
        "assistance": rnd.choice([None] * 9 + ["subsistence"]),
        "filings": {"chronic": ["hypertension"] if rnd.random() < 0.2 else [], "special": []},
    }
    if scheme == "employee":
        person["account"] = {"current": f"{rnd.randint(0, 3000)}.00", "history": f"{rnd.randint(0, 20000)}.00"}
    year = YEARS[city]
    days = sorted(rnd.randrange(365) for _ in range(n_visits))
    visits = []
    for i, d in enumerate(days):
        roll = rnd.random()
        if roll < 0.05:
            kind, level, amount = "inpatient", rnd.choice(LEVELS[2:]), rnd.lognormvariate(9.3, 0.9)
        elif roll < 0.20 and person["filings"]["chronic"]:
            kind, level, amount = "chronic", rnd.choice(["primary", "secondary"]), rnd.lognormvariate(5.3, 0.6)
        elif roll < 0.35:
            kind, level, amount = "pharmacy", "pharmacy", rnd.lognormvariate(4.5, 0.7)
        else:
            kind, level, amount = "outpatient", rnd.choice(LEVELS), rnd.lognormvariate(5.0, 0.8)
        if city == "suizhou" and scheme == "employee" and kind in ("outpatient", "pharmacy", "chronic"):
            kind, level = "inpatient", rnd.choice(LEVELS[2:])  # 随州 S1: those figures are not in the text
        if city == "suizhou" and scheme == "resident" and kind == "chronic":
            kind = "outpatient"
        total = round(amount, 2)
        items = [
            {"code": "A1", "amount": f"{total * 0.7:.2f}", "class": "A"},
            {"code": "B1", "amount": f"{total * 0.25:.2f}", "class": "B", "selfpay_ratio": "0.10"},
            {"code": "C1", "amount": f"{total * 0.05:.2f}", "class": "C"},
        ]
        visit = {"id": f"V{i}", "date": (dt.date(year, 1, 1) + dt.timedelta(days=d)).isoformat(), "kind": kind, "level": level, "items": items}
        if kind == "chronic":
            visit["disease"] = "hypertension"
        visits.append(visit)
    return {"city": city, "person": person, "visits": visits}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=10_000)
    ap.add_argument("--visits", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    cities = sorted(YEARS)
    policies = {c: load_city(c) for c in cities}
    print(f"generating {args.persons:,} persons × {args.visits} visits …", file=sys.stderr)
    raw = [make_case(rnd, cities[i % len(cities)], i, args.visits) for i in range(args.persons)]
    t0 = time.perf_counter()
    cases = [parse_case(r) for r in raw]
    t_parse = time.perf_counter() - t0
    per_case: list[float] = []
    visits = 0
    t1 = time.perf_counter()
    for case in cases:
        s = time.perf_counter()
        settlements = settle_case(case, policies[case.city])
        per_case.append(time.perf_counter() - s)
        visits += len(settlements)
    t_settle = time.perf_counter() - t1
    per_visit_ms = [1000 * t / args.visits for t in per_case]
    print(f"reference engine · {args.persons:,} persons · {visits:,} visits (one year each; 嘉兴/杭州/随州)")
    print(f"  validate cases   {t_parse:8.2f} s   {visits / t_parse:10,.0f} visits/s")
    print(f"  settle           {t_settle:8.2f} s   {visits / t_settle:10,.0f} visits/s   (one core)")
    print(f"  per visit        median {statistics.median(per_visit_ms):.3f} ms   p99 {statistics.quantiles(per_visit_ms, n=100)[98]:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
