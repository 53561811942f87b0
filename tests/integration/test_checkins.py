#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Check-ins, attendance and off-duty locations (issue 18), on SQLite and PostgreSQL. A phone
# reports a hand-made week of clock-ins, clock-outs and visits (on time, within the 5 minute
# grace, late, early leave, a missing day, a weekend visit); the list and the attendance must
# answer exactly that. A visit naming a phone attaches to that customer and shows in its
# timeline; its photo opens through the media endpoint. Locations at night are acknowledged
# but not kept under locations_off_duty "drop", kept under "keep", and hidden again from the
# track after a change back to "drop"; the device policy tells the phone. Out of scope is 404.
import csv
import hashlib
import io
import sys
import time
import urllib.parse

from harness import Server, check, created, enroll, err_code, login, run_backends

# The servers' fake clock is 2026-11-27T08:00:00Z: Friday 16:00 in Shanghai (UTC+8), where the
# default working hours are Monday to Friday 09:00-18:00. The week asked: Sunday 2026-11-22 to
# Saturday 2026-11-28.
PHOTO = b"\xff\xd8\xff\xe0 a photo of the shop front"
PHOTO_REF = "sha256:" + hashlib.sha256(PHOTO).hexdigest()


def local(day, hh, mm, ss=0):
    """The UTC time of hh:mm local on 2026-11-<day> in Shanghai."""
    t = (day * 24 + hh - 8) * 3600 + mm * 60 + ss
    d, r = divmod(t, 86400)
    return "2026-11-%02dT%02d:%02d:%02dZ" % (d, r // 3600, r % 3600 // 60, r % 60)


def company(srv, admin):
    st, j, _ = srv.req("GET", "/api/v1/auth/session", admin)
    hq = j["employee"]["org_unit_id"]
    unit = lambda name: created(srv, admin, "/api/v1/org-units",
                                {"name": name, "parent_id": hq, "kind": "store"},
                                "unit " + name)["id"]
    c = {"hq": hq, "s1": unit("一店"), "s2": unit("二店")}
    for name, role, u in [("m1", "manager", "s1"), ("m2", "manager", "s2"),
                          ("a1", "sales", "s1"), ("a2", "sales", "s1")]:
        c[name] = created(srv, admin, "/api/v1/employees",
                          {"name": "员工" + name, "org_unit_id": c[u], "role": role,
                           "username": name, "password": "s3cret-pass"}, "employee " + name)["id"]
    return c


def q(path, **kw):
    return path + ("?" + urllib.parse.urlencode(kw) if kw else "")


def day(emp, name, unit, date, working, first_in=None, last_out=None, late=False, early=False,
        missing=False, minutes=0, visits=0):
    return {"employee_id": emp, "employee_name": name, "org_unit_id": unit, "date": date,
            "working_day": working, "first_in": first_in, "last_out": last_out, "late": late,
            "early_leave": early, "missing": missing, "worked_minutes": minutes,
            "visits": visits}


def suite(store):
    be = store.backend
    srv = Server(store.data, store.db_args)
    admin = login(srv, "admin")
    c = company(srv, admin)
    tok = {n: login(srv, n) for n in ["m1", "m2", "a1", "a2"]}
    dev = enroll(srv, admin, c["a1"], "SN-checkin-a1")
    st, _, _ = srv.req("PUT", "/api/v1/device/media/" + PHOTO_REF, dev, raw=PHOTO)
    check(st == 201, "%s: the photo is uploaded: %s" % (be, st))

    # a customer the phone met before: the visit must find it by its phone number
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": [
        {"seq": 1, "type": "message", "ts": local(20, 10, 0), "channel": "wechat",
         "direction": "out", "peer": {"id": "wxid_wang", "name": "王女士",
                                      "phone": "13900139000"},
         "msgtype": "text", "text": "周一下午拜访您"}]})
    check(st == 200 and j["acked_seq"] == 1, "%s: a message: %s %s" % (be, st, j))

    week = [  # (seq, kind, day, hh, mm, extra)
        (2, "visit", 22, 11, 0, {"peer": {"phone": "13800138000", "name": "张总"},
                                 "note": "周日拜访张总", "photo": PHOTO_REF}),
        (3, "in", 23, 8, 55, {}),
        (4, "visit", 23, 14, 0, {"peer": {"phone": "+86 139 0013 9000"}, "note": "送样品"}),
        (5, "out", 23, 18, 5, {}),
        (6, "in", 24, 9, 4, {}),
        (7, "out", 24, 17, 30, {}),
        (8, "in", 25, 9, 20, {}),
        (9, "out", 25, 18, 0, {}),
        (10, "in", 27, 9, 5, {"photo": PHOTO_REF}),
    ]
    evs = []
    for seq, kind, d, hh, mm, extra in week:
        e = {"seq": seq, "type": "checkin", "ts": local(d, hh, mm), "kind": kind,
             "lat": 31.2304567, "lon": 121.4737012, "accuracy_m": 8}
        e.update(extra)
        evs.append(e)
    bad = [
        ({"kind": "lunch"}, 'kind must be "in", "out" or "visit"'),
        ({"kind": "in", "lat": 91}, "lat must be from -90 to 90"),
        ({"kind": "in", "photo": "md5:abc"}, 'photo must be "sha256:" and 64 lowercase hex digits'),
        ({"kind": "in", "peer": {"phone": "13800138000"}}, "only a visit names a peer"),
        ({"kind": "visit", "note": "字" * 1001}, "note is longer than 1000 characters"),
        ({"kind": "visit", "peer": {"id": "wxid_x"}}, "peer.id needs a channel"),
    ]
    for i, (extra, _) in enumerate(bad):
        e = {"seq": 11 + i, "type": "checkin", "ts": local(27, 10, i), "lat": 31.23,
             "lon": 121.47}
        e.update(extra)
        evs.append(e)
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": evs})
    check(st == 200 and j["acked_seq"] == 16 and
          [(r["seq"], r["reason"]) for r in j["rejected"]] ==
          [(11 + i, why) for i, (_, why) in enumerate(bad)],
          "%s: check-ins stored, bad ones rejected with their reasons: %s %s" % (be, st, j))
    # a note of exactly 1000 characters is fine
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": [
        {"seq": 17, "type": "checkin", "ts": local(28, 10, 0), "kind": "visit",
         "lat": 31.2, "lon": 121.4, "note": "字" * 1000}]})
    check(st == 200 and j["acked_seq"] == 17 and j["rejected"] == [],
          "%s: a 1000 character note: %s %s" % (be, st, j))

    # --- the list -------------------------------------------------------------------------
    st, j, _ = srv.req("GET", q("/api/v1/checkins", employee=c["a1"], limit=100), admin)
    items = j.get("items", []) if st == 200 else []
    check(st == 200 and [i["seq"] for i in items] == [17, 10, 8 + 1, 8, 7, 6, 5, 4, 3, 2] and
          j["next_cursor"] is None, "%s: newest first: %s %s" % (be, st, j))
    by_seq = {i["seq"]: i for i in items}
    visit = by_seq.get(2, {})
    zhang = visit.get("customer_id")
    check(isinstance(zhang, str) and len(zhang) == 24,
          "%s: the visit names a customer: %s" % (be, visit))
    check(visit == {"id": visit.get("id"), "employee_id": c["a1"], "device_id":
                    visit.get("device_id"), "seq": 2, "ts": local(22, 11, 0), "kind": "visit",
                    "lat": 31.2304567, "lon": 121.4737012, "accuracy_m": 8, "photo": PHOTO_REF,
                    "note": "周日拜访张总", "customer_id": zhang, "inside_geofence": None,
                    "fence_id": None},
          "%s: a visit as stored: %s" % (be, visit))
    check(by_seq.get(3, {}).get("customer_id") is None and by_seq[3]["photo"] is None and
          by_seq[3]["note"] is None and by_seq[3]["kind"] == "in" and
          by_seq[10]["photo"] == PHOTO_REF, "%s: a clock-in: %s" % (be, by_seq.get(3)))
    # the customer met before is the one the second visit names
    st, cl, _ = srv.req("GET", q("/api/v1/customers", limit=100), admin)
    wang = [x["id"] for x in cl.get("items", []) if x["name"] == "王女士"] if st == 200 else []
    check(len(wang) == 1 and by_seq[4]["customer_id"] == wang[0],
          "%s: the visit found the customer by phone: %s %s" % (be, wang, by_seq[4]))
    # paging, kind, range
    st, p1, _ = srv.req("GET", q("/api/v1/checkins", employee=c["a1"], limit=4), admin)
    st2, p2, _ = srv.req("GET", q("/api/v1/checkins", employee=c["a1"], limit=4,
                                  cursor=p1.get("next_cursor") or ""), admin)
    check(st == 200 and st2 == 200 and [i["seq"] for i in p1["items"] + p2["items"]] ==
          [17, 10, 9, 8, 7, 6, 5, 4] and p2["next_cursor"],
          "%s: two pages: %s %s" % (be, p1, p2))
    st, j, _ = srv.req("GET", q("/api/v1/checkins", kind="visit", **{"from": local(23, 0, 0),
                                                                     "to": local(28, 0, 0)}),
                       admin)
    check(st == 200 and [i["seq"] for i in j["items"]] == [4],
          "%s: visits of the week days: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", q("/api/v1/checkins", outside="1"), admin)
    check(st == 200 and j["items"] == [],
          "%s: no fence known: none is flagged outside: %s %s" % (be, st, j))
    for bad_q in [{"kind": "lunch"}, {"outside": "2"}, {"from": "yesterday"},
                  {"employee": "x"}, {"limit": "0"}, {"cursor": "nope"}]:
        st, j, _ = srv.req("GET", q("/api/v1/checkins", **bad_q), admin)
        check(st == 400 and err_code(j) == "invalid_request",
              "%s: %s is refused: %s %s" % (be, bad_q, st, j))

    # the photo opens through the media endpoint, for whoever sees the check-in
    st, body, _ = srv.raw("GET", "/api/v1/media/" + PHOTO_REF, admin)
    check(st == 200 and body == PHOTO, "%s: the photo: %s" % (be, st))
    st, body, _ = srv.raw("GET", "/api/v1/media/" + PHOTO_REF, tok["m2"])
    check(st == 404, "%s: another unit's manager cannot open it: %s" % (be, st))

    # the visit is in the customer's timeline
    st, tl, _ = srv.req("GET", "/api/v1/customers/%s/timeline" % zhang, admin)
    visits = [x for x in tl.get("items", []) if x.get("kind") == "visit"] if st == 200 else []
    check(len(visits) == 1 and visits[0]["type"] == "event" and
          visits[0]["ts"] == local(22, 11, 0) and visits[0]["actor"] == "employee:" + c["a1"] and
          visits[0]["details"] == {"checkin_id": visit["id"], "photo": PHOTO_REF,
                                   "note": "周日拜访张总"},
          "%s: the visit in the timeline: %s %s" % (be, st, tl))

    # --- scope ------------------------------------------------------------------------------
    for who, want in [("m1", 10), ("a1", 10), ("m2", 0), ("a2", 0)]:
        st, j, _ = srv.req("GET", q("/api/v1/checkins", limit=100), tok[who])
        check(st == 200 and len(j["items"]) == want,
              "%s: %s sees %d check-ins: %s %s" % (be, who, want, st, j))
    for who, path in [("m2", q("/api/v1/checkins", employee=c["a1"])),
                      ("m2", q("/api/v1/checkins", unit=c["s1"])),
                      ("a2", q("/api/v1/checkins", employee=c["a1"])),
                      ("m2", q("/api/v1/attendance", unit=c["s1"], **{"from": "2026-11-22",
                                                                       "to": "2026-11-28"})),
                      ("a2", q("/api/v1/attendance", employee=c["a1"], **{"from": "2026-11-22",
                                                                           "to": "2026-11-28"})),
                      ("admin", q("/api/v1/checkins", employee="0" * 24))]:
        st, j, _ = srv.req("GET", path, admin if who == "admin" else tok[who])
        check(st == 404 and err_code(j) == "not_found",
              "%s: %s gets 404 for %s: %s %s" % (be, who, path, st, j))
    st, j, _ = srv.req("GET", "/api/v1/checkins")
    check(st == 401, "%s: no credentials: %s" % (be, st))

    # --- attendance -----------------------------------------------------------------------
    st, a, _ = srv.req("GET", q("/api/v1/attendance", unit=c["s1"],
                                **{"from": "2026-11-22", "to": "2026-11-28"}), tok["m1"])
    if check(st == 200, "%s: attendance: %s %s" % (be, st, a)):
        s1 = c["s1"]
        want = []
        a1 = lambda *x, **k: day(c["a1"], "员工a1", s1, *x, **k)
        want += [
            a1("2026-11-22", False, visits=1),
            a1("2026-11-23", True, local(23, 8, 55), local(23, 18, 5), minutes=550, visits=1),
            a1("2026-11-24", True, local(24, 9, 4), local(24, 17, 30), early=True, minutes=506),
            a1("2026-11-25", True, local(25, 9, 20), local(25, 18, 0), late=True, minutes=520),
            a1("2026-11-26", True, missing=True),
            a1("2026-11-27", True, local(27, 9, 5)),
            a1("2026-11-28", False, visits=1),
        ]
        for emp in ["a2", "m1"]:  # nobody clocked in: every working day missing
            for d in range(22, 29):
                working = d not in (22, 28)
                want.append(day(c[emp], "员工" + emp, s1, "2026-11-%02d" % d, working,
                                missing=working))
        check(a["items"] == want, "%s: attendance by day: %s" % (be, a["items"]))
        check(a["units"] == [{"org_unit_id": s1, "employees": 3, "working_days": 15, "late": 1,
                              "early_leave": 1, "missing": 11, "worked_minutes": 1576,
                              "visits": 3}],
              "%s: the unit's totals: %s" % (be, a["units"]))
        check(a["from"] == "2026-11-22" and a["to"] == "2026-11-28" and
              a["time_zone"] == "Asia/Shanghai" and a["grace_minutes"] == 5,
              "%s: the range: %s" % (be, {k: a[k] for k in a if k not in ("items", "units")}))
        # the export: the same days, one row each (CSV here; XLSX is a zip)
        st, csv_body, h = srv.raw("GET", q("/api/v1/attendance/export", unit=c["s1"], format="csv",
                                           **{"from": "2026-11-22", "to": "2026-11-28"}),
                                  tok["m1"])
        rows = list(csv.reader(io.StringIO(csv_body.decode("utf-8-sig"))))
        b = lambda v: "1" if v else "0"
        check(st == 200 and rows[0] == ["employee_id", "employee", "org_unit_id", "date",
                                        "working_day", "first_in", "last_out", "late",
                                        "early_leave", "missing", "worked_minutes", "visits"] and
              rows[1:] == [[w["employee_id"], w["employee_name"], w["org_unit_id"], w["date"],
                            b(w["working_day"]), w["first_in"] or "", w["last_out"] or "",
                            b(w["late"]), b(w["early_leave"]), b(w["missing"]),
                            str(w["worked_minutes"]), str(w["visits"])] for w in want],
              "%s: the attendance export: %s %s" % (be, st, rows[:3]))
        st, xl, h = srv.raw("GET", q("/api/v1/attendance/export", unit=c["s1"],
                                     **{"from": "2026-11-22", "to": "2026-11-28"}), tok["m1"])
        check(st == 200 and xl[:2] == b"PK" and "attendance-" in h.get("Content-Disposition", ""),
              "%s: as XLSX: %s %s" % (be, st, h.get("Content-Disposition")))
        st, j, _ = srv.req("GET", q("/api/v1/attendance/export", unit=c["s1"],
                                    **{"from": "2026-11-22", "to": "2026-11-28"}), tok["m2"])
        check(st == 404 and err_code(j) == "not_found", "%s: export out of scope: %s" % (be, st))
        # the grace is the tenant's (attendance_grace_minutes, 0-120): 3 minutes make 09:04 and
        # 09:05 late; with 20, 09:20 is not (late is after the start plus the grace)
        for grace, late_days in [(3, ["2026-11-24", "2026-11-25", "2026-11-27"]), (20, []),
                                 (5, ["2026-11-25"])]:
            st, j, _ = srv.req("PUT", "/api/v1/settings", admin,
                               body={"attendance_grace_minutes": grace})
            check(st == 200 and j["settings"]["attendance_grace_minutes"] == grace,
                  "%s: grace %d: %s %s" % (be, grace, st, j))
            st, g, _ = srv.req("GET", q("/api/v1/attendance", employee=c["a1"],
                                        **{"from": "2026-11-22", "to": "2026-11-28"}), tok["m1"])
            check(st == 200 and g["grace_minutes"] == grace and
                  [w["date"] for w in g["items"] if w["late"]] == late_days,
                  "%s: with %d minutes of grace late on %s: %s %s" %
                  (be, grace, late_days, st, g.get("items")))
        for bad in [-1, 121, "5", None]:
            st, j, _ = srv.req("PUT", "/api/v1/settings", admin,
                               body={"attendance_grace_minutes": bad})
            check(st == 400 and j["error"]["message"] ==
                  "'attendance_grace_minutes' must be a whole number 0-120",
                  "%s: grace %r is refused: %s %s" % (be, bad, st, j))
    st, a, _ = srv.req("GET", q("/api/v1/attendance", **{"from": "2026-11-27",
                                                          "to": "2026-11-27"}), tok["a1"])
    check(st == 200 and a["items"] == [day(c["a1"], "员工a1", c["s1"], "2026-11-27", True,
                                           local(27, 9, 5))],
          "%s: a salesperson's own day: %s %s" % (be, st, a))
    for bad_q in [{}, {"from": "2026-11-22"}, {"from": "2026-11-22", "to": "2026-11-21"},
                  {"from": "2026-02-30", "to": "2026-03-01"},
                  {"from": "2026-10-01", "to": "2026-11-01"}, {"from": "22/11", "to": "x"}]:
        st, j, _ = srv.req("GET", q("/api/v1/attendance", **bad_q), admin)
        check(st == 400 and err_code(j) == "invalid_request",
              "%s: attendance %s is refused: %s %s" % (be, bad_q, st, j))
    st, j, _ = srv.req("GET", q("/api/v1/attendance", **{"from": "2026-10-28",
                                                          "to": "2026-11-27"}), admin)
    check(st == 200 and len(j["items"]) % 31 == 0, "%s: 31 days: %s" % (be, st))

    # --- off duty -----------------------------------------------------------------------------
    st, pol, _ = srv.req("GET", "/api/v1/device/policy", dev)
    check(st == 200 and pol["settings"]["locations_off_duty"] == "drop",
          "%s: the policy tells the phone: drop: %s %s" % (be, st, pol))
    st, s, _ = srv.req("GET", "/api/v1/settings", admin)
    check(st == 200 and s["settings"]["locations_off_duty"] == "drop",
          "%s: settings: drop by default: %s" % (be, s))
    loc = lambda seq, t, lat: {"seq": seq, "type": "location", "ts": t, "lat": lat,
                               "lon": 121.47, "accuracy_m": 10}
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": [
        loc(20, local(26, 10, 0), 31.20), loc(21, local(26, 22, 0), 31.21),
        loc(22, local(26, 14, 0), 31.22)]})
    check(st == 200 and j["acked_seq"] == 22 and j["rejected"] == [],
          "%s: a night location is acknowledged: %s %s" % (be, st, j))
    track = lambda tk=admin: srv.req("GET", q("/api/v1/employees/%s/track" % c["a1"],
                                              **{"from": local(26, 0, 0),
                                                 "to": local(27, 0, 0)}), tk)
    st, t, _ = track()
    check(st == 200 and [p["ts"] for p in t["points"]] == [local(26, 10, 0), local(26, 14, 0)],
          "%s: under drop the night point is absent: %s %s" % (be, st, t))
    check(store.sql("SELECT count(*) FROM locations WHERE employee_id = '%s'" % c["a1"]) == "2",
          "%s: and not stored" % be)
    st, m, _ = srv.raw("GET", "/metrics")
    check(st == 200 and b"workphone_ingest_off_duty_dropped_total 1\n" in m,
          "%s: and counted: %s" % (be, st))
    # resent: still acknowledged, counted once
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": [
        loc(21, local(26, 22, 0), 31.21)]})
    st, m, _ = srv.raw("GET", "/metrics")
    check(b"workphone_ingest_off_duty_dropped_total 1\n" in m, "%s: a resend counts once" % be)

    for bad_v in ["maybe", 1, None]:
        st, j, _ = srv.req("PUT", "/api/v1/settings", admin, body={"locations_off_duty": bad_v})
        check(st == 400 and err_code(j) == "invalid_request",
              "%s: locations_off_duty %r is refused: %s %s" % (be, bad_v, st, j))
    st, j, _ = srv.req("PUT", "/api/v1/settings", tok["m1"], body={"locations_off_duty": "keep"})
    check(st == 403, "%s: a manager cannot change it: %s %s" % (be, st, j))
    st, s, _ = srv.req("PUT", "/api/v1/settings", admin, body={"locations_off_duty": "keep"})
    check(st == 200 and s["settings"]["locations_off_duty"] == "keep",
          "%s: set keep: %s %s" % (be, st, s))
    st, pol2, _ = srv.req("GET", "/api/v1/device/policy", dev)
    check(st == 200 and pol2["settings"]["locations_off_duty"] == "keep" and
          pol2["version"] > pol["version"], "%s: the policy moves: %s" % (be, pol2))
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": [
        dict(loc(23, local(26, 23, 0), 31.23), lon=121.60)]})
    st, t, _ = track()
    check(st == 200 and [p["ts"] for p in t["points"]] ==
          [local(26, 10, 0), local(26, 14, 0), local(26, 23, 0)],
          "%s: under keep the night point is kept and shown: %s" % (be, t))
    st, s, _ = srv.req("PUT", "/api/v1/settings", admin, body={"locations_off_duty": "drop"})
    st, t, _ = track()
    check(st == 200 and [p["ts"] for p in t["points"]] == [local(26, 10, 0), local(26, 14, 0)],
          "%s: back to drop: the stored night point is no longer shown: %s" % (be, t))
    # check-ins are deliberate: one at night is kept under drop
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": [
        {"seq": 24, "type": "checkin", "ts": local(26, 23, 30), "kind": "out", "lat": 31.2,
         "lon": 121.4}]})
    st, j, _ = srv.req("GET", q("/api/v1/checkins", employee=c["a1"], kind="out",
                                **{"from": local(26, 0, 0), "to": local(27, 0, 0)}), admin)
    check(st == 200 and [i["seq"] for i in j["items"]] == [24], "%s: a night check-in is kept: %s" % (be, j))

    # the reads are audited (buffered: they show within the flush interval)
    found = set()
    for _ in range(100):
        st, a, _ = srv.req("GET", "/api/v1/audit?limit=200", admin)
        found = {r["action"] for r in a.get("items", [])} & {"checkins.read", "attendance.read",
                                                              "settings.put", "attendance.export"}
        if len(found) == 4:
            break
        time.sleep(0.1)
    check(len(found) == 4, "%s: reads, the export and the change are audited: %s" % (be, found))

    # --- check-ins and geofences: a fence of the top unit binds a1 (its store is below it);
    # a check-in within its accuracy of the fence is inside, one 1.1 km away is flagged outside,
    # whatever the fence's schedule (a check-in is about a place); earlier ones stay unknown
    fence = created(srv, admin, "/api/v1/geofences",
                    {"name": "总部", "org_unit_id": c["hq"],
                     "shape": {"type": "circle", "center": [121.4737012, 31.2304567],
                               "radius_m": 200},
                     "schedule": {"days": [1], "from": "09:00", "to": "10:00"}}, "a fence")["id"]
    st, j, _ = srv.req("POST", "/api/v1/device/events", dev, body={"events": [
        {"seq": 25, "type": "checkin", "ts": local(28, 12, 0), "kind": "visit",
         "lat": 31.2322, "lon": 121.4737012, "accuracy_m": 8},
        {"seq": 26, "type": "checkin", "ts": local(28, 13, 0), "kind": "visit",
         "lat": 31.2404567, "lon": 121.4737012, "accuracy_m": 8},
        {"seq": 27, "type": "checkin", "ts": local(28, 14, 0), "kind": "visit",
         "lat": 31.2304567 + 210 / 111195.0, "lon": 121.4737012, "accuracy_m": 20}]})
    check(st == 200 and j["acked_seq"] == 27 and j["rejected"] == [],
          "%s: three check-ins near a fence: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", q("/api/v1/checkins", employee=c["a1"], kind="visit",
                                **{"from": local(28, 11, 0), "to": local(29, 0, 0)}), admin)
    got = [(i["seq"], i["inside_geofence"], i["fence_id"]) for i in j.get("items", [])]
    check(st == 200 and got == [(27, True, fence), (26, False, fence), (25, True, fence)],
          "%s: 190 m from the centre inside, 1.1 km outside, 10 m past the edge within a 20 m "
          "accuracy inside: %s %s" % (be, st, got))
    st, j, _ = srv.req("GET", q("/api/v1/checkins", outside="1"), admin)
    check(st == 200 and [i["seq"] for i in j["items"]] == [26],
          "%s: outside=1 lists the one outside every fence: %s %s" % (be, st, j))
    st, j, _ = srv.req("GET", q("/api/v1/checkins", employee=c["a1"], limit=100), admin)
    check(st == 200 and all(i["inside_geofence"] is None for i in j["items"] if i["seq"] < 25),
          "%s: check-ins made before the fence stay unknown: %s" % (be, j))
    srv.stop()


if __name__ == "__main__":
    sys.exit(run_backends(suite, "checkins"))
