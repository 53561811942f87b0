#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The key hierarchy (issues 19 and 20; docs/internals/keys.md), on both backends:
#  - an install with key files moves over with `keys migrate`: its audit log keeps verifying;
#  - init with a master key file: no DIR/keys, the keys wrapped in the store; `keys status`;
#  - PostgreSQL: two serve with separate data dirs (each only its workphone.conf) and the same
#    master key; each one's audited writes verify through the other's `audit verify`;
#  - rotate-master while serving: both keep serving and verifying; a node still naming the old
#    key is refused with the fingerprint mismatch; each node logs the rewrap (pg_notify);
#    rotate-tenant makes version 2;
#  - serve refuses, exit 1 with one exact line: a wrong master key, a missing key file, no
#    master key configured for wrapped keys, a key command that fails or hangs;
#  - a key command that prints the key works;
#  - backup never holds the master key; a restore served without it gets the missing-key line,
#    with it serves and verifies.
import hashlib
import os
import shutil
import subprocess
import sys
import time

import harness
from harness import PASSWORD, PG_URL, WP, Server, check, created, login

ENV = dict(os.environ, WORKPHONE_ADMIN_PASSWORD=PASSWORD)
LOST = ("without the master key the keys wrapped in the store, and the data they protect, "
        "cannot be read; bring it back from where it is kept apart from the data "
        "(docs/internals/keys.md)")
DBS = []


def wp(*args):
    return subprocess.run([WP] + list(args), capture_output=True, text=True, env=ENV,
                          timeout=120)


def fp(key):
    """the fingerprint workphone shows for a key (keyed BLAKE2b-256, first 8 bytes)"""
    return hashlib.blake2b(b"workphone.key.fingerprint.v1", key=key, digest_size=32).digest()[
        :8].hex()


def new_db(name):
    db = "wp_keys_%s_%d" % (name, os.getpid())
    subprocess.run(["psql", "-q", PG_URL, "-c", "create database " + db], check=True,
                   capture_output=True)
    url = PG_URL.rsplit("/", 1)[0] + "/" + db
    DBS.append(url)
    return url


def master_file(path):
    key = os.urandom(32)
    with open(path, "w") as f:
        f.write(key.hex() + "\n")
    os.chmod(path, 0o600)
    return key


def script(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o700)


def set_conf(data, key, value):
    """set (or with value None drop) key= in DIR/workphone.conf"""
    p = os.path.join(data, "workphone.conf")
    lines = [l for l in open(p).read().splitlines()
             if not l.startswith("master_key_file=") and not l.startswith("master_key_command=")]
    if value is not None:
        lines.append("%s=%s" % (key, value))
    open(p, "w").write("\n".join(lines) + "\n")


def refused(be, what, data, db_args, want, extra=(), before=""):
    """serve exits 1 with exactly one line, want (after what a key command wrote, before)"""
    r = subprocess.run([WP, "serve", "--data", data, "--listen", "127.0.0.1:0"] + db_args +
                       list(extra), capture_output=True, text=True, env=ENV, timeout=60)
    check(r.returncode == 1 and r.stderr == before + "workphone serve: " + want + "\n",
          "%s: %s: serve refuses: rc %s, stderr %r, want %r" % (be, what, r.returncode,
                                                             r.stderr[-600:], want))


def verify(be, what, data, db_args, rows=None):
    r = wp("audit", "verify", "--data", data, *db_args)
    ok = r.returncode == 0 and r.stdout.startswith("ok: ")
    if rows is not None:
        ok = ok and r.stdout == "ok: %d rows\n" % rows
    check(ok, "%s: %s: audit verify: rc %s %r %r" % (be, what, r.returncode, r.stdout, r.stderr))
    return int(r.stdout.split()[1]) if ok else -1


def log_of(srv):
    srv.err.flush()
    srv.err.seek(0)
    return srv.err.read()


