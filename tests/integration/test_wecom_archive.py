#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The WeCom chat archive, black box over the real `workphone serve`, on SQLite and PostgreSQL,
# through the fake SDK library the suite builds (tests/wecom/fake_sdk.c), loaded by the path
# the tenant configures as the real one would be. RSA keys are made here with openssl. Checked:
# the settings (secrets sealed and never answered back, sdk_path only where the operator
# allows, admin only, audited), every message type archived, scanned and attached, media by
# chunks into the media store, a wrong key and corrupt records held with their reason and
# released when a key or a wecom_userid comes, dedupe with the phone's agent both ways,
# pacing and the back-off (the fake fails; the server's clock is moved), kill -9 between
# pull and store and at random during 10,000 records (nothing lost, nothing doubled), and the
# 10,000 records in search and alerts.
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.parse

from harness import (PASSWORD, Server, check, created, enroll, err_code, login, run_backends)
import wecom_records as W

LIB = os.environ["WORKPHONE_WECOM_FAKE_SDK"]
T0 = "2026-11-27T08:00:00Z"
T0_MS = 1795766400000  # T0 in ms
SECRET = "arch1ve-s3cret-value"
CONTACT_SECRET = "c0ntact-s3cret-value"
TOKEN = "cb-t0ken-value"
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def openssl_key(path):
    subprocess.run(["openssl", "genrsa", "-out", path, "2048"], check=True, capture_output=True)
    pub = subprocess.run(["openssl", "rsa", "-in", path, "-pubout"], check=True,
                         capture_output=True, text=True).stdout
    with open(path) as f:
        return f.read(), pub


class Archive:
    """The fake SDK's directory, and a server that loads it."""

    def __init__(self, store):
        self.store = store
        self.dir = os.path.join(store.data, "..", "fake-" + store.backend)
        os.makedirs(os.path.join(self.dir, "media"), exist_ok=True)
        self.records = os.path.join(self.dir, "records.jsonl")
        W.write_records(self.records, [])
        with open(os.path.join(self.dir, "secret"), "w") as f:
            f.write(SECRET)
        self.keys = {}
        for v in (1, 2):
            priv, pub = openssl_key(os.path.join(self.dir, "key%d.pem" % v))
            self.keys[v] = priv
            with open(os.path.join(self.dir, "pub_%d.pem" % v), "w") as f:
                f.write(pub)
        self.control({})
        # the operator allows the directory of the library (workphone.conf)
        with open(os.path.join(store.data, "workphone.conf"), "a") as f:
            f.write("wecom_sdk_dirs=%s\n" % os.path.dirname(LIB))
        self.clock = os.path.join(self.dir, "clock")
        self.set_clock(T0)
        self.srv = None

    def control(self, c):
        tmp = os.path.join(self.dir, "control.json.tmp")
        with open(tmp, "w") as f:
            json.dump(c, f)
        os.replace(tmp, os.path.join(self.dir, "control.json"))

    def set_clock(self, t):
        tmp = self.clock + ".tmp"
        with open(tmp, "w") as f:
            f.write(t + "\n")
        os.replace(tmp, self.clock)
        self.now = t

    def move_clock(self, seconds):
        ts = time.strptime(self.now, "%Y-%m-%dT%H:%M:%SZ")
        import calendar
        t = calendar.timegm(ts) + seconds
        self.set_clock(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)))

    def start(self):
        self.srv = Server(self.store.data, self.store.db_args,
                          env_extra={"WECOM_FAKE_DIR": self.dir,
                                     "WORKPHONE_TEST_CLOCK": self.clock})
        return self.srv

    def calls(self):
        try:
            with open(os.path.join(self.dir, "calls.log")) as f:
                return [l.split() for l in f if l.startswith("chat ")]
        except FileNotFoundError:
            return []

    def add(self, recs):
        W.write_records(self.records, recs, append=True)


def state(srv, tok):
    st, j, _ = srv.req("GET", "/api/v1/integrations/wecom", tok)
    return j.get("archive_state", {}) if st == 200 else {}


def wait_for(srv, tok, pred, what, timeout=90):
    end = time.time() + timeout
    s = {}
    while time.time() < end:
        s = state(srv, tok)
        if pred(s):
            return s
        time.sleep(0.2)
    check(False, "%s: the archive did not get there: %s" % (what, s))
    return s


