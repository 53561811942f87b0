#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# One tenant exported and deleted as a whole (issue 19), on SQLite and PostgreSQL: two tenants with a bit of
# everything (customers, a device, messages with a marker text, a call with a recording, a
# media file of its own and one both have, an API key, sessions, audit rows); `tenant delete`
# is refused for an active tenant, a wrong --confirm and the last tenant (exit 2, nothing
# changed); `tenant export` writes the tenant's rows of every table (the exact counts, read
# back from the file's JSON lines), its media and the audit key, plain and encrypted; then every
# table's rows of the tenant are counted before (the command's total is
# their sum) and are 0 after, the other tenant's counts are unchanged and its chain verifies,
# its media files stay, the deleted one's own file is gone, and the raw SQLite file and its WAL
# hold neither the marker texts nor the tenant's id. The other tenant still answers the same.
import hashlib
import json
import os
import subprocess
import sys
import urllib.parse

import harness
from harness import (PASSWORD, PG_URL, WP, Server, check, created, enroll, err_code, login,
                     run_backends)

# not loaded by import: rollups the jobs make again, and the old deployment's sessions and
# login throttling
DERIVED = {"analytics_hourly", "analytics_alerts_hourly", "analytics_chats", "analytics_state",
           "sessions", "login_failures", "wrapped_keys"}

T1 = "2026-11-27T08:00:00Z"
MARK = "绝密报价XQ-7731"           # Beta's message text and customer name: gone afterwards
MARK_A = "甲方留存AK-5520"          # Acme's: stays
OWN = b"RIFF beta's own recording"  # only Beta has this file
SHARED = b"RIFF a file both tenants have"


def wp(store, *args):
    env = dict(os.environ, WORKPHONE_ADMIN_PASSWORD=PASSWORD)
    return subprocess.run([WP] + list(args) + ["--data", store.data] + store.db_args, env=env,
                          capture_output=True, text=True)


def tables(store):
    if store.backend == "sqlite":
        q = ("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND "
             "name NOT LIKE 'sqlite%' AND name <> 'schema_version' ORDER BY name")
    else:
        q = ("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
             "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT "
             "c.relispartition AND c.relname <> 'schema_version' ORDER BY c.relname")
    return store.sql(q).split()


def counts(store, tenant_id):
    """{table: rows of the tenant} for every table of the store"""
    out = {}
    for t in tables(store):
        col = {"tenants": "id", "wrapped_keys": "owner"}.get(t, "tenant_id")
        out[t] = int(store.sql("SELECT count(*) FROM %s WHERE %s = '%s'" % (t, col, tenant_id)))
    return out


def media_path(store, data):
    h = hashlib.sha256(data).hexdigest()
    return os.path.join(store.data, "media", h[:2], h[2:4], h)


def put_media(srv, dev, data, be):
    ref = "sha256:" + hashlib.sha256(data).hexdigest()
    st, j, _ = srv.req("PUT", "/api/v1/device/media/" + ref, dev, raw=data,
                       headers={"Content-Type": "application/octet-stream"})
    check(st == 201, "%s: upload %s: %s %s" % (be, ref[:20], st, j))
    return ref


def fill(srv, admin, be, serial, mark, files):
    """A customer, a device with messages and a call with a recording, an API key."""
    st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
    me = j["employee"]["id"]
    cust = created(srv, admin, "/api/v1/customers", {"name": mark, "phone": "13700000009",
                                                     "owner_employee_id": me}, "customer")["id"]
    dev = enroll(srv, admin, me, serial)
    refs = [put_media(srv, dev, f, be) for f in files]
    evs = [{"seq": 1, "type": "message", "ts": T1, "channel": "wechat", "direction": "out",
            "peer": {"id": "wxid_peer", "phone": "13700000009"}, "chat": "wxid_peer",
            "msgtype": "text", "text": mark + " 价格可以再谈"},
           {"seq": 2, "type": "location", "ts": T1, "lat": 31.2, "lon": 121.4, "accuracy_m": 10}]
    for i, ref in enumerate(refs):
        evs.append({"seq": 3 + i, "type": "call", "ts": T1, "direction": "out",
                    "peer": {"phone": "13700000009"}, "duration_s": 30, "recording": ref})
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": evs})
    check(st == 200 and j["acked_seq"] == evs[-1]["seq"] and j["rejected"] == [],
          "%s: %s's events stored: %s %s" % (be, serial, st, j))
    created(srv, admin, "/api/v1/api-keys", {"name": "CRM", "role": "admin"}, "API key")
    st, j, _ = srv.req("GET", "/api/v1/messages?q=" + urllib.parse.quote("价格"), admin)
    check(st == 200 and len(j["items"]) == 1, "%s: %s's message is found: %s %s" %
          (be, serial, st, j))
    return cust


