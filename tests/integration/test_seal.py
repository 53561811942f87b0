#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Message text encrypted at rest (issue 20; docs/internals/encryption.md), on both backends:
#  - the same load (Chinese texts with a phone number and an ID-card number, through the
#    device API) on a store without a master key and on one with a master key;
#  - with the key: the raw database (SQLite: the file and its WAL while serve runs;
#    PostgreSQL: pg_dump's output) holds no text, no phone or ID number and no searched word
#    more often than before the load, while the store without the key holds each of them
#    (the grep can see them);
#  - searches for 1-, 2- and 4-character substrings, a mixed-case Latin one and a miss give the
#    same messages (by their seq) on both stores, and the texts read back identical;
#  - a sealed text copied to another row (SQL UPDATE) makes that message's read a JSON 500
#    that quotes neither text, logged as event=seal_open; the source row still reads;
#  - a second tenant with the same load, exported (texts opened) and imported into a store with
#    another master key: sealed there again (its bytes hold none of them), the same answers.
# The store's side (the format, the keyring, keyed grams, the WeCom duplicate found by its
# opened text) is tests/unit/store/test_seal.c.
import os
import subprocess
import tempfile
import urllib.parse

from harness import (PASSWORD, WP, Server, Store, check, created, enroll, err_code, login,
                     run_backends)

ENV = dict(os.environ, WORKPHONE_ADMIN_PASSWORD=PASSWORD)
PHONE = "13812345678"
IDCARD = "110101199003071234"
TEXTS = [
    "您好，我的电话是" + PHONE + "，方便时请回电",
    "身份证号码" + IDCARD + "已经核对无误",
    "合同价格是八万八千元，下周三签约",
    "明天上午十点在公司见面谈合作细节",
    "Order WX-7731 confirmed，周五发货到仓库",
    "价格可以再商量，八万八千太贵了",
]
# substrings searched: 1, 2 and 4 characters, Latin in another case, digits, and a miss
QUERIES = ["约", "价", "八万", "见面", "发货", "八万八千", "公司见面", "wx", "Order", "7731",
           "不存在的词"]
# what must not be in the sealed store's bytes (a single character is 3 bytes: it could occur
# by chance in binary pages, so the needles are 2 characters or more)
NEEDLES = TEXTS + [PHONE, IDCARD, "八万八千", "公司见面", "见面", "发货", "签约", "回电",
                   "核对", "WX-7731", "confirmed"]


def wp(*args):
    return subprocess.run([WP] + list(args), capture_output=True, text=True, env=ENV,
                          timeout=120)


def snapshot(s):
    """The store's raw bytes: SQLite's file and WAL, PostgreSQL's pg_dump."""
    if s.backend == "sqlite":
        out = b""
        for suffix in ("", "-wal"):
            p = os.path.join(s.data, "workphone.db" + suffix)
            if os.path.exists(p):
                with open(p, "rb") as f:
                    out += f.read()
        return out
    return subprocess.run(["pg_dump", s.db_url], check=True, capture_output=True).stdout


def counts(blob):
    return {n: blob.count(n.encode()) for n in NEEDLES}


def load(srv, admin, tag):
    st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
    hq = j["employee"]["org_unit_id"]
    emp = created(srv, admin, "/api/v1/employees",
                  {"name": "李四", "org_unit_id": hq, "role": "sales", "username": "ls",
                   "password": PASSWORD}, "employee")["id"]
    dev = enroll(srv, admin, emp, "SN-SEAL-" + tag)
    events = [{"seq": i + 1, "type": "message", "ts": "2026-11-26T10:%02d:00+08:00" % i,
               "channel": "wechat", "direction": "out" if i % 2 else "in",
               "peer": {"id": "wxid_seal%d" % (i % 2), "name": "客户"},
               "chat": "wxid_seal%d" % (i % 2), "msgtype": "text", "text": t}
              for i, t in enumerate(TEXTS)]
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": events})
    check(st == 200 and j["acked_seq"] == len(TEXTS), "%s: the load: %s %s" % (tag, st, j))
    return emp


def search(srv, admin, q):
    st, j, _ = srv.req("GET", "/api/v1/messages?limit=200&q=" + urllib.parse.quote(q), admin)
    check(st == 200, "search %r: %s %s" % (q, st, j))
    return sorted(m["seq"] for m in j.get("items", [])) if st == 200 else None


def texts(srv, admin):
    st, j, _ = srv.req("GET", "/api/v1/messages?limit=200", admin)
    check(st == 200, "list: %s %s" % (st, j))
    return {m["seq"]: (m["id"], m["text"]) for m in j.get("items", [])}


