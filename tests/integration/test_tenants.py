#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Tenants for SaaS operators (issue 19) on SQLite and PostgreSQL: `workphone tenant add` puts a
# second tenant beside init's in one data dir and store, one `serve` serves both; each admin
# sees its own data only, both audit chains verify; `tenant disable` refuses the tenant's
# logins, sessions and devices (403 tenant_disabled) and not the other's, `enable` undoes it;
# the devices limit holds at exactly N+1; every bad argument exits 2 naming its field. On
# PostgreSQL: `init` of a new data dir on a database that holds tenants is refused (its new
# audit key would not verify on the serving node).
import hashlib
import json
import os
import subprocess
import sys

from harness import PASSWORD, WP, Server, check, created, err_code, login, run_backends

T1 = "2026-11-27T08:00:00Z"


def wp(store, *args, password=PASSWORD, data=None):
    env = dict(os.environ, WORKPHONE_ADMIN_PASSWORD=password)
    return subprocess.run([WP] + list(args) + ["--data", data or store.data] + store.db_args,
                          env=env, capture_output=True, text=True)


def bad_args(store):
    be = store.backend
    cases = [
        (["tenant", "add", "--admin", "x"], "missing --name"),
        (["tenant", "add", "--name", "Gamma"], "missing --admin"),
        (["tenant", "add", "--name", "Acme", "--admin", "x"], "--name: tenant 'Acme' already exists"),
        (["tenant", "add", "--name", " ", "--admin", "x"], "--name: tenant name is empty"),
        (["tenant", "add", "--name", "a\x01b", "--admin", "x"], "--name: "),
        (["tenant", "add", "--name", "Gamma", "--admin", "bad user!"], "--admin 'bad user!'"),
        (["tenant", "add", "--name", "Gamma", "--admin", "g", "--max-devices", "-1"],
         "--max-devices '-1' must be 0-1000000 or 'none'"),
        (["tenant", "add", "--name", "Gamma", "--admin", "g", "--max-devices", "1000001"],
         "--max-devices '1000001'"),
        (["tenant", "set", "Acme", "--max-devices", "abc"], "--max-devices 'abc'"),
        (["tenant", "set", "Acme"], "missing --max-devices N|none or --max-storage-mb N|none"),
        (["tenant", "disable"], "missing the tenant's NAME"),
        (["tenant", "disable", "Nobody"], "--name: no tenant 'Nobody'"),
        (["tenant", "enable", "Acme", "--json"], "--json is for 'tenant list'"),
        (["tenant", "list", "Acme"], "unknown argument 'Acme'"),
        (["tenant", "list", "--name", "Acme"], "'tenant list' takes no name"),
        (["tenant", "frobnicate"], "unknown verb 'frobnicate'"),
        (["tenant", "list", "--bogus"], "unknown argument '--bogus'"),
    ]
    for args, msg in cases:
        r = wp(store, *args)
        check(r.returncode == 2 and msg in r.stderr and r.stderr.count("\n") == 1,
              "%s: %s: exit 2 naming '%s': rc %d %r" % (be, args, msg, r.returncode, r.stderr))
    r = subprocess.run([WP, "tenant", "list"], capture_output=True, text=True)
    check(r.returncode == 2 and "missing --data DIR" in r.stderr, "%s: no --data: %r" % (be, r.stderr))
    r = wp(store, "tenant", "add", "--name", "Gamma", "--admin", "g", password="short")
    check(r.returncode == 2 and "password" in r.stderr, "%s: short password: %r" % (be, r.stderr))
    r = subprocess.run([WP, "tenant", "--help"], capture_output=True, text=True)
    check(r.returncode == 0 and "--max-devices" in r.stdout, "%s: tenant --help" % be)
    names = store.sql("SELECT name FROM tenants ORDER BY name")
    check(names == "Acme\nBeta", "%s: bad arguments changed nothing: %r" % (be, names))


