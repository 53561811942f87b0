# SPDX-License-Identifier: MIT
# The pages of bench/view/run, timed as the admin (reference) and as the auditor (masked).
import json
import re
import statistics
import sys
import time
import urllib.request

out, repeat, load = open(sys.argv[1], encoding="utf-8").read(), int(sys.argv[2]), sys.argv[3]
base = re.search(r"running: (http://127\.0\.0\.1:\d+)/", out).group(1)
admin_pw = re.search(r"admin account: admin / (\S+)", out).group(1)
staff_pw = re.search(r"all with the password ([^\s,]+)", out).group(1)
auditor = re.search(r"auditor\s+(\S+)", out).group(1)


def call(path, tok=None, body=None):
    h = {"Authorization": "Bearer " + tok} if tok else {}
    data = None
    if body is not None:
        data, h["Content-Type"] = json.dumps(body).encode(), "application/json"
    req = urllib.request.Request(base + path, data=data, headers=h,
                                 method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read()


def login(user, pw):
    return json.loads(call("/api/v1/auth/login", body={"username": user, "password": pw}))["token"]


tok = {"admin": login("admin", admin_pw), "auditor": login(auditor, staff_pw)}
first = json.loads(call("/api/v1/customers?limit=1", tok["admin"]))["items"][0]["id"]
pages = [("messages, 200", "/api/v1/messages?limit=200"),
         ("search 的, 200", "/api/v1/messages?limit=200&q=%E7%9A%84"),
         ("customers, 200", "/api/v1/customers?limit=200"),
         ("alerts, 200", "/api/v1/alerts?limit=200"),
         ("one customer's timeline, 200", "/api/v1/customers/%s/timeline?limit=200" % first)]
print("Load average %s at the start; %d runs of each page per caller, alternated.\n" %
      (load, repeat))
print("| page | bytes | admin p50 (reference) | auditor p50 (masked) | ratio |")
print("| --- | ---: | ---: | ---: | ---: |")
for name, path in pages:
    t = {"admin": [], "auditor": []}
    size = len(call(path, tok["admin"]))
    for _ in range(repeat):
        for who in ("admin", "auditor"):
            t0 = time.perf_counter()
            call(path, tok[who])
            t[who].append(time.perf_counter() - t0)
    a, m = statistics.median(t["admin"]) * 1000, statistics.median(t["auditor"]) * 1000
    print("| %s | %d | %.2f ms | %.2f ms | %.2f |" % (name, size, a, m, m / a))
