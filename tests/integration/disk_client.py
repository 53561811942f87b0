# SPDX-License-Identifier: MIT
"""The device side of test_disk.sh: devices stream batches of events into a server whose data
directory sits on a small tmpfs with a filler file taking most of it, until the disk is full;
then the filler is deleted and the same clients, on the same connections, carry on.

  disk_client.py PORT TOKENS FILLER ACKS MARK

Every answer must be 200 with the batch's whole acknowledgement, or, while the disk is full,
503 with Retry-After and the error body {"error": {"code": "storage_full", ...}}: never a 500,
never any other status. A request sent after the filler was deleted must be answered 200.
Each device, after its first 503, tries its batch twice more and then waits for the space;
when every device waits (or has sent everything, which fails: the disk never filled), the
client creates MARK and waits until the test removes it (its checks while the disk is full),
then deletes the filler. Each thread's failures are collected: the client exits 1 naming each.
ACKS gets "<device> <acked_seq>" for every acknowledgement."""
import http.client, json, os, sys, threading, time

port, tokens_file, filler, acks_path, mark = (int(sys.argv[1]), sys.argv[2], sys.argv[3],
                                             sys.argv[4], sys.argv[5])
batches, per_batch = int(os.environ["BATCHES"]), int(os.environ["PER_BATCH"])
tokens = [l.split() for l in open(tokens_file) if l.strip()]  # device_id token
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from disk_events import event  # noqa: E402

lock = threading.Lock()
failures = []
waiting = 0          # devices waiting for the space to return
done_early = 0       # devices that sent everything before the disk filled
freed = threading.Event()
full_answers = 0     # 503s seen

def failed(what):
    with lock:
        failures.append(what)

def body(i):
    first = i * per_batch + 1
    return json.dumps({"events": [event(s) for s in range(first, first + per_batch)]})

def post(conn, tok, i):
    conn.request("POST", "/api/v1/device/events", body=body(i),
                 headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
    r = conn.getresponse()
    return r, r.read()

def check_full(dev, i, r, payload):
    """a 503 of a full disk: Retry-After (whole seconds) and the storage_full error body"""
    ra = r.getheader("Retry-After")
    if ra is None or not ra.isdigit() or int(ra) < 1:
        failed("%s batch %d: 503 without a Retry-After of whole seconds: %r" % (dev, i, ra))
    try:
        e = json.loads(payload)["error"]
        ok = e["code"] == "storage_full" and isinstance(e["message"], str) and e["message"]
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok or r.getheader("Content-Type") != "application/json":
        failed("%s batch %d: 503 body is not the storage_full error: %r" % (dev, i, payload[:300]))

def stream(dev, tok):
    global waiting, done_early, full_answers
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    i, tries, was_full, finished = 0, 0, False, False
    try:
        while i < batches:
            after_free = freed.is_set()
            r, payload = post(conn, tok, i)
            if r.status == 200:
                acked = json.loads(payload)["acked_seq"]
                if acked != (i + 1) * per_batch:
                    failed("%s batch %d: acked_seq %d, wanted %d" % (dev, i, acked, (i + 1) * per_batch))
                with lock:
                    log.write("%s %d\n" % (dev, acked))
                i, tries = i + 1, 0
                continue
            if r.status != 503:
                failed("%s batch %d: HTTP %d: %s" % (dev, i, r.status, payload[:300]))
                return
            check_full(dev, i, r, payload)
            with lock:
                full_answers += 1
            if after_free:
                failed("%s batch %d: 503 after the space returned" % (dev, i))
                return
            tries += 1
            if tries < 3:
                time.sleep(0.05)
                continue
            if not was_full:
                was_full = True
                with lock:
                    waiting += 1
                print("client: %s: the disk is full at batch %d" % (dev, i), file=sys.stderr)
            if not freed.wait(600):
                failed("%s: the space never returned" % dev)
                return
        finished = True
    except Exception as e:
        failed("%s batch %d: %s: %s" % (dev, i, type(e).__name__, e))
    finally:
        if finished and not was_full:
            with lock:
                done_early += 1

log = open(acks_path, "a", buffering=1)
ts = [threading.Thread(target=stream, args=t) for t in tokens]
for t in ts:
    t.start()
# the disk is full for every device (or a device is done, which is a failure), then: space
deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    with lock:
        if waiting + done_early >= len(tokens) or failures:
            break
    if not any(t.is_alive() for t in ts):
        break
    time.sleep(0.05)
with lock:
    if done_early:
        failures.append("%d device(s) sent everything: the disk never filled" % done_early)
# the test's own checks while the disk is full (test_disk.sh: media), then the space returns
open(mark, "w").close()
while os.path.exists(mark) and time.monotonic() < deadline:
    time.sleep(0.05)
os.remove(filler)
freed.set()
for t in ts:
    t.join()
print("client: %d answers 503 while the disk was full" % full_answers, file=sys.stderr)
for f in failures:
    print("client: " + f, file=sys.stderr)
sys.exit(1 if failures else 0)
