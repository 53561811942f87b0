# SPDX-License-Identifier: MIT
# A busy SQLite store (issue 17): another process holds the database's write lock (python's
# sqlite3, BEGIN IMMEDIATE) past the server's busy timeout, shortened by a test hook
# (WORKPHONE_TEST_SQLITE_BUSY_MS): device uploads get 503 store_unavailable with Retry-After,
# not 500; nothing of them is stored; once the lock is released the same batch is stored once.
# The console's reads answer meanwhile (WAL: readers do not wait for the writer). No timing is
# asserted. SQLite only (PostgreSQL's lock waits are cli-pgfault's), like cli-disk.
import json
import os
import sqlite3
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, Store, check, created, enroll  # noqa: E402

WAIT = 120  # the generous bound on any one request (seconds): never a timing assertion
BUSY_BODY = {"error": {"code": "store_unavailable",
                       "message": "the store is unavailable for now; nothing was stored: "
                                  "try again later", "details": {}}}


def post_events(srv, token, events):
    """(status, parsed body, Retry-After or None) for POST /api/v1/device/events."""
    data = json.dumps({"events": events}).encode()
    r = urllib.request.Request(srv.base + "/api/v1/device/events", data=data, method="POST",
                               headers={"Content-Type": "application/json",
                                        "Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(r, timeout=WAIT) as resp:
            return resp.status, json.loads(resp.read()), resp.headers.get("Retry-After")
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            j = json.loads(body)
        except ValueError:
            j = body
        return e.code, j, e.headers.get("Retry-After")


def events(k, tag):
    return [{"seq": s, "type": "message", "ts": "2026-11-27T07:00:%02d+00:00" % s,
             "channel": "wechat", "direction": "out", "peer": {"id": "wxid_busy"},
             "chat": "wxid_busy", "msgtype": "text", "text": "忙 %s %d" % (tag, s)}
            for s in range(1, k + 1)]


def stored(store, dev):
    out = store.sql("select seq || '|' || text from messages where device_id = '%s'"
                    " order by seq, rid" % dev)
    return out.splitlines() if out else []


def suite(store):
    srv = Server(store.data, store.db_args, env_extra={"WORKPHONE_TEST_SQLITE_BUSY_MS": "300"})
    st, me, _ = srv.req("POST", "/api/v1/auth/login",
                        body={"username": "admin", "password": harness.PASSWORD})
    check(st == 200, "login: %s %s" % (st, me))
    admin = me["token"]
    emp = created(srv, admin, "/api/v1/employees",
                  {"name": "销售忙", "org_unit_id": me["employee"]["org_unit_id"],
                   "role": "sales", "username": "salesbusy", "password": harness.PASSWORD},
                  "employee")["id"]
    tok = enroll(srv, admin, emp, "SN-busy-1")
    dev = store.sql("select id from devices where serial = 'SN-busy-1'")
    ev = events(3, "a")

    # another process takes the write lock and keeps it
    lock = sqlite3.connect(os.path.join(store.data, "workphone.db"), timeout=WAIT,
                           isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        for attempt in (1, 2):
            code, j, retry = post_events(srv, tok, ev)
            check(code == 503, "held lock, try %d: 503, got %s %s" % (attempt, code, j))
            check(j == BUSY_BODY, "held lock, try %d: the body: %s" % (attempt, j))
            check(retry == "1", "held lock, try %d: Retry-After 1, got %r" % (attempt, retry))
        # the console reads meanwhile
        st, j, _ = srv.req("GET", "/api/v1/devices", admin)
        check(st == 200, "a read while the store is locked: %s %s" % (st, j))
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    check(stored(store, dev) == [], "nothing stored while locked: %s" % stored(store, dev))

    code, j, _ = post_events(srv, tok, ev)
    check(code == 200 and j.get("acked_seq") == 3 and not j.get("rejected"),
          "after the release the same batch: %s %s" % (code, j))
    want = ["%d|%s" % (e["seq"], e["text"]) for e in ev]
    check(stored(store, dev) == want, "stored once: %s" % stored(store, dev))
    code, j, _ = post_events(srv, tok, ev)
    check(code == 200 and j.get("acked_seq") == 3, "resent again: %s %s" % (code, j))
    check(stored(store, dev) == want, "still once: %s" % stored(store, dev))

    # the server's log names the cause; the client never sees SQLite's words
    srv.err.flush()
    srv.err.seek(0)
    log = srv.err.read()
    check("database is locked" in log and "store_unavailable" in log,
          "the log names the lock: %s" % log[-600:])
    srv.stop()


def main():
    import shutil
    import tempfile
    tmp = tempfile.mkdtemp(prefix="wp-busy.")
    try:
        suite(Store("sqlite", tmp, "busy"))
    finally:
        harness.kill_live()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d checks, %d failed" % (harness.checks, harness.failures))
    return 1 if harness.failures else 0


if __name__ == "__main__":
    sys.exit(main())