def listed(store):
    r = wp(store, "tenant", "list", "--json")
    check(r.returncode == 0, "%s: tenant list --json: %s" % (store.backend, r.stderr))
    return {t["name"]: t for t in json.loads(r.stdout)}


def verify(store, what):
    r = wp(store, "audit", "verify")
    check(r.returncode == 0 and r.stdout.startswith("ok: "),
          "%s: audit verify %s: rc %d %s %s" % (store.backend, what, r.returncode, r.stdout,
                                               r.stderr))


def me(srv, tok):
    st, j, _ = srv.req("GET", "/api/v1/auth/session", tok)
    return j["employee"]


def enroll_or(srv, admin, emp, serial):
    st, j, _ = srv.req("POST", "/api/v1/employees/%s/enrollment-codes" % emp, admin, body={})
    check(st == 201, "enrollment code: %s %s" % (st, j))
    return srv.req("POST", "/api/v1/device/enroll",
                   body={"code": j["code"], "serial": serial, "model": "test"})


def upload(srv, dev, seq):
    return srv.req("POST", "/api/v1/device/events", dev,
                   body={"events": [{"seq": seq, "type": "location", "ts": T1, "lat": 31.2,
                                     "lon": 121.4, "accuracy_m": 10}]})


def disabled(st, j, what, be):
    check(st == 403 and err_code(j) == "tenant_disabled" and "disabled" in j["error"]["message"],
          "%s: %s refused as tenant_disabled: %s %s" % (be, what, st, j))


def key_per_dir(store):
    """A second data dir's init on a database with tenants: refused, nothing added."""
    be = store.backend
    other = os.path.join(os.path.dirname(store.data), "second-node")
    r = wp(store, "init", "--tenant", "Gamma", "--admin", "g", data=other)
    check(r.returncode == 2 and "tenant add" in r.stderr,
          "%s: init of a new dir on a database with tenants refused: rc %d %r" %
          (be, r.returncode, r.stderr))
    check(store.sql("SELECT count(*) FROM tenants") == "2", "%s: no tenant added" % be)
    check(not os.path.exists(os.path.join(other, "keys", "audit.key")),
          "%s: the refused init left no key behind" % be)


