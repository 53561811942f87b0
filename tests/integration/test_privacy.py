#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Masked stays masked, on every path; conversations are seen through the employee who had them.
# Each check performs an attack a salesperson, a manager or the auditor could try with the
# console API, over real sockets against a real `workphone serve`, on SQLite and PostgreSQL,
# and asserts that it gets nothing: search probes for masked digits, raw numbers in any field
# of any answer, reading another store's conversation after reporting the same number, and
# the history that explicit acts (handover, assign) hand on.
import sys

from harness import (Server, check, created, enroll, err_code, login, run_backends)

# The personal data the events carry; none of it may reach a caller without view_pii.
MOBILE = "13800138000"       # the customer's phone
NAME_MOBILE = "13700137000"  # inside the peer's name, the notes, a follow-up
SMS_MOBILE = "13900139000"   # an unsaved caller: the customer is named with it
ID_CARD = "11010519491231002X"
QQ = "12345678"
EMAIL = "zhang.san@example.com"
PII = [MOBILE, NAME_MOBILE, SMS_MOBILE, ID_CARD, QQ, EMAIL]
LEAK_RULE = "re:电话1[3-9][0-9]{9}\tcontact_leak\talert\n"


def q(s):
    import urllib.parse
    return urllib.parse.quote(s)


def company(srv, admin):
    st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
    hq = j["employee"]["org_unit_id"]
    c = {"hq": hq}
    unit = lambda name, parent, kind: created(srv, admin, "/api/v1/org-units",
                                              {"name": name, "parent_id": parent, "kind": kind},
                                              "unit " + name)["id"]
    c["region"] = unit("华东区", hq, "region")
    c["s1"] = unit("一店", c["region"], "store")
    c["s2"] = unit("二店", c["region"], "store")
    for name, role, u in [("rm", "manager", "region"), ("m1", "manager", "s1"),
                          ("m2", "manager", "s2"), ("aud", "auditor", "hq"), ("a1", "sales", "s1"),
                          ("a2", "sales", "s1"), ("a3", "sales", "s1"), ("b1", "sales", "s2")]:
        c[name] = created(srv, admin, "/api/v1/employees",
                          {"name": "员工" + name, "org_unit_id": c[u], "role": role,
                           "username": name, "password": "s3cret-pass"}, "employee " + name)["id"]
    c["dev_a1"] = enroll(srv, admin, c["a1"], "SN-a1")
    c["dev_b1"] = enroll(srv, admin, c["b1"], "SN-b1")
    return c


def events(srv, dev, evs, what):
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": evs})
    check(st == 200 and j["acked_seq"] == evs[-1]["seq"] and j["rejected"] == [],
          "%s: stored: %s %s" % (what, st, j))


def msg(seq, ts, peer, text, direction="out", channel="wechat", chat=None):
    e = {"seq": seq, "type": "message", "ts": ts, "channel": channel, "direction": direction,
         "peer": peer, "msgtype": "text", "text": text}
    if chat or peer.get("id"):
        e["chat"] = chat or peer["id"]
    return e


def listing(srv, path, tok):
    st, j, _ = srv.req("GET", path, tok)
    check(st == 200, "GET %s: HTTP %s %s" % (path, st, j))
    return j["items"] if st == 200 else []


def no_pii(srv, be, who, tok, paths):
    """Not one byte of the personal data in any answer to who."""
    for path in paths:
        st, body, _ = srv.raw("GET", path, tok)
        text = body.decode()
        leaked = [p for p in PII if p in text]
        check(st == 200 and not leaked,
              "%s: %s reads %s: HTTP %s, raw personal data %s in %s" %
              (be, who, path, st, leaked, text[:600]))


