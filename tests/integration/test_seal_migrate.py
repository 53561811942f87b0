#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A store that had messages before its master key (issue 20; docs/internals/encryption.md,
# "Sealing what was there"), on both backends:
#  - loaded WITHOUT a key (Chinese texts with a phone number and an ID-card number, through the
#    device API) and searched; then `keys migrate` adds a master key: migrate says to run
#    seal-data, `keys status` counts 6 plain messages, the tenant is flagged (tenants.
#    plain_messages) and search, which asks the plain grams too while the flag is set, still
#    finds exactly what it found before the key;
#  - a seventh legacy message (WeCom) purged by a retention rule before seal-data: no longer
#    found, and none of its plain grams stays in SQLite's index (fts5vocab);
#  - a message stored meanwhile by serve (with the key) is sealed already;
#  - `keys seal-data`, while serve runs: exact output; the same searches give exactly the ids
#    they gave before the key (now from keyed grams: the flag is cleared); the texts read back;
#    the raw store (SQLite: the file and its
#    WAL; PostgreSQL: pg_dump's output) holds none of the texts, the phone or the ID number
#    (the searched words are left out of the grep: the audit log keeps each search's q in the
#    clear, which encryption.md lists as not built yet); status counts 0;
#  - a second run has nothing to do; after `keys rotate-tenant` status counts them under the
#    older version, a run seals them again under version 2, and search still finds them;
#  - a sealed text copied to another row (SQL) and one more rotation: that row is left under
#    version 2, named on a `bad:` line and counted as a problem (exit 1), the others re-sealed.
import os
import subprocess
import tempfile

from harness import (PASSWORD, WP, Server, check, created, enroll, login, run_backends)
from test_seal import ENV, PHONE, IDCARD, TEXTS, QUERIES, search, snapshot, texts, wp

PURGED = "短信旧内容：这条会被清除"  # a WeCom message before the key, purged by retention before seal-data
# not searched by QUERIES (the audit log quotes those), each in the plain store's bytes
NEEDLES = TEXTS + [PHONE, IDCARD, "签约", "回电", "核对", "WX-7731", "confirmed", PURGED]
LATE = "晚到的消息：客户说明年再续签"
NOTHING = ("sealed: 0 messages, 0 customers, 0 calls, 0 contact events, 0 check-ins, 0 alerts, 0"
           " phone identities indexed, 0 re-sealed under the newest key, 0 problems\n")


def said(v, messages=0, customers=0, calls=0, contacts=0, checkins=0, alerts=0, phones=0,
         resealed=0, problems=0, tenant="Acme"):
    """seal-data's two lines when it changed something in the one tenant (key version v)."""
    what = ("%d messages, %d customers, %d calls, %d contact events, %d check-ins" %
            (messages, customers, calls, contacts, checkins))
    return ("tenant '%s': %s and %d alerts sealed, %d phone identities indexed, %d re-sealed under"
            " key version %d\nsealed: %s, %d alerts, %d phone identities indexed, %d re-sealed"
            " under the newest key, %d problem%s\n" %
            (tenant, what, alerts, phones, resealed, v, what, alerts, phones, resealed, problems,
             "" if problems == 1 else "s"))


def counts(blob):
    return {n: blob.count(n.encode()) for n in NEEDLES}


def event(seq, text, channel="wechat"):
    return {"seq": seq, "type": "message", "ts": "2026-11-26T10:%02d:00+08:00" % (seq - 1),
            "channel": channel, "direction": "out" if seq % 2 == 0 else "in",
            "peer": {"id": "wxid_seal%d" % (seq % 2), "name": "客户"},
            "chat": "wxid_seal%d" % (seq % 2), "msgtype": "text", "text": text}


def load(srv, admin):
    st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
    hq = j["employee"]["org_unit_id"]
    emp = created(srv, admin, "/api/v1/employees",
                  {"name": "李四", "org_unit_id": hq, "role": "sales", "username": "ls",
                   "password": PASSWORD}, "employee")["id"]
    dev = enroll(srv, admin, emp, "SN-SEAL-MIGRATE")
    events = [event(i + 1, t) for i, t in enumerate(TEXTS)] + [event(7, PURGED, "wecom")]
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": events})
    check(st == 200 and j["acked_seq"] == 7, "the load: %s %s" % (st, j))
    return dev


def fts_terms(k, terms):
    """SQLite: how many of terms the search index still holds (its live entries)."""
    return k.sql("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, message_fts, row);"
                 " SELECT count(*) FROM temp.v WHERE term IN (%s)" %
                 ", ".join("'%s'" % t for t in terms))


