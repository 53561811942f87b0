# SPDX-License-Identifier: MIT
# A customer's data request and erasure (PIPL, issue 20), on SQLite and PostgreSQL: the export
# ZIP's files and contents exactly (a message's text, a media file's bytes as uploaded); the
# erasure refused under a legal hold with its exact body, then done: the customer is a
# tombstone, its timeline empty, search finds none of its messages, its recording answers 404
# while a picture another customer's message shares stays, the CSV export shows it erased,
# an old event re-sent by the phone is not stored again, the other customer is untouched, the
# audit rows hold counts and no data and the chain verifies; on SQLite the raw store files no
# longer hold the phone number or the message's text. Admins only (403 for a manager and a
# salesperson).
import hashlib
import io
import json
import os
import sys
import urllib.parse
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PASSWORD, T0, Server, check, created, enroll, err_code,  # noqa: E402
                     login, run_backends)

TS = "2026-11-20T02:00:00Z"
PHONE = "13912345678"
SECRET = "卡尔的独有内容QZX7731"


def store_bytes(store):
    data = b""
    for suffix in ("", "-wal"):
        p = os.path.join(store.data, "workphone.db" + suffix)
        if os.path.exists(p):
            with open(p, "rb") as f:
                data += f.read()
    return data


def suite(store):
    be = store.backend
    srv = Server(store.data, store.db_args)
    admin = login(srv, "admin")
    st, j, _ = srv.req("GET", "/api/v1/org-units", admin)
    top = j["items"][0]["id"]

    def person(name, role, user):
        return created(srv, admin, "/api/v1/employees",
                       {"name": name, "org_unit_id": top, "role": role, "username": user,
                        "password": PASSWORD}, name)["id"]

    amy = person("Amy", "sales", "amy")
    person("Mia", "manager", "mia")
    token = enroll(srv, admin, amy, "SN-A")
    seq = [0]

    def send(e):
        seq[0] += 1
        e = dict(e, seq=seq[0], ts=TS)
        st, j, _ = srv.req("POST", "/api/v1/device/events", token, body={"events": [e]})
        check(st == 200 and j.get("acked_seq") == seq[0] and j.get("rejected") == [],
              "%s: events: %s %s" % (be, st, j))
        return e

    def upload(data):
        ref = "sha256:" + hashlib.sha256(data).hexdigest()
        st, j, _ = srv.req("PUT", "/api/v1/device/media/" + ref, token, raw=data,
                           headers={"Content-Type": "application/octet-stream"})
        check(st == 201, "%s: upload: %s %s" % (be, st, j))
        return ref

    pic_bytes, rec_bytes = b"\xff\xd8\xff\xe0shared picture", b"RIFFcarl's recording"
    pic, rec = upload(pic_bytes), upload(rec_bytes)
    sms = {"type": "message", "channel": "sms", "direction": "in", "peer": {"phone": PHONE},
           "chat": PHONE}
    first = send(dict(sms, msgtype="text", text=SECRET))
    send(dict(sms, msgtype="image", media=pic, filename="a.jpg", size=len(pic_bytes)))
    send({"type": "call", "direction": "out", "peer": {"phone": PHONE}, "duration_s": 30,
          "recording": rec})
    wx = {"type": "message", "channel": "wechat", "direction": "out", "chat": "wx_dora",
          "peer": {"id": "wx_dora", "name": "wx_dora"}}
    send(dict(wx, msgtype="text", text="多拉的消息留着"))
    send(dict(wx, msgtype="image", media=pic, filename="b.jpg", size=len(pic_bytes)))

    st, j, _ = srv.req("GET", "/api/v1/customers?limit=200", admin)
    check(st == 200 and len(j["items"]) == 2, "%s: two customers: %s" % (be, j))
    carl = next((c["id"] for c in j["items"] if c["phone"] == PHONE), None)
    dora = next((c["id"] for c in j["items"] if c["name"] == "wx_dora"), None)
    check(carl and dora and all(c["erased_at"] is None for c in j["items"]),
          "%s: Carl has the phone, Dora the WeChat id: %s" % (be, j))

    def found(q):
        st, j, _ = srv.req("GET", "/api/v1/messages?q=" + urllib.parse.quote(q), admin)
        return len(j.get("items", [])) if st == 200 else -1

    def media(ref):
        return srv.raw("GET", "/api/v1/media/" + ref, admin)[0]

    check(found("独有内容") == 1 and media(rec) == 200 and media(pic) == 200,
          "%s: before: searchable, media readable" % be)
    if be == "sqlite":
        raw = store_bytes(store)
        # with a master key (WORKPHONE_TEST_SEALED: cli-pipl-sealed) the text is sealed
        sealed = bool(os.environ.get("WORKPHONE_TEST_SEALED"))
        check(PHONE.encode() in raw and (SECRET.encode() in raw) != sealed,
              "%s: before: the store file holds the phone and the text (sealed: %s)" %
              (be, sealed))

    # (searches are audited with what was typed: "独有内容" stays in the audit log, by design;
    # the raw-file checks below look for the rest of the text)
    # --- the data request ----------------------------------------------------------------
    for user in ("mia", "amy"):
        tok = login(srv, user)
        for path, body in [("/data-export", None),
                           ("/erase", {"confirm": carl, "reason": "客户要求"})]:
            st, j, _ = srv.req("POST", "/api/v1/customers/" + carl + path, tok, body=body)
            check(st == 403 and err_code(j) == "forbidden",
                  "%s: %s %s: 403: %s %s" % (be, user, path, st, j))
    st, j, _ = srv.req("POST", "/api/v1/customers/" + "0" * 24 + "/data-export", admin)
    check(st == 404 and err_code(j) == "not_found", "%s: export unknown: %s %s" % (be, st, j))

    st, data, h = srv.raw("POST", "/api/v1/customers/%s/data-export" % carl, admin)
    check(st == 200 and h.get("Content-Type") == "application/zip" and
          h.get("Content-Disposition") == 'attachment; filename="customer-%s-20261127.zip"' % carl,
          "%s: export: %s %s %s" % (be, st, data[:300], dict(h)))
    z = zipfile.ZipFile(io.BytesIO(data))
    check(sorted(z.namelist()) == sorted(["summary.html", "customer.json", "messages.json",
                                          "calls.json", "media/" + pic[7:], "media/" + rec[7:]]),
          "%s: the zip's files: %s" % (be, z.namelist()))
    cj = json.loads(z.read("customer.json"))
    mj = json.loads(z.read("messages.json"))
    calls = json.loads(z.read("calls.json"))["calls"]
    html = z.read("summary.html").decode()
    check(cj["customer"]["id"] == carl and cj["customer"]["phone"] == PHONE and
          cj["customer"]["erased_at"] is None and cj["made_at"] == T0 and
          cj["identities"] == [{"kind": "phone", "value": PHONE, "created_at": T0}] and
          sorted(cj["media_files"]) == sorted(["media/" + pic[7:], "media/" + rec[7:]]),
          "%s: customer.json: %s" % (be, cj))
    check([m["text"] for m in mj["messages"]] == [SECRET, None] and
          mj["messages"][1]["media"] == pic and mj["messages"][0]["at"] == TS and
          mj["messages"][0]["peer_phone"] == PHONE and mj["alerts"] == [],
          "%s: messages.json: %s" % (be, mj))
    check(len(calls) == 1 and calls[0]["recording"] == rec and calls[0]["duration_s"] == 30,
          "%s: calls.json: %s" % (be, calls))
    check(z.read("media/" + pic[7:]) == pic_bytes and z.read("media/" + rec[7:]) == rec_bytes,
          "%s: the media bytes are the uploads" % be)
    check("<h1>个人信息副本 / Personal data copy</h1>" in html and SECRET in html and
          "<tr><th>消息 / Messages</th><td>2</td></tr>" in html and
          "<tr><th>通话 / Calls</th><td>1</td></tr>" in html and
          "<tr><th>媒体文件 / Media files</th><td>2</td></tr>" in html,
          "%s: summary.html: %s" % (be, html[:2000]))
    st, j, _ = srv.req("GET", "/api/v1/audit?action=customer.data_export&limit=10", admin)
    check(st == 200 and len(j["items"]) == 1 and j["items"][0]["target"] == "customer:" + carl and
          j["items"][0]["details"] == {"messages": 2, "calls": 1, "alerts": 0,
                                       "history": len(cj["history"]), "media": 2,
                                       "bytes": len(data)},
          "%s: the export's audit row: %s" % (be, j))

    # --- erasure: refused while held, bad bodies ------------------------------------------
    hold = created(srv, admin, "/api/v1/legal-holds",
                   {"name": "投诉", "reason": "保全", "employee_ids": [amy]}, "hold")
    st, j, _ = srv.req("POST", "/api/v1/customers/%s/erase" % carl, admin,
                       body={"confirm": carl, "reason": "客户要求删除"})
    check(st == 409 and j == {"error": {
        "code": "legal_hold",
        "message": "customer '%s' is under legal hold '%s': lift the hold first" % (carl,
                                                                                   hold["id"]),
        "details": {"hold_id": hold["id"]}}}, "%s: held: %s %s" % (be, st, j))
    st, j, _ = srv.req("DELETE", "/api/v1/legal-holds/" + hold["id"], admin,
                       body={"reason": "结案"})
    check(st == 200, "%s: lift: %s %s" % (be, st, j))
    for body, word in [({"reason": "x"}, "'confirm' is required"),
                       ({"confirm": dora, "reason": "x"}, "'confirm' must be the customer's id"),
                       ({"confirm": carl}, "'reason' is required"),
                       ({"confirm": carl, "reason": ""}, "'reason' must be 1-500 characters"),
                       ({"confirm": carl, "reason": "x", "y": 1}, "'y'")]:
        st, j, _ = srv.req("POST", "/api/v1/customers/%s/erase" % carl, admin, body=body)
        check(st == 400 and err_code(j) == "invalid_request" and word in j["error"]["message"],
              "%s: erase %s: 400 naming %s: %s %s" % (be, body, word, st, j))
    st, j, _ = srv.req("POST", "/api/v1/customers/%s/erase" % ("0" * 24), admin,
                       body={"confirm": "0" * 24, "reason": "x"})
    check(st == 404 and err_code(j) == "not_found", "%s: erase unknown: %s %s" % (be, st, j))

    # --- erasure ----------------------------------------------------------------------
    st, j, _ = srv.req("POST", "/api/v1/customers/%s/erase" % carl, admin,
                       body={"confirm": carl, "reason": "客户要求删除"})
    counts = {"messages": 2, "calls": 1, "alerts": 0, "media": 1,
              "history": len(cj["history"]), "contact_events": 0, "identities": 1, "tags": 0,
              "merged_records": 0}
    check(st == 200 and j == dict(counts, customer_id=carl, erased_at=T0),
          "%s: erase: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/customers/%s/erase" % carl, admin,
                       body={"confirm": carl, "reason": "again"})
    check(st == 409 and err_code(j) == "conflict" and "erased already" in j["error"]["message"],
          "%s: erase twice: %s %s" % (be, st, j))

    st, j, _ = srv.req("GET", "/api/v1/customers/" + carl, admin)
    check(st == 200 and j["erased_at"] == T0 and j["name"] == "已删除客户" and
          j["phone"] is None and j["identities"] == [] and j["company"] is None,
          "%s: the tombstone: %s %s" % (be, st, j))
    for method, path, body in [("PATCH", "", {"name": "卡尔"}),
                               ("POST", "/follow-ups", {"text": "再联系"}),
                               ("PUT", "/tags", {"tags": []}),
                               ("POST", "/assign", {"employee_id": amy})]:
        st, j, _ = srv.req(method, "/api/v1/customers/" + carl + path, admin, body=body)
        check(st == 409 and j == {"error": {
            "code": "conflict", "message": "customer '%s' is erased: its record cannot change" %
            carl, "details": {}}}, "%s: %s %s on the tombstone: 409: %s %s" % (be, method, path,
                                                                              st, j))
    st, j, _ = srv.req("GET", "/api/v1/customers/%s/timeline?limit=200" % carl, admin)
    check(st == 200 and j["items"] == [], "%s: the timeline is empty: %s %s" % (be, st, j))
    check(found("独有内容") == 0 and found("多拉的消息") == 1,
          "%s: search finds none of Carl's, Dora's still" % be)
    check(media(rec) == 404 and media(pic) == 200,
          "%s: the recording is gone, the picture Dora's message names stays" % be)
    h = rec[7:]
    check(not os.path.exists(os.path.join(store.data, "media", h[:2], h[2:4], h)),
          "%s: the recording's file is unlinked" % be)
    st, csv, _ = srv.req("GET", "/api/v1/customers/export?format=csv", admin)
    check(st == 200 and "已删除客户" in csv and PHONE not in csv and "wx_dora" in csv,
          "%s: the customer export shows it erased: %s" % (be, csv))
    st, j, _ = srv.req("GET", "/api/v1/customers?limit=200", admin)
    check(st == 200 and sorted((c["name"], c["erased_at"]) for c in j["items"]) ==
          [("wx_dora", None), ("已删除客户", T0)], "%s: the list: %s" % (be, j))
    st, j, _ = srv.req("GET", "/api/v1/messages?limit=200", admin)
    check(st == 200 and sorted(m.get("text") or m["msgtype"] for m in j["items"]) ==
          ["image", "多拉的消息留着"], "%s: Dora's messages are untouched: %s" % (be, j))

    # the phone sends an old event again: acked as sent before, not stored again
    st, j, _ = srv.req("POST", "/api/v1/device/events", token, body={"events": [first]})
    check(st == 200 and j.get("acked_seq") == seq[0], "%s: resend: %s %s" % (be, st, j))
    check(found("独有内容") == 0 and int(store.sql("SELECT COUNT(*) FROM messages")) == 2 and
          int(store.sql("SELECT COUNT(*) FROM customers")) == 2,
          "%s: the old event was not stored again, no customer made" % be)

    st, j, _ = srv.req("GET", "/api/v1/audit?action=customer.erase&limit=10", admin)
    check(st == 200 and len(j["items"]) == 1 and j["items"][0]["target"] == "customer:" + carl and
          j["items"][0]["details"] == dict(counts, reason="客户要求删除"),
          "%s: the erasure's audit row: %s" % (be, j))
    st, j, _ = srv.req("GET", "/api/v1/audit/verify", admin)
    check(st == 200 and j.get("ok") is True, "%s: the audit chain verifies: %s" % (be, j))
    if be == "sqlite":
        raw = store_bytes(store)
        check(PHONE.encode() not in raw and SECRET.encode() not in raw and
              b"QZX7731" not in raw,
              "%s: the store files hold neither the phone nor the text: %s" % (be, [
                  raw[max(0, i - 300):i + 40] for i in
                  (raw.find(PHONE.encode()), raw.find(b"QZX7731")) if i >= 0]))
        r = store.sql("INSERT INTO message_fts (message_fts) VALUES ('integrity-check');"
                      " SELECT 'ok';")
        check(r == "ok", "%s: the search index is whole: %s" % (be, r))
    srv.stop()


if __name__ == "__main__":
    sys.exit(run_backends(suite, "pipl"))