def kick(srv, tok):
    st, _, _ = srv.req("POST", "/api/v1/integrations/wecom/archive/retry", tok)
    check(st == 202, "retry answers 202: %s" % st)


def rows(store, where):
    return int(store.sql("SELECT count(*) FROM messages WHERE " + where) or 0)


def settings_checks(a, srv, admin, c):
    """PUT/GET /integrations/wecom: what is refused, what is answered, what is stored."""
    st, j, _ = srv.req("GET", "/api/v1/integrations/wecom", admin)
    check(st == 200 and j["configured"] is False and j["pull_limit"] == 1000,
          "GET before any PUT: not configured, the defaults: %s %s" % (st, j))
    bad = [({"callback_token": "x"}, "corp_id"),
           ({"corp_id": "ww1", "sdk_path": "/bin/ls"}, "sdk_path"),
           ({"corp_id": "ww1", "sdk_path": "libWeWorkFinanceSdk_C.so"}, "sdk_path"),
           ({"corp_id": "ww1", "archive_private_keys": [{"version": 1, "pem": "nope"}]},
            "archive_private_keys[0].pem"),
           ({"corp_id": "ww1", "archive_private_keys": [{"version": 0, "pem": a.keys[1]}]},
            "archive_private_keys[0]"),
           ({"corp_id": "ww1", "encoding_aes_key": "short"}, "encoding_aes_key"),
           ({"corp_id": "ww1", "pull_limit": 1001}, "pull_limit"),
           ({"corp_id": "ww1", "api_base": "ftp://x"}, "api_base"),
           ({"corp_id": "ww1", "password": "x"}, "password")]
    for body, field in bad:
        st, j, _ = srv.req("PUT", "/api/v1/integrations/wecom", admin, body=body)
        check(st == 400 and field in json.dumps(j, ensure_ascii=False),
              "PUT %s is refused naming %s: %s %s" % (list(body), field, st, j))
    sales = login(srv, "zs")
    st, _, _ = srv.req("GET", "/api/v1/integrations/wecom", sales)
    check(st == 403, "a salesperson may not read the WeCom settings: %s" % st)
    st, _, _ = srv.req("PUT", "/api/v1/integrations/wecom", sales, body={"corp_id": "ww1"})
    check(st == 403, "nor change them: %s" % st)

    body = {"corp_id": "ww0123456789abcdef", "archive_secret": SECRET,
            "contact_secret": CONTACT_SECRET, "callback_token": TOKEN, "encoding_aes_key": AES,
            "archive_private_keys": [{"version": 1, "pem": a.keys[1]}], "sdk_path": LIB,
            "pull_limit": 500, "pull_interval_s": 30, "backoff_max_s": 60}
    status, raw, _ = srv.raw("PUT", "/api/v1/integrations/wecom", admin, body=body)
    j = json.loads(raw)
    check(status == 200, "PUT the settings: %s %s" % (status, raw[:300]))
    for secret in (SECRET, CONTACT_SECRET, TOKEN, AES, "PRIVATE KEY", a.keys[1][40:80]):
        check(secret.encode() not in raw, "the answer never holds a secret (%s...)" % secret[:6])
    check(j["secrets"] == {"callback_token": True, "encoding_aes_key": True,
                           "contact_secret": True, "archive_secret": True,
                           "proxy_password": False}, "which secrets are set: %s" % j["secrets"])
    check(j["callback_url"].endswith("/api/v1/wecom/callback/" + c["tenant"]) and
          j["callback_url"].startswith("http://127.0.0.1:"), "callback_url: %s" % j["callback_url"])
    check(j["api_base"] == "https://qyapi.weixin.qq.com" and j["api_base_default"],
          "api_base defaults to WeCom's own: %s" % j["api_base"])
    keys = j["archive_private_keys"]
    check(len(keys) == 1 and keys[0]["version"] == 1 and keys[0]["bits"] == 2048 and
          keys[0]["fingerprint"].startswith("sha256:"), "the key is listed, not shown: %s" % keys)
    # a PUT is a merge: what it leaves out keeps its value (the console never has the secrets)
    st, j, _ = srv.req("PUT", "/api/v1/integrations/wecom", admin, body={"pull_interval_s": 30})
    check(st == 200 and j["secrets"]["archive_secret"] and j["corp_id"] == "ww0123456789abcdef",
          "a partial PUT keeps the rest: %s" % j.get("secrets"))
    # stored sealed
    stored = a.store.sql("SELECT archive_secret || contact_secret || callback_token FROM"
                         " wecom_config") + a.store.sql("SELECT pem FROM wecom_archive_keys")
    check(SECRET not in stored and TOKEN not in stored and "PRIVATE" not in stored and
          stored.startswith("s1:"), "the store holds the secrets sealed")
    # audited by name, never by value
    st, j, _ = srv.req("GET", "/api/v1/audit?limit=50", admin)
    rows_ = [r for r in j["items"] if r["action"] == "wecom.settings.put"]
    text = json.dumps(rows_, ensure_ascii=False)
    check(len(rows_) == 2 and "archive_secret" in text and SECRET not in text and
          "PRIVATE" not in text, "the change is audited without its secrets: %s" % text[:300])
    # a key is removed with "pem": null, and nothing else changes
    st, j, _ = srv.req("PUT", "/api/v1/integrations/wecom", admin,
                       body={"archive_private_keys": [{"version": 2, "pem": a.keys[2]}]})
    check(st == 200 and [k["version"] for k in j["archive_private_keys"]] == [1, 2],
          "a key of version 2 added: %s %s" % (st, j.get("archive_private_keys")))
    st, j, _ = srv.req("PUT", "/api/v1/integrations/wecom", admin,
                       body={"archive_private_keys": [{"version": 2, "pem": None}]})
    check(st == 200 and [k["version"] for k in j["archive_private_keys"]] == [1] and
          j["archive_private_keys"][0]["fingerprint"] == keys[0]["fingerprint"],
          "the key of version 2 removed, version 1 kept: %s %s" % (st, j.get("archive_private_keys")))
    st, j, _ = srv.req("GET", "/api/v1/audit?limit=5", admin)
    last = [r for r in j["items"] if r["action"] == "wecom.settings.put"][0]
    check(last["details"]["keys_removed"] == [2] and last["details"]["keys_added"] == [],
          "the removal is audited as one: %s" % last["details"])


