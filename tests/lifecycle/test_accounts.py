"""个人账户 — the personal account as a ledger, per city and clause (docs/lifecycle/accounts.md).

Each test names the clause it checks and works its figures by hand in a comment. Figures the
texts leave blank (杭州's crediting, every city's interest rates, …) are supplied by small
overlays; without them the computation is refused naming the figure and its clause.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import run_cli
from yibao.errors import CaseError, MissingPolicyValue
from yibao.lifecycle.account_crediting import monthly_credits
from yibao.lifecycle.account_rules import AccountRules
from yibao.lifecycle.accounts import Ledger, build_ledger
from yibao.lifecycle.history import parse_history
from yibao.policy.loader import load_city

D = Decimal

# ---------------------------------------------------------------------- builders


def history(city: str, *enrolments: dict, contributions: list[dict] | None = None, events: list[dict] | None = None,
            relatives: list[dict] | None = None, entries: list[dict] | None = None, person: dict | None = None) -> dict:
    p = {"id": "P1", "birth_date": "1966-06-01", "sex": "M", **(person or {})}
    return {
        "city": city, "person": p, "employers": [{"id": "E1"}], "relatives": relatives or [],
        "enrolments": list(enrolments), "contributions": contributions or [], "events": events or [],
        "account_entries": entries or [],
    }


def active(start: str, end: str | None = None, **extra: Any) -> dict:
    return {"scheme": "employee", "category": "active", "mode": "unit", "employer": "E1", "start": start, "end": end, **extra}


def flexible(start: str, end: str | None = None, **extra: Any) -> dict:
    return {"scheme": "employee", "category": "flexible", "mode": "flexible", "start": start, "end": end, **extra}


def retired(start: str, end: str | None = None) -> dict:
    return {"scheme": "employee", "category": "retired", "mode": "retired", "start": start, "end": end}


def paid(base: str, *months: str, day: int = 15, **extra: Any) -> list[dict]:
    """A paid contribution for each month, paid on ``day`` of the month."""
    return [{"month": m, "base": base, "paid": "1.00", "paid_date": f"{m}-{day:02d}", **extra} for m in months]


def months(year: int, first: int, last: int) -> list[str]:
    return [f"{year}-{m:02d}" for m in range(first, last + 1)]


def overlay(tmp: Path, city: str, params: dict[str, Any], name: str | None = None) -> str:
    """An overlay file: ``{parameter: value}`` merged into the version of the city's start."""
    key = {"jiaxing": "2025-01-01", "hangzhou": "2026-01-01", "suizhou": "2024-01-01"}.get(city, "effective")
    body = {"city": city, "parameters": {n: {"values": {key: {"value": v}}} for n, v in params.items()}}
    text = yaml.safe_dump(body, allow_unicode=True, sort_keys=False).replace(f"'{key}'", key)
    path = tmp / (name or f"{city}-overlay.yaml")
    path.write_text(text, encoding="utf-8")
    return str(path)


def ledger(h: dict, until: str, overlays: tuple[str, ...] = ()) -> Ledger:
    return build_ledger(parse_history(json.loads(json.dumps(h))), load_city(h["city"], overlays), dt.date.fromisoformat(until))


def credits(h: dict, first: str, last: str, overlays: tuple[str, ...] = ()) -> list:
    rules = AccountRules(load_city(h["city"], overlays))
    return monthly_credits(parse_history(json.loads(json.dumps(h))), rules, dt.date.fromisoformat(first), dt.date.fromisoformat(last))


def rows(lg: Ledger, *kinds: str) -> list[tuple[str, str, str]]:
    """(date, sub, amount) of the entries of these kinds."""
    return [(e.date.isoformat(), e.sub, str(e.amount)) for e in lg.entries if not kinds or e.kind in kinds]


def bal(lg: Ledger, on: str | None = None) -> tuple[str, str]:
    b = lg.balances(dt.date.fromisoformat(on) if on else None)
    return str(b.current), str(b.history)


def write(tmp: Path, data: dict, name: str = "history.json") -> str:
    path = tmp / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def refused(run) -> str:
    """The contract for errors: exit 2, nothing on standard output, one line on standard error."""
    assert run.code == 2, (run.out, run.err)
    assert run.out == ""
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    return lines[0]


# ---------------------------------------------------------------------- overlays with the blank figures

RATES = {"current": "0.35", "history": "1.35"}


