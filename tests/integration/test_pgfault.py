#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# PostgreSQL goes away under load and comes back (issue 17), on a PostgreSQL of this test's own
# (it stops it): initdb in a temp dir as `postgres`, fsync on, a port of its own.
#  - Durability asserted: serve on a PostgreSQL with synchronous_commit=off logs the warning
#    (the exact line), on one with the defaults it does not.
#  - Devices stream batches from several threads; `pg_ctl stop -m immediate` mid-stream (their
#    later batches wait for it, so the outage is met however fast the first ones went). While
#    PostgreSQL is gone every request that needs the store answers 503 with Retry-After and the
#    CONTRACT error body (never 500, never an acknowledgement), the health check stays 200, the
#    readiness probe answers 503 store_unavailable (and 200 again once it is back). It
#    is started again: the same server process recovers, the clients' retries complete, every
#    acknowledged event reads back as sent, and the jobs threads work again (a read's audit row
#    written by the audit flush, a rollup run logged without error).
# PostgreSQL only: SKIP (77) without WORKPHONE_TEST_PG_URL when WORKPHONE_TEST_SKIP_PG=1.
import glob
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timezone

import harness
from harness import PASSWORD, WP, Server, check, created, enroll, err_code, login

DEVICES = 3
BATCHES = 30
PER_BATCH = 10
STOP_AFTER = 12  # acknowledged batches (all devices) before PostgreSQL is stopped
GATE = 8         # a device's batches from this one on wait until it is stopped, so that the
                 # outage is always met, however fast the first ones went
BOUND_S = 60     # no answer may take longer than this (a hang, not a timing assertion)

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
             key=lambda p: [int(x) for x in p.split("/")[-2].split(".") if x.isdigit()])
BIN = BIN[-1] if BIN else ""


def as_pg(*cmd):
    if os.getuid() == 0:
        cmd = ("runuser", "-u", "postgres", "--") + cmd
    return subprocess.run(cmd, capture_output=True, text=True)


class Postgres:
    """A PostgreSQL of this test's own, on loopback, fsync on (the default)."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "pg")
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o755)
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        r = as_pg(BIN + "/initdb", "-D", self.dir + "/data", "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8")
        if r.returncode:
            raise SystemExit("initdb: " + r.stdout + r.stderr)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.url = "postgresql://postgres@127.0.0.1:%d/postgres" % self.port

    def start(self, *settings):
        opts = "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=on" % (self.port, self.dir)
        for s in settings:
            opts += " -c " + s
        r = as_pg(BIN + "/pg_ctl", "-D", self.dir + "/data", "-w", "-t", "120", "-l",
                  self.dir + "/server.log", "-o", opts, "start")
        if r.returncode:
            raise SystemExit("pg_ctl start: " + r.stdout + r.stderr +
                             open(self.dir + "/server.log").read()[-2000:])

    def stop(self, mode="fast"):
        return as_pg(BIN + "/pg_ctl", "-D", self.dir + "/data", "-m", mode, "-w", "stop")

    def sql(self, statement, url=None):
        return subprocess.run(["psql", "-qtAX", url or self.url, "-c", statement], check=True,
                              capture_output=True, text=True).stdout.strip()


def init(tmp, name, pg):
    """A data dir TMP/NAME on a new database NAME; the database's url."""
    pg.sql("CREATE DATABASE " + name)
    url = pg.url.rsplit("/", 1)[0] + "/" + name
    data = os.path.join(tmp, name)
    r = subprocess.run([WP, "init", "--data", data, "--tenant", "Acme", "--admin", "admin",
                        "--db", url], env=dict(os.environ, WORKPHONE_ADMIN_PASSWORD=PASSWORD),
                       capture_output=True, text=True)
    if not check(r.returncode == 0, "init: " + r.stderr):
        raise SystemExit("init failed")
    return data, url


def stderr_of(srv):
    srv.err.seek(0)
    return srv.err.read()


