# SPDX-License-Identifier: MIT
# What the Python black-box tests share: checks that count, a real `workphone serve` on a free
# loopback port, requests, a fresh store per backend (SQLite, and a new PostgreSQL database
# when WORKPHONE_TEST_PG_URL is set), and the run over both backends.
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import openapi_check  # every JSON answer of req() is checked against docs/openapi.yaml

WP = os.environ["WORKPHONE_BIN"]
SRC = os.environ["WORKPHONE_SOURCE_ROOT"]
PG_URL = os.environ.get("WORKPHONE_TEST_PG_URL", "")
PASSWORD = "s3cret-pass"
T0 = "2026-11-27T08:00:00Z"  # the servers run on a fake clock

failures = 0
checks = 0
LIVE = []  # servers still running: stopped on any exit, so a failed run leaves none behind


def check(ok, what):
    global failures, checks
    checks += 1
    if not ok:
        failures += 1
        print("FAIL: " + what, file=sys.stderr)
    return ok


def kill_live():
    for proc in LIVE:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class Server:
    def __init__(self, data, db_args, now=T0, extra_args=(), env_extra=None, cafile=None):
        # cafile: the server serves https (--tls-cert in extra_args); requests trust this CA
        self.ssl = ssl.create_default_context(cafile=cafile) if cafile else None
        # the fake clock is a test hook: it works behind the one switch only
        env = dict(os.environ, WORKPHONE_TEST_HOOKS="1")
        env.update(env_extra or {})  # a test may turn the switch off
        if now:
            env["WORKPHONE_FAKE_NOW"] = now
        self.err = open(os.path.join(data, "..", "serve-%d.err" % time.monotonic_ns()), "a+")
        self.proc = subprocess.Popen([WP, "serve", "--data", data, "--listen", "127.0.0.1:0"] +
                                     list(db_args) + list(extra_args), stdout=subprocess.DEVNULL,
                                     stderr=self.err, env=env)
        LIVE.append(self.proc)
        self.base = None
        # a minute: a loaded CI machine may take seconds to migrate and start the schedulers
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.err.seek(0)
            m = re.search(r"url=(https?://127\.0\.0\.1:\d+)", self.err.read())
            if m:
                self.base = m.group(1)
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if not self.base:
            self.err.seek(0)
            raise SystemExit("server did not start: " + self.err.read()[-2000:])

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=60)
        tail = ""
        if rc != 0:
            self.err.seek(0)
            text = self.err.read()
            at = text.find("Sanitizer")  # a sanitizer's report from its start, else the end
            tail = ": rc %d, its stderr: %s" % (rc, text[max(at - 200, 0):][:4000] if at >= 0
                                               else text[-3000:])
        check(rc == 0, "serve exits 0 on SIGTERM" + tail)
        self.err.close()

    def raw(self, method, path, token=None, body=None, raw=None, headers=None):
        """(status, body bytes, headers)"""
        data = None
        h = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        elif raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
        if token:
            h["Authorization"] = "Bearer " + token
        r = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(r, timeout=60, context=self.ssl) as resp:
                return resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    def req(self, method, path, token=None, body=None, raw=None, headers=None):
        """(status, parsed JSON or text, headers); a JSON answer must be as documented"""
        status, data, hdrs = self.raw(method, path, token, body, raw, headers)
        try:
            text = data.decode()
        except UnicodeDecodeError:  # a file (a ZIP, an XLSX): its bytes
            return status, data, hdrs
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            return status, text, hdrs
        openapi_check.check_answer(check, method, path, status, parsed, hdrs)
        return status, parsed, hdrs


def err_code(j):
    return j.get("error", {}).get("code") if isinstance(j, dict) else None


def login(srv, username, password=PASSWORD, tenant=None):
    body = {"username": username, "password": password}
    if tenant:
        body["tenant"] = tenant
    st, j, _ = srv.req("POST", "/api/v1/auth/login", body=body)
    check(st == 200, "login %s: HTTP %s %s" % (username, st, j))
    return j.get("token") if st == 200 else None


def created(srv, tok, path, body, what):
    st, j, _ = srv.req("POST", path, tok, body=body)
    if not check(st == 201 and isinstance(j, dict) and "id" in j, "%s: HTTP %s %s" % (what, st, j)):
        raise SystemExit("cannot go on without " + what)
    return j


