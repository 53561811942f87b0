# SPDX-License-Identifier: MIT
# Geofences (issue 18), on SQLite and PostgreSQL: CRUD with its limits and scope; the ingest
# state machine on location events (a route out and back raises exactly one alert, points
# oscillating within the hysteresis band none, leaving outside the schedule none, late points
# nothing); a parent unit's fence binds a child unit's employee, a sibling's does not; the
# phone's policy lists the fences that bind it and its ETag moves when one changes.
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PASSWORD, Server, check, created, enroll, err_code, login,  # noqa: E402
                     run_backends)

# The servers run at 2026-11-27T08:00:00Z: a Friday, 16:00 in Asia/Shanghai (working hours).
LAT0, LON0 = 31.2300, 121.4700  # the center of the store's fence
M_LAT = 1 / 111195.0            # degrees of latitude per metre


def north(m):
    """(lat, lon) m metres north of the center"""
    return LAT0 + m * M_LAT, LON0


def ts(minute):
    """a time on the fake day, minute after 07:00Z (15:00 in Shanghai)"""
    return "2026-11-27T%02d:%02d:00Z" % (7 + minute // 60, minute % 60)


class Phone:
    def __init__(self, srv, token):
        self.srv, self.token, self.seq = srv, token, 0

    def send(self, points):
        """points: [(minute, metres north, accuracy)]; the answer's alerts"""
        events = []
        for minute, m, acc in points:
            self.seq += 1
            lat, lon = north(m)
            e = {"seq": self.seq, "ts": ts(minute), "type": "location", "lat": lat, "lon": lon}
            if acc is not None:
                e["accuracy_m"] = acc
            events.append(e)
        st, j, _ = self.srv.req("POST", "/api/v1/device/events", self.token,
                                body={"events": events})
        check(st == 200 and j.get("acked_seq") == self.seq and j.get("rejected") == [],
              "events: %s %s" % (st, j))
        return j.get("alerts", []) if isinstance(j, dict) else []


def geofence_alerts(srv, admin, employee):
    st, j, _ = srv.req("GET", "/api/v1/alerts?kind=geofence&employee=%s&limit=200" % employee,
                       admin)
    check(st == 200, "alerts list: %s %s" % (st, j))
    return [a for a in j.get("items", []) if a["kind"] == "geofence" and
            a["employee_id"] == employee] if st == 200 else []


def suite(store):
    be = store.backend
    srv = Server(store.data, store.db_args)
    admin = login(srv, "admin")

    # --- an org: region > store A, store B; a manager of store B; salespeople ---------------
    st, j, _ = srv.req("GET", "/api/v1/org-units", admin)
    top = j["items"][0]["id"]
    region = created(srv, admin, "/api/v1/org-units",
                     {"name": "华东区", "parent_id": top, "kind": "region"}, "region")["id"]
    store_a = created(srv, admin, "/api/v1/org-units",
                      {"name": "上海一店", "parent_id": region, "kind": "store"}, "store A")["id"]
    store_b = created(srv, admin, "/api/v1/org-units",
                      {"name": "杭州一店", "parent_id": region, "kind": "store"}, "store B")["id"]

    def person(name, unit, role, user):
        return created(srv, admin, "/api/v1/employees",
                       {"name": name, "org_unit_id": unit, "role": role, "username": user,
                        "password": PASSWORD}, name)["id"]

    sales_a = person("张销售", store_a, "sales", "zhang")
    sales_b = person("王销售", store_b, "sales", "wang")
    person("李经理", store_b, "manager", "li")
    mgr_b = login(srv, "li")
    sales_tok = login(srv, "zhang")

    # --- validation: clear 400s ---------------------------------------------------------------
    circle = {"type": "circle", "center": [LON0, LAT0], "radius_m": 200}
    bad = [
        ({"org_unit_id": store_a, "shape": circle}, "'name'"),
        ({"name": "x", "org_unit_id": store_a, "shape": {"type": "circle", "center": [LON0, LAT0],
                                                        "radius_m": 9}}, "radius_m"),
        ({"name": "x", "org_unit_id": store_a, "shape": {"type": "circle", "center": [LON0, LAT0],
                                                        "radius_m": 50001}}, "radius_m"),
        ({"name": "x", "org_unit_id": store_a, "shape": {"type": "circle", "center": [LON0, 91],
                                                        "radius_m": 100}}, "lat"),
        ({"name": "x", "org_unit_id": store_a, "shape": {"type": "square"}}, "circle or polygon"),
        ({"name": "x", "org_unit_id": store_a,
          "shape": {"type": "polygon", "points": [[LON0, LAT0], [LON0 + 0.01, LAT0]]}},
         "at least 3"),
        ({"name": "x", "org_unit_id": store_a,
          "shape": {"type": "polygon", "points": [[LON0 + 0.0001 * math.cos(k / 201 * 6.283),
                                                   LAT0 + 0.0001 * math.sin(k / 201 * 6.283)]
                                                  for k in range(201)]}}, "more than 200"),
        ({"name": "x", "org_unit_id": store_a, "shape": circle,
          "schedule": {"days": [8], "from": "09:00", "to": "18:00"}}, "weekdays"),
        ({"name": "x", "org_unit_id": "0123456789abcdef01234567", "shape": circle}, "not found"),
        ({"name": "x", "org_unit_id": store_a, "shape": circle, "colour": "red"}, "colour"),
    ]
    for body, word in bad:
        st, j, _ = srv.req("POST", "/api/v1/geofences", admin, body=body)
        check(st == 400 and err_code(j) == "invalid_request" and
              word in j["error"]["message"], "%s: 400 naming %s: %s %s" % (be, word, st, j))
    st, j, _ = srv.req("POST", "/api/v1/geofences", admin, raw="{not json",
                       headers={"Content-Type": "application/json"})
    check(st == 400, "%s: a body that is not JSON: %s %s" % (be, st, j))
    # 200 points is the most allowed
    poly200 = [[LON0 + 0.01 * math.cos(k / 200 * 6.283), LAT0 + 0.01 * math.sin(k / 200 * 6.283)]
               for k in range(200)]
    st, j, _ = srv.req("POST", "/api/v1/geofences", admin,
                       body={"name": "两百点", "org_unit_id": store_b,
                             "shape": {"type": "polygon", "points": poly200}})
    check(st == 201 and len(j["shape"]["points"]) == 200, "%s: 200 points: %s" % (be, st))
    poly_id = j.get("id")
    # the largest circle by a pole: its box stays within the world (32-bit columns on PG)
    st, j, _ = srv.req("POST", "/api/v1/geofences", admin,
                       body={"name": "北极", "org_unit_id": store_b,
                             "shape": {"type": "circle", "center": [179.9, 89.99],
                                       "radius_m": 50000}})
    check(st == 201 and j["shape"]["radius_m"] == 50000, "%s: a polar circle: %s %s" % (be, st, j))
    polar_id = j.get("id")
    st, _, _ = srv.req("DELETE", "/api/v1/geofences/%s" % polar_id, admin)
    check(st == 204, "%s: delete the polar circle: %s" % (be, st))

    # --- the fence of store A, and one of the region (parent) with no schedule -----------------
    fa = created(srv, admin, "/api/v1/geofences",
                 {"name": "上海一店", "org_unit_id": store_a, "shape": circle,
                  "schedule": {"days": [1, 2, 3, 4, 5], "from": "09:00", "to": "18:00"}},
                 "fence A")
    check(fa["shape"] == circle and fa["schedule"] == {"days": [1, 2, 3, 4, 5], "from": "09:00",
                                                       "to": "18:00"} and
          fa["org_unit_id"] == store_a and fa["name"] == "上海一店",
          "%s: the fence as written: %s" % (be, fa))
    st, j, _ = srv.req("GET", "/api/v1/geofences/" + fa["id"], admin)
    check(st == 200 and j == fa, "%s: GET the fence: %s %s" % (be, st, j))
    rows = store.sql("SELECT action, target FROM audit_log WHERE action LIKE 'geofence.%' "
                     "ORDER BY seq")
    check(rows.split("\n")[-1] == "geofence.create|geofence:" + fa["id"],
          "%s: create audited: %s" % (be, rows))

    # --- scope: the manager of store B neither sees nor writes store A's fence ----------------
    st, j, _ = srv.req("GET", "/api/v1/geofences/" + fa["id"], mgr_b)
    check(st == 404 and err_code(j) == "not_found", "%s: manager B GET A's: %s %s" % (be, st, j))
    st, j, _ = srv.req("PATCH", "/api/v1/geofences/" + fa["id"], mgr_b, body={"name": "x"})
    check(st == 404, "%s: manager B PATCH A's: %s %s" % (be, st, j))
    st, j, _ = srv.req("DELETE", "/api/v1/geofences/" + fa["id"], mgr_b)
    check(st == 404, "%s: manager B DELETE A's: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/geofences", mgr_b,
                       body={"name": "越权", "org_unit_id": store_a, "shape": circle})
    check(st == 400 and "not found" in j["error"]["message"],
          "%s: manager B creates in A: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/geofences", mgr_b)
    check(st == 200 and [f["id"] for f in j["items"]] == [poly_id],
          "%s: manager B lists B's only: %s %s" % (be, st, j))
    fb = created(srv, mgr_b, "/api/v1/geofences",
                 {"name": "杭州一店", "org_unit_id": store_b,
                  "shape": {"type": "circle", "center": [120.16, 30.27], "radius_m": 300}},
                 "manager B's fence")
    st, j, _ = srv.req("PATCH", "/api/v1/geofences/" + fb["id"], mgr_b,
                       body={"name": "杭州一店（新）"})
    check(st == 200 and j["name"] == "杭州一店（新）" and j["shape"] == fb["shape"],
          "%s: manager B renames its fence: %s %s" % (be, st, j))
    # a salesperson reads its own unit's fences, writes none
    st, j, _ = srv.req("GET", "/api/v1/geofences", sales_tok)
    check(st == 200 and [f["id"] for f in j["items"]] == [fa["id"]],
          "%s: sales lists its unit's: %s %s" % (be, st, j))
    st, j, _ = srv.req("POST", "/api/v1/geofences", sales_tok,
                       body={"name": "x", "org_unit_id": store_a, "shape": circle})
    check(st == 403 and err_code(j) == "forbidden", "%s: sales creates: %s %s" % (be, st, j))
    st, j, _ = srv.req("DELETE", "/api/v1/geofences/" + fa["id"], sales_tok)
    check(st == 403 and err_code(j) == "forbidden", "%s: sales deletes: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/geofences/" + fb["id"], sales_tok)
    check(st == 404, "%s: sales GET another unit's: %s %s" % (be, st, j))

    # --- the policy: the fences binding the phone, and its ETag moving -------------------------
    dev_a = enroll(srv, admin, sales_a, "SN-GA-" + be)
    dev_b = enroll(srv, admin, sales_b, "SN-GB-" + be)
    st, pol, h = srv.req("GET", "/api/v1/device/policy", dev_a)
    check(st == 200 and [f["id"] for f in pol["geofences"]] == [fa["id"]] and
          pol["geofences"][0] == fa, "%s: A's policy lists A's fence: %s" % (be, pol.get("geofences")))
    etag1 = h["ETag"]
    st, _, _ = srv.req("GET", "/api/v1/device/policy", dev_a, headers={"If-None-Match": etag1})
    check(st == 304, "%s: policy unchanged: %s" % (be, st))
    # a fence of the region (the parent) binds A's and B's employees
    fr = created(srv, admin, "/api/v1/geofences",
                 {"name": "华东区", "org_unit_id": region,
                  "shape": {"type": "polygon", "points": [[LON0 + 0.2, LAT0 + 0.2],
                                                          [LON0 - 0.2, LAT0 + 0.2],
                                                          [LON0 - 0.2, LAT0 - 0.2],
                                                          [LON0 + 0.2, LAT0 - 0.2]]}}, "region")
    st, pol, h = srv.req("GET", "/api/v1/device/policy", dev_a, headers={"If-None-Match": etag1})
    check(st == 200 and sorted(f["id"] for f in pol["geofences"]) == sorted([fa["id"], fr["id"]])
          and h["ETag"] != etag1, "%s: the parent's fence binds A: %s %s" % (be, st, pol))
    etag2 = h["ETag"]
    st, pol, _ = srv.req("GET", "/api/v1/device/policy", dev_b)
    check(sorted(f["id"] for f in pol["geofences"]) == sorted([poly_id, fb["id"], fr["id"]]),
          "%s: B gets its own and the region's, not A's (a sibling's): %s" % (be, pol))
    st, j, _ = srv.req("PATCH", "/api/v1/geofences/" + fr["id"], admin, body={"schedule": {"days": [6, 7], "from": "10:00", "to": "16:00"}})
    check(st == 200 and j["schedule"]["days"] == [6, 7], "%s: PATCH the schedule: %s" % (be, j))
    st, pol, h = srv.req("GET", "/api/v1/device/policy", dev_a, headers={"If-None-Match": etag2})
    check(st == 200 and h["ETag"] != etag2, "%s: a changed fence moves the ETag: %s" % (be, st))
    st, _, _ = srv.req("DELETE", "/api/v1/geofences/" + fr["id"], admin)
    check(st == 204, "%s: delete the region's fence: %s" % (be, st))
    st, pol, h = srv.req("GET", "/api/v1/device/policy", dev_a)
    check([f["id"] for f in pol["geofences"]] == [fa["id"]] and h["ETag"] == etag1,
          "%s: a deleted fence leaves the policy: %s %s" % (be, pol["geofences"], h["ETag"]))
    st, j, _ = srv.req("GET", "/api/v1/geofences/" + fr["id"], admin)
    check(st == 404, "%s: the deleted fence is gone: %s" % (be, st))

    # --- ingest: out and back raises exactly one alert ---------------------------------------
    phone = Phone(srv, dev_a)
    check(phone.send([(0, 0, 10)]) == [], "%s: inside: no alert" % be)
    # 200 m radius, 30 m band: 215 m and 225 m are within the band, 260 m is out
    alerts = phone.send([(1, 150, 10), (2, 215, 10), (3, 260, 10), (4, 400, 10)])
    check(len(alerts) == 1 and alerts[0]["kind"] == "geofence" and
          alerts[0]["category"] == "geofence" and alerts[0]["seq"] == 4 and
          alerts[0]["employee_id"] == sales_a,
          "%s: leaving raises one alert, at the point past the band: %s" % (be, alerts))
    check(phone.send([(5, 500, 10), (6, 175, 10), (7, 150, 10), (8, 0, 10)]) == [],
          "%s: coming back raises none" % be)
    listed = geofence_alerts(srv, admin, sales_a)
    check(len(listed) == 1 and listed[0]["id"] == alerts[0]["id"] and
          listed[0]["status"] == "open", "%s: one geofence alert listed: %s" % (be, listed))
    ev = store.sql("SELECT kind, geofence_id FROM geofence_events WHERE employee_id = '%s' "
                   "ORDER BY ts_us" % sales_a)
    check(ev == "geofence.leave|%s\ngeofence.return|%s" % (fa["id"], fa["id"]),
          "%s: the leaving and the return recorded: %r" % (be, ev))
    # the alert names the fence left
    check(store.sql("SELECT matched FROM alerts WHERE id = '%s'" % alerts[0]["id"]) == "上海一店",
          "%s: the alert names the fence" % be)

    # --- noise at the edge: points oscillating within the band raise nothing -----------------
    noise = [(10 + k, 200 + (25 if k % 2 else -25), 10) for k in range(20)]
    check(phone.send(noise) == [], "%s: oscillating within the band: no alert" % be)
    # a poor fix widens the band: 150 m beyond the edge with 200 m accuracy decides nothing
    check(phone.send([(31, 350, 200)]) == [], "%s: within a wide accuracy: no alert" % be)
    check(len(geofence_alerts(srv, admin, sales_a)) == 1, "%s: still one alert" % be)

    # --- late points (older than the state) change nothing -----------------------------------
    alerts = phone.send([(40, 600, 10)])
    check(len(alerts) == 1, "%s: a second leaving raises its alert: %s" % (be, alerts))
    check(phone.send([(35, 0, 10), (36, 600, 10)]) == [], "%s: late points raise nothing" % be)
    state = store.sql("SELECT state FROM geofence_state WHERE employee_id = '%s'" % sales_a)
    check(state == "outside", "%s: a late inside point left the state: %s" % (be, state))
    check(phone.send([(45, 0, 10)]) == [], "%s: back in" % be)

    # --- leaving outside the schedule raises nothing -----------------------------------------
    # 18:30 to 19:00 in Shanghai: out and back after hours
    check(phone.send([(210, 0, 10), (211, 600, 10), (212, 900, 10), (213, 0, 10)]) == [],
          "%s: leaving after hours raises no alert" % be)
    check(len(geofence_alerts(srv, admin, sales_a)) == 2, "%s: two alerts in all" % be)

    # --- a sibling's fence does not bind: inside A's fence, B's employee is outside its own ---
    st, _, _ = srv.req("DELETE", "/api/v1/geofences/" + poly_id, admin)
    check(st == 204, "%s: delete B's polygon: %s" % (be, st))
    pb = Phone(srv, dev_b)
    pb_events = [{"seq": 1, "ts": ts(50), "type": "location", "lat": 30.27, "lon": 120.16},
                 {"seq": 2, "ts": ts(51), "type": "location", "lat": LAT0, "lon": LON0}]
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev_b, body={"events": pb_events})
    check(st == 200 and len(j["alerts"]) == 1 and j["alerts"][0]["seq"] == 2,
          "%s: B at A's center is outside its fences (a sibling's does not bind): %s" % (be, j))
    check(len(geofence_alerts(srv, admin, sales_b)) == 1, "%s: one alert for B" % be)
    # a fence of the region (B's parent unit) around A's center binds B: there it is inside
    created(srv, admin, "/api/v1/geofences",
            {"name": "华东区中心", "org_unit_id": region,
             "shape": {"type": "circle", "center": [LON0, LAT0], "radius_m": 1000}}, "region's")
    pb_events = [{"seq": 3, "ts": ts(52), "type": "location", "lat": 30.27, "lon": 120.16},
                 {"seq": 4, "ts": ts(53), "type": "location", "lat": LAT0, "lon": LON0},
                 {"seq": 5, "ts": ts(54), "type": "location", "lat": LAT0 + 0.05, "lon": LON0}]
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev_b, body={"events": pb_events})
    check(st == 200 and [a["seq"] for a in j["alerts"]] == [5],
          "%s: the parent's fence binds B (inside at A's center, out 5 km north): %s" % (be, j))

    # --- the limit: 1,000 fences per tenant ---------------------------------------------------
    have = int(store.sql("SELECT COUNT(*) FROM geofences"))
    tenant = store.sql("SELECT id FROM tenants LIMIT 1")
    store.sql("WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < %d) "
              "INSERT INTO geofences (tenant_id, id, org_unit_id, name, kind, center_lat_e7, "
              "center_lon_e7, radius_m, points_json, schedule_json, min_lat_e7, max_lat_e7, "
              "min_lon_e7, max_lon_e7, active, created_us, updated_us) SELECT '%s', "
              "'fbulk' || k, '%s', 'bulk' || k, 'circle', 0, 0, 10, NULL, NULL, 0, 0, 0, 0, 1, "
              "1, 1 FROM n" % (1000 - have, tenant, store_b))
    st, j, _ = srv.req("POST", "/api/v1/geofences", admin,
                       body={"name": "一千零一", "org_unit_id": store_a, "shape": circle})
    check(st == 422 and err_code(j) == "limit_exceeded" and "1000" in j["error"]["message"],
          "%s: the 1,001st fence: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", "/api/v1/geofences", admin)
    check(st == 200 and len(j["items"]) == 1000, "%s: 1,000 listed: %s" % (be, len(j["items"])))
    srv.stop()


if __name__ == "__main__":
    sys.exit(run_backends(suite, "geofences"))
