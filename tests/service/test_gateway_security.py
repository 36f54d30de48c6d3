"""Who may call: signed headers, nonces, clock skew, an institution's own visits only,
sign-in first; and the audit log: written for every change, masked, append-only."""

from __future__ import annotations

import json
import time

import pytest
from gateway_helpers import (
    CONSULT, CT, HZ_CENTRE, HZ_HOSPITAL, JX_HOSPITAL, Hospital, account_balance, assert_refused, counts, msgids,
    new_person,
)
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from yibao.service.auth import bearer, signature
from yibao.service.client import HisClient
from yibao.service.db import models as m


def _settled_visit(h: Hospital, p, begntime: str = "2026-03-10 09:00:00"):  # noqa: ANN001
    mdtrt_id = h.register(p, begntime)
    h.visit_info(p, mdtrt_id, begntime)
    h.upload(p, mdtrt_id, [dict(sn=1, code=CONSULT, cnt=1, pric="25", when=begntime),
                           dict(sn=2, code=CT, cnt=1, pric="400", when=begntime)])
    return mdtrt_id, h.ok("2207", h.settle_input(p, mdtrt_id, "425.00"), p)


def test_who_may_call(client, app, database_url):
    """Signed headers or a bearer token of the institution itself, within the clock skew,
    each nonce once, and a sign-in (9001) before any other transaction."""
    db = app.state.service.db
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou")
    registration = {"data": {"psn_no": p.psn_no, "insutype": "310", "begntime": "2026-03-10 09:00:00", "mdtrt_cert_type": "02",
                             "mdtrt_cert_no": p.certno, "ipt_otp_no": "MZ1"}}
    now = int(time.time())

    def refused(headers: dict, *words: str) -> None:
        _, body = h.body("2201", registration, p)
        before = counts(db)
        answer = h.post(body, {"content-type": "application/json", **headers})
        assert answer.status_code == 401, (answer.status_code, answer.json())
        assert_refused(answer.json(), *words)
        assert counts(db) == before

    refused({}, "authentication required")
    good = h.headers()
    refused({**good, "x-tif-signature": "0" * 64}, "x-tif-signature does not match")
    signed_by_another = signature(JX_HOSPITAL[1], good["x-tif-timestamp"], good["x-tif-nonce"])
    refused({**good, "x-tif-signature": signed_by_another}, "does not match")
    refused({**h.headers(), "x-tif-paasid": "H99999999999"}, "unknown or inactive x-tif-paasid")
    refused({k: v for k, v in h.headers().items() if k != "x-tif-nonce"}, "x-tif-nonce")
    refused(h.headers(now=now - 3600), "x-tif-timestamp is not within 300 s")
    refused(h.headers(now=now + 3600), "x-tif-timestamp is not within 300 s")
    refused(h.headers(now=now - 301), "x-tif-timestamp")
    refused(bearer(h.code, "not-the-secret"), "invalid bearer token")
    # inside the skew, and as a bearer token, the same request is answered
    assert h.post(h.body("2201", registration, p)[1], h.headers(now=now - 200)).json()["infcode"] == 0
    ok = h.post(h.body("2201", registration, p)[1], {"content-type": "application/json", **bearer(h.code, h.secret)})
    assert ok.status_code == 200 and ok.json()["infcode"] == 0

    # a credential acts only for its own institution
    centre_code, _, centre_admdvs = HZ_CENTRE
    # the hospital's credential, sending the centre's fixmedins_code (and a msgid of the centre)
    impostor = HisClient(client, institution_code=centre_code, paasid=h.code, secret=h.secret, admdvs=centre_admdvs)
    impostor.msgids = msgids(centre_code)
    before = counts(db)
    for infno, input_ in [("9001", {"signIn": {"opter_no": "1"}}), ("2201", registration)]:
        msgid, body, headers = impostor.request(infno, input_, insuplc_admdvs=p.insuplc_admdvs)
        answer = client.post("/fsi/api/rsfComIfsService/callService", content=body, headers=headers)
        assert answer.status_code == 403
        assert_refused(answer.json(), f"caller {h.code} may not act for institution {centre_code}")
    # agency staff do not call the national interface as an institution either
    msgid, body, _ = impostor.request("5206", {"data": {"psn_no": p.psn_no}})
    staff = client.post("/fsi/api/rsfComIfsService/callService", content=body,
                        headers={"content-type": "application/json", **bearer("agency", "demo-secret-agency")})
    assert staff.status_code == 403
    assert counts(db) == before

    # a nonce is used once: the exact same headers again are refused
    _, body = h.body("2201", registration, p)
    headers = h.headers()
    first = h.post(body, headers)
    assert first.status_code == 200 and first.json()["infcode"] == 0
    before = counts(db)
    second = h.post(body, headers)  # exactly the same headers and body
    assert second.status_code == 401
    assert_refused(second.json(), "x-tif-nonce was already used")
    third = h.post(h.body("5206", {"data": {"psn_no": p.psn_no}}, p)[1], headers)  # the same headers on another message
    assert third.status_code == 401
    assert counts(db) == before

    # every transaction but 9001 needs a sign-in of the same institution
    h = Hospital(client, HZ_HOSPITAL, sign_in=False)
    other_sign_no = Hospital(client, JX_HOSPITAL).his.sign_no
    before = counts(db)
    assert_refused(h.call("2201", registration, p), "sign_no", "9001")
    assert_refused(h.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": p.certno}}), "sign_no")
    h.his.sign_no = "2026031000000000000000000000ab"
    assert_refused(h.call("2201", registration, p), "sign_no")
    h.his.sign_no = other_sign_no  # another institution's sign-in
    assert_refused(h.call("2201", registration, p), "not a sign-in of this institution")
    assert {k: v for k, v in counts(db).items() if k not in ("sign_ins", "audit_log")} == \
        {k: v for k, v in before.items() if k not in ("sign_ins", "audit_log")}
    h.his.sign_in()
    assert h.call("2201", registration, p)["infcode"] == 0


def test_the_nonce_of_a_refused_request_is_spent_too(client, app, database_url):
    """docs/service/gateway.md: "A used nonce is refused (401), also when the transaction it
    came with was refused" — else headers seen on a refused call could carry any body (the
    body is not signed) within the clock skew."""
    db = app.state.service.db
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou")
    registration = {"data": {"psn_no": p.psn_no, "insutype": "310", "begntime": "2026-03-10 09:00:00", "mdtrt_cert_type": "02",
                             "mdtrt_cert_no": p.certno, "ipt_otp_no": "MZ1"}}
    for refused_body, status in [(h.body("2201", {"data": {"psn_no": "00000000000000"}}, p)[1], 200),
                                 (h.body("9999", {}, p)[1], 200),
                                 (Hospital(client, HZ_CENTRE).body("5206", {"data": {"psn_no": p.psn_no}}, p)[1], 403)]:
        headers = h.headers()
        refused = h.post(refused_body, headers)
        assert refused.status_code == status and refused.json()["infcode"] == -1
        before = counts(db)
        reused = h.post(h.body("2201", registration, p)[1], headers)  # the same headers carrying another body
        assert reused.status_code == 401, f"the nonce of a refused request opened a visit: {reused.json()}"
        assert_refused(reused.json(), "x-tif-nonce was already used")
        assert counts(db) == before


def test_an_institution_cannot_touch_another_institutions_visits(client, app, database_url):
    db = app.state.service.db
    a, b = Hospital(client, HZ_HOSPITAL), Hospital(client, JX_HOSPITAL)
    p = new_person(database_url, "hangzhou", account=("300.00", "700.00"))
    mdtrt_id, settled = _settled_visit(a, p)
    setl_id = settled["setlinfo"]["setl_id"]
    open_visit = a.register(p, "2026-03-11 09:00:00")
    a.upload(p, open_visit, [dict(sn=1, code=CONSULT, cnt=1, pric="25", when="2026-03-11 09:00:00")])
    settle_msgid = a.his.msgids.next()
    second_setl = a.ok("2207", a.settle_input(p, open_visit, "25.00"), p, msgid=settle_msgid)["setlinfo"]["setl_id"]
    a.ok("2208", {"data": {"psn_no": p.psn_no, "mdtrt_id": open_visit, "setl_id": second_setl}}, p)  # open again
    b.now = a.now
    before, balance = counts(db), account_balance(db, p.psn_no)

    def not_a_visit(infno: str, input_: dict, visit: str = mdtrt_id) -> None:
        assert_refused(b.call(infno, input_, p), f"mdtrt_id {visit} is not a visit of institution {b.code}")

    not_a_visit("2206", b.settle_input(p, mdtrt_id, "425.00"))
    not_a_visit("2207", b.settle_input(p, mdtrt_id, "425.00"))
    not_a_visit("2208", {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id, "setl_id": setl_id}})
    not_a_visit("2203", {"mdtrtinfo": {"mdtrt_id": open_visit, "psn_no": p.psn_no, "med_type": "11"}}, open_visit)
    line = dict(feedetl_sn="9", mdtrt_id=open_visit, psn_no=p.psn_no, fee_ocur_time="2026-03-11 09:00:00", med_list_codg=CONSULT,
                det_item_fee_sumamt="25.00", cnt="1", pric="25")
    not_a_visit("2204", {"feedetail": [line]}, open_visit)
    not_a_visit("2207", b.settle_input(p, open_visit, "25.00"), open_visit)
    not_a_visit("2205", {"data": {"mdtrt_id": open_visit, "psn_no": p.psn_no, "chrg_bchno": "0000"}}, open_visit)
    not_a_visit("2202", {"data": {"mdtrt_id": open_visit, "psn_no": p.psn_no}}, open_visit)
    not_a_visit("2402", {"dscginfo": {"mdtrt_id": open_visit, "psn_no": p.psn_no, "endtime": "2026-03-12 09:00:00"}}, open_visit)
    assert_refused(b.call("5203", {"data": {"psn_no": p.psn_no, "setl_id": setl_id}}, p),
                   f"setl_id {setl_id} is not a settlement of institution {b.code}")
    assert_refused(b.call("5203", {"data": {"psn_no": p.psn_no, "setl_id": second_setl, "mdtrt_id": open_visit}}, p),
                   f"setl_id {second_setl} is not a settlement of institution {b.code}")
    assert_refused(b.call("5206", {"data": {"psn_no": p.psn_no, "cum_ym": "202603"}}, p), f"no visit at institution {b.code}")
    assert_refused(b.call("2601", {"data": {"psn_no": p.psn_no, "omsgid": settle_msgid, "oinfno": "2207"}}, p),
                   f"is not a message of institution {b.code}")
    assert counts(db) == before and account_balance(db, p.psn_no) == balance
    statement = {"insutype": "310", "clr_type": "11", "stmt_begndate": "2026-03-01", "stmt_enddate": "2026-03-31",
                 "medfee_sumamt": "0", "fund_pay_sumamt": "0", "acct_pay": "0", "fixmedins_setl_cnt": 0}
    assert b.ok("3201", {"data": statement}, p)["stmtinfo"]["stmt_rslt"] == "0"  # A's settlements are not in B's totals


