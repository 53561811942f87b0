# SPDX-License-Identifier: MIT
# Reads are audited through a buffer that a flush appends in batches (src/api/audit_worker.c);
# when the store fails that append (WORKPHONE_TEST_AUDIT_FAIL_BATCHES=3, a test hook: the
# first three batch writes fail), the reads wait for the next round and are written once each:
# none is lost, none is doubled, the failure is logged with the rows waiting, and the chain
# still verifies. Both backends (python3 only).
import subprocess
import sys
import time

import harness
from harness import Server, check, login

WP = harness.WP


def rows(srv, tok, action, want):
    """The audit rows of action, once there are want of them (or a minute has passed)."""
    deadline = time.monotonic() + 60
    while True:
        st, j, _ = srv.req("GET", "/api/v1/audit?action=%s&limit=200" % action, tok)
        if st != 200 or len(j["items"]) >= want or time.monotonic() > deadline:
            return st, j
        time.sleep(0.2)


def suite(store):
    be = store.backend
    srv = Server(store.data, store.db_args,
                 env_extra={"WORKPHONE_TEST_AUDIT_FAIL_BATCHES": "3"})
    try:
        admin = login(srv, "admin")
        st, j, _ = srv.req("GET", "/api/v1/messages?q=%E4%BF%9D%E6%9C%AC", admin)
        check(st == 200 and j["items"] == [], be + ": a search: %s %s" % (st, j))
        st, j = rows(srv, admin, "messages.search", 1)
        check(st == 200 and len(j["items"]) == 1 and j["items"][0]["details"]["q"] == "保本",
              be + ": the search is one audit row after three failed writes: %s %s" % (st, j))
        srv.err.seek(0)
        log = srv.err.read()
        for n in (1, 2, 3):
            check("audit batch %d of 3 failed by WORKPHONE_TEST_AUDIT_FAIL_BATCHES" % n in log,
                  be + ": the failed write %d is logged" % n)
        check("audit batch 4 of 3" not in log, be + ": ... and only three")
        check(log.count("rows_waiting=1") == 3, be + ": ... each with the row waiting: %d" %
              log.count("rows_waiting=1"))
        # the hook is spent: the next read is written at the first try, and nothing twice
        st, j, _ = srv.req("GET", "/api/v1/messages?q=abc", admin)
        check(st == 200, be + ": a second search: %s" % st)
        st, j = rows(srv, admin, "messages.search", 2)
        check(st == 200 and [i["details"]["q"] for i in j["items"]] == ["abc", "保本"],
              be + ": two searches, two rows, newest first: %s" %
              [i["details"]["q"] for i in j.get("items", [])])
    finally:
        srv.stop()
    r = subprocess.run([WP, "audit", "verify", "--data", store.data] + store.db_args,
                       capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith("ok: "),
          be + ": the chain verifies: %d %s %s" % (r.returncode, r.stdout, r.stderr))


if __name__ == "__main__":
    sys.exit(harness.run_backends(suite, "audit_faults"))