@pytest.fixture(scope="module")
def ov(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("account-overlays")
    return {
        "jiaxing": overlay(tmp, "jiaxing", {"account.interest": RATES, "contributions.published_figures": {"social_insurance_floor": 4462}}),
        "hangzhou": overlay(tmp, "hangzhou", {
            "account.crediting": {"standard": {"by_category": {"active, flexible, unemployed": {"rate": 2}, "retired": {"amount": 150}}}},
            "account.interest": RATES,
        }),
        "suizhou": overlay(tmp, "suizhou", {
            "account.interest": RATES,
            "account.family_aid": {"relations": ["spouse", "parent", "child"], "requires": ["insured_in_province"], "from": ["history"]},
        }),
        "suzhou": overlay(tmp, "suzhou", {
            "account.crediting": {"standard": {"by_category": {"retired": {"amount": 180}}}, "for_flags": {"disabled_veteran": {"amount": 260}}},
        }),
        "zhoushan": overlay(tmp, "zhoushan", {
            "account.crediting": {"standard": {"by_category": {"active, flexible, unemployed": {"rate": 2}, "retired": {"method": "fixed", "amount": 100}}}},
            "contributions.critical_illness_premium": {"by_scheme": {"employee": {"total": 100, "lines": {"person": {"share": 30}}}}},
            "account.interest": RATES,
        }),
    }


# ====================================================================== 嘉兴


def test_jiaxing_active_credit_is_2pct_of_the_previous_december_base_14_1():
    """嘉兴 (十四)1 + 末段: 2% of the base declared for the previous December, adjusted on 1 January."""
    h = history("jiaxing", active("2024-06-01"), contributions=paid("7000.00", "2024-12") + paid("8000.00", "2025-01", "2025-02"))
    cs = credits(h, "2025-01-01", "2025-02-28")
    # 2% × 7,000 (December 2024's base) = 140.00 each month, on the day the contribution is paid
    assert [(c.month, str(c.date), str(c.amount)) for c in cs] == [("2025-01", "2025-01-15", "140.00"), ("2025-02", "2025-02-15", "140.00")]
    assert "(十四)1" in cs[0].clause
    assert "declared for 2024-12" in cs[0].memo


def test_jiaxing_mid_year_joiner_is_credited_from_the_next_month_14():
    """嘉兴 (十四) "年中参保的次月调整": a member joining on 10 March is credited from April,
    on the first base of the year."""
    h = history("jiaxing", active("2025-03-10"), contributions=paid("6000.00", *months(2025, 3, 5)))
    cs = credits(h, "2025-03-01", "2025-05-31")
    assert [(c.month, str(c.amount)) for c in cs] == [("2025-04", "120.00"), ("2025-05", "120.00")]  # 2% × 6,000


def test_jiaxing_retiree_gets_195_from_the_month_after_retirement_14_2():
    """嘉兴 (十四)2: 195 a month, "在办理医保退休（职）后的次月调整": June is still active."""
    h = history("jiaxing", active("2025-01-01", "2025-06-14"), retired("2025-06-15"),
                contributions=paid("5000.00", *months(2025, 1, 6)))
    cs = credits(h, "2025-05-01", "2025-08-31")
    # May, June: 2% × 5,000 = 100.00; July, August: 195.00 on the 1st
    assert [(c.month, str(c.date), str(c.amount)) for c in cs] == [
        ("2025-05", "2025-05-15", "100.00"), ("2025-06", "2025-06-15", "100.00"),
        ("2025-07", "2025-07-01", "195.00"), ("2025-08", "2025-08-01", "195.00"),
    ]
    assert "(十四)2" in cs[-1].clause


def test_jiaxing_month_of_a_transfer_out_is_not_credited_14():
    """嘉兴 (十四) "年中关系转出的当月调整": the month coverage ends is not credited, even if paid."""
    h = history("jiaxing", active("2025-01-01", "2025-05-20"), contributions=paid("5000.00", *months(2025, 1, 5)),
                events=[{"date": "2025-05-20", "type": "transfer_out"}])
    assert [c.month for c in credits(h, "2025-01-01", "2025-06-30")] == ["2025-01", "2025-02", "2025-03", "2025-04"]


def test_jiaxing_unpaid_month_is_not_credited_until_paid():
    """A contributor's month is credited only once its contribution is paid, on that day."""
    contributions = paid("5000.00", "2025-01") + [{"month": "2025-02", "base": "5000.00", "due": "100.00", "paid": "0"}]
    h = history("jiaxing", active("2025-01-01"), contributions=contributions)
    assert [c.month for c in credits(h, "2025-01-01", "2025-03-31")] == ["2025-01"]


def test_jiaxing_part_above_2pct_of_the_minimum_base_pays_a_relative_premium_15_2(ov):
    """嘉兴 (十五)2: the credit above 2% × minimum base (the province's floor, (八)1: 4,462 in
    the overlay) is usable like 历年 — here for a spouse's resident premium when 历年 is empty."""
    h = history("jiaxing", active("2025-01-01"), contributions=paid("8000.00", *months(2025, 1, 5)),
                relatives=[{"id": "S", "relation": "spouse"}],
                entries=[{"kind": "premium", "date": "2025-05-20", "premium": "resident", "for": "S", "amount": "300.00"}])
    lg = ledger(h, "2025-05-31", (ov["jiaxing"],))
    credit = lg.entries[0]
    # 2% × 8,000 = 160.00; 2% × 4,462 = 89.24; usable like 历年: 70.76 a month, 353.80 by May
    assert (str(credit.amount), str(credit.history_like)) == ("160.00", "70.76")
    (premium,) = [e for e in lg.entries if e.kind == "premium"]
    assert (premium.sub, str(premium.amount), str(premium.history_like)) == ("current", "-300.00", "-300.00")
    assert bal(lg) == ("500.00", "0")  # 5 × 160 − 300


def test_jiaxing_history_like_part_needs_the_blank_minimum_base_15_2():
    """Without the minimum base (a provincial figure), using that part is refused naming it."""
    h = history("jiaxing", active("2025-01-01"), contributions=paid("8000.00", *months(2025, 1, 3)),
                relatives=[{"id": "S", "relation": "spouse"}],
                entries=[{"kind": "premium", "date": "2025-03-20", "premium": "resident", "for": "S", "amount": "100.00"}])
    with pytest.raises(MissingPolicyValue) as err:
        ledger(h, "2025-03-31")
    assert err.value.name == "contributions.published_figures.social_insurance_floor"
    assert "(八)1" in err.value.clause


def test_jiaxing_family_aid_to_a_sibling_from_history_only_15_2(ov):
    """嘉兴 (十五)2: 共济给本人的近亲属 (a sibling is one), from 历年 only — not from the 当年 part
    usable like 历年 ("除家庭共济外")."""
    base = dict(relatives=[{"id": "B", "relation": "sibling", "insured_in_province": False}],
                contributions=paid("8000.00", *months(2025, 1, 3)))
    ok = history("jiaxing", active("2025-01-01"), **base, entries=[
        {"kind": "opening", "date": "2025-01-01", "history": "500.00"},
        {"kind": "family_aid", "date": "2025-03-20", "relative": "B", "amount": "200.00"}])
    lg = ledger(ok, "2025-03-31", (ov["jiaxing"],))
    assert rows(lg, "family_aid") == [("2025-03-20", "history", "-200.00")]
    assert "(十五)2" in lg.entries[-1].clause
    short = history("jiaxing", active("2025-01-01"), **base, entries=[
        {"kind": "family_aid", "date": "2025-03-20", "relative": "B", "amount": "200.00"}])
    with pytest.raises(CaseError, match="cannot pay 200.00 .* 历年账户 hold 0.00"):
        ledger(short, "2025-03-31", (ov["jiaxing"],))


def test_jiaxing_has_no_overdraft_a_settlement_beyond_the_balance_is_refused():
    """嘉兴 has no preset: a visit cannot take 当年 below zero."""
    h = history("jiaxing", active("2025-01-01"), contributions=paid("5000.00", "2025-01"),
                entries=[{"kind": "settlement", "date": "2025-01-20", "visit_id": "V1", "current": "150.00"}])
    with pytest.raises(CaseError, match="no overdraft"):
        ledger(h, "2025-01-31")


def test_jiaxing_has_no_clearing_only_transfer_and_inheritance_13(tmp_path):
    h = history("jiaxing", active("2025-01-01", "2025-02-28"), person={"hukou": "other"})
    line = refused(run_cli("account", "clear", write(tmp_path, h), "--date", "2025-03-10", "--ground", "non_local_left"))
    assert "no rule for clearing" in line


def test_jiaxing_interest_is_blank_13():
    """嘉兴 (十三) 计息按有关规定: a year end with a balance needs the blank rate."""
    h = history("jiaxing", active("2025-01-01"), contributions=paid("5000.00", "2025-01"))
    with pytest.raises(MissingPolicyValue) as err:
        ledger(h, "2025-12-31")
    assert err.value.name == "account.interest.current" and "(十三)" in err.value.clause


def test_jiaxing_rollover_with_interest_13(ov):
    """嘉兴 (十三): interest once at year end (overlay rates), then 当年 → 历年."""
    h = history("jiaxing", active("2025-01-01"), contributions=paid("5000.00", *months(2025, 1, 12)),
                entries=[{"kind": "opening", "date": "2025-01-01", "history": "1000.00"}])
    lg = ledger(h, "2025-12-31", (ov["jiaxing"],))
    # 当年 12 × 100 = 1,200 → × 0.35% = 4.20; 历年 1,000 × 1.35% = 13.50; 历年 = 1,000 + 4.20 + 13.50 + 1,200
    assert rows(lg, "interest", "rollover") == [
        ("2025-12-31", "history", "4.20"), ("2025-12-31", "history", "13.50"),
        ("2025-12-31", "current", "-1200.00"), ("2025-12-31", "history", "1200.00"),
    ]
    assert bal(lg) == ("0.00", "2217.70")


# ====================================================================== 杭州


def hz(*entries: dict, contributions: list[dict] | None = None, events: list[dict] | None = None, enrolments: tuple = (), **kw: Any) -> dict:
    return history("hangzhou", *(enrolments or (active("2026-01-01"),)), contributions=contributions, events=events, entries=list(entries), **kw)


def test_hangzhou_crediting_figures_are_blank(tmp_path):
    """杭州细则 个人账户管理段: preset by category and age — the figures are not in the text."""
    h = hz(contributions=paid("10000.00", "2026-01"))
    line = refused(run_cli("account", "credit", write(tmp_path, h), "--from", "2026-01", "--to", "2026-01"))
    assert "account.crediting.standard.by_category[active, flexible, unemployed].rate" in line
    assert "杭州细则" in line and "个人账户管理段" in line


def test_hangzhou_critical_illness_48_from_current_at_the_first_credit(ov):
    """杭州细则 三、大病保险: 职工个人缴纳48元，从其个人账户当年资金中扣缴 — at the year's first credit."""
    lg = ledger(hz(contributions=paid("10000.00", "2026-01", "2026-02")), "2026-02-28", (ov["hangzhou"],))
    # 2% × 10,000 = 200.00 on 15 January, 48.00 deducted the same day, 200.00 on 15 February
    assert rows(lg) == [("2026-01-15", "current", "200.00"), ("2026-01-15", "current", "-48.00"), ("2026-02-15", "current", "200.00")]
    premium = lg.entries[1]
    assert premium.kind == "premium" and premium.ref == "critical_illness" and "三、大病保险" in premium.clause
    assert bal(lg) == ("352.00", "0")


def test_hangzhou_year_end_interest_and_rollover(ov, tmp_path):
    """杭州细则 年度结转: 当年 at the demand-deposit rate, 历年 at the 3-month rate, once, into 历年."""
    h = hz({"kind": "opening", "date": "2026-01-01", "history": "1000.00"}, contributions=paid("10000.00", *months(2026, 1, 12)))
    lg = ledger(h, "2026-12-31", (ov["hangzhou"],))
    # 当年 12 × 200 − 48 = 2,352 → × 0.35% = 8.232 → 8.23; 历年 1,000 × 1.35% = 13.50
    assert rows(lg, "interest") == [("2026-12-31", "history", "8.23"), ("2026-12-31", "history", "13.50")]
    assert rows(lg, "rollover") == [("2026-12-31", "current", "-2352.00"), ("2026-12-31", "history", "2352.00")]
    assert bal(lg) == ("0.00", "3373.73")
    run = run_cli("account", "rollover", write(tmp_path, h), "--year", "2026", "--overlay", ov["hangzhou"])
    assert run.code == 0, run.err
    doc = run.json
    assert doc["before"] == {"current": "2352.00", "history": "1000.00", "total": "3352.00"}
    assert [e["kind"] for e in doc["entries"]] == ["interest", "interest", "rollover", "rollover"]
    assert doc["after"] == {"current": "0.00", "history": "3373.73", "total": "3373.73"}


def test_hangzhou_overdraft_is_carried_into_the_next_year_not_rolled_over(ov):
    """杭州细则: 实际划入额度低于预设额度的差额部分在年度结转时从次年当年资金中扣除."""
    h = hz({"kind": "opening", "date": "2026-01-01", "history": "1000.00"},
           {"kind": "settlement", "date": "2026-12-20", "visit_id": "V1", "current": "3000.00"},
           contributions=paid("10000.00", *months(2026, 1, 12)) + paid("10000.00", "2027-01"))
    lg = ledger(h, "2027-01-31", (ov["hangzhou"],))
    visit = next(e for e in lg.entries if e.kind == "settlement")
    assert visit.overdraft  # 2,352 − 3,000 = −648: a recorded overdraft
    # only 历年 earns interest (13.50); nothing rolls over; −648 + 200 − 48 in January 2027
    assert rows(lg, "interest", "rollover") == [("2026-12-31", "history", "13.50")]
    assert bal(lg, "2026-12-31") == ("-648.00", "1013.50")
    assert bal(lg) == ("-496.00", "1013.50")


def test_hangzhou_transfer_out_offsets_the_overdraft_from_history_then_the_member_makes_good(ov, tmp_path):
    """杭州细则 转移: 先结清相关医疗费用; 当年透支先由历年冲抵，不足的由本人补足; then the rest leaves."""
    h = hz({"kind": "opening", "date": "2026-01-01", "history": "100.00"},
           {"kind": "settlement", "date": "2026-01-05", "visit_id": "V1", "current": "500.00"},
           contributions=paid("10000.00", "2026-01", "2026-02"))
    path = write(tmp_path, h)
    run = run_cli("account", "transfer", path, "--out", "--date", "2026-02-20", "--overlay", ov["hangzhou"], "-o", path)
    assert run.code == 0, run.err
    # 当年: −500 + 200 − 48 + 200 = −148; 历年 100 offsets it to −48; the member makes good 48
    got = [(e["sub"], e["amount"], e["kind"]) for e in run.json["entries"]]
    assert got == [("history", "-100.00", "overdraft_offset"), ("current", "100.00", "overdraft_offset"), ("current", "48.00", "make_good")]
    assert run.json["balances"] == {"current": "0.00", "history": "0.00", "total": "0.00"}
    saved = json.loads(Path(path).read_text(encoding="utf-8"))
    assert saved["events"] == [{"date": "2026-02-20", "type": "transfer_out"}]
    # crediting stops with the transfer; a later statement replays the same closing
    statement = run_cli("account", "statement", path, "--to", "2026-06-30", "--overlay", ov["hangzhou"])
    assert statement.code == 0, statement.err
    assert statement.json["balances"]["total"] == "0.00"
    assert statement.json["entries"][-1]["source"] == "events[0]"


def test_hangzhou_transfer_out_moves_the_actual_balance(ov):
    h = hz({"kind": "opening", "date": "2026-01-01", "history": "800.00"}, contributions=paid("10000.00", "2026-01"),
           events=[{"date": "2026-01-31", "type": "transfer_out"}])
    lg = ledger(h, "2026-03-31", (ov["hangzhou"],))
    assert rows(lg, "transfer_out") == [("2026-01-31", "current", "-152.00"), ("2026-01-31", "history", "-800.00")]
    assert bal(lg) == ("0.00", "0.00")


def test_hangzhou_death_overdraft_offset_then_written_off_then_inherited(ov):
    """杭州细则: 死亡人员当年透支先由历年冲抵，不足的在统筹基金中核销; 实际结余由继承人继承."""
    h = hz({"kind": "opening", "date": "2026-01-01", "history": "200.00"},
           {"kind": "settlement", "date": "2026-01-02", "visit_id": "V1", "current": "1000.00"},
           {"kind": "inheritance", "date": "2026-03-01", "heir": "李四"},
           enrolments=(retired("2026-01-01"),), events=[{"date": "2026-02-10", "type": "death"}])
    lg = ledger(h, "2026-12-31", (ov["hangzhou"],))
    # 150 − 48 − 1,000 + 150 (February; the member died on the 10th) = −748
    # 历年 200 offsets it to −548; the pooled fund writes off 548; March on: nothing credited
    assert rows(lg, "overdraft_offset", "write_off") == [
        ("2026-02-10", "history", "-200.00"), ("2026-02-10", "current", "200.00"), ("2026-02-10", "current", "548.00")]
    assert lg.entries[-1].kind == "write_off" and "核销" in lg.entries[-1].clause
    assert not [e for e in lg.entries if e.kind == "inheritance"]  # nothing left to inherit
    assert bal(lg) == ("0.00", "0.00")


def test_hangzhou_inheritance_pays_out_the_balance(ov):
    h = hz({"kind": "opening", "date": "2026-01-01", "history": "900.00"},
           {"kind": "inheritance", "date": "2026-05-01", "heir": "李四"},
           enrolments=(retired("2026-01-01"),), events=[{"date": "2026-02-10", "type": "death"}])
    lg = ledger(h, "2026-12-31", (ov["hangzhou"],))
    # 当年 150 − 48 + 150 = 252 (January, February); 历年 900
    assert rows(lg, "inheritance") == [("2026-05-01", "current", "-252.00"), ("2026-05-01", "history", "-900.00")]
    assert lg.entries[-1].ref == "李四"
    with pytest.raises(CaseError, match="needs a `death` event"):
        ledger(hz({"kind": "inheritance", "date": "2026-05-01"}), "2026-05-31", (ov["hangzhou"],))


def test_hangzhou_family_aid_close_relatives_insured_in_zhejiang_from_history(ov):
    """杭州细则 个人账户历年资金: 本人及在浙江省内参加基本医疗保险的近亲属."""
    relatives = [{"id": "B", "relation": "sibling", "insured_in_province": True},
                 {"id": "F", "relation": "parent", "insured_in_province": False}]
    ok = hz({"kind": "opening", "date": "2026-01-01", "history": "1000.00"},
            {"kind": "family_aid", "date": "2026-02-01", "relative": "B", "amount": "300.00", "purpose": "门诊"},
            contributions=paid("10000.00", "2026-01"), relatives=relatives)
    lg = ledger(ok, "2026-02-28", (ov["hangzhou"],))
    assert rows(lg, "family_aid") == [("2026-02-01", "history", "-300.00")]
    assert bal(lg) == ("152.00", "700.00")
    not_insured = hz({"kind": "opening", "date": "2026-01-01", "history": "1000.00"},
                     {"kind": "family_aid", "date": "2026-02-01", "relative": "F", "amount": "300.00"}, relatives=relatives)
    with pytest.raises(CaseError, match="F \\(parent\\) may not .* insured in the province"):
        ledger(not_insured, "2026-02-28", (ov["hangzhou"],))
    current_only = hz({"kind": "family_aid", "date": "2026-02-01", "relative": "B", "amount": "100.00"},
                      contributions=paid("10000.00", "2026-01"), relatives=relatives)
    with pytest.raises(CaseError, match="历年账户 hold 0.00"):
        ledger(current_only, "2026-02-28", (ov["hangzhou"],))


def test_hangzhou_premiums_own_from_current_relatives_from_history(ov):
    """杭州细则: 当年 pays the member's 大病/长护; 历年 the premiums of 近亲属 insured in 浙江."""
    relatives = [{"id": "C", "relation": "child"}]
    h = hz({"kind": "opening", "date": "2026-01-01", "history": "1000.00"},
           {"kind": "premium", "date": "2026-01-20", "premium": "ltc", "amount": "100.00"},
           {"kind": "premium", "date": "2026-01-20", "premium": "resident", "for": "C", "amount": "370.00"},
           contributions=paid("10000.00", "2026-01"), relatives=relatives)
    lg = ledger(h, "2026-01-31", (ov["hangzhou"],))
    assert rows(lg, "premium") == [("2026-01-15", "current", "-48.00"), ("2026-01-20", "current", "-100.00"), ("2026-01-20", "history", "-370.00")]
    assert bal(lg) == ("52.00", "630.00")
    wrong = hz({"kind": "premium", "date": "2026-01-20", "premium": "commercial", "amount": "10.00"})
    with pytest.raises(CaseError, match="may not pay the member's own commercial premium"):
        ledger(wrong, "2026-01-31", (ov["hangzhou"],))


def test_hangzhou_transfer_in_goes_to_history(ov, tmp_path):
    """杭州细则: 原参保地个人账户实际结余资金…全部划入其个人账户历年资金."""
    h = hz(enrolments=(active("2026-03-01"),))
    run = run_cli("account", "transfer", write(tmp_path, h), "--in", "--balance", "2345.60", "--date", "2026-03-01", "--overlay", ov["hangzhou"])
    assert run.code == 0, run.err
    (entry,) = run.json["entries"]
    assert (entry["sub"], entry["amount"], entry["kind"]) == ("history", "2345.60", "transfer_in")
    assert "全部划入其个人账户历年资金" in entry["clause"]


def test_hangzhou_clearing_for_a_non_local_member_who_left(ov, tmp_path):
    """杭州细则: 非本市户籍且未在其他统筹地参保的，可按规定办理个人账户清算."""
    h = hz({"kind": "opening", "date": "2026-01-01", "history": "500.00"}, enrolments=(active("2026-01-01", "2026-02-28"),),
           contributions=paid("10000.00", "2026-01", "2026-02"), person={"hukou": "other"})
    run = run_cli("account", "clear", write(tmp_path, h), "--date", "2026-03-10", "--ground", "non_local_left", "--overlay", ov["hangzhou"])
    assert run.code == 0, run.err
    assert [(e["sub"], e["amount"]) for e in run.json["entries"]] == [("current", "-352.00"), ("history", "-500.00")]
    still = hz(enrolments=(active("2026-01-01"),), person={"hukou": "other"})
    line = refused(run_cli("account", "clear", write(tmp_path, still, "still.json"), "--date", "2026-03-10", "--ground", "non_local_left", "--overlay", ov["hangzhou"]))
    assert "still enrolled" in line
    local = hz(enrolments=(active("2026-01-01", "2026-02-28"),))
    line = refused(run_cli("account", "clear", write(tmp_path, local, "local.json"), "--date", "2026-03-10", "--ground", "emigration", "--overlay", ov["hangzhou"]))
    assert "`emigration` event" in line


def test_hangzhou_retirement_year_deductible_refund(ov, tmp_path):
    """杭州细则 普通门诊结算第2项: 600 active × 6/12 + 200 retired × 6/12 = 400 due; 600 paid → 80% × 200 = 160 into 历年."""
    h = hz({"kind": "settlement", "date": "2026-02-10", "visit_id": "V1", "deductible": "600.00", "pool": "outpatient"},
           enrolments=(active("2026-01-01", "2026-06-30"), retired("2026-07-01")),
           contributions=paid("10000.00", *months(2026, 1, 6)), events=[{"date": "2026-07-01", "type": "retirement"}])
    path = write(tmp_path, h)
    run = run_cli("account", "refund-deductible", path, "--year", "2026", "--date", "2026-12-20", "--overlay", ov["hangzhou"])
    assert run.code == 0, run.err
    (entry,) = run.json["entries"]
    assert (entry["date"], entry["sub"], entry["amount"], entry["kind"]) == ("2026-12-20", "history", "160.00", "deductible_refund")
    assert "退休当年" in entry["clause"] and "= 400.00" in entry["memo"]
    run = run_cli("account", "refund-deductible", path, "--year", "2026", "--paid", "500.00", "--overlay", ov["hangzhou"])
    assert run.json["entries"][0]["amount"] == "80.00"  # 80% × (500 − 400)
    no_retirement = hz(contributions=paid("10000.00", "2026-01"))
    line = refused(run_cli("account", "refund-deductible", write(tmp_path, no_retirement, "n.json"), "--year", "2026", "--paid", "600", "--overlay", ov["hangzhou"]))
    assert "retirement year" in line


def test_hangzhou_pension_suspended_stops_crediting_and_use(ov):
    """杭州细则 停止划入及使用: 退休人员被停发基本养老金的."""
    h = hz({"kind": "opening", "date": "2026-01-01", "history": "500.00"},
           {"kind": "premium", "date": "2026-05-01", "premium": "ltc", "amount": "10.00"},
           enrolments=(retired("2026-01-01"),), events=[{"date": "2026-03-10", "type": "pension_suspended"}])
    with pytest.raises(CaseError, match="may not be used since 2026-03-10 \\(pension_suspended"):
        ledger(h, "2026-06-30", (ov["hangzhou"],))
    h["account_entries"].pop()
    lg = ledger(h, "2026-06-30", (ov["hangzhou"],))
    assert [e.ref for e in lg.entries if e.kind == "crediting"] == ["2026-01", "2026-02", "2026-03"]


def test_hangzhou_imprisonment_stops_crediting_until_release(ov):
    """杭州细则: 因判刑…暂停医保待遇的 — from the next month until release."""
    h = hz(enrolments=(retired("2026-01-01"),),
           events=[{"date": "2026-03-10", "type": "imprisonment"}, {"date": "2026-06-20", "type": "release"}])
    cs = credits(h, "2026-01-01", "2026-08-31", (ov["hangzhou"],))
    assert [c.month for c in cs] == ["2026-01", "2026-02", "2026-03", "2026-07", "2026-08"]


def test_hangzhou_back_payment_is_credited_when_paid_but_a_retirement_top_up_never(ov):
    """杭州细则: 补缴 → 补划个人账户; 退休一次性补缴的医保费不予划入个人账户."""
    contributions = [
        {"month": "2026-01", "base": "10000.00", "paid": "1.00", "paid_date": "2026-01-15"},
        {"month": "2026-02", "base": "10000.00", "due": "1.00", "paid": "0"},
        {"month": "2026-02", "base": "10000.00", "paid": "1.00", "paid_date": "2026-05-10", "kind": "back_payment"},
        {"month": "2026-03", "base": "10000.00", "paid": "1.00", "paid_date": "2026-03-15", "kind": "retirement_top_up"},
    ]
    cs = credits(hz(contributions=contributions), "2026-01-01", "2026-06-30", (ov["hangzhou"],))
    assert [(c.month, str(c.date)) for c in cs] == [("2026-01", "2026-01-15"), ("2026-02", "2026-05-10")]


def test_hangzhou_ledger_before_the_policy_needs_an_opening(ov, tmp_path):
    h = hz(enrolments=(active("2020-03-01"),), contributions=paid("8000.00", "2020-03"))
    line = refused(run_cli("account", "statement", write(tmp_path, h), "--to", "2026-03-31", "--overlay", ov["hangzhou"]))
    assert "before 杭州's policy" in line and "account open" in line
    opened = run_cli("account", "open", write(tmp_path, h), "--date", "2026-01-01", "--history", "4321.00", "--overlay", ov["hangzhou"],
                     "-o", str(tmp_path / "opened.json"))
    assert opened.code == 0, opened.err
    run = run_cli("account", "statement", str(tmp_path / "opened.json"), "--to", "2026-03-31", "--overlay", ov["hangzhou"])
    assert run.code == 0, run.err
    assert run.json["from"] == "2026-01-01"
    assert run.json["balances"]["history"] == "4321.00"


# ---------------------------------------------------------------------- settlements (杭州)


VISIT_CASE = {
    "city": "hangzhou",
    "person": {"id": "P1", "scheme": "employee", "category": "active"},
    "visits": [{"id": "V1", "date": "2026-03-20", "kind": "outpatient", "level": "tertiary", "amounts": {"inscp_scp_amt": "1000.00"}}],
}


def test_settle_a_case_with_the_ledger_balances(ov, tmp_path):
    """The case is settled with the ledger's balances on 2026-03-20: 当年 3 × 200 − 48 = 552, 历年 300.
    A1 (G8): 当年 pays 552 first; the remaining 448 is all deductible (600); 历年 pays 300 of it."""
    h = hz({"kind": "opening", "date": "2026-01-01", "history": "300.00"}, contributions=paid("10000.00", *months(2026, 1, 3)))
    path = write(tmp_path, h)
    case_path = write(tmp_path, VISIT_CASE, "case.json")
    run = run_cli("account", "settle", path, case_path, "--overlay", ov["hangzhou"], "-o", path)
    assert run.code == 0, run.err
    assert run.json["recorded"] == [{"account_entry": {"kind": "settlement", "date": "2026-03-20", "visit_id": "V1", "current": "552.00",
                                                       "history": "300.00", "deductible": "448.00", "pool": "outpatient"}}]
    assert [(e["sub"], e["amount"]) for e in run.json["entries"]] == [("current", "-552.00"), ("history", "-300.00")]
    assert run.json["balances"] == {"current": "0.00", "history": "0.00", "total": "0.00"}
    again = refused(run_cli("account", "settle", path, case_path, "--overlay", ov["hangzhou"]))
    assert "already in the account" in again


def test_settle_accepts_the_settle_output_with_its_case(ov, tmp_path):
    """The output of `yibao settle` (made with the same balances) records the same split, read from its trace."""
    h = hz({"kind": "opening", "date": "2026-01-01", "history": "300.00"}, contributions=paid("10000.00", *months(2026, 1, 3)))
    case = json.loads(json.dumps(VISIT_CASE))
    case["person"]["account"] = {"current": "552.00", "history": "300.00"}
    case_path = write(tmp_path, case, "case.json")
    settled = run_cli("settle", case_path)
    assert settled.code == 0, settled.err
    out_path = tmp_path / "settled.json"
    out_path.write_text(settled.out, encoding="utf-8")
    run = run_cli("account", "settle", write(tmp_path, h), str(out_path), "--case", case_path, "--overlay", ov["hangzhou"])
    assert run.code == 0, run.err
    assert run.json["recorded"][0]["account_entry"]["current"] == "552.00"
    assert run.json["recorded"][0]["account_entry"]["history"] == "300.00"
    line = refused(run_cli("account", "settle", write(tmp_path, h), str(out_path), "--overlay", ov["hangzhou"]))
    assert "--case" in line


# ====================================================================== 随州


def test_suizhou_active_2pct_and_retiree_70_20():
    """随州 第二十条（一）2% of the month's base; （二）70 a month."""
    h = history("suizhou", active("2024-01-01", "2024-02-29"), retired("2024-03-01"), contributions=paid("4000.00", "2024-01", "2024-02"))
    cs = credits(h, "2024-01-01", "2024-03-31")
    assert [(c.month, str(c.amount)) for c in cs] == [("2024-01", "80.00"), ("2024-02", "80.00"), ("2024-03", "70.00")]
    assert "第二十条（一）" in cs[0].clause and "第二十条（二）" in cs[-1].clause


def test_suizhou_pooled_only_flexible_has_no_account_and_retiree_is_prorated_20():
    """随州 第二十条（四）单建统筹 no account; （三）retiree's 70 × 统账结合 share of the paid months.
    3 months 单建统筹, 2 months 统账结合 (the third unpaid): 70 × 2/5 = 28.00."""
    h = history("suizhou",
                flexible("2024-01-01", "2024-03-31", account="pooled_only"), flexible("2024-04-01", "2024-06-30"), retired("2024-07-01"),
                contributions=paid("3500.00", *months(2024, 1, 5)) + [{"month": "2024-06", "base": "3500.00", "due": "315.00", "paid": "0"}])
    cs = credits(h, "2024-01-01", "2024-07-31")
    assert [(c.month, str(c.amount)) for c in cs] == [("2024-04", "70.00"), ("2024-05", "70.00"), ("2024-07", "28.00")]
    assert "2/5" in cs[-1].memo and "（三）" in cs[-1].clause


def test_suizhou_family_aid_is_left_to_national_rules_20_5(tmp_path):
    h = history("suizhou", active("2024-01-01"), relatives=[{"id": "W", "relation": "spouse"}])
    line = refused(run_cli("account", "aid", write(tmp_path, h), "--date", "2024-02-01", "--relative", "W", "--amount", "10"))
    assert "suizhou:account.family_aid" in line and "第二十条（五）" in line


def test_suizhou_family_aid_with_an_overlay(ov):
    h = history("suizhou", active("2024-01-01"), relatives=[{"id": "W", "relation": "spouse"}, {"id": "B", "relation": "sibling"}],
                entries=[{"kind": "opening", "date": "2024-01-01", "history": "400.00"},
                         {"kind": "family_aid", "date": "2024-02-01", "relative": "W", "amount": "150.00"}])
    assert bal(ledger(h, "2024-02-28", (ov["suizhou"],))) == ("0", "250.00")
    h["account_entries"][1]["relative"] = "B"
    with pytest.raises(CaseError, match="only spouse, parent, child"):
        ledger(h, "2024-02-28", (ov["suizhou"],))


def test_suizhou_interest_is_blank_65():
    h = history("suizhou", active("2024-01-01"), contributions=paid("4000.00", "2024-01"))
    with pytest.raises(MissingPolicyValue) as err:
        ledger(h, "2024-12-31")
    assert err.value.name == "account.interest.current" and "第六十五条" in err.value.clause


# ====================================================================== 苏州


def test_suzhou_active_2pct_retiree_and_veteran_blank_15(ov):
    """苏州 第十五条: 在职 2% of 月缴费工资总额; 退休人员、残疾军人 按定额 (blank)."""
    h = history("suzhou", active("2026-01-01", "2026-01-31"), retired("2026-02-01"), contributions=paid("6000.00", "2026-01"))
    assert [str(c.amount) for c in credits(h, "2026-01-01", "2026-01-31")] == ["120.00"]
    with pytest.raises(MissingPolicyValue) as err:
        credits(h, "2026-02-01", "2026-02-28")
    assert err.value.name == "account.crediting.standard.by_category[retired].amount" and "第十五条" in err.value.clause
    veteran = history("suzhou", active("2026-01-01"), contributions=paid("6000.00", "2026-01"), person={"flags": ["disabled_veteran"]})
    with pytest.raises(MissingPolicyValue) as err:
        credits(veteran, "2026-01-01", "2026-01-31")
    assert err.value.name == "account.crediting.for_flags.disabled_veteran.amount"
    # with the overlay: 180 a month retired, 260 for a disabled veteran whatever the category
    assert [str(c.amount) for c in credits(h, "2026-02-01", "2026-02-28", (ov["suzhou"],))] == ["180.00"]
    assert [str(c.amount) for c in credits(veteran, "2026-01-01", "2026-01-31", (ov["suzhou"],))] == ["260.00"]


def test_suzhou_family_aid_family_members_from_current_then_history_16():
    """苏州 第十六条 家庭成员 (read: spouse, parents, children), 当年 then 历年."""
    h = history("suzhou", active("2026-01-01"), relatives=[{"id": "W", "relation": "spouse", "insured_in_province": False},
                                                          {"id": "B", "relation": "sibling"}],
                entries=[{"kind": "opening", "date": "2026-01-01", "current": "100.00", "history": "500.00"},
                         {"kind": "family_aid", "date": "2026-02-01", "relative": "W", "amount": "300.00"}])
    lg = ledger(h, "2026-02-28")
    assert rows(lg, "family_aid") == [("2026-02-01", "current", "-100.00"), ("2026-02-01", "history", "-200.00")]
    h["account_entries"][1]["relative"] = "B"
    with pytest.raises(CaseError, match="B \\(sibling\\) may not receive family aid"):
        ledger(h, "2026-02-28")


def test_suzhou_imprisonment_suspends_from_the_next_month_54():
    """苏州 第五十四条: 自判决生效次月起中止 — until release."""
    h = history("suzhou", active("2026-01-01"), contributions=paid("6000.00", *months(2026, 1, 7)),
                events=[{"date": "2026-03-10", "type": "imprisonment"}, {"date": "2026-06-05", "type": "release"}])
    assert [c.month for c in credits(h, "2026-01-01", "2026-07-31")] == ["2026-01", "2026-02", "2026-03", "2026-07"]


def test_suzhou_overdraft_made_good_by_the_heirs_54():
    """苏州 第五十四条: 个人账户超支使用的，应当予以补足 — after death, by the heirs (no write-off)."""
    h = history("suzhou", active("2026-01-01"),
                entries=[{"kind": "opening", "date": "2026-01-01", "history": "100.00"},
                         {"kind": "settlement", "date": "2026-01-10", "visit_id": "V1", "current": "300.00"}],
                events=[{"date": "2026-01-20", "type": "death"}])
    lg = ledger(h, "2026-01-31")
    assert [(e.sub, str(e.amount), e.kind) for e in lg.entries if e.date.isoformat() == "2026-01-20"] == [
        ("history", "-100.00", "overdraft_offset"), ("current", "100.00", "overdraft_offset"), ("current", "200.00", "make_good")]
    assert "heirs make good" in lg.entries[-1].memo


def test_suzhou_lump_sum_withdrawal_on_emigration_54(tmp_path):
    h = history("suzhou", active("2026-01-01", "2026-04-30"), events=[{"date": "2026-05-01", "type": "emigration"}],
                entries=[{"kind": "opening", "date": "2026-01-01", "history": "700.00"}])
    run = run_cli("account", "clear", write(tmp_path, h), "--date", "2026-05-10", "--ground", "emigration")
    assert run.code == 0, run.err
    assert [(e["sub"], e["amount"], e["kind"]) for e in run.json["entries"]] == [("history", "-700.00", "clearing")]
    assert "第五十四条" in run.json["entries"][0]["clause"]


# ====================================================================== 舟山


def test_zhoushan_crediting_is_blank_17(tmp_path):
    h = history("zhoushan", active("2026-01-01"), contributions=paid("5000.00", "2026-01"))
    line = refused(run_cli("account", "statement", write(tmp_path, h), "--to", "2026-01-31"))
    assert "zhoushan:account.crediting.standard.by_category[active, flexible, unemployed].rate" in line
    assert "第十七条（一）" in line


def test_zhoushan_critical_illness_share_from_the_account_is_blank_37(tmp_path):
    crediting = overlay(tmp_path, "zhoushan", {"account.crediting": {"standard": {"by_category": {"active, flexible, unemployed": {"rate": 2}}}}})
    h = history("zhoushan", active("2026-01-01"), contributions=paid("5000.00", "2026-01"))
    with pytest.raises(MissingPolicyValue) as err:
        ledger(h, "2026-01-31", (crediting,))
    assert err.value.name == "contributions.critical_illness_premium.by_scheme[employee].total" and "第三十七条" in err.value.clause


def test_zhoushan_with_the_overlay_credit_premium_and_retiree(ov):
    """舟山 第十七条 (overlay: 2%; retirees 100 fixed); 第三十六条, 第三十七条 (overlay: 30 % of 100 a year)."""
    h = history("zhoushan", active("2026-01-01", "2026-01-31"), retired("2026-02-01"), contributions=paid("5000.00", "2026-01"))
    lg = ledger(h, "2026-02-28", (ov["zhoushan"],))
    # 2% × 5,000 = 100.00, 30.00 for 大病 at the first credit, 100.00 retired in February
    assert rows(lg) == [("2026-01-15", "current", "100.00"), ("2026-01-15", "current", "-30.00"), ("2026-02-01", "current", "100.00")]


def test_zhoushan_direct_relatives_insured_in_the_province_from_history_only_21(ov):
    """舟山 第二十一条: 参加本省基本医疗保险的配偶、父母、子女; 直系亲属共济仅限历年."""
    relatives = [{"id": "W", "relation": "spouse"}, {"id": "B", "relation": "sibling"},
                 {"id": "C", "relation": "child", "insured_in_province": False}]
    h = history("zhoushan", active("2026-01-01"), relatives=relatives, contributions=paid("5000.00", "2026-01"),
                entries=[{"kind": "opening", "date": "2026-01-01", "history": "500.00"},
                         {"kind": "family_aid", "date": "2026-02-01", "relative": "W", "amount": "500.00"}])
    lg = ledger(h, "2026-02-28", (ov["zhoushan"],))
    assert bal(lg) == ("70.00", "0.00")  # 当年 untouched (100 − 30)
    for rid, message in (("B", "only spouse, parent, child"), ("C", "insured in the province")):
        h["account_entries"][1]["relative"] = rid
        with pytest.raises(CaseError, match=message) as err:
            ledger(h, "2026-02-28", (ov["zhoushan"],))
        assert "第二十一条" in str(err.value)
    h["account_entries"][1].update(relative="W", amount="600.00")
    with pytest.raises(CaseError, match="cannot pay 600.00"):
        ledger(h, "2026-02-28", (ov["zhoushan"],))


def test_zhoushan_death_overdraft_written_off_19(ov):
    """舟山 第十九条（二）: 透支…死亡人员由统筹基金核销."""
    h = history("zhoushan", retired("2026-01-01"), events=[{"date": "2026-01-25", "type": "death"}],
                entries=[{"kind": "settlement", "date": "2026-01-05", "visit_id": "V1", "current": "400.00"}])
    lg = ledger(h, "2026-03-31", (ov["zhoushan"],))
    # 100 − 30 − 400 = −330, no 历年: written off
    assert rows(lg, "write_off") == [("2026-01-25", "current", "330.00")]
    assert "第十九条" in lg.entries[-1].clause
    assert bal(lg) == ("0.00", "0")


# ====================================================================== properties

#: (kind, day of the year, amount, 历年 part of a visit) — mostly affordable, sometimes not.
Move = st.one_of(
    st.tuples(st.just("settlement"), st.integers(0, 364), st.integers(0, 900), st.integers(0, 150)),
    st.tuples(st.just("premium"), st.integers(0, 364), st.integers(1, 120), st.just(0)),
    st.tuples(st.just("family_aid"), st.integers(0, 364), st.integers(1, 120), st.just(0)),
)


def _random_history(city: str, paid_months: list[bool], moves: list[tuple], closing: str | None) -> dict:
    year = {"hangzhou": 2026, "jiaxing": 2025}[city]
    start = dt.date(year, 1, 1)
    contributions = [{"month": f"{year}-{m + 1:02d}", "base": "9000.00", "paid": "1.00", "paid_date": f"{year}-{m + 1:02d}-10"}
                     for m, ok in enumerate(paid_months) if ok]
    entries: list[dict] = [{"kind": "opening", "date": start.isoformat(), "history": "1500.00"}]
    for i, (kind, day, amount, history_part) in enumerate(moves):
        date = (start + dt.timedelta(days=day)).isoformat()
        if kind == "settlement":
            entries.append({"kind": kind, "date": date, "visit_id": f"V{i}", "current": f"{amount}.00", "history": f"{history_part}.00"})
        elif kind == "premium":
            entries.append({"kind": kind, "date": date, "premium": "resident", "for": "W", "amount": f"{amount}.00"})
        else:
            entries.append({"kind": kind, "date": date, "relative": "W", "amount": f"{amount}.00"})
    events = [{"date": f"{year + 1}-02-01", "type": closing}] if closing else []
    return history(city, active(start.isoformat()), contributions=contributions, events=events, entries=entries,
                   relatives=[{"id": "W", "relation": "spouse"}])


def _check_invariants(lg: Ledger, overdraft_allowed: bool) -> None:
    running = lg.running()
    # balances are the sums of the entries
    for sub in ("current", "history"):
        assert getattr(lg.balances(), sub) == sum((e.amount for e in lg.entries if e.sub == sub), D(0))
    if running:
        assert running[-1][1] == lg.balances()
    negative_since_overdraft = False
    for entry, balances in running:
        assert balances.history >= 0, entry
        if balances.current < 0:
            assert overdraft_allowed, entry
            negative_since_overdraft = negative_since_overdraft or entry.overdraft
            assert negative_since_overdraft, f"{entry} took 当年 below zero without recording an overdraft"
        else:
            negative_since_overdraft = False


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(paid_months=st.lists(st.booleans(), min_size=12, max_size=12), moves=st.lists(Move, max_size=8),
       closing=st.sampled_from([None, "transfer_out", "death"]))
def test_property_hangzhou_ledger_sums_and_overdrafts(ov, paid_months, moves, closing):
    h = _random_history("hangzhou", paid_months, moves, closing)
    try:
        lg = ledger(h, "2027-03-31", (ov["hangzhou"],))
    except CaseError as exc:  # a movement the rules refuse: the refusal says why
        assert any(word in str(exc) for word in ("cannot pay", "holds", "closed", "died")), str(exc)
        return
    _check_invariants(lg, overdraft_allowed=True)
    if closing:  # a closing offsets any overdraft: nothing negative is left
        closed_on = dt.date(2027, 2, 1)
        after = lg.balances(closed_on)
        assert after.current >= 0 and after.history >= 0
        if closing == "transfer_out":
            assert after.total == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(paid_months=st.lists(st.booleans(), min_size=12, max_size=12), moves=st.lists(Move, max_size=8))
def test_property_jiaxing_never_overdraws(ov, paid_months, moves):
    h = _random_history("jiaxing", paid_months, moves, None)
    try:
        lg = ledger(h, "2025-12-31", (ov["jiaxing"],))
    except CaseError as exc:
        assert any(word in str(exc) for word in ("cannot pay", "no overdraft", "holds")), str(exc)
        return
    _check_invariants(lg, overdraft_allowed=False)


# ====================================================================== the command's contract


def test_statement_json_and_table(ov, tmp_path):
    h = hz({"kind": "opening", "date": "2026-01-01", "history": "1000.00"}, contributions=paid("10000.00", "2026-01"))
    path = write(tmp_path, h)
    run = run_cli("account", "statement", path, "--to", "2026-01-31", "--overlay", ov["hangzhou"])
    assert run.code == 0, run.err
    doc = run.json
    assert [(e["kind"], e["amount"], e["current"], e["history"], e["balance"]) for e in doc["entries"]] == [
        ("opening", "1000.00", "0.00", "1000.00", "1000.00"),
        ("crediting", "200.00", "200.00", "1000.00", "1200.00"),
        ("premium", "-48.00", "152.00", "1000.00", "1152.00"),
    ]
    assert doc["entries"][1]["source"] == "contributions[0]"
    assert doc["balances"] == {"current": "152.00", "history": "1000.00", "total": "1152.00"}
    table = run_cli("account", "statement", path, "--to", "2026-01-31", "--overlay", ov["hangzhou"], "--table")
    assert table.code == 0 and "crediting" in table.out and "balances: 当年 152.00" in table.out


def test_credit_command_lists_the_months(tmp_path):
    h = history("jiaxing", active("2025-01-01"), contributions=paid("5000.00", *months(2025, 1, 3)))
    run = run_cli("account", "credit", write(tmp_path, h), "--from", "2025-02", "--to", "2025-03")
    assert run.code == 0, run.err
    assert [(c["month"], c["amount"]) for c in run.json["credits"]] == [("2025-02", "100.00"), ("2025-03", "100.00")]
    assert run.json["total"] == "200.00"


def test_recording_writes_a_history_the_next_command_reads(ov, tmp_path):
    h = hz({"kind": "opening", "date": "2026-01-01", "history": "1000.00"}, relatives=[{"id": "W", "relation": "spouse"}])
    path = write(tmp_path, h)
    out = str(tmp_path / "after.json")
    run = run_cli("account", "aid", path, "--date", "2026-02-01", "--relative", "W", "--amount", "250", "--overlay", ov["hangzhou"], "-o", out)
    assert run.code == 0, run.err
    saved = json.loads(Path(out).read_text(encoding="utf-8"))
    assert saved["account_entries"][-1] == {"kind": "family_aid", "date": "2026-02-01", "relative": "W", "amount": "250.00"}
    parse_history(saved)  # still a valid history
    statement = run_cli("account", "statement", out, "--to", "2026-02-28", "--overlay", ov["hangzhou"])
    assert statement.json["balances"]["history"] == "750.00"
    assert json.loads(Path(path).read_text(encoding="utf-8")) == h  # the input is untouched


@pytest.mark.parametrize(
    "args, needle",
    [
        (("statement", "{h}", "--to", "2026-13-01"), "--to"),
        (("credit", "{h}", "--from", "2026-1", "--to", "2026-02"), "not a month"),
        (("credit", "{h}", "--from", "2026-03", "--to", "2026-02"), "before --from"),
        (("rollover", "{h}", "--year", "26"), "not a year"),
        (("aid", "{h}", "--date", "2026-02-01", "--relative", "W", "--amount", "-5"), "negative"),
        (("aid", "{h}", "--date", "2026-02-01", "--relative", "nobody", "--amount", "5"), "not among"),
        (("premium", "{h}", "--date", "2026-02-01", "--premium", "ltc", "--amount", "1.234"), "two decimals"),
        (("transfer", "{h}", "--in", "--date", "2026-02-01"), "--balance"),
        (("inherit", "{h}", "--date", "2026-02-01"), "death"),
        (("statement", "{bad}"), "malformed JSON"),
        (("statement", "{unknown}"), "unknown key"),
        (("statement", "{missing}"), "cannot read"),
        (("settle", "{h}", "{h}"), "case"),
    ],
)
def test_bad_input_is_refused_with_one_line(ov, tmp_path, args, needle):
    h = write(tmp_path, hz({"kind": "opening", "date": "2026-01-01", "history": "1000.00"}, relatives=[{"id": "W", "relation": "spouse"}]))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    unknown = write(tmp_path, {**hz(), "account_entries": [{"kind": "opening", "date": "2026-01-01", "colour": "red"}]}, "unknown.json")
    paths = {"h": h, "bad": str(bad), "unknown": unknown, "missing": str(tmp_path / "nope.json")}
    line = refused(run_cli("account", *(a.format(**paths) for a in args), "--overlay", ov["hangzhou"]))
    assert needle in line


def test_a_blank_figure_is_named_with_its_clause_through_the_cli(tmp_path):
    h = history("hangzhou", active("2026-01-01"), contributions=paid("10000.00", "2026-01"),
                entries=[{"kind": "opening", "date": "2026-01-01", "history": "100.00"}])
    line = refused(run_cli("account", "rollover", write(tmp_path, h), "--year", "2026",
                           "--overlay", overlay(tmp_path, "hangzhou", {"account.crediting": {"standard": {"by_category": {
                               "active, flexible, unemployed": {"rate": 2}, "retired": {"amount": 1}}}}})))
    assert "missing policy value hangzhou:account.interest.current" in line
    assert "银行活期存款基准利率" in line


def test_policy_check_lists_the_account_blanks():
    names = {c: {m.name for m in load_city(c).missing_values() if m.name.startswith("account.")} for c in ("jiaxing", "hangzhou", "suizhou", "suzhou", "zhoushan")}
    assert names["jiaxing"] == {"account.interest.current", "account.interest.history"}
    assert names["hangzhou"] == {"account.interest.current", "account.interest.history",
                                 "account.crediting.standard.by_category[active, flexible, unemployed].rate",
                                 "account.crediting.standard.by_category[retired].amount"}
    assert names["suizhou"] == {"account.interest.current", "account.interest.history", "account.premiums",
                                "account.family_aid", "account.clearing", "account.inheritance"}
    assert names["suzhou"] == {"account.crediting.standard.by_category[retired].amount", "account.crediting.for_flags.disabled_veteran.amount"}
    assert "account.crediting.standard.by_category[retired]" in names["zhoushan"]
    assert not [n for n in names["zhoushan"] if n.startswith("account.annual_premiums")]  # the amount is the contributions' own


@pytest.mark.parametrize("command", ["statement", "credit", "rollover", "open", "settle", "premium", "aid", "transfer", "clear", "inherit", "refund-deductible"])
def test_every_account_command_has_help(command, capsys):
    from yibao.cli import main

    with pytest.raises(SystemExit) as done:
        main(["account", command, "--help"])
    assert done.value.code == 0
    assert "HISTORY.json" in capsys.readouterr().out


def test_the_documented_example(tmp_path):
    """docs/lifecycle/accounts.md, 杭州: settle, aid, premium, refund, then the 2026 year end."""
    examples = Path(__file__).parents[2] / "docs" / "lifecycle" / "examples"
    path = str(tmp_path / "h.json")
    Path(path).write_text((examples / "account-hangzhou.json").read_text(encoding="utf-8"), encoding="utf-8")
    o = ("--overlay", str(examples / "account-hangzhou-overlay.yaml"))
    steps = [
        ("settle", path, str(examples / "account-hangzhou-case.json")),
        ("aid", path, "--date", "2026-04-01", "--relative", "P-2", "--amount", "300", "--purpose", "住院自付"),
        ("premium", path, "--date", "2026-09-01", "--premium", "resident", "--for", "P-2", "--amount", "800"),
        ("refund-deductible", path, "--year", "2026"),
    ]
    amounts = []
    for step in steps:
        run = run_cli("account", *step, *o, "-o", path)
        assert run.code == 0, run.err
        amounts.append([e["amount"] for e in run.json["entries"]])
    assert amounts == [["-552.00", "-448.00"], ["-300.00"], ["-800.00"], ["38.40"]]
    refused(run_cli("account", "aid", path, "--date", "2026-04-01", "--relative", "P-3", "--amount", "300", *o))
    rollover = run_cli("account", "rollover", path, "--year", "2026", *o)
    assert rollover.json["before"]["total"] == "2990.40"
    assert [e["amount"] for e in rollover.json["entries"]] == ["5.25", "20.12", "-1500.00", "1500.00"]
    assert rollover.json["after"]["history"] == "3015.77"
    out = run_cli("account", "transfer", path, "--out", "--date", "2027-02-10", *o)
    assert [e["amount"] for e in out.json["entries"]] == ["-252.00", "-3015.77"]