def audited_write(srv, tok, name):
    st, j, _ = srv.req("GET", "/api/v1/org-units", tok)
    hq = j["items"][0]["id"]
    created(srv, tok, "/api/v1/employees", {"name": name, "org_unit_id": hq, "role": "sales",
                                            "username": name, "password": PASSWORD}, name)


def migrate_old_install(store):
    """an install from before: key files in DIR/keys; keys migrate moves them in"""
    be, tmp = store.backend, os.path.dirname(store.data)
    r = wp("keys", "status", "--data", store.data, *store.db_args)
    check(r.returncode == 0 and r.stdout.startswith(
        "master: none (the keys are the files in %s/keys)\nfile: keys/audit.key fingerprint="
        % store.data), "%s: status of a files install: %r %r" % (be, r.stdout, r.stderr))
    before = verify(be, "files install", store.data, store.db_args)
    mk = os.path.join(tmp, "old-install-%s.key" % be)
    key = master_file(mk)
    r = wp("keys", "migrate", "--data", store.data, *store.db_args, "--master-key-file", mk)
    check(r.returncode == 0 and r.stdout ==
          "migrated: the audit and checkpoint keys are wrapped in the store by master key %s; "
          "1 tenant data keys\nnote: remove %s/keys once every node has the master key "
          "configured\n" % (fp(key), store.data), "%s: keys migrate: rc %s %r %r" %
          (be, r.returncode, r.stdout, r.stderr))
    check("master_key_file=%s\n" % mk in open(os.path.join(store.data, "workphone.conf")).read(),
          "%s: migrate names the master key in workphone.conf" % be)
    # the files are no longer read: the chain still verifies with the wrapped key
    shutil.rmtree(os.path.join(store.data, "keys"))
    check(verify(be, "after migrate", store.data, store.db_args) == before,
          "%s: the same rows verify after migrate" % be)
    r = wp("keys", "migrate", "--data", store.data, *store.db_args)
    check(r.returncode == 0, "%s: migrate again changes nothing: %r" % (be, r.stderr))