WARN = ('level=warn event=unsafe_durability settings=synchronous_commit=off msg="postgresql '
        'does not wait for commits to reach the disk: acknowledged events can be lost if its '
        'host crashes"')


def durability(pg, tmp):
    """synchronous_commit=off: the warning, exactly; the defaults: none."""
    pg.start("synchronous_commit=off")
    data, url = init(tmp, "unsafe", pg)
    srv = Server(data, ["--db", url])
    text = stderr_of(srv)
    srv.stop()
    lines = [l for l in text.splitlines() if "unsafe_durability" in l]
    check(len(lines) == 1 and lines[0].split(" ", 1)[1] == WARN,
          "synchronous_commit=off: one warning %r, got %r" % (WARN, lines))
    check(pg.stop().returncode == 0, "stop the PostgreSQL with synchronous_commit=off")
    pg.start()
    srv = Server(data, ["--db", url])
    text = stderr_of(srv)
    srv.stop()
    check("unsafe_durability" not in text,
          "fsync and synchronous_commit on: no warning, got %r" % text[-1500:])


def utc(ts):
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(timezone.utc)


def event(dev_n, seq):
    return {"seq": seq, "type": "message", "ts": "2026-11-22T10:%02d:%02d+08:00" %
            (seq // 60 % 60, seq % 60), "channel": "wechat",
            "direction": "out" if seq % 2 else "in",
            "peer": {"id": "wxid_%d_%d" % (dev_n, seq % 5), "name": "客户%d" % (seq % 5)},
            "chat": "wxid_%d_%d" % (dev_n, seq % 5), "msgtype": "text",
            "text": "设备%d 第%d条：资料已发您😊" % (dev_n, seq)}


class Load:
    """One thread per device posting its batches in order on a keep-alive connection; a 503
    is answered by waiting Retry-After and sending the same batch again."""

    def __init__(self, port, tokens):
        self.port, self.tokens = port, tokens
        self.lock = threading.Lock()
        self.acked_batches = 0
        self.acked = {}          # device number -> highest acked_seq
        self.unavailable = 0     # 503s seen
        self.failures = []
        self.down = threading.Event()  # PostgreSQL was stopped
        self.threads = [threading.Thread(target=self.stream, args=(n, t))
                        for n, t in enumerate(tokens)]

    def failed(self, what):
        with self.lock:
            self.failures.append(what)

    def stream(self, n, tok):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=BOUND_S)
            for i in range(BATCHES):
                if i == GATE and not self.down.wait(BOUND_S):
                    self.failed("device %d: PostgreSQL was not stopped" % n)
                    return
                first = i * PER_BATCH + 1
                body = json.dumps({"events": [event(n, s) for s in
                                              range(first, first + PER_BATCH)]})
                while True:
                    conn.request("POST", "/api/v1/device/events", body=body,
                                 headers={"Authorization": "Bearer " + tok,
                                          "Content-Type": "application/json"})
                    r = conn.getresponse()
                    payload = r.read()
                    if r.status == 503:
                        j = json.loads(payload)
                        want = {"error": {"code": "store_unavailable", "message":
                                          "the store is unavailable for now; nothing was "
                                          "stored: try again later", "details": {}}}
                        if j != want or r.getheader("Retry-After") != "1":
                            self.failed("device %d batch %d: 503 %r Retry-After %r" %
                                        (n, i, payload[:300], r.getheader("Retry-After")))
                            return
                        with self.lock:
                            self.unavailable += 1
                        time.sleep(int(r.getheader("Retry-After")))
                        continue
                    if r.status != 200:
                        self.failed("device %d batch %d: HTTP %d %r" % (n, i, r.status,
                                                                          payload[:300]))
                        return
                    acked = json.loads(payload).get("acked_seq")
                    if acked != first + PER_BATCH - 1:
                        self.failed("device %d batch %d: acked_seq %r, wanted %d" %
                                    (n, i, acked, first + PER_BATCH - 1))
                        return
                    with self.lock:
                        self.acked[n] = acked
                        self.acked_batches += 1
                    break
        except Exception as e:  # a hang past the bound, a lost connection, a bad body
            self.failed("device %d: %s: %s" % (n, type(e).__name__, e))

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        for t in self.threads:
            t.join(timeout=BATCHES * BOUND_S)
            if t.is_alive():
                self.failed("a device thread did not end")


