#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A rolling upgrade for one migration (issue 19; docs/deploy.md, "Rolling upgrade") on one
# PostgreSQL. No second binary is built: the old node is this workphone, which knows migrations
# 1..N, and the new node is this workphone with the test hook WORKPHONE_TEST_MIGRATION_EXTRA=1,
# which knows one more, additive migration N+1 (a column with a default on devices, a new
# table), as the next release would. (The hook cannot play it the other way round, an old node
# that does not know migration N: this code reads what N made.) The store is made by the old
# release; the new node starts beside the running old one and migrates to N+1; the old node keeps serving devices and the console with the same answers, a
# restarted old node serves the newer schema and warns once (schema_newer) instead of refusing
# it, and a store whose migrations are not the old node's is still refused. PostgreSQL only
# (SQLite has one node): SKIP (77) without WORKPHONE_TEST_PG_URL when WORKPHONE_TEST_SKIP_PG=1.
import glob
import os
import subprocess
import sys
import tempfile
import shutil

from harness import (PASSWORD, PG_URL, SRC, WP, Server, check, created, enroll, err_code,
                     kill_live, login)
import harness

T1 = "2026-11-27T08:00:00Z"


def upload(srv, dev, seq):
    return srv.req("POST", "/api/v1/device/events", dev,
                   body={"events": [{"seq": seq, "type": "location", "ts": T1, "lat": 31.2,
                                     "lon": 121.4 + seq / 1000.0, "accuracy_m": 10}]})


def serves(srv, who, admin, dev, seq, cust):
    """The answers both nodes give alike: a device's upload, a login, a customer, the console."""
    st, j, _ = upload(srv, dev, seq)
    check(st == 200 and j["acked_seq"] == seq,
          "%s: the device's upload %d is acked: %s %s" % (who, seq, st, j))
    tok = login(srv, "admin")
    check(tok is not None, "%s: the admin logs in" % who)
    st, j, _ = srv.req("GET", "/api/v1/customers/" + cust, admin)
    check(st == 200 and j["id"] == cust and j["name"] == "老客户",
          "%s: the customer reads the same: %s %s" % (who, st, j))
    st, j, _ = srv.req("GET", "/api/v1/customers/nope", admin)
    check(st == 404 and err_code(j) == "not_found", "%s: an unknown customer is 404: %s %s" %
          (who, st, j))
    st, body, hdrs = srv.raw("GET", "/")
    check(st == 200 and hdrs.get("Content-Type", "").startswith("text/html") and
          body.startswith(b"<!doctype html>"), "%s: the console's page: %s %s" %
          (who, st, body[:200]))
    st, j, _ = srv.req("GET", "/api/v1/devices", admin)
    check(st == 200 and [d["serial"] for d in j["items"]] == ["SN-ROLL-1"],
          "%s: the console's device list: %s %s" % (who, st, j))


def stderr_of(srv):
    srv.err.seek(0)
    return srv.err.read()