def every_type_checks(a, srv, admin, c):
    """Every type, the held ones, media, alerts, customers."""
    recs, expect = [], []
    for seq, (wp_type, m, text) in enumerate(
            W.every_type("t", T0_MS - 3600000, "zhangsan", W.EXT[0], os.path.join(a.dir, "media")),
            start=1):
        recs.append({"seq": seq, "ver": 1, "msg": m})
        expect.append((m["msgid"], wp_type, text))
    n = len(recs)
    ext = W.EXT[1]
    held = [
        # a corrupt record (its message is not JSON), one without encrypt_chat_msg, one whose
        # encrypt_chat_msg is damaged
        {"seq": n + 1, "ver": 1, "corrupt": "json", "msg": W.head("h-json", T0_MS, "text",
                                                                  "zhangsan", [ext])},
        {"seq": n + 2, "ver": 1, "corrupt": "record", "msg": W.head("h-rec", T0_MS, "text",
                                                                    "zhangsan", [ext])},
        {"seq": n + 3, "ver": 1, "corrupt": "chat_msg", "msg": W.head("h-dec", T0_MS, "text",
                                                                      "zhangsan", [ext])},
        # a key of a version the tenant has not given yet; a record that says 1 but was
        # encrypted for 2 (the wrong key)
        dict(seq=n + 4, ver=2, msg=dict(W.head("h-v2", T0_MS, "text", "zhangsan", [ext]),
                                        text={"content": "第二版密钥的消息"})),
        dict(seq=n + 5, ver=1, enc_ver=2, msg=dict(W.head("h-wrong", T0_MS, "text", "zhangsan",
                                                          [ext]), text={"content": "错钥"})),
        # an employee workphone does not know yet
        dict(seq=n + 6, ver=1, msg=dict(W.head("h-who", T0_MS, "text", "zhaoliu", [ext]),
                                        text={"content": "赵六的消息 飞单"})),
        # between two colleagues: archived, no customer made
        dict(seq=n + 7, ver=1, msg=dict(W.head("h-inner", T0_MS, "text", "zhangsan", ["lisi"]),
                                        text={"content": "同事之间"})),
    ]
    a.add(recs + held)
    kick(srv, admin)
    last = n + 7
    s = wait_for(srv, admin, lambda s: s.get("seq") == last, "every type")
    check(s.get("records") == last and s.get("held") == 6 and s.get("failures") == 0,
          "records %d, 6 held: %s" % (last, s))
    # every type stored, once, with its msgtype and text
    for msgid, wp_type, text in expect:
        n_rows = rows(a.store, "msgid = '%s'" % msgid)
        got = a.store.sql("SELECT msgtype || '|' || COALESCE(text, '') FROM messages WHERE"
                          " msgid = '%s'" % msgid)
        check(n_rows == 1 and got.startswith(wp_type + "|") and
              (text is None or text in got), "%s stored once (%d) as %s with '%s': %r" %
              (msgid, n_rows, wp_type, text, got[:120]))
    check(rows(a.store, "msgid = 'h-inner' AND customer_id IS NULL AND chat = 'lisi'") == 1,
          "a chat between colleagues is archived without a customer")
    # through the API, searchable
    st, j, _ = srv.req("GET", "/api/v1/messages?q=" + urllib.parse.quote("私下转账给我就行"), admin)
    check(st == 200 and len(j["items"]) == 1 and j["items"][0]["channel"] == "wecom",
          "a chat record's text is searchable: %s" % j)
    # the customer: the external userid on channel wecom
    st, j, _ = srv.req("GET", "/api/v1/customers?limit=200", admin)
    cust = a.store.sql("SELECT customer_id FROM customer_identities WHERE kind = 'wecom' AND"
                       " value = '%s'" % W.EXT[0])
    check(len(cust) == len(c["zs"]) and rows(a.store, "customer_id = '%s' AND employee_id = '%s'"
                                   % (cust, c["zs"])) >= 30,
          "the external contact is a customer, its messages zhangsan's: %s" % cust)
    # alerts: sensitive words (a chat record's, a markdown's too) and money
    al = a.store.sql("SELECT kind || ':' || COALESCE(pattern, '') FROM alerts WHERE message_id IN"
                     " (SELECT id FROM messages WHERE channel = 'wecom')").split("\n")
    check("sensitive_word:飞单" in al and "sensitive_word:保本保息" in al and "money:" in al,
          "the archive raises alerts: %s" % al)
    check(rows(a.store, "msgid = 't-00-text' AND recalled = 1") == 1,
          "a revoke marks the message it recalls")
    # media: fetched chunk by chunk (the video is 140 KB, chunks 64 KB), content-addressed,
    # and reachable through the message
    ref = a.store.sql("SELECT media FROM messages WHERE msgtype = 'video' AND msgid LIKE 't-%'")
    with open(os.path.join(a.dir, "media", "tvideo"), "rb") as f:
        video = f.read()
    st, body, _ = srv.raw("GET", "/api/v1/media/" + ref, admin)
    check(st == 200 and body == video, "the video is in the media store whole: %s %s" %
          (st, ref))
    n_media = int(a.store.sql("SELECT count(*) FROM messages WHERE channel = 'wecom' AND media"
                              " IS NOT NULL"))
    check(n_media == 8, "every message with media has it: %d" % n_media)
    # held, with their reasons
    st, j, _ = srv.req("GET", "/api/v1/integrations/wecom/archive/held", admin)
    kinds = {i["seq"]: i["kind"] for i in j["items"]}
    # a wrong key: OpenSSL 3.0 says so (bad_key); from 3.2 on it answers random bytes for a
    # PKCS#1 v1.5 that does not open (implicit rejection), which DecryptData then refuses
    if kinds.get(n + 5) == "decrypt":
        kinds[n + 5] = "bad_key"
    check(kinds == {n + 1: "invalid_message", n + 2: "invalid_record", n + 3: "decrypt",
                    n + 4: "no_key", n + 5: "bad_key", n + 6: "unknown_employee"},
          "held with their reasons: %s" % j["items"])
    check(all(i["reason"] for i in j["items"]), "each with a reason")
    # the key of version 2 comes: what waited for it is stored; the wrong one stays held
    st, j, _ = srv.req("PUT", "/api/v1/integrations/wecom", admin,
                       body={"archive_private_keys": [{"version": 2, "pem": a.keys[2]}]})
    check(st == 200 and len(j["archive_private_keys"]) == 2, "the second key is added")
    s = wait_for(srv, admin, lambda s: s.get("held") == 5 and not s.get("retry_pending"),
                 "the second key")
    check(rows(a.store, "msgid = 'h-v2'") == 1, "the record of version 2 is stored now")
    # zhaoliu gets its employee: its record is stored as wangwu's
    st, j, _ = srv.req("PATCH", "/api/v1/employees/" + c["ww"], admin,
                       body={"wecom_userid": "zhaoliu"})
    check(st == 200 and j["wecom_userid"] == "zhaoliu", "PATCH wecom_userid: %s %s" % (st, j))
    st, j, _ = srv.req("PATCH", "/api/v1/employees/" + c["ls"], admin,
                       body={"wecom_userid": "zhaoliu"})
    check(st == 409, "a wecom_userid is one employee's: %s %s" % (st, j))
    s = wait_for(srv, admin, lambda s: s.get("held") == 4 and not s.get("retry_pending"),
                 "the new wecom_userid")
    check(rows(a.store, "msgid = 'h-who' AND employee_id = '%s'" % c["ww"]) == 1,
          "the record of zhaoliu is wangwu's now")
    check(int(a.store.sql("SELECT count(*) FROM alerts a JOIN messages m ON m.id = a.message_id"
                          " WHERE m.msgid = 'h-who'")) == 1, "and scanned when released")
    return last


