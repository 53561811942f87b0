# SPDX-License-Identifier: MIT
# Overload (issue 17): above capacity device uploads get 503 overloaded with Retry-After at
# once, nothing answered 2xx is lost or changed, the console answers while devices are refused,
# and every bound (device threads, the writer's queue in batches and in bytes, connections) is
# set by a flag or workphone.conf and holds. The writer is held by a test hook (a file that
# exists: WORKPHONE_TEST_WRITER_HOLD), so queues fill deterministically; no timing is asserted.
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, check, created, enroll, err_code, run_backends  # noqa: E402

SHARE_MSG = ("every thread for device uploads is busy; send the same events again after "
             "Retry-After")
QUEUE_MSG = "the ingest queue is full; send the same events again after Retry-After"
WAIT = 120  # the generous bound on any one wait (seconds): never a timing assertion


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


def events_of(n, k=3, text_len=0):
    """Device n's batch: k text messages, each text naming the device and its seq."""
    pad = "满" * text_len
    return [{"seq": s, "type": "message", "ts": "2026-11-27T07:00:%02d+00:00" % s,
             "channel": "wechat", "direction": "out", "peer": {"id": "wxid_p%d" % n},
             "chat": "wxid_p%d" % n, "msgtype": "text",
             "text": "设备%d 第%d条 overload%s" % (n, s, pad)} for s in range(1, k + 1)]


def queue_depth(srv):
    with urllib.request.urlopen(srv.base + "/metrics", timeout=WAIT) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("workphone_ingest_queue_depth "):
                return int(line.split()[1])
    return -1


def wait_for(what, cond):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return check(False, "waited %ds for %s" % (WAIT, what))


class Uploads:
    """Batches sent at once, one thread each; results[i] = (status, body, retry_after)."""

    def __init__(self, srv, tokens, batches):
        self.results = [None] * len(tokens)
        self.threads = []
        for i, (tok, ev) in enumerate(zip(tokens, batches)):
            t = threading.Thread(target=self._one, args=(srv, i, tok, ev))
            t.start()
            self.threads.append(t)

    def _one(self, srv, i, tok, ev):
        try:
            self.results[i] = post_events(srv, tok, ev)
        except Exception as e:  # a reset connection or a timeout is a failure of the test
            self.results[i] = (0, repr(e), None)

    def answered(self):
        return [r for r in self.results if r is not None]

    def join(self):
        for t in self.threads:
            t.join(WAIT)


def check_overloaded(res, msg, what):
    st, j, ra = res
    check(st == 503, "%s: 503, got %s %s" % (what, st, j))
    check(j == {"error": {"code": "overloaded", "message": msg, "details": {}}},
          "%s: the exact error body, got %s" % (what, j))
    check(ra == "1", "%s: Retry-After 1, got %r" % (what, ra))


def resend_until_stored(srv, token, events, what):
    """Send again after Retry-After until a 200 (bounded); its acked_seq must cover the batch."""
    for _ in range(WAIT):
        st, j, ra = post_events(srv, token, events)
        if st == 200:
            check(j["acked_seq"] == events[-1]["seq"] and j["rejected"] == [],
                  "%s: the resend is stored whole: %s" % (what, j))
            return
        if not check(st == 503 and err_code(j) == "overloaded" and ra == "1",
                     "%s: a resend answers 200 or 503 overloaded, got %s %s" % (what, st, j)):
            return
        time.sleep(int(ra))
    check(False, "%s: no resend was stored" % what)


def stored_texts(store, device_id):
    out = store.sql("select seq || '|' || text from messages where device_id = '%s' order by seq"
                    % device_id)
    return out.splitlines() if out else []


def setup(srv, n_devices, tag):
    """An admin token, a salesperson and n_devices (token, device_id)."""
    st, me, _ = srv.req("POST", "/api/v1/auth/login",
                        body={"username": "admin", "password": "s3cret-pass"})
    check(st == 200, "login: %s %s" % (st, me))
    admin = me["token"]
    emp = created(srv, admin, "/api/v1/employees",
                  {"name": "销售" + tag, "org_unit_id": me["employee"]["org_unit_id"],
                   "role": "sales", "username": "sales" + tag, "password": "s3cret-pass"},
                  "employee")["id"]
    devices = []
    for n in range(n_devices):
        tok = enroll(srv, admin, emp, "SN-%s-%d" % (tag, n))
        st, j, _ = srv.req("GET", "/api/v1/device/policy", tok)
        check(st == 200, "policy of a new device: %s" % st)
        devices.append(tok)
    return admin, devices


