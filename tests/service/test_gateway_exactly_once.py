"""Exactly once: a replayed msgid answers the first answer and changes nothing; a msgid
is never reused for another request; 2601 冲正 undoes a transaction by its omsgid."""

from __future__ import annotations

import json
import threading

from gateway_helpers import (
    AMOUNT_FIELDS, CONSULT, CT, HZ_HOSPITAL, TRASTUZUMAB, D, Hospital, account_balance, assert_refused, counts, money,
    negated, new_person,
)
from sqlalchemy import select

from yibao.service.db import models as m


def _visit_with_lines(h: Hospital, p, begntime: str = "2026-03-10 09:00:00", *, big: bool = False):  # noqa: ANN001
    """A registered visit with 825.00 of lines (3825.00 when ``big``)."""
    mdtrt_id = h.register(p, begntime)
    h.visit_info(p, mdtrt_id, begntime)
    lines = [dict(sn=1, code=CONSULT, cnt=1, pric="25", when=begntime), dict(sn=2, code=CT, cnt=2, pric="400", when=begntime)]
    if big:
        lines.append(dict(sn=3, code=TRASTUZUMAB, cnt=1, pric="3000", when=begntime))
    h.upload(p, mdtrt_id, lines)
    return mdtrt_id


def _correction(p, msgid: str, infno: str) -> dict:  # noqa: ANN001
    return {"data": {"psn_no": p.psn_no, "omsgid": msgid, "oinfno": infno}}


def test_a_replayed_msgid_returns_the_first_answer_and_changes_nothing(client, app, database_url):
    db = app.state.service.db
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou", account=("300.00", "700.00"))
    h.now = None

    bodies: dict[str, tuple[bytes, bytes]] = {}

    def twice(infno: str, input_: dict) -> dict:
        """Send one message, then the very same body again under fresh signed headers."""
        _, body = h.body(infno, input_, p)
        first = h.post(body)
        assert first.status_code == 200 and first.json()["infcode"] == 0, first.json()["err_msg"]
        before = counts(db)
        for _ in range(2):
            again = h.post(body)
            assert again.status_code == 200
            assert again.content == first.content, f"{infno}: the replay answered differently"
            assert counts(db) == before, f"{infno}: the replay changed something"
        answer = first.json()
        assert answer["inf_refmsgid"] == again.json()["inf_refmsgid"]
        bodies[infno] = (body, first.content)
        return answer["output"]

    begntime = "2026-03-10 09:00:00"
    mdtrt_id = twice("2201", {"data": {"psn_no": p.psn_no, "insutype": "310", "begntime": begntime, "mdtrt_cert_type": "02",
                                       "mdtrt_cert_no": p.certno, "ipt_otp_no": "MZ1"}})["data"]["mdtrt_id"]
    twice("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "med_type": "11", "begntime": begntime}})
    line = dict(mdtrt_id=mdtrt_id, psn_no=p.psn_no, chrg_bchno="B1", fee_ocur_time=begntime, med_list_codg=TRASTUZUMAB,
                det_item_fee_sumamt="1500.00", cnt="1", pric="1500")
    twice("2204", {"feedetail": [dict(line, feedetl_sn="1")]})
    twice("2204", {"feedetail": [dict(line, feedetl_sn="2", med_list_codg=CONSULT, det_item_fee_sumamt="25.00", pric="25")]})
    settle = {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id, "medfee_sumamt": "1525.00", "insutype": "310",
                       "acct_used_flag": "1"}}
    twice("2206", settle)
    settled = twice("2207", settle)
    with db.sessions() as s:
        assert len(s.scalars(select(m.Settlement).where(m.Settlement.mdtrt_id == mdtrt_id)).all()) == 1
    balance = account_balance(db, p.psn_no)
    assert balance == D("1000.00") - D(settled["setlinfo"]["acct_pay"]) and D(settled["setlinfo"]["acct_pay"]) > 0
    totals = h.totals(p)
    reversal = twice("2208", {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id, "setl_id": settled["setlinfo"]["setl_id"]}})
    assert reversal["setlinfo"]["orig_setl_id"] == settled["setlinfo"]["setl_id"]
    assert account_balance(db, p.psn_no) == D("1000.00")
    assert set(h.totals(p).values()) == {"0.00"} and set(totals) == set(h.totals(p))
    # the HIS retries the settlement it sent before the reversal: the first answer, nothing settled again
    before = counts(db)
    body, content = bodies["2207"]
    assert h.post(body).content == content
    assert counts(db) == before and account_balance(db, p.psn_no) == D("1000.00")
    twice("5206", {"data": {"psn_no": p.psn_no, "cum_ym": "202603"}})
    twice("9001", {"signIn": {"opter_no": "002", "mac": "", "ip": ""}})


