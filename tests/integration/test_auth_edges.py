# SPDX-License-Identifier: MIT
# The edges of who-is-calling (src/api/auth.c) that no other suite reached (issue 17, measured
# with `make coverage`): tokens of the wrong shape or length, the CSRF header of the wrong
# length, the cookie on HEAD, the Secure cookie behind a TLS proxy, a 'tenant' that is no
# string, passwords past the longest, a long username cut on a character boundary in the audit
# row of its failed login, and the audit log's filters at their longest. Then, on a clock the
# test moves: an empty cookie, an empty or overlong tenant, which locked logins are audited
# (the first refusal of a minute) with their Retry-After, a tenant nobody has (locked, nothing
# audited), and a store failing at each operation of a refused login, a throttled one and a
# refused password change (a store error, no audit row; a throttled refusal whose row failed
# leaves the next one of its minute to be audited). Every answer exact, on both backends
# (python3 only).
import datetime
import os
import sys

import harness
from harness import PASSWORD, Server, check, err_code, login

BAD_LOGIN = "invalid username or password"
# the store's failures a client is told of (CONTRACT): 500 internal_error, or a 503 of the store
STORE_FAILED = {(500, "internal_error"), (503, "store_unavailable"), (503, "storage_full"),
                (503, "overloaded")}


def expect(got, status, code, message, what):
    st, j, _ = got
    check(st == status and err_code(j) == code and j["error"]["message"] == message,
          "%s: wanted %d %s '%s', got %s %s" % (what, status, code, message, st, j))