def suite(store):
    be = store.backend
    tmp = os.path.join(os.path.dirname(store.data), be + "-keys")  # the backends share a tmp
    os.mkdir(tmp, 0o700)
    migrate_old_install(store)

    # --- init with a master key file
    mk1 = os.path.join(tmp, "master1.key")
    k1 = master_file(mk1)
    a_dir = os.path.join(tmp, "node-a")
    url = new_db("a") if be == "postgresql" else None
    db_args = ["--db", url] if url else []
    r = wp("init", "--data", a_dir, "--tenant", "Acme", "--admin", "admin",
           "--master-key-file", mk1, *db_args)
    check(r.returncode == 0, "%s: init with a master key: %r" % (be, r.stderr))
    check(not os.path.exists(os.path.join(a_dir, "keys")), "%s: no DIR/keys with a master key"
          % be)
    conf = open(os.path.join(a_dir, "workphone.conf")).read()
    check("master_key_file=%s\n" % mk1 in conf and k1.hex() not in conf,
          "%s: workphone.conf names the key file, never the key: %r" % (be, conf))
    r = wp("keys", "status", "--data", a_dir, *db_args)
    lines = r.stdout.splitlines()
    check(lines[-6:] == ["messages: tenant=Acme version=1 plain=0 older=0",
                         "customers: tenant=Acme version=1 plain=0 older=0 phones_unindexed=0",
                         "calls: tenant=Acme version=1 plain=0 older=0",
                         "contact_events: tenant=Acme version=1 plain=0 older=0",
                         "checkins: tenant=Acme version=1 plain=0 older=0",
                         "alerts: tenant=Acme version=1 plain=0 older=0"],
          "%s: keys status counts the rows seal-data has to do: %r" % (be, r.stdout))
    lines = lines[:-6]
    check(r.returncode == 0 and lines[0] == "master: fingerprint=%s source=file" % fp(k1) and
          len(lines) == 4 and all(" master=%s " % fp(k1) in l for l in lines[1:]) and
          [l.split()[2] for l in lines[1:]] == ["purpose=data", "purpose=audit",
                                                  "purpose=checkpoint"] and
          k1.hex() not in r.stdout, "%s: keys status: %r %r" % (be, r.stdout, r.stderr))

    # --- two nodes (PostgreSQL: separate data dirs, the same master key)
    a = Server(a_dir, db_args)
    nodes = [(a, a_dir)]
    if url:
        b_dir = os.path.join(tmp, "node-b")
        os.mkdir(b_dir, 0o700)
        shutil.copy(os.path.join(a_dir, "workphone.conf"), b_dir)
        b = Server(b_dir, db_args)
        nodes.append((b, b_dir))
    for srv, _ in nodes:
        srv.err.seek(0)
        check("event=keys master=%s source=file" % fp(k1) in srv.err.read(),
              "%s: serve logs the master key's fingerprint" % be)
    toks = [login(srv, "admin") for srv, _ in nodes]
    for i, (srv, _) in enumerate(nodes):
        audited_write(srv, toks[i], "pre%d" % i)
    counts = [verify(be, "node %d" % i, d, db_args) for i, (_, d) in enumerate(nodes)]
    check(len(set(counts)) == 1 and counts[0] > 2,
          "%s: each node verifies every node's rows: %s" % (be, counts))

    # --- rotate the master key while serving
    mk2 = os.path.join(tmp, "master2.key")
    k2 = master_file(mk2)
    r = wp("keys", "rotate-master", "--data", a_dir, *db_args, "--new-key-file", mk2)
    check(r.returncode == 0 and r.stdout.startswith(
        "rotated: 3 keys rewrapped, master key %s -> %s\n%s/workphone.conf: master_key_file=%s\n"
        % (fp(k1), fp(k2), a_dir, mk2)), "%s: rotate-master: %r %r" % (be, r.stdout, r.stderr))
    if url:  # every node hears of the rotation (pg_notify) and says what it needs
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(
                "event=keys_rewrapped" in log_of(srv) for srv, _ in nodes):
            time.sleep(0.1)
        check(all("level=warn event=keys_rewrapped" in log_of(srv) for srv, _ in nodes),
              "%s: each node logs that the keys were rewrapped" % be)
    for i, (srv, _) in enumerate(nodes):
        audited_write(srv, toks[i], "post%d" % i)
    n = verify(be, "node a after rotation", a_dir, db_args, counts[0] + len(nodes))
    if url:
        r = wp("audit", "verify", "--data", b_dir, *db_args)
        check(r.returncode == 1 and r.stderr ==
              "workphone audit: cannot load the audit key: master key fingerprint mismatch: the "
              "store's keys are wrapped by master key %s, the configured one is %s\n"
              % (fp(k2), fp(k1)), "%s: node b still naming the old key: %r" % (be, r.stderr))
        set_conf(b_dir, "master_key_file", mk2)
        verify(be, "node b with the new key", b_dir, db_args, n)
    for srv, _ in nodes:
        st, j, _ = srv.req("GET", "/api/v1/org-units", toks[0] if srv is a else toks[-1])
        check(st == 200, "%s: a node still serves after the rotation: %s" % (be, st))
        srv.stop()

    # --- rotate a tenant's data key
    r = wp("keys", "rotate-tenant", "--data", a_dir, *db_args, "--tenant", "Acme")
    check(r.returncode == 0 and r.stdout.startswith("rotated: tenant 'Acme' (") and
          r.stdout.endswith(") data key version 2\n"), "%s: rotate-tenant: %r %r" %
          (be, r.stdout, r.stderr))
    r = wp("keys", "status", "--data", a_dir, *db_args)
    check(r.returncode == 0 and r.stdout.count("purpose=data version=") == 2 and
          r.stdout.count(" master=%s " % fp(k2)) == 4, "%s: status after rotations: %r"
          % (be, r.stdout))

    # --- refusals
    refused(be, "wrong master key", a_dir, db_args,
            "cannot load the audit key: master key fingerprint mismatch: the store's keys are "
            "wrapped by master key %s, the configured one is %s" % (fp(k2), fp(k1)),
            ["--master-key-file", mk1])
    away = mk2 + ".away"
    os.rename(mk2, away)
    refused(be, "no key file", a_dir, db_args, "cannot load the master key: master key file "
            "'%s' does not exist: %s" % (mk2, LOST))
    os.rename(away, mk2)
    os.chmod(mk2, 0o644)
    refused(be, "a key file others read", a_dir, db_args, "cannot load the master key: master "
            "key file '%s' is readable by others: chmod 600 it" % mk2)
    os.chmod(mk2, 0o600)

    # --- the key from a command
    good, bad, hang = (os.path.join(tmp, n) for n in ("key-ok.sh", "key-fails.sh", "key-hangs.sh"))
    script(good, "echo 'kms: fetched' >&2\ncat %s\n" % mk2)
    script(bad, "echo 'kms: access denied' >&2\nexit 3\n")
    script(hang, "sleep 60\n")
    set_conf(a_dir, "master_key_command", good)
    srv = Server(a_dir, db_args)
    srv.err.seek(0)
    log = srv.err.read()
    check("event=keys master=%s source=command" % fp(k2) in log and "kms: fetched" in log and
          k2.hex() not in log, "%s: a key command works, its stderr logged" % be)
    srv.stop()
    verify(be, "key from a command", a_dir, db_args, n)
    set_conf(a_dir, "master_key_command", bad)
    refused(be, "a failing command", a_dir, db_args,
            "cannot load the master key: master key command '%s' failed: exit status 3" % bad,
            before="kms: access denied\n")
    set_conf(a_dir, "master_key_command", hang)
    refused(be, "a hanging command", a_dir, db_args,
            "cannot load the master key: master key command '%s' timed out after 10000 ms" % hang)
    set_conf(a_dir, "master_key_file", mk2)

    # --- backup and restore: never the master key; a restore needs it
    out = os.path.join(tmp, "a.wpbackup")
    r = wp("backup", "--data", a_dir, "--out", out, *db_args)
    check(r.returncode == 0, "%s: backup: %r" % (be, r.stderr))
    raw = open(out, "rb").read()
    check(k2 not in raw and k2.hex().encode() not in raw and k1.hex().encode() not in raw,
          "%s: the backup holds no master key" % be)
    r = wp("backup", "--list", out)
    check(r.returncode == 0 and '"wrapped_keys": 4,' not in r.stdout and
          '"wrapped_keys": 4\n' in r.stdout, "%s: the backup carries the 4 wrapped keys: %r"
          % (be, r.stdout[-300:]))
    r_dir = os.path.join(tmp, "restored")
    r_url = new_db("r") if url else None
    r_args = ["--db", r_url] if r_url else []
    r = wp("restore", "--in", out, "--data", r_dir, *r_args)
    check(r.returncode == 0, "%s: restore: %r" % (be, r.stderr))
    os.rename(mk2, away)  # a machine without the master key
    refused(be, "restore without the master key", r_dir, r_args, "cannot load the master key: "
            "master key file '%s' does not exist: %s" % (mk2, LOST))
    os.rename(away, mk2)
    set_conf(r_dir, "master_key_file", None)
    refused(be, "restore with no master key configured", r_dir, r_args,
            "cannot load the audit key: no master key is configured, and the store's keys are "
            "wrapped by master key %s: without it they, and the data they protect, cannot be "
            "read; set master_key_file= or master_key_command= in %s/workphone.conf"
            % (fp(k2), r_dir))
    set_conf(r_dir, "master_key_file", mk2)
    srv = Server(r_dir, r_args)
    tok = login(srv, "admin")
    audited_write(srv, tok, "restored")
    srv.stop()
    verify(be, "restored, with the master key", r_dir, r_args, n + 2)  # the login, the write


def main():
    try:
        return harness.run_backends(suite, "keys")
    finally:
        for u in DBS:
            subprocess.run(["psql", "-q", PG_URL, "-c", "drop database if exists %s with (force)"
                            % u.rsplit("/", 1)[1]], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