def test_a_msgid_used_again_for_another_request_is_refused(client, app, database_url):
    db = app.state.service.db
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou")
    mdtrt_id = _visit_with_lines(h, p)
    msgid, body = h.body("2207", h.settle_input(p, mdtrt_id, "825.00"), p)
    first = h.post(body).json()
    assert first["infcode"] == 0
    before = counts(db)
    other_input = h.settle_input(p, mdtrt_id, "825.00", acct=False)
    assert_refused(h.call("2207", other_input, p, msgid=msgid), f"msgid {msgid}", "already used for a different request")
    assert_refused(h.call("2206", h.settle_input(p, mdtrt_id, "825.00"), p, msgid=msgid), "already used for a different request")
    reverse = {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id, "setl_id": first["output"]["setlinfo"]["setl_id"]}}
    assert_refused(h.call("2208", reverse, p, msgid=msgid), "already used for a different request")
    assert counts(db) == before
    # a refused request leaves its msgid free: sent again correctly, it is answered
    _, refused_body = h.body("2208", {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id, "setl_id": "0" * 30}}, p)
    refused_msgid = json.loads(refused_body)["msgid"]
    assert_refused(h.post(refused_body).json(), "is not a settlement of mdtrt_id")
    ok = h.call("2208", reverse, p, msgid=refused_msgid)
    assert ok["infcode"] == 0, ok["err_msg"]


def test_concurrent_duplicates_of_one_settlement_settle_once(client, app, database_url):
    """Four copies of one 2207 message arrive at once: one settlement, four equal answers."""
    db = app.state.service.db
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou", account=("500.00", "500.00"))
    mdtrt_id = _visit_with_lines(h, p)
    _, body = h.body("2207", h.settle_input(p, mdtrt_id, "825.00"), p)
    headers = [h.headers() for _ in range(4)]
    answers: list = [None] * 4
    gate = threading.Barrier(4)

    def send(i: int) -> None:
        gate.wait()
        answers[i] = app.state.service.gateway.call(body, {k.lower(): v for k, v in headers[i].items()})

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(a is not None and a.status == 200 for a in answers)
    assert all(a.body["infcode"] == 0 for a in answers), [a.body["err_msg"] for a in answers]
    assert len({json.dumps(a.body, sort_keys=True) for a in answers}) == 1
    acct = D(answers[0].body["output"]["setlinfo"]["acct_pay"])
    assert acct > 0
    with db.sessions() as s:
        assert len(s.scalars(select(m.Settlement).where(m.Settlement.psn_no == p.psn_no)).all()) == 1
        entries = s.scalars(select(m.AccountEntry).where(m.AccountEntry.psn_no == p.psn_no, m.AccountEntry.kind == "settlement"))
        assert len(entries.all()) == 1
    assert account_balance(db, p.psn_no) == D("1000.00") - acct


def test_correction_of_a_settlement_reverses_it_exactly(client, app, database_url):
    """2601 of a 2207 by its omsgid reverses it; a second 2601 changes nothing; a 2601 of a
    message the service never answered answers success with nothing to undo, and that
    message takes no effect if it arrives later."""
    db = app.state.service.db
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou", account=("300.00", "1200.00"))
    mdtrt_id = _visit_with_lines(h, p, big=True)
    opening_totals = h.totals(p)
    msgid, body = h.body("2207", h.settle_input(p, mdtrt_id, "3825.00"), p)
    settled = h.post(body).json()["output"]
    assert D(settled["setlinfo"]["acct_pay"]) > 0 and D(settled["setlinfo"]["fund_pay_sumamt"]) > 0
    assert account_balance(db, p.psn_no) < D("1500.00")

    undone = h.ok("2601", _correction(p, msgid, "2207"), p)["data"]
    assert (undone["omsgid"], undone["oinfno"], undone["result"]) == (msgid, "2207", "1")
    assert account_balance(db, p.psn_no) == D("1500.00")
    assert set(h.totals(p).values()) <= {"0.00"} and opening_totals == {}
    with db.sessions() as s:
        original = s.get(m.Settlement, settled["setlinfo"]["setl_id"])
        reversal = s.get(m.Settlement, original.reversed_by)
        assert reversal.kind == "reversal" and reversal.reverses == original.setl_id
        assert {k: money(getattr(reversal, k)) for k in AMOUNT_FIELDS if k not in ("balc", "acct_mulaid_pay")} == \
            {k: v for k, v in negated(settled).items() if k != "acct_mulaid_pay"}
        assert s.get(m.Visit, mdtrt_id).status == "open"
    query = h.query(p, settled["setlinfo"]["setl_id"])
    assert query["setlinfo"]["reversed_by"] == original.reversed_by

    before = counts(db)
    again = h.ok("2601", _correction(p, msgid, "2207"), p)["data"]
    assert again["result"] == "1" and "already reversed" in again["memo"]
    after = counts(db)
    assert {k: v for k, v in after.items() if k not in ("messages", "audit_log")} == \
        {k: v for k, v in before.items() if k not in ("messages", "audit_log")}

    assert_refused(h.call("2601", _correction(p, msgid, "2201"), p), f"omsgid {msgid} was a 2207")
    assert_refused(h.call("2601", _correction(p, msgid, "2206"), p), "cannot be undone")

    # A second 2207 times out before reaching the service; the HIS corrects it and is told
    # there is nothing to undo. When the delayed 2207 finally arrives it takes no effect —
    # the HIS already treats it as undone.
    late_msgid, delayed = h.body("2207", h.settle_input(p, mdtrt_id, "3825.00"), p)
    nothing = h.ok("2601", _correction(p, late_msgid, "2207"), p)["data"]
    assert (nothing["omsgid"], nothing["result"]) == (late_msgid, "0") and "nothing to undo" in nothing["memo"]
    assert {k: v for k, v in counts(db).items() if k not in ("messages", "audit_log")} == \
        {k: v for k, v in before.items() if k not in ("messages", "audit_log")}
    late = h.post(delayed).json()
    assert late["infcode"] == -1, "a 2207 already corrected by 2601 settled the visit"
    assert {k: v for k, v in counts(db).items() if k not in ("messages", "audit_log")} == \
        {k: v for k, v in before.items() if k not in ("messages", "audit_log")}
    assert account_balance(db, p.psn_no) == D("1500.00")

    # the visit settles again, under a new msgid, exactly as the first time
    resettled = h.ok("2207", h.settle_input(p, mdtrt_id, "3825.00"), p)
    assert {k: resettled["setlinfo"][k] for k in AMOUNT_FIELDS} == {k: settled["setlinfo"][k] for k in AMOUNT_FIELDS}


