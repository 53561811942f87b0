# SPDX-License-Identifier: MIT
# The phone agent's field staff part (issue 18) against the real server, on SQLite and
# PostgreSQL: `workphone agent` enrolls, gets the policy's geofence, working hours and
# off-duty rule, and decides a route offline (`agent locate`); after a sync, the server's
# geofence alerts and state are exactly the agent's decisions. Off-duty points never get a
# seq under "drop"; a change of the working hours moves the policy's ETag and reaches the
# agent; "keep" records them.
import datetime
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PASSWORD, WP, Server, check, created, enroll, login,  # noqa: E402
                     run_backends)

# The servers run at 2026-11-27T08:00:00Z: a Friday, 16:00 in Asia/Shanghai (working hours).
LAT0, LON0 = 31.2300, 121.4700  # the center of the fence
M_LAT = 1 / 111195.0            # degrees of latitude per metre


def ts(minute):
    """a time on the fake day, minute after 07:00Z (15:00 in Shanghai)"""
    return "2026-11-27T%02d:%02d:00Z" % (7 + minute // 60, minute % 60)


def epoch(t):
    return int(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp())


def agent(args, stdin=None):
    r = subprocess.run([WP, "agent"] + args, input=stdin, capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def status(d):
    rc, out, err = agent(["status", "--dir", d])
    check(rc == 0, "agent status: %s %s" % (rc, err))
    return json.loads(out) if rc == 0 else {}


def locate(d, points):
    """points: [(ts, metres north, accuracy)]; the answers"""
    lines = "".join(json.dumps({"ts": t, "lat": LAT0 + m * M_LAT, "lon": LON0,
                                "accuracy_m": acc}) + "\n" for t, m, acc in points)
    rc, out, err = agent(["locate", "--dir", d], lines)
    check(rc == 0, "agent locate: %s %s" % (rc, err))
    return [json.loads(x) for x in out.splitlines()]


def sync(d):
    rc, out, err = agent(["sync", "--dir", d])
    check(rc == 0, "agent sync: %s %s" % (rc, err))
    return json.loads(out) if rc == 0 else {}


def suite(store):
    be = store.backend
    srv = Server(store.data, store.db_args)
    admin = login(srv, "admin")
    st, j, _ = srv.req("GET", "/api/v1/org-units", admin)
    top = j["items"][0]["id"]
    unit = created(srv, admin, "/api/v1/org-units",
                   {"name": "上海一店", "parent_id": top, "kind": "store"}, "store")["id"]
    sales = created(srv, admin, "/api/v1/employees",
                    {"name": "张外勤", "org_unit_id": unit, "role": "sales", "username": "zhang",
                     "password": PASSWORD}, "employee")["id"]
    # the fence is in force within the employee's working hours (schedule null)
    fence = created(srv, admin, "/api/v1/geofences",
                    {"name": "上海一店门店", "org_unit_id": unit,
                     "shape": {"type": "circle", "center": [LON0, LAT0], "radius_m": 200}},
                    "fence")

    d = os.path.join(store.data, "..", "agent-" + be)
    st, j, _ = srv.req("POST", "/api/v1/employees/%s/enrollment-codes" % sales, admin, body={})
    check(st == 201, "%s: enrollment code: %s %s" % (be, st, j))
    rc, out, err = agent(["enroll", "--dir", d, "--server", srv.base, "--code", j["code"]])
    check(rc == 0, "%s: agent enroll: %s %s" % (be, rc, err))

    s = status(d)
    check(s.get("locations_off_duty") == "drop" and s.get("time_zone") == "Asia/Shanghai" and
          s.get("fences") == 1 and s.get("fence") == {"state": "unknown", "since": None,
                                                      "id": None, "name": None},
          "%s: the policy's field part reached the agent: %s" % (be, s))

    # --- a route, decided offline ----------------------------------------------------------
    route = [
        (ts(0), 0, 10),      # inside: the first decision
        (ts(1), 215, 10),    # 15 m beyond the edge: the band
        (ts(2), 290, 100),   # 90 m beyond at 100 m accuracy: the band
        (ts(3), 260, 10),    # 60 m beyond: left
        (ts(4), 900, 10),
        (ts(5), -190, 10),   # 10 m within: the band, still outside
        (ts(6), -150, 10),   # 50 m within: back
        (ts(7), 400, 10),    # left again
        ("2026-11-27T11:00:00Z", 0, 10),  # 19:00 in Shanghai: off duty
        ("2026-11-26T01:00:00Z", 0, 10),  # Thursday 09:00, before the state: late, recorded
    ]
    answers = locate(d, route)
    want = ["recorded", "recorded", "recorded", "left", "recorded", "recorded", "returned",
            "left", "off_duty", "recorded"]
    check([a.get("result") for a in answers] == want,
          "%s: the agent's decisions: %s" % (be, [a.get("result") for a in answers]))
    check([a.get("seq") for a in answers] == [1, 2, 3, 4, 5, 6, 7, 8, None, 9],
          "%s: an off-duty point spends no seq: %s" % (be, [a.get("seq") for a in answers]))
    check(answers[7].get("fence") == {"state": "outside", "since": ts(7), "id": fence["id"],
                                      "name": "上海一店门店"},
          "%s: outside since the leaving, naming the fence: %s" % (be, answers[7]))
    s = sync(d)
    check(s.get("acked_seq") == 9 and s.get("outbox_events") == 0,
          "%s: the nine recorded points are stored: %s" % (be, s))

    # the server decided the same: one alert per leaving, at those points, naming the fence
    st, j, _ = srv.req("GET", "/api/v1/alerts?kind=geofence&employee=%s&limit=200" % sales, admin)
    check(st == 200 and len(j.get("items", [])) == 2,
          "%s: two geofence alerts listed: %s %s" % (be, st, j))
    alerts = store.sql("SELECT ts_us || ' ' || matched FROM alerts WHERE kind = 'geofence'"
                       " ORDER BY ts_us").splitlines()
    left = ["%d000000 上海一店门店" % epoch(route[i][0]) for i, a in enumerate(answers)
            if a.get("result") == "left"]
    check(alerts == left,
          "%s: the server's alerts are the agent's leavings: %s vs %s" % (be, alerts, left))
    state = store.sql("SELECT state || ' ' || since_us FROM geofence_state")
    check(state == "outside %d000000" % epoch(ts(7)),
          "%s: the server's state is the agent's (outside since %s): %s" % (be, ts(7), state))
    kinds = store.sql("SELECT COUNT(*) FROM geofence_events WHERE kind = 'geofence.return'")
    check(kinds == "1", "%s: one return, as the agent said: %s" % (be, kinds))

    # --- the working hours change: the ETag moves, the agent follows ------------------------
    phone = enroll(srv, admin, sales, "SN-2")
    st, pol, h = srv.req("GET", "/api/v1/device/policy", phone)
    etag = h.get("ETag", "")
    check(st == 200 and "-g" in etag and "-h" not in etag and
          pol["settings"]["time_zone"] == "Asia/Shanghai" and
          pol["settings"]["working_hours"] == {"days": [1, 2, 3, 4, 5], "from": "09:00",
                                               "to": "18:00"},
          "%s: the default hours, no -h in the ETag: %s %s" % (be, etag, pol.get("settings")))
    st, j, _ = srv.req("PUT", "/api/v1/working-hours", admin,
                       body={"default": {"days": [1, 2, 3, 4, 5], "from": "09:00",
                                         "to": "15:30"}})
    check(st == 200, "%s: working hours set: %s %s" % (be, st, j))
    st, pol, h = srv.req("GET", "/api/v1/device/policy", phone, headers={"If-None-Match": etag})
    etag2 = h.get("ETag", "")
    check(st == 200 and re.fullmatch(r'"[0-9]+-g[0-9a-f]{16}-h[0-9a-f]{16}"', etag2) and
          pol["settings"]["working_hours"] == {"days": [1, 2, 3, 4, 5], "from": "09:00",
                                               "to": "15:30"},
          "%s: new hours move the ETag: %s %s %s" % (be, st, etag2, pol))
    st, _, _ = srv.req("GET", "/api/v1/device/policy", phone, headers={"If-None-Match": etag2})
    check(st == 304, "%s: the new ETag holds: %s" % (be, st))
    v0 = status(d).get("policy_version")
    s = sync(d)
    check(s.get("on_duty") in (True, False) and s.get("time_zone") == "Asia/Shanghai",
          "%s: on duty is known (by the phone's clock): %s" % (be, s))
    answers = locate(d, [(ts(40), 900, 10)])  # 15:40 in Shanghai
    check([a.get("result") for a in answers] == ["off_duty"],
          "%s: the new hours reached the agent: %s (version %s)" % (be, answers, v0))

    # --- keep: recorded; a fence on the working hours is not in force after them -----------
    st, j, _ = srv.req("PUT", "/api/v1/settings", admin, body={"locations_off_duty": "keep"})
    check(st == 200, "%s: keep: %s %s" % (be, st, j))
    s = sync(d)
    check(s.get("locations_off_duty") == "keep", "%s: the employee is told: %s" % (be, s))
    answers = locate(d, [(ts(41), 0, 10)])  # inside, but no fence in force
    check([(a.get("result"), a.get("seq"), a["fence"]["state"]) for a in answers] ==
          [("recorded", 10, "outside")], "%s: kept, nothing decided: %s" % (be, answers))
    s = sync(d)
    check(s.get("acked_seq") == 10, "%s: the kept point is stored: %s" % (be, s))
    state = store.sql("SELECT state FROM geofence_state")
    check(state == "outside", "%s: the server decided nothing either: %s" % (be, state))
    srv.stop()


if __name__ == "__main__":
    sys.exit(run_backends(suite, "agent_field"))