def wait_for(what, fn, bound=BOUND_S):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    check(False, "%s: not within %d s" % (what, bound))
    return None


def outage(pg, tmp):
    data, url = init(tmp, "fault", pg)
    srv = Server(data, ["--db", url], env_extra={"WORKPHONE_JOBS_INTERVAL_S": "1"})
    pid = srv.proc.pid
    admin = login(srv, "admin")
    st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
    hq = j["employee"]["org_unit_id"]
    emp = created(srv, admin, "/api/v1/employees",
                  {"name": "销售一", "org_unit_id": hq, "role": "sales", "username": "sales1",
                   "password": PASSWORD}, "a salesperson")["id"]
    tokens = [enroll(srv, admin, emp, "SN-%d" % n) for n in range(DEVICES)]
    port = int(srv.base.rsplit(":", 1)[1])

    load = Load(port, tokens)
    load.start()
    wait_for("%d batches acknowledged" % STOP_AFTER, lambda: load.acked_batches >= STOP_AFTER)
    r = pg.stop("immediate")
    check(r.returncode == 0, "pg_ctl stop -m immediate: " + r.stderr)
    load.down.set()
    down_at = len(stderr_of(srv))

    # While it is gone: the devices get 503s, a console read gets one too, health is live.
    wait_for("a device told 503", lambda: load.unavailable > 0)
    st, j, h = srv.req("GET", "/api/v1/employees", admin)
    check(st == 503 and j == {"error": {"code": "store_unavailable", "message":
                                        "the store is unavailable for now; nothing was stored: "
                                        "try again later", "details": {}}}
          and h.get("Retry-After") == "1",
          "a read while PostgreSQL is down: 503 + Retry-After, got %s %r %r" %
          (st, j, h.get("Retry-After")))
    st, j, h = srv.req("POST", "/api/v1/employees", admin,
                       body={"name": "不该存", "org_unit_id": hq, "role": "sales",
                             "username": "lost1", "password": PASSWORD})
    check(st == 503 and err_code(j) == "store_unavailable" and h.get("Retry-After") == "1",
          "a write while PostgreSQL is down: 503, got %s %r" % (st, j))
    st, j, h = srv.req("POST", "/api/v1/auth/login",
                       body={"username": "admin", "password": PASSWORD})
    check(st == 503 and err_code(j) == "store_unavailable" and h.get("Retry-After") == "1",
          "a login while PostgreSQL is down: 503 (not a wrong password), got %s %r" % (st, j))
    st, j, _ = srv.req("GET", "/api/v1/health")
    check(st == 200 and j.get("status") == "ok" and j.get("store") == "postgresql",
          "health while PostgreSQL is down: 200 ok (liveness), got %s %r" % (st, j))
    st, j, h = srv.req("GET", "/api/v1/ready")
    check(st == 503 and j == {"error": {"code": "store_unavailable", "message":
                                        "the store is unavailable for now; nothing was stored: "
                                        "try again later", "details": {}}}
          and h.get("Retry-After") == "1",
          "ready while PostgreSQL is down: 503 store_unavailable + Retry-After (readiness), "
          "got %s %r %r" % (st, j, h.get("Retry-After")))
    check(srv.proc.poll() is None, "serve still runs while PostgreSQL is down")

    pg.start()
    wait_for("ready again once PostgreSQL is back",
             lambda: srv.req("GET", "/api/v1/ready")[:2] == (200, {"status": "ready"}))
    load.join()
    for f in load.failures:
        check(False, f)
    check(load.unavailable > 0, "the devices saw the outage (503s)")
    check(srv.proc.poll() is None and srv.proc.pid == pid,
          "the same serve process (pid %d) recovered" % pid)
    for n in range(DEVICES):
        check(load.acked.get(n) == BATCHES * PER_BATCH,
              "device %d: every batch acknowledged after the retries, got %r" %
              (n, load.acked.get(n)))

    # Every acknowledged event is stored once, as it was sent (read back through the API).
    got, cursor = {}, None
    while True:
        q = "/api/v1/messages?employee=%s&limit=200" % emp
        if cursor:
            q += "&cursor=" + urllib.parse.quote(cursor)
        st, j, _ = srv.req("GET", q, admin)
        if not check(st == 200, "messages after recovery: %s %r" % (st, j)):
            break
        for m in j["items"]:
            key = (m["device_id"], m["seq"])
            check(key not in got, "message %s/%d read back twice" % key)
            got[key] = m
        cursor = j["next_cursor"]
        if not cursor:
            break
    devs = {}
    for m in got.values():
        devs.setdefault(m["text"].split(" ")[0], m["device_id"])
    for n in range(DEVICES):
        dev = devs.get("设备%d" % n)
        if not check(dev, "device %d: its messages read back" % n):
            continue
        for seq in range(1, BATCHES * PER_BATCH + 1):
            e, m = event(n, seq), got.pop((dev, seq), None)
            if m is None:  # a failure above when it was acknowledged
                check(seq > load.acked.get(n, 0),
                      "device %d seq %d: acknowledged, not stored" % (n, seq))
                continue
            check((m["text"], m["chat"], m["direction"], m["channel"], m["peer"].get("id"),
                   m["peer"].get("name"), m["msgtype"]) ==
                  (e["text"], e["chat"], e["direction"], e["channel"], e["peer"]["id"],
                   e["peer"]["name"], e["msgtype"]) and
                  utc(m["ts"]) == utc(e["ts"]),
                  "device %d seq %d: reads back %r, sent %r" % (n, seq, m, e))
    check(not got, "messages read back that were never sent: %r" % list(got)[:5])
    check(pg.sql("SELECT count(*) FROM employees WHERE name = '不该存'", url) == "0",
          "the write refused with 503 is not stored")

    # The jobs threads are back: a search's audit row comes from the audit flush, and the
    # rollup task runs again without an error.
    st, j, _ = srv.req("GET", "/api/v1/messages?q=%E8%B5%84%E6%96%99&limit=1", admin)
    check(st == 200, "a search after recovery: %s" % st)

    def audited():
        st, j, _ = srv.req("GET", "/api/v1/audit?action=messages.search&limit=20", admin)
        return st == 200 and any(i["details"].get("q") == "资料" for i in j["items"])
    wait_for("the search's audit row (the audit flush job)", audited)
    after = lambda: stderr_of(srv)[down_at:]
    up = wait_for("a rollup run after the restart",
                  lambda: [l for l in after().split("\n")[1:] if "task=rollup" in l and
                           "level=info" in l])
    if up:
        errors = [l for l in after().splitlines() if "level=error" in l and "event=jobs" in l]
        check(all("store_unavailable" in l for l in errors),
              "jobs failed only as store_unavailable while it was down: %r" % errors[:3])
    srv.stop()


def main():
    if not harness.pg_half("test_pgfault"):
        sys.exit(77 if harness.failures == 0 else 1)
    if not BIN:
        print("FAIL: PostgreSQL server binaries not found", file=sys.stderr)
        sys.exit(1)
    tmp = tempfile.mkdtemp(prefix="wp-pgfault.")
    if os.getuid() == 0:
        os.chmod(tmp, 0o755)
    pg = Postgres(tmp)
    try:
        durability(pg, tmp)
        outage(pg, tmp)
    finally:
        harness.kill_live()
        pg.stop("immediate")
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d checks, %d failed" % (harness.checks, harness.failures))
    sys.exit(1 if harness.failures else 0)


if __name__ == "__main__":
    main()
