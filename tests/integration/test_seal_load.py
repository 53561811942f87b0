#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Issue 20's "done means", black box, on both backends: a store with a master key loaded with a
# simulated company (`workphone simulate`: 20 employees, two days of chats, calls, SMS,
# contact changes, check-ins with photos, red packets, links and files, a share of them
# breaking the lexicon's rules) through the real server; then every value of every table
# (SQLite: read with sqlite3; PostgreSQL: the rows of pg_dump's output) holds no phone number
# and no ID-card number in the clear, and the raw files (SQLite's file and WAL, pg_dump's
# output, every media file) hold none of the message texts, link titles, file names and
# red-packet memos the API reads back, nor the customers' names. A store loaded the same way
# without a key holds them all (the scan sees them: it is not blind).
# The columns still clear are listed in UNSEALED, each with why (encryption.md, "Not built
# yet"): the test fails when a number shows up anywhere else.
import json
import os
import re
import sqlite3
import subprocess
import urllib.parse

from harness import PASSWORD, WP, Server, check, login, run_backends

ENV = dict(os.environ, WORKPHONE_ADMIN_PASSWORD=PASSWORD, WORKPHONE_STAFF_PASSWORD=PASSWORD)
PHONE = re.compile(r"(?<![0-9A-Za-z])1[3-9][0-9]{9}(?![0-9A-Za-z])")
IDCARD = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
# (table, column): clear on purpose or not built yet
UNSEALED = {
    # a device names an SMS conversation by the number: the conversation's key in analytics
    # and in recalls, compared by equality (not built: a blind index of chat ids)
    ("messages", "chat"),
    ("analytics_chats", "chat"),
}


def wp(*args):
    return subprocess.run([WP] + list(args), capture_output=True, text=True, env=ENV,
                          timeout=600)


def rows_sqlite(data):
    """(table, column, value) of every text value in the SQLite store."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(data, "workphone.db"), uri=True)
    for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        if t.startswith("sqlite_") or "_fts" in t:
            continue
        cols = [r[1] for r in db.execute("PRAGMA table_info('%s')" % t)]
        for row in db.execute("SELECT * FROM '%s'" % t):
            for c, v in zip(cols, row):
                if isinstance(v, bytes):
                    v = v.decode("utf-8", "replace")
                if isinstance(v, str):
                    yield t, c, v
    db.close()


def rows_pg(dump):
    """(table, column, value) of every value in pg_dump's plain output (its COPY blocks)."""
    table, cols = None, None
    for line in dump.split("\n"):
        if table is None:
            m = re.match(r"COPY public\.(\w+) \((.*)\) FROM stdin;$", line)
            if m:
                table, cols = m.group(1), [c.strip().strip('"') for c in m.group(2).split(",")]
            continue
        if line == "\\.":
            table = None
            continue
        for c, v in zip(cols, line.split("\t")):
            if v != "\\N":
                yield table, c, v


def raw_files(s, media):
    """The store's raw bytes (SQLite's file and WAL, or pg_dump's output) and the media files'."""
    out = b""
    if s.backend == "sqlite":
        for suffix in ("", "-wal"):
            p = os.path.join(s.data, "workphone.db" + suffix)
            if os.path.exists(p):
                with open(p, "rb") as f:
                    out += f.read()
    else:
        out = subprocess.run(["pg_dump", s.db_url], check=True, capture_output=True).stdout
    for root, _, files in os.walk(media):
        for n in files:
            with open(os.path.join(root, n), "rb") as f:
                out += f.read()
    return out


def leaks(s):
    """{(table, column): [examples]} of phone and ID-card numbers in the clear."""
    if s.backend == "sqlite":
        rows = rows_sqlite(s.data)
    else:
        dump = subprocess.run(["pg_dump", "--data-only", s.db_url], check=True,
                              capture_output=True, text=True).stdout
        rows = rows_pg(dump)
    found = {}
    for t, c, v in rows:
        if v.startswith("\x01") or v.startswith("\\001"):
            continue  # sealed
        for rx in (PHONE, IDCARD):
            m = rx.search(v)
            if m:
                found.setdefault((t, c), []).append(m.group(0))
    return found


def words(srv, tok):
    """What the API reads back that must not be in the raw files: the messages' texts, link
    titles, file names and memos of 6 characters or more, and the customers' names."""
    out, cursor = set(), None
    while True:
        q = "/api/v1/messages?limit=200" + ("&cursor=" + urllib.parse.quote(cursor)
                                             if cursor else "")
        st, j, _ = srv.req("GET", q, tok)
        check(st == 200, "messages: %s %s" % (st, j))
        for m in j.get("items", []):
            for k in ("text", "title", "filename", "memo"):
                v = m.get(k)
                if isinstance(v, str) and len(v) >= 6:
                    out.add(v)
        cursor = j.get("next_cursor")
        if not cursor or st != 200:
            break
    st, j, _ = srv.req("GET", "/api/v1/customers?limit=200", tok)
    check(st == 200, "customers: %s %s" % (st, j))
    out.update(c["name"] for c in j.get("items", []) if len(c["name"]) >= 3)
    return out


def load(s, key):
    be = s.backend
    if key:
        mk = os.path.join(s.data, "..", "%s.master.key" % be)
        with open(mk, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(mk, 0o600)
        r = wp("keys", "migrate", "--data", s.data, *s.db_args, "--master-key-file", mk)
        check(r.returncode == 0, "%s: keys migrate: %r" % (be, r.stderr))
    srv = Server(s.data, s.db_args, now=None)
    r = wp("simulate", "--server", srv.base, "--employees", "20", "--days", "2", "--seed", "7")
    check(r.returncode == 0 and "done: " in r.stdout, "%s: simulate: %r %r" %
          (be, r.stdout[-500:], r.stderr[-500:]))
    tok = login(srv, "admin")
    got = words(srv, tok)
    srv.stop()
    return got


def suite(s):
    be = s.backend
    media = os.path.join(s.data, "media")
    if be == "sqlite":
        # the scan is not blind: without a key it sees numbers and words everywhere
        os.makedirs(os.path.join(s.data, "..", "plain"), exist_ok=True)
        plain = type(s)(be, os.path.join(s.data, "..", "plain"), "sealload")
        got = load(plain, False)
        found = leaks(plain)
        blob = raw_files(plain, os.path.join(plain.data, "media"))
        check(("messages", "peer_phone") in found and ("customers", "phone") in found,
              "%s: without a key the scan finds numbers: %r" % (be, sorted(found)))
        check(len(got) > 100 and all(w.encode() in blob for w in got),
              "%s: without a key the raw file holds the %d words read back" % (be, len(got)))
    got = load(s, True)
    found = leaks(s)
    bad = {"%s.%s" % k: v[:3] for k, v in found.items() if k not in UNSEALED}
    check(bad == {}, "%s: numbers in the clear: %s" % (be, json.dumps(bad, ensure_ascii=False)))
    blob = raw_files(s, media)
    left = [w for w in got if w.encode() in blob]
    check(len(got) > 100 and left == [], "%s: %d of the %d words read back are in the raw files:"
          " %r" % (be, len(left), len(got), left[:10]))


if __name__ == "__main__":
    raise SystemExit(run_backends(suite, "sealload"))
