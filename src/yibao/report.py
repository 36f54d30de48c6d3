"""The contract's output (``case-format.md`` § Output) and the ``--explain`` table."""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yibao.engine.pipeline import Settlement
from yibao.money import ZERO, fmt

ACCOUNT_CODE = "310200"
LAYER_CODES = {"hifob": "330100", "hifmi": "390200", "maf": "610100", "oth": "999997"}


def settlement_json(s: Settlement) -> dict[str, Any]:
    st = s.state
    acct = st.acct_total
    cash = s.cash
    details: "OrderedDict[str, Decimal]" = OrderedDict()
    for code, amount in st.hifp:
        details[code] = details.get(code, ZERO) + amount
    for fund, code in LAYER_CODES.items():
        details[code] = details.get(code, ZERO) + getattr(st, fund)
    details[ACCOUNT_CODE] = acct
    return {
        "visit_id": s.visit.id,
        "year": st.year,
        "medfee_sumamt": fmt(st.split.total),
        "fulamt_ownpay_amt": fmt(st.split.fulamt),
        "overlmt_selfpay": fmt(st.split.overlmt),
        "preselfpay_amt": fmt(st.split.preselfpay),
        "inscp_scp_amt": fmt(st.split.inscp),
        "act_pay_dedc": fmt(st.deductible),
        "hifp_pay": fmt(st.hifp_total),
        "hifob_pay": fmt(st.hifob),
        "hifmi_pay": fmt(st.hifmi),
        "maf_pay": fmt(st.maf),
        "oth_pay": fmt(st.oth),
        "fund_pay_sumamt": fmt(st.fund_total),
        "acct_pay": fmt(acct),
        "acct_mulaid_pay": fmt(ZERO),
        "psn_cash_pay": fmt(cash),
        "psn_part_amt": fmt(acct + cash),
        "balc": fmt(s.balance),
        "setldetail": [{"fund_pay_type": code, "fund_payamt": fmt(a)} for code, a in details.items() if a > 0],
        "trace": [t.as_json() for t in st.trace],
    }


def case_json(city: str, person_id: str, settlements: list[Settlement]) -> dict[str, Any]:
    return {"city": city, "person_id": person_id, "settlements": [settlement_json(s) for s in settlements]}


_SUMMARY = [
    ("medfee_sumamt", "医疗费总额 total"),
    ("fulamt_ownpay_amt", "全自费 out of catalogue"),
    ("overlmt_selfpay", "超限价 over price limit"),
    ("preselfpay_amt", "先行自付 class-B share"),
    ("inscp_scp_amt", "符合范围 in scope"),
    ("act_pay_dedc", "起付线 deductible"),
    ("hifp_pay", "统筹基金 pooled fund"),
    ("hifob_pay", "职工大额 large-expense fund"),
    ("hifmi_pay", "大病保险 critical illness"),
    ("maf_pay", "医疗救助 assistance"),
    ("acct_pay", "个人账户 account"),
    ("psn_cash_pay", "现金 cash"),
    ("balc", "账户余额 balance after"),
]


def explain(city_name: str, doc: dict[str, Any], console: Console) -> None:
    """Print each settlement as a readable table: the figures, then every step and clause."""
    for s in doc["settlements"]:
        summary = Table(title=f"{city_name} · visit {s['visit_id']} · {s['year']}", show_header=False, title_justify="left")
        summary.add_column("field")
        summary.add_column("amount", justify="right")
        for key, label in _SUMMARY:
            if s[key] != "0.00" or key in ("medfee_sumamt", "psn_cash_pay"):
                summary.add_row(label, s[key])
        console.print(summary)
        steps = Table(title="why — 结算过程", title_justify="left")
        for col, justify in (("step", "left"), ("amount", "right"), ("rule", "left"), ("clause 依据", "left")):
            steps.add_column(col, justify=justify, overflow="fold")
        for t in s["trace"]:
            steps.add_row(escape(t["label"]), t["amount"], escape(t["rule"]), escape(t["source"]))
        console.print(steps)
