# SPDX-License-Identifier: MIT
# Notice and consent, and what employees see about themselves (issue 20), on SQLite and
# PostgreSQL: a manager reads a salesperson's conversation, unmasks a customer's phone and
# searches (finding one of the salesperson's messages), and the salesperson's /me/viewers lists
# exactly those three, with the manager's name, role and the audit log's times; nobody else
# sees them. Consent records with exact bodies and their scope
# (a salesperson cannot record one for another's customer: 404), the customer list's filter and
# the detail's summary; the enrollment notice an admin sets arrives in the enrollment answer and
# the device policy (with the automatic first message), and the phone's acknowledgement shows on
# the employee's privacy page.
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PASSWORD, T0, Server, check, created, enroll, err_code,  # noqa: E402
                     login, run_backends)


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
    bob = person("Bob", "sales", "bob")
    mia = person("Mia", "manager", "mia")

    # --- the notice: the default, then the admin's text, in the enrollment and the policy -----
    st, j, _ = srv.req("GET", "/api/v1/notice", admin)
    check(st == 200 and j["version"] == 0 and "我的隐私" in j["text"] and
          j["auto_message"] is None and j["updated_at"] is None,
          "%s: default notice: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/employees/%s/enrollment-codes" % amy, admin, body={})
    st, j, _ = srv.req("POST", "/api/v1/device/enroll",
                       body={"code": j["code"], "serial": "SN-A", "model": "test"})
    check(st == 201 and j["notice"]["version"] == 0 and "我的隐私" in j["notice"]["text"],
          "%s: enrollment carries the default notice: %s %s" % (be, st, j))
    amy_dev = j["token"]
    bob_dev = enroll(srv, admin, bob, "SN-B")
    text = "本机的聊天与录音会被记录，保存180天。"
    auto = "您好，为保障服务质量，本对话将被记录。"
    mia_tok = login(srv, "mia")
    st, j, _ = srv.req("PUT", "/api/v1/notice", mia_tok, body={"text": "x"})
    check(st == 403, "%s: a manager sets no notice: %s %s" % (be, st, j))
    for body, word in [({"text": ""}, "text"), ({"text": "长" * 2001}, "text"),
                       ({"text": None}, "text"), ({"auto_message": "长" * 501}, "auto_message"),
                       ({"txt": "x"}, "txt"), ({"text": 5}, "text")]:
        st, j, _ = srv.req("PUT", "/api/v1/notice", admin, body=body)
        check(st == 400 and err_code(j) == "invalid_request" and word in j["error"]["message"],
              "%s: PUT notice %s: 400 naming %s: %s %s" % (be, str(body)[:40], word, st, j))
    st, j, _ = srv.req("GET", "/api/v1/device/policy", amy_dev)
    etag = _["ETag"] if _ else None
    check(st == 200 and j["notice"]["version"] == 0 and j["settings"]["auto_message"] is None,
          "%s: policy before: %s %s" % (be, st, j.get("notice")))
    st, j, _ = srv.req("PUT", "/api/v1/notice", admin, body={"text": text, "auto_message": auto})
    check(st == 200 and j == {"text": text, "version": 1, "auto_message": auto,
                              "updated_at": T0},
          "%s: PUT notice: %s %s" % (be, st, j))
    st, j, h = srv.req("GET", "/api/v1/device/policy", amy_dev, headers={"If-None-Match": etag})
    check(st == 200 and j["notice"] == {"text": text, "version": 1} and
          j["settings"]["auto_message"] == auto and h["ETag"] != etag,
          "%s: the policy carries the new notice under a new ETag: %s %s" % (be, st, j))
    # the same text again moves no version; the automatic message can be cleared
    st, j, _ = srv.req("PUT", "/api/v1/notice", admin, body={"text": text})
    check(st == 200 and j["version"] == 1 and j["auto_message"] == auto,
          "%s: same text: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/audit?action=notice.put", admin)
    check(st == 200 and len(j["items"]) == 2 and
          j["items"][1]["details"] == {"text": text, "version": 1, "auto_message": auto,
                                       "updated_at": T0},
          "%s: notice.put audited: %s" % (be, j.get("items")))

    # the phone records that Amy read it
    for v, want in [(2, 400), (-1, 400), ("1", 400)]:
        st, j, _ = srv.req("POST", "/api/v1/device/notice-ack", amy_dev, body={"version": v})
        check(st == want, "%s: ack %r: %s %s" % (be, v, st, j))
    st, j, _ = srv.req("POST", "/api/v1/device/notice-ack", amy_dev, body={"version": 1})
    check(st == 201 and j == {"version": 1, "acknowledged_at": T0, "created": True},
          "%s: ack: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/device/notice-ack", amy_dev, body={"version": 1})
    check(st == 200 and j == {"version": 1, "acknowledged_at": T0, "created": False},
          "%s: ack again: %s %s" % (be, st, j))

    # admins see it employee by employee
    st, j, _ = srv.req("GET", "/api/v1/notice/acks", admin)
    acks = {i["name"]: (i["acknowledged_version"], i["acknowledged_at"]) for i in j["items"]}
    check(st == 200 and acks == {"admin": (None, None), "Amy": (1, T0), "Bob": (None, None),
                                 "Mia": (None, None)} and j["next_cursor"] is None,
          "%s: acks per employee: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/notice/acks?limit=2", admin)
    st2, j2, _ = srv.req("GET", "/api/v1/notice/acks?limit=2&cursor=" + str(j.get("next_cursor")),
                         admin)
    check(st == 200 and st2 == 200 and len(j["items"]) == 2 and len(j2["items"]) == 2 and
          j2["next_cursor"] is None and
          sorted(i["employee_id"] for i in j["items"] + j2["items"]) ==
          sorted([amy, bob, mia, j["items"][0]["employee_id"] if j["items"][0]["name"] == "admin"
                  else next(i["employee_id"] for i in j2["items"] if i["name"] == "admin")]),
          "%s: acks paged: %s %s" % (be, j, j2))
    st, j, _ = srv.req("GET", "/api/v1/notice/acks", mia_tok)
    check(st == 403, "%s: a manager does not list acks: %s" % (be, st))
    st, j, _ = srv.req("GET", "/api/v1/notice/acks?cursor=zz", admin)
    check(st == 400, "%s: bad cursor: %s %s" % (be, st, j))

    # --- a conversation of Amy's, read and unmasked by her manager ----------------------------
    ev = {"seq": 1, "type": "message", "ts": "2026-11-27T07:00:00Z", "channel": "wechat",
          "direction": "out", "peer": {"id": "wx_carl", "name": "Carl", "phone": "13800138000"},
          "chat": "wx_carl", "msgtype": "text", "text": "您好，明天见"}
    st, j, _ = srv.req("POST", "/api/v1/device/events", amy_dev, body={"events": [ev]})
    check(st == 200 and j.get("rejected") == [], "%s: events: %s %s" % (be, st, j))
    ev2 = dict(ev, seq=1, peer={"id": "wx_dan", "name": "Dan"}, chat="wx_dan", text="鲍勃的")
    st, j, _ = srv.req("POST", "/api/v1/device/events", bob_dev, body={"events": [ev2]})
    check(st == 200, "%s: Bob's events: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/customers", admin)
    cust = {c["name"]: c for c in j["items"]}
    carl, dan = cust["Carl"]["id"], cust["Dan"]["id"]
    check(cust["Carl"]["owner_employee_id"] == amy, "%s: Carl is Amy's: %s" % (be, cust))

    amy_tok, bob_tok = login(srv, "amy"), login(srv, "bob")
    # Amy's own reads are not views of her
    st, j, _ = srv.req("GET", "/api/v1/messages?customer=" + carl, amy_tok)
    check(st == 200 and len(j["items"]) == 1, "%s: Amy reads her own: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/me/viewers", amy_tok)
    check(st == 200 and j == {"items": [], "next_cursor": None},
          "%s: nobody viewed Amy's yet: %s %s" % (be, st, j))
    # Mia reads Carl's conversation, unmasks his phone, and reads Bob's (not Amy's business)
    st, j, _ = srv.req("GET", "/api/v1/messages?customer=" + carl, mia_tok)
    check(st == 200 and len(j["items"]) == 1, "%s: Mia reads: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/customers/%s/unmask" % carl, mia_tok, body={})
    check(st == 200 and j["phone"] == "13800138000", "%s: Mia unmasks: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/messages?customer=" + dan, mia_tok)
    check(st == 200, "%s: Mia reads Bob's: %s %s" % (be, st, j))
    # a search that shows one of Amy's messages (and none of Bob's) is a view of Amy's too
    st, j, _ = srv.req("GET", "/api/v1/messages?q=" + urllib.parse.quote("明天"), mia_tok)
    check(st == 200 and [m["customer_id"] for m in j["items"]] == [carl],
          "%s: Mia's search finds Amy's message: %s %s" % (be, st, j))

    st, j, _ = srv.req("GET", "/api/v1/audit?actor=employee:%s&limit=10" % mia, admin)
    rows = {(r["action"], r["target"]): (r["ts"], r["seq"]) for r in j["items"]}
    read_at, read_seq = rows[("messages.read", "customer:" + carl)]
    unmask_at, unmask_seq = rows[("customer.unmask", "customer:" + carl)]
    search_at, search_seq = rows[("messages.search", None)]
    st, j, _ = srv.req("GET", "/api/v1/me/viewers", amy_tok)
    views = [((unmask_at, unmask_seq),
              {"at": unmask_at, "viewer_kind": "employee", "viewer_id": mia, "name": "Mia",
               "role": "manager", "action": "customer.unmask",
               "target": {"kind": "customer", "id": carl}}),
             ((read_at, read_seq),
              {"at": read_at, "viewer_kind": "employee", "viewer_id": mia, "name": "Mia",
               "role": "manager", "action": "messages.read",
               "target": {"kind": "customer", "id": carl}}),
             ((search_at, search_seq),
              {"at": search_at, "viewer_kind": "employee", "viewer_id": mia, "name": "Mia",
               "role": "manager", "action": "messages.search", "target": None})]
    # newest first: by time, then by the log's order (reads are appended up to a second late)
    want = [v for _, v in sorted(views, key=lambda kv: kv[0], reverse=True)]
    check(st == 200 and j == {"items": want, "next_cursor": None},
          "%s: Amy sees exactly Mia's read, unmask and search: %s %s" % (be, st, j))
    # paged, newest first
    st, j, _ = srv.req("GET", "/api/v1/me/viewers?limit=1", amy_tok)
    check(st == 200 and j["items"] == want[:1] and j["next_cursor"],
          "%s: first page: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/me/viewers?limit=1&cursor=" + (j.get("next_cursor") or ""),
                       amy_tok)
    check(st == 200 and j["items"] == want[1:2] and j["next_cursor"],
          "%s: second page: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/me/viewers?limit=1&cursor=" + (j.get("next_cursor") or ""),
                       amy_tok)
    check(st == 200 and j == {"items": want[2:], "next_cursor": None},
          "%s: third page: %s %s" % (be, st, j))
    for q in ["limit=0", "limit=201", "cursor=abc"]:
        st, j, _ = srv.req("GET", "/api/v1/me/viewers?" + q, amy_tok)
        check(st == 400 and err_code(j) == "invalid_request", "%s: %s: %s %s" % (be, q, st, j))
    # Bob sees Mia's read of his own conversation only; Mia and the admin see none of Amy's
    st, j, _ = srv.req("GET", "/api/v1/me/viewers", bob_tok)
    check(st == 200 and [(i["action"], i["target"]["id"]) for i in j["items"]] ==
          [("messages.read", dan)], "%s: Bob's viewers: %s %s" % (be, st, j))
    for tok, who in [(mia_tok, "Mia"), (admin, "admin")]:
        st, j, _ = srv.req("GET", "/api/v1/me/viewers?employee=" + amy, tok)
        check(st == 200 and j == {"items": [], "next_cursor": None},
              "%s: %s learns nothing of Amy's viewers: %s %s" % (be, who, st, j))
    st, j, _ = srv.req("POST", "/api/v1/api-keys", admin, body={"name": "k", "role": "admin"})
    key = j.get("key") or j.get("token")
    st, j, _ = srv.req("GET", "/api/v1/me/viewers", key)
    check(st in (401, 403), "%s: an API key has no /me: %s %s" % (be, st, j))

    # --- what Amy's phone records, and for how long -----------------------------------------
    st, j, _ = srv.req("PUT", "/api/v1/retention", admin,
                       body={"rules": [{"kind": "channel", "name": "wechat", "days": 180},
                                       {"kind": "category", "name": "finance", "days": 1825}]})
    check(st == 200, "%s: retention: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/me/privacy", amy_tok)
    check(st == 200 and j == {
        "employee": {"id": amy, "name": "Amy", "role": "sales"},
        "channels": ["wechat", "wecom", "sms", "call", "email"], "recordings": True,
        "location": {"tracking": True, "off_duty": "drop", "working_hours_only": True},
        "retention": {"channels": [{"channel": "wechat", "days": 180},
                                   {"channel": "wecom", "days": None},
                                   {"channel": "sms", "days": None},
                                   {"channel": "call", "days": None},
                                   {"channel": "email", "days": None}],
                      "categories": [{"category": "finance", "days": 1825}]},
        "notice": {"text": text, "version": 1, "acknowledged_version": 1,
                   "acknowledged_at": T0}},
        "%s: Amy's privacy page: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/me/privacy", bob_tok)
    check(st == 200 and j["notice"]["acknowledged_version"] is None and
          j["notice"]["acknowledged_at"] is None, "%s: Bob acknowledged nothing: %s" % (be, j))

    # --- consent records ------------------------------------------------------------------
    st, j, _ = srv.req("GET", "/api/v1/customers/%s" % carl, amy_tok)
    check(st == 200 and j["consent"] == {"told": False, "method": None, "at": None},
          "%s: not told yet: %s %s" % (be, st, j.get("consent")))
    body = {"method": "verbal", "at": "2026-11-27T07:30:00Z", "note": "电话里告知并同意"}
    st, j, _ = srv.req("POST", "/api/v1/customers/%s/consents" % carl, amy_tok, body=body)
    first = j
    check(st == 201 and j == {"id": j.get("id"), "customer_id": carl, "method": "verbal",
                              "at": "2026-11-27T07:30:00Z", "by": "employee:" + amy,
                              "note": "电话里告知并同意", "evidence": None, "created_at": T0},
          "%s: Amy records: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/customers/%s/consents" % carl, bob_tok,
                       body={"method": "verbal"})
    check(st == 404 and err_code(j) == "not_found",
          "%s: Bob records none for Amy's customer: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/customers/%s/consents" % carl, bob_tok)
    check(st == 404, "%s: nor reads them: %s %s" % (be, st, j))
    ev_sha = "sha256:" + "a" * 64
    st, j, _ = srv.req("POST", "/api/v1/customers/%s/consents" % carl, mia_tok,
                       body={"method": "signed_form", "evidence": ev_sha})
    second = j
    check(st == 201 and j == {"id": j.get("id"), "customer_id": carl, "method": "signed_form",
                              "at": T0, "by": "employee:" + mia, "note": None,
                              "evidence": ev_sha, "created_at": T0},
          "%s: Mia records a signed form: %s %s" % (be, st, j))
    for bad, word in [({"method": "smoke"}, "method"), ({}, "method"),
                      ({"method": "verbal", "at": "yesterday"}, "at"),
                      ({"method": "verbal", "at": "2027-01-01T00:00:00Z"}, "at"),
                      ({"method": "verbal", "evidence": "x"}, "evidence"),
                      ({"method": "verbal", "note": "长" * 501}, "note"),
                      ({"method": "verbal", "who": "x"}, "who")]:
        st, j, _ = srv.req("POST", "/api/v1/customers/%s/consents" % carl, amy_tok, body=bad)
        check(st == 400 and err_code(j) == "invalid_request" and word in j["error"]["message"],
              "%s: consent %s: 400 naming %s: %s %s" % (be, str(bad)[:40], word, st, j))
    st, j, _ = srv.req("POST", "/api/v1/customers/%s/consents" % ("0" * 32), admin,
                       body={"method": "verbal"})
    check(st == 404, "%s: no such customer: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/customers/%s/consents" % carl, amy_tok)
    check(st == 200 and j == {"items": [second, first], "next_cursor": None},
          "%s: Amy lists both, newest first: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/customers/%s" % carl, amy_tok)
    check(st == 200 and j["consent"] == {"told": True, "method": "signed_form", "at": T0},
          "%s: told: %s %s" % (be, st, j.get("consent")))
    for f, names in [("recorded", ["Carl"]), ("none", ["Dan"])]:
        st, j, _ = srv.req("GET", "/api/v1/customers?consent=" + f, admin)
        check(st == 200 and sorted(c["name"] for c in j["items"]) == names,
              "%s: consent=%s: %s %s" % (be, f, st, j))
    st, j, _ = srv.req("GET", "/api/v1/customers?consent=maybe", admin)
    check(st == 400 and "consent" in j["error"]["message"], "%s: consent=maybe: %s" % (be, st))
    # the phone reports that it sent the automatic first message: a consent auto_message
    st, j, _ = srv.req("POST", "/api/v1/device/consents", amy_dev,
                       body={"channel": "wechat", "peer_id": "wx_carl",
                             "at": "2026-11-27T07:45:00Z"})
    amy_dev_id = store.sql("SELECT id FROM devices WHERE serial = 'SN-A'")
    check(st == 201 and j == {"id": j.get("id"), "customer_id": carl, "method": "auto_message",
                              "at": "2026-11-27T07:45:00Z", "by": "device:" + amy_dev_id,
                              "note": None, "evidence": None, "created_at": T0},
          "%s: the phone's auto message: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/device/consents", amy_dev,
                       body={"phone": "138 0013 8000", "at": "2026-11-27T07:50:00Z"})
    check(st == 201 and j["customer_id"] == carl and j["at"] == "2026-11-27T07:50:00Z",
          "%s: by phone number: %s %s" % (be, st, j))
    for body, want in [({"channel": "wechat", "peer_id": "wx_dan"}, 404),  # Bob's customer
                       ({"channel": "wechat", "peer_id": "wx_nobody"}, 404),
                       ({"channel": "wechat"}, 400), ({"phone": "12"}, 400),
                       ({"phone": "13800138000", "method": "verbal"}, 400)]:
        st, j, _ = srv.req("POST", "/api/v1/device/consents", amy_dev, body=body)
        check(st == want, "%s: device consent %s: %s %s" % (be, body, st, j))
    st, j, _ = srv.req("GET", "/api/v1/customers/%s/consents" % carl, amy_tok)
    check(st == 200 and [c["method"] for c in j["items"]] ==
          ["signed_form", "auto_message", "auto_message", "verbal"],
          "%s: four records, newest first: %s" % (be, [c["method"] for c in j["items"]]))
    st, j, _ = srv.req("GET", "/api/v1/audit?action=consent.create", admin)
    check(st == 200 and [(r["actor"], r["target"]) for r in j["items"]] ==
          [("device:" + amy_dev_id, "customer:" + carl), ("device:" + amy_dev_id, "customer:" + carl),
           ("employee:" + mia, "customer:" + carl), ("employee:" + amy, "customer:" + carl)],
          "%s: consents audited: %s" % (be, j.get("items")))
    st, j, _ = srv.req("GET", "/api/v1/audit/verify", admin)
    check(st == 200 and j.get("ok") is True, "%s: chain verifies: %s %s" % (be, st, j))
    srv.stop()


if __name__ == "__main__":
    sys.exit(run_backends(suite, "transparency"))
