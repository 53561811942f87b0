#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Corruption (issue 17): a damaged database page, a WAL cut mid-frame and a media file whose
# bytes no longer match their hash, made on a real store after real traffic. The server
# refuses a damaged store with one line naming the file (exit 2), never serves a damaged file
# (503 media_corrupt, one alert however often it is asked for) and `workphone check` names
# each (exit 1), while what is intact is still served and checked ok (docs/internals/
# integrity.md). The media half runs on both backends; the store's file halves on SQLite.
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse

from harness import (LIVE, WP, Server, check, created, enroll, err_code, login, run_backends)

GOOD = b"\x89PNG\r\n\x1a\n" + b"a photo of the signed contract" * 40
BAD = b"RIFF....WAVEfmt " + b"a voice note about the price" * 50
WAL_HEADER, FRAME_HEADER = 32, 24


def upload(srv, dev, data):
    ref = "sha256:" + hashlib.sha256(data).hexdigest()
    st, j, _ = srv.req("PUT", "/api/v1/device/media/" + ref, dev, raw=data,
                       headers={"Content-Type": "application/octet-stream"})
    check(st == 201, "upload %s: %s %s" % (ref[:16], st, j))
    return ref


def media_path(data, ref):
    hx = ref[7:]
    return os.path.join(data, "media", hx[:2], hx[2:4], hx)


def run_check(data, db_args, *extra):
    return subprocess.run([WP, "check", "--data", data] + list(db_args) + list(extra),
                          capture_output=True, text=True)


def serve_refused(data):
    """serve on a damaged store: (exit status, stderr lines); it must not start"""
    err = os.path.join(os.path.dirname(data), "refused.err")
    with open(err, "w+") as f:
        p = subprocess.Popen([WP, "serve", "--data", data, "--listen", "127.0.0.1:0"],
                             stdout=subprocess.DEVNULL, stderr=f)
        LIVE.append(p)
        while p.poll() is None:  # it exits, or it says it started: then it is stopped
            f.seek(0)
            if "event=start " in f.read():
                p.kill()
                p.wait()
                return "started", []
            time.sleep(0.05)
        f.seek(0)
        return p.returncode, f.read().splitlines()


