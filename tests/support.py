"""Shared test helpers: run the real ``yibao`` command, build cases, settle in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


DATA = Path(__file__).parent / "data"
SHARED_CASES = DATA / "shared_cases"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(*args: str, stdin: str | None = None) -> Run:
    """Run ``python -m yibao ARGS`` as a user would, capturing both streams."""
    proc = subprocess.run(
        [sys.executable, "-m", "yibao", *args], input=stdin, capture_output=True, text=True, timeout=120
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def case(city: str, person: dict | None = None, *visits: dict) -> dict:
    """A case dict with sensible defaults: an active employee, local visits."""
    p = {"id": "P1", "scheme": "employee", "category": "active"}
    p.update(person or {})
    return {"city": city, "person": p, "visits": list(visits)}


def visit(vid: str = "V1", date: str = "2025-03-01", kind: str = "inpatient", level: str = "tertiary", inscope: str | None = None, **extra: Any) -> dict:
    """A visit; ``inscope`` gives the bill as an already-split in-scope amount."""
    v: dict[str, Any] = {"id": vid, "date": date, "kind": kind, "level": level}
    if inscope is not None:
        v["amounts"] = {"inscp_scp_amt": inscope}
    v.update(extra)
    return v


def settle(case_dict: dict, overlays: tuple[str, ...] = ()) -> list[dict]:
    """Settle in-process (fast) and return the contract's settlement dicts."""
    from yibao.case import parse_case
    from yibao.engine.pipeline import settle_case
    from yibao.policy.loader import load_city
    from yibao.report import case_json

    c = parse_case(json.loads(json.dumps(case_dict)))
    return case_json(c.city, c.person.id, settle_case(c, load_city(c.city, overlays)))["settlements"]


def write_case(tmp_path: Path, case_dict: dict, name: str = "case.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(case_dict, ensure_ascii=False), encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------- settlement checks


def money(value: Any) -> str:
    """A figure as the contract writes it: two decimals."""
    from decimal import Decimal

    return f"{Decimal(str(value)):.2f}"


def check(s: dict, **want: Any) -> None:
    """Compare the named contract fields (to the fen) and the contract's identities."""
    from decimal import Decimal

    got = {k: s[k] for k in want}
    assert got == {k: money(v) for k, v in want.items()}, f"visit {s['visit_id']}"
    d = lambda k: Decimal(s[k])  # noqa: E731
    assert d("medfee_sumamt") == d("fulamt_ownpay_amt") + d("overlmt_selfpay") + d("preselfpay_amt") + d("inscp_scp_amt")
    assert d("medfee_sumamt") == d("fund_pay_sumamt") + d("psn_part_amt")
    assert d("fund_pay_sumamt") == d("hifp_pay") + d("hifob_pay") + d("hifmi_pay") + d("maf_pay") + d("oth_pay")


def details(s: dict) -> dict[str, str]:
    """``setldetail`` as fund code → amount."""
    return {r["fund_pay_type"]: r["fund_payamt"] for r in s["setldetail"]}


def split(inscp: Any = 0, pre: Any = 0, over: Any = 0, ful: Any = 0) -> dict:
    """A bill already split by the catalogue (the case's ``amounts``)."""
    return {
        "amounts": {
            "inscp_scp_amt": str(inscp),
            "preselfpay_amt": str(pre),
            "overlmt_selfpay": str(over),
            "fulamt_ownpay_amt": str(ful),
        }
    }
