"""Shared test helpers: run the real ``yibao`` command, build cases, settle in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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


@pytest.fixture
def cli():
    return run_cli


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