def masking(srv, be, admin, c, tok):
    # the tenant's lexicon: the default one (QQ and WeChat ids are mask entries) and one alert
    # rule whose match holds a phone number
    st, lex, _ = srv.req("GET", "/api/v1/lexicon", admin)
    st, j, _ = srv.req("PUT", "/api/v1/lexicon", admin, raw=lex + "\n" + LEAK_RULE,
                       headers={"Content-Type": "text/plain"})
    check(st == 200, "%s: lexicon with a leak rule: %s %s" % (be, st, j))
    events(srv, c["dev_a1"], [
        msg(1, "2026-11-26T09:00:00+08:00", {"id": "wxid_liu", "name": "刘先生" + NAME_MOBILE,
                                            "phone": MOBILE},
            "电话%s，身份证%s" % (MOBILE, ID_CARD)),
        msg(2, "2026-11-26T09:01:00+08:00", {"phone": SMS_MOBILE}, "好的 qq %s 到时联系" % QQ,
            direction="in", channel="sms", chat=SMS_MOBILE),
        msg(3, "2026-11-26T09:02:00+08:00", {"id": "wxid_liu"}, "订单A17号已收到",
            direction="in"),
    ], "a1's chats")
    custs = {x["phone"]: x["id"] for x in listing(srv, "/api/v1/customers", admin)}
    cl, cs = custs[MOBILE], custs[SMS_MOBILE]
    c["cust_liu"] = cl
    mine = listing(srv, "/api/v1/messages?customer=" + cl, admin)
    c["msg1"] = [m for m in mine if m["text"].startswith("电话")][0]["id"]
    c["msg3"] = [m for m in mine if m["text"].startswith("订单")][0]["id"]

    # --- search: one digit at a time finds nothing inside a masked span ---------------------
    masked1 = "电话" + "*" * 11 + "，身份证" + "*" * 18
    for who in ["a1", "m1", "aud"]:
        for d in "0123456789":
            items = listing(srv, "/api/v1/messages?customer=%s&q=%s" % (cl, d), tok[who])
            want = [c["msg3"]] if d in "17" else []
            check([m["id"] for m in items] == want,
                  "%s: %s probing digit %s finds %s, want %s" %
                  (be, who, d, [(m["id"], m["text"], m["highlight"]) for m in items], want))
            for m in items:
                raw = m["text"].encode()
                check(all(raw[h["start"]:h["end"]].decode() == d for h in m["highlight"]),
                      "%s: %s: highlights of %s mark the digit: %s" % (be, who, d, m))
        items = listing(srv, "/api/v1/messages?customer=" + cl, tok[who])
        got = {m["id"]: m for m in items}
        check(got.get(c["msg1"], {}).get("text") == masked1,
              "%s: %s reads message 1 masked: %s" % (be, who, got.get(c["msg1"])))
        check(got.get(c["msg1"], {}).get("peer", {}).get("name") == "刘先生" + "*" * 11,
              "%s: %s reads the peer's name masked" % (be, who))
    items = listing(srv, "/api/v1/messages?customer=%s&q=3" % cl, admin)
    check([m["id"] for m in items] == [c["msg1"]] and
          items[0]["highlight"][0] == {"start": 7, "end": 8},
          "%s: admin (view_pii) finds and highlights the digit: %s" % (be, items))
    st, j, _ = srv.req("GET", "/api/v1/messages?q=" + MOBILE, tok["a1"])
    check(st == 400 and err_code(j) == "invalid_request",
          "%s: a long run of digits stays refused without view_pii: %s %s" % (be, st, j))

    # --- every other field: names, chats, notes, follow-ups, alerts, audit details -----------
    st, j, _ = srv.req("PATCH", "/api/v1/customers/" + cl, tok["a1"],
                       body={"notes": "备用手机" + NAME_MOBILE, "company": "华润" + NAME_MOBILE})
    check(st == 200 and NAME_MOBILE not in str(j),
          "%s: a1 edits notes and company; the answer is masked: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/customers/%s/follow-ups" % cl, tok["a1"],
                       body={"text": "回电" + NAME_MOBILE})
    check(st == 201, "%s: a follow-up: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/customers/" + cl, tok["a1"])
    check(st == 200 and j["phone"] == "138****8000" and j["name"] == "刘先生" + "*" * 11 and
          j["notes"] == "备用手机" + "*" * 11 and
          sorted(j["identities"]) == ["phone:138****8000", "wechat:wxid_liu"],
          "%s: a1 reads the customer masked: %s" % (be, j))
    st, j, _ = srv.req("GET", "/api/v1/customers/" + cs, tok["a1"])
    check(st == 200 and j["name"] == "*" * 11 and j["phone"] == "139****9000",
          "%s: a customer named after its number is masked: %s" % (be, j))
    sms = [m for m in listing(srv, "/api/v1/messages?customer=" + cs, tok["a1"])]
    check(len(sms) == 1 and sms[0]["chat"] == "*" * 11 and QQ not in sms[0]["text"],
          "%s: an SMS chat is the masked number, a QQ number in the text masked: %s" % (be, sms))
    # a form saved as it was shown changes nothing it could not see; stars are not stored
    st, j, _ = srv.req("PATCH", "/api/v1/customers/" + cl, tok["a1"],
                       body={"name": "刘先生" + "*" * 11, "company": "华润" + "*" * 11,
                             "stage": "contacted"})
    check(st == 200 and j["stage"] == "contacted",
          "%s: a1 saves the form it was shown: %s %s" % (be, st, j))
    st, j, _ = srv.req("PATCH", "/api/v1/customers/" + cl, tok["a1"],
                       body={"name": "刘总" + "*" * 11})
    check(st == 400 and "name" in j["error"]["message"],
          "%s: stars over a hidden number are refused: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/customers/" + cl, admin)
    check(j["name"] == "刘先生" + NAME_MOBILE and j["company"] == "华润" + NAME_MOBILE,
          "%s: the hidden numbers are still stored: %s" % (be, j))
    # the customer list's q meets the notes as the caller sees them
    st, j, _ = srv.req("PATCH", "/api/v1/customers/" + cs, tok["a1"],
                       body={"notes": "邮箱 zhang.san@example.com 晚上联系"})
    check(st == 200, "%s: notes with an e-mail address: %s %s" % (be, st, j))
    for who, want in [("a1", []), ("m1", []), ("aud", []), ("admin", [cs])]:
        got = [x["id"] for x in listing(srv, "/api/v1/customers?q=zhang",
                                        admin if who == "admin" else tok[who])]
        check(got == want, "%s: %s searching customers for a masked e-mail finds %s, want %s" %
              (be, who, got, want))
    got = [x["id"] for x in listing(srv, "/api/v1/customers?q=" + q("晚上"), tok["a1"])]
    check(got == [cs], "%s: what the caller sees is still found: %s" % (be, got))
    alerts = [a for a in listing(srv, "/api/v1/alerts?customer=" + cl, tok["a1"])
              if a.get("category") == "contact_leak"]
    check(len(alerts) == 1 and alerts[0]["text"] == "电话" + "*" * 11,
          "%s: an alert's matched text is masked: %s" % (be, alerts))
    common = ["/api/v1/messages", "/api/v1/messages?customer=" + cl,
              "/api/v1/messages?customer=" + cs, "/api/v1/customers",
              "/api/v1/customers/" + cl, "/api/v1/customers/" + cs,
              "/api/v1/customers/%s/timeline" % cl, "/api/v1/customers/%s/timeline" % cs,
              "/api/v1/alerts", "/api/v1/pool", "/api/v1/messages?q=" + q("电话"),
              "/api/v1/messages?q=qq", "/api/v1/reminders"]
    no_pii(srv, be, "a1", tok["a1"], common)
    no_pii(srv, be, "m1", tok["m1"], common)
    no_pii(srv, be, "aud", tok["aud"], common + ["/api/v1/audit?limit=200"])
    st, body, _ = srv.raw("GET", "/api/v1/audit?limit=200", admin)
    check(NAME_MOBILE in body.decode(), "%s: admin (view_pii) reads the audit details whole" % be)

    # --- unmasking: one object at a time, for roles with unmask, audited -------------------
    st, j, _ = srv.req("POST", "/api/v1/customers/%s/unmask" % cl, tok["a1"], body={})
    check(st == 403, "%s: sales may not unmask: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/customers/%s/unmask" % cl, tok["m1"], body={})
    check(st == 200 and j == {"id": cl, "phone": MOBILE, "name": "刘先生" + NAME_MOBILE,
                              "company": "华润" + NAME_MOBILE, "notes": "备用手机" + NAME_MOBILE,
                              "identities": j.get("identities")} and
          sorted(j["identities"]) == ["phone:" + MOBILE, "wechat:wxid_liu"],
          "%s: m1 unmasks the customer: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/messages/%s/unmask" % c["msg1"], tok["m1"], body={})
    check(st == 200 and j["text"] == "电话%s，身份证%s" % (MOBILE, ID_CARD),
          "%s: m1 unmasks one message: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/messages/%s/unmask" % c["msg1"], tok["m2"], body={})
    check(st == 404, "%s: m2 cannot unmask a message of another store: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/messages/%s/unmask" % c["msg1"], tok["a1"], body={})
    check(st == 403, "%s: sales may not unmask a message: %s" % (be, st))
    for action, target in [("customer.unmask", "customer:" + cl),
                           ("message.unmask", "message:" + c["msg1"])]:
        rows = listing(srv, "/api/v1/audit?action=" + action, admin)
        check(len(rows) == 1 and rows[0]["actor"] == "employee:" + c["m1"] and
              rows[0]["target"] == target,
              "%s: the unmasking is audited as %s: %s" % (be, action, rows))
    # what was unmasked once stays masked elsewhere
    st, j, _ = srv.req("GET", "/api/v1/customers/" + cl, tok["m1"])
    check(st == 200 and j["phone"] == "138****8000", "%s: m1's next read is masked again" % be)


