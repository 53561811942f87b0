#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Tracks (issue 18): GET /api/v1/employees/{id}/track on a hand-made route, on SQLite and
# PostgreSQL. A phone reports straight segments at known speed, one GPS spike, one point with
# 500 m accuracy and two stops of 15 and 25 minutes; the answer must give exactly those stops,
# the distance computed here from the haversine formula (not by the server's code) within 1 m,
# and neither the spike nor the inaccurate point. Out of scope is 404, over 31 days 400.
import math
import sys
import time
import urllib.parse

from harness import Server, check, created, enroll, err_code, login, run_backends

R = 6371008.8  # the mean earth radius the API documents (docs/internals/track.md)


def ts(minute, second=0):
    """The route runs from 08:00 in Shanghai, on the local day 2026-11-27."""
    return "2026-11-27T%02d:%02d:%02dZ" % (minute // 60, minute % 60, second)


def e7(v):
    return v / 1e7


# the route, as (minute, second, lat_e7, lon_e7, accuracy_m)
LAT0, LON0 = 312000000, 1214000000
ROUTE = []
for k in range(5):  # north, 0.003 degrees a minute (333.6 m, 5.6 m/s)
    ROUTE.append((k, 0, LAT0 + 30000 * k, LON0, 8))
S1 = (LAT0 + 150000, LON0)  # stop 1: minutes 5 to 20, two points 28 m off either side
for m in range(5, 21):
    off = 3000 if m == 8 else -3000 if m == 9 else 0
    ROUTE.append((m, 0, S1[0], S1[1] + off, 10))
for j in range(1, 10):  # east along the parallel, 0.004 degrees a minute (380 m)
    ROUTE.append((20 + j, 0, S1[0], S1[1] + 40000 * j, 8))
S2 = (S1[0], S1[1] + 400000)  # stop 2: minutes 30 to 55
for m in range(30, 56):
    ROUTE.append((m, 0, S2[0], S2[1], 10))
for i in range(1, 6):  # south again
    ROUTE.append((55 + i, 0, S2[0] - 30000 * i, S2[1], 8))
SPIKE = (2, 30, LAT0 + 1000000, LON0, 8)          # 11 km away for 30 s: 370 m/s, then back
INACCURATE = (25, 30, S1[0] + 100000, S1[1] + 160000, 500)  # 500 m accuracy
ROUTE = sorted(ROUTE + [SPIKE, INACCURATE], key=lambda p: (p[0], p[1]))


def expected_distance():
    """By hand: 5 steps north of 0.003 degrees and 5 south (along a meridian the haversine is
    R times the angle), 10 steps east of 0.004 degrees along latitude 31.215 (the haversine
    with equal latitudes: 2R asin(cos(lat) sin(dlon / 2))); steps within a stop add nothing."""
    north = R * math.radians(0.003)
    east = 2 * R * math.asin(math.cos(math.radians(31.215)) * math.sin(math.radians(0.004) / 2))
    return 10 * north + 10 * east


def company(srv, admin):
    st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
    hq = j["employee"]["org_unit_id"]
    unit = lambda name, parent: created(srv, admin, "/api/v1/org-units",
                                        {"name": name, "parent_id": parent, "kind": "store"},
                                        "unit " + name)["id"]
    c = {"s1": unit("一店", hq), "s2": unit("二店", hq)}
    for name, role, u in [("m1", "manager", "s1"), ("m2", "manager", "s2"),
                          ("a1", "sales", "s1"), ("a2", "sales", "s1")]:
        c[name] = created(srv, admin, "/api/v1/employees",
                          {"name": "员工" + name, "org_unit_id": c[u], "role": role,
                           "username": name, "password": "s3cret-pass"}, "employee " + name)["id"]
    return c


def track(srv, tok, emp, frm=None, to=None):
    q = {}
    if frm:
        q["from"] = frm
    if to:
        q["to"] = to
    path = "/api/v1/employees/%s/track" % emp
    if q:
        path += "?" + urllib.parse.urlencode(q)
    return srv.req("GET", path, tok)


def suite(store):
    be = store.backend
    srv = Server(store.data, store.db_args)
    admin = login(srv, "admin")
    c = company(srv, admin)
    tok = {n: login(srv, n) for n in ["m1", "m2", "a1", "a2"]}
    # the route runs before working hours (09:00) and a2's points around the clock: kept and
    # shown only under "keep" (off-duty locations are test_checkins.py's)
    st, j, _ = srv.req("PUT", "/api/v1/settings", admin, body={"locations_off_duty": "keep"})
    check(st == 200, "%s: locations_off_duty keep: %s %s" % (be, st, j))
    dev = enroll(srv, admin, c["a1"], "SN-track-a1")
    evs = [{"seq": i + 1, "type": "location", "ts": ts(m, s), "lat": e7(la), "lon": e7(lo),
            "accuracy_m": acc} for i, (m, s, la, lo, acc) in enumerate(ROUTE)]
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": evs})
    check(st == 200 and j["acked_seq"] == len(evs) and j["rejected"] == [],
          "%s: the route is stored: %s %s" % (be, st, j))

    frm, to = "2026-11-26T16:00:00Z", "2026-11-27T16:00:00Z"  # the local day 2026-11-27
    st, t, _ = track(srv, admin, c["a1"], frm, to)
    if not check(st == 200, "%s: track: %s %s" % (be, st, t)):
        return
    check(t["employee_id"] == c["a1"] and t["from"] == frm and t["to"] == to and
          t["time_zone"] == "Asia/Shanghai", "%s: the range answered: %s" % (be, t))
    stops = t["stops"]
    want = [(ts(5), ts(20), 900, S1), (ts(30), ts(55), 1500, S2)]
    ok = len(stops) == 2
    for got, (f, u, dur, (la, lo)) in zip(stops, want):
        ok = ok and got["from"] == f and got["to"] == u and got["duration_s"] == dur and \
            abs(got["lat"] - e7(la)) < 1e-5 and abs(got["lon"] - e7(lo)) < 1e-5
    check(ok, "%s: two stops, 15 and 25 minutes, at their centres: %s" % (be, stops))
    d = expected_distance()
    check(abs(t["distance_m"] - d) <= 1.0,
          "%s: distance %s, by hand %.3f" % (be, t["distance_m"], d))
    check(len(t["days"]) == 1 and t["days"][0]["date"] == "2026-11-27" and
          abs(t["days"][0]["distance_m"] - d) <= 1.0, "%s: one local day: %s" % (be, t["days"]))
    pts = t["points"]
    times = [p["ts"] for p in pts]
    check(ts(2, 30) not in times and ts(25, 30) not in times and
          not [p for p in pts if p["accuracy_m"] is not None and p["accuracy_m"] > 100],
          "%s: the spike and the inaccurate point are gone: %s" % (be, times))
    check(t["counts"] == {"read": len(ROUTE), "kept": len(ROUTE) - 2, "shown": len(pts)},
          "%s: counts: %s" % (be, t["counts"]))
    # straight lines collapse to their corners; the stops' ends and the ends stay
    check(times == [ts(0), ts(5), ts(20), ts(30), ts(55), ts(60)],
          "%s: the simplified line: %s" % (be, times))
    check(pts[0] == {"ts": ts(0), "lat": e7(LAT0), "lon": e7(LON0), "accuracy_m": 8},
          "%s: a point as stored: %s" % (be, pts[0]))

    # the default range is today in the tenant's zone (the fake clock: 2026-11-27 16:00 local)
    st, t2, _ = track(srv, admin, c["a1"])
    check(st == 200 and t2["from"] == frm and t2["to"] == to and t2["stops"] == stops,
          "%s: default: today: %s %s" % (be, st, t2 if st != 200 else t2["from"]))
    # from alone: to the end of its local day; a range without points is empty
    st, t3, _ = track(srv, admin, c["a1"], "2026-11-20T16:00:00Z")
    check(st == 200 and t3["to"] == "2026-11-21T16:00:00Z" and t3["points"] == [] and
          t3["stops"] == [] and t3["distance_m"] == 0 and
          t3["days"] == [{"date": "2026-11-21", "distance_m": 0}],
          "%s: an empty day: %s %s" % (be, st, t3))

    # scope: the manager of the unit and the salesperson itself see it; nobody else does
    for who in ["m1", "a1"]:
        st, tw, _ = track(srv, tok[who], c["a1"], frm, to)
        check(st == 200 and tw["stops"] == stops and tw["distance_m"] == t["distance_m"],
              "%s: %s reads the track: %s" % (be, who, st))
    for who in ["m2", "a2"]:
        st, tw, _ = track(srv, tok[who], c["a1"], frm, to)
        check(st == 404 and err_code(tw) == "not_found",
              "%s: %s gets 404: %s %s" % (be, who, st, tw))
    st, tw, _ = track(srv, tok["a1"], c["a2"], frm, to)
    check(st == 404 and err_code(tw) == "not_found",
          "%s: a salesperson cannot read a colleague's track: %s %s" % (be, st, tw))
    st, tw, _ = track(srv, admin, "0" * 32, frm, to)
    check(st == 404 and err_code(tw) == "not_found", "%s: no such employee: %s %s" % (be, st, tw))

    # the tenant's thresholds (GET/PUT /api/v1/settings): 100 m and 10 minutes by default
    st, j, _ = srv.req("GET", "/api/v1/settings", admin)
    check(st == 200 and j["settings"]["track_accuracy_m"] == 100 and
          j["settings"]["track_stop_minutes"] == 10, "%s: default thresholds: %s %s" % (be, st, j))
    # stops of 20 minutes or more: the 15-minute one is a walk now, its two points 28 m either
    # side of its centre add 28.5 + 57.1 + 28.5 m (by hand, as expected_distance)
    st, j, _ = srv.req("PUT", "/api/v1/settings", admin, body={"track_stop_minutes": 20})
    check(st == 200 and j["settings"]["track_stop_minutes"] == 20 and
          j["settings"]["track_accuracy_m"] == 100, "%s: stop minutes 20: %s %s" % (be, st, j))
    st, tw, _ = track(srv, admin, c["a1"], frm, to)
    east = lambda deg: 2 * R * math.asin(math.cos(math.radians(31.215)) *
                                         math.sin(math.radians(deg) / 2))
    d20 = d + 2 * east(0.0003) + east(0.0006)
    check(st == 200 and tw["stops"] == stops[1:] and abs(tw["distance_m"] - d20) <= 1.0,
          "%s: with 20 minutes only the 25-minute stop, distance %.3f by hand: %s %s" %
          (be, d20, st, tw if st != 200 else (tw["stops"], tw["distance_m"])))
    # points up to 500 m of accuracy are kept: the inaccurate one comes back (the spike not)
    st, j, _ = srv.req("PUT", "/api/v1/settings", admin, body={"track_accuracy_m": 500})
    check(st == 200 and j["settings"]["track_accuracy_m"] == 500 and
          j["settings"]["track_stop_minutes"] == 20, "%s: accuracy 500: %s %s" % (be, st, j))
    st, tw, _ = track(srv, admin, c["a1"], frm, to)
    check(st == 200 and tw["counts"]["kept"] == len(ROUTE) - 1 and
          ts(25, 30) in [p["ts"] for p in tw["points"]] and
          ts(2, 30) not in [p["ts"] for p in tw["points"]],
          "%s: with 500 m the inaccurate point is kept: %s %s" %
          (be, st, tw if st != 200 else tw["counts"]))
    for body, field, rng in [({"track_accuracy_m": 9}, "track_accuracy_m", "10-1000"),
                             ({"track_accuracy_m": 1001}, "track_accuracy_m", "10-1000"),
                             ({"track_accuracy_m": "100"}, "track_accuracy_m", "10-1000"),
                             ({"track_accuracy_m": 50.5}, "track_accuracy_m", "10-1000"),
                             ({"track_stop_minutes": 0}, "track_stop_minutes", "1-240"),
                             ({"track_stop_minutes": 241}, "track_stop_minutes", "1-240"),
                             ({"track_stop_minutes": None}, "track_stop_minutes", "1-240")]:
        st, j, _ = srv.req("PUT", "/api/v1/settings", admin, body=body)
        check(st == 400 and err_code(j) == "invalid_request" and
              j["error"]["message"] == "'%s' must be a whole number %s" % (field, rng),
              "%s: %s is refused naming the field: %s %s" % (be, body, st, j))
    st, j, _ = srv.req("PUT", "/api/v1/settings", tok["m1"], body={"track_stop_minutes": 5})
    check(st == 403 and err_code(j) == "forbidden",
          "%s: a manager cannot change the thresholds: %s %s" % (be, st, j))
    st, j, _ = srv.req("PUT", "/api/v1/settings", admin,
                       body={"track_accuracy_m": 100, "track_stop_minutes": 10})
    st, tw, _ = track(srv, admin, c["a1"], frm, to)
    check(st == 200 and tw["stops"] == stops and tw["distance_m"] == t["distance_m"],
          "%s: back to the defaults, the same track: %s" % (be, st))
    found = []
    for _ in range(100):
        st, a, _ = srv.req("GET", "/api/v1/audit?limit=200", admin)
        found = [r["details"] for r in a.get("items", []) if r["action"] == "settings.put" and
                 "track_stop_minutes" in (r.get("details") or {})]
        if len(found) >= 2:
            break
        time.sleep(0.1)
    check(sorted(f["track_stop_minutes"] for f in found) == [10, 20],
          "%s: the changes are audited with their values: %s" % (be, found))

    # ranges: 31 days is the most; beyond, reversed or not a time is 400
    st, tw, _ = track(srv, admin, c["a1"], "2026-10-27T16:00:00Z", "2026-11-27T16:00:00Z")
    check(st == 200 and len(tw["days"]) == 31 and tw["stops"] == stops,
          "%s: 31 days: %s" % (be, st))
    for f, u in [("2026-10-27T16:00:00Z", "2026-11-27T16:00:01Z"), (to, frm), ("yesterday", to)]:
        st, tw, _ = track(srv, admin, c["a1"], f, u)
        check(st == 400 and err_code(tw) == "invalid_request",
              "%s: %s .. %s is refused: %s %s" % (be, f, u, st, tw))
    st, tw, _ = srv.req("GET", "/api/v1/employees/%s/track" % c["a1"])
    check(st == 401, "%s: no credentials: %s" % (be, st))

    # past 1,000,000 stored points in the range the answer is 422, not a server out of memory:
    # a2's phone with a point every 2 s for 23 days, inserted with SQL
    enroll(srv, admin, c["a2"], "SN-track-a2")  # the device row the points name
    tenant = store.sql("SELECT tenant_id FROM employees WHERE id = '%s'" % c["a2"])
    dev2_id = store.sql("SELECT id FROM devices WHERE employee_id = '%s'" % c["a2"])
    n, t0_us = 1000001, 1761667200 * 1000000  # 2025-10-28T16:00:00Z
    hexid = "printf('%032x', i)" if be == "sqlite" else "lpad(to_hex(i), 32, '0')"
    series = ("(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < %d)"
              " SELECT i FROM s)" % (n - 1) if be == "sqlite" else
              "(SELECT i FROM generate_series(0::bigint, %d) AS g(i))" % (n - 1))
    store.sql("INSERT INTO locations (tenant_id, id, device_id, employee_id, seq, ts_us, lat_e7,"
              " lon_e7, accuracy_cm, raw, created_us) SELECT '%s', %s, '%s', '%s', i + 1,"
              " %d + i * 2000000, 312000000, 1214000000, 500, '{}', 0 FROM %s AS q" %
              (tenant, hexid, dev2_id, c["a2"], t0_us, series))
    st, tw, _ = track(srv, admin, c["a2"], "2025-10-28T16:00:00Z", "2025-11-28T16:00:00Z")
    check(st == 422 and err_code(tw) == "limit_exceeded",
          "%s: more than 1,000,000 points: %s %s" % (be, st, tw))
    st, tw, _ = track(srv, admin, c["a2"], "2025-10-28T16:00:00Z", "2025-10-29T16:00:00Z")
    check(st == 200 and tw["counts"]["read"] == 43200 and len(tw["stops"]) == 1 and
          tw["stops"][0]["duration_s"] == 86398 and tw["distance_m"] == 0,
          "%s: one day of it is one stop: %s %s" % (be, st, tw if st != 200 else tw["stops"]))

    # the read is audited (buffered: it shows within the flush interval)
    found = []
    for _ in range(100):
        st, a, _ = srv.req("GET", "/api/v1/audit?limit=200", admin)
        found = [r for r in a.get("items", []) if r["action"] == "track.read" and
                 r["target"] == "employee:" + c["a1"]]
        if found:
            break
        time.sleep(0.1)
    check(found, "%s: track.read is in the audit log" % be)
    srv.stop()


if __name__ == "__main__":
    sys.exit(run_backends(suite, "track"))
