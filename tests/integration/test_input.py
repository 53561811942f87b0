#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The input the server must refuse, over real sockets against a real `workphone serve`, on
# SQLite and PostgreSQL: wrong passwords sent all at once (the lockout holds exactly), login
# CSRF (JSON only, same origin), cookie writes from another origin, request framings that
# smuggle a request past a proxy, and who may read /metrics. Each attack is answered with its
# exact refusal, and the allowed case next to it with its exact answer. Exit 0 when every
# check passed, 1 otherwise.
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import openapi_check  # every JSON answer of req() is checked against docs/openapi.yaml

WP = os.environ["WORKPHONE_BIN"]
PG_URL = os.environ.get("WORKPHONE_TEST_PG_URL", "")
PASSWORD = "s3cret-pass"
T0 = "2026-11-27T08:00:00Z"  # the servers run on a fake clock, so time moves when we say
T1 = "2026-11-27T08:15:01Z"  # the login window (15 minutes) after T0 has passed
PROM = "text/plain; version=0.0.4; charset=utf-8"

failures = 0
checks = 0


def check(ok, what):
    global failures, checks
    checks += 1
    if not ok:
        failures += 1
        print("FAIL: " + what, file=sys.stderr)
    return ok


LIVE = []  # servers still running: stopped on any exit


