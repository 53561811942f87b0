# SPDX-License-Identifier: MIT
# Webhooks over real sockets, on SQLite and PostgreSQL (issue 16): a local receiver gets a
# raised alert with a valid signature within seconds; a receiver answering 500 gets retries
# with growing gaps (the server's clock moved by the test hooks), dead after 24 hours, then
# redelivered from the API as the same event; a killed server loses nothing queued; DingTalk's
# and Feishu's signatures as their robots compute them; robot messages in Chinese with personal
# data masked; SSRF refusals; routing by org unit; the test event; audit rows without secrets.
import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PASSWORD, Server, check, created, enroll, err_code, login,  # noqa: E402
                     run_backends)

T0 = datetime.datetime(2026, 11, 27, 8, 0, 0, tzinfo=datetime.timezone.utc)
PHONE = "13800138000"


def rfc(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


class Clock:
    """The file WORKPHONE_TEST_CLOCK names: the servers' time, moved by renaming a new file in."""

    def __init__(self, path):
        self.path = path
        self.now = T0
        self.set(T0)

    def set(self, t):
        self.now = t
        with open(self.path + ".tmp", "w") as f:
            f.write(rfc(t) + "\n")
        os.replace(self.path + ".tmp", self.path)

    def add(self, seconds):
        self.set(self.now + datetime.timedelta(seconds=seconds))


class Receiver:
    """An HTTP server on loopback that records every POST and answers as told per path."""

    def __init__(self, port=0):
        self.reqs = []
        self.answers = {}
        self.lock = threading.Lock()
        rec = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                u = urllib.parse.urlsplit(self.path)
                with rec.lock:
                    rec.reqs.append({"path": u.path, "query": u.query, "headers": dict(self.headers),
                                     "body": body})
                    code, answer = rec.answers.get(u.path, (200, b'{"errcode":0,"errmsg":"ok"}'))
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", port), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def got(self, path):
        with self.lock:
            return [r for r in self.reqs if r["path"] == path]

    def wait(self, path, n, seconds=15):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if len(self.got(path)) >= n:
                return self.got(path)
            time.sleep(0.1)
        return self.got(path)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def msg(seq, ts, peer, text):
    return {"seq": seq, "type": "message", "ts": ts, "channel": "wechat", "direction": "out",
            "peer": peer, "chat": peer.get("id") or peer.get("phone"), "msgtype": "text",
            "text": text}


def send(srv, dev, events, what):
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": events})
    check(st == 200 and j["rejected"] == [], "%s: stored: %s %s" % (what, st, j))
    return j


def deliveries(srv, admin, hook_id, status=None):
    q = "?limit=200" + ("&status=" + status if status else "")
    st, j, _ = srv.req("GET", "/api/v1/webhooks/%s/deliveries%s" % (hook_id, q), admin)
    check(st == 200, "deliveries of %s: %s %s" % (hook_id, st, j))
    return j["items"] if st == 200 else []


def wait_delivery(srv, admin, hook_id, pred, seconds=15):
    end = time.monotonic() + seconds
    items = []
    while time.monotonic() < end:
        items = deliveries(srv, admin, hook_id)
        if items and pred(items):
            return items
        time.sleep(0.2)
    return items


def json_sig_ok(req, secret):
    sig = req["headers"].get("X-Workphone-Signature", "")
    parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return False
    want = hmac.new(secret.encode(), parts["t"].encode() + b"." + req["body"], hashlib.sha256)
    return hmac.compare_digest(want.hexdigest(), parts["v1"])


def suite(store):
    be = store.backend
    tmp = os.path.dirname(store.data)
    clock = Clock(os.path.join(tmp, "clock-" + be))
    os.environ["WORKPHONE_TEST_CLOCK"] = clock.path
    rx = Receiver()
    srv = Server(store.data, store.db_args, now=None)
    # an admin API key: sessions end 12 hours later, and the test moves the clock by a day
    admin = created(srv, login(srv, "admin"), "/api/v1/api-keys",
                    {"name": "webhooks test", "role": "admin"}, "an admin key")["key"]

    # --- an org: a top unit, two stores, a salesperson in each --------------------------------
    st, j, _ = srv.req("GET", "/api/v1/org-units", admin)
    top = j["items"][0]["id"]
    store_a = created(srv, admin, "/api/v1/org-units",
                      {"name": "上海一店", "parent_id": top, "kind": "store"}, "store A")["id"]
    store_b = created(srv, admin, "/api/v1/org-units",
                      {"name": "北京一店", "parent_id": top, "kind": "store"}, "store B")["id"]
    sales_a = created(srv, admin, "/api/v1/employees",
                      {"name": "张销售", "org_unit_id": store_a, "role": "sales",
                       "username": "zhang", "password": PASSWORD}, "sales A")["id"]
    sales_b = created(srv, admin, "/api/v1/employees",
                      {"name": "王销售", "org_unit_id": store_b, "role": "sales",
                       "username": "wang", "password": PASSWORD}, "sales B")["id"]
    dev_a = enroll(srv, admin, sales_a, "SN-A-" + be)
    dev_b = enroll(srv, admin, sales_b, "SN-B-" + be)

    # --- SSRF: loopback, private, link-local, IPv6 loopback, a name resolving to loopback --------
    for url in ["http://127.0.0.1:%d/x" % rx.port, "http://10.1.2.3/hook",
                "http://169.254.169.254/latest/meta-data", "http://[::1]:8080/",
                "http://localhost:%d/" % rx.port, "http://192.168.1.10/", "http://0.0.0.0/",
                "http://[fe80::1]/", "http://224.0.0.1/"]:
        st, j, _ = srv.req("POST", "/api/v1/webhooks", admin,
                           body={"url": url, "events": ["alert.raised"], "secret": "x" * 16})
        check(st == 400 and err_code(j) == "url_not_allowed",
              "%s: %s is refused: %s %s" % (be, url, st, j))
    st, j, _ = srv.req("POST", "/api/v1/webhooks", admin,
                       body={"url": "http://nowhere.invalid/", "events": ["alert.raised"]})
    check(st == 400 and "does not resolve" in json.dumps(j, ensure_ascii=False),
          "%s: an unresolvable host is refused: %s %s" % (be, st, j))
    for bad in [{"url": "ftp://example.com/", "events": ["alert.raised"]},
                {"url": rx.url("/x"), "events": ["alert.nope"], "allow_private": True},
                {"url": rx.url("/x"), "events": [], "allow_private": True},
                {"url": rx.url("/x"), "events": ["alert.raised"], "format": "slack",
                 "allow_private": True},
                {"url": "http://user:pw@example.com/", "events": ["alert.raised"]}]:
        st, j, _ = srv.req("POST", "/api/v1/webhooks", admin, body=bad)
        check(st == 400, "%s: %s is refused: %s %s" % (be, bad, st, j))

    # --- subscriptions ------------------------------------------------------------------------
    def hook(path, fmt, events, secret=None, **kw):
        body = dict({"url": rx.url(path), "format": fmt, "events": events, "allow_private": True,
                     "console_url": "https://wp.example.com/"}, **kw)
        if secret:
            body["secret"] = secret
        j = created(srv, admin, "/api/v1/webhooks", body, "webhook " + path)
        check("secret" not in j or not secret, "%s: a given secret is never answered" % be)
        return j

    h_json = hook("/json", "json", ["alert.raised", "customer.deleted", "handover.completed"],
                  "json-secret-1")
    h_wecom = hook("/wecom", "wecom", ["alert.raised"])
    h_ding = created(srv, admin, "/api/v1/webhooks",
                     {"url": rx.url("/ding") + "?access_token=0123456789abcdef0123", "format":
                      "dingtalk", "events": ["alert.raised"], "secret": "SECding-secret",
                      "allow_private": True, "console_url": "https://wp.example.com"}, "dingtalk")
    h_feishu = hook("/feishu", "feishu", ["alert.raised"], "feishu-secret")
    h_unit = hook("/unit-a", "json", ["alert.raised"], "unit-secret", org_unit_id=store_a)
    h_fail = hook("/fail", "json", ["alert.raised"], "fail-secret", alert_kinds=["sensitive_word"])
    rx.answers["/feishu"] = (200, b'{"code":0,"msg":"success","data":{}}')
    rx.answers["/fail"] = (500, b"oops")
    gen = created(srv, admin, "/api/v1/webhooks",
                  {"url": rx.url("/gen"), "events": ["handover.completed"],
                   "allow_private": True}, "a json webhook without a secret")
    check(gen.get("secret", "").startswith("whsec_"),
          "%s: a json webhook made without a secret gets one, shown once: %s" % (be, gen))
    st, j, _ = srv.req("GET", "/api/v1/webhooks/" + gen["id"], admin)
    check(st == 200 and "secret" not in j and j["has_secret"] is True,
          "%s: the secret is never answered back: %s" % (be, j))
    check("0123****" in h_ding["url"] and "0123456789abcdef0123" not in h_ding["url"],
          "%s: a robot's token is cut in the url answered: %s" % (be, h_ding["url"]))
    st, j, _ = srv.req("GET", "/api/v1/audit?action=webhook.create&limit=50", admin)
    check(st == 200 and len(j["items"]) == 7, "%s: each creation audited: %s" % (be, st))
    check("json-secret-1" not in json.dumps(j) and "feishu-secret" not in json.dumps(j) and
          gen["secret"] not in json.dumps(j), "%s: no secret in the audit log" % be)
    st, j, _ = srv.req("PATCH", "/api/v1/webhooks/" + h_ding["id"], admin,
                       body={"url": h_ding["url"], "name": "钉钉群"})
    check(st == 200 and j["name"] == "钉钉群" and j["url"] == h_ding["url"],
          "%s: the url as shown means unchanged: %s %s" % (be, st, j))

    # --- an alert raised: every format, signed, within seconds ------------------------------
    t_msg = rfc(T0 - datetime.timedelta(minutes=5))
    send(srv, dev_a, [msg(1, t_msg, {"phone": PHONE}, "这单可以帮你飞单")], "A's message")
    send(srv, dev_b, [msg(1, t_msg, {"id": "wxid_b1", "name": "李女士"}, "走私单吧")], "B's message")

    got = rx.wait("/json", 2)
    check(len(got) == 2, "%s: the json receiver got both alerts: %d" % (be, len(got)))
    bodies = [json.loads(r["body"]) for r in got]
    check(all(json_sig_ok(r, "json-secret-1") for r in got),
          "%s: X-Workphone-Signature verifies: %s" % (be, [r["headers"] for r in got]))
    check(all(r["headers"].get("X-Workphone-Event") == "alert.raised" for r in got),
          "%s: X-Workphone-Event" % be)
    ba = [b for b in bodies if b["data"]["employee"]["id"] == sales_a]
    check(len(ba) == 1 and set(ba[0]) == {"id", "event", "ts", "tenant", "data"},
          "%s: the body is {id, event, ts, tenant, data}: %s" % (be, bodies))
    if ba:
        d = ba[0]["data"]
        check(d["alert"]["kind"] == "sensitive_word" and d["alert"]["category"] == "private_deal"
              and d["employee"]["org_unit"] == "上海一店" and d["customer"]["phone"] == PHONE,
              "%s: json carries what an admin key sees: %s" % (be, d))
        check(d["console_path"].startswith("/customers/"), "%s: console path: %s" % (be, d))

    for r in rx.wait("/wecom", 2):
        b = json.loads(r["body"])
        c = b.get("markdown", {}).get("content", "")
        check(b.get("msgtype") == "markdown" and "告警" in c and "时间" in c,
              "%s: a WeCom markdown message in Chinese: %s" % (be, c))
        # the console link names the customer by id, whose hex may hold "138": left out
        words = re.sub(r"\(https?://[^)]*\)", "", c)
        check(PHONE not in c and "138" not in words.replace("1380", ""),
              "%s: no phone number in a robot message: %s" % (be, c))
        if "张销售" in c:
            check("飞单私单" in c and "上海一店" in c and "拦截" in c,
                  "%s: what, who and where: %s" % (be, c))
            check("https://wp.example.com/customers/" in c, "%s: a console link: %s" % (be, c))
            check("*" in c, "%s: the customer (named by its number) masked: %s" % (be, c))

    ding = rx.wait("/ding", 2)
    check(len(ding) == 2, "%s: the DingTalk receiver got both: %d" % (be, len(ding)))
    for r in ding:
        q = urllib.parse.parse_qs(r["query"])
        ts, sign = q.get("timestamp", [""])[0], q.get("sign", [""])[0]
        want = base64.b64encode(hmac.new(b"SECding-secret", (ts + "\nSECding-secret").encode(),
                                         hashlib.sha256).digest()).decode()
        check(q.get("access_token") == ["0123456789abcdef0123"] and ts and sign == want,
              "%s: DingTalk's sign (timestamp+\\n+secret, HMAC-SHA256, base64, URL-encoded): %s"
              % (be, r["query"]))
        b = json.loads(r["body"])
        check(b.get("msgtype") == "markdown" and b["markdown"]["title"].startswith("告警"),
              "%s: a DingTalk markdown message: %s" % (be, b))

    feishu = rx.wait("/feishu", 2)
    check(len(feishu) == 2, "%s: the Feishu receiver got both: %d" % (be, len(feishu)))
    for r in feishu:
        b = json.loads(r["body"])
        key = (b.get("timestamp", "") + "\nfeishu-secret").encode()
        want = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        check(b.get("sign") == want and b.get("msg_type") == "interactive",
              "%s: Feishu's sign (timestamp+\\n+secret as the key of an empty message): %s"
              % (be, {k: b.get(k) for k in ("timestamp", "sign", "msg_type")}))
        check(PHONE not in json.dumps(b, ensure_ascii=False), "%s: Feishu card masked" % be)

    # --- routing by unit: the store A webhook gets store A's alert only -----------------------
    unit = rx.wait("/unit-a", 1)
    time.sleep(1.5)
    unit = rx.got("/unit-a")
    check(len(unit) == 1 and json.loads(unit[0]["body"])["data"]["employee"]["id"] == sales_a,
          "%s: a unit's webhook gets its subtree's events only: %s" % (be, [u["body"] for u in unit]))

    # --- a receiver answering 500: retries with growing gaps, dead after 24 hours -------------
    fail = rx.wait("/fail", 2)
    check(len(fail) == 2, "%s: the failing receiver was tried for both alerts: %d" % (be, len(fail)))
    first_ids = {json.loads(r["body"])["id"] for r in fail}
    first_body = {json.loads(r["body"])["id"]: r["body"] for r in fail}
    items = wait_delivery(srv, admin, h_fail["id"],
                          lambda v: all(d["attempts"] == 1 and d["last_code"] == 500 for d in v))
    check(len(items) == 2 and all(d["status"] == "pending" for d in items),
          "%s: failed deliveries stay pending: %s" % (be, items))
    for d in items:
        gap = (parse(d["next_attempt_at"]) - parse(d["last_attempt_at"])).total_seconds()
        check(15 <= gap <= 30, "%s: the first retry is 15-30 s later: %s" % (be, gap))
    time.sleep(2)
    check(len(rx.got("/fail")) == 2, "%s: nothing is retried before it is due" % be)
    prev = 1
    for step, (lo, hi) in enumerate([(30, 60), (60, 120), (120, 240)]):
        due = max(parse(d["next_attempt_at"]) for d in items)
        clock.set(due + datetime.timedelta(seconds=1))
        n = prev + 1
        items = wait_delivery(srv, admin, h_fail["id"], lambda v: all(d["attempts"] == n for d in v))
        check(all(d["attempts"] == n for d in items),
              "%s: retry %d made: %s" % (be, n, [d["attempts"] for d in items]))
        for d in items:
            gap = (parse(d["next_attempt_at"]) - parse(d["last_attempt_at"])).total_seconds()
            check(lo <= gap <= hi, "%s: backoff grows: retry %d in %s s (%d-%d)" % (be, n, gap, lo, hi))
        prev = n
    check(len(rx.got("/fail")) == 2 * prev, "%s: each attempt reached the receiver" % be)
    clock.set(T0 + datetime.timedelta(hours=24, minutes=1))
    items = wait_delivery(srv, admin, h_fail["id"], lambda v: all(d["status"] == "dead" for d in v))
    check(len(items) == 2 and all(d["status"] == "dead" for d in items),
          "%s: after 24 hours of failure the deliveries are dead: %s" % (be, items))
    st, j, _ = srv.req("GET", "/api/v1/webhook-deliveries?status=dead", admin)
    dead = [d for d in j.get("items", []) if d["webhook_id"] == h_fail["id"]]
    check(st == 200 and len(dead) == 2, "%s: the dead letters are listed: %s %s" % (be, st, j))
    rx.answers["/fail"] = (204, b"")
    n_before = len(rx.got("/fail"))
    for d in dead:
        st, j, _ = srv.req("POST", "/api/v1/webhook-deliveries/%s/redeliver" % d["id"], admin, body={})
        check(st == 200 and j["status"] == "pending", "%s: redeliver: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/webhook-deliveries/%s/redeliver" % dead[0]["id"], admin,
                       body={})
    check(st in (200, 409), "%s: a second redeliver: %s %s" % (be, st, j))
    items = wait_delivery(srv, admin, h_fail["id"],
                          lambda v: all(d["status"] == "delivered" for d in v))
    check(all(d["status"] == "delivered" for d in items), "%s: redelivered: %s" % (be, items))
    again = rx.got("/fail")[n_before:]
    check(len(again) >= 2 and {json.loads(r["body"])["id"] for r in again} == first_ids,
          "%s: a redelivery is the same event (same id)" % be)
    check(all(first_body[json.loads(r["body"])["id"]] == r["body"] for r in again),
          "%s: the same id is never a different event (same body)" % be)
    st, j, _ = srv.req("GET", "/api/v1/audit?action=webhook.redeliver", admin)
    check(st == 200 and len(j["items"]) >= 2, "%s: redeliveries are audited" % be)
    # one webhook read alone counts its deliveries as the list does
    st, one, _ = srv.req("GET", "/api/v1/webhooks/%s" % h_fail["id"], admin)
    st2, lst, _ = srv.req("GET", "/api/v1/webhooks", admin)
    listed = [w for w in lst.get("items", []) if w["id"] == h_fail["id"]]
    check(st == 200 and one["deliveries"] == {"pending": 0, "delivered": 2, "dead": 0},
          "%s: GET /webhooks/{id} counts its deliveries: %s %s" % (be, st, one.get("deliveries")))
    check(st2 == 200 and listed and listed[0]["deliveries"] == one["deliveries"],
          "%s: the list counts the same: %s" % (be, listed))

    # --- customer.deleted and handover.completed ------------------------------------------------
    nj = len(rx.got("/json"))
    send(srv, dev_a, [{"seq": 2, "type": "contact", "ts": t_msg, "channel": "wechat",
                       "action": "deleted", "peer": {"phone": PHONE}}], "A deletes the customer")
    got = rx.wait("/json", nj + 2)[nj:]
    ev = sorted(json.loads(r["body"])["event"] for r in got)
    check(ev == ["alert.raised", "customer.deleted"],
          "%s: a deleted customer is alert.raised and customer.deleted: %s" % (be, ev))
    check(len({json.loads(r["body"])["id"] for r in got}) == len(got),
          "%s: two events, two ids" % be)
    nj = len(rx.got("/json"))
    st, j, _ = srv.req("POST", "/api/v1/handovers", admin,
                       body={"from_employee": sales_a, "to_employee": sales_b, "reason": "transfer"})
    check(st in (200, 201), "%s: a handover: %s %s" % (be, st, j))
    got = rx.wait("/json", nj + 1)[nj:]
    hb = [json.loads(r["body"]) for r in got]
    check(len(hb) == 1 and hb[0]["event"] == "handover.completed" and
          hb[0]["data"]["handover"]["customers_moved"] >= 1 and
          hb[0]["data"]["to_employees"][0]["name"] == "王销售",
          "%s: handover.completed: %s" % (be, hb))
    gen_got = rx.wait("/gen", 1)
    check(len(gen_got) == 1 and json_sig_ok(gen_got[0], gen["secret"]),
          "%s: the generated secret signs: %d" % (be, len(gen_got)))

    # --- the test event ----------------------------------------------------------------------
    nw = len(rx.got("/wecom"))
    st, j, _ = srv.req("POST", "/api/v1/webhooks/%s/test" % h_wecom["id"], admin, body={})
    check(st == 202 and j.get("delivery_id"), "%s: test: %s %s" % (be, st, j))
    got = rx.wait("/wecom", nw + 1)[nw:]
    check(len(got) == 1 and "测试" in json.loads(got[0]["body"])["markdown"]["content"],
          "%s: the test message arrives: %s" % (be, [g["body"] for g in got]))

    # --- DNS rebinding: the address is checked again at delivery -----------------------------
    store.sql("UPDATE webhooks SET allow_private = 0 WHERE id = '%s'" % h_unit["id"])
    nu = len(rx.got("/unit-a"))
    send(srv, dev_b, [msg(2, t_msg, {"id": "wxid_b1"}, "还是飞单")], "B again (no unit A)")
    st, j, _ = srv.req("POST", "/api/v1/employees", admin,
                       body={"name": "赵销售", "org_unit_id": store_a, "role": "sales",
                             "username": "zhao", "password": PASSWORD})
    dev_c = enroll(srv, admin, j["id"], "SN-C-" + be)
    send(srv, dev_c, [msg(1, t_msg, {"id": "wxid_c1", "name": "钱先生"}, "私单价格更低")], "C")
    items = wait_delivery(srv, admin, h_unit["id"], lambda v: any(d["attempts"] >= 1 and
                                                                  d["last_error"] for d in v))
    bad = [d for d in items if d["last_error"]]
    check(bad and "refused" in bad[0]["last_error"] and "loopback" in bad[0]["last_error"],
          "%s: a private address at delivery is refused: %s" % (be, items))
    check(len(rx.got("/unit-a")) == nu, "%s: ... and nothing reached it" % be)

    # --- a killed server loses nothing queued ------------------------------------------------
    port = free_port()
    late = created(srv, admin, "/api/v1/webhooks",
                   {"url": "http://127.0.0.1:%d/late" % port, "events": ["alert.raised"],
                    "secret": "late-secret", "allow_private": True}, "a webhook not listening")
    send(srv, dev_b, [msg(3, t_msg, {"id": "wxid_b2", "name": "孙先生"}, "飞单返点")], "B, then kill")
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    srv.err.close()
    rx2 = Receiver(port)
    clock.add(2 * 3600)  # whatever failed before the kill is due again
    srv = Server(store.data, store.db_args, now=None)
    got = rx2.wait("/late", 1, 20)
    check(len(got) >= 1 and json_sig_ok(got[0], "late-secret") and
          json.loads(got[0]["body"])["data"]["customer"]["name"] == "孙先生",
          "%s: the alert raised before the kill is delivered after the restart: %d" % (be, len(got)))
    items = wait_delivery(srv, admin, late["id"], lambda v: v[0]["status"] == "delivered")
    check(items and items[0]["status"] == "delivered", "%s: delivered: %s" % (be, items))
    rx2.close()

    # --- rights: the admin's, and the sales' 403 ---------------------------------------------
    sales_tok = login(srv, "wang")
    st, j, _ = srv.req("GET", "/api/v1/webhooks", sales_tok)
    check(st == 403, "%s: a salesperson may not list webhooks: %s" % (be, st))
    st, j, _ = srv.req("DELETE", "/api/v1/webhooks/" + h_wecom["id"], admin)
    check(st == 204, "%s: delete: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/webhooks/%s/deliveries" % h_wecom["id"], admin)
    check(st == 404, "%s: a deleted webhook's deliveries: %s" % (be, st))
    srv.stop()
    rx.close()
    del os.environ["WORKPHONE_TEST_CLOCK"]


if __name__ == "__main__":
    sys.exit(run_backends(suite, "webhooks"))
