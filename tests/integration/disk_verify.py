# SPDX-License-Identifier: MIT
"""test_disk.sh's read-back: every event of disk_events.py from seq 1 to LAST of each device in
DEVICES (one id a line, first word) reads back through GET /api/v1/messages exactly once and
exactly as sent, and nothing else reads back for EMPLOYEE.

  disk_verify.py PORT ADMIN_TOKEN EMPLOYEE DEVICES LAST"""
import http.client, json, os, sys, urllib.parse
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from disk_events import event  # noqa: E402

port, tok, emp, devices_file, last = (int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4],
                                      int(sys.argv[5]))
devices = [l.split()[0] for l in open(devices_file) if l.strip()]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

def utc(ts):
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(timezone.utc)

failures, got, cursor = [], {}, None
while True:
    q = "/api/v1/messages?employee=%s&limit=200" % emp
    if cursor:
        q += "&cursor=" + urllib.parse.quote(cursor)
    conn.request("GET", q, headers={"Authorization": "Bearer " + tok})
    r = conn.getresponse()
    j = json.loads(r.read())
    if r.status != 200:
        sys.exit("GET %s: HTTP %d: %r" % (q, r.status, j))
    for m in j["items"]:
        key = (m["device_id"], m["seq"])
        if key in got:
            failures.append("message %s/%d reads back twice" % key)
        got[key] = (utc(m["ts"]), m["channel"], m["direction"], m["peer"].get("id"),
                    m["peer"].get("name"), m["chat"], m["msgtype"], m["text"])
    cursor = j["next_cursor"]
    if not cursor:
        break
n = len(got)
for dev in devices:
    for seq in range(1, last + 1):
        e = event(seq)
        want = (utc(e["ts"]), e["channel"], e["direction"], e["peer"]["id"], e["peer"]["name"],
                e["chat"], e["msgtype"], e["text"])
        have = got.pop((dev, seq), None)
        if have is None:
            failures.append("%s/%d: does not read back" % (dev, seq))
        elif have != want:
            failures.append("%s/%d: reads back %r, sent %r" % (dev, seq, have[:7], want[:7]))
for key in got:
    failures.append("message %s/%d reads back but was never sent" % key)
print("verify: %d messages read back" % n, file=sys.stderr)
for f in failures[:50]:
    print("verify: " + f, file=sys.stderr)
sys.exit(1 if failures else 0)
