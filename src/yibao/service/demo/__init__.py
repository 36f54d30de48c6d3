"""The demo data set ``make run`` loads: institutions, credentials, a catalogue per city,
and insured persons of several cities and categories with their histories and accounts.

The credentials are public demo secrets — never load this data set into a real agency.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from yibao.service import catalogue
from yibao.service.auth import new_credential
from yibao.service.codes import load_codes
from yibao.service.db import models as m
from yibao.service.db.engine import Database
from yibao.service.people import parse_person, store_person

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class DemoReport:
    institutions: int
    credentials: int
    catalogue_entries: int
    persons: int
    already_loaded: bool = False


def _csv(name: str) -> list[dict[str, str]]:
    with open(HERE / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def load_demo(db: Database) -> DemoReport:
    """Load the demo data set in one transaction; a second load changes nothing."""
    codes = load_codes()
    with db.transaction() as session:
        if session.scalar(select(m.Institution.code).limit(1)) is not None:
            return DemoReport(0, 0, 0, 0, already_loaded=True)
        institutions = _csv("institutions.csv")
        for row in institutions:
            session.add(m.Institution(**row))
        session.flush()
        credentials = _csv("credentials.csv")
        for row in credentials:
            new_credential(session, row["paasid"], row["role"], row["institution_code"] or None, row["secret"])
        entries = 0
        for path in sorted((HERE / "catalogue").glob("*.csv")):
            report = catalogue.load_csv(session, path.stem, path.read_text(encoding="utf-8"), f"demo/catalogue/{path.name}")
            entries += report.added
        persons = json.loads((HERE / "persons.json").read_text(encoding="utf-8"))
        for raw in persons:
            doc = parse_person(raw)
            store_person(session, doc, codes.city_admdvs[doc.city])
        return DemoReport(len(institutions), len(credentials), entries, len(persons))
