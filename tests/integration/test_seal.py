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
#    another master key: sealed there again (its bytes hold none of them), the same answers;
#  - a call, a contact added and deleted and a visit check-in from a phone number with a Chinese
#    peer name: with the key the raw store holds neither the number nor the name, and the
#    customer's timeline, the check-ins, the calls and contact events of its data request and
#    the exported tenant's rows answer exactly as without the key.
# The store's side (the format, the keyring, keyed grams, the WeCom duplicate found by its
# opened text) is tests/unit/store/test_seal.c.
import io
import json
import os
import subprocess
import tempfile
import urllib.parse
import zipfile

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
# the peer of a call, a contact added and deleted and a visit check-in
PEER_PHONE = "13987654321"
PEER_NAME = "陈晓红"
# substrings searched: 1, 2 and 4 characters, Latin in another case, digits, and a miss
QUERIES = ["约", "价", "八万", "见面", "发货", "八万八千", "公司见面", "wx", "Order", "7731",
           "不存在的词"]
# what must not be in the sealed store's bytes (a single character is 3 bytes: it could occur
# by chance in binary pages, so the needles are 2 characters or more)
NEEDLES = TEXTS + [PHONE, IDCARD, "八万八千", "公司见面", "见面", "发货", "签约", "回电",
                   "核对", "WX-7731", "confirmed", PEER_PHONE, PEER_NAME]


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
    n = len(TEXTS)
    peer = {"id": "wxid_chen", "name": PEER_NAME, "phone": PEER_PHONE}
    events += [
        {"seq": n + 1, "type": "call", "ts": "2026-11-26T11:00:00+08:00", "direction": "in",
         "peer": {"name": PEER_NAME, "phone": PEER_PHONE}, "duration_s": 63},
        {"seq": n + 2, "type": "contact", "ts": "2026-11-26T11:05:00+08:00", "channel": "wechat",
         "action": "added", "peer": peer},
        {"seq": n + 3, "type": "contact", "ts": "2026-11-26T11:10:00+08:00", "channel": "wechat",
         "action": "deleted", "peer": peer},
        {"seq": n + 4, "type": "checkin", "ts": "2026-11-26T14:00:00+08:00", "kind": "visit",
         "lat": 31.2304567, "lon": 121.4737012, "accuracy_m": 8,
         "peer": {"phone": PEER_PHONE, "name": PEER_NAME}, "note": "拜访"},
    ]
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": events})
    check(st == 200 and j["acked_seq"] == n + 4 and j["rejected"] == [],
          "%s: the load: %s %s" % (tag, st, j))
    return emp


def strip_ids(v, ids):
    """v with each of ids (the store's own: they differ from store to store) named by its
    order of appearance."""
    if isinstance(v, dict):
        return {k: strip_ids(x, ids) for k, x in v.items()}
    if isinstance(v, list):
        return [strip_ids(x, ids) for x in v]
    if isinstance(v, str) and ":" in v:  # an actor: "employee:ID"
        kind, _, rest = v.partition(":")
        return kind + ":" + strip_ids(rest, ids)
    if isinstance(v, str) and len(v) == 24 and all(c in "0123456789abcdef" for c in v):
        return "id%d" % ids.setdefault(v, len(ids))
    return v


def peer_answers(srv, admin):
    """What the API answers about the peer of the call, contact events and visit: its
    customer's timeline, the check-ins, and the calls, contact events and check-ins of its
    data request (ids named by order, the request's own time left out)."""
    st, j, _ = srv.req("GET", "/api/v1/customers?limit=200&q=" + PEER_PHONE, admin)
    check(st == 200 and len(j["items"]) == 1, "the peer's customer: %s %s" % (st, j))
    cid = j["items"][0]["id"]
    ids = {}
    out = {"customer": strip_ids({k: j["items"][0].get(k) for k in ("name", "phone")}, ids)}
    st, j, _ = srv.req("GET", "/api/v1/customers/%s/timeline?limit=200" % cid, admin)
    check(st == 200, "the timeline: %s %s" % (st, j))
    # items of one time come by id, which differs from store to store: by type then
    j["items"] = sorted(j["items"], key=lambda i: (i["ts"], i["type"]), reverse=True)
    out["timeline"] = strip_ids(j, ids)
    st, j, _ = srv.req("GET", "/api/v1/checkins?limit=200", admin)
    check(st == 200, "the check-ins: %s %s" % (st, j))
    out["checkins"] = strip_ids(j, ids)
    st, data, _ = srv.raw("POST", "/api/v1/customers/%s/data-export" % cid, admin)
    check(st == 200, "the data request: %s %s" % (st, data[:300]))
    z = zipfile.ZipFile(io.BytesIO(data))
    for name in sorted(z.namelist()):
        if name.endswith(".json"):
            doc = json.loads(z.read(name))
            doc.pop("made_at", None)
            out[name] = strip_ids(doc, ids)
    return out


def search(srv, admin, q):
    st, j, _ = srv.req("GET", "/api/v1/messages?limit=200&q=" + urllib.parse.quote(q), admin)
    check(st == 200, "search %r: %s %s" % (q, st, j))
    return sorted(m["seq"] for m in j.get("items", [])) if st == 200 else None


def texts(srv, admin):
    st, j, _ = srv.req("GET", "/api/v1/messages?limit=200", admin)
    check(st == 200, "list: %s %s" % (st, j))
    return {m["seq"]: (m["id"], m["text"]) for m in j.get("items", [])}


def export_import(k, srv, tmp, plain_hits, plain_texts, plain_peer):
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
        got = peer_answers(srv2, tok)
        check(got == plain_peer, "%s: imported, the peer's answers: %r, without the key %r" %
              (be, got, plain_peer))
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
    plain_peer = peer_answers(srv, admin)
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
        sealed_peer = peer_answers(srv, admin)
        for key in plain_peer:
            check(sealed_peer.get(key) == plain_peer[key], "%s: %s: %r, without the key %r" %
                  (be, key, sealed_peer.get(key), plain_peer[key]))
        check(sorted(sealed_peer) == sorted(plain_peer), "%s: the same answers: %r" %
              (be, sorted(sealed_peer)))
        for table, n in (("calls", 1), ("contact_events", 2), ("checkins", 1)):
            rows = k.sql("SELECT count(*) FROM %s WHERE raw LIKE '%s%%'%s" %
                         (table, "\x01", "" if table == "checkins" else
                          " AND peer_name LIKE '%s%%' AND peer_phone LIKE '%s%%'" %
                          ("\x01", "\x01")))
            check(rows == str(n), "%s: every %s row is sealed: %r" % (be, table, rows))

        export_import(k, srv, tmp, plain_hits, plain_texts, plain_peer)

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