class Server:
    def __init__(self, data, db_args, now, host="127.0.0.1", args=()):
        # the fake clock is a test hook: it works behind the one switch only
        env = dict(os.environ, WORKPHONE_TEST_HOOKS="1", WORKPHONE_FAKE_NOW=now)
        self.log = os.path.join(data, "..", "serve-%d.err" % time.monotonic_ns())
        self.err = open(self.log, "a+")
        self.proc = subprocess.Popen([WP, "serve", "--data", data, "--listen", host + ":0"] +
                                     db_args + list(args), stdout=subprocess.DEVNULL,
                                     stderr=self.err, env=env)
        LIVE.append(self.proc)
        self.host, self.port = host, None
        # a minute: a loaded CI machine may take seconds to migrate and start the schedulers
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.err.seek(0)
            m = re.search(r"url=http://[^:]+:(\d+)/", self.err.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if not self.port:
            self.err.seek(0)
            raise SystemExit("server did not start: " + self.err.read()[-2000:])

    def origin(self):
        return "http://%s:%d" % (self.host, self.port)

    def stop(self):
        self.proc.terminate()
        check(self.proc.wait(timeout=60) == 0, "serve exits 0 on SIGTERM")
        self.err.close()
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def req(self, method, path, token=None, body=None, raw=None, ctype=None, headers=None,
            source=None):
        """(status, parsed JSON or text, headers as a dict with lowercase names)"""
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif raw is not None:
            data = raw.encode() if isinstance(raw, str) else raw
        if ctype is not None:
            h["Content-Type"] = ctype
        if token:
            h["Authorization"] = "Bearer " + token
        c = http.client.HTTPConnection(self.host, self.port, timeout=120,
                                       source_address=(source, 0) if source else None)
        try:
            c.request(method, path, body=data, headers=h)
            resp = c.getresponse()
            text = resp.read().decode("utf-8", "replace")
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            status = resp.status
        finally:
            c.close()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            return status, text, hdrs
        openapi_check.check_answer(check, method, path, status, parsed, hdrs)
        return status, parsed, hdrs


def err_code(j):
    return j.get("error", {}).get("code") if isinstance(j, dict) else None


def login(srv, username, password=PASSWORD):
    st, j, _ = srv.req("POST", "/api/v1/auth/login",
                       body={"username": username, "password": password})
    if not check(st == 200, "login %s: %s %s" % (username, st, j)):
        return None
    return j


def all_at_once(n, fn):
    """fn(i) for i in 0..n-1, each on its own thread, released together; the results."""
    out = [None] * n
    go = threading.Barrier(n)

    def run(i):
        go.wait()
        try:
            out[i] = fn(i)
        except Exception as e:  # a refused connection is a result too
            out[i] = (0, str(e), {})

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def tally(results):
    """{(status, code): count}"""
    t = {}
    for st, j, _ in results:
        k = (st, err_code(j))
        t[k] = t.get(k, 0) + 1
    return t


def locked_right(results, where):
    """every 429 of results is too_many_attempts with a Retry-After of 1..900 seconds"""
    for st, j, h in results:
        if st == 429:
            ra = h.get("retry-after", "")
            if not check(err_code(j) == "too_many_attempts" and ra.isdigit() and
                         1 <= int(ra) <= 900 and j["error"]["details"]["retry_after_s"] ==
                         int(ra), "%s: a 429 with its Retry-After: %s %s" % (where, j, h)):
                return


# --- raw sockets ---------------------------------------------------------------------------

def exchange(port, raw, wait=5.0):
    """send raw on a new connection; (everything received, whether the server closed it)"""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(wait)
    s.sendall(raw)
    got, closed = b"", False
    try:
        while True:
            d = s.recv(65536)
            if not d:
                closed = True
                break
            got += d
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    return got, closed


def responses(got):
    """the HTTP responses in got: [(status, {lowercase header: value}, body bytes)]"""
    out = []
    while got.startswith(b"HTTP/1."):
        head, sep, rest = got.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        out.append((status, hdrs, rest[:n]))
        got = rest[n:]
    return out


def chunked(b):
    return b"%x\r\n" % len(b) + b + b"\r\n0\r\n\r\n"


# --- the suite -----------------------------------------------------------------------------

def lockout(srv, admin, backend, unit):
    """20 wrong passwords at once for one account: exactly 5 are checked (401), 15 refused
    (429); the right one is refused too until the window has passed. The same for the current
    password of POST /auth/password."""
    for name in ["locky", "changer", "twin"]:
        st, j, _ = srv.req("POST", "/api/v1/employees", admin,
                           body={"name": name, "org_unit_id": unit, "role": "sales",
                                 "username": name, "password": PASSWORD})
        check(st == 201, "%s: create %s: %s %s" % (backend, name, st, j))

    res = all_at_once(20, lambda i: srv.req(
        "POST", "/api/v1/auth/login", body={"username": "locky", "password": "wrong-%d" % i}))
    t = tally(res)
    check(t == {(401, "unauthorized"): 5, (429, "too_many_attempts"): 15},
          "%s: 20 wrong logins at once: 5 answered 401, 15 answered 429: %s" % (backend, t))
    check(all(j["error"]["message"] == "invalid username or password"
              for st, j, _ in res if st == 401), backend + ": ... the 401s say why")
    locked_right(res, backend + ": wrong logins at once")
    st, j, h = srv.req("POST", "/api/v1/auth/login",
                       body={"username": "locky", "password": PASSWORD})
    check(st == 429 and err_code(j) == "too_many_attempts" and
          j["error"]["message"].startswith("too many failed logins for this account"),
          "%s: the right password is refused too while locked: %s %s" % (backend, st, j))

    st, j, _ = srv.req("GET", "/api/v1/audit?action=auth.login_throttled&limit=200", admin)
    rows = [i for i in j["items"] if (i.get("details") or {}).get("username") == "locky"]
    check(st == 200 and len(rows) == 1,
          "%s: the refused logins are one audit row auth.login_throttled a minute: %d" %
          (backend, len(rows)))
    dump = json.dumps(rows)
    check("wrong-" not in dump and PASSWORD not in dump and "password\"" not in dump,
          backend + ": ... with the username, never the password: " + dump[:300])
    check(all(i["actor"].startswith("employee:") for i in rows),
          backend + ": ... by the account it named")
    st, j, _ = srv.req("GET", "/api/v1/audit?action=auth.login_failed&limit=200", admin)
    failed = [i for i in j["items"] if (i.get("details") or {}).get("username") == "locky"]
    check(len(failed) == 5, "%s: the 5 checked ones are auth.login_failed rows: %d" %
          (backend, len(failed)))

    # the current password of a password change counts against the same account
    tok = login(srv, "changer")["token"]
    res = all_at_once(20, lambda i: srv.req(
        "POST", "/api/v1/auth/password", tok,
        body={"current_password": "wrong-%d" % i, "new_password": "a-new-pass-1"}))
    t = tally(res)
    check(t == {(400, "invalid_request"): 5, (429, "too_many_attempts"): 15},
          "%s: 20 wrong current passwords at once: 5 answered 400, 15 answered 429: %s" %
          (backend, t))
    check(all(j["error"]["message"] == "current_password is wrong"
              for st, j, _ in res if st == 400), backend + ": ... the 400s say why")
    locked_right(res, backend + ": wrong current passwords at once")
    st, j, _ = srv.req("POST", "/api/v1/auth/password", tok,
                       body={"current_password": PASSWORD, "new_password": "a-new-pass-1"})
    check(st == 429 and err_code(j) == "too_many_attempts",
          "%s: the right current password is refused while locked: %s %s" % (backend, st, j))
    st, j, _ = srv.req("POST", "/api/v1/auth/login",
                       body={"username": "changer", "password": PASSWORD})
    check(st == 429, "%s: ... and so is a login of that account: %s" % (backend, st))
    return tok


def two_nodes(srv, data, db_args, backend):
    """Two servers on one store (nodes behind a balancer): 20 wrong logins at once, split
    between them, still get exactly 5 checks."""
    other = Server(data, db_args, T0)
    nodes = [srv, other]
    res = all_at_once(20, lambda i: nodes[i % 2].req(
        "POST", "/api/v1/auth/login", body={"username": "twin", "password": "wrong-%d" % i}))
    t = tally(res)
    check(t == {(401, "unauthorized"): 5, (429, "too_many_attempts"): 15},
          "%s: 20 wrong logins at once on two nodes: 5 answered 401, 15 answered 429: %s" %
          (backend, t))
    for node in nodes:
        st, j, _ = node.req("POST", "/api/v1/auth/login",
                            body={"username": "twin", "password": PASSWORD})
        check(st == 429 and err_code(j) == "too_many_attempts",
              "%s: ... and both nodes refuse the right password: %s" % (backend, st))
    other.stop()


def after_window(srv, backend, tok):
    """The lock lifts when the window has passed; a good password clears the failures."""
    check(login(srv, "locky") is not None, backend + ": the window passed: locky logs in")
    st, j, _ = srv.req("POST", "/api/v1/auth/password", tok,
                       body={"current_password": PASSWORD, "new_password": "a-new-pass-1"})
    check(st == 200 and j["token"].startswith("wps_"),
          "%s: ... and the password change goes through: %s %s" % (backend, st, j))
    for i in range(4):
        st, _, _ = srv.req("POST", "/api/v1/auth/login",
                           body={"username": "locky", "password": "wrong-%d" % i})
        check(st == 401, "%s: failure %d after the window: %s" % (backend, i, st))
    login(srv, "locky")
    for i in range(4):
        st, _, _ = srv.req("POST", "/api/v1/auth/login",
                           body={"username": "locky", "password": "again-%d" % i})
        check(st == 401, "%s: a good login cleared the failures: %d %s" % (backend, i, st))
    check(login(srv, "locky") is not None, backend + ": ... 4 more do not lock it")


def address_limit(srv, backend):
    """35 logins at once from one address, each for another unknown account: 30 are checked."""
    res = all_at_once(35, lambda i: srv.req(
        "POST", "/api/v1/auth/login", body={"username": "ghost-%d" % i, "password": "x"}))
    t = tally(res)
    check(t == {(401, "unauthorized"): 30, (429, "too_many_attempts"): 5},
          "%s: 35 logins at once from one address: 30 answered 401, 5 answered 429: %s" %
          (backend, t))
    check(all(j["error"]["message"].startswith("too many failed logins from this address")
              for st, j, _ in res if st == 429), backend + ": ... the 429s name the address")
    locked_right(res, backend + ": one address")


def login_csrf(srv, backend):
    """POST /auth/login takes JSON only, and no other origin's page may post it."""
    good = json.dumps({"username": "admin", "password": PASSWORD})
    for ctype in ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                  "multipart/form-data; boundary=x", "application/jsonp",
                  "application/json-seq", ""]:
        st, j, _ = srv.req("POST", "/api/v1/auth/login", raw=good, ctype=ctype)
        check(st == 415 and err_code(j) == "unsupported_media_type" and
              "application/json" in j["error"]["message"],
              "%s: login with Content-Type '%s' is 415: %s %s" % (backend, ctype, st, j))
    st, j, _ = srv.req("POST", "/api/v1/auth/login", raw="username=admin&password=" + PASSWORD,
                       ctype="application/x-www-form-urlencoded")
    check(st == 415 and err_code(j) == "unsupported_media_type",
          "%s: a form's login is 415: %s %s" % (backend, st, j))
    st, j, _ = srv.req("POST", "/api/v1/auth/login", raw=good)  # no Content-Type at all
    check(st == 415 and err_code(j) == "unsupported_media_type",
          "%s: login without a Content-Type is 415: %s %s" % (backend, st, j))
    for ctype in ["application/json", "application/json; charset=utf-8", "Application/JSON"]:
        st, j, _ = srv.req("POST", "/api/v1/auth/login", raw=good, ctype=ctype)
        check(st == 200 and j["token"].startswith("wps_"),
              "%s: login with '%s' is 200: %s %s" % (backend, ctype, st, j))

    same = srv.origin()
    other_port = "http://127.0.0.1:%d" % (srv.port + 1 if srv.port < 65535 else 1)
    for origin in ["http://evil.example", "null", other_port, "https://127.0.0.1:%d" % srv.port,
                   same + "/", "http://127.0.0.1", "http://127.0.0.1:%d.evil.example" % srv.port,
                   "http://127.0.0.1:%d@evil.example" % srv.port, ""]:
        st, j, _ = srv.req("POST", "/api/v1/auth/login", raw=good, ctype="application/json",
                           headers={"Origin": origin})
        check(st == 403 and err_code(j) == "cross_origin",
              "%s: login from Origin '%s' is 403 cross_origin: %s %s" % (backend, origin, st, j))
    st, j, _ = srv.req("POST", "/api/v1/auth/login", raw=good, ctype="text/plain",
                       headers={"Origin": "http://evil.example"})
    check(st == 403 and err_code(j) == "cross_origin",
          "%s: a cross-origin text/plain login is 403 cross_origin: %s %s" % (backend, st, j))
    allowed = [({"Origin": same}, "its own origin"),
               ({"Origin": "http://LocalHost:%d" % srv.port,
                 "Host": "localhost:%d" % srv.port}, "a host name in capitals"),
               ({"Origin": "https://127.0.0.1:%d" % srv.port, "X-Forwarded-Proto": "https"},
                "https behind a TLS proxy"),
               ({"Origin": "http://localhost:%d" % srv.port,
                 "Host": "localhost:%d" % srv.port}, "a name for the host"),
               ({"Origin": "https://phone.example", "Host": "phone.example",
                 "X-Forwarded-Proto": "https"}, "default port of https"),
               ({"Origin": "http://phone.example", "Host": "phone.example:80"}, "port 80"),
               ({}, "no Origin (not a browser)")]
    for hdrs, what in allowed:
        st, j, _ = srv.req("POST", "/api/v1/auth/login", raw=good, ctype="application/json",
                           headers=hdrs)
        check(st == 200 and j["token"].startswith("wps_"),
              "%s: login from %s is 200: %s %s" % (backend, what, st, j))