def export_import(k, srv, tmp, plain_hits, plain_texts):
    """A second tenant with the same load, exported (texts opened: the keys stay here) and
    imported into a store with another master key: sealed there again, the same answers."""
    be = k.backend
    r = wp("tenant", "add", "--name", "Beta", "--admin", "beta", "--data", k.data, *k.db_args)
    check(r.returncode == 0, "%s: tenant add: %r" % (be, r.stderr))
    beta = login(srv, "beta", tenant="Beta")
    load(srv, beta, "BETA")
    out = os.path.join(tmp, "beta.wpt")
    r = wp("tenant", "export", "Beta", "--out", out, "--data", k.data, *k.db_args)
    check(r.returncode == 0, "%s: tenant export: %r %r" % (be, r.stdout, r.stderr))
    with open(out, "rb") as f:
        exported = f.read()
    check(all(t.encode() in exported for t in TEXTS),
          "%s: the export carries the texts opened (its own --key-file encrypts it)" % be)
    os.makedirs(os.path.join(tmp, "import"))
    m = Store(be, os.path.join(tmp, "import"), "sealm")
    try:
        mk = os.path.join(tmp, "other.key")
        with open(mk, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(mk, 0o600)
        r = wp("keys", "migrate", "--data", m.data, *m.db_args, "--master-key-file", mk)
        check(r.returncode == 0, "%s: keys migrate (import): %r" % (be, r.stderr))
        before = counts(snapshot(m))
        r = wp("tenant", "import", "--in", out, "--data", m.data, *m.db_args)
        check(r.returncode == 0, "%s: tenant import: %r %r" % (be, r.stdout, r.stderr))
        after = counts(snapshot(m))
        leaked = [n for n in NEEDLES if after[n] > before[n]]
        check(leaked == [], "%s: the importing store's bytes hold %r" % (be, leaked))
        srv2 = Server(m.data, m.db_args)
        tok = login(srv2, "beta", tenant="Beta")
        for q in QUERIES:
            got = search(srv2, tok, q)
            check(got == plain_hits[q], "%s: imported, search %r: %r, without the key %r" %
                  (be, q, got, plain_hits[q]))
        got = texts(srv2, tok)
        check({q: t for q, (_, t) in got.items()} == {q: t for q, (_, t) in plain_texts.items()},
              "%s: imported, the texts read back as they read without the key" % be)
        srv2.stop()
    finally:
        m.drop()


def suite(s):
    be = s.backend
    # the store without a master key: the load, its answers, its bytes
    srv = Server(s.data, s.db_args)
    admin = login(srv, "admin")
    load(srv, admin, "PLAIN")
    plain_hits = {q: search(srv, admin, q) for q in QUERIES}
    plain_texts = texts(srv, admin)
    plain_bytes = counts(snapshot(s))
    srv.stop()
    check(plain_hits["八万八千"] == [3, 6] and plain_hits["约"] == [3] and
          plain_hits["不存在的词"] == [] and plain_hits["wx"] == [5],
          "%s: the plain store's answers are the expected ones: %r" % (be, plain_hits))
    check(all(plain_bytes[n] > 0 for n in NEEDLES),
          "%s: the grep sees every needle in the plain store: %r" %
          (be, [n for n in NEEDLES if plain_bytes[n] == 0]))

    # the same load on a store with a master key
    tmp = tempfile.mkdtemp(prefix="wp-seal-k.")
    k = Store(be, tmp, "sealk")
    try:
        mk = os.path.join(tmp, "master.key")
        with open(mk, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(mk, 0o600)
        r = wp("keys", "migrate", "--data", k.data, *k.db_args, "--master-key-file", mk)
        check(r.returncode == 0, "%s: keys migrate: %r" % (be, r.stderr))
        before = counts(snapshot(k))
        srv = Server(k.data, k.db_args)
        admin = login(srv, "admin")
        load(srv, admin, "SEALED")
        after = counts(snapshot(k))  # while serve runs: SQLite's WAL holds the new pages
        leaked = [n for n in NEEDLES if after[n] > before[n]]
        check(leaked == [], "%s: the sealed store's bytes hold %r" % (be, leaked))
        rows = k.sql("SELECT count(*) FROM messages WHERE text LIKE '%s%%'" % "\x01")
        check(rows == str(len(TEXTS)), "%s: every text is sealed: %r" % (be, rows))

        # the same answers, the same texts
        for q in QUERIES:
            got = search(srv, admin, q)
            check(got == plain_hits[q], "%s: search %r: %r, without the key %r" %
                  (be, q, got, plain_hits[q]))
        sealed_texts = texts(srv, admin)
        check({q: t for q, (_, t) in sealed_texts.items()} ==
              {q: t for q, (_, t) in plain_texts.items()},
              "%s: the texts read back as they read without the key" % be)

        export_import(k, srv, tmp, plain_hits, plain_texts)

        # a sealed text copied to another row does not open there
        src_id, dst_id = sealed_texts[3][0], sealed_texts[4][0]
        k.sql("UPDATE messages SET text = (SELECT text FROM messages WHERE id = '%s')"
              " WHERE id = '%s'" % (src_id, dst_id))
        st, body, _ = srv.raw("POST", "/api/v1/messages/%s/unmask" % dst_id, admin)
        text = body.decode()
        check(st == 500 and '"internal_error"' in text and "八万" not in text and
              "见面" not in text,
              "%s: the moved text: a JSON 500 that quotes nothing: %s %s" % (be, st, text))
        st, j, _ = srv.req("GET", "/api/v1/messages?limit=200", admin)
        check(st == 500 and err_code(j) == "internal_error",
              "%s: a list that meets it: 500: %s %s" % (be, st, j))
        st, j, _ = srv.req("POST", "/api/v1/messages/%s/unmask" % src_id, admin)
        check(st == 200 and j["text"] == TEXTS[2],
              "%s: the source row still reads: %s %s" % (be, st, j))
        srv.err.seek(0)
        log = srv.err.read()
        check("event=seal_open" in log and "row=" + dst_id in log and "八万" not in log,
              "%s: the failure is logged, by its place only" % be)
        srv.stop()
    finally:
        k.drop()


if __name__ == "__main__":
    raise SystemExit(run_backends(suite, "seal"))
