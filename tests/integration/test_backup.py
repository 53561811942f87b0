# SPDX-License-Identifier: MIT
# `workphone backup` and `restore` (issue 19) on both backends: a backup taken while devices
# stream, restored into a new data dir (and a new PostgreSQL database) and served: every event
# acknowledged before the backup began is there once with its text, the media file downloads
# with its hash, the audit log verifies, the admin logs in. Encrypted backups: the right key
# restores, a wrong key or a flipped byte is refused with nothing written. A damaged media file
# is named, not copied; a non-empty target and bad arguments are usage errors (exit 2).
import hashlib
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

from harness import (PG_URL, WP, Server, check, created, enroll, kill_live, login, run_backends)

DEVICES = 3
PER_BATCH = 20
BATCHES = 60
BACKUP_AFTER = 12  # batches acknowledged before the backup starts


def event(n, seq):
    return {"seq": seq, "type": "message", "ts": "2026-11-26T10:%02d:%02d+08:00" %
            (seq // 60 % 60, seq % 60), "channel": "wechat",
            "direction": "out" if seq % 2 else "in",
            "peer": {"id": "wxid_%d_%d" % (n, seq % 4), "name": "客户%d" % (seq % 4)},
            "chat": "wxid_%d_%d" % (n, seq % 4), "msgtype": "text",
            "text": "设备%d 第%d条：合同已发您" % (n, seq)}


class Stream:
    """One thread per device posting its batches in order; acked[n] is the device's highest
    acknowledged seq."""

    def __init__(self, port, tokens):
        self.port, self.tokens = port, tokens
        self.lock = threading.Lock()
        self.acked = {n: 0 for n in range(len(tokens))}
        self.batches = 0
        self.failures = []
        self.threads = [threading.Thread(target=self.run, args=(n, t)) for n, t in
                        enumerate(tokens)]
        for t in self.threads:
            t.start()

    def run(self, n, tok):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            for i in range(BATCHES):
                first = i * PER_BATCH + 1
                body = json.dumps({"events": [event(n, s) for s in
                                              range(first, first + PER_BATCH)]})
                conn.request("POST", "/api/v1/device/events", body=body,
                             headers={"Authorization": "Bearer " + tok,
                                      "Content-Type": "application/json"})
                r = conn.getresponse()
                payload = r.read()
                got = json.loads(payload).get("acked_seq") if r.status == 200 else None
                if got != first + PER_BATCH - 1:
                    with self.lock:
                        self.failures.append("device %d batch %d: HTTP %d %r" %
                                             (n, i, r.status, payload[:200]))
                    return
                with self.lock:
                    self.acked[n] = got
                    self.batches += 1
        except Exception as e:
            with self.lock:
                self.failures.append("device %d: %s: %s" % (n, type(e).__name__, e))

    def snapshot(self):
        with self.lock:
            return dict(self.acked)

    def join(self):
        for t in self.threads:
            t.join(timeout=300)
        for f in self.failures:
            check(False, f)


def wp(*args, env=None):
    return subprocess.run([WP] + list(args), capture_output=True, text=True, env=env)


def new_db(name):
    """(url, --db args) of a new, empty PostgreSQL database"""
    db = "wp_%s_%d" % (name, os.getpid())
    subprocess.run(["psql", "-q", PG_URL, "-c", "create database " + db], check=True)
    return PG_URL.rsplit("/", 1)[0] + "/" + db


def drop_db(url):
    subprocess.run(["psql", "-q", PG_URL, "-c", "drop database if exists %s with (force)" %
                    url.rsplit("/", 1)[1]], capture_output=True)


def tables_in(url):
    return subprocess.run(["psql", "-qtAX", url, "-c",
                           "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"],
                          capture_output=True, text=True).stdout.strip()


def download(srv, tok, ref):
    r = urllib.request.Request(srv.base + "/api/v1/media/" + ref,
                               headers={"Authorization": "Bearer " + tok})
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def messages(srv, tok):
    """every message the admin reads, as {(device number, seq): message}; duplicates fail"""
    got, cursor = {}, None
    while True:
        q = "/api/v1/messages?limit=200"
        if cursor:
            q += "&cursor=" + urllib.parse.quote(cursor)
        st, j, _ = srv.req("GET", q, tok)
        if not check(st == 200, "messages: %s %r" % (st, j)):
            return got
        for m in j["items"]:
            if not m.get("text", "").startswith("设备"):
                continue
            key = (int(m["text"][2:m["text"].index(" ")]), m["seq"])
            check(key not in got, "message %r read back twice" % (key,))
            got[key] = m
        cursor = j.get("next_cursor")
        if not cursor:
            return got


def no_leftovers(parent, what):
    left = [f for f in os.listdir(parent) if ".restore-" in f]
    check(not left, "%s: nothing half made is left: %r" % (what, left))


def suite(store):
    be = store.backend
    tmp = os.path.dirname(store.data)
    srv = Server(store.data, store.db_args)
    admin = login(srv, "admin")
    st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
    hq = j["employee"]["org_unit_id"]
    # a unit tree three deep: restored parents before children
    region = created(srv, admin, "/api/v1/org-units", {"name": "华东区", "parent_id": hq,
                                                        "kind": "region"}, "a region")["id"]
    branch = created(srv, admin, "/api/v1/org-units", {"name": "上海分公司", "parent_id": region,
                                                        "kind": "store"}, "a store")["id"]
    emp = created(srv, admin, "/api/v1/employees",
                  {"name": "销售一", "org_unit_id": branch, "role": "sales",
                   "username": "sales1", "password": "s3cret-pass"}, "a salesperson")["id"]
    tokens = [enroll(srv, admin, emp, "SN-B%d" % n) for n in range(DEVICES)]
    media_tok = enroll(srv, admin, emp, "SN-MEDIA")

    audio = b"RIFF....WAVEfmt " + os.urandom(200000)
    ref = "sha256:" + hashlib.sha256(audio).hexdigest()
    st, _, _ = srv.raw("PUT", "/api/v1/device/media/" + ref, media_tok, raw=audio,
                       headers={"Content-Type": "application/octet-stream"})
    check(st == 201, be + ": upload a recording: %s" % st)
    st, j, _ = srv.req("POST", "/api/v1/device/events", media_tok, body={"events": [
        {"seq": 1, "type": "call", "ts": "2026-11-26T09:00:00+08:00", "direction": "out",
         "peer": {"phone": "13800138000"}, "duration_s": 63, "recording": ref}]})
    check(st == 200 and j["acked_seq"] == 1, be + ": a call with its recording: %s" % j)

    # --- backups while devices stream --------------------------------------------------
    keyf = os.path.join(tmp, be + ".key")
    with open(keyf, "wb") as f:
        f.write(os.urandom(32))
    port = int(srv.base.rsplit(":", 1)[1])
    stream = Stream(port, tokens)
    deadline = time.monotonic() + 120
    while stream.batches < BACKUP_AFTER and time.monotonic() < deadline and \
            not stream.failures:
        time.sleep(0.02)
    before = stream.snapshot()  # acknowledged before the backup began
    out = os.path.join(tmp, be + ".wpbackup")
    r = wp("backup", "--data", store.data, "--out", out, *store.db_args)
    check(r.returncode == 0 and r.stdout.startswith("ok: " + out + ", schema "),
          be + ": backup while serving: rc %d %s %s" % (r.returncode, r.stdout, r.stderr))
    enc = os.path.join(tmp, be + ".enc")
    r = wp("backup", "--data", store.data, "--out", enc, "--key-file", keyf, *store.db_args)
    check(r.returncode == 0 and ", encrypted, " in r.stdout,
          be + ": encrypted backup while serving: rc %d %s %s" % (r.returncode, r.stdout,
                                                               r.stderr))
    check(sum(before.values()) < DEVICES * BATCHES * PER_BATCH and
          stream.batches < DEVICES * BATCHES, be + ": the backups were taken mid-stream")
    stream.join()
    check(all(a == BATCHES * PER_BATCH for a in stream.snapshot().values()),
          be + ": the stream went on after the backups: %r" % stream.snapshot())
    check(sum(before.values()) >= BACKUP_AFTER * PER_BATCH,
          be + ": events were acknowledged before the backup: %r" % before)
    r = wp("backup", "--data", store.data, "--out", out, *store.db_args)
    check(r.returncode == 2 and r.stderr == "workphone backup: --out '%s' exists: a backup "
          "never overwrites a file\n" % out, be + ": an existing --out is refused: %s" % r.stderr)
    srv.stop()

    # --- the manifest ----------------------------------------------------------------------
    r = wp("backup", "--list", out)
    check(r.returncode == 0, be + ": --list: %s" % r.stderr)
    man = json.loads(r.stdout[:r.stdout.rindex("}") + 1])
    check(man["backend"] == be and man["format"] == 1 and man["encrypted"] is False and
          man["media"] == {"files": 1, "bytes": len(audio)} and man["problems"] == [] and
          man["tables"]["org_units"] == 3 and man["tables"]["devices"] == DEVICES + 1 and
          man["tables"]["messages"] >= sum(before.values()) and
          man["schema_version"] == int(store.sql("SELECT max(version) FROM schema_version")),
          be + ": the manifest: %r" % {k: man[k] for k in man if k != "tables"})
    check(r.stdout.endswith("ok: %s is whole: 1 media files (%d bytes) match their hashes\n" %
                            (out, len(audio))), be + ": --list says it is whole: " + r.stdout)
    r = wp("backup", "--list", enc)
    check(r.returncode == 2 and r.stderr == "workphone backup: '%s' is encrypted: give its key "
          "with --key-file\n" % enc, be + ": --list of an encrypted one needs the key: " +
          r.stderr)

    # --- restore and serve -----------------------------------------------------------------
    rdir = os.path.join(tmp, be + "-restored")
    rdb = new_db("restored") if be == "postgresql" else None
    rargs = ["--db", rdb] if rdb else []
    r = wp("restore", "--in", out, "--data", rdir, *rargs)
    check(r.returncode == 0 and r.stdout.splitlines()[-1].startswith(
        "ok: restored %s into %s" % (out, rdir)), be + ": restore: rc %d %s %s" %
          (r.returncode, r.stdout[-300:], r.stderr))
    check(sorted(os.listdir(os.path.join(rdir, "keys"))) == ["audit.key", "checkpoint.key"],
          be + ": the keys are restored")
    for k in ("audit.key", "checkpoint.key"):
        with open(os.path.join(store.data, "keys", k), "rb") as a, \
                open(os.path.join(rdir, "keys", k), "rb") as b:
            check(a.read() == b.read(), be + ": keys/%s is the same key" % k)
    r = wp("audit", "verify", "--data", rdir, *rargs)
    check(r.returncode == 0 and r.stdout.startswith("ok: "),
          be + ": audit verify on the restored copy: %s %s" % (r.stdout, r.stderr))
    r = wp("check", "--data", rdir, *rargs)
    check(r.returncode == 0, be + ": check on the restored copy: %s" % r.stdout)
    srv2 = Server(rdir, rargs)
    admin2 = login(srv2, "admin")
    check(login(srv2, "sales1", "s3cret-pass") is not None, be + ": a salesperson logs in")
    got = messages(srv2, admin2)
    for n in range(DEVICES):
        for seq in range(1, before[n] + 1):
            m, e = got.get((n, seq)), event(n, seq)
            if check(m is not None, be + ": device %d seq %d acknowledged before the backup "
                     "is restored" % (n, seq)):
                check((m["text"], m["chat"], m["direction"]) ==
                      (e["text"], e["chat"], e["direction"]),
                      be + ": device %d seq %d restored as sent: %r" % (n, seq, m))
    st, body = download(srv2, admin2, ref)
    check(st == 200 and hashlib.sha256(body).hexdigest() == ref[7:],
          be + ": the recording downloads from the restored copy with its hash: %s" % st)
    # the restored copy takes new writes: a new device's events, a new unit
    created(srv2, admin2, "/api/v1/org-units", {"name": "苏州", "parent_id": region,
                                                 "kind": "store"}, "a unit after restore")
    tok = enroll(srv2, admin2, emp, "SN-AFTER")
    st, j, _ = srv2.req("POST", "/api/v1/device/events", tok,
                        body={"events": [event(9, 1)]})
    check(st == 200 and j["acked_seq"] == 1, be + ": the restored copy takes events: %s" % j)
    srv2.stop()
    r = wp("audit", "verify", "--data", rdir, *rargs)
    check(r.returncode == 0, be + ": audit verify after new writes: %s" % r.stdout)

    # --- encrypted: right key, wrong key, a flipped byte ----------------------------------
    edir = os.path.join(tmp, be + "-enc")
    wrong = os.path.join(tmp, be + ".wrong")
    with open(wrong, "wb") as f:
        f.write(os.urandom(32))
    edb = new_db("enc") if be == "postgresql" else None
    eargs = ["--db", edb] if edb else []
    r = wp("restore", "--in", enc, "--data", edir, "--key-file", wrong, *eargs)
    check(r.returncode == 1 and r.stderr == "workphone restore: cannot decrypt '%s': a wrong "
          "key, or a damaged backup; nothing was written\n" % enc,
          be + ": a wrong key is refused: rc %d %s" % (r.returncode, r.stderr))
    check(not os.path.exists(edir), be + ": a wrong key writes no data dir")
    if edb:
        check(tables_in(edb) == "0", be + ": a wrong key writes nothing to the database")
    flipped = os.path.join(tmp, be + ".flipped")
    with open(enc, "rb") as f:
        data = bytearray(f.read())
    data[len(data) * 2 // 3] ^= 0x01
    with open(flipped, "wb") as f:
        f.write(data)
    r = wp("restore", "--in", flipped, "--data", edir, "--key-file", keyf, *eargs)
    check(r.returncode == 1 and "a wrong key, or a damaged backup; nothing was written" in
          r.stderr, be + ": a flipped byte is refused: rc %d %s" % (r.returncode, r.stderr))
    check(not os.path.exists(edir), be + ": a flipped byte writes no data dir")
    if edb:
        check(tables_in(edb) == "0", be + ": a flipped byte writes nothing to the database")
    with open(out, "rb") as f:
        data = bytearray(f.read())
    data[len(data) // 2] ^= 0x01
    with open(flipped, "wb") as f:
        f.write(data)
    r = wp("restore", "--in", flipped, "--data", edir, *eargs)
    check(r.returncode == 1 and "is damaged" in r.stderr and "nothing was written" in r.stderr,
          be + ": a flipped byte in a plain backup is refused: rc %d %s" % (r.returncode,
                                                                         r.stderr))
    check(not os.path.exists(edir), be + ": ... and writes no data dir")
    no_leftovers(tmp, be)
    r = wp("restore", "--in", enc, "--data", edir, "--key-file", keyf, *eargs)
    check(r.returncode == 0, be + ": the right key restores: %s %s" % (r.stdout[-200:],
                                                                       r.stderr))
    r = wp("audit", "verify", "--data", edir, *eargs)
    check(r.returncode == 0, be + ": audit verify on the decrypted copy: %s" % r.stdout)

    # --- a passphrase ----------------------------------------------------------------------
    passf = os.path.join(tmp, be + ".pass")
    with open(passf, "w") as f:
        f.write("备份口令 correct horse\n")
    pout = os.path.join(tmp, be + ".pass.wpbackup")
    r = wp("backup", "--data", store.data, "--out", pout, "--key-file", passf, *store.db_args)
    check(r.returncode == 0, be + ": a passphrase backup: %s" % r.stderr)
    r = wp("backup", "--list", pout, "--key-file", passf)
    check(r.returncode == 0 and '"encrypted": true' in r.stdout,
          be + ": --list with the passphrase: %s" % r.stderr)
    r = wp("backup", "--list", pout, "--key-file", keyf)
    check(r.returncode == 1 and "--key-file holds a 32-byte key" in r.stderr,
          be + ": a key for a passphrase backup: %s" % r.stderr)

    # --- refusals ----------------------------------------------------------------------------
    r = wp("restore", "--in", out, "--data", rdir, *rargs)
    check(r.returncode == 2 and r.stderr == "workphone restore: --data '%s' is not empty: "
          "restore makes a new data dir\n" % rdir, be + ": a non-empty dir: %s" % r.stderr)
    if be == "postgresql":
        r = wp("restore", "--in", out, "--data", os.path.join(tmp, "pg-again"), "--db", rdb)
        check(r.returncode == 2 and r.stderr == "workphone restore: --db: the database has "
              "tables in it; restore needs an empty one\n", "a non-empty database: " + r.stderr)
        r = wp("restore", "--in", out, "--data", os.path.join(tmp, "pg-again"))
        check(r.returncode == 2 and "a PostgreSQL backup: give --db URL" in r.stderr,
              "a PostgreSQL backup needs --db: " + r.stderr)
        for u in (rdb, edb):
            drop_db(u)
    else:
        r = wp("restore", "--in", out, "--data", os.path.join(tmp, "again"), "--db",
               "postgresql://127.0.0.1:1/x")
        check(r.returncode == 2 and "a SQLite backup: leave out --db" in r.stderr,
              "a SQLite backup with --db: " + r.stderr)

    # --- a stream whose end mark fills its last frame: an empty final frame follows -----
    # (every file in keys/ is backed up; a pad there sizes the stream to a multiple of 64 KiB)
    probe = os.path.join(tmp, be + ".probe")
    r = wp("backup", "--data", store.data, "--out", probe, "--key-file", keyf, *store.db_args)
    # the file: header 10 + secretstream header 24, frames of 4 + up to 65536 + 17 bytes
    body = os.path.getsize(probe) - 10 - 24
    stream_len = body - 21 * -(-body // (4 + 65536 + 17))
    pad_entry = 3 + len("keys/pad") + 4 + 4  # kind, name length, name, a piece's length, the end
    pad = (-(stream_len + pad_entry)) % 65536
    with open(os.path.join(store.data, "keys", "pad"), "wb") as f:
        f.write(b"p" * pad)
    edge = os.path.join(tmp, be + ".edge")
    r = wp("backup", "--data", store.data, "--out", edge, "--key-file", keyf, *store.db_args)
    check(r.returncode == 0, be + ": a backup whose stream ends on a frame: %s" % r.stderr)
    # header 10 + secretstream header 24, full frames of 4 + 65536 + 17, an empty final 4 + 17
    check((os.path.getsize(edge) - 10 - 24 - 21) % (4 + 65536 + 17) == 0,
          be + ": the stream ended on a frame (%d bytes)" % os.path.getsize(edge))
    edir2 = os.path.join(tmp, be + "-edge")
    if edb:
        drop_db(edb)
        edb = new_db("edge")
        eargs = ["--db", edb]
    r = wp("restore", "--in", edge, "--data", edir2, "--key-file", keyf, *eargs)
    check(r.returncode == 0 and os.path.getsize(os.path.join(edir2, "keys", "pad")) == pad,
          be + ": ... restores (pad %d bytes): %s" % (pad, r.stderr))
    os.unlink(os.path.join(store.data, "keys", "pad"))
    if edb:
        drop_db(edb)

    # --- a media file damaged on disk is named, not copied ------------------------------
    hexname = ref[7:]
    mpath = os.path.join(store.data, "media", hexname[:2], hexname[2:4], hexname)
    with open(mpath, "r+b") as f:
        f.seek(100)
        f.write(b"X")
    bad = os.path.join(tmp, be + ".bad.wpbackup")
    r = wp("backup", "--data", store.data, "--out", bad, *store.db_args)
    name = "media/%s/%s/%s" % (hexname[:2], hexname[2:4], hexname)
    check(r.returncode == 1 and r.stderr == "workphone backup: bad: %s: its bytes no longer "
          "match its hash; it is not in the backup\n" % name and
          r.stdout.startswith("written with problems: "),
          be + ": a damaged media file is reported: rc %d %s %s" % (r.returncode, r.stdout,
                                                                   r.stderr))
    r = wp("backup", "--list", bad)
    check(r.returncode == 0 and '"files": 0' in r.stdout and name in r.stdout,
          be + ": the manifest names it: " + r.stdout[-400:])


def usage():
    tmp = os.environ.get("TMPDIR", "/tmp")
    for args, msg in [
            (["backup"], "missing --out FILE"),
            (["backup", "--out", "/nonexistent/x"], "missing --data DIR"),
            (["backup", "--data", "/nonexistent", "--out", os.path.join(tmp, "x.wpb")],
             "'/nonexistent' is not a workphone data dir (no workphone.conf); run "
             "'workphone init' first"),
            (["backup", "--bogus"], "unknown argument '--bogus'; see 'workphone backup --help'"),
            (["backup", "--out"], "option '--out' needs a value"),
            (["backup", "--list", "/nonexistent.wpb", "--out", "y"],
             "--list takes only --key-file"),
            (["backup", "--out", "x", "--key-file", "/nonexistent.key"],
             "--key-file '/nonexistent.key': No such file or directory"),
            (["backup", "--out", "x", "--data", "d", "--db", "mysql://x"],
             "--db must be a postgresql:// URL"),
            (["restore"], "missing --in FILE"),
            (["restore", "--in", "x"], "missing --data DIR"),
            (["restore", "--in", "/nonexistent.wpb", "--data", os.path.join(tmp, "nope")],
             "cannot open '/nonexistent.wpb': No such file or directory"),
            (["restore", "--in", "/etc/hostname", "--data", os.path.join(tmp, "nope")],
             "'/etc/hostname' is not a workphone backup"),
            (["restore", "--in", "x", "--data", "d", "--bogus"],
             "unknown argument '--bogus'; see 'workphone restore --help'")]:
        r = wp(*args)
        cmd = args[0]
        check(r.returncode == 2 and r.stderr == "workphone %s: %s\n" % (cmd, msg),
              "%r: exit 2 naming the field: rc %d %r" % (args, r.returncode, r.stderr))
    for cmd in ("backup", "restore"):
        r = wp(cmd, "--help")
        check(r.returncode == 0 and r.stdout.startswith("usage: workphone " + cmd),
              cmd + " --help")
    check(not os.path.exists(os.path.join(tmp, "nope")), "a refused restore makes no dir")


if __name__ == "__main__":
    try:
        usage()
    finally:
        kill_live()
    sys.exit(run_backends(suite, "backup"))