def cookie_origin(srv, backend):
    """A cookie-authenticated write from another origin is refused, even with the CSRF token."""
    j = login(srv, "admin")
    tok, csrf = j["token"], j["csrf_token"]
    cookie = {"Cookie": "wp_session=" + tok, "X-CSRF-Token": csrf}
    check_body = {"text": "hello"}
    for origin in ["http://evil.example", "null", "https://127.0.0.1:%d" % srv.port]:
        st, j, _ = srv.req("POST", "/api/v1/lexicon/check", body=check_body,
                           headers=dict(cookie, Origin=origin))
        check(st == 403 and err_code(j) == "cross_origin",
              "%s: a cookie POST from '%s' is 403 cross_origin: %s %s" % (backend, origin, st, j))
    st, j, _ = srv.req("PUT", "/api/v1/roles/sales", body={"view_pii": True, "unmask": True},
                       headers=dict(cookie, Origin="http://evil.example"))
    check(st == 403 and err_code(j) == "cross_origin",
          "%s: a cookie PUT from another origin is 403: %s %s" % (backend, st, j))
    st, j, _ = srv.req("POST", "/api/v1/auth/logout",
                       headers=dict(cookie, Origin="http://evil.example"))
    check(st == 403 and err_code(j) == "cross_origin",
          "%s: a cookie logout from another origin is 403: %s %s" % (backend, st, j))
    st, j, _ = srv.req("GET", "/api/v1/auth/session",
                       headers=dict(cookie, Origin="http://evil.example"))
    check(st == 200 and j["via_cookie"] is True,
          "%s: ... and did not end the session; a cookie GET is not refused: %s %s" %
          (backend, st, j))
    st, j, _ = srv.req("POST", "/api/v1/lexicon/check", body=check_body,
                       headers=dict(cookie, Origin=srv.origin()))
    check(st == 200 and j["action"] == "allow",
          "%s: a cookie POST from its own origin is 200: %s %s" % (backend, st, j))
    st, j, _ = srv.req("POST", "/api/v1/lexicon/check", body=check_body, headers=cookie)
    check(st == 200, "%s: ... and without an Origin: %s %s" % (backend, st, j))
    st, j, _ = srv.req("POST", "/api/v1/lexicon/check", tok, body=check_body,
                       headers={"Origin": "http://evil.example"})
    check(st == 200, "%s: a bearer POST is not a browser's: 200: %s %s" % (backend, st, j))
    st, j, _ = srv.req("POST", "/api/v1/lexicon/check", body=check_body,
                       headers={"Cookie": "wp_session=" + tok, "Origin": srv.origin()})
    check(st == 403 and err_code(j) == "csrf_failed",
          "%s: the same origin still needs the CSRF token: %s %s" % (backend, st, j))
    st, _, _ = srv.req("POST", "/api/v1/auth/logout", headers=dict(cookie, Origin=srv.origin()))
    check(st == 204, "%s: a cookie logout from its own origin is 204: %s" % (backend, st))


