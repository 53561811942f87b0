#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The console's search over HTTP, end to end: GET /api/v1/messages?q= against a real
# `workphone serve`, to weigh what auditing every read costs (issue 13). Each binary given
# gets a fresh data dir (SQLite, or a new PostgreSQL database with --pg URL) filled with the
# same MESSAGES chat messages through the device API; then REQUESTS searches (1- and
# 2-character queries, the console's first page of 50) run on one keep-alive connection, and
# again from THREADS connections at once. Binaries take turns ROUNDS times; the best round of
# each is reported, and the ratio of each binary to the first. The server's CPU time per
# request (all its threads, the audit thread's writing included) is the steadiest figure on a
# shared machine; latencies and rates move with whatever else runs.
#
#   bench/search/http_reads.py --bin OLD/workphone --bin NEW/workphone [--pg URL]
#       [--messages 20000] [--requests 2000] [--threads 4] [--rounds 3]
import argparse, http.client, json, os, random, re, shutil, signal, subprocess, sys, tempfile
import threading, time

# 400 CJK characters, some far more common than others (as in chat): a 1-character query
# finds a page of 50 at once, a 2-character one has to look further
ALPHABET = "".join(chr(0x4E00 + 37 * i) for i in range(400))
WEIGHTS = [1.0 / (1 + i) for i in range(len(ALPHABET))]
PASSWORD = "bench-pass-1"


def texts(n, seed=20261122):
    rnd = random.Random(seed)
    for _ in range(n):
        yield "".join(rnd.choices(ALPHABET, WEIGHTS, k=rnd.randint(8, 40)))


class Server:
    def __init__(self, binary, pg_url, name):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="wp-bench-reads.")
        self.db = []
        if pg_url:
            dbname = "bench_reads_%s_%d" % (name, os.getpid())
            subprocess.run(["psql", "-q", pg_url, "-c", "drop database if exists " + dbname],
                           check=True)
            subprocess.run(["psql", "-q", pg_url, "-c", "create database " + dbname], check=True)
            self.db = ["--db", pg_url.rsplit("/", 1)[0] + "/" + dbname]
        env = dict(os.environ, WORKPHONE_ADMIN_PASSWORD=PASSWORD)
        subprocess.run([binary, "init", "--data", self.dir + "/d", "--tenant", "Bench",
                        "--admin", "admin"] + self.db, check=True, env=env,
                       stdout=subprocess.DEVNULL)
        self.err = open(self.dir + "/serve.err", "w+")
        self.proc = subprocess.Popen([binary, "serve", "--data", self.dir + "/d", "--listen",
                                      "127.0.0.1:0"] + self.db, stderr=self.err,
                                     stdout=subprocess.DEVNULL)
        for _ in range(200):
            self.err.seek(0)
            m = re.search(r"url=http://127\.0\.0\.1:(\d+)/", self.err.read())
            if m:
                self.port = int(m.group(1))
                break
            time.sleep(0.05)
        else:
            raise SystemExit("server did not start")

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def call(c, method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers=headers)
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit("%s %s: HTTP %d %s" % (method, path, r.status, data[:300]))
    return json.loads(data) if data else None


def fill(srv, messages):
    c = srv.conn()
    tok = call(c, "POST", "/api/v1/auth/login", body={"username": "admin",
                                                       "password": PASSWORD})["token"]
    hq = call(c, "GET", "/api/v1/org-units", tok)["items"][0]["id"]
    emp = call(c, "POST", "/api/v1/employees", tok, {
        "name": "Sam", "org_unit_id": hq, "role": "sales", "username": "sam",
        "password": PASSWORD})["id"]
    code = call(c, "POST", "/api/v1/employees/%s/enrollment-codes" % emp, tok, {})["code"]
    dtok = call(c, "POST", "/api/v1/device/enroll",
                body={"code": code, "serial": "SN-1", "model": "P60"})["token"]
    batch, seq = [], 0
    for t in texts(messages):
        seq += 1
        peer = "wxid_%d" % (seq % 300)
        batch.append({"seq": seq, "type": "message", "ts": "2026-11-20T09:00:00+08:00",
                      "channel": "wechat", "direction": "out", "peer": {"id": peer},
                      "chat": peer, "msgtype": "text", "text": t})
        if len(batch) == 1000:
            call(c, "POST", "/api/v1/device/events", dtok, {"events": batch})
            batch = []
    if batch:
        call(c, "POST", "/api/v1/device/events", dtok, {"events": batch})
    return tok