def test_changes_are_audited_without_names_or_certificate_numbers_and_never_changed(client, app, database_url):
    db = app.state.service.db
    h = Hospital(client, HZ_HOSPITAL)
    p = new_person(database_url, "hangzhou", name="欧阳晓岚", certno="33010619900101734X", account=("300.00", "700.00"))
    with db.sessions() as s:
        already = set(s.scalars(select(m.AuditRecord.request_id)))
    writes: dict[str, str] = {}

    def call(infno: str, input_: dict) -> dict:
        msgid = h.his.msgids.next()
        out = h.ok(infno, input_, p, msgid=msgid)
        writes[msgid] = infno
        return out

    begntime = "2026-03-10 09:00:00"
    h.now = None
    registration = {"psn_no": p.psn_no, "insutype": "310", "begntime": begntime, "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": p.certno, "ipt_otp_no": "MZ1", "psn_name": p.name, "certno": p.certno}
    mdtrt_id = call("2201", {"data": registration})["data"]["mdtrt_id"]
    call("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "med_type": "11", "psn_name": p.name}})
    line = dict(mdtrt_id=mdtrt_id, psn_no=p.psn_no, chrg_bchno="B1", fee_ocur_time=begntime, med_list_codg=CT,
                det_item_fee_sumamt="400.00", cnt="1", pric="400")
    call("2204", {"feedetail": [dict(line, feedetl_sn="1")]})
    call("2204", {"feedetail": [dict(line, feedetl_sn="2", chrg_bchno="B2")]})
    call("2205", {"data": {"mdtrt_id": mdtrt_id, "psn_no": p.psn_no, "chrg_bchno": "B2"}})
    settle = h.settle_input(p, mdtrt_id, "400.00")
    settle["data"]["psn_name"] = p.name
    settled = call("2207", settle)
    call("2208", {"data": {"psn_no": p.psn_no, "mdtrt_id": mdtrt_id, "setl_id": settled["setlinfo"]["setl_id"]}})
    call("2601", {"data": {"psn_no": p.psn_no, "omsgid": h.his.msgids.next(), "oinfno": "2207"}})
    reads = []
    for infno, input_ in [("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": p.certno}}),
                          ("2206", h.settle_input(p, mdtrt_id, "400.00")),
                          ("5206", {"data": {"psn_no": p.psn_no}}),
                          ("5203", {"data": {"psn_no": p.psn_no, "setl_id": settled["setlinfo"]["setl_id"]}})]:
        msgid = h.his.msgids.next()
        h.ok(infno, input_, p, msgid=msgid)
        reads.append(msgid)

    with db.sessions() as s:
        rows = [r for r in s.scalars(select(m.AuditRecord).order_by(m.AuditRecord.id)) if r.request_id not in already]
    by_request: dict[str, list] = {}
    for r in rows:
        by_request.setdefault(r.request_id, []).append(r)
    for msgid, infno in writes.items():
        assert msgid in by_request, f"no audit row for {infno} {msgid}"
        for r in by_request[msgid]:
            assert (r.actor, r.role) == (h.code, "institution")
            assert r.action.startswith(infno), r.action
            assert r.detail["msgid"] == msgid
    assert not set(reads) & set(by_request), "a read-only transaction wrote an audit row"
    assert {r.action for r in rows} >= {"2201 register", "2203 visit information", "2204 upload fee lines", "2205 withdraw fee lines",
                                        "2207 settle", "2208 reverse"}
    settle_row = next(r for r in rows if r.action == "2207 settle")
    assert settle_row.entity_id == settled["setlinfo"]["setl_id"] and settle_row.detail["medfee_sumamt"] == "400.00"
    for r in rows:
        everything = json.dumps([r.request_id, r.actor, r.action, r.entity, r.entity_id, r.detail], ensure_ascii=False)
        assert p.certno not in everything and p.name not in everything, everything
        assert p.certno[6:14] not in everything and p.certno[-6:] not in everything  # nor a telling part of it
        assert p.name[1:] not in everything

    # the audit log is append-only on both engines
    def audit_rows() -> list:
        with db.sessions() as s:
            return [(r.id, r.at, r.actor, r.action, r.entity_id, json.dumps(r.detail, sort_keys=True))
                    for r in s.scalars(select(m.AuditRecord).order_by(m.AuditRecord.id))]

    before = audit_rows()
    assert before
    for statement in ("UPDATE audit_log SET actor = 'someone else'",
                      "UPDATE audit_log SET action = 'x' WHERE id = (SELECT min(id) FROM audit_log)",
                      "DELETE FROM audit_log",
                      "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)"):
        with pytest.raises(DBAPIError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text(statement))
        assert audit_rows() == before, statement
