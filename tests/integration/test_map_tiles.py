#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The console maps' tiles (issue 18): map_tiles_url and map_crs in GET/PUT /api/v1/settings on
# SQLite and PostgreSQL. The defaults ("" and wgs84), each limit of the URL (scheme, {z} {x}
# {y}, 500 characters, no spaces) and of the CRS refused with a 400 naming the field and
# nothing changed, a field left out keeps its value, a manager reads but cannot change them,
# the change is audited as settings.put with what was set.
import sys
import time

from harness import Server, check, created, err_code, login, run_backends

URL = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&style=8&x={x}&y={y}&z={z}"


def settings(srv, tok):
    st, j, _ = srv.req("GET", "/api/v1/settings", tok)
    check(st == 200, "settings read: %s %s" % (st, j))
    return j["settings"]


def suite(store):
    be = store.backend
    srv = Server(store.data, store.db_args)
    admin = login(srv, "admin")
    st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
    hq = j["employee"]["org_unit_id"]
    created(srv, admin, "/api/v1/employees",
            {"name": "店长", "org_unit_id": hq, "role": "manager", "username": "m1",
             "password": "s3cret-pass"}, "manager")
    m1 = login(srv, "m1")

    s = settings(srv, admin)
    check(s["map_tiles_url"] == "" and s["map_crs"] == "wgs84",
          "%s: no tiles, WGS-84 by default: %s" % (be, s))

    put = lambda body, tok=admin: srv.req("PUT", "/api/v1/settings", tok, body=body)
    st, j, _ = put({"map_tiles_url": URL, "map_crs": "gcj02"})
    check(st == 200 and j["settings"]["map_tiles_url"] == URL and
          j["settings"]["map_crs"] == "gcj02", "%s: both set: %s %s" % (be, st, j))
    s = settings(srv, m1)
    check(s["map_tiles_url"] == URL and s["map_crs"] == "gcj02",
          "%s: a manager reads them (the field pages need them): %s" % (be, s))

    long_ok = "https://t.example/{z}/{x}/{y}?k=" + "a" * (500 - 32)
    wide_ok = "https://t.example/{z}/{x}/{y}?k=" + "瓦" * (500 - 32)  # 500 characters, 1436 bytes
    check(len(long_ok) == 500 and len(wide_ok) == 500, "the limits are 500 characters")
    bad_urls = [
        (1, "must be a string"), (None, "must be a string"), ([URL], "must be a string"),
        ("ftp://t.example/{z}/{x}/{y}", "http:// or https://"),
        ("//t.example/{z}/{x}/{y}", "http:// or https://"),
        ("tiles/{z}/{x}/{y}.png", "http:// or https://"),
        ("https://t.example/{z}/{x}.png", "{z}, {x} and {y}"),
        ("https://t.example/{x}/{y}.png", "{z}, {x} and {y}"),
        ("https://t.example/{z}/{y}.png", "{z}, {x} and {y}"),
        ("https://t.example/tiles", "{z}, {x} and {y}"),
        ("https://t.example/{z}/{x}/{y} .png", "spaces or control characters"),
        ("https://t.example/{z}/{x}/{y}\n.png", "spaces or control characters"),
        (long_ok + "a", "longer than 500 characters"),
        (wide_ok + "瓦", "longer than 500 characters"),
    ]
    for bad, says in bad_urls:
        st, j, _ = put({"map_tiles_url": bad, "map_crs": "wgs84"})
        msg = j.get("error", {}).get("message", "") if isinstance(j, dict) else ""
        check(st == 400 and err_code(j) == "invalid_request" and "'map_tiles_url'" in msg and
              says in msg, "%s: map_tiles_url %r is refused naming the field: %s %s"
              % (be, bad if len(str(bad)) < 60 else str(bad)[:40] + "...", st, j))
    for bad in ["WGS84", "bd09", "", 1, None, ["gcj02"]]:
        st, j, _ = put({"map_crs": bad, "map_tiles_url": ""})
        check(st == 400 and err_code(j) == "invalid_request" and
              j["error"]["message"] == "'map_crs' must be \"wgs84\" or \"gcj02\"",
              "%s: map_crs %r is refused naming the field: %s %s" % (be, bad, st, j))
    s = settings(srv, admin)
    check(s["map_tiles_url"] == URL and s["map_crs"] == "gcj02",
          "%s: nothing changed by a refused PUT: %s" % (be, s))

    st, j, _ = put({"map_crs": "wgs84"}, m1)
    check(st == 403, "%s: a manager cannot change them: %s %s" % (be, st, j))
    st, j, _ = srv.req("PUT", "/api/v1/settings", None, body={"map_crs": "wgs84"})
    check(st == 401, "%s: no credentials: %s" % (be, st))

    for url in [long_ok, wide_ok, "http://10.0.0.5:8080/{z}/{x}/{y}.png"]:
        st, j, _ = put({"map_tiles_url": url})
        check(st == 200 and j["settings"]["map_tiles_url"] == url and
              j["settings"]["map_crs"] == "gcj02",
              "%s: %d characters taken, the CRS kept: %s" % (be, len(url), st))
    st, j, _ = put({"map_crs": "wgs84"})
    check(st == 200 and j["settings"]["map_tiles_url"] == "http://10.0.0.5:8080/{z}/{x}/{y}.png"
          and j["settings"]["map_crs"] == "wgs84", "%s: the CRS alone, the URL kept: %s" % (be, j))
    st, j, _ = put({"map_tiles_url": ""})
    check(st == 200 and j["settings"]["map_tiles_url"] == "" and
          j["settings"]["map_crs"] == "wgs84", "%s: back to no tiles: %s %s" % (be, st, j))

    want = [{"map_tiles_url": ""}, {"map_crs": "wgs84"},
            {"map_tiles_url": "http://10.0.0.5:8080/{z}/{x}/{y}.png"}, {"map_tiles_url": wide_ok},
            {"map_tiles_url": long_ok}, {"map_tiles_url": URL, "map_crs": "gcj02"}]
    rows = []
    for _ in range(100):
        st, a, _ = srv.req("GET", "/api/v1/audit?limit=200", admin)
        rows = [r["details"] for r in a.get("items", []) if r["action"] == "settings.put"]
        if len(rows) >= len(want):
            break
        time.sleep(0.1)
    check(rows == want, "%s: each change audited as settings.put with what was set, refused "
          "ones not: %s" % (be, rows))
    srv.stop()


if __name__ == "__main__":
    sys.exit(run_backends(suite, "map_tiles"))