def scope(srv, be, admin, c, tok):
    cl = c["cust_liu"]
    # b1, another store, makes a zero-second call to a1's customer and reports a contact
    # event for its WeChat id, then says hello
    events(srv, c["dev_b1"], [
        {"seq": 1, "type": "call", "ts": "2026-11-26T10:00:00+08:00", "direction": "out",
         "peer": {"phone": MOBILE}, "duration_s": 0},
        {"seq": 2, "type": "contact", "ts": "2026-11-26T10:01:00+08:00", "channel": "wechat",
         "action": "added", "peer": {"id": "wxid_liu"}},
        msg(3, "2026-11-26T10:02:00+08:00", {"id": "wxid_liu"}, "你好，我是二店的"),
    ], "b1 meets a1's customer")
    coll = listing(srv, "/api/v1/alerts?kind=customer_collision", admin)
    check(len(coll) == 1 and coll[0]["employee_id"] == c["b1"] and coll[0]["customer_id"] == cl
          and coll[0]["other_employee_id"] == c["a1"] and coll[0]["status"] == "open",
          "%s: one collision alert names both: %s" % (be, coll))
    for who, sees in [("m1", True), ("m2", True), ("rm", True), ("a1", True), ("b1", True),
                      ("a2", False)]:
        got = listing(srv, "/api/v1/alerts?kind=customer_collision", tok[who])
        check(len(got) == (1 if sees else 0),
              "%s: %s %s the collision alert: %s" % (be, who, "sees" if sees else "not", got))

    # the managers over either side handle it; the salespeople do not
    for who, want in [("a1", 403), ("b1", 403), ("m1", 200), ("m2", 200)]:
        st, j, _ = srv.req("PATCH", "/api/v1/alerts/" + coll[0]["id"], tok[who],
                           body={"status": "acknowledged", "comment": "已核实：" + who})
        check(st == want, "%s: %s handles the collision alert: %s %s" % (be, who, st, j))
    a1_msgs = {m["id"] for m in listing(srv, "/api/v1/messages?customer=" + cl, admin)
               if m["employee_id"] == c["a1"]}
    b1_msgs = {m["id"] for m in listing(srv, "/api/v1/messages?customer=" + cl, admin)
               if m["employee_id"] == c["b1"]}
    check(len(a1_msgs) == 2 and len(b1_msgs) == 1, "%s: the customer's messages" % be)
    for who, want in [("b1", b1_msgs), ("m2", b1_msgs), ("m1", a1_msgs), ("a1", a1_msgs),
                      ("rm", a1_msgs | b1_msgs)]:
        got = {m["id"] for m in listing(srv, "/api/v1/messages?customer=" + cl, tok[who])}
        check(got == want, "%s: %s reads %d of the customer's messages, want %d" %
              (be, who, len(got), len(want)))
        got = {m["id"] for m in listing(srv, "/api/v1/messages?q=" + q("身份证"), tok[who])}
        check(got == (want & {c["msg1"]}), "%s: %s searching 身份证 gets %s" % (be, who, got))
    st, j, _ = srv.req("GET", "/api/v1/customers/" + cl, tok["b1"])
    check(st == 200 and j["access"] == "met" and j["owner_employee_id"] == c["a1"] and
          j["notes"] is None and j["phone"] == "138****8000" and
          [x["employee_id"] for x in j["met_by"]] == [c["a1"], c["b1"]],
          "%s: b1 reads the record it met, not a1's notes: %s %s" % (be, st, j))
    tl = listing(srv, "/api/v1/customers/%s/timeline?limit=200" % cl, tok["b1"])
    check(tl and all(i.get("employee_id") == c["b1"] for i in tl) and
          {i["type"] for i in tl} == {"message", "call", "contact", "alert"},
          "%s: b1's timeline of the customer holds only its own items: %s" % (be, tl))
    tl = listing(srv, "/api/v1/customers/%s/timeline?limit=200" % cl, tok["m1"])
    check(not any(i.get("employee_id") == c["b1"] and i["type"] != "alert" for i in tl) and
          any(i["type"] == "event" for i in tl),
          "%s: m1's timeline has a1's side and the CRM events, none of b1's: %s" % (be, tl))
    st, j, _ = srv.req("PATCH", "/api/v1/customers/" + cl, tok["b1"], body={"stage": "won"})
    check(st == 404, "%s: b1 cannot change a1's customer: %s" % (be, st))
    st, j, _ = srv.req("POST", "/api/v1/messages/%s/unmask" % c["msg1"], tok["m2"], body={})
    check(st == 404, "%s: m2 cannot unmask a1's message either: %s" % (be, st))

    # first sighting: b1 calls a new number, then a1 chats with the same person on WeChat
    events(srv, c["dev_b1"], [
        {"seq": 4, "type": "call", "ts": "2026-11-26T11:00:00+08:00", "direction": "out",
         "peer": {"phone": "13600136000"}, "duration_s": 0}], "b1 calls a new number")
    events(srv, c["dev_a1"], [
        msg(4, "2026-11-26T11:05:00+08:00", {"id": "wxid_new", "phone": "13600136000"},
            "内部底价98万，别外传")], "a1 quotes its internal price")
    for who, n in [("b1", 0), ("m2", 0), ("a1", 1), ("m1", 1)]:
        got = listing(srv, "/api/v1/messages?q=" + q("底价"), tok[who])
        check(len(got) == n, "%s: %s finds %d messages with 底价, want %d" %
              (be, who, len(got), n))
    coll = listing(srv, "/api/v1/alerts?kind=customer_collision", admin)
    check(len(coll) == 2 and any(a["employee_id"] == c["a1"] and
                                 a["other_employee_id"] == c["b1"] for a in coll),
          "%s: a1 meeting b1's new customer is a collision too: %s" % (be, coll))

    # explicit acts hand the history on: a1 leaves (a2 inherits), then m1 assigns to a3
    st, j, _ = srv.req("POST", "/api/v1/handovers", admin,
                       body={"from_employee": c["a1"], "to_employee": c["a2"],
                             "reason": "departure"})
    check(st == 201, "%s: a1's departure: %s %s" % (be, st, j))
    handover = j.get("id")
    got = {m["id"] for m in listing(srv, "/api/v1/messages?customer=" + cl, tok["a2"])}
    check(got == a1_msgs, "%s: the successor reads a1's conversation, not b1's: %s" % (be, got))
    st, j, _ = srv.req("POST", "/api/v1/customers/%s/assign" % cl, tok["m1"],
                       body={"employee_id": c["a3"]})
    check(st == 200, "%s: m1 assigns the customer to a3: %s %s" % (be, st, j))
    got = {m["id"] for m in listing(srv, "/api/v1/messages?customer=" + cl, tok["a3"])}
    check(got == a1_msgs, "%s: the history follows from hand to hand: %s" % (be, got))
    got = {m["id"] for m in listing(srv, "/api/v1/messages?customer=" + cl, tok["a2"])}
    st, _, _ = srv.req("GET", "/api/v1/customers/" + cl, tok["a2"])
    check(got == set() and st == 404,
          "%s: a2 never met the customer: it lost it with the assign: %s %s" % (be, got, st))

    # the handover report, as a download, is masked like everything else
    st, body, hdrs = srv.raw("GET", "/api/v1/handovers/%s?format=csv" % handover, tok["m1"])
    text = body.decode()
    check(st == 200 and "刘先生" + "*" * 11 in text and not [p for p in PII if p in text],
          "%s: the handover CSV is masked for m1: %s" % (be, text))
    st, body, hdrs = srv.raw("GET", "/api/v1/handovers/%s?format=csv" % handover, admin)
    check(st == 200 and "刘先生" + NAME_MOBILE in body.decode(),
          "%s: ... and whole for the admin" % be)


def suite(store):
    be = store.backend
    srv = Server(store.data, store.db_args)
    admin = login(srv, "admin")
    c = company(srv, admin)
    tok = {n: login(srv, n) for n in ["rm", "m1", "m2", "aud", "a1", "a2", "a3", "b1"]}
    masking(srv, be, admin, c, tok)
    scope(srv, be, admin, c, tok)
    srv.stop()


if __name__ == "__main__":
    sys.exit(run_backends(suite, "privacy"))