def media_half(s, srv, admin, refs):
    """a file's bytes altered on disk: 503 media_corrupt, one alert, check names it"""
    be, good, bad = s.backend, refs["good"], refs["bad"]
    path = media_path(s.data, bad)
    with open(path, "r+b") as f:  # same length, one byte flipped in the middle
        f.seek(len(BAD) // 2)
        b = f.read(1)
        f.seek(len(BAD) // 2)
        f.write(bytes([b[0] ^ 0x01]))
    for n in (1, 2):
        st, j, hdrs = srv.req("GET", "/api/v1/media/" + bad, admin)
        check(hdrs.get("Retry-After") is None,
              "%s: GET %d: no Retry-After, damage does not pass by itself" % (be, n))
        check(st == 503 and err_code(j) == "media_corrupt" and
              j["error"]["message"] == "media '%s' is damaged: its bytes no longer match its "
              "hash; an administrator restores it from a backup" % bad,
              "%s: GET %d of the altered file: HTTP %s %s" % (be, n, st, j))
    st, j, _ = srv.req("GET", "/api/v1/media/" + bad + "?view=1", admin)
    check(st == 503 and err_code(j) == "media_corrupt", "%s: view=1 too: %s %s" % (be, st, j))
    st, body, _ = srv.raw("GET", "/api/v1/media/" + good, admin)
    check(st == 200 and body == GOOD, "%s: the intact file is still served: HTTP %s" % (be, st))
    st, j, _ = srv.req("GET", "/api/v1/alerts?kind=media_corrupt", admin)
    items = j["items"] if st == 200 else []
    check(st == 200 and len(items) == 1, "%s: three requests, one alert: %s %s" % (be, st, j))
    if items:
        a = items[0]
        check(a["kind"] == "media_corrupt" and a["category"] == "integrity" and
              a["text"] == bad and a["status"] == "open" and
              a["employee_id"] == refs["employee"],
              "%s: the alert names the file and the employee whose call had it: %s" % (be, a))
    st, j, _ = srv.req("GET", "/api/v1/audit?action=alert.raise", admin)
    raised = [x for x in j["items"] if x["target"] == "alert:" + (items[0]["id"] if items else "")]
    check(st == 200 and len(raised) == 1, "%s: the alert is audited once: %s" % (be, j))
    st, j, _ = srv.req("GET", "/api/v1/audit?action=media.download", admin)
    check(st == 200 and len(j["items"]) == 3,
          "%s: only the intact downloads are audited as downloads: %s" % (be, j))
    r = run_check(s.data, s.db_args)
    check(r.returncode == 1 and r.stdout.splitlines() == [
        "bad: %s: its bytes no longer match its sha256 name" % path, "1 problem"],
        "%s: check names the altered file: rc %s %r %r" % (be, r.returncode, r.stdout, r.stderr))
    r = run_check(s.data, s.db_args, "--json")
    want = {"ok": False, "store": "checked" if be == "sqlite" else "postgresql",
            "wal": "checked" if be == "sqlite" else "postgresql", "media_checked": 2,
            "media_authenticated": 0, "media_not_authenticated": 0,
            "problems": [{"file": path, "problem": "its bytes no longer match its sha256 name"}]}
    import json
    check(r.returncode == 1 and json.loads(r.stdout) == want,
          "%s: check --json: rc %s %r" % (be, r.returncode, r.stdout))
    with open(path, "wb") as f:  # restored from the backup
        f.write(BAD)
    st, body, _ = srv.raw("GET", "/api/v1/media/" + bad, admin)
    check(st == 200 and body == BAD, "%s: restored, it is served again: HTTP %s" % (be, st))
    r = run_check(s.data, s.db_args)
    ok_line = "ok: %s and 2 media files intact" % (
        "store, WAL" if be == "sqlite" else "database reachable, schema current")
    check(r.returncode == 0 and r.stdout.splitlines() == [ok_line],
          "%s: check passes again: rc %s %r %r" % (be, r.returncode, r.stdout, r.stderr))
    # a file the store lists, gone from the disk
    away = os.path.join(os.path.dirname(s.data), "away-" + be)
    shutil.move(path, away)
    r = run_check(s.data, s.db_args)
    check(r.returncode == 1 and r.stdout.splitlines() == [
        "bad: %s: the store lists it but it is missing: No such file or directory" % path,
        "1 problem"], "%s: check names a missing file: rc %s %r" % (be, r.returncode, r.stdout))
    shutil.move(away, path)


def wal_half(s, tmp):
    """the WAL of a killed server, cut mid-frame: serve refuses it, check names it"""
    wal = os.path.join(s.data, "workphone.db-wal")
    size = os.path.getsize(wal) if os.path.exists(wal) else 0
    with open(os.path.join(s.data, "workphone.db"), "rb") as f:
        f.seek(16)
        page = int.from_bytes(f.read(2), "big")
    page = 65536 if page == 1 else page
    frame = FRAME_HEADER + page
    if not check(size > WAL_HEADER and (size - WAL_HEADER) % frame == 0,
                 "the killed server left a WAL of whole frames: %d bytes" % size):
        return
    cut = os.path.join(tmp, "cut")
    shutil.copytree(s.data, cut)
    cut_size = size - frame // 2  # its last frame, half gone
    os.truncate(os.path.join(cut, "workphone.db-wal"), cut_size)
    frames = (cut_size - WAL_HEADER) // frame
    what = ("'%s/workphone.db-wal' is cut: %d bytes is not its 32-byte header and whole "
            "%d-byte frames (%d whole frames end at byte %d)" %
            (cut, cut_size, frame, frames, WAL_HEADER + frames * frame))
    rc, lines = serve_refused(cut)
    check(rc == 2 and lines == ["workphone serve: store %s; see 'workphone check --data %s'" %
                                (what, cut)],
          "serve refuses a cut WAL with one line: rc %s %r" % (rc, lines))
    check(os.path.getsize(os.path.join(cut, "workphone.db-wal")) == cut_size,
          "the refused WAL is left as it was found")
    r = run_check(cut, [])
    check(r.returncode == 1 and r.stdout.splitlines() == [
        "bad: %s/workphone.db-wal: %s" % (cut, what), "1 problem"],
        "check names the cut WAL: rc %s %r %r" % (r.returncode, r.stdout, r.stderr))
    check(os.path.getsize(os.path.join(cut, "workphone.db-wal")) == cut_size,
          "check leaves the WAL as it found it")
    # what a kill between a frame's header and its page leaves: the header alone, an
    # unacknowledged write that SQLite drops; the server starts, the acknowledged rows are there
    torn = os.path.join(tmp, "torn")
    shutil.copytree(s.data, torn)
    with open(os.path.join(torn, "workphone.db-wal"), "r+b") as f:
        f.seek(WAL_HEADER)
        header = f.read(FRAME_HEADER)
        f.seek(0, 2)
        f.write(header)
    r = run_check(torn, [])
    check(r.returncode == 0 and r.stdout.splitlines() == ["ok: store, WAL and 2 media files intact"],
          "a frame header alone at the WAL's end is a killed write, not damage: rc %s %r %r" %
          (r.returncode, r.stdout, r.stderr))
    srv = Server(torn, [])
    admin = login(srv, "admin")
    st, j, _ = srv.req("GET", "/api/v1/messages?q=" + urllib.parse.quote("合同已收到"), admin)
    check(st == 200 and len(j["items"]) == 1, "... and serve starts on it: %s %s" % (st, j))
    srv.stop()


def page_half(s, tmp):
    """a table's b-tree page overwritten in the file: serve refuses it, check names it"""
    dmg = os.path.join(tmp, "page")
    shutil.copytree(s.data, dmg)
    db = os.path.join(dmg, "workphone.db")
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = 'employees'").fetchone()[0]
    page = c.execute("PRAGMA page_size").fetchone()[0]
    c.close()
    check(not os.path.exists(db + "-wal") or os.path.getsize(db + "-wal") == 0,
          "a cleanly stopped server left its pages in the file")
    with open(db, "r+b") as f:  # the page's b-tree header: type, freeblock, cell count
        f.seek((root - 1) * page)
        f.write(b"\xff" * 12)
    rc, lines = serve_refused(dmg)
    head = "workphone serve: store '%s' is damaged: " % db
    tail = "; see 'workphone check --data %s'" % dmg
    check(rc == 2 and len(lines) == 1 and lines[0].startswith(head) and
          lines[0].endswith(tail) and ("Page %d" % root) in lines[0],
          "serve refuses a damaged page with one line naming the file: rc %s %r" % (rc, lines))
    r = run_check(dmg, [])
    out = r.stdout.splitlines()
    check(r.returncode == 1 and len(out) >= 2 and
          all(x.startswith("bad: %s: " % db) for x in out[:-1]) and
          ("Page %d" % root) in out[0] and out[-1] == "%d problem%s" %
          (len(out) - 1, "" if len(out) == 2 else "s"),
          "check names the damaged file and page: rc %s %r %r" % (r.returncode, r.stdout, r.stderr))


def suite(s):
    be = s.backend
    tmp = os.path.dirname(s.data)
    srv = Server(s.data, s.db_args)
    admin = login(srv, "admin")
    st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
    hq = j["employee"]["org_unit_id"]
    emp = created(srv, admin, "/api/v1/employees",
                  {"name": "张三", "org_unit_id": hq, "role": "sales", "username": "zs",
                   "password": "s3cret-pass"}, "employee")["id"]
    dev = enroll(srv, admin, emp, "SN-CORRUPT-1")
    refs = {"good": upload(srv, dev, GOOD), "bad": upload(srv, dev, BAD), "employee": emp}
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": [
        {"seq": 1, "type": "message", "ts": "2026-11-26T10:00:00+08:00", "channel": "wechat",
         "direction": "in", "peer": {"id": "wxid_li", "name": "李先生"}, "chat": "wxid_li",
         "msgtype": "image", "media": refs["good"], "filename": "contract.png",
         "size": len(GOOD)},
        {"seq": 2, "type": "call", "ts": "2026-11-26T10:05:00+08:00", "direction": "out",
         "peer": {"phone": "13800138000"}, "duration_s": 63, "recording": refs["bad"]}]})
    check(st == 200 and j["acked_seq"] == 2, "%s: events naming the files: %s %s" % (be, st, j))
    for ref, data in ((refs["good"], GOOD), (refs["bad"], BAD)):
        st, body, _ = srv.raw("GET", "/api/v1/media/" + ref, admin)
        check(st == 200 and body == data, "%s: served while intact: HTTP %s" % (be, st))
    media_half(s, srv, admin, refs)
    if be != "sqlite":
        srv.stop()
        return
    # the WAL as a crash leaves it: kill -9 after more writes, no checkpoint since
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": [
        {"seq": 3, "type": "message", "ts": "2026-11-26T10:10:00+08:00", "channel": "wechat",
         "direction": "out", "peer": {"id": "wxid_li"}, "chat": "wxid_li", "msgtype": "text",
         "text": "合同已收到"}]})
    check(st == 200 and j["acked_seq"] == 3, "events before the kill: %s %s" % (st, j))
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    wal_half(s, tmp)
    # the whole WAL a crash leaves is fine: the server starts on it, the message is there
    srv = Server(s.data, s.db_args)
    admin = login(srv, "admin")
    st, j, _ = srv.req("GET", "/api/v1/messages?q=" + urllib.parse.quote("合同已收到"), admin)
    check(st == 200 and len(j["items"]) == 1, "the acknowledged message survived: %s" % j)
    srv.stop()
    page_half(s, tmp)
    r = run_check(s.data, [])
    check(r.returncode == 0 and r.stdout.splitlines() == ["ok: store, WAL and 2 media files intact"],
          "the intact store checks ok: rc %s %r %r" % (r.returncode, r.stdout, r.stderr))


if __name__ == "__main__":
    sys.exit(run_backends(suite, "corrupt"))