def dedupe_checks(a, srv, admin, c, seq):
    """The phone's agent and the archive: one row per message."""
    dev = enroll(srv, admin, c["zs"], "SN-zs")
    ext = W.EXT[5]
    ts = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + \
        ".%03dZ" % (ms % 1000)
    ms = T0_MS - 600000

    def agent(dseq, text, msgid=None, off_ms=0, direction="out"):
        e = {"seq": dseq, "type": "message", "ts": ts(ms + off_ms), "channel": "wecom",
             "direction": direction, "peer": {"id": ext}, "chat": ext, "msgtype": "text",
             "text": text}
        if msgid:
            e["msgid"] = msgid
        st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": [e]})
        check(st == 200 and j["acked_seq"] == dseq, "agent event %d: %s %s" % (dseq, st, j))
        return j

    def record(s, msgid, text, off_ms=0):
        m = W.head(msgid, ms + off_ms, "text", "zhangsan", [ext])
        m["text"] = {"content": text}
        return {"seq": s, "ver": 1, "msg": m}

    # 1. the agent first, with the msgid; 2. the agent first without it (the archive's copy
    # 50 s later); 3. the agent's copy without a msgid comes after the archive's; 4. a
    # different text is another message
    agent(1, "甲：同一条消息", msgid="d-1")
    agent(2, "乙：没有msgid", off_ms=0)
    a.add([record(seq + 1, "d-1", "甲：同一条消息"), record(seq + 2, "d-2", "乙：没有msgid", 50000),
           record(seq + 3, "d-3", "丙：后到的手机"), record(seq + 4, "d-4", "丁：只在存档")])
    kick(srv, admin)
    s = wait_for(srv, admin, lambda s: s.get("seq") == seq + 4, "dedupe")
    agent(3, "丙：后到的手机", off_ms=-30000)
    j = agent(4, "丁：只在存档 但手机说的不一样")
    agent(5, "甲：同一条消息", msgid="d-1")  # a resend under a new seq: still one
    for text, n in [("甲：同一条消息", 1), ("乙：没有msgid", 1), ("丙：后到的手机", 1),
                    ("丁：只在存档", 2)]:
        got = rows(a.store, "text LIKE '%s%%'" % text)
        check(got == n, "'%s': %d row(s), wanted %d" % (text, got, n))
    check(rows(a.store, "text = '乙：没有msgid' AND msgid = 'd-2'") == 1,
          "the agent's row took the archive's msgid")
    check(s.get("duplicates", 0) >= 2, "the archive counts what the agent had: %s" % s)
    return seq + 4