def main():
    if not harness.pg_half("rolling"):
        return 77 if harness.failures == 0 else 1
    latest = len(glob.glob(os.path.join(SRC, "src/store/migrations/pg/[0-9]*.sql")))
    old = {}
    new = {"WORKPHONE_TEST_MIGRATION_EXTRA": "1"}
    tmp = tempfile.mkdtemp(prefix="wp-rolling.")
    data = os.path.join(tmp, "data")
    db = "wp_rolling_%d" % os.getpid()
    subprocess.run(["psql", "-q", PG_URL, "-c", "create database " + db], check=True)
    url = PG_URL.rsplit("/", 1)[0] + "/" + db

    def sql(statement):
        return subprocess.run(["psql", "-qtAX", url, "-c", statement], check=True,
                              capture_output=True, text=True).stdout.strip()

    def version():
        return int(sql("SELECT max(version) FROM schema_version"))

    try:
        # the old release made the store
        env = dict(os.environ, WORKPHONE_ADMIN_PASSWORD=PASSWORD, WORKPHONE_TEST_HOOKS="1", **old)
        r = subprocess.run([WP, "init", "--data", data, "--tenant", "Acme", "--admin", "admin",
                            "--db", url], env=env, capture_output=True, text=True)
        check(r.returncode == 0, "init by the old release: %s" % r.stderr)
        check(version() == latest, "the old release's store is at %d: %d" % (latest, version()))

        a = Server(data, ["--db", url], env_extra=old)
        admin = login(a, "admin")
        st, j, _ = a.req("GET", "/api/v1/auth/session", admin)
        me = j["employee"]["id"]
        cust = created(a, admin, "/api/v1/customers", {"name": "老客户", "phone": "13700000002",
                                                        "owner_employee_id": me},
                       "a customer")["id"]
        dev = enroll(a, admin, me, "SN-ROLL-1")
        serves(a, "old node before", admin, dev, 1, cust)

        # the new node starts beside it: it migrates the store to N+1 and serves
        b = Server(data, ["--db", url], env_extra=new)
        check(version() == latest + 1, "the new node migrated to %d: %d" % (latest + 1, version()))
        name = sql("SELECT name FROM schema_version WHERE version = %d" % (latest + 1))
        check(name == "test_rolling_extra", "the new migration is recorded: %r" % name)
        check("schema_newer" not in stderr_of(b), "the new node does not warn")
        serves(b, "new node", admin, dev, 2, cust)

        # the old node, still running on the schema it does not know, answers the same
        serves(a, "old node after the migration", admin, dev, 3, cust)
        check("schema_newer" not in stderr_of(a), "the running old node has nothing to warn of")
        a.stop()

        # the old node restarted (say, by its supervisor) before its upgrade: it serves the
        # newer schema, warns once, changes nothing
        a = Server(data, ["--db", url], env_extra=old)
        lines = [l for l in stderr_of(a).splitlines() if "schema_newer" in l]
        want = ('level=warn event=schema_newer store=%d knows=%d msg="the store was migrated by '
                'a newer workphone: serving it, upgrade this node"' % (latest + 1, latest))
        check(len(lines) == 1 and lines[0].endswith(want),
              "the restarted old node warns once: %r" % lines)
        serves(a, "old node restarted", admin, dev, 4, cust)
        check(version() == latest + 1, "the old node changed no version: %d" % version())
        notes = sql("SELECT count(*) || ' ' || count(*) FILTER (WHERE rolling_note = '')"
                    " FROM devices")
        check(notes == "1 1", "the old node's device row has the new column's default: %r" %
              notes)
        n = sql("SELECT count(*) FROM locations")
        check(n == "4", "the four uploads, from both nodes, are stored once each: %s" % n)
        st, j, _ = b.req("GET", "/api/v1/devices", admin)
        check(st == 200 and [d["serial"] for d in j["items"]] == ["SN-ROLL-1"],
              "the new node lists the device both served: %s %s" % (st, j))
        a.stop()
        b.stop()

        # the old node's CLI works on the newer schema too (audit verify reads every chain)
        r = subprocess.run([WP, "audit", "verify", "--data", data, "--db", url],
                           env=dict(os.environ, WORKPHONE_TEST_HOOKS="1", **old),
                           capture_output=True, text=True)
        check(r.returncode == 0 and r.stdout.startswith("ok: "),
              "the old release's audit verify on the newer schema: %s %s" % (r.stdout, r.stderr))

        # a schema that is not the old node's plus something: refused, as before
        sql("UPDATE schema_version SET name = 'someone_else' WHERE version = %d" % latest)
        r = subprocess.run([WP, "audit", "verify", "--data", data, "--db", url],
                           env=dict(os.environ, WORKPHONE_TEST_HOOKS="1"),
                           capture_output=True, text=True)
        check(r.returncode == 1 and "store schema version %d is newer than this workphone "
              "(knows %d); upgrade workphone" % (latest + 1, latest) in r.stderr,
              "a schema without the old node's migrations is refused: %d %r" %
              (r.returncode, r.stderr))
    finally:
        kill_live()
        subprocess.run(["psql", "-q", PG_URL, "-c", "drop database %s with (force)" % db],
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d checks, %d failed" % (harness.checks, harness.failures))
    return 1 if harness.failures else 0


if __name__ == "__main__":
    sys.exit(main())