def queries(n, seed=7):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        q = "".join(rnd.choices(ALPHABET, WEIGHTS, k=1 + i % 2))
        out.append("/api/v1/messages?q=" + "".join("%%%02X" % b for b in q.encode()))
    return out


def run_one(srv, tok, paths):
    c = srv.conn()
    lat = []
    for p in paths:
        t = time.perf_counter()
        call(c, "GET", p, tok)
        lat.append(time.perf_counter() - t)
    return lat


def cpu_s(pid):
    """User + system CPU seconds of a process, all its threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(srv, tok, requests, threads):
    run_one(srv, tok, queries(200, seed=1))  # warm up
    time.sleep(1.5)  # the audit thread writes the warm-up's rows before the clock starts
    cpu0 = cpu_s(srv.proc.pid)
    t = time.perf_counter()
    lat = sorted(run_one(srv, tok, queries(requests)))
    seq_s = time.perf_counter() - t
    per = requests // threads
    parts = [queries(per, seed=100 + i) for i in range(threads)]
    ths = [threading.Thread(target=run_one, args=(srv, tok, p)) for p in parts]
    t = time.perf_counter()
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    par_s = time.perf_counter() - t
    time.sleep(1.5)  # ... and the last rows, whose writing is part of the cost
    cpu = cpu_s(srv.proc.pid) - cpu0
    return {"p50_ms": 1000 * lat[len(lat) // 2], "p99_ms": 1000 * lat[int(len(lat) * 0.99)],
            "seq_rps": requests / seq_s, "par_rps": per * threads / par_s,
            "cpu_ms": 1000 * cpu / (requests + per * threads)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", action="append", required=True)
    ap.add_argument("--pg")
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    best = {b: None for b in a.bin}
    for r in range(a.rounds):
        for i, b in enumerate(a.bin):
            srv = Server(b, a.pg, "b%d" % i)
            try:
                tok = fill(srv, a.messages)
                m = measure(srv, tok, a.requests, a.threads)
            finally:
                srv.stop()
            print("round %d %s: %s" % (r + 1, b, json.dumps({k: round(v, 3) for k, v in m.items()})),
                  file=sys.stderr)
            cur = best[b]
            best[b] = m if cur is None else {
                "p50_ms": min(cur["p50_ms"], m["p50_ms"]), "p99_ms": min(cur["p99_ms"], m["p99_ms"]),
                "seq_rps": max(cur["seq_rps"], m["seq_rps"]), "par_rps": max(cur["par_rps"], m["par_rps"]),
                "cpu_ms": min(cur["cpu_ms"], m["cpu_ms"])}
    base = best[a.bin[0]]
    print("| binary | server CPU a request | p50 | p99 | req/s, 1 connection | req/s, %d connections |"
          % a.threads)
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for b in a.bin:
        m = best[b]
        print("| `%s` | %.3f ms (%.2fx) | %.2f ms (%.2fx) | %.2f ms (%.2fx) | %.0f (%.2fx) | %.0f (%.2fx) |" % (
            b, m["cpu_ms"], m["cpu_ms"] / base["cpu_ms"], m["p50_ms"], m["p50_ms"] / base["p50_ms"],
            m["p99_ms"], m["p99_ms"] / base["p99_ms"], m["seq_rps"], m["seq_rps"] / base["seq_rps"],
            m["par_rps"], m["par_rps"] / base["par_rps"]))


if __name__ == "__main__":
    main()