def device_ids(store, tag):
    out = store.sql("select id from devices where serial like 'SN-%s-%%' order by serial" % tag)
    return out.splitlines()


def check_stored(store, tag, batches):
    ids = device_ids(store, tag)
    check(len(ids) == len(batches), "%s: %d devices, found %d" % (tag, len(batches), len(ids)))
    for dev_id, ev in zip(ids, batches):
        want = ["%d|%s" % (e["seq"], e["text"]) for e in ev]
        got = stored_texts(store, dev_id)
        check(got == want, "%s: device %s holds exactly its batch, once: %s" %
              (tag, dev_id, got[:4]))


def share(store, hold):
    """--device-threads: 8 devices at once, 2 wait on the held writer, 6 get 503 at once; the
    console answers meanwhile (on 1 thread: libmicrohttpd's threads never wait on the writer);
    after the release every batch lands, exactly once."""
    open(hold, "w").close()
    srv = Server(store.data, store.db_args, env_extra={"WORKPHONE_TEST_WRITER_HOLD": hold},
                 extra_args=["--threads", "1", "--device-threads", "2"])
    admin, toks = setup(srv, 8, "share")
    batches = [events_of(n) for n in range(8)]
    up = Uploads(srv, toks, batches)
    wait_for("6 devices refused", lambda: len(up.answered()) >= 6)
    wait_for("2 batches queued", lambda: queue_depth(srv) == 2)
    refused = up.answered()
    check(len(refused) == 6, "share: exactly 6 answered while 2 wait: %d" % len(refused))
    for i, res in enumerate(refused):
        check_overloaded(res, SHARE_MSG, "share: refused upload %d" % i)
    # the console, while devices are refused and two threads wait on the writer
    st, j, _ = srv.req("GET", "/api/v1/customers", admin)
    check(st == 200 and isinstance(j, dict), "share: the console answers while devices are "
          "refused: %s %s" % (st, j))
    st, j, _ = srv.req("GET", "/api/v1/devices", admin)
    check(st == 200, "share: a second console read answers: %s" % st)
    os.unlink(hold)
    up.join()
    for i, (res, ev) in enumerate(zip(up.results, batches)):
        if res[0] == 503:
            resend_until_stored(srv, toks[i], ev, "share: device %d" % i)
        else:
            check(res[0] == 200 and res[1]["acked_seq"] == 3,
                  "share: a waiting upload is answered 200 once stored: %s" % (res,))
    srv.stop()
    check_stored(store, "share", batches)


def queue_batches(store, hold):
    """--queue-batches 1 (threads to spare): one batch waits, the other 3 get 503 at once."""
    open(hold, "w").close()
    srv = Server(store.data, store.db_args, env_extra={"WORKPHONE_TEST_WRITER_HOLD": hold},
                 extra_args=["--threads", "8", "--device-threads", "4", "--queue-batches", "1"])
    admin, toks = setup(srv, 4, "qb")
    batches = [events_of(10 + n) for n in range(4)]
    up = Uploads(srv, toks, batches)
    wait_for("3 devices refused", lambda: len(up.answered()) >= 3)
    check(queue_depth(srv) == 1, "queue-batches: one batch waits")
    for i, res in enumerate(up.answered()):
        check_overloaded(res, QUEUE_MSG, "queue-batches: refused upload %d" % i)
    st, _, _ = srv.req("GET", "/api/v1/customers", admin)
    check(st == 200, "queue-batches: the console answers: %s" % st)
    os.unlink(hold)
    up.join()
    for i, (res, ev) in enumerate(zip(up.results, batches)):
        if res[0] == 503:
            resend_until_stored(srv, toks[i], ev, "queue-batches: device %d" % i)
        else:
            check(res[0] == 200, "queue-batches: the waiting batch is stored: %s" % (res,))
    srv.stop()
    check_stored(store, "qb", batches)