def storage(store, srv, dev):
    """The operator's storage limit of Beta: at 0 an upload of events and of a file is refused
    with 507 and stores nothing, at 1 MiB the same go through; list and the chain show it."""
    be = store.backend
    beta = listed(store)["Beta"]
    for args, msg in [
        (["tenant", "set", "Beta", "--max-storage-mb", "-1"],
         "--max-storage-mb '-1' must be 0-8589934591 or 'none'"),
        (["tenant", "set", "Beta", "--max-storage-mb", "8589934592"], "--max-storage-mb '8589934592'"),
        (["tenant", "set", "Beta", "--max-storage-mb", "1.5"], "--max-storage-mb '1.5'"),
        (["tenant", "disable", "Beta", "--max-storage-mb", "1"],
         "--max-storage-mb is for 'tenant add' and 'tenant set'"),
    ]:
        r = wp(store, *args)
        check(r.returncode == 2 and msg in r.stderr and r.stderr.count("\n") == 1,
              "%s: %s: exit 2 naming %r: %d %r" % (be, args, msg, r.returncode, r.stderr))
    r = wp(store, "tenant", "set", "Beta", "--max-storage-mb", "0")
    check(r.returncode == 0 and r.stdout == "tenant 'Beta': limits set\n",
          "%s: storage limit 0: %r %r" % (be, r.stdout, r.stderr))
    t = listed(store)["Beta"]
    used = t["used_bytes"]
    check(t["storage_limit_bytes"] == 0 and used > 0 and used == beta["used_bytes"],
          "%s: listed with its limit: %s" % (be, t))
    locs = store.sql("SELECT count(*) FROM locations WHERE tenant_id = '%s'" % beta["id"])

    st, j, _ = upload(srv, dev, 2)
    d = j.get("error", {}).get("details", {}) if isinstance(j, dict) else {}
    check(st == 507 and err_code(j) == "quota_exceeded" and d.get("limit") == "storage_limit" and
          d.get("used_bytes") == used and d.get("limit_bytes") == 0 and
          d.get("needed_bytes", 0) > 0 and j["error"]["message"] ==
          "the tenant's storage limit is reached: %d of 0 bytes used, this needs %d more; the "
          "operator can raise 'storage_limit' (workphone tenant set --max-storage-mb)" %
          (used, d.get("needed_bytes", 0)), "%s: events past the limit: %s %s" % (be, st, j))
    data = b"x" * 100
    ref = "sha256:" + hashlib.sha256(data).hexdigest()
    st, j, _ = srv.req("PUT", "/api/v1/device/media/" + ref, dev, raw=data,
                       headers={"Content-Type": "application/octet-stream"})
    check(st == 507 and err_code(j) == "quota_exceeded" and j["error"]["details"] == {
        "limit": "storage_limit", "used_bytes": used, "limit_bytes": 0, "needed_bytes": 100},
          "%s: a file past the limit: %s %s" % (be, st, j))
    h = ref[7:]
    path = os.path.join(store.data, "media", h[:2], h[2:4], h)
    check(not os.path.exists(path), "%s: the refused file is not stored" % be)
    check(store.sql("SELECT count(*) FROM locations WHERE tenant_id = '%s'" % beta["id"]) == locs
          and store.sql("SELECT count(*) FROM media WHERE tenant_id = '%s'" % beta["id"]) == "0"
          and listed(store)["Beta"]["used_bytes"] == used,
          "%s: nothing of the refused uploads is stored or counted" % be)

    r = wp(store, "tenant", "set", "Beta", "--max-storage-mb", "1")
    check(r.returncode == 0, "%s: storage limit 1: %s" % (be, r.stderr))
    r = wp(store, "tenant", "list")
    row = [l.split() for l in r.stdout.splitlines() if l.startswith("Beta ")]
    check(row and row[0][-1] == "%d/1048576" % used, "%s: the table shows used/limit: %r" %
          (be, r.stdout))
    st, j, _ = upload(srv, dev, 2)
    check(st == 200 and j["acked_seq"] == 2, "%s: the same events under 1 MiB: %s %s" %
          (be, st, j))
    st, j, _ = srv.req("PUT", "/api/v1/device/media/" + ref, dev, raw=data,
                       headers={"Content-Type": "application/octet-stream"})
    check(st == 201 and os.path.exists(path), "%s: the file under 1 MiB: %s %s" % (be, st, j))
    t = listed(store)["Beta"]
    check(t["used_bytes"] > used + 100 and t["storage_limit_bytes"] == 1048576,
          "%s: both counted: %s" % (be, t))
    r = wp(store, "tenant", "set", "Beta", "--max-storage-mb", "none")
    check(r.returncode == 0 and listed(store)["Beta"]["storage_limit_bytes"] is None,
          "%s: no storage limit again: %s" % (be, r.stderr))
    rows = store.sql("SELECT details FROM audit_log WHERE tenant_id = '%s' AND action = "
                     "'tenant.set' AND details LIKE '%%storage%%' ORDER BY seq" % beta["id"])
    check(rows.splitlines() == ['{"storage_limit_bytes":0}', '{"storage_limit_bytes":1048576}',
                                '{"storage_limit_bytes":null}'],
          "%s: Beta's chain holds the storage limits: %r" % (be, rows))


