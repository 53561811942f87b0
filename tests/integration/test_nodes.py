#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Every node serves everything (issue 19): two `workphone serve` on one PostgreSQL, each with
# its own data dir (the keys copied), media in one shared directory, behind haproxy (health
# check on /api/v1/ready, retries and redispatch).
#  - A node that kept its media in DIR/media moves them into the shared dir at start
#    (event=media_moved), each hash checked; the other node then serves them.
#  - Devices stream batches with their seqs through haproxy from threads (every thread's failure
#    fails the test); a console session is open; node A is killed with -9 mid-stream, and a
#    batch sent straight to A is cut without its answer.
#  - Afterwards, through the survivor: every acknowledged event is stored exactly once with the
#    content sent; the un-acked ones, re-sent by the client, land once; the session works; a
#    recording uploaded through A before the kill downloads with its hash; search finds a
#    message sent through A before the kill; check and backup see the shared media; a restore
#    of a backup puts media in its DIR/media and its serve moves them into the shared dir.
# PostgreSQL only: SKIP (77) without WORKPHONE_TEST_PG_URL when WORKPHONE_TEST_SKIP_PG=1.
import hashlib
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

import harness
from harness import WP, Server, Store, check, created, enroll, login

DEVICES = 4
PER_BATCH = 10
BATCHES = 40
KILL_AFTER = 30          # batches acknowledged (all devices) before node A is killed
RESEND_S = 60            # a client re-sends an un-acked batch for this long
WORD = "节点切换暗号"


def event(n, seq):
    return {"seq": seq, "type": "message", "ts": "2026-11-26T10:%02d:%02d+08:00" %
            (seq // 60 % 60, seq % 60), "channel": "wechat",
            "direction": "out" if seq % 2 else "in",
            "peer": {"id": "wxid_n%d_%d" % (n, seq % 3), "name": "客户%d" % (seq % 3)},
            "chat": "wxid_n%d_%d" % (n, seq % 3), "msgtype": "text",
            "text": "设备%d 第%d条：报价单请查收" % (n, seq)}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_of(srv):
    return int(srv.base.rsplit(":", 1)[1])


class Front(Server):
    """haproxy in front of the nodes: the harness's requests, to its port."""

    def __init__(self, tmp, nodes):
        self.ssl = None
        self.port = free_port()
        self.cfg = os.path.join(tmp, "haproxy.cfg")
        servers = "".join("    server n%d 127.0.0.1:%d check inter 200ms fall 2 rise 2\n" %
                          (i, port_of(s)) for i, s in enumerate(nodes))
        with open(self.cfg, "w") as f:
            f.write("""global
    maxconn 512
    tune.bufsize 65536

defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 30s
    timeout check 1s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout
    option http-buffer-request

frontend workphone
    bind 127.0.0.1:%d
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /api/v1/ready
    http-check expect status 200
%s""" % (self.port, servers))
        self.log = open(os.path.join(tmp, "haproxy.err"), "a+")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.cfg],
                                     stdout=self.log, stderr=self.log)
        harness.LIVE.append(self.proc)
        self.base = "http://127.0.0.1:%d" % self.port
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                st, _, _ = self.raw("GET", "/api/v1/ready")
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.log.seek(0)
        raise SystemExit("haproxy did not start: " + self.log.read()[-2000:])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


