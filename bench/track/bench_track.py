# SPDX-License-Identifier: MIT
# The measurement of bench/track/run: a store, a year of points, timed track reads.
import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import time
import urllib.request

PASSWORD = "bench-pass-1"
START_US = 1733011200 * 1000000  # 2024-12-01T00:00:00Z: a year ending 2025-12-01
MIN_US = 60 * 1000000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wp", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--db", default="")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--load", default="?")
    o = ap.parse_args()
    data = os.path.join(o.tmp, "data")
    db = ["--db", o.db] if o.db else []
    env = dict(os.environ, WORKPHONE_ADMIN_PASSWORD=PASSWORD)
    subprocess.run([o.wp, "init", "--data", data, "--tenant", "Bench", "--admin", "admin"] + db,
                   env=env, check=True, capture_output=True)
    err = open(os.path.join(o.tmp, "serve.err"), "w+")
    srv = subprocess.Popen([o.wp, "serve", "--data", data, "--listen", "127.0.0.1:0"] + db,
                           stdout=subprocess.DEVNULL, stderr=err)
    try:
        base = None
        for _ in range(600):
            err.seek(0)
            m = re.search(r"url=(http://127\.0\.0\.1:\d+)", err.read())
            if m:
                base = m.group(1)
                break
            time.sleep(0.1)
        if not base:
            raise SystemExit("serve did not start")
        run(o, base, data)
    finally:
        srv.terminate()
        srv.wait()


def call(base, path, tok=None, body=None, method=None):
    h = {"Authorization": "Bearer " + tok} if tok else {}
    data = None
    if body is not None:
        data, h["Content-Type"] = json.dumps(body).encode(), "application/json"
    req = urllib.request.Request(base + path, data=data, headers=h,
                                 method=method or ("POST" if data is not None else "GET"))
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read()


def sql_runner(o, data):
    """(run a script, time the bare SELECT n times)"""
    if not o.db:
        path = os.path.join(data, "workphone.db")

        def script(s):
            subprocess.run(["sqlite3", "-batch", path], input=s, text=True, check=True)

        def bare(q, n):
            con = sqlite3.connect(path)
            t = []
            for _ in range(n):
                t0 = time.perf_counter()
                con.execute(q).fetchall()
                t.append(time.perf_counter() - t0)
            con.close()
            return t
        return script, bare

    def script(s):
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", o.db], input=s, text=True,
                       check=True)

    def bare(q, n):
        # one psql session, its own \timing of each query (rows to /dev/null)
        r = subprocess.run(["psql", "-qX", o.db], input="\\timing on\n\\o /dev/null\n" +
                           (q + ";\n") * n, text=True, check=True, capture_output=True)
        return [float(x) / 1000 for x in re.findall(r"Time: ([0-9.]+) ms", r.stdout)]
    return script, bare


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def run(o, base, data):
    admin = json.loads(call(base, "/api/v1/auth/login",
                            body={"username": "admin", "password": PASSWORD}))["token"]
    ses = json.loads(call(base, "/api/v1/auth/session", admin))
    tenant, unit = ses["employee"]["tenant_id"], ses["employee"]["org_unit_id"]
    # every stored point answered, as the bare SELECT reads them: by default (off duty is
    # private, docs/internals/checkins.md) the track leaves out points outside working hours
    call(base, "/api/v1/settings", admin, {"locations_off_duty": "keep"}, method="PUT")
    emp = json.loads(call(base, "/api/v1/employees", admin,
                          {"name": "外勤", "org_unit_id": unit, "role": "sales",
                           "username": "field", "password": PASSWORD}))["id"]
    code = json.loads(call(base, "/api/v1/employees/%s/enrollment-codes" % emp, admin, {}))["code"]
    dev = json.loads(call(base, "/api/v1/device/enroll",
                          body={"code": code, "serial": "SN-bench", "model": "bench"}))["device_id"]
    n = o.days * 1440
    # a working pattern: 30 minutes at a place, then a 222 m move north, 48 places a day,
    # with 0.5 m of noise within a place; 10 m accuracy
    hexid = "printf('%032x', i)" if not o.db else "lpad(to_hex(i), 32, '0')"
    rows = ("SELECT '{t}', {hexid}, '{dev}', '{emp}', i + 1, {start} + i * {minute},"
            " 312000000 + ((i / 30) % 48) * 20000, 1214000000 + (i % 30) * 50, 1000, '{{}}', 0"
            .format(t=tenant, hexid=hexid, dev=dev, emp=emp, start=START_US, minute=MIN_US))
    cols = ("locations (tenant_id, id, device_id, employee_id, seq, ts_us, lat_e7, lon_e7,"
            " accuracy_cm, raw, created_us)")
    script, bare = sql_runner(o, data)
    t0 = time.perf_counter()
    if o.db:
        script("INSERT INTO %s %s FROM generate_series(0::bigint, %d) AS g(i); ANALYZE locations;" %
               (cols, rows, n - 1))
    else:
        script("WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < %d)"
               " INSERT INTO %s %s FROM s; ANALYZE;" % (n - 1, cols, rows))
    fill = time.perf_counter() - t0
    backend = "PostgreSQL" if o.db else "SQLite"
    print("%s, %d rows for one employee (%d days at one a minute) inserted in %.1f s; load "
          "average %s at the start; %d queries of each range, one after another.\n" %
          (backend, n, o.days, fill, o.load, o.queries))
    print("| range | rows | points shown | stops | API p50 | API p95 | bare SELECT p50 | "
          "bare SELECT p95 | ratio (p95) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    mid = START_US + (o.days // 2) * 1440 * MIN_US  # the middle of the year
    for days in (1, 30):
        f, u = mid, mid + days * 1440 * MIN_US
        iso = lambda us: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us // 1000000))
        path = "/api/v1/employees/%s/track?from=%s&to=%s" % (emp, iso(f), iso(u))
        tr = json.loads(call(base, path, admin))
        api = []
        for _ in range(o.queries):
            t0 = time.perf_counter()
            call(base, path, admin)
            api.append(time.perf_counter() - t0)
        # the same rows and columns in the same order, summed inside the engine: what reading
        # them costs without a client's per-row objects (the server's loop is C too)
        q = ("SELECT count(*), sum(ts_us - %d), sum(lat_e7), sum(lon_e7), sum(accuracy_cm) FROM"
             " (SELECT ts_us, lat_e7, lon_e7, accuracy_cm FROM locations WHERE tenant_id = '%s'"
             " AND employee_id = '%s' AND ts_us >= %d AND ts_us < %d ORDER BY ts_us, device_id,"
             " seq) AS r" % (f, tenant, emp, f, u))
        sel = bare(q, o.queries)
        ms = lambda v: "%.1f ms" % (v * 1000)
        print("| %d day%s | %d | %d | %d | %s | **%s** | %s | %s | %.1f |" %
              (days, "s" if days > 1 else "", tr["counts"]["read"], len(tr["points"]),
               len(tr["stops"]), ms(statistics.median(api)), ms(pct(api, 95)),
               ms(statistics.median(sel)), ms(pct(sel, 95)), pct(api, 95) / pct(sel, 95)))


main()