def suite(store):
    be = store.backend
    r = wp(store, "tenant", "add", "--name", "Beta", "--admin", "boss")
    check(r.returncode == 0 and "added tenant 'Beta'" in r.stdout,
          "%s: tenant add: rc %d %s %s" % (be, r.returncode, r.stdout, r.stderr))
    bad_args(store)
    if be == "postgresql":
        key_per_dir(store)
    verify(store, "after tenant add")

    ts = listed(store)
    check(sorted(ts) == ["Acme", "Beta"], "%s: two tenants listed: %s" % (be, ts))
    for name in ts:
        t = ts[name]
        check(t["active"] is True and t["employees"] == 1 and t["devices"] == 0 and
              t["devices_limit"] is None and t["used_bytes"] == 0 and len(t["id"]) > 0 and
              t["created_at"].endswith("Z"), "%s: %s listed: %s" % (be, name, t))
    r = wp(store, "tenant", "list")
    lines = r.stdout.splitlines()
    check(r.returncode == 0 and len(lines) == 3 and lines[0].split() ==
          ["NAME", "ID", "CREATED", "ACTIVE", "EMPLOYEES", "DEVICES", "USED_BYTES"] and
          lines[2].split()[0] == "Beta" and lines[2].split()[3] == "yes",
          "%s: tenant list table: %r" % (be, r.stdout))

    srv = Server(store.data, store.db_args)
    a = login(srv, "admin", tenant="Acme")
    b = login(srv, "boss", tenant="Beta")
    st, j, _ = srv.req("POST", "/api/v1/auth/login", body={"username": "admin",
                                                             "password": PASSWORD})
    check(st == 400, "%s: with two tenants a login names one: %s %s" % (be, st, j))
    cust = created(srv, a, "/api/v1/customers", {"name": "甲方客户", "phone": "13700000001",
                                                  "owner_employee_id": me(srv, a)["id"]},
                   "A's customer")["id"]
    st, j, _ = srv.req("GET", "/api/v1/customers/" + cust, a)
    check(st == 200 and j["id"] == cust, "%s: A reads its customer: %s" % (be, st))
    st, j, _ = srv.req("GET", "/api/v1/customers/" + cust, b)
    check(st == 404 and err_code(j) == "not_found", "%s: A's customer is 404 to B: %s %s" %
          (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/customers", b)
    check(st == 200 and j["items"] == [], "%s: B lists no customer: %s %s" % (be, st, j))
    dev_a = enroll_or(srv, a, me(srv, a)["id"], "SN-A-1")[1]["token"]
    dev_b = enroll_or(srv, b, me(srv, b)["id"], "SN-B-1")[1]["token"]
    st, j, _ = upload(srv, dev_a, 1)
    check(st == 200 and j["acked_seq"] == 1, "%s: A's device uploads: %s %s" % (be, st, j))
    key_a = created(srv, a, "/api/v1/api-keys", {"name": "CRM", "role": "admin"}, "A's key")["key"]
    st, j, _ = srv.req("POST", "/api/v1/employees/%s/enrollment-codes" % me(srv, a)["id"], a,
                       body={})
    code_a = j["code"]

    # disable A while the server runs: its login, session, device are refused; B is not
    r = wp(store, "tenant", "disable", "Acme")
    check(r.returncode == 0 and r.stdout == "tenant 'Acme': disabled\n",
          "%s: tenant disable: %s %s" % (be, r.stdout, r.stderr))
    st, j, _ = srv.req("POST", "/api/v1/auth/login", body={"username": "admin", "tenant": "Acme",
                                                             "password": PASSWORD})
    disabled(st, j, "A's login", be)
    check(j["error"]["message"] == "tenant 'Acme' is disabled: its accounts cannot sign in "
          "until the operator enables it again", "%s: login message: %s" % (be, j))
    st, j, _ = srv.req("POST", "/api/v1/auth/login", body={"username": "admin", "tenant": "Acme",
                                                             "password": "wrong-pass-1"})
    check(st == 401 and err_code(j) == "unauthorized",
          "%s: a wrong password learns nothing of the tenant: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/customers/" + cust, a)
    disabled(st, j, "A's session", be)
    st, j, _ = upload(srv, dev_a, 2)
    disabled(st, j, "A's device upload", be)
    st, j, _ = srv.req("GET", "/api/v1/customers", key_a)
    disabled(st, j, "A's API key", be)
    st, j, _ = srv.req("POST", "/api/v1/device/enroll",
                       body={"code": code_a, "serial": "SN-A-2", "model": "test"})
    disabled(st, j, "A's enrollment", be)
    check(login(srv, "boss", tenant="Beta") is not None, "%s: B logs in" % be)
    st, j, _ = upload(srv, dev_b, 1)
    check(st == 200 and j["acked_seq"] == 1, "%s: B's device uploads: %s %s" % (be, st, j))
    check(listed(store)["Acme"]["active"] is False, "%s: A listed inactive" % be)
    check(store.sql("SELECT count(*) FROM customers WHERE id = '%s'" % cust) == "1",
          "%s: A's data stays" % be)

    r = wp(store, "tenant", "enable", "Acme")
    check(r.returncode == 0 and r.stdout == "tenant 'Acme': enabled\n",
          "%s: tenant enable: %s %s" % (be, r.stdout, r.stderr))
    a = login(srv, "admin", tenant="Acme")
    st, j, _ = srv.req("GET", "/api/v1/customers/" + cust, a)
    check(st == 200, "%s: A reads again: %s %s" % (be, st, j))
    st, j, _ = upload(srv, dev_a, 2)
    check(st == 200 and j["acked_seq"] == 2, "%s: A's device uploads again: %s %s" % (be, st, j))
    acme = listed(store)["Acme"]["id"]
    rows = store.sql("SELECT action || ' ' || actor FROM audit_log WHERE tenant_id = '%s' AND "
                     "action LIKE 'tenant.%%' ORDER BY seq" % acme)
    check(rows == "tenant.create system\ntenant.disable system\ntenant.enable system",
          "%s: A's chain holds its changes: %r" % (be, rows))

    # the devices limit: B has one device; at 2 the second enrolls and the third is refused
    r = wp(store, "tenant", "set", "Beta", "--max-devices", "2")
    check(r.returncode == 0, "%s: tenant set: %s" % (be, r.stderr))
    boss = me(srv, b)["id"]
    st, j, _ = enroll_or(srv, b, boss, "SN-B-2")
    check(st == 201, "%s: device 2 of 2 enrolls: %s %s" % (be, st, j))
    st, j, _ = enroll_or(srv, b, boss, "SN-B-3")
    check(st == 422 and err_code(j) == "limit_exceeded" and j["error"]["message"] ==
          "the tenant's devices limit is reached: 2 of 2 devices enrolled; the operator can raise "
          "'devices_limit' (workphone tenant set --max-devices)",
          "%s: device 3 of 2 refused: %s %s" % (be, st, j))
    st, j, _ = enroll_or(srv, b, boss, "SN-B-2")
    check(st == 201, "%s: enrolling a counted phone again is no new device: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/settings", b)
    check(st == 200 and j["settings"]["devices_limit"] == 2 and j["usage"]["devices"] == 2,
          "%s: B's settings show the limit: %s %s" % (be, st, j))
    st, j, _ = srv.req("PUT", "/api/v1/settings", b, body={"devices_limit": 10})
    check(st == 400 and err_code(j) == "invalid_request" and "tenant set" in j["error"]["message"],
          "%s: the limit is read-only in settings: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/settings", a)
    check(st == 200 and j["settings"]["devices_limit"] is None and j["usage"]["devices"] == 1,
          "%s: A has no limit: %s %s" % (be, st, j))
    t = listed(store)["Beta"]
    check(t["devices"] == 2 and t["devices_limit"] == 2, "%s: B listed 2/2: %s" % (be, t))
    r = wp(store, "tenant", "set", "Beta", "--max-devices", "none")
    check(r.returncode == 0, "%s: tenant set none: %s" % (be, r.stderr))
    st, j, _ = enroll_or(srv, b, boss, "SN-B-3")
    check(st == 201, "%s: no limit again: %s %s" % (be, st, j))
    storage(store, srv, dev_b)
    srv.stop()
    verify(store, "after disable, enable and limits")


if __name__ == "__main__":
    sys.exit(run_backends(suite, "tenants"))
