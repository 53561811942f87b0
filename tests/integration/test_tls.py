#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Built-in HTTPS and the readiness probe (issue 19), on real sockets, on SQLite and PostgreSQL:
#  - a throwaway CA and a server certificate made with openssl in the test's temp dir;
#    `serve --tls-cert --tls-key`: the start line's url is https, curl --cacert gets the API and
#    the console, every answer has Strict-Transport-Security, login's Set-Cookie is Secure (and
#    keeps HttpOnly, SameSite=Strict), a browser's same-origin login (Origin https://...)
#    passes; plain http to the TLS port gets no answer; TLS 1.1 is refused, 1.2 taken;
#    tls_cert=/tls_key= in workphone.conf do the same; SIGHUP is logged and serving goes on;
#  - bad certificate and key files exit 2 with a message naming the file (exact lines): one
#    of the pair, a missing file, a directory, a key as certificate, another certificate's
#    key, a key every user can read; a group-readable key is served with a warning;
#  - plain http: no Secure, no HSTS (Secure behind X-Forwarded-Proto: https, as before);
#  - GET /api/v1/ready: 200 {"status":"ready"} with no credentials; on SQLite a store failure
#    (the X-Workphone-Test-Fail hook) answers 503 store_unavailable with Retry-After: 1, and
#    the next call is ready again. PostgreSQL stopped for real: test_pgfault.py.
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import harness
from harness import PASSWORD, WP, Server, check, login

HSTS = "max-age=31536000"
UNAVAILABLE = {"error": {"code": "store_unavailable", "message": "the store is unavailable for "
                         "now; nothing was stored: try again later", "details": {}}}