def suite(store):
    be = store.backend
    srv = Server(store.data, store.db_args)
    try:
        admin = login(srv, "admin")
        # an API key longer than any workphone makes is refused before any lookup
        expect(srv.req("GET", "/api/v1/auth/session", "wpk_" + "a" * 200), 401, "unauthorized",
               "invalid or revoked API key", be + ": an API key of 204 characters")
        # a session token must start wps_ and be at most 100 characters
        expect(srv.req("GET", "/api/v1/auth/session", "xyz_" + admin[4:]), 401, "unauthorized",
               "invalid or expired session", be + ": a token with another prefix")
        expect(srv.req("GET", "/api/v1/auth/session", admin + "a" * 100), 401, "unauthorized",
               "invalid or expired session", be + ": a session token past 100 characters")
        st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
        check(st == 200 and j["employee"]["username"] == "admin", be + ": the real token still works: %s" % st)

        # an API key acts for the employee who made it: it may not change its maker's state,
        # as its maker may not; renaming is still allowed
        me = j["employee"]["id"]
        st, k, _ = srv.req("POST", "/api/v1/api-keys", admin,
                           body={"name": "自身", "role": "admin"})
        check(st == 201, be + ": an admin key: %s %s" % (st, k))
        expect(srv.req("PATCH", "/api/v1/employees/" + me, k["key"], body={"active": False}),
               403, "forbidden", "an API key acts for the employee who made it, who may not "
               "change themselves", be + ": a key deactivating its maker")
        expect(srv.req("PATCH", "/api/v1/employees/" + me, admin, body={"active": False}),
               403, "forbidden", "nobody may change themselves",
               be + ": an admin deactivating itself")
        st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
        check(st == 200, be + ": ... and the admin is still active: %s" % st)

        # the cookie: a safe method needs no CSRF header, an unsafe one its exact header
        st, j, h = srv.req("POST", "/api/v1/auth/login",
                           body={"username": "admin", "password": PASSWORD},
                           headers={"X-Forwarded-Proto": "https"})
        check(st == 200 and h.get("Set-Cookie") == "wp_session=%s; Path=/; HttpOnly; "
              "SameSite=Strict; Max-Age=43200; Secure" % j["token"],
              be + ": behind a TLS proxy the cookie is Secure: %s" % h.get("Set-Cookie"))
        tok, csrf = j["token"], j["csrf_token"]
        cookie = {"Cookie": "wp_session=" + tok, "Origin": srv.base}
        st, body, _ = srv.raw("HEAD", "/api/v1/auth/session", headers=cookie)
        check(st == 200 and body == b"", be + ": HEAD with the cookie alone: %s" % st)
        for bad, what in ((csrf[:63], "63 characters"), (csrf + "0", "65 characters"),
                          ("0" * 64, "64 wrong characters")):
            expect(srv.req("POST", "/api/v1/auth/logout", headers=dict(cookie, **{
                "X-CSRF-Token": bad})), 403, "csrf_failed",
                "a cookie-authenticated POST needs the X-CSRF-Token header of the login reply",
                be + ": a CSRF header of " + what)
        st, j, _ = srv.req("GET", "/api/v1/auth/session", tok)
        check(st == 200, be + ": ... and the session is still open: %s" % st)

        # login's body
        expect(srv.req("POST", "/api/v1/auth/login", body={"username": "admin",
                                                           "password": PASSWORD, "tenant": 7}),
               400, "invalid_request", "'tenant' must be a tenant's name",
               be + ": a tenant that is a number")
        expect(srv.req("POST", "/api/v1/auth/login", body={"username": "admin",
                                                           "password": PASSWORD,
                                                           "tenant": ["Acme"]}),
               400, "invalid_request", "'tenant' must be a tenant's name",
               be + ": a tenant that is a list")
        st, j, _ = srv.req("POST", "/api/v1/auth/login", body={"username": "admin",
                                                              "password": PASSWORD,
                                                              "tenant": None})
        check(st == 200 and j["token"].startswith("wps_"),
              be + ": a null tenant is the sole tenant: %s" % st)
        expect(srv.req("POST", "/api/v1/auth/login", body={"username": "admin",
                                                           "password": "p" * 257}),
               401, "unauthorized", "invalid username or password",
               be + ": a password past 256 bytes is wrong, never checked")
        # a username of 30 three-byte characters: its failed login's audit row keeps 21 of
        # them (63 bytes: the 64th byte is inside the 22nd character)
        name = "张" * 30
        expect(srv.req("POST", "/api/v1/auth/login", body={"username": name,
                                                           "password": "wrong-pass-1"}),
               401, "unauthorized", "invalid username or password",
               be + ": an unknown long username")
        st, j, _ = srv.req("GET", "/api/v1/audit?action=auth.login_failed&limit=200", admin)
        rows = [i for i in j["items"] if (i.get("details") or {}).get("username", "")
                .startswith("张")]
        check(st == 200 and len(rows) == 1 and rows[0]["details"]["username"] == "张" * 21,
              be + ": the audit row keeps the name cut on a character: %s" %
              [r.get("details") for r in rows])

        # the current password of a password change past the longest is wrong
        expect(srv.req("POST", "/api/v1/auth/password", admin,
                       body={"current_password": "q" * 300, "new_password": "a-new-pass-1"}),
               400, "invalid_request", "current_password is wrong",
               be + ": a current password past 256 bytes")
        st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
        check(st == 200, be + ": ... and nothing changed: %s" % st)

        # the audit log's filters: an actor, action or target is at most 256 bytes
        for field in ("actor", "action", "target"):
            expect(srv.req("GET", "/api/v1/audit?%s=%s" % (field, "a" * 257), admin), 400,
                   "invalid_request", "'%s' is longer than 256 bytes" % field,
                   be + ": an audit filter '%s' of 257 bytes" % field)
            st, j, _ = srv.req("GET", "/api/v1/audit?%s=%s" % (field, "a" * 256), admin)
            check(st == 200 and j["items"] == [],
                  be + ": ... of 256 bytes matches nothing: %s %s" % (st, j))
    finally:
        srv.stop()
    throttling(store)


class Clock:
    """The file WORKPHONE_TEST_CLOCK names: the server's time, moved by renaming a new file in."""

    def __init__(self, path, start):
        self.path, self.now = path, start
        self.set(start)

    def set(self, t):
        self.now = t
        with open(self.path + ".tmp", "w") as f:
            f.write(t.strftime("%Y-%m-%dT%H:%M:%SZ") + "\n")
        os.replace(self.path + ".tmp", self.path)

    def add(self, seconds):
        self.set(self.now + datetime.timedelta(seconds=seconds))


def audited(srv, admin, action, username):
    """The audit rows of action whose details name username."""
    st, j, _ = srv.req("GET", "/api/v1/audit?action=%s&limit=200" % action, admin)
    check(st == 200, "audit of %s: %s" % (action, st))
    return [i for i in (j or {}).get("items", [])
            if (i.get("details") or {}).get("username") == username]