def enroll(srv, admin, employee_id, serial):
    """A device token for the employee."""
    st, j, _ = srv.req("POST", "/api/v1/employees/%s/enrollment-codes" % employee_id, admin,
                       body={})
    check(st == 201, "enrollment code: %s %s" % (st, j))
    st, j, _ = srv.req("POST", "/api/v1/device/enroll",
                       body={"code": j["code"], "serial": serial, "model": "test"})
    if not check(st == 201, "enroll %s: %s %s" % (serial, st, j)):
        raise SystemExit("cannot go on without a device")
    return j["token"]


class Store:
    """A fresh data dir, initialized on one backend; sql() runs a statement on it."""

    def __init__(self, backend, tmp, name):
        self.backend = backend
        self.data = os.path.join(tmp, backend)
        self.db_args, self.db_url = [], None
        if backend == "postgresql":
            db = "wp_%s_%d" % (name, os.getpid())
            subprocess.run(["psql", "-q", PG_URL, "-c", "create database " + db], check=True)
            self.db_url = PG_URL.rsplit("/", 1)[0] + "/" + db
            self.db_args = ["--db", self.db_url]
        env = dict(os.environ, WORKPHONE_ADMIN_PASSWORD=PASSWORD)
        r = subprocess.run([WP, "init", "--data", self.data, "--tenant", "Acme", "--admin",
                            "admin"] + self.db_args, env=env, capture_output=True, text=True)
        if not check(r.returncode == 0, "%s: init: %s" % (backend, r.stderr)):
            raise SystemExit("init failed")
        if os.environ.get("WORKPHONE_TEST_SEALED"):
            # the same test over a store with a master key: message text sealed, grams keyed
            # (docs/internals/encryption.md); the key lives beside the data dir, not in it
            mk = self.data + ".master.key"
            with open(mk, "w") as f:
                f.write(os.urandom(32).hex() + "\n")
            os.chmod(mk, 0o600)
            r = subprocess.run([WP, "keys", "migrate", "--data", self.data, "--master-key-file",
                                mk] + self.db_args, env=env, capture_output=True, text=True)
            if not check(r.returncode == 0, "%s: keys migrate: %s" % (backend, r.stderr)):
                raise SystemExit("keys migrate failed")

    def sql(self, statement):
        if self.backend == "sqlite":
            cmd = ["sqlite3", "-batch", "-noheader", "-cmd", ".timeout 10000",
                   os.path.join(self.data, "workphone.db"),
                   statement]
        else:
            cmd = ["psql", "-qtAX", self.db_url, "-c", statement]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()

    def drop(self):
        if self.db_url:
            subprocess.run(["psql", "-q", PG_URL, "-c", "drop database %s with (force)" %
                            self.db_url.rsplit("/", 1)[1]], capture_output=True)


def pg_half(name):
    """True when a test's PostgreSQL half is to run (WORKPHONE_TEST_PG_URL is set). Without the
    URL the half is skipped if WORKPHONE_TEST_SKIP_PG=1 asks for it, and is a failure otherwise
    (issue 17): a run without PostgreSQL never passes as if it had tested it."""
    global failures
    if PG_URL:
        return True
    if os.environ.get("WORKPHONE_TEST_SKIP_PG") == "1":
        print("%s: PostgreSQL half SKIPPED: WORKPHONE_TEST_PG_URL is not set and "
              "WORKPHONE_TEST_SKIP_PG=1" % name, file=sys.stderr)
    else:
        print("FAIL: %s: WORKPHONE_TEST_PG_URL is not set: run under scripts/with-pg, or set "
              "WORKPHONE_TEST_SKIP_PG=1 to skip the PostgreSQL half" % name, file=sys.stderr)
        failures += 1
    return False


def run_backends(suite, name):
    """suite(backend, tmp) on SQLite, then on PostgreSQL (pg_half: a failure when it is not
    configured, unless skipping it is asked for); prints the count and returns the exit
    status."""
    backends = ["sqlite"]
    if pg_half(name):
        backends.append("postgresql")
    tmp = tempfile.mkdtemp(prefix="wp-%s." % name)
    stores = []
    try:
        for be in backends:
            stores.append(Store(be, tmp, name))
            suite(stores[-1])
    finally:
        kill_live()
        for s in stores:
            s.drop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d checks, %d failed" % (checks, failures))
    return 1 if failures else 0
