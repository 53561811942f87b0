#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The WeCom chat archive's benchmark, driven by bench/wecom/run (the one command): one real
# `workphone serve`, the archive of RECORDS records served by the fake Finance SDK the test
# suite builds (tests/wecom/fake_sdk.c: RSA for the random keys, its own reversible cipher for
# the messages) and pulled through the connector into the store, search and alerts; then, on
# the same server, the device path: bench_ingest's load (bench/ingest) from DEVICES devices.
# Prints key=value lines: archive_* and device_*.
"""usage: bench_wecom.py --wp WORKPHONE --lib LIBSDK --bench BENCH_INGEST --texts FILE
                      --tmp DIR [--db URL] [--records N] [--limit N] [--devices N]
                      [--batches N] [--batch N]"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "integration"))
import wecom_records as W  # noqa: E402  (the records of the integration test, in bulk)

PASSWORD = "bench-pass-1"


def req(base, method, path, tok=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(base + path, data=data, method=method)
    if tok:
        r.add_header("Authorization", "Bearer " + tok)
    if data is not None:
        r.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(r, timeout=60) as f:
        return json.loads(f.read() or b"{}")


def main():
    ap = argparse.ArgumentParser()
    for a in ("--wp", "--lib", "--bench", "--texts", "--tmp"):
        ap.add_argument(a, required=True)
    ap.add_argument("--db", default="")
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--devices", type=int, default=16)
    ap.add_argument("--batches", type=int, default=60)
    ap.add_argument("--batch", type=int, default=100)
    o = ap.parse_args()

    fake = os.path.join(o.tmp, "fake")
    data = os.path.join(o.tmp, "data")
    os.makedirs(os.path.join(fake, "media"), exist_ok=True)
    key = os.path.join(fake, "key1.pem")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-out",
                    os.path.join(fake, "pub_1.pem")], check=True, capture_output=True)
    with open(os.path.join(fake, "secret"), "w") as f:
        f.write("bench-archive-secret")
    with open(os.path.join(fake, "control.json"), "w") as f:
        f.write("{}")
    now_ms = int(time.time() * 1000)
    emps = ["zhangsan", "lisi", "wangwu"]
    recs, bad = W.bulk(o.records, 1, now_ms - 86400000, emps, os.path.join(fake, "media"))
    W.write_records(os.path.join(fake, "records.jsonl"), recs)
    raw_bytes = os.path.getsize(os.path.join(fake, "records.jsonl"))

    db = ["--db", o.db] if o.db else []
    env = dict(os.environ, WORKPHONE_ADMIN_PASSWORD=PASSWORD)
    subprocess.run([o.wp, "init", "--data", data, "--tenant", "Bench", "--admin", "admin"] + db,
                   check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(data, "workphone.conf"), "a") as f:
        f.write("wecom_sdk_dirs=%s\n" % os.path.dirname(os.path.abspath(o.lib)))
    log = open(os.path.join(o.tmp, "serve.log"), "w+")
    srv = subprocess.Popen([o.wp, "serve", "--data", data, "--listen", "127.0.0.1:0"] + db,
                           stdout=subprocess.DEVNULL, stderr=log,
                           env=dict(os.environ, WECOM_FAKE_DIR=fake))
    try:
        base = None
        for _ in range(200):
            log.seek(0)
            m = re.search(r"url=(http://127\.0\.0\.1:(\d+))", log.read())
            if m:
                base, port = m.group(1), m.group(2)
                break
            time.sleep(0.05)
        if not base:
            sys.exit("server did not start")
        j = req(base, "POST", "/api/v1/auth/login", body={"username": "admin",
                                                          "password": PASSWORD})
        tok, me = j["token"], j["employee"]
        for i, uid in enumerate(emps):
            e = req(base, "POST", "/api/v1/employees", tok, {
                "name": "员工%d" % i, "org_unit_id": me["org_unit_id"], "role": "sales",
                "username": uid, "password": PASSWORD})
            req(base, "PATCH", "/api/v1/employees/" + e["id"], tok, {"wecom_userid": uid})
        with open(key) as f:
            pem = f.read()

        # the archive: from the settings' PUT (due at once) to the last record stored
        t0 = time.monotonic()
        req(base, "PUT", "/api/v1/integrations/wecom", tok, {
            "corp_id": "wwbench", "archive_secret": "bench-archive-secret",
            "archive_private_keys": [{"version": 1, "pem": pem}],
            "sdk_path": os.path.abspath(o.lib), "pull_limit": o.limit})
        s = {}
        while time.monotonic() - t0 < 1800:
            s = req(base, "GET", "/api/v1/integrations/wecom", tok)["archive_state"]
            if s["seq"] >= o.records or s["failures"] > 3:
                break
            time.sleep(0.05)
        t1 = time.monotonic()
        if s["seq"] < o.records:
            sys.exit("the archive did not finish: %s" % s)
        secs = t1 - t0
        print("archive_records=%d archive_seconds=%.2f archive_records_per_s=%.0f "
              "archive_stored=%d archive_held=%d archive_pulls=%d archive_violations=%d "
              "archive_mb=%.1f limit=%d" % (
                  o.records, secs, o.records / secs, s["stored"], s["held"], s["pulls"], bad,
                  raw_bytes / 1e6, o.limit))

        # the device path on the same server (bench/ingest's load generator)
        toks = os.path.join(o.tmp, "tokens")
        with open(toks, "w") as f:
            for d in range(o.devices):
                code = req(base, "POST", "/api/v1/employees/%s/enrollment-codes" % me["id"], tok,
                           {})["code"]
                e = req(base, "POST", "/api/v1/device/enroll", None,
                        {"code": code, "serial": "BENCH-%d" % d, "model": "bench"})
                f.write("%s %s\n" % (e["device_id"], e["token"]))
        load = subprocess.run([o.bench, "load", "--port", port, "--tokens", toks, "--texts",
                               o.texts, "--batches", str(o.batches), "--batch", str(o.batch)],
                              check=True, capture_output=True, text=True).stdout.strip()
        print(" ".join("device_" + kv for kv in load.split()))
    finally:
        srv.terminate()
        srv.wait(timeout=60)


if __name__ == "__main__":
    main()