def pacing_checks(a, srv, admin, seq):
    """The pull limit, the pull interval, the back-off after errors and the gap between calls."""
    calls = a.calls()
    check(calls and all(int(cl[3]) == 500 for cl in calls), "every pull asks for the limit, 500")
    # caught up: no pull until the interval (30 s) passed on the server's clock
    n0 = len(a.calls())
    time.sleep(2.5)
    check(len(a.calls()) == n0, "caught up, it waits for the interval: %d -> %d calls" %
          (n0, len(a.calls())))
    # three network errors in a row: 5 s, 10 s, 20 s apart, then it goes on
    a.control({"chat_errors": 3, "chat_error_code": 10001})
    a.move_clock(31)
    s = wait_for(srv, admin, lambda s: s.get("failures") == 1, "the first failure")
    check("10001" in (s.get("last_error") or "") and "network" in s.get("last_error"),
          "the error is said: %s" % s.get("last_error"))
    n1 = len(a.calls())
    a.move_clock(4)
    time.sleep(2.5)
    check(len(a.calls()) == n1, "no pull before the back-off (5 s) passed")
    a.move_clock(2)
    s = wait_for(srv, admin, lambda s: s.get("failures") == 2, "the second failure")
    a.move_clock(9)
    time.sleep(2.5)
    check(state(srv, admin).get("failures") == 2, "the second back-off is 10 s")
    a.move_clock(2)
    s = wait_for(srv, admin, lambda s: s.get("failures") == 3, "the third failure")
    a.move_clock(21)
    s = wait_for(srv, admin, lambda s: s.get("failures") == 0, "back after the errors")
    check(s.get("errors") >= 3 and s.get("last_error"), "the errors are counted: %s" % s)
    # WeCom answers an error code (an IP not allowed, say): recorded, backed off
    a.control({"chat_errcode": 301042})
    a.move_clock(31)
    s = wait_for(srv, admin, lambda s: s.get("failures") == 1, "an errcode")
    check("301042" in s.get("last_error", ""), "the errcode is said: %s" % s.get("last_error"))
    a.control({})
    a.move_clock(6)
    wait_for(srv, admin, lambda s: s.get("failures") == 0, "after the errcode")
    # a backlog of 1,200 records: pulled back to back, in pages of 500, at least 100 ms apart
    recs, _ = W.bulk(1200, seq + 1, T0_MS - 7200000, ["zhangsan", "lisi"])
    a.add(recs)
    mark = len(a.calls())
    kick(srv, admin)
    wait_for(srv, admin, lambda s: s.get("seq") == seq + 1200, "a backlog")
    calls = a.calls()[mark:]
    gaps = [int(calls[i][1]) - int(calls[i - 1][1]) for i in range(1, len(calls))]
    check(len(calls) >= 3 and all(g >= 95 for g in gaps),
          "pages of 500, at least 100 ms apart: %d calls, gaps %s" % (len(calls), gaps))
    return seq + 1200