def test_correction_of_a_registration_and_of_an_upload(client, app, database_url):
    """2601 of a 2201 cancels the visit; 2601 of a 2204 withdraws exactly that upload's lines,
    and sent again after the lines were uploaded anew, leaves the new upload alone."""
    db = app.state.service.db
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou")
    begntime = "2026-03-10 09:00:00"
    h.now = None
    registration = {"data": {"psn_no": p.psn_no, "insutype": "310", "begntime": begntime, "mdtrt_cert_type": "02",
                             "mdtrt_cert_no": p.certno, "ipt_otp_no": "MZ1"}}
    reg_msgid, body = h.body("2201", registration, p)
    cancelled = h.post(body).json()["output"]["data"]["mdtrt_id"]
    undone = h.ok("2601", _correction(p, reg_msgid, "2201"), p)["data"]
    assert undone["result"] == "1" and cancelled in undone["memo"]
    with db.sessions() as s:
        assert s.get(m.Visit, cancelled).status == "cancelled"
    assert_refused(h.call("2203", {"mdtrtinfo": {"mdtrt_id": cancelled, "psn_no": p.psn_no, "med_type": "11"}}, p), "cancelled")

    reg_msgid2, body = h.body("2201", registration, p)
    mdtrt_id = h.post(body).json()["output"]["data"]["mdtrt_id"]
    line = dict(mdtrt_id=mdtrt_id, psn_no=p.psn_no, chrg_bchno="B1", fee_ocur_time=begntime, med_list_codg=CONSULT,
                det_item_fee_sumamt="25.00", cnt="1", pric="25")
    kept = h.ok("2204", {"feedetail": [dict(line, feedetl_sn="1")]}, p)
    upload = {"feedetail": [dict(line, feedetl_sn="2", med_list_codg=CT, det_item_fee_sumamt="400.00", pric="400"),
                            dict(line, feedetl_sn="3")]}
    upload_msgid, body = h.body("2204", upload, p)
    assert h.post(body).json()["infcode"] == 0
    undone = h.ok("2601", _correction(p, upload_msgid, "2204"), p)["data"]
    assert undone["result"] == "1" and undone["memo"].startswith("2 fee line(s)")

    def line_status() -> dict[str, list[str]]:
        with db.sessions() as s:
            out: dict[str, list[str]] = {}
            for f in s.scalars(select(m.FeeLine).where(m.FeeLine.mdtrt_id == mdtrt_id).order_by(m.FeeLine.id)):
                out.setdefault(f.feedetl_sn, []).append(f.status)
            return out

    assert line_status() == {"1": ["active"], "2": ["withdrawn"], "3": ["withdrawn"]}
    assert kept["result"][0]["feedetl_sn"] == "1"
    assert_refused(h.call("2207", h.settle_input(p, mdtrt_id, "450.00"), p), "medfee_sumamt 450.00", "(25.00)")
    # The HIS uploads the lines again, and — unsure whether its 2601 arrived — sends the 2601
    # once more: the lines now active belong to the later upload and stay.
    h.ok("2204", upload, p)
    again = h.ok("2601", _correction(p, upload_msgid, "2204"), p)["data"]
    assert again["result"] in ("0", "1")
    assert line_status() == {"1": ["active"], "2": ["withdrawn", "active"], "3": ["withdrawn", "active"]}, \
        "the second 2601 withdrew the lines of the later upload"
    settled = h.ok("2207", h.settle_input(p, mdtrt_id, "450.00"), p)
    assert settled["setlinfo"]["medfee_sumamt"] == "450.00"
    # a settled visit is not cancelled by a 2601 of its 2201
    before = counts(db)
    assert_refused(h.call("2601", _correction(p, reg_msgid2, "2201"), p), f"mdtrt_id {mdtrt_id} has settlement", "undo that first")
    assert counts(db) == before
