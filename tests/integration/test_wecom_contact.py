# SPDX-License-Identifier: MIT
# WeCom customer contact (issue 16, CONTRACT §6), black box over the real server on both
# backends: callbacks built with WeCom's documented algorithm from a known key (AES through
# `openssl enc`, SHA-1 through hashlib: an implementation apart from the server's), and a local
# fake of WeCom's API on loopback set as api_base (gettoken, batch/get_by_user, the transfers
# and their results, with an invalid token, a rate limit and waiting states).
import base64
import hashlib
import http.server
import json
import os
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PASSWORD, Server, check, created, enroll, err_code, login,  # noqa: E402
                     run_backends)

CORP = "ww1234567890abcdef"
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # WeCom's documentation example
SECRET = "contact-secret-1"
os.environ["WORKPHONE_JOBS_INTERVAL_S"] = "1"  # the WeCom jobs every second (a test hook)


def aes_key():
    return base64.b64decode(AES_KEY + "=")


def encrypt(msg, receiver=CORP):
    """WeCom's message encryption: random16 + len + msg + receiver, PKCS#7 to 32 bytes."""
    body = os.urandom(16) + struct.pack(">I", len(msg)) + msg + receiver.encode()
    pad = 32 - len(body) % 32
    body += bytes([pad]) * pad
    key = aes_key()
    out = subprocess.run(["openssl", "enc", "-aes-256-cbc", "-nopad", "-K", key.hex(), "-iv",
                          key[:16].hex()], input=body, capture_output=True, check=True).stdout
    return base64.b64encode(out).decode()


def signature(*parts):
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class Callbacks:
    def __init__(self, srv, tenant):
        self.srv, self.tenant, self.n = srv, tenant, 0

    def query(self, enc, ts=None, nonce=None, token=TOKEN, sig=None):
        ts = str(int(time.time()) if ts is None else ts)
        self.n += 1
        nonce = nonce or "n%d" % self.n
        sig = sig or signature(token, ts, nonce, enc)
        return {"msg_signature": sig, "timestamp": ts, "nonce": nonce}, ts, nonce

    def post(self, xml, receiver=CORP, tenant=None, **kw):
        enc = encrypt(xml.encode(), receiver)
        q, ts, nonce = self.query(enc, **kw)
        body = ("<xml><ToUserName><![CDATA[%s]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt>"
                "<AgentID><![CDATA[]]></AgentID></xml>" % (CORP, enc))
        path = "/api/v1/wecom/callback/%s?%s" % (tenant or self.tenant, urllib.parse.urlencode(q))
        st, data, _ = self.srv.raw("POST", path, raw=body,
                                   headers={"Content-Type": "text/xml"})
        return st, data.decode(errors="replace"), (path, body)

    def event(self, change, userid, ext, create=None, fail=None, **kw):
        xml = ("<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[sys]]>"
               "</FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType>"
               "<Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[%s]]>"
               "</ChangeType><UserID><![CDATA[%s]]></UserID><ExternalUserID><![CDATA[%s]]>"
               "</ExternalUserID>%s</xml>" %
               (CORP, create or int(time.time()), change, userid, ext,
                "<FailReason><![CDATA[%s]]></FailReason>" % fail if fail else ""))
        return self.post(xml, **kw)