def raw_files(store):
    out = b""
    for name in ("workphone.db", "workphone.db-wal"):
        p = os.path.join(store.data, name)
        if os.path.exists(p):
            with open(p, "rb") as f:
                out += f.read()
    return out


def entries(path):
    """The plain container (docs/backup.md): {name: bytes} of its entries, by kind."""
    with open(path, "rb") as f:
        buf = f.read()
    check(buf[:10] == b"WPBACKUP\x01\x00", "export: a plain backup file's header")
    pos, out = 10, {}
    while buf[pos:pos + 1] != b"Z":
        kind = buf[pos:pos + 1].decode()
        n = int.from_bytes(buf[pos + 1:pos + 3], "big")
        name = buf[pos + 3:pos + 3 + n].decode()
        pos += 3 + n
        data = b""
        while True:
            size = int.from_bytes(buf[pos:pos + 4], "big")
            pos += 4
            if size == 0:
                break
            data += buf[pos:pos + size]
            pos += size
        out[(kind, name)] = data
    return out


def export(store, tenant_id, before, cust):
    be = store.backend
    out = os.path.join(os.path.dirname(store.data), "beta-%s.wpt" % be)
    r = wp(store, "tenant", "export", "Beta", "--out", out)
    n = sum(before.values())
    check(r.returncode == 0 and r.stdout.startswith("ok: tenant 'Beta' to %s, schema " % out) and
          r.stdout.endswith(", %d rows, 2 media files (%d bytes)\n" % (n, len(OWN) + len(SHARED))),
          "%s: tenant export: %d %r %r" % (be, r.returncode, r.stdout, r.stderr))
    r2 = wp(store, "tenant", "export", "Beta", "--out", out)
    check(r2.returncode == 2 and "exists" in r2.stderr, "%s: export over a file: %r" %
          (be, r2.stderr))
    r = subprocess.run([WP, "backup", "--list", out], capture_output=True, text=True)
    man = json.loads(r.stdout[:r.stdout.rindex("}") + 1]) if r.returncode == 0 else {}
    check(r.returncode == 0 and man["kind"] == "tenant" and man["tenant"] == {
        "id": tenant_id, "name": "Beta"} and man["tables"] == before and man["rows"] == n and
          man["media"]["files"] == 2 and man["backend"] == be,
          "%s: backup --list reads the export: %s %s" % (be, r.stderr, man))
    e = entries(out)
    check(("F", "keys/audit.key") in e and len(e[("F", "keys/audit.key")]) > 0,
          "%s: the export holds the audit key" % be)
    check(e.get(("F", media_path(store, OWN)[len(store.data) + 1:])) == OWN and
          e.get(("F", media_path(store, SHARED)[len(store.data) + 1:])) == SHARED,
          "%s: the export holds both of Beta's media files" % be)
    tables_seen = {}
    for (kind, name), data in e.items():
        if kind != "T":
            continue
        lines = data.decode().splitlines()
        cols = json.loads(lines[0])
        rows = [dict(zip(cols, json.loads(l))) for l in lines[1:]]
        tables_seen[name] = len(rows)
        key = {"tenants": "id", "wrapped_keys": "owner"}.get(name, "tenant_id")
        check(all(r[key] == tenant_id for r in rows), "%s: %s: Beta's rows only" % (be, name))
        if name == "customers":
            check([r["name"] for r in rows] == [MARK], "%s: the customer exported: %s" %
                  (be, rows))
        if name == "messages":
            check([r["text"] for r in rows] == [MARK + " 价格可以再谈"] and
                  isinstance(rows[0]["ts_us"], int), "%s: the message exported: %s" % (be, rows))
    check(tables_seen == before, "%s: every table's rows are in the export: %s" %
          (be, {t: (n, before.get(t)) for t, n in tables_seen.items() if n != before.get(t)}))
    # encrypted: readable with the key only
    keyfile = os.path.join(os.path.dirname(store.data), "export-%s.key" % be)
    with open(keyfile, "wb") as f:
        f.write(os.urandom(32))
    enc = out + ".enc"
    r = wp(store, "tenant", "export", "Beta", "--out", enc, "--key-file", keyfile)
    check(r.returncode == 0 and r.stdout.endswith(", encrypted\n"), "%s: encrypted export: %r %r"
          % (be, r.stdout, r.stderr))
    with open(enc, "rb") as f:
        check(MARK.encode() not in f.read(), "%s: the encrypted export hides its rows" % be)
    r = subprocess.run([WP, "backup", "--list", enc, "--key-file", keyfile], capture_output=True,
                       text=True)
    check(r.returncode == 0 and '"kind": "tenant"' in r.stdout, "%s: listed with its key: %s" %
          (be, r.stderr))
    targets = [store.backend]
    if harness.PG_URL:
        targets.append("postgresql" if store.backend == "sqlite" else "sqlite")
    for target in targets:  # the other backend gets the encrypted one
        extra = [] if target == store.backend else ["--key-file", keyfile]
        import_into(store, target, out if not extra else enc, extra, tenant_id, before, cust)
    r = subprocess.run([WP, "restore", "--in", out, "--data", store.data + "-restored"],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "is one tenant's export, not a backup" in r.stderr,
          "%s: restore refuses an export: %r" % (be, r.stderr))