def openssl(*args):
    r = subprocess.run(("openssl",) + args, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit("openssl %s: %s" % (args[0], r.stderr))


def make_pki(d):
    """ca.pem; srv.pem with srv.key (for 127.0.0.1, signed by the CA); other.pem and other.key
    (self-signed, another key). Keys mode 600."""
    os.makedirs(d)
    p = lambda n: os.path.join(d, n)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"), "-out",
            p("ca.pem"), "-days", "2", "-subj", "/CN=workphone test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("srv.key"), "-out", p("srv.csr"),
            "-subj", "/CN=127.0.0.1")
    with open(p("ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", p("srv.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
            "-CAcreateserial", "-out", p("srv.pem"), "-days", "2", "-extfile", p("ext"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("other.key"), "-out",
            p("other.pem"), "-days", "2", "-subj", "/CN=other")
    for k in ("ca.key", "srv.key", "other.key"):
        os.chmod(p(k), 0o600)
    return p


def curl(*args):
    """(exit code, stdout with headers)"""
    r = subprocess.run(("curl", "-sS", "--max-time", "20") + args, capture_output=True,
                       text=True)
    return r.returncode, r.stdout


def header(out, name):
    """The values of header name in curl -i output."""
    return [l.split(":", 1)[1].strip() for l in out.replace("\r", "").split("\n")
            if l.lower().startswith(name.lower() + ":")]


def serve_fails(store, args, what, want):
    """serve with args exits 2 before it listens, saying exactly want on stderr."""
    r = subprocess.run([WP, "serve", "--data", store.data, "--listen", "127.0.0.1:0"] +
                       store.db_args + args, capture_output=True, text=True, timeout=60)
    check(r.returncode == 2 and r.stderr == "workphone serve: " + want + "\n",
          "%s: exit 2 with %r, got %d %r" % (what, want, r.returncode, r.stderr))


def bad_files(store, p, tmp):
    serve_fails(store, ["--tls-cert", p("srv.pem")], "a certificate without a key",
                "--tls-cert without --tls-key: give both or neither")
    serve_fails(store, ["--tls-key", p("srv.key")], "a key without a certificate",
                "--tls-key without --tls-cert: give both or neither")
    missing = os.path.join(tmp, "nope.pem")
    serve_fails(store, ["--tls-cert", missing, "--tls-key", p("srv.key")], "a missing cert",
                "--tls-cert '%s': cannot read it: No such file or directory" % missing)
    serve_fails(store, ["--tls-cert", p("srv.pem"), "--tls-key", missing], "a missing key",
                "--tls-key '%s': cannot read it: No such file or directory" % missing)
    serve_fails(store, ["--tls-cert", tmp, "--tls-key", p("srv.key")], "a directory as cert",
                "--tls-cert '%s': not a regular file" % tmp)
    serve_fails(store, ["--tls-cert", p("srv.key"), "--tls-key", p("srv.key")],
                "a key as certificate",
                "--tls-cert '%s': not a PEM certificate (Base64 unexpected header error.)" %
                p("srv.key"))
    serve_fails(store, ["--tls-cert", p("srv.pem"), "--tls-key", p("other.key")],
                "another certificate's key",
                "--tls-key '%s' is not the key of --tls-cert '%s' (The certificate and the "
                "given key do not match.)" % (p("other.key"), p("srv.pem")))
    world = p("world.key")
    shutil.copy(p("srv.key"), world)
    os.chmod(world, 0o644)
    serve_fails(store, ["--tls-cert", p("srv.pem"), "--tls-key", world], "a world-readable key",
                "--tls-key '%s': every user of this host can read it (mode 0644): chmod o-r "
                "it, or 600" % world)
    # only one of the pair in workphone.conf
    conf = os.path.join(store.data, "workphone.conf")
    kept = open(conf).read()
    with open(conf, "a") as f:
        f.write("tls_cert=%s\n" % p("srv.pem"))
    serve_fails(store, [], "tls_cert= without tls_key=",
                "%s/workphone.conf: tls_cert= without tls_key=: give both or neither" %
                store.data)
    with open(conf, "w") as f:
        f.write(kept)


def https(store, p, via_conf=False):
    """A server on TLS: the API, the console, cookies, HSTS, the protocol versions."""
    be = store.backend
    args = ["--tls-cert", p("srv.pem"), "--tls-key", p("srv.key")]
    conf = os.path.join(store.data, "workphone.conf")
    kept = open(conf).read()
    if via_conf:
        # relative paths are the data dir's
        shutil.copy(p("srv.pem"), os.path.join(store.data, "srv.pem"))
        shutil.copy(p("srv.key"), os.path.join(store.data, "srv.key"))
        with open(conf, "a") as f:
            f.write("tls_cert=srv.pem\ntls_key=srv.key\n")
        args = []
    srv = Server(store.data, store.db_args, extra_args=args, cafile=p("ca.pem"))
    what = "%s%s" % (be, " (workphone.conf)" if via_conf else "")
    check(srv.base.startswith("https://127.0.0.1:"), "%s: the start line's url is https: %s" %
          (what, srv.base))
    st, j, h = srv.req("GET", "/api/v1/health")
    check(st == 200 and j.get("status") == "ok" and h.get("Strict-Transport-Security") == HSTS,
          "%s: health over https with HSTS, got %s %r %r" % (what, st, j,
                                                              h.get("Strict-Transport-Security")))
    st, j, h = srv.req("GET", "/api/v1/ready")
    check(st == 200 and j == {"status": "ready"} and
          h.get("Strict-Transport-Security") == HSTS,
          "%s: ready over https, got %s %r" % (what, st, j))
    # a browser's login: Origin is the https origin; the cookie is Secure
    rc, out = curl("-i", "--cacert", p("ca.pem"), "-H", "Content-Type: application/json",
                   "-H", "Origin: " + srv.base, "--data-binary",
                   '{"username":"admin","password":"%s"}' % PASSWORD,
                   srv.base + "/api/v1/auth/login")
    cookies = header(out, "Set-Cookie")
    check(rc == 0 and out.startswith("HTTP/1.1 200") and len(cookies) == 1 and
          re.fullmatch(r"wp_session=wps_[A-Za-z0-9_-]+; Path=/; HttpOnly; SameSite=Strict; "
                       r"Max-Age=43200; Secure", cookies[0]) is not None and
          header(out, "Strict-Transport-Security") == [HSTS],
          "%s: login over https sets a Secure cookie, got rc %d %r" % (what, rc, out[:600]))
    session = cookies[0].split(";", 1)[0] if cookies else ""
    rc, out = curl("-i", "--cacert", p("ca.pem"), "-H", "Cookie: " + session,
                   srv.base + "/api/v1/auth/session")
    check(rc == 0 and out.startswith("HTTP/1.1 200") and '"username":"admin"' in out,
          "%s: the cookie's session over https, got rc %d %r" % (what, rc, out[:400]))
    tok = login(srv, "admin")
    st, j, h = srv.req("GET", "/api/v1/employees", tok)
    check(st == 200 and len(j["items"]) == 1 and h.get("Strict-Transport-Security") == HSTS,
          "%s: the API over https, got %s" % (what, st))
    # the console (built or not, it answers a page) with HSTS beside its own headers
    rc, out = curl("-i", "--cacert", p("ca.pem"), srv.base + "/")
    check(rc == 0 and out.startswith("HTTP/1.1 200") and
          header(out, "Content-Type") == ["text/html; charset=utf-8"] and
          header(out, "Strict-Transport-Security") == [HSTS] and
          header(out, "X-Frame-Options") == ["DENY"],
          "%s: the console over https, got rc %d %r" % (what, rc, out[:500]))
    # an error answer has it too
    st, j, h = srv.req("GET", "/api/v1/nowhere")
    check(st == 404 and h.get("Strict-Transport-Security") == HSTS,
          "%s: a 404 over https has HSTS, got %s %r" % (what, st, dict(h)))
    # plain http to the TLS port: no HTTP answer at all
    plain = srv.base.replace("https://", "http://")
    rc, out = curl("-i", plain + "/api/v1/health")
    check(rc == 52 and out == "", "%s: plain http to the TLS port gets no answer (curl 52), got "
          "rc %d %r" % (what, rc, out[:200]))
    # TLS 1.1 and older refused, 1.2 and 1.3 taken
    rc, out = curl("-i", "--cacert", p("ca.pem"), "--tlsv1.0", "--tls-max", "1.1",
                   srv.base + "/api/v1/health")
    check(rc == 35 and out == "", "%s: TLS 1.1 refused (curl 35), got rc %d %r" %
          (what, rc, out[:200]))
    for v in ("1.2", "1.3"):
        rc, out = curl("-i", "--cacert", p("ca.pem"), "--tlsv" + v, "--tls-max", v,
                       srv.base + "/api/v1/health")
        check(rc == 0 and out.startswith("HTTP/1.1 200"), "%s: TLS %s taken, got rc %d %r" %
              (what, v, rc, out[:200]))
    # a client that does not know the CA refuses the server
    rc, out = curl("-i", srv.base + "/api/v1/health")
    check(rc == 60, "%s: without --cacert curl refuses the certificate (60), got %d" %
          (what, rc))
    if not via_conf:
        # SIGHUP: logged, nothing reloaded, serving goes on
        srv.proc.send_signal(signal.SIGHUP)
        line = ('level=warn event=sighup msg="nothing is reloaded on SIGHUP: restart serve to '
                'load a new certificate or configuration"')
        seen = False
        for _ in range(100):
            srv.err.seek(0)
            if line in srv.err.read():
                seen = True
                break
            time.sleep(0.05)
        check(seen, "%s: SIGHUP logged: %s" % (what, line))
        st, j, _ = srv.req("GET", "/api/v1/ready")
        check(srv.proc.poll() is None and st == 200,
              "%s: still serving after SIGHUP, got %s" % (what, st))
    srv.stop()
    with open(conf, "w") as f:
        f.write(kept)


def group_key(store, p):
    """A key its group may read: served, with a warning naming it."""
    key = p("group.key")
    shutil.copy(p("srv.key"), key)
    os.chmod(key, 0o640)
    srv = Server(store.data, store.db_args, extra_args=["--tls-cert", p("srv.pem"), "--tls-key",
                                                         key], cafile=p("ca.pem"))
    st, j, _ = srv.req("GET", "/api/v1/ready")
    srv.err.seek(0)
    lines = [l.split(" ", 1)[1] for l in srv.err.read().splitlines() if "tls_key_mode" in l]
    check(st == 200 and lines == [
        'level=warn event=tls_key_mode file=%s msg="the private key\'s group may read it: keep '
        'that group to the server\'s own account, or chmod 600 the file"' % key],
        "a group-readable key: served with one warning, got %s %r" % (st, lines))
    srv.stop()


def plain(store):
    """Plain http: no HSTS, no Secure (unless a proxy says https); the readiness probe."""
    be = store.backend
    srv = Server(store.data, store.db_args)
    st, j, h = srv.req("GET", "/api/v1/ready")
    check(st == 200 and j == {"status": "ready"} and "Strict-Transport-Security" not in h,
          "%s: ready over http without HSTS, got %s %r %r" % (be, st, j, dict(h)))
    body = '{"username":"admin","password":"%s"}' % PASSWORD
    rc, out = curl("-i", "-H", "Content-Type: application/json", "--data-binary", body,
                   srv.base + "/api/v1/auth/login")
    cookies = header(out, "Set-Cookie")
    check(rc == 0 and len(cookies) == 1 and cookies[0].endswith("Max-Age=43200") and
          not header(out, "Strict-Transport-Security"),
          "%s: login over http: no Secure, no HSTS, got %r" % (be, cookies))
    rc, out = curl("-i", "-H", "Content-Type: application/json", "-H", "X-Forwarded-Proto: https",
                   "--data-binary", body, srv.base + "/api/v1/auth/login")
    cookies = header(out, "Set-Cookie")
    check(rc == 0 and len(cookies) == 1 and cookies[0].endswith("Max-Age=43200; Secure"),
          "%s: behind a TLS proxy (X-Forwarded-Proto: https) the cookie is Secure, got %r" %
          (be, cookies))
    # the readiness probe with the store failing (the test hook fires on SQLite's statements;
    # PostgreSQL's own outage is test_pgfault.py's)
    if be == "sqlite":
        st, j, h = srv.req("GET", "/api/v1/ready", headers={"X-Workphone-Test-Fail": "store=1"})
        check(st == 503 and j == UNAVAILABLE and h.get("Retry-After") == "1" and
              h.get("X-Workphone-Test-Failed") == "store",
              "sqlite: ready with the store failing: 503 store_unavailable, got %s %r %r" %
              (st, j, dict(h)))
        st, j, _ = srv.req("GET", "/api/v1/ready")
        check(st == 200 and j == {"status": "ready"}, "sqlite: ready again, got %s %r" % (st, j))
        srv.err.seek(0)
        logged = [l for l in srv.err.read().splitlines() if "route=/api/v1/ready" in l and
                  "status=503" in l]
        check(len(logged) == 1 and "error=store_unavailable" in logged[0] and
              "the store does not answer: store: injected failure" in logged[0],
              "sqlite: the 503's cause is in the log only, got %r" % logged)
    # nothing sensitive, and no credentials: a POST is 405
    st, j, _ = srv.req("POST", "/api/v1/ready", body={})
    check(st == 405, "%s: POST /api/v1/ready is 405, got %s" % (be, st))
    srv.stop()


PKI = {}


def suite(store):
    tmp = os.path.dirname(store.data)
    if "p" not in PKI:
        PKI["p"] = make_pki(os.path.join(tmp, "pki"))
        bad_files(store, PKI["p"], tmp)
        group_key(store, PKI["p"])
    p = PKI["p"]
    https(store, p)
    https(store, p, via_conf=True)
    plain(store)


if __name__ == "__main__":
    sys.exit(harness.run_backends(suite, "tls"))