class Stream:
    """One thread per device posting its batches in order through the front; an un-acked batch
    (a cut connection, a 502/503) is re-sent until acknowledged. acked[n]: the device's highest
    acknowledged seq; resent: batches sent again."""

    def __init__(self, port, tokens):
        self.port, self.tokens = port, tokens
        self.lock = threading.Lock()
        self.acked = {n: 0 for n in range(len(tokens))}
        self.batches = 0
        self.resent = 0
        self.failures = []
        self.threads = [threading.Thread(target=self.run, args=(n, t)) for n, t in
                        enumerate(tokens)]
        for t in self.threads:
            t.start()

    def post(self, conn, tok, body):
        conn.request("POST", "/api/v1/device/events", body=body,
                     headers={"Authorization": "Bearer " + tok,
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read()

    def run(self, n, tok):
        conn = None
        try:
            for i in range(BATCHES):
                first = i * PER_BATCH + 1
                last = first + PER_BATCH - 1
                body = json.dumps({"events": [event(n, s) for s in range(first, last + 1)]})
                deadline = time.monotonic() + RESEND_S
                tries = 0
                while True:
                    tries += 1
                    status, payload, why = None, b"", ""
                    try:
                        if conn is None:
                            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                        status, payload = self.post(conn, tok, body)
                    except (OSError, http.client.HTTPException) as e:
                        why = "%s: %s" % (type(e).__name__, e)
                        conn.close()
                        conn = None
                    if status == 200:
                        got = json.loads(payload).get("acked_seq")
                        if got != last:
                            with self.lock:
                                self.failures.append("device %d batch %d: acked_seq %r, not %d"
                                                     % (n, i, got, last))
                            return
                        break
                    if status is not None and status not in (502, 503):
                        with self.lock:
                            self.failures.append("device %d batch %d: HTTP %d %r" %
                                                 (n, i, status, payload[:200]))
                        return
                    if time.monotonic() > deadline:
                        with self.lock:
                            self.failures.append("device %d batch %d: not acknowledged in %d s:"
                                                 " %s %s" % (n, i, RESEND_S, status, why))
                        return
                    with self.lock:
                        self.resent += 1
                    time.sleep(0.1)
                with self.lock:
                    self.acked[n] = last
                    self.batches += 1
        except Exception as e:  # anything else is a failure of the test, never lost
            with self.lock:
                self.failures.append("device %d: %s: %s" % (n, type(e).__name__, e))
        finally:
            if conn:
                conn.close()

    def snapshot(self):
        with self.lock:
            return dict(self.acked)

    def join(self):
        for t in self.threads:
            t.join(timeout=300)
            check(not t.is_alive(), "a device thread ended")
        for f in self.failures:
            check(False, f)


def put_media(srv, tok, blob):
    ref = "sha256:" + hashlib.sha256(blob).hexdigest()
    st, body, _ = srv.raw("PUT", "/api/v1/device/media/" + ref, tok, raw=blob,
                          headers={"Content-Type": "application/octet-stream"})
    check(st == 201, "upload %s through %s: %s %r" % (ref[:15], srv.base, st, body[:200]))
    return ref


def call(srv, tok, seq, ref):
    st, j, _ = srv.req("POST", "/api/v1/device/events", tok, body={"events": [
        {"seq": seq, "type": "call", "ts": "2026-11-26T09:%02d:00+08:00" % seq,
         "direction": "out", "peer": {"phone": "1380013800%d" % seq}, "duration_s": 63,
         "recording": ref}]})
    check(st == 200 and j.get("acked_seq") == seq, "a call with its recording: %s %s" % (st, j))


def media_path(root, ref):
    h = ref[7:]
    return os.path.join(root, h[:2], h[2:4], h)


def downloads(srv, tok, ref, what):
    st, body, _ = srv.raw("GET", "/api/v1/media/" + ref, tok)
    check(st == 200 and "sha256:" + hashlib.sha256(body).hexdigest() == ref,
          "%s: HTTP %s, %d bytes, hash %s" % (what, st, len(body),
                                              "matches" if st == 200 and "sha256:" +
                                              hashlib.sha256(body).hexdigest() == ref
                                              else "differs"))


def log_of(srv):
    srv.err.flush()
    srv.err.seek(0)
    return srv.err.read()


def wp(*args):
    return subprocess.run([WP] + list(args), capture_output=True, text=True)


def suite(store, tmp):
    data_a = store.data
    data_b = os.path.join(tmp, "node-b")
    shared = os.path.join(tmp, "shared-media")
    os.mkdir(shared)
    shutil.copytree(data_a, data_b)  # the same workphone.conf and keys, a dir of its own
    with open(os.path.join(data_b, "workphone.conf"), "a") as f:
        f.write("media_dir=%s\n" % shared)

    # --- a bad media dir is a usage error naming it
    r = wp("serve", "--data", data_a, "--listen", "127.0.0.1:0", "--media-dir",
           os.path.join(tmp, "nowhere"), *store.db_args)
    check(r.returncode == 2 and "--media-dir '%s'" % os.path.join(tmp, "nowhere") in r.stderr,
          "a missing --media-dir exits 2 naming it: rc %d %s" % (r.returncode, r.stderr))

    # --- node A as it ran before: its media in DIR/media
    a = Server(data_a, store.db_args)
    admin = login(a, "admin")
    st, j, _ = a.req("GET", "/api/v1/org-units", admin)
    hq = j["items"][0]["id"]
    emp = created(a, admin, "/api/v1/employees", {"name": "销售一", "org_unit_id": hq,
                  "role": "sales", "username": "s1", "password": harness.PASSWORD},
                  "employee s1")["id"]
    media_tok = enroll(a, admin, emp, "SN-MEDIA")
    tokens = [enroll(a, admin, emp, "SN-N%d" % n) for n in range(DEVICES)]
    old = put_media(a, media_tok, b"RIFF....WAVEfmt " + os.urandom(300000))
    call(a, media_tok, 1, old)
    check(os.path.exists(media_path(os.path.join(data_a, "media"), old)),
          "before media_dir the recording is in A's DIR/media")
    a.stop()

    # --- both nodes on the shared dir: A (by the flag) moves its files there at start
    a = Server(data_a, store.db_args, extra_args=["--media-dir", shared])
    b = Server(data_b, store.db_args)
    check("event=media_moved" in log_of(a) and "files=1 " in log_of(a),
          "A logs the move of its one file: %s" % [x for x in log_of(a).splitlines()
                                                    if "media" in x])
    check(os.path.exists(media_path(shared, old)) and
          not os.path.exists(media_path(os.path.join(data_a, "media"), old)),
          "the recording moved from A's DIR/media into the shared dir")
    downloads(b, login(b, "admin"), old, "B serves the recording A moved")

    front = Front(tmp, [a, b])
    session = login(front, "admin")
    # through A itself: a recording, its call, a message to search for
    rec = put_media(a, media_tok, b"RIFF....WAVEfmt " + os.urandom(3 * 1024 * 1024))
    call(a, media_tok, 2, rec)
    st, j, _ = a.req("POST", "/api/v1/device/events", media_tok, body={"events": [
        {"seq": 3, "type": "message", "ts": "2026-11-26T09:03:00+08:00", "channel": "wechat",
         "direction": "out", "peer": {"id": "wxid_search", "name": "客户搜"},
         "chat": "wxid_search", "msgtype": "text", "text": "合同条款见附件" + WORD}]})
    check(st == 200 and j.get("acked_seq") == 3, "a message through A: %s %s" % (st, j))
    check(os.path.exists(media_path(shared, rec)), "A wrote the new recording to the shared dir")

    # --- devices stream through haproxy; A dies mid-stream
    stream = Stream(front.port, tokens)
    deadline = time.monotonic() + 120
    while stream.batches < KILL_AFTER and time.monotonic() < deadline and not stream.failures:
        time.sleep(0.01)
    # a batch straight to A whose answer never comes: stored or not, the client does not know
    cut_tok = enroll(front, session, emp, "SN-CUT")
    cut_body = json.dumps({"events": [event(DEVICES, s) for s in range(1, PER_BATCH + 1)]})
    raw = socket.create_connection(("127.0.0.1", port_of(a)))
    raw.sendall(("POST /api/v1/device/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" %
                 (cut_tok, len(cut_body.encode()))).encode() + cut_body.encode())
    before = stream.snapshot()
    a.proc.kill()
    a.proc.wait()
    raw.close()
    check(0 < sum(before.values()) < DEVICES * BATCHES * PER_BATCH,
          "A was killed mid-stream: %r acknowledged" % before)
    stream.join()
    after = stream.snapshot()
    check(all(v == BATCHES * PER_BATCH for v in after.values()),
          "every device's stream was acknowledged in the end: %r" % after)
    # the client re-sends what it had no answer for, through the front: it lands once
    conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=30)
    for _ in range(2):  # and a resend of an acknowledged batch changes nothing
        conn.request("POST", "/api/v1/device/events", body=cut_body,
                     headers={"Authorization": "Bearer " + cut_tok,
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        got = json.loads(r.read())
        check(r.status == 200 and got.get("acked_seq") == PER_BATCH,
              "the cut batch re-sent through the survivor: %s %s" % (r.status, got))
    conn.close()
    print("nodes: %d batches re-sent by the clients after the kill" % stream.resent)

    # --- every event exactly once, as sent
    devs = dict(line.split("|") for line in store.sql(
        "SELECT serial, id FROM devices WHERE serial LIKE 'SN-N%' OR serial = 'SN-CUT'")
        .splitlines())
    dev_n = {devs["SN-N%d" % n]: n for n in range(DEVICES)}
    dev_n[devs["SN-CUT"]] = DEVICES
    rows = store.sql("SELECT device_id, seq, text FROM messages WHERE text LIKE '设备%'"
                     " ORDER BY device_id, seq").splitlines()
    seen, wrong = {}, []
    for line in rows:
        did, seq, text = line.split("|", 2)
        key = (dev_n.get(did), int(seq))
        seen[key] = seen.get(key, 0) + 1
        if key[0] is None or text != event(key[0], key[1])["text"]:
            wrong.append(line)
    twice = [k for k, c in seen.items() if c > 1]
    check(not twice, "no event stored twice: %r" % twice[:5])
    check(not wrong, "every stored event is what was sent: %r" % wrong[:3])
    lost_acked = [(n, s) for n, v in before.items() for s in range(1, v + 1)
                  if (n, s) not in seen]
    check(not lost_acked, "nothing acknowledged before the kill is lost: %r" % lost_acked[:5])
    want = {(n, s) for n in range(DEVICES + 1) for s in range(1, BATCHES * PER_BATCH + 1)
            if n < DEVICES or s <= PER_BATCH}
    check(set(seen) == want, "every event sent is stored: %d of %d, missing %r" %
          (len(seen), len(want), sorted(want - set(seen))[:5]))
    check(store.sql("SELECT count(*) FROM media WHERE sha256 = '%s'" % rec[7:]) == "1",
          "the recording is one row")

    # --- the session, media and search through the survivor
    st, j, _ = front.req("GET", "/api/v1/auth/session", session)
    check(st == 200 and isinstance(j, dict) and "employee" in j,
          "the console session works through the survivor: %s %s" % (st, j))
    created(front, session, "/api/v1/employees", {"name": "销售二", "org_unit_id": hq,
            "role": "sales", "username": "s2", "password": harness.PASSWORD},
            "an employee made through the survivor")
    downloads(front, session, rec, "the recording uploaded through A downloads after its kill")
    downloads(front, session, old, "the recording A moved downloads after its kill")
    st, j, _ = front.req("GET", "/api/v1/messages?q=" + urllib.parse.quote(WORD), session)
    check(st == 200 and [m["text"] for m in j.get("items", [])] == ["合同条款见附件" + WORD],
          "search finds the message sent through A before its kill: %s %s" % (st, j))

    # --- check and backup of the node whose workphone.conf names the shared dir
    r = wp("check", "--data", data_b, *store.db_args)
    check(r.returncode == 0 and " and 2 media files intact" in r.stdout,
          "check sees the shared media: rc %d %s %s" % (r.returncode, r.stdout, r.stderr))
    r = wp("check", "--data", data_a, "--media-dir", shared, *store.db_args)
    check(r.returncode == 0 and " and 2 media files intact" in r.stdout,
          "check --media-dir sees them too: rc %d %s %s" % (r.returncode, r.stdout, r.stderr))
    r = wp("check", "--data", data_a, *store.db_args)
    check(r.returncode == 1 and "the store lists it but it is missing" in r.stdout,
          "check of A's own DIR/media misses them: rc %d %s" % (r.returncode, r.stdout))
    out = os.path.join(tmp, "nodes.wpbackup")
    r = wp("backup", "--data", data_b, "--out", out, *store.db_args)
    check(r.returncode == 0 and ", 2 media files (" in r.stdout,
          "backup carries the shared media: rc %d %s %s" % (r.returncode, r.stdout, r.stderr))
    out_a = os.path.join(tmp, "nodes-a.wpbackup")
    r = wp("backup", "--data", data_a, "--media-dir", shared, "--out", out_a, *store.db_args)
    check(r.returncode == 0 and ", 2 media files (" in r.stdout,
          "backup --media-dir carries them: rc %d %s %s" % (r.returncode, r.stdout, r.stderr))
    with open(media_path(shared, old), "r+b") as f:  # a changed byte: refused, as on one node
        f.seek(100)
        c = f.read(1)
        f.seek(100)
        f.write(bytes([c[0] ^ 1]))
    st, j, _ = front.req("GET", "/api/v1/media/" + old, session)
    check(st == 503 and j["error"]["code"] == "media_corrupt",
          "a damaged shared file is refused: %s %s" % (st, j))
    r = wp("check", "--data", data_b, *store.db_args)
    check(r.returncode == 1 and media_path(shared, old) in r.stdout,
          "check names the damaged shared file: rc %d %s" % (r.returncode, r.stdout))
    front.stop()
    b.stop()

    # --- a restore of B's backup (taken before the damage): media land in the new DIR/media,
    # and its serve moves them into the shared dir its workphone.conf names; the damaged file
    # there is replaced by the good copy, the whole one already there is kept
    data_c = os.path.join(tmp, "node-c")
    db_c = store.db_url + "_c"
    subprocess.run(["psql", "-q", harness.PG_URL, "-c", "create database " +
                    db_c.rsplit("/", 1)[1]], check=True, capture_output=True)
    try:
        r = wp("restore", "--in", out, "--data", data_c, "--db", db_c)
        check(r.returncode == 0, "restore: rc %d %s %s" % (r.returncode, r.stdout, r.stderr))
        check(os.path.exists(media_path(os.path.join(data_c, "media"), old)),
              "the restore wrote the media to its own DIR/media")
        c = Server(data_c, ["--db", db_c])
        check("event=media_moved" in log_of(c) and "files=1 " in log_of(c),
              "the restored node moves the one file the shared dir lacked whole: %s" %
              [x for x in log_of(c).splitlines() if "media" in x])
        check(not os.path.exists(media_path(os.path.join(data_c, "media"), old)) and
              not os.path.exists(media_path(os.path.join(data_c, "media"), rec)),
              "nothing is left in the restored DIR/media")
        admin_c = login(c, "admin")
        downloads(c, admin_c, old, "the repaired recording downloads from the restored node")
        downloads(c, admin_c, rec, "the recording downloads from the restored node")
        c.stop()
    finally:
        subprocess.run(["psql", "-q", harness.PG_URL, "-c", "drop database if exists %s with "
                        "(force)" % db_c.rsplit("/", 1)[1]], capture_output=True)


def main():
    if not harness.pg_half("test_nodes"):
        sys.exit(77 if harness.failures == 0 else 1)
    if not shutil.which("haproxy"):
        print("FAIL: haproxy is not installed (scripts/packages.txt)", file=sys.stderr)
        sys.exit(1)
    tmp = tempfile.mkdtemp(prefix="wp-nodes.")
    store = None
    try:
        store = Store("postgresql", tmp, "nodes")
        suite(store, tmp)
    finally:
        harness.kill_live()
        if store:
            store.drop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d checks, %d failed" % (harness.checks, harness.failures))
    sys.exit(1 if harness.failures else 0)


if __name__ == "__main__":
    main()