class Fake:
    """WeCom's API as far as workphone uses it, with switches for its errors."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []  # (path, body)
        self.tokens = set()
        self.issued = 0
        self.invalidate_next = False  # the next call with a token answers 40014
        self.rate_limit = {}  # path -> times to answer 45009 first
        self.contacts = {}  # userid -> [(ext, name, phones)]
        self.transfer_errcode = {}  # ext -> errcode in the transfer answer
        self.status = {}  # ext -> transfer_result status
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self, obj):
                data = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                u = urllib.parse.urlparse(self.path)
                q = urllib.parse.parse_qs(u.query)
                with fake.lock:
                    fake.calls.append((u.path, None))
                    if u.path != "/cgi-bin/gettoken":
                        return self.answer({"errcode": 404, "errmsg": "no"})
                    if q.get("corpid") != [CORP] or q.get("corpsecret") != [SECRET]:
                        return self.answer({"errcode": 40001, "errmsg": "invalid credential"})
                    fake.issued += 1
                    tok = "tok-%d" % fake.issued
                    fake.tokens = {tok}
                    return self.answer({"errcode": 0, "errmsg": "ok", "access_token": tok,
                                        "expires_in": 7200})

            def do_POST(self):
                u = urllib.parse.urlparse(self.path)
                q = urllib.parse.parse_qs(u.query)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                p = u.path[len("/cgi-bin/"):]
                with fake.lock:
                    fake.calls.append((p, body))
                    tok = (q.get("access_token") or [""])[0]
                    if tok not in fake.tokens:
                        return self.answer({"errcode": 40014, "errmsg": "invalid access_token"})
                    if fake.invalidate_next:
                        fake.invalidate_next = False
                        fake.tokens = set()
                        return self.answer({"errcode": 42001, "errmsg": "access_token expired"})
                    if fake.rate_limit.get(p, 0) > 0:
                        fake.rate_limit[p] -= 1
                        return self.answer({"errcode": 45009, "errmsg": "api freq out of limit"})
                    if p == "externalcontact/batch/get_by_user":
                        out = []
                        for uid in body.get("userid_list", []):
                            for ext, name, phones in fake.contacts.get(uid, []):
                                out.append({"external_contact": {"external_userid": ext,
                                                                 "name": name, "type": 1},
                                            "follow_info": {"userid": uid,
                                                            "createtime": 1764230400,
                                                            "remark_mobiles": phones}})
                        # two pages: the cursor is walked
                        start = int(body.get("cursor") or 0)
                        page = out[start:start + 2]
                        nxt = str(start + 2) if start + 2 < len(out) else ""
                        return self.answer({"errcode": 0, "errmsg": "ok",
                                            "external_contact_list": page, "next_cursor": nxt})
                    if p in ("externalcontact/transfer_customer",
                             "externalcontact/resigned/transfer_customer"):
                        return self.answer({"errcode": 0, "errmsg": "ok", "customer": [
                            {"external_userid": e, "errcode": fake.transfer_errcode.get(e, 0)}
                            for e in body["external_userid"]]})
                    if p in ("externalcontact/transfer_result",
                             "externalcontact/resigned/transfer_result"):
                        return self.answer({"errcode": 0, "errmsg": "ok", "customer": [
                            {"external_userid": e, "status": s, "takeover_time": 1764230400}
                            for e, s in sorted(fake.status.items())], "next_cursor": ""})
                    return self.answer({"errcode": 404, "errmsg": "unknown"})

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.base = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def paths(self):
        with self.lock:
            return [c[0] for c in self.calls]

    def stop(self):
        self.httpd.shutdown()


def wait_for(what, fn, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    check(False, "timed out waiting for " + what)
    return None


def customers(srv, admin):
    st, j, _ = srv.req("GET", "/api/v1/customers?limit=200", admin)
    return j["items"] if st == 200 else []


def alerts(srv, admin, kind):
    st, j, _ = srv.req("GET", "/api/v1/alerts?limit=200", admin)
    return [a for a in j["items"] if a["kind"] == kind] if st == 200 else []


def suite(store):
    be = store.backend
    fake = Fake()
    srv = Server(store.data, store.db_args, now=None)
    try:
        run(store, srv, fake, be)
    finally:
        srv.stop()
        fake.stop()


def run(store, srv, fake, be):
    admin = login(srv, "admin")
    tenant = store.sql("SELECT id FROM tenants")
    top = store.sql("SELECT id FROM org_units")
    emp = {}
    for name, uid in (("zhang", "zhangsan"), ("li", "lisi"), ("wang", "wangwu"), ("zhao", None)):
        e = created(srv, admin, "/api/v1/employees", {
            "name": name, "org_unit_id": top, "role": "sales", "username": name,
            "password": PASSWORD}, "employee " + name)
        emp[name] = e["id"]
        if uid:
            st, j, _ = srv.req("PATCH", "/api/v1/employees/%s" % e["id"], admin,
                               body={"wecom_userid": uid})
            check(st == 200 and j.get("wecom_userid") == uid,
                  "%s: employee %s's wecom_userid: %s %s" % (be, name, st, j))
    cb = Callbacks(srv, tenant)

    # not configured yet: 404
    st, _, _ = cb.event("del_external_contact", "zhangsan", "wmA1")
    check(st == 404, "%s: callback of a tenant without WeCom settings: %s" % (be, st))
    # the tenant's settings, as the console writes them (secrets never answered back)
    st, j, _ = srv.req("PUT", "/api/v1/integrations/wecom", admin, body={
        "corp_id": CORP, "callback_token": TOKEN, "encoding_aes_key": AES_KEY,
        "contact_secret": SECRET, "api_base": fake.base})
    check(st == 200 and j.get("callback_url", "").endswith("/api/v1/wecom/callback/" + tenant)
          and "callback_token" not in j and "contact_secret" not in j,
          "%s: PUT /api/v1/integrations/wecom: %s %s" % (be, st, j))

    # URL verification: echostr decrypted
    enc = encrypt(b"echo-4242")
    q, _, _ = cb.query(enc)
    q["echostr"] = enc
    st, data, _ = srv.raw("GET", "/api/v1/wecom/callback/%s?%s" % (tenant,
                                                                    urllib.parse.urlencode(q)))
    check(st == 200 and data == b"echo-4242", "%s: URL verification: %s %r" % (be, st, data))
    q["msg_signature"] = "0" * 40
    st, _, _ = srv.raw("GET", "/api/v1/wecom/callback/%s?%s" % (tenant,
                                                                 urllib.parse.urlencode(q)))
    check(st == 403, "%s: URL verification with a bad signature: %s" % (be, st))

    # add, then delete: a customer, then the same customer_deleted alert as a device's
    st, body, _ = cb.event("add_external_contact", "zhangsan", "wmA1")
    check(st == 200 and body == "success", "%s: add_external_contact: %s %s" % (be, st, body))
    cs = [c for c in customers(srv, admin) if c["name"] == "wmA1"]
    check(len(cs) == 1 and cs[0]["owner_employee_id"] == emp["zhang"],
          "%s: add_external_contact makes a customer owned by the employee: %s" % (be, cs))
    a1 = cs[0]["id"] if cs else None
    st, body, sent = cb.event("del_external_contact", "zhangsan", "wmA1")
    check(st == 200 and body == "success", "%s: del_external_contact: %s %s" % (be, st, body))
    dels = alerts(srv, admin, "customer_deleted")
    check(len(dels) == 1 and dels[0]["customer_id"] == a1 and
          dels[0]["employee_id"] == emp["zhang"],
          "%s: del_external_contact raises customer_deleted at once: %s" % (be, dels))
    st, j, _ = srv.req("GET", "/api/v1/customers/%s/timeline" % a1, admin)
    kinds = [i.get("action") or i.get("kind") for i in (j or {}).get("items", [])]
    check(st == 200 and "deleted" in kinds and "added" in kinds,
          "%s: the timeline has the WeCom contact events: %s" % (be, kinds))

    # the same request again: replayed; the same event under a new nonce: stored once
    path, raw = sent
    st, _, _ = srv.raw("POST", path, raw=raw)
    check(st == 409, "%s: a replayed callback is refused: %s" % (be, st))
    # (same CreateTime as before: build it by hand)
    st, body, _ = cb.event("del_follow_user", "zhangsan", "wmA1", create=1764230400)
    check(st == 200, "%s: del_follow_user: %s" % (be, st))
    st, body, _ = cb.event("del_follow_user", "zhangsan", "wmA1", create=1764230400)
    check(st == 200 and body == "success", "%s: a duplicate event is accepted: %s" % (be, st))
    blk = alerts(srv, admin, "customer_blocked")
    check(len(blk) == 1 and blk[0]["customer_id"] == a1,
          "%s: del_follow_user raises one customer_blocked alert: %s" % (be, blk))
    st, _, _ = cb.event("edit_external_contact", "zhangsan", "wmA1")
    check(st == 200, "%s: edit_external_contact: %s" % (be, st))
    st, body, _ = cb.event("add_external_contact", "nobody", "wmZ9")
    check(st == 200 and body == "success", "%s: an unknown UserID is accepted: %s" % (be, st))
    check(not [c for c in customers(srv, admin) if c["name"] == "wmZ9"],
          "%s: ... and stores nothing" % be)

    # refusals
    st, body, _ = cb.event("del_external_contact", "zhangsan", "wmA1", sig="1" * 40)
    check(st == 403 and "bad_signature" in body, "%s: bad signature: %s %s" % (be, st, body))
    st, body, _ = cb.event("del_external_contact", "zhangsan", "wmA1", token="other")
    check(st == 403 and "bad_signature" in body, "%s: another token: %s %s" % (be, st, body))
    st, body, _ = cb.event("del_external_contact", "zhangsan", "wmA1", ts=int(time.time()) - 3600)
    check(st == 403 and "stale_timestamp" in body, "%s: stale: %s %s" % (be, st, body))
    st, body, _ = cb.event("del_external_contact", "zhangsan", "wmA1", receiver="wwOTHERCORP")
    check(st == 403 and "wrong_receiver" in body, "%s: wrong corp: %s %s" % (be, st, body))
    st, body, _ = cb.event("del_external_contact", "zhangsan", "wmA1", tenant="0" * 32)
    check(st == 404, "%s: unknown tenant: %s" % (be, st))
    st, _, _ = srv.raw("POST", "/api/v1/wecom/callback/%s?timestamp=1" % tenant, raw="<xml/>")
    check(st == 400, "%s: missing parameters: %s" % (be, st))
    q, _, _ = cb.query("x")
    st, _, _ = srv.raw("POST", "/api/v1/wecom/callback/%s?%s" % (tenant,
                                                                  urllib.parse.urlencode(q)),
                       raw="<xml>" + "a" * 70000 + "</xml>")
    check(st == 413, "%s: a body past 64 KiB: %s" % (be, st))
    check(len(alerts(srv, admin, "customer_deleted")) == 1,
          "%s: refused callbacks raise nothing" % be)

    # the contact list: new contacts become customers, a phone links to a known one, a
    # customer named by its external userid takes WeCom's name; a rate limit is waited out
    tok_d = enroll(srv, admin, emp["zhang"], "phone-zhang")
    st, j, _ = srv.req("POST", "/api/v1/device/events", tok_d, body={"events": [
        {"seq": 1, "type": "call", "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
         "direction": "in", "peer": {"phone": "13800138000"}, "duration_s": 10},
        {"seq": 2, "type": "contact", "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
         "channel": "wecom", "action": "added", "peer": {"id": "wmA4", "name": "赵六"}}]})
    check(st == 200, "%s: device events: %s %s" % (be, st, j))
    by_phone = [c for c in customers(srv, admin) if c["name"] == "13800138000"]
    fake.contacts = {"zhangsan": [("wmA1", "王女士", []), ("wmA2", "李先生", ["13800138000"]),
                                  ("wmA3", "陈小姐", [])],
                     "wangwu": [("wmD1", "周先生", [])]}
    fake.rate_limit["externalcontact/batch/get_by_user"] = 1
    st, j, _ = srv.req("POST", "/api/v1/integrations/wecom/contacts/sync", admin, body={})
    check(st == 202, "%s: sync now: %s %s" % (be, st, j))
    def synced():
        names = {c["name"]: c for c in customers(srv, admin)}
        return names if {"王女士", "陈小姐", "周先生"} <= set(names) else None
    names = wait_for("the contact list", synced) or {}
    check("wmA1" not in names, "%s: the callback's customer took WeCom's name" % be)
    check(names.get("陈小姐", {}).get("owner_employee_id") == emp["zhang"],
          "%s: a new contact is a customer of its employee" % be)
    check(names.get("周先生", {}).get("owner_employee_id") == emp["wang"],
          "%s: each employee's own contacts" % be)
    check("李先生" not in names and len(by_phone) == 1 and
          store.sql("SELECT customer_id FROM customer_identities WHERE kind = 'wecom' AND value ="
                    " 'wmA2'") == by_phone[0]["id"],
          "%s: a contact with a known phone links to that customer" % be)
    check(fake.paths().count("externalcontact/batch/get_by_user") >= 3,
          "%s: the rate limit was waited out and the pages walked: %s" % (be, fake.paths()))
    gets = fake.paths().count("/cgi-bin/gettoken")
    check(gets == 1, "%s: one access token for the calls: %d" % (be, gets))

    # a departure: WeCom's 离职继承 for the customers it knows, the states per customer
    fake.transfer_errcode = {"wmA3": 40097}
    fake.status = {"wmA1": 1, "wmA2": 2}
    fake.invalidate_next = True  # the token expires: fetched again, the call repeated
    st, h, _ = srv.req("POST", "/api/v1/handovers", admin, body={
        "from_employee": emp["zhang"], "to_employee": emp["li"], "reason": "departure"})
    check(st == 201 and h.get("wecom_transfers") == 4,
          "%s: departure with WeCom transfers: %s %s" % (be, st, h))
    hid = h.get("id")

    def states():
        st, j, _ = srv.req("GET", "/api/v1/handovers/%s" % hid, admin)
        if st != 200:
            return None
        s = {c["name"]: (c["wecom"] or {}).get("state") for c in j["customers"]}
        return (s, j) if s.get("王女士") == "accepted" and s.get("陈小姐") == "refused" else None
    got = wait_for("the transfer states", states)
    s, rep = got if got else ({}, {})
    check(s.get("王女士") == "accepted" and s.get("13800138000") == "waiting" and
          s.get("陈小姐") == "refused" and s.get("赵六") == "waiting",
          "%s: states per customer: %s" % (be, s))
    check(rep.get("wecom", {}).get("refused") == 1, "%s: the summary: %s" % (be, rep.get("wecom")))
    refused = [c["wecom"] for c in rep.get("customers", []) if c["name"] == "陈小姐"]
    check(refused and refused[0]["errcode"] == 40097, "%s: the refusal's errcode: %s" % (be, refused))
    sent = [b for p, b in fake.calls if p == "externalcontact/resigned/transfer_customer"]
    check(sent and sent[0]["handover_userid"] == "zhangsan" and
          sent[0]["takeover_userid"] == "lisi" and
          sorted(sent[0]["external_userid"]) == ["wmA1", "wmA2", "wmA3", "wmA4"],
          "%s: resigned/transfer_customer: %s" % (be, sent))
    check(fake.paths().count("/cgi-bin/gettoken") == 2,
          "%s: an expired token is fetched again: %s" % (be, fake.paths()))

    # a transfer (在职继承) the customer refuses: WeCom's transfer_fail callback says so
    fake.status = {"wmD1": 2}
    st, h2, _ = srv.req("POST", "/api/v1/handovers", admin, body={
        "from_employee": emp["wang"], "to_employee": emp["li"], "reason": "transfer"})
    check(st == 201 and h2.get("wecom_transfers") == 1, "%s: transfer: %s %s" % (be, st, h2))

    def waiting():
        st, j, _ = srv.req("GET", "/api/v1/handovers/%s" % h2.get("id"), admin)
        return j if st == 200 and j["customers"][0]["wecom"]["state"] == "waiting" else None
    wait_for("a waiting transfer", waiting)
    check("externalcontact/transfer_customer" in fake.paths(),
          "%s: transfer_customer for a transfer" % be)
    st, body, _ = cb.event("transfer_fail", "lisi", "wmD1", fail="customer_refused")
    check(st == 200, "%s: transfer_fail: %s" % (be, st))
    st, j, _ = srv.req("GET", "/api/v1/handovers/%s" % h2.get("id"), admin)
    w = j["customers"][0]["wecom"] if st == 200 else {}
    check(w.get("state") == "refused" and w.get("reason") == "customer refused",
          "%s: transfer_fail refuses the transfer: %s" % (be, w))

    # a successor without a WeCom UserID: skipped, with the reason
    st, h3, _ = srv.req("POST", "/api/v1/handovers", admin, body={
        "from_employee": emp["li"], "to_employee": emp["zhao"], "reason": "transfer"})
    st, j, _ = srv.req("GET", "/api/v1/handovers/%s" % h3.get("id"), admin)
    sk = {(c["wecom"] or {}).get("state") for c in j.get("customers", [])}
    check(st == 200 and sk == {"skipped"}, "%s: no successor UserID: skipped: %s" % (be, sk))


if __name__ == "__main__":
    sys.exit(run_backends(suite, "wecom"))