def import_into(store, target_be, out, extra, tenant_id, before, cust):
    """The export loaded into a new store of target_be: the same rows, a chain that verifies
    with that store's own key, and the same answers through the API."""
    be = "%s->%s" % (store.backend, target_be)
    tmp = os.path.join(os.path.dirname(store.data), "import-%s-%s" % (store.backend, target_be))
    os.makedirs(tmp)
    dst = harness.Store(target_be, tmp, "imp%s" % store.backend[:2])
    try:
        for args, rc, msg in [
            (["tenant", "import"], 2, "missing --in FILE"),
            (["tenant", "import", "Beta", "--in", out], 2, "unknown argument 'Beta'"),
            (["tenant", "import", "--in", out, "--out", out], 2,
             "'tenant import' takes --in FILE and --key-file KEY only"),
            (["tenant", "import", "--in", out + ".nope"], 2, "--in '%s.nope': " % out),
            (["tenant", "export", "Beta", "--in", out], 2, "--in is for 'tenant import'"),
        ]:
            r = wp(dst, *args)
            check(r.returncode == rc and msg in r.stderr and r.stderr.count("\n") == 1,
                  "%s: %s: exit %d naming %r: %d %r" % (be, args[:2], rc, msg, r.returncode,
                                                        r.stderr))
        if extra:
            r = wp(dst, "tenant", "import", "--in", out)
            check(r.returncode == 2 and r.stderr == "workphone tenant: '%s' is encrypted: give "
                  "its key with --key-file\n" % out,
                  "%s: an encrypted export without its key: %d %r" % (be, r.returncode, r.stderr))
        check(dst.sql("SELECT count(*) FROM tenants") == "1", "%s: nothing imported yet" % be)
        r = wp(dst, "tenant", "import", "--in", out, *extra)
        n = sum(v for t, v in before.items() if t not in DERIVED)
        want = ("imported tenant 'Beta' (%s): %d rows in %d tables, 2 media files; its audit "
                "chain re-sealed with this store's key\n" % (tenant_id, n,
                                                            len(set(before) - DERIVED)))
        check(r.returncode == 0 and r.stdout == want, "%s: tenant import: %d %r %r (want %r)" %
              (be, r.returncode, r.stdout, r.stderr, want))
        got = counts(dst, tenant_id)
        diff = {t: (got.get(t), v) for t, v in before.items()
                if t not in DERIVED and got.get(t) != v + (1 if t == "audit_log" else 0)}
        check(diff == {}, "%s: every table's rows arrived (audit_log one more): %s" % (be, diff))
        check(got["sessions"] == 0, "%s: no session of the old deployment came along" % be)
        r = wp(dst, "audit", "verify")
        check(r.returncode == 0 and r.stdout.startswith("ok: "),
              "%s: both chains verify with the new store's key: %s %s" % (be, r.stdout, r.stderr))
        row = dst.sql("SELECT actor || ' ' || details FROM audit_log WHERE tenant_id = '%s' AND "
                      "action = 'tenant.import'" % tenant_id)
        check(row.startswith("system {\"rows\":%d,\"media_files\":2,\"resealed\":true,"
                             "\"source_head\":\"" % n), "%s: the import's audit row: %r" % (be, row))
        r = wp(dst, "tenant", "import", "--in", out, *extra)
        check(r.returncode == 2 and "a tenant 'Beta' exists in this store already" in r.stderr,
              "%s: a second import is refused: %r" % (be, r.stderr))
        check(wp(dst, "tenant", "enable", "Beta").returncode == 0, "%s: enable Beta" % be)
        srv = Server(dst.data, dst.db_args)
        b = login(srv, "boss", tenant="Beta")
        st, j, _ = srv.req("GET", "/api/v1/customers/" + cust, b)
        check(st == 200 and j["name"] == MARK, "%s: Beta's customer reads the same: %s %s" %
              (be, st, j))
        st, j, _ = srv.req("GET", "/api/v1/messages?q=" + urllib.parse.quote("价格"), b)
        check(st == 200 and [m["text"] for m in j["items"]] == [MARK + " 价格可以再谈"],
              "%s: Beta's message is found by search: %s %s" % (be, st, j))
        ref = "sha256:" + hashlib.sha256(OWN).hexdigest()
        st, body, _ = srv.raw("GET", "/api/v1/media/" + ref, b)
        check(st == 200 and body == OWN, "%s: Beta's recording downloads: %s" % (be, st))
        st, j, _ = srv.req("GET", "/api/v1/devices", b)
        check(st == 200 and [d["serial"] for d in j["items"]] == ["SN-B"],
              "%s: Beta's device is listed: %s %s" % (be, st, j))
        a = login(srv, "admin", tenant="Acme")
        st, j, _ = srv.req("GET", "/api/v1/customers", a)
        check(st == 200 and j["items"] == [], "%s: the store's own tenant sees none of it: %s" %
              (be, j))
        srv.stop()
        r = wp(dst, "audit", "verify")
        check(r.returncode == 0, "%s: the chains verify after serving: %s" % (be, r.stdout))
    finally:
        dst.drop()