def smuggling(srv, backend):
    """Framings a proxy and the server could read differently: 400 bad_framing at once, and the
    connection closes (the pipelined request behind is never answered)."""
    body = json.dumps({"username": "admin", "password": PASSWORD}).encode()
    n = len(body)
    head = (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            b"Content-Type: application/json\r\n" % srv.port)
    nxt = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    vectors = {
        "two Content-Length, equal": head + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n"
        % (n, n) + body,
        "two Content-Length, 0 then n": head + b"Content-Length: 0\r\nContent-Length: %d\r\n\r\n"
        % n + body,
        "Content-Length and Transfer-Encoding": head + b"Content-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body),
        "Transfer-Encoding and Content-Length": head + b"Transfer-Encoding: chunked\r\n"
        b"Content-Length: %d\r\n\r\n" % n + chunked(body),
        "Transfer-Encoding: gzip": head + b"Transfer-Encoding: gzip\r\n\r\n" + body,
        "Transfer-Encoding: identity": head + b"Transfer-Encoding: identity\r\n\r\n" + body,
        "Transfer-Encoding: gzip, chunked": head + b"Transfer-Encoding: gzip, chunked\r\n\r\n" +
        chunked(body),
        "Transfer-Encoding: chunked, chunked": head +
        b"Transfer-Encoding: chunked, chunked\r\n\r\n" + chunked(body),
        "two Transfer-Encoding": head + b"Transfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body),
        "Transfer-Encoding in HTTP/1.0": head.replace(b"HTTP/1.1", b"HTTP/1.0") +
        b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body),
        "blank before the colon of Content-Length": head + b"Content-Length : %d\r\n\r\n" % n +
        body,
        "blank before the colon of Transfer-Encoding": head + b"Transfer-Encoding : chunked\r\n\r\n"
        + chunked(body),
        "two Host": head + b"Host: evil.example\r\nContent-Length: %d\r\n\r\n" % n + body,
        "GET with two Content-Length 0": b"GET /api/v1/health HTTP/1.1\r\nHost: a\r\n"
        b"Content-Length: 0\r\nContent-Length: 0\r\n\r\n",
    }
    for what, raw in vectors.items():
        got, closed = exchange(srv.port, raw + nxt)
        rs = responses(got)
        ok = len(rs) == 1 and rs[0][0] == 400 and closed
        j = None
        if rs:
            try:
                j = json.loads(rs[0][2])
            except ValueError:
                pass
        ok = ok and err_code(j) == "bad_framing" and \
            rs[0][1].get("content-type") == "application/json" and \
            rs[0][1].get("connection", "").lower() == "close"
        check(ok, "%s: %s: one 400 bad_framing with Connection: close, then the connection "
              "closes: closed=%s %r" % (backend, what, closed, got[:600]))

    # what libmicrohttpd refuses itself, before any callback: a Content-Length that is not
    # digits. Its own 400 (HTML), and the connection closes (docs/internals/http.md)
    for cl in [b"+%d" % n, b"%d,%d" % (n, n), b"-1", b"0x10"]:
        got, closed = exchange(srv.port, head + b"Content-Length: " + cl + b"\r\n\r\n" + body +
                               nxt)
        rs = responses(got)
        check(rs and rs[0][0] == 400 and closed and all(r[0] == 400 for r in rs) and
              b'"status"' not in got,
              "%s: Content-Length '%s' is libmicrohttpd's 400 and the connection closes: %r" %
              (backend, cl.decode(), got[:400]))

    # the allowed framings: a chunked body and a plain Content-Length, and the connection
    # stays open for the next request
    for what, raw in [("chunked", head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body)),
                      ("Chunked", head + b"Transfer-Encoding: Chunked\r\n\r\n" + chunked(body)),
                      ("chunked in pieces", head + b"Transfer-Encoding: chunked\r\n\r\n" +
                       b"5\r\n" + body[:5] + b"\r\n%x\r\n" % (n - 5) + body[5:] +
                       b"\r\n0\r\n\r\n"),
                      ("Content-Length", head + b"Content-Length: %d\r\n\r\n" % n + body)]:
        got, closed = exchange(srv.port, raw + nxt, wait=3.0)
        rs = responses(got)
        ok = len(rs) == 2 and rs[0][0] == 200 and rs[1][0] == 200 and not closed
        ok = ok and json.loads(rs[0][2])["token"].startswith("wps_") and \
            json.loads(rs[1][2])["status"] == "ok"
        check(ok, "%s: a %s login is 200, and the next request on the connection too: %r" %
              (backend, what, got[:600]))


