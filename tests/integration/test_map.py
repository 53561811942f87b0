#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The map (issue 18): GET /api/v1/locations/latest on SQLite and PostgreSQL. Two salespeople in
# two stores send positions today and yesterday; the answer is each one's newest point of today
# (the tenant's local day), exactly; a manager sees its store only, a salesperson itself, a
# unit outside the scope is 404; the read is audited as location.read.
import sys
import time

from harness import Server, check, created, enroll, err_code, login, run_backends


def company(srv, admin):
    st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
    hq = j["employee"]["org_unit_id"]
    unit = lambda name, parent: created(srv, admin, "/api/v1/org-units",
                                        {"name": name, "parent_id": parent, "kind": "store"},
                                        "unit " + name)["id"]
    c = {"hq": hq, "s1": unit("一店", hq), "s2": unit("二店", hq)}
    for name, role, u in [("m1", "manager", "s1"), ("a1", "sales", "s1"), ("a2", "sales", "s2"),
                          ("a3", "sales", "s2")]:
        c[name] = created(srv, admin, "/api/v1/employees",
                          {"name": "员工" + name, "org_unit_id": c[u], "role": role,
                           "username": name, "password": "s3cret-pass"}, "employee " + name)["id"]
    return c


def send(srv, dev, points, first=1):
    evs = [{"seq": first + i, "type": "location", "ts": t, "lat": la, "lon": lo,
            "accuracy_m": acc} for i, (t, la, lo, acc) in enumerate(points)]
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": evs})
    check(st == 200 and j["acked_seq"] == first + len(evs) - 1 and j["rejected"] == [],
          "positions stored: %s %s" % (st, j))


def latest(srv, tok, unit=None):
    return srv.req("GET", "/api/v1/locations/latest" + ("?unit=" + unit if unit else ""), tok)


def suite(store):
    be = store.backend
    srv = Server(store.data, store.db_args)
    admin = login(srv, "admin")
    # the points below lie at any hour (local midnight among them): the tenant keeps locations
    # outside working hours, which it drops by default (docs/internals/checkins.md)
    st, j, _ = srv.req("PUT", "/api/v1/settings", admin, body={"locations_off_duty": "keep"})
    check(st == 200, "%s: locations_off_duty keep: %s %s" % (be, st, j))
    c = company(srv, admin)
    tok = {n: login(srv, n) for n in ["m1", "a1", "a2"]}
    # the fake clock is 2026-11-27 16:00 in Shanghai: today is 2026-11-26T16:00Z ..
    dev1 = enroll(srv, admin, c["a1"], "SN-map-a1")
    send(srv, dev1,
         [("2026-11-27T01:00:00Z", 31.2, 121.4, 8), ("2026-11-27T07:30:00Z", 31.2345678, 121.4567891, 12.5),
          ("2026-11-26T10:00:00Z", 30.0, 120.0, 5)])  # the last one yesterday (local)
    send(srv, enroll(srv, admin, c["a2"], "SN-map-a2"),
         [("2026-11-26T16:00:00Z", 39.9, 116.4, 20)])  # local midnight: today
    send(srv, enroll(srv, admin, c["a3"], "SN-map-a3"),
         [("2026-11-26T15:59:59Z", 22.5, 114.0, 20)])  # a second before: yesterday, not shown
    day = {"time_zone": "Asia/Shanghai", "from": "2026-11-26T16:00:00Z",
           "to": "2026-11-27T16:00:00Z"}
    p1 = {"employee_id": c["a1"], "name": "员工a1", "org_unit_id": c["s1"],
          "ts": "2026-11-27T07:30:00Z", "lat": 31.2345678, "lon": 121.4567891, "accuracy_m": 12.5}
    p2 = {"employee_id": c["a2"], "name": "员工a2", "org_unit_id": c["s2"],
          "ts": "2026-11-26T16:00:00Z", "lat": 39.9, "lon": 116.4, "accuracy_m": 20}

    st, j, _ = latest(srv, admin)
    check(st == 200 and j == dict(day, items=[p1, p2]), "%s: admin sees both: %s %s" % (be, st, j))
    st, j, _ = latest(srv, admin, c["s2"])
    check(st == 200 and j == dict(day, items=[p2]), "%s: ?unit=s2: %s %s" % (be, st, j))
    st, j, _ = latest(srv, admin, c["hq"])
    check(st == 200 and j == dict(day, items=[p1, p2]), "%s: ?unit=hq: %s %s" % (be, st, j))
    st, j, _ = latest(srv, tok["m1"])
    check(st == 200 and j == dict(day, items=[p1]), "%s: m1 sees its store: %s %s" % (be, st, j))
    st, j, _ = latest(srv, tok["a2"])
    check(st == 200 and j == dict(day, items=[p2]), "%s: a2 sees itself: %s %s" % (be, st, j))
    st, j, _ = latest(srv, tok["a1"], c["s1"])
    check(st == 200 and j == dict(day, items=[p1]), "%s: a1 in its unit: %s %s" % (be, st, j))
    for who, unit in [("m1", "s2"), ("a1", "s2"), ("m1", "hq")]:
        st, j, _ = latest(srv, tok[who], c[unit])
        check(st == 404 and err_code(j) == "not_found",
              "%s: %s asking for %s gets 404: %s %s" % (be, who, unit, st, j))
    st, j, _ = latest(srv, admin, "0" * 24)
    check(st == 404 and err_code(j) == "not_found", "%s: no such unit: %s %s" % (be, st, j))
    st, j, _ = latest(srv, admin, "not%20an%20id")
    check(st == 400 and err_code(j) == "invalid_request", "%s: a bad id: %s %s" % (be, st, j))
    st, j, _ = latest(srv, None)
    check(st == 401, "%s: no credentials: %s" % (be, st))

    found = []
    for _ in range(100):
        st, a, _ = srv.req("GET", "/api/v1/audit?limit=200", admin)
        found = [r for r in a.get("items", []) if r["action"] == "location.read" and
                 r["target"] == "org_unit:" + c["s2"]]
        if found:
            break
        time.sleep(0.1)
    check(found and found[0]["details"]["employees"] == 1,
          "%s: location.read is in the audit log: %s" % (be, found))

    # a point outside working hours (21:00 local on a Friday; the default hours are 09:00-18:00
    # on weekdays), stored while the tenant keeps them, is shown under keep only: under drop
    # the map shows the newest point within working hours (a2's local midnight: none)
    night = {"employee_id": c["a1"], "name": "员工a1", "org_unit_id": c["s1"],
             "ts": "2026-11-27T13:00:00Z", "lat": 31.3, "lon": 121.5, "accuracy_m": 9}
    send(srv, dev1, [("2026-11-27T13:00:00Z", 31.3, 121.5, 9)], first=4)
    st, j, _ = latest(srv, admin)
    check(st == 200 and j == dict(day, items=[night, p2]),
          "%s: under keep the night point is the newest: %s %s" % (be, st, j))
    st, j, _ = srv.req("PUT", "/api/v1/settings", admin, body={"locations_off_duty": "drop"})
    check(st == 200 and j["settings"]["locations_off_duty"] == "drop",
          "%s: locations_off_duty drop: %s %s" % (be, st, j))
    for who, want in [(admin, [p1]), (tok["m1"], [p1]), (tok["a2"], [])]:
        st, j, _ = latest(srv, who)
        check(st == 200 and j == dict(day, items=want),
              "%s: under drop only points within working hours: %s %s" % (be, st, j))
    srv.stop()


if __name__ == "__main__":
    sys.exit(run_backends(suite, "map"))
