# SPDX-License-Identifier: MIT
# Retention and legal holds (issue 20), on SQLite and PostgreSQL: rules per channel and alert
# category, a purge by `workphone jobs run` on the fake clock that removes exactly what expired
# (the timeline's messages, search, media download 404, the store's counts) and nothing under a
# hold, one audit row per run with exact counts; lifting the holds lets the next run take the
# rest. Admins only (403 for a manager and a salesperson on every route); bad bodies 400.
import hashlib
import json
import os
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PASSWORD, T0, WP, Server, check, created, enroll, err_code,  # noqa: E402
                     login, run_backends)

OLD = "2024-01-10T02:00:00Z"     # past a year, within five: a year's rule lets it go
RECENT = "2026-11-01T02:00:00Z"  # within a year
OLD_NOW = "2024-01-10T03:00:00Z"


def jobs(store, now=T0, kill_after=None):
    env = dict(os.environ, WORKPHONE_TEST_HOOKS="1", WORKPHONE_FAKE_NOW=now)
    if kill_after:  # the Nth step of the jobs (a purge batch among them) dies before its commit
        env["WORKPHONE_TEST_JOBS_KILL_AFTER"] = str(kill_after)
    r = subprocess.run([WP, "jobs", "run", "--data", store.data] + store.db_args, env=env,
                       capture_output=True, text=True)
    if kill_after:
        check(r.returncode in (0, -9), "%s: jobs run killed after %d: %s %s" %
              (store.backend, kill_after, r.returncode, r.stderr))
        return r.returncode
    check(r.returncode == 0, "%s: jobs run: %s %s" % (store.backend, r.returncode, r.stderr))
    return r.stderr


class Phone:
    def __init__(self, srv, token):
        self.srv, self.token, self.seq = srv, token, 0

    def send(self, ts, peer, text=None, channel="wechat", media=None, call=None):
        self.seq += 1
        if call:
            e = {"seq": self.seq, "type": "call", "ts": ts, "direction": "out",
                 "peer": {"phone": peer},
                 "duration_s": 30, "recording": call}
        else:
            e = {"seq": self.seq, "type": "message", "ts": ts, "channel": channel,
                 "direction": "out", "peer": {"id": peer, "name": peer}, "chat": peer,
                 "msgtype": "image" if media else "text"}
            if channel == "sms":
                e["peer"] = {"phone": peer}
            if media:
                e.update(media=media, filename="a.jpg", size=4)
            else:
                e["text"] = text
        st, j, _ = self.srv.req("POST", "/api/v1/device/events", self.token,
                                body={"events": [e]})
        check(st == 200 and j.get("acked_seq") == self.seq and j.get("rejected") == [],
              "events: %s %s" % (st, j))

    def upload(self, data):
        ref = "sha256:" + hashlib.sha256(data).hexdigest()
        st, j, _ = self.srv.req("PUT", "/api/v1/device/media/" + ref, self.token, raw=data,
                                headers={"Content-Type": "application/octet-stream"})
        check(st == 201, "upload: %s %s" % (st, j))
        return ref