def sweep(srv, what, send, after):
    """send(fail_at) with the request's 1st, 2nd, ... store operation failing until it runs
    whole: each failed one answers a store failure of CONTRACT, then after(n) checks what it
    left; returns the answer of the run that did not fail."""
    for n in range(1, 60):
        st, j, h = send(n)
        if h.get("X-Workphone-Test-Failed") != "store":
            check(n > 1, what + ": no store operation failed")
            return st, j, h
        check((st, err_code(j)) in STORE_FAILED,
              "%s, store operation %d failing: %s %s" % (what, n, st, j))
        after(n)
    check(False, what + ": the failure still fires at operation 60")
    return None, None, {}


def throttling(store):
    """Locked logins on a clock the test moves (WORKPHONE_TEST_CLOCK): which are audited, the
    Retry-After, a tenant nobody has, the tenant's name left empty or too long, the cookie left
    empty, and a store failing inside a refused login, a throttled one and a refused password
    change."""
    be = store.backend
    clock = Clock(os.path.join(store.data, "..", "clock-" + be),
                  datetime.datetime(2026, 11, 28, 9, 0, 0))
    srv = Server(store.data, store.db_args, now=None,
                 env_extra={"WORKPHONE_TEST_CLOCK": clock.path})
    try:
        admin = login(srv, "admin")
        fail = {"username": "lockme", "password": "wrong-pass-1"}

        # an empty cookie is no session
        expect(srv.req("GET", "/api/v1/auth/session", headers={"Cookie": "wp_session="}), 401,
               "unauthorized", "authentication is required: log in at /api/v1/auth/login",
               be + ": an empty session cookie")
        # an empty tenant is no tenant: the deployment's sole one
        st, j, _ = srv.req("POST", "/api/v1/auth/login",
                           body={"username": "admin", "password": PASSWORD, "tenant": ""})
        check(st == 200 and j["employee"]["username"] == "admin",
              be + ": an empty tenant is the sole tenant: %s %s" % (st, j))
        # a tenant name past the longest names no tenant: the one answer of a failed login
        expect(srv.req("POST", "/api/v1/auth/login", body={"username": "admin",
                                                           "password": PASSWORD,
                                                           "tenant": "t" * 300}),
               401, "unauthorized", BAD_LOGIN, be + ": a tenant name of 300 characters")

        # five failures lock the account for 15 minutes from the first; the first refusal of
        # a minute is audited, the rest of that minute only answered
        clock.add(16 * 60)
        for i in range(5):
            expect(srv.req("POST", "/api/v1/auth/login", body=fail), 401, "unauthorized",
                   BAD_LOGIN, be + ": failed login %d of lockme" % i)
        locked = "too many failed logins for this account; try again in %d seconds"
        for i, left in ((0, 900), (1, 900)):
            st, j, h = srv.req("POST", "/api/v1/auth/login", body=fail)
            check(st == 429 and err_code(j) == "too_many_attempts" and
                  j["error"]["message"] == locked % left and
                  j["error"]["details"] == {"retry_after_s": left} and
                  h.get("Retry-After") == str(left),
                  be + ": refusal %d of a locked account: %s %s %s" %
                  (i, st, j, h.get("Retry-After")))
        rows = audited(srv, admin, "auth.login_throttled", "lockme")
        check(len(rows) == 1 and rows[0]["actor"] == "anonymous" and
              rows[0]["details"] == {"username": "lockme", "via": "login"},
              be + ": one throttled row in the minute: %s" % rows)
        clock.add(61)
        st, j, h = srv.req("POST", "/api/v1/auth/login", body=fail)
        check(st == 429 and h.get("Retry-After") == "839" and
              j["error"]["message"] == locked % 839,
              be + ": a minute on, still locked: %s %s" % (st, j))
        check(len(audited(srv, admin, "auth.login_throttled", "lockme")) == 2,
              be + ": ... and the next minute's first refusal is audited")

        # a tenant nobody has locks the same way, and nothing is audited anywhere
        ghost = {"username": "ghost", "password": "wrong-pass-1", "tenant": "Nosuch"}
        for i in range(5):
            expect(srv.req("POST", "/api/v1/auth/login", body=ghost), 401, "unauthorized",
                   BAD_LOGIN, be + ": failed login %d in an unknown tenant" % i)
        expect(srv.req("POST", "/api/v1/auth/login", body=ghost), 429, "too_many_attempts",
               locked % 900, be + ": an unknown tenant's account locks")
        check(audited(srv, admin, "auth.login_failed", "ghost") == [] and
              audited(srv, admin, "auth.login_throttled", "ghost") == [],
              be + ": ... and no tenant's audit log has its attempts")

        # a store failing inside a refused login: a store error, and no audit row; then 401
        # with one row. The clock moves past the window each time, so no attempt locks.
        def refused_login(n):
            clock.add(16 * 60)
            return srv.req("POST", "/api/v1/auth/login", headers={
                "X-Workphone-Test-Fail": "store=%d" % n},
                body={"username": "sweep%d" % n, "password": "wrong-pass-1"})

        last = [0]

        def no_row(n):
            last[0] = n
            check(audited(srv, admin, "auth.login_failed", "sweep%d" % n) == [],
                  be + ": refused login, operation %d failing: no audit row" % n)
        admin = login(srv, "admin")
        st, j, _ = sweep(srv, be + ": a refused login", refused_login, no_row)
        check(st == 401 and j["error"]["message"] == BAD_LOGIN and
              len(audited(srv, admin, "auth.login_failed", "sweep%d" % (last[0] + 1))) == 1,
              be + ": a refused login that does not fail: %s %s" % (st, j))

        # ... inside a throttled one: a store error and no throttled row (each run locks the
        # account afresh, past the last window and so in a minute of its own)
        admin = login(srv, "admin")

        def throttled_login(n):
            clock.add(16 * 60)
            for i in range(5):
                srv.req("POST", "/api/v1/auth/login",
                        body={"username": "lock2", "password": "wrong-pass-1"})
            return srv.req("POST", "/api/v1/auth/login",
                           headers={"X-Workphone-Test-Fail": "store=%d" % n},
                           body={"username": "lock2", "password": "wrong-pass-1"})

        # the failed one wrote no row, so the next refusal of that minute is its first one
        # answered, and is audited
        def no_throttled_row(n):
            check(len(audited(srv, admin, "auth.login_throttled", "lock2")) == n - 1,
                  be + ": throttled login, operation %d failing: no audit row" % n)
            st, j, _ = srv.req("POST", "/api/v1/auth/login",
                               body={"username": "lock2", "password": "wrong-pass-1"})
            check(st == 429 and len(audited(srv, admin, "auth.login_throttled", "lock2")) == n,
                  be + ": ... the refusal after it, in the same minute, is audited: %s %s" %
                  (st, j))
        st, j, _ = sweep(srv, be + ": a throttled login", throttled_login, no_throttled_row)
        n_rows = len(audited(srv, admin, "auth.login_throttled", "lock2"))
        st2, _, _ = srv.req("POST", "/api/v1/auth/login",
                            body={"username": "lock2", "password": "wrong-pass-1"})
        check(st == 429 and st2 == 429 and
              n_rows == len(audited(srv, admin, "auth.login_throttled", "lock2")),
              be + ": a throttled login that does not fail is audited, the next in its minute "
              "not: %s %s %s" % (st, j, st2))

        # ... inside a password change with a wrong current password
        clock.add(16 * 60)
        admin = login(srv, "admin")
        before = len(audited(srv, admin, "auth.login_failed", "admin"))

        def wrong_current(n):
            clock.add(16 * 60)  # each failure counts: past the window, none locks
            return srv.req("POST", "/api/v1/auth/password", admin,
                           headers={"X-Workphone-Test-Fail": "store=%d" % n},
                           body={"current_password": "wrong-pass-%d" % n,
                                 "new_password": "a-new-pass-1"})

        def no_pw_row(n):
            check(len(audited(srv, admin, "auth.login_failed", "admin")) == before,
                  be + ": wrong current password, operation %d failing: no audit row" % n)
        st, j, _ = sweep(srv, be + ": a wrong current password", wrong_current, no_pw_row)
        check(st == 400 and j["error"]["message"] == "current_password is wrong" and
              len(audited(srv, admin, "auth.login_failed", "admin")) == before + 1,
              be + ": a wrong current password that does not fail: %s %s" % (st, j))
        st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
        check(st == 200, be + ": ... and the session is still open: %s" % st)
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(harness.run_backends(suite, "auth_edges"))
