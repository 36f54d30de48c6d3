"""Benchmark: the compiled batch engine, from the kernel to Parquet-to-Parquet at city scale.

    .venv/bin/python benchmarks/batch_engine.py [--city hangzhou] [--sizes 1,10,30] [--reference 20000]
                                                [--work DIR] [--keep]

For each size (millions of claims) it generates a population with ``yibao synth`` (about
nine claims a person), then runs ``yibao batch settle`` in a fresh process and prints:

* end to end: wall time and claims/s from reading the Parquet files to writing the results,
  with the engine's own split of the time (read, validate, profiles, compile, kernel, write …);
* the kernel: claims/s of the compiled per-person pass alone on one thread, so one core (the
  best of two runs in a fresh process, one at 30M), and on every core as the run used it;
* peak memory (the process's maximum resident set), and the processor time in the process
  and in the operating system's kernel for it — mostly page faults, the first touch of each
  page of memory, which on a virtual machine whose host takes back freed memory can cost
  more than the computing (and grows with the memory the run needs beyond what was freed
  recently);
* how time grows from the smallest to the largest size (time per claim relative to the first);
* the ratio to the reference engine: ``--reference N`` claims of the first size settled by
  both engines, per-claim time compared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

RUN = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from yibao.batch import engine
from yibao.batch.memory import keep_freed_memory
keep_freed_memory()  # as `yibao batch settle` does
visits, out = sys.argv[1], sys.argv[2]
t = time.perf_counter()
settled = engine.settle_files(visits, out)
total = time.perf_counter() - t
import_time = t - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"claims": settled.totals["visits"], "seconds": total, "timings": settled.timings,
                  "plans": len(settled.plans), "peak_mib": usage.ru_maxrss / 1024, "import": import_time,
                  "user": usage.ru_utime, "system": usage.ru_stime, "faults": usage.ru_minflt + usage.ru_majflt}))
"""

KERNEL = r"""
import json, sys, time
from pathlib import Path
from yibao.batch import engine
from yibao.batch.memory import keep_freed_memory
keep_freed_memory()
visits, runs = Path(sys.argv[1]), int(sys.argv[2])
persons = engine._read(visits.with_name('persons.parquet'), 'persons', engine.DICTIONARY_COLUMNS)
v = engine._read(visits, 'visits', engine.DICTIONARY_COLUMNS)
best = min(engine.settle(persons, v, threads=1).timings["kernel"] for _ in range(runs))  # one thread: one core
print(json.dumps({"claims": v.num_rows, "kernel": best}))
"""


def synth(city: str, persons: int, out: Path) -> int:
    subprocess.run([PYTHON, "-m", "yibao", "synth", "--city", city, "--persons", str(persons), "--year", "2026",
                    "--out", str(out), "--no-progress"], check=True, stdout=subprocess.DEVNULL)
    import pyarrow.parquet as pq

    return pq.ParquetFile(out / "visits.parquet").metadata.num_rows


def run_json(code: str, *args: str) -> dict:
    done = subprocess.run([PYTHON, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def reference_ratio(folder: Path, claims: int) -> dict:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from yibao.batch import engine, reference

    persons = pq.read_table(folder / "persons.parquet")
    visits = pq.read_table(folder / "visits.parquet")
    cut = visits.column("person_id")[min(claims, visits.num_rows) - 1].as_py()
    visits = visits.filter(pc.less_equal(visits.column("person_id"), cut))
    persons = persons.filter(pc.less_equal(persons.column("person_id"), cut))
    engine.settle_tables(persons, visits)  # warm
    t = time.perf_counter()
    engine.settle_tables(persons, visits)
    compiled = time.perf_counter() - t
    t = time.perf_counter()
    reference.settle_tables(persons, visits)
    ref = time.perf_counter() - t
    return {"claims": visits.num_rows, "compiled_s": compiled, "reference_s": ref}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", default="hangzhou")
    ap.add_argument("--sizes", default="1,10,30", help="millions of claims, comma-separated (default 1,10,30)")
    ap.add_argument("--reference", type=int, default=20000, help="claims settled by both engines for the ratio (0: skip)")
    ap.add_argument("--work", help="folder for the generated data (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated data")
    args = ap.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="yibao-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = [float(s) for s in args.sizes.split(",")]
    print(f"yibao batch engine benchmark · {args.city} · {os.cpu_count()} CPUs · data in {work}")
    rows = []
    try:
        for size in sizes:
            folder = work / f"{args.city}-{size:g}M"
            if not (folder / "visits.parquet").exists():
                t = time.perf_counter()
                claims = synth(args.city, int(size * 1_000_000 / 9.0), folder)
                print(f"  generated {claims:,} claims in {time.perf_counter() - t:.1f} s")
            first = run_json(RUN, str(folder / "visits.parquet"), str(folder / "results.parquet"))  # also warms the JIT cache
            run = run_json(RUN, str(folder / "visits.parquet"), str(folder / "results.parquet"))
            run["kernel_warm"] = run_json(KERNEL, str(folder / "visits.parquet"), "2" if size <= 10 else "1")["kernel"]
            rows.append((size, run))
            t = run["timings"]
            split = ", ".join(f"{k} {v:.2f}" for k, v in t.items())
            print(f"\n{run['claims']:>12,} claims  end to end {run['seconds']:.2f} s = {run['claims'] / run['seconds']:,.0f} claims/s"
                  f"  (first run {first['seconds']:.2f} s)")
            print(f"{'':>12}  kernel {run['claims'] / run['kernel_warm']:,.0f} claims/s on one core "
                  f"({run['claims'] / run['timings']['kernel']:,.0f} claims/s on every core in the run); "
                  f"{run['plans']:,} plans; peak memory {run['peak_mib']:,.0f} MiB")
            print(f"{'':>12}  seconds: {split}")
            print(f"{'':>12}  processor time: {run['user']:.1f} s computing, {run['system']:.1f} s in the operating system "
                  f"({run['faults']:,} page faults: first touches of memory)")
        if len(rows) > 1:
            base = rows[0][1]["seconds"] / rows[0][1]["claims"]
            print("\ngrowth (time per claim relative to the smallest size, and to the size before):")
            before = base
            for size, run in rows:
                per_claim = run["seconds"] / run["claims"]
                print(f"  {run['claims']:>12,} claims  {run['seconds']:7.2f} s  ×{per_claim / base:.2f}  ×{per_claim / before:.2f}")
                before = per_claim
        if args.reference:
            r = reference_ratio(work / f"{args.city}-{sizes[0]:g}M", args.reference)
            print(f"\nreference engine on {r['claims']:,} claims: {r['reference_s']:.2f} s "
                  f"({r['claims'] / r['reference_s']:,.0f} claims/s); compiled engine in memory {r['compiled_s']:.3f} s "
                  f"({r['claims'] / r['compiled_s']:,.0f} claims/s) — ×{r['reference_s'] / r['compiled_s']:,.0f}")
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