def suite(store):
    be = store.backend
    # On PostgreSQL the media live in a shared directory (media_dir=, as nodes of a group have
    # them): the purge, run by `jobs run`, must unlink them there; SQLite keeps DIR/media.
    root = os.path.join(store.data, "media")
    if be == "postgresql":
        root = os.path.join(os.path.dirname(os.path.abspath(store.data)), "shared-media")
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(store.data, "workphone.conf"), "a") as f:
            f.write("media_dir=%s\n" % root)
    # the devices send what is old while the clock says it is new (ingest takes 180 days back)
    srv = Server(store.data, store.db_args, now=OLD_NOW)
    admin = login(srv, "admin")
    st, j, _ = srv.req("GET", "/api/v1/org-units", admin)
    top = j["items"][0]["id"]

    def person(name, role, user):
        return created(srv, admin, "/api/v1/employees",
                       {"name": name, "org_unit_id": top, "role": role, "username": user,
                        "password": PASSWORD}, name)["id"]

    amy = person("Amy", "sales", "amy")
    bob = person("Bob", "sales", "bob")
    person("Mia", "manager", "mia")
    pa = Phone(srv, enroll(srv, admin, amy, "SN-A"))
    pb = Phone(srv, enroll(srv, admin, bob, "SN-B"))

    # --- what Amy and Bob said, old and recent --------------------------------------------
    pic = pa.upload(b"\xff\xd8\xff\xe0old picture")
    rec = pa.upload(b"RIFFold recording")
    pa.send(OLD, "wx_carl", "老客户甲退休计划")          # wechat, old: goes
    pa.send(OLD, "13800138001", "短信旧内容丙", channel="sms")  # sms: no rule, stays
    pa.send(OLD, "wx_carl", "我们私单处理丁")             # private_deal alert: kept 5 years
    pa.send(OLD, "wx_dora", "多拉的旧消息戊")             # Dora is held
    pa.send(OLD, "wx_carl", media=pic)                   # wechat, old, a picture: goes with it
    pa.send(OLD, "13800138002", call=rec)                   # call, old: goes with its recording
    pb.send(OLD, "wx_eve", "鲍勃的旧消息己")              # Bob is held
    srv.stop()
    srv = Server(store.data, store.db_args)  # now T0
    admin = login(srv, "admin")
    pa.srv = pb.srv = srv
    pa.send(RECENT, "wx_carl", "最近的消息乙")            # wechat, recent: stays

    st, j, _ = srv.req("GET", "/api/v1/customers?limit=200", admin)
    cust = {c["name"]: c["id"] for c in j.get("items", [])}
    check({"wx_carl", "wx_dora", "wx_eve"} <= set(cust), "%s: customers: %s" % (be, j))
    carl, dora = cust.get("wx_carl"), cust.get("wx_dora")

    def texts():
        st, j, _ = srv.req("GET", "/api/v1/messages?limit=200", admin)
        check(st == 200, "%s: messages: %s %s" % (be, st, j))
        return sorted((m.get("text") or m.get("msgtype") or "") for m in j.get("items", []))

    def found(q):
        st, j, _ = srv.req("GET", "/api/v1/messages?q=" + urllib.parse.quote(q), admin)
        return len(j.get("items", [])) if st == 200 else -1

    def audits():
        st, j, _ = srv.req("GET", "/api/v1/audit?action=retention.purge&limit=100", admin)
        check(st == 200, "%s: audit: %s %s" % (be, st, j))
        return j.get("items", [])

    def media_status(ref):
        st, _, _ = srv.raw("GET", "/api/v1/media/" + ref, admin)
        return st

    def rows(table):
        return int(store.sql("SELECT COUNT(*) FROM " + table))

    before = texts()
    check(len(before) == 7 and rows("calls") == 1, "%s: 7 messages and a call: %s" % (be, before))
    check(media_status(pic) == 200 and media_status(rec) == 200, "%s: media readable" % be)
    # a file's place on disk, as its row's path says: ab/cd/ and its sha256, or with a master
    # key (WORKPHONE_TEST_SEALED: cli-retention-sealed) its keyed name
    on_disk = {}
    for ref in (pic, rec):
        h = ref[7:]
        on_disk[h] = os.path.join(root, store.sql("SELECT path FROM media WHERE sha256 = '%s'" % h))
        check(os.path.exists(on_disk[h]), "%s: the file %s is in %s" % (be, h[:8], root))

    jobs(store)  # the other jobs' work is done before there is a rule: the purge's steps are alone

    # --- rules and holds, and the bad bodies on the way ---------------------------------------
    st, j, _ = srv.req("GET", "/api/v1/retention", admin)
    check(st == 200 and j == {"rules": []}, "%s: no rule: kept forever: %s %s" % (be, st, j))
    bad = [({"rules": [{"kind": "channel", "name": "wechat", "days": 0}]}, "rules[0].days"),
           ({"rules": [{"kind": "channel", "name": "wechat", "days": 36501}]}, "rules[0].days"),
           ({"rules": [{"kind": "channel", "name": "sms", "days": 30},
                       {"kind": "channel", "name": "wechat", "days": "x"}]}, "rules[1].days"),
           ({"rules": [{"kind": "topic", "name": "wechat", "days": 3}]}, "rules[0].kind"),
           ({"rules": [{"kind": "channel", "days": 3}]}, "rules[0].name"),
           ({"rules": [{"kind": "channel", "name": "We Chat", "days": 3}]}, "rules[0].name"),
           ({"rules": [{"kind": "channel", "name": "sms", "days": 3},
                       {"kind": "channel", "name": "sms", "days": 4}]}, "twice"),
           ({"rules": [{"kind": "channel", "name": "sms", "days": 3, "x": 1}]}, "'x'"),
           ({"rules": "all"}, "'rules'"), ({}, "'rules'")]
    for body, word in bad:
        st, j, _ = srv.req("PUT", "/api/v1/retention", admin, body=body)
        check(st == 400 and err_code(j) == "invalid_request" and word in j["error"]["message"],
              "%s: PUT retention %s: 400 naming %s: %s %s" % (be, body, word, st, j))
    st, j, _ = srv.raw("PUT", "/api/v1/retention", admin, raw="{no",
                       headers={"Content-Type": "application/json"})
    check(st == 400, "%s: not JSON: %s" % (be, st))
    rules = [{"kind": "channel", "name": "wechat", "days": 365},
             {"kind": "channel", "name": "call", "days": 365},
             {"kind": "category", "name": "private_deal", "days": 1825}]
    st, j, _ = srv.req("PUT", "/api/v1/retention", admin, body={"rules": rules})
    got = [{k: r[k] for k in ("kind", "name", "days")} for r in j.get("rules", [])]
    check(st == 200 and got == [rules[1], rules[0], rules[2]],
          "%s: PUT retention: %s %s" % (be, st, j))
    st, j2, _ = srv.req("PUT", "/api/v1/retention", admin, body={"rules": rules})
    check(st == 200 and j2 == j, "%s: the same rules again change nothing: %s %s" % (be, st, j2))
    st, j2, _ = srv.req("PUT", "/api/v1/retention", admin,
                        body={"rules": rules + [{"kind": "channel", "name": "sms", "days": 30}]})
    st2, j3, _ = srv.req("PUT", "/api/v1/retention", admin, body={"rules": rules})
    check(st == 200 and len(j2["rules"]) == 4 and st2 == 200 and j3 == j,
          "%s: a rule not listed goes: %s %s" % (be, j2, j3))
    st, j2, _ = srv.req("GET", "/api/v1/audit?action=retention.put&limit=10", admin)
    check(st == 200 and len(j2["items"]) == 4 and j2["items"][0]["details"] == {"rules": rules},
          "%s: each PUT audited with its body: %s" % (be, j2))

    hold_bad = [({"reason": "诉讼", "customer_ids": [carl]}, "'name'"),
                ({"name": "案件", "customer_ids": [carl]}, "'reason'"),
                ({"name": "案件", "reason": "诉讼"}, "someone"),
                ({"name": "案件", "reason": "诉讼", "customer_ids": ["nope"]}, "customer_ids"),
                ({"name": "案件", "reason": "诉讼", "employee_ids": ["0" * 24]}, "not found"),
                ({"name": "案件", "reason": "诉讼", "customer_ids": carl}, "customer_ids")]
    for body, word in hold_bad:
        st, j, _ = srv.req("POST", "/api/v1/legal-holds", admin, body=body)
        check(st == 400 and word in j.get("error", {}).get("message", ""),
              "%s: POST legal-holds %s: 400 naming %s: %s %s" % (be, body, word, st, j))
    h1 = created(srv, admin, "/api/v1/legal-holds",
                 {"name": "多拉投诉案", "reason": "客户投诉, 法务要求保全", "customer_ids": [dora]},
                 "customer hold")
    check(h1["active"] is True and h1["customer_ids"] == [dora] and h1["employee_ids"] == [] and
          h1["lifted_at"] is None, "%s: the hold: %s" % (be, h1))
    h2 = created(srv, admin, "/api/v1/legal-holds",
                 {"name": "Bob 内部调查", "reason": "内审", "employee_ids": [bob]},
                 "employee hold")
    st, j, _ = srv.req("GET", "/api/v1/legal-holds", admin)
    check(st == 200 and sorted(h["id"] for h in j["items"]) == sorted([h2["id"], h1["id"]]) and
          all(h["active"] for h in j["items"]), "%s: holds listed: %s %s" % (be, st, j))

    # --- rights: admins only ----------------------------------------------------------------
    for user in ("mia", "amy"):
        tok = login(srv, user)
        for method, path, body in [("GET", "/api/v1/retention", None),
                                   ("PUT", "/api/v1/retention", {"rules": []}),
                                   ("GET", "/api/v1/legal-holds", None),
                                   ("POST", "/api/v1/legal-holds",
                                    {"name": "x", "reason": "y", "customer_ids": [carl]}),
                                   ("DELETE", "/api/v1/legal-holds/" + h1["id"],
                                    {"reason": "y"})]:
            st, j, _ = srv.req(method, path, tok, body=body)
            check(st == 403, "%s: %s %s %s: 403: %s %s" % (be, user, method, path, st, j))

    # --- the purge, killed in its second batch (the calls'; the other jobs did their work in
    # the run before the rules): the first batch stays, counted and not yet audited, and the
    # next run finishes it with one audit row that counts every row once ----------------------
    # (the other jobs' steps come first: a run killed at step 1, 2, 3, ... in turn until one
    # ends meets the purge's second batch once, with its first one committed)
    seen, k = [], 0
    while k < 40:
        k += 1
        rc = jobs(store, kill_after=k)
        seen.append((rows("retention_progress"), len(audits()), rows("messages"), rows("calls")))
        if rc == 0:
            break
    check(rc == 0 and (1, 0, 7, 0) in seen and all(a == 0 for _, a, _, _ in seen[:-1]),
          "%s: a run died with the calls' batch committed, counted and unaudited; the next "
          "ended it: %s" % (be, seen))
    after = texts()
    check(after == sorted(["最近的消息乙", "短信旧内容丙", "我们私单处理丁", "多拉的旧消息戊",
                           "鲍勃的旧消息己"]),
          "%s: exactly the expired are gone: %s" % (be, after))
    check(found("退休计划") == 0 and found("最近的消息") == 1 and found("多拉的旧") == 1,
          "%s: search finds the kept and not the purged" % be)
    check(media_status(pic) == 404 and media_status(rec) == 404,
          "%s: the purged media answer 404" % be)
    check(rows("messages") == 5 and rows("calls") == 0 and rows("media") == 0 and
          rows("media_uploads") == 0 and rows("retention_progress") == 0 and
          rows("retention_files") == 0, "%s: the store's counts" % be)
    for ref in (pic, rec):
        h = ref[7:]
        check(not os.path.exists(on_disk[h]),
              "%s: the file %s is gone from %s" % (be, h[:8], root))
    if be == "sqlite":
        r = store.sql("INSERT INTO message_fts (message_fts) VALUES ('integrity-check');"
                      " SELECT 'ok';")
        check(r == "ok", "%s: the search index is whole: %s" % (be, r))
    st, j, _ = srv.req("GET", "/api/v1/customers/%s/timeline?limit=200" % carl, admin)
    kinds = [i.get("type") for i in j.get("items", [])] if st == 200 else None
    check(st == 200 and kinds.count("message") == 2,
          "%s: Carl's timeline keeps 2 messages: %s" % (be, kinds))
    a = audits()
    check(len(a) == 1, "%s: one audit row: %s" % (be, a))
    d = a[0]["details"] if a else {}
    old_us = 1704852000000000  # OLD in microseconds
    check(a and a[0]["actor"] == "system" and d == {
        "channels": {"call": {"rows": 1, "alerts": 0, "media": 1, "from_us": old_us,
                              "to_us": old_us},
                     "wechat": {"rows": 2, "alerts": 0, "media": 1, "from_us": old_us,
                                "to_us": old_us}},
        "rows": 3, "from_us": old_us, "to_us": old_us}, "%s: the audit row: %s" % (be, a))

    # nothing more expires: no row, nothing gone
    out = jobs(store)
    check("retention: messages=0 calls=0 alerts=0 media=0" in out and len(audits()) == 1 and
          len(texts()) == 5, "%s: a second run purges nothing: %s" % (be, out))

    # --- lifting the holds ----------------------------------------------------------------------
    for body, word in [({}, "'reason'"), ({"reason": "ok", "x": 1}, "'x'")]:
        st, j, _ = srv.req("DELETE", "/api/v1/legal-holds/" + h1["id"], admin, body=body)
        check(st == 400 and word in j["error"]["message"],
              "%s: lift %s: 400: %s %s" % (be, body, st, j))
    st, j, _ = srv.req("DELETE", "/api/v1/legal-holds/" + "0" * 24, admin, body={"reason": "x"})
    check(st == 404, "%s: lift an unknown hold: %s %s" % (be, st, j))
    for h in (h1, h2):
        st, j, _ = srv.req("DELETE", "/api/v1/legal-holds/" + h["id"], admin,
                           body={"reason": "结案"})
        check(st == 200 and j["active"] is False and j["lift_reason"] == "结案" and
              j["lifted_at"] == T0, "%s: lift: %s %s" % (be, st, j))
    st, j, _ = srv.req("DELETE", "/api/v1/legal-holds/" + h1["id"], admin,
                       body={"reason": "again"})
    check(st == 409, "%s: lifting twice: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/audit?target=legal_hold:%s&limit=10" % h1["id"], admin)
    check(st == 200 and sorted(r["action"] for r in j["items"]) ==
          ["legal_hold.create", "legal_hold.lift"], "%s: holds audited: %s" % (be, j))

    out = jobs(store)
    check("retention: messages=2 calls=0 alerts=0 media=0" in out,
          "%s: the run after the lift: %s" % (be, out))
    check(texts() == sorted(["最近的消息乙", "短信旧内容丙", "我们私单处理丁"]),
          "%s: the held ones went once lifted: %s" % (be, texts()))
    a = audits()
    check(len(a) == 2 and a[0]["details"]["channels"] == {
        "wechat": {"rows": 2, "alerts": 0, "media": 0, "from_us": old_us, "to_us": old_us}},
        "%s: the second audit row: %s" % (be, a[:1]))

    # the alert's category rule runs out five years after the message: then it goes, alert too
    # (and the recent one is past its year by then)
    out = jobs(store, "2029-01-11T00:00:00Z")
    check("retention: messages=2 calls=0 alerts=1 media=0" in out and
          texts() == ["短信旧内容丙"] and rows("alerts") == 0,
          "%s: the category's rule ends: %s %s" % (be, out, texts()))
    st, j, _ = srv.req("GET", "/api/v1/audit/verify", admin)
    check(st == 200 and j.get("ok") is True, "%s: the audit chain verifies: %s" % (be, j))
    srv.stop()


if __name__ == "__main__":
    sys.exit(run_backends(suite, "retention"))
