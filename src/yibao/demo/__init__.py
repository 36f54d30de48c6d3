"""The bundled demo: a few persons of each city, settled and shown as a table (``make run``)."""

from __future__ import annotations

from importlib import resources

from rich.console import Console
from rich.table import Table

from yibao.case import parse_case_text
from yibao.engine.pipeline import settle_case
from yibao.report import case_json
from yibao.vocabulary import CITIES

FIELDS = [
    ("medfee_sumamt", "总额 total"),
    ("inscp_scp_amt", "范围内 in scope"),
    ("act_pay_dedc", "起付 ded."),
    ("hifp_pay", "统筹 pooled"),
    ("hifob_pay", "大额"),
    ("hifmi_pay", "大病 CI"),
    ("maf_pay", "救助 assist."),
    ("acct_pay", "账户 acct"),
    ("psn_cash_pay", "现金 cash"),
]


def demo_cases() -> list[tuple[str, str]]:
    folder = resources.files("yibao.demo")
    return sorted((p.name, p.read_text(encoding="utf-8")) for p in folder.iterdir() if p.name.endswith(".json"))


def run_demo(console: Console) -> int:
    table = Table(title="yibao demo — one-stop settlement (一单制) of the bundled cases", title_justify="left")
    table.add_column("case")
    table.add_column("city")
    table.add_column("visit")
    for _, label in FIELDS:
        table.add_column(label, justify="right")
    for name, text in demo_cases():
        case = parse_case_text(text)
        doc = case_json(case.city, case.person.id, settle_case(case))
        for s in doc["settlements"]:
            table.add_row(name.removesuffix(".json"), CITIES[case.city], s["visit_id"], *(s[k] for k, _ in FIELDS))
    console.print(table)
    console.print("Explain any case: .venv/bin/yibao settle CASE.json --explain   ·   policy: .venv/bin/yibao policy show hangzhou")
    return 0