def queue_bytes(store, hold):
    """queue_bytes= in workphone.conf: a big batch alone is let in (the queue is empty), a
    small one behind it passes the byte bound: 503. Batches stay far under the count bound."""
    conf = os.path.join(store.data, "workphone.conf")
    with open(conf) as f:
        saved = f.read()
    with open(conf, "a") as f:
        f.write("\nqueue_bytes=20000\nqueue_batches=100\n")
    open(hold, "w").close()
    srv = Server(store.data, store.db_args, env_extra={"WORKPHONE_TEST_WRITER_HOLD": hold})
    admin, toks = setup(srv, 2, "qy")
    big, small = events_of(20, 3, 3000), events_of(21, 1)
    up = Uploads(srv, toks[:1], [big])
    wait_for("the big batch queued", lambda: queue_depth(srv) == 1)
    res = post_events(srv, toks[1], small)
    check_overloaded(res, QUEUE_MSG, "queue-bytes: a small batch behind a big one")
    st, _, _ = srv.req("GET", "/api/v1/customers", admin)
    check(st == 200, "queue-bytes: the console answers: %s" % st)
    os.unlink(hold)
    up.join()
    check(up.results[0][0] == 200 and up.results[0][1]["acked_seq"] == 3,
          "queue-bytes: the big batch is stored: %s" % (up.results[0][:2],))
    resend_until_stored(srv, toks[1], small, "queue-bytes: the small batch")
    srv.stop()
    with open(conf, "w") as f:
        f.write(saved)
    check_stored(store, "qy", [big, small])


def connections(store):
    """--max-connections 4: with 4 connections open a fifth is not taken (it waits in the
    kernel's listen backlog, unanswered); once one closes, it is answered."""
    # one thread: libmicrohttpd splits the bound among its threads, each taking its share
    srv = Server(store.data, store.db_args,
                 extra_args=["--threads", "1", "--device-threads", "1", "--max-connections", "4"])
    host, port = srv.base[len("http://"):].split(":")
    socks = []
    for _ in range(4):
        s = socket.create_connection((host, int(port)), timeout=WAIT)
        socks.append(s)
        # keep-alive: each stays open after its answer
        s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        check(s.recv(4096).startswith(b"HTTP/1.1 200 "), "connections: an open one answers")
    extra = socket.create_connection((host, int(port)), timeout=2)
    extra.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        got = extra.recv(4096)
    except socket.timeout:
        got = None
    check(got is None, "connections: a fifth is not answered while 4 are open: %r" %
          (got or b"")[:60])
    socks.pop().close()
    extra.settimeout(WAIT)
    got = extra.recv(4096)
    check(got.startswith(b"HTTP/1.1 200 "), "connections: the fifth is answered once one "
          "closed: %r" % got[:60])
    extra.close()
    for s in socks:
        s.close()
    srv.stop()


def serve_once(store, args):
    """(exit code, stderr) of a serve that must refuse to start; one that starts is stopped
    and reported as -1."""
    import subprocess
    from harness import WP
    try:
        r = subprocess.run([WP, "serve", "--data", store.data, "--listen", "127.0.0.1:0"] +
                           list(args) + store.db_args, capture_output=True, text=True,
                           timeout=30)
        return r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        return -1, "it started and served"


def bad_limits(store):
    """Each bound refuses a bad value, on the command line and in workphone.conf."""
    for flag, bad, rng in [("--max-connections", "0", "1-100000"),
                           ("--device-threads", "257", "1-256"),
                           ("--queue-batches", "x", "1-1000000"),
                           ("--queue-bytes", "-1", "1-68719476736")]:
        rc, err = serve_once(store, [flag, bad])
        check(rc == 2 and "%s must be %s" % (flag, rng) in err,
              "%s %s: exit 2 saying the range, got %d %s" % (flag, bad, rc, err[-300:]))
    conf = os.path.join(store.data, "workphone.conf")
    with open(conf) as f:
        saved = f.read()
    with open(conf, "a") as f:
        f.write("\nqueue_batches=0\n")
    rc, err = serve_once(store, [])
    check(rc == 2 and "queue_batches= must be 1-1000000" in err,
          "queue_batches=0 in workphone.conf: exit 2, got %d %s" % (rc, err[-300:]))
    with open(conf, "w") as f:
        f.write(saved)


def hook_off(store, hold):
    """Without the switch the hold file changes nothing: a batch is stored and answered."""
    open(hold, "w").close()
    srv = Server(store.data, store.db_args, now=None,
                 env_extra={"WORKPHONE_TEST_HOOKS": "0", "WORKPHONE_TEST_WRITER_HOLD": hold})
    _, toks = setup(srv, 1, "off")
    ev = events_of(30)
    st, j, _ = post_events(srv, toks[0], ev)
    check(st == 200 and j["acked_seq"] == 3, "without the switch the writer is not held: %s %s"
          % (st, j))
    srv.stop()
    os.unlink(hold)
    check_stored(store, "off", [ev])


def suite(store):
    hold = os.path.join(os.path.dirname(store.data), "hold-" + store.backend)
    bad_limits(store)
    share(store, hold)
    queue_batches(store, hold)
    queue_bytes(store, hold)
    connections(store)
    hook_off(store, hold)


if __name__ == "__main__":
    sys.exit(run_backends(suite, "overload"))