def suite(store):
    be = store.backend
    r = wp(store, "tenant", "add", "--name", "Beta", "--admin", "boss")
    check(r.returncode == 0, "%s: tenant add: %s" % (be, r.stderr))
    ids = {t["name"]: t["id"] for t in json.loads(wp(store, "tenant", "list", "--json").stdout)}
    acme, beta = ids["Acme"], ids["Beta"]

    srv = Server(store.data, store.db_args)
    a = login(srv, "admin", tenant="Acme")
    b = login(srv, "boss", tenant="Beta")
    cust_a = fill(srv, a, be, "SN-A", MARK_A, [SHARED])
    cust_b = fill(srv, b, be, "SN-B", MARK, [OWN, SHARED])
    srv.stop()

    before_a, before_b = counts(store, acme), counts(store, beta)
    busy = sorted(t for t, n in before_b.items() if n)
    for t in ("tenants", "customers", "devices", "messages", "calls", "locations", "media",
              "api_keys", "sessions", "audit_log", "employees", "org_units", "tenant_usage"):
        check(before_b.get(t, 0) > 0, "%s: Beta has rows in %s: %s" % (be, t, before_b.get(t)))
    if be == "sqlite":
        check(MARK.encode() in raw_files(store), "sqlite: the marker is in the file before")

    # refusals: nothing changes
    for args, rc, msg in [
        (["tenant", "delete", "Beta"], 2, "missing --confirm NAME"),
        (["tenant", "delete", "Beta", "--confirm", "beta"], 2,
         "--confirm 'beta' is not the tenant's name 'Beta'"),
        (["tenant", "delete", "Beta", "--confirm", "Beta"], 2,
         "tenant 'Beta' is active: disable it first"),
        (["tenant", "disable", "Beta", "--confirm", "Beta"], 2, "--confirm is for 'tenant delete'"),
        (["tenant", "delete", "Nobody", "--confirm", "Nobody"], 2, "no tenant 'Nobody'"),
    ]:
        r = wp(store, *args)
        check(r.returncode == rc and msg in r.stderr and r.stderr.count("\n") == 1,
              "%s: %s: exit %d naming '%s': %d %r" % (be, args, rc, msg, r.returncode, r.stderr))
    check(counts(store, beta) == before_b, "%s: the refusals deleted nothing" % be)

    r = wp(store, "tenant", "disable", "Beta")
    check(r.returncode == 0, "%s: disable Beta: %s" % (be, r.stderr))
    before_b = counts(store, beta)  # the disable's audit row
    export(store, beta, before_b, cust_b)
    r = wp(store, "tenant", "delete", "Beta", "--confirm", "Beta")
    want = "deleted tenant 'Beta' (%s): %d rows in %d tables, 1 media files\n" % (
        beta, sum(before_b.values()), len([t for t, n in before_b.items() if n]))
    check(r.returncode == 0 and r.stdout == want and r.stderr == "",
          "%s: tenant delete: %d %r %r (want %r)" % (be, r.returncode, r.stdout, r.stderr, want))

    after_b = counts(store, beta)
    check(all(n == 0 for n in after_b.values()),
          "%s: no row of Beta in any table: %s" % (be, {t: n for t, n in after_b.items() if n}))
    check(counts(store, acme) == before_a, "%s: Acme's rows untouched: %s vs %s" %
          (be, counts(store, acme), before_a))
    check(not os.path.exists(media_path(store, OWN)), "%s: Beta's own file is gone" % be)
    check(os.path.exists(media_path(store, SHARED)), "%s: the file Acme has too stays" % be)
    if be == "sqlite":
        raw = raw_files(store)
        check(MARK.encode() not in raw and b"SN-B" not in raw and b"boss" not in raw,
              "sqlite: Beta's texts, serial and admin are in neither the file nor the WAL")
        check(beta.encode() not in raw, "sqlite: Beta's id is nowhere in the file")
        check(MARK_A.encode() in raw, "sqlite: Acme's text is still there (the grep works)")
        r = subprocess.run(["sqlite3", os.path.join(store.data, "workphone.db"),
                            "PRAGMA integrity_check; PRAGMA foreign_key_check;"],
                           capture_output=True, text=True)
        check(r.stdout == "ok\n", "sqlite: the file is whole: %r" % r.stdout)
        r = wp(store, "check")
        check(r.returncode == 0, "sqlite: workphone check passes: %s %s" % (r.stdout, r.stderr))
    r = wp(store, "audit", "verify")
    check(r.returncode == 0 and r.stdout.startswith("ok: "),
          "%s: Acme's chain verifies: %s %s" % (be, r.stdout, r.stderr))
    ts = json.loads(wp(store, "tenant", "list", "--json").stdout)
    check([t["name"] for t in ts] == ["Acme"], "%s: Acme alone is listed: %s" % (be, ts))

    # the last tenant is not deleted
    wp(store, "tenant", "disable", "Acme")
    r = wp(store, "tenant", "delete", "Acme", "--confirm", "Acme")
    check(r.returncode == 2 and "'Acme' is the store's only tenant" in r.stderr,
          "%s: the only tenant is kept: %d %r" % (be, r.returncode, r.stderr))
    wp(store, "tenant", "enable", "Acme")

    srv = Server(store.data, store.db_args)
    a = login(srv, "admin", tenant="Acme")
    st, j, _ = srv.req("GET", "/api/v1/customers/" + cust_a, a)
    check(st == 200 and j["name"] == MARK_A, "%s: Acme reads its customer: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/messages?q=" + urllib.parse.quote("价格"), a)
    check(st == 200 and [m["text"] for m in j["items"]] == [MARK_A + " 价格可以再谈"],
          "%s: Acme's search finds its message only: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/auth/login", body={"username": "boss", "tenant": "Beta",
                                                             "password": PASSWORD})
    check(st == 401 and err_code(j) == "unauthorized", "%s: Beta's admin is gone: %s %s" %
          (be, st, j))
    srv.stop()


if __name__ == "__main__":
    sys.exit(run_backends(suite, "tenant_delete"))
