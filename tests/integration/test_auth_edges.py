# SPDX-License-Identifier: MIT
# The edges of who-is-calling (src/api/auth.c) that no other suite reached (issue 17, measured
# with `make coverage`): tokens of the wrong shape or length, the CSRF header of the wrong
# length, the cookie on HEAD, the Secure cookie behind a TLS proxy, a 'tenant' that is no
# string, passwords past the longest, a long username cut on a character boundary in the audit
# row of its failed login, and the audit log's filters at their longest. Every answer exact, on
# both backends (python3 only).
import sys

import harness
from harness import PASSWORD, Server, check, err_code, login


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


if __name__ == "__main__":
    sys.exit(harness.run_backends(suite, "auth_edges"))