def crash_checks(a, srv, admin, seq, store):
    """kill -9 between the pull and the store, then at random during 10,000 records; nothing
    lost, nothing doubled; the 10,000 in search and alerts."""
    recs, bad = W.bulk(10000, seq + 1, T0_MS - 86400000, ["zhangsan", "lisi", "zhaoliu"],
                       os.path.join(a.dir, "media"))
    a.control({"stall_seq": seq + 3})
    a.add(recs)
    kick(srv, admin)
    stalled = os.path.join(a.dir, "stalled")
    end = time.time() + 60
    while not os.path.exists(stalled) and time.time() < end:
        time.sleep(0.1)
    check(os.path.exists(stalled), "the connector reached the record between pull and store")
    before = state(srv, admin)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    check(before.get("seq") == seq, "nothing of that page was stored before the kill: %s" %
          before.get("seq"))
    a.control({})
    os.remove(stalled)
    for round_ in range(2):
        srv = a.start()
        time.sleep(random.uniform(0.8, 2.5))
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
    srv = a.start()
    admin = login(srv, "admin")
    t = time.time()
    s = wait_for(srv, admin, lambda s: s.get("seq") == seq + 10000, "10,000 records", 600)
    total, distinct = store.sql("SELECT count(*) || ' ' || count(DISTINCT msgid) FROM messages"
                                " WHERE msgid LIKE 'bulk-%'").split()
    check(int(total) == 10000 + 1200 and int(distinct) == int(total),
          "after kill -9 three times, every record once: %s rows, %s msgids" % (total, distinct))
    # a text record (W.bulk cycles 18 kinds, the first 7 texts; an image holds no token)
    probe = seq + 1 + random.randrange(0, 10000 // 18) * 18 + random.randrange(0, 7)
    st, j, _ = srv.req("GET", "/api/v1/messages?q=" + urllib.parse.quote("编号%d号" % probe), admin)
    check(st == 200 and len(j["items"]) == 1, "record %d is found by search: %s" % (probe, j))
    got = int(store.sql("SELECT count(*) FROM alerts a JOIN messages m ON m.id = a.message_id"
                        " WHERE a.pattern = '飞单' AND m.msgid LIKE 'bulk-%%' AND m.seq > %d"
                        % seq))
    check(got == bad, "the 10,000 raised their %d alerts, once each: %d" % (bad, got))
    return srv, admin


def key_removed_mid_pull_checks(a, srv, admin, seq):
    """A key removed while a pull waits on WeCom: what that pull answers is opened with the keys
    in force when it came back, not with those its run began with."""
    held0 = state(srv, admin).get("held")
    stalled = os.path.join(a.dir, "chat_stalled")
    a.control({"chat_stall_ms": 3000})
    kick(srv, admin)
    end = time.time() + 30
    while not os.path.exists(stalled) and time.time() < end:
        time.sleep(0.05)
    check(os.path.exists(stalled), "a pull began and waits on GetChatData")
    st, j, _ = srv.req("PUT", "/api/v1/integrations/wecom", admin,
                       body={"archive_private_keys": [{"version": 2, "pem": None}]})
    check(st == 200 and [k["version"] for k in j["archive_private_keys"]] == [1],
          "the key of version 2 removed during the pull: %s %s" % (st, j.get("archive_private_keys")))
    a.add([dict(seq=seq + 1, ver=2, msg=dict(W.head("h-v2-late", T0_MS, "text", "zhangsan",
                                                    [W.EXT[1]]), text={"content": "迟到的第二版"}))])
    # (on SQLite the PUT waits for the run's connection, so the record comes in the next run)
    kick(srv, admin)
    s = wait_for(srv, admin, lambda s: s.get("seq") == seq + 1, "the pull that waited")
    st, j, _ = srv.req("GET", "/api/v1/integrations/wecom/archive/held", admin)
    kinds = [i["kind"] for i in j.get("items", []) if i["seq"] == seq + 1]
    check(s.get("held") == held0 + 1 and kinds == ["no_key"] and
          rows(a.store, "msgid = 'h-v2-late'") == 0,
          "a record of the removed key is held, not opened: %s %s" % (kinds, s))
    a.control({})
    os.unlink(stalled)
    return seq + 1


def suite(store):
    a = Archive(store)
    srv = a.start()
    admin = login(srv, "admin")
    st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
    c = {"tenant": j["employee"]["tenant_id"], "hq": j["employee"]["org_unit_id"]}
    for key, user, name in [("zs", "zs", "张三"), ("ls", "ls", "李四"), ("ww", "ww", "王五")]:
        c[key] = created(srv, admin, "/api/v1/employees",
                         {"name": name, "org_unit_id": c["hq"], "role": "sales", "username": user,
                          "password": PASSWORD}, "employee " + user)["id"]
    for key, uid in [("zs", "zhangsan"), ("ls", "lisi")]:
        st, j, _ = srv.req("PATCH", "/api/v1/employees/" + c[key], admin,
                           body={"wecom_userid": uid})
        check(st == 200 and j["wecom_userid"] == uid, "wecom_userid %s: %s %s" % (uid, st, j))
    settings_checks(a, srv, admin, c)
    seq = every_type_checks(a, srv, admin, c)
    seq = dedupe_checks(a, srv, admin, c, seq)
    seq = pacing_checks(a, srv, admin, seq)
    srv, admin = crash_checks(a, srv, admin, seq, store)
    key_removed_mid_pull_checks(a, srv, admin, seq + 10000)
    with open(srv.err.name) as f:
        log = f.read()
    check(SECRET not in log and CONTACT_SECRET not in log and "PRIVATE KEY" not in log,
          "the server log holds no secret")
    srv.stop()


if __name__ == "__main__":
    sys.exit(run_backends(suite, "wecom"))