def metrics(srv, backend, data, db_args, tmp):
    """/metrics: loopback clients only by default; with a token file, the token from anyone."""
    st, text, h = srv.req("GET", "/metrics")
    check(st == 200 and h.get("content-type") == PROM and
          "# TYPE workphone_http_requests_total counter\n" in text,
          "%s: a loopback client reads /metrics: %s %s" % (backend, st, h.get("content-type")))
    st, text, h = srv.req("GET", "/metrics", headers={"Authorization": "Bearer nope"})
    check(st == 200 and h.get("content-type") == PROM,
          "%s: ... whatever it sends without a token file: %s" % (backend, st))
    for hdr in [{"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}]:
        st, j, h = srv.req("GET", "/metrics", headers=hdr)
        check(st == 403 and err_code(j) == "forbidden",
              "%s: a request a proxy on loopback relayed (%s) is 403: %s %s" %
              (backend, list(hdr)[0], st, j))
    srv.stop()

    ext = external_address()
    if ext:
        # a server on a non-loopback address, reached from that address: not loopback
        srv = Server(data, db_args, T1, host=ext)
        st, j, h = srv.req("GET", "/metrics", source=ext)
        check(st == 403 and err_code(j) == "forbidden" and
              h.get("content-type") == "application/json",
              "%s: a client at %s may not read /metrics: %s %s" % (backend, ext, st, j))
        st, j, _ = srv.req("GET", "/api/v1/health", source=ext)
        check(st == 200, "%s: ... while the API answers it: %s" % (backend, st))
        srv.stop()
    else:
        print("no non-loopback address: the loopback rule is left to the unit test "
              "test_http_metrics__loopback_addresses", file=sys.stderr)

    token = "mt-" + os.urandom(16).hex()
    tfile = os.path.join(tmp, "metrics-%s.token" % backend)
    with open(tfile, "w") as f:
        f.write(token + "\n")
    os.chmod(tfile, 0o600)
    # with a token file, the token is the rule for loopback clients too
    srv = Server(data, db_args, T1, args=["--metrics-token-file", tfile])
    for what, hdrs in [("no token", {}),
                       ("a wrong token", {"Authorization": "Bearer " + token[:-1] + "x"}),
                       ("a longer token", {"Authorization": "Bearer " + token + "x"}),
                       ("a shorter token", {"Authorization": "Bearer " + token[:-1]}),
                       ("the token as Basic", {"Authorization": "Basic " + token}),
                       ("an empty token", {"Authorization": "Bearer "})]:
        st, j, h = srv.req("GET", "/metrics", headers=hdrs)
        check(st == 401 and err_code(j) == "unauthorized" and
              h.get("www-authenticate", "").startswith("Bearer") and
              h.get("content-type") == "application/json",
              "%s: /metrics with %s is 401: %s %s" % (backend, what, st, j))
    st, text, h = srv.req("GET", "/metrics", headers={"Authorization": "Bearer " + token})
    check(st == 200 and h.get("content-type") == PROM and
          "workphone_http_requests_total" in text,
          "%s: /metrics with the token is 200: %s" % (backend, st))
    log = srv.stop()
    check(token not in log, backend + ": the token is never logged")
    if ext:
        srv = Server(data, db_args, T1, host=ext, args=["--metrics-token-file", tfile])
        st, j, _ = srv.req("GET", "/metrics", source=ext)
        check(st == 401 and err_code(j) == "unauthorized",
              "%s: from %s without the token: 401: %s %s" % (backend, ext, st, j))
        st, text, h = srv.req("GET", "/metrics", headers={"Authorization": "Bearer " + token},
                              source=ext)
        check(st == 200 and h.get("content-type") == PROM,
              "%s: from %s with the token: 200: %s" % (backend, ext, st))
        srv.stop()

    # the same from workphone.conf, a path relative to the data dir
    conf = os.path.join(data, "workphone.conf")
    with open(conf) as f:
        saved = f.read()
    shutil.copy(tfile, os.path.join(data, "metrics.token"))
    with open(conf, "a") as f:
        f.write("metrics_token_file=metrics.token\n")
    srv = Server(data, db_args, T1)
    st, _, _ = srv.req("GET", "/metrics")
    check(st == 401, "%s: metrics_token_file= in workphone.conf asks for it: %s" % (backend, st))
    st, _, _ = srv.req("GET", "/metrics", headers={"Authorization": "Bearer " + token})
    check(st == 200, "%s: ... and takes it: %s" % (backend, st))
    log = srv.stop()
    check(token not in log, backend + ": ... never logged")
    with open(conf, "w") as f:
        f.write(saved)

    # a token file that cannot be used stops serve before it listens
    empty = os.path.join(tmp, "empty.token")
    open(empty, "w").close()
    blank = os.path.join(tmp, "blank.token")
    with open(blank, "w") as f:
        f.write("two words\n")
    for path, why in [(os.path.join(tmp, "missing.token"), "cannot read"),
                      (empty, "empty"), (blank, "blank")]:
        p = subprocess.run([WP, "serve", "--data", data, "--listen", "127.0.0.1:0",
                            "--metrics-token-file", path] + db_args,
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 2 and why in p.stderr and "url=" not in p.stderr,
              "%s: serve refuses a token file that is %s: %s %s" % (backend, why, p.returncode,
                                                                    p.stderr[-300:]))


def external_address():
    """An IPv4 address of this host that is not loopback, or None."""
    try:
        p = subprocess.run(["ip", "-o", "-4", "addr", "show", "scope", "global"],
                           capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    for m in re.finditer(r"inet (\d+\.\d+\.\d+\.\d+)/", p.stdout):
        a = m.group(1)
        try:
            s = socket.socket()
            s.bind((a, 0))
            s.close()
            return a
        except OSError:
            continue
    return None


def suite(backend, tmp):
    data = os.path.join(tmp, backend)
    db_args, db_url = [], None
    if backend == "postgresql":
        name = "wp_input_%d_%d" % (os.getpid(), int(time.time()))
        subprocess.run(["psql", "-q", PG_URL, "-c", "create database " + name], check=True)
        db_url = PG_URL.rsplit("/", 1)[0] + "/" + name
        db_args = ["--db", db_url]
    env = dict(os.environ, WORKPHONE_ADMIN_PASSWORD=PASSWORD)
    p = subprocess.run([WP, "init", "--data", data, "--tenant", "Acme", "--admin", "admin"] +
                       db_args, capture_output=True, text=True, env=env)
    if not check(p.returncode == 0, "%s: init: %s" % (backend, p.stderr)):
        return db_url

    srv = Server(data, db_args, T0)
    admin = login(srv, "admin")["token"]
    st, j, _ = srv.req("GET", "/api/v1/org-units", admin)
    unit = j["items"][0]["id"]
    tok = lockout(srv, admin, backend, unit)
    two_nodes(srv, data, db_args, backend)
    srv.stop()

    srv = Server(data, db_args, T1)
    after_window(srv, backend, tok)
    login_csrf(srv, backend)
    cookie_origin(srv, backend)
    smuggling(srv, backend)
    address_limit(srv, backend)
    metrics(srv, backend, data, db_args, tmp)
    return db_url


def main():
    backends = ["sqlite"]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import harness  # its pg_half: the PostgreSQL half fails without the URL, unless skipped
    if harness.pg_half("input"):
        backends.append("postgresql")
    elif harness.failures:
        return 1
    tmp = tempfile.mkdtemp(prefix="wp-input.")
    dbs = []
    try:
        for be in backends:
            dbs.append(suite(be, tmp))
    finally:
        for proc in LIVE:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        for db in dbs:
            if db:
                subprocess.run(["psql", "-q", PG_URL, "-c", "drop database %s with (force)" %
                                db.rsplit("/", 1)[1]], capture_output=True)
    print("%d checks, %d failed" % (checks, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