def status_line(k, be):
    r = wp("keys", "status", "--data", k.data, *k.db_args)
    lines = [l for l in r.stdout.splitlines() if l.startswith("messages: ")]
    check(r.returncode == 0 and len(lines) == 1, "%s: keys status: %r %r" %
          (be, r.stdout, r.stderr))
    return lines[0] if lines else None


def seal_data(k, be, what, want, rc=0):
    r = wp("keys", "seal-data", "--data", k.data, *k.db_args)
    check(r.returncode == rc and r.stdout == want and (rc or r.stderr == ""),
          "%s: seal-data (%s): rc %s %r %r, want %r" % (be, what, r.returncode, r.stdout,
                                                          r.stderr, want))


def suite(k):
    be = k.backend
    compacted = ("compacted: VACUUM FULL messages, customers, customer_identities, calls,"
                 " contact_events, checkins, alerts, CHECKPOINT\n"
                 if be == "postgresql"
                 else "compacted: secure_delete, VACUUM, WAL checkpoint\n")
    srv = Server(k.data, k.db_args)
    admin = login(srv, "admin")
    dev = load(srv, admin)
    plain_hits = {q: search(srv, admin, q) for q in QUERIES}
    plain_texts = texts(srv, admin)
    check(plain_texts.pop(7)[1] == PURGED and search(srv, admin, "清除") == [7],
          "%s: the WeCom message is stored and found" % be)
    srv.stop()
    check(plain_hits["八万八千"] == [3, 6] and plain_hits["约"] == [3] and
          plain_hits["不存在的词"] == [] and plain_hits["wx"] == [5],
          "%s: the plain store's answers: %r" % (be, plain_hits))
    plain_bytes = counts(snapshot(k))
    check(all(plain_bytes[n] > 0 for n in NEEDLES), "%s: the grep sees every needle before: %r"
          % (be, [n for n in NEEDLES if plain_bytes[n] == 0]))

    # the master key added
    tmp = tempfile.mkdtemp(prefix="wp-seal-migrate-key.")
    mk = os.path.join(tmp, "master.key")
    with open(mk, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(mk, 0o600)
    r = wp("keys", "migrate", "--data", k.data, *k.db_args, "--master-key-file", mk)
    check(r.returncode == 0 and r.stdout.endswith(
        "note: run 'workphone keys seal-data' now: until it has run, the messages, customers, "
        "calls, contact events and check-ins stored before the master key stay in plain text "
        "(1 tenant)\n"),
        "%s: keys migrate: %r %r" % (be, r.stdout, r.stderr))
    check(status_line(k, be) == "messages: tenant=Acme version=1 plain=7 older=0",
          "%s: status counts the 7 plain messages" % be)

    srv = Server(k.data, k.db_args)
    admin = login(srv, "admin")
    # before seal-data: the legacy rows list, read and are found (the tenant's flag makes its
    # searches ask the plain grams too)
    check(k.sql("SELECT plain_messages FROM tenants") == "1", "%s: migrate flags the tenant" % be)
    check(search(srv, admin, "清除") == [7], "%s: before seal-data the WeCom message is found" % be)
    # a retention purge before seal-data takes the WeCom message's plain grams out of SQLite's index
    # (the grams it was indexed with, not keyed ones: none of its grams stays behind)
    st, j, _ = srv.req("PUT", "/api/v1/retention", admin,
                       body={"rules": [{"kind": "channel", "name": "wecom", "days": 30}]})
    check(st == 200, "%s: a retention rule for WeCom: %s %s" % (be, st, j))
    env = dict(ENV, WORKPHONE_TEST_HOOKS="1", WORKPHONE_FAKE_NOW="2027-06-01T00:00:00Z")
    r = subprocess.run([WP, "jobs", "run", "--data", k.data] + k.db_args, env=env,
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "%s: jobs run: %s %s" % (be, r.returncode, r.stderr))
    check(search(srv, admin, "清除") == [], "%s: the purged WeCom message is not found" % be)
    if be == "sqlite":
        check(fts_terms(k, ["清除", "短信"]) == "0",
              "%s: none of the purged WeCom message's plain grams stays in the index" % be)
    got = texts(srv, admin)
    check({q: t for q, (_, t) in got.items()} == {q: t for q, (_, t) in plain_texts.items()},
          "%s: before seal-data the legacy texts still read" % be)
    check(status_line(k, be) == "messages: tenant=Acme version=1 plain=6 older=0",
          "%s: status counts the 6 plain messages left" % be)
    for q in QUERIES:
        got = search(srv, admin, q)
        check(got == plain_hits[q], "%s: before seal-data, search %r: %r, before the key %r" %
              (be, q, got, plain_hits[q]))
    # a message stored now is sealed and keyed already: seal-data leaves it
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": [event(8, LATE)]})
    check(st == 200 and j["acked_seq"] == 8, "%s: a message stored with the key: %s %s" %
          (be, st, j))
    check(search(srv, admin, "续签") == [8], "%s: the new message is found at once" % be)
    check(status_line(k, be) == "messages: tenant=Acme version=1 plain=6 older=0",
          "%s: the new message is not counted" % be)

    # seal-data while serve runs
    # the three customers the peers made (two WeChat ids, one WeCom id) have plain names
    seal_data(k, be, "first", said(1, messages=6, customers=3) + compacted)
    for q in QUERIES:
        got = search(srv, admin, q)
        check(got == plain_hits[q], "%s: after seal-data, search %r: %r, before the key %r" %
              (be, q, got, plain_hits[q]))
    check(search(srv, admin, "续签") == [8], "%s: the new message is still found" % be)
    got = texts(srv, admin)
    check({q: t for q, (_, t) in got.items() if q != 8} ==
          {q: t for q, (_, t) in plain_texts.items()} and got[8][1] == LATE,
          "%s: after seal-data the texts read back" % be)
    rows = k.sql("SELECT count(*) FROM messages WHERE text LIKE '%s%%' AND raw LIKE '%s%%'"
                 % ("\x01", "\x01"))
    check(rows == "7", "%s: every text and raw is sealed: %r" % (be, rows))
    left = counts(snapshot(k))  # SQLite: the file and its WAL, serve still running
    check(all(v == 0 for v in left.values()),
          "%s: after seal-data the store's bytes hold %r" % (be, {n: c for n, c in left.items()
                                                                 if c}))
    check(status_line(k, be) == "messages: tenant=Acme version=1 plain=0 older=0",
          "%s: status counts none left" % be)
    check(k.sql("SELECT plain_messages FROM tenants") == "0",
          "%s: seal-data clears the tenant's flag" % be)
    seal_data(k, be, "second", NOTHING)

    # a rotation: the older version counted, sealed again, still found
    r = wp("keys", "rotate-tenant", "--data", k.data, *k.db_args, "--tenant", "Acme")
    check(r.returncode == 0 and r.stdout.endswith(") data key version 2\n"),
          "%s: rotate-tenant: %r %r" % (be, r.stdout, r.stderr))
    check(status_line(k, be) == "messages: tenant=Acme version=2 plain=0 older=7",
          "%s: status counts 7 under the older version" % be)
    seal_data(k, be, "after the rotation", said(2, resealed=10) + compacted)
    check(status_line(k, be) == "messages: tenant=Acme version=2 plain=0 older=0",
          "%s: status after the re-sealing" % be)
    for q in QUERIES:
        got = search(srv, admin, q)
        check(got == plain_hits[q], "%s: after the rotation, search %r: %r, before the key %r" %
              (be, q, got, plain_hits[q]))
    got = texts(srv, admin)
    check(got[3][1] == TEXTS[2] and got[8][1] == LATE, "%s: re-sealed texts read" % be)
    seal_data(k, be, "third", NOTHING)

    # a value that does not open (copied from another row) is left, named, counted: exit 1
    src_id, dst_id = got[3][0], got[4][0]
    k.sql("UPDATE messages SET text = (SELECT text FROM messages WHERE id = '%s')"
          " WHERE id = '%s'" % (src_id, dst_id))
    r = wp("keys", "rotate-tenant", "--data", k.data, *k.db_args, "--tenant", "Acme")
    check(r.returncode == 0, "%s: rotate-tenant again: %r" % (be, r.stderr))
    seal_data(k, be, "a moved value", "bad: message %s: messages.text of row %s does not open: "
              "it was altered or moved\n" % (dst_id, dst_id) + said(3, resealed=9, problems=1)
              + compacted, rc=1)
    check(status_line(k, be) == "messages: tenant=Acme version=3 plain=0 older=1",
          "%s: status counts the row left under version 2" % be)
    check(search(srv, admin, "八万八千") == [3, 6], "%s: the other rows still found" % be)
    srv.stop()


if __name__ == "__main__":
    raise SystemExit(run_backends(suite, "sealmig"))
