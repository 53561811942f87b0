#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Durability of the device protocol (CONTRACT §4) across kill -9, on SQLite and PostgreSQL:
# devices stream batches, the server is killed while requests are in flight, restarted, and
# every event the server acknowledged must be stored, then a full resend stores nothing twice.
. "$(dirname "$0")/lib_api.sh"
# The events carry fixed dates of late November 2026; the server accepts device times within
# 180 days of its own (src/ingest/event.c), so its clock is fixed beside them.
export WORKPHONE_FAKE_NOW=2026-11-27T08:00:00Z

DEVICES=3     # streaming at once, so the writer merges their batches
BATCHES=24    # per device
PER_BATCH=20  # events per batch

# The load: one thread per device, each on its own keep-alive connection, posting batches in
# order and appending "<device> <acked_seq>" to the ack log for every answer it gets. When the
# acknowledged batches of all devices reach KILL_AT, the thread that saw it sends its next
# request, waits DELAY_US and kills the server (SIGKILL), while the other threads have theirs
# in flight. Every thread's failures (an answer other than 200, a body that is not the
# acknowledgement, an ack that goes back or is not its batch's end, a connection lost before
# the kill) are collected and the client exits 1 naming each: an exception inside a thread
# would only print a traceback and be lost. "resend" posts every batch again, one device after
# another, and checks that each answer acknowledges at least the whole batch. "verify" reads
# the round's messages and calls back through the API and compares them with what was sent.
cat >"$TMP/client.py" <<'EOF'
import http.client, json, os, signal, sys, threading, time, urllib.parse
from datetime import datetime, timezone

mode, port, tokens_file, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
kill_at, server_pid = int(sys.argv[5]), int(sys.argv[6])
batches, per_batch = int(os.environ["BATCHES"]), int(os.environ["PER_BATCH"])
rnd = int(os.environ["ROUND"])  # peers differ per round, so each round has its own customers
tokens = [l.split() for l in open(tokens_file) if l.strip()]  # device_id token
TEXTS = ["您好，资料我发您了", "这笔可以飞单给你", "明天下午3点带您去看房，在望京",
         "好的，收到😊", "年化参考3.5%，您看一下风险提示"]

def event(seq):
    # a Monday morning: within the default working hours, so locations are kept (off duty
    # they are acknowledged and deliberately not stored: test_checkins.py)
    ts = "2026-11-23T10:%02d:%02d+08:00" % (seq // 60 % 60, seq % 60)
    k = seq % 10
    if k == 3:
        return {"seq": seq, "type": "call", "ts": ts, "direction": "in",
                "peer": {"phone": "139%04d%04d" % (rnd, seq % 50)}, "duration_s": seq}
    if k == 7:
        return {"seq": seq, "type": "location", "ts": ts, "lat": 31.23, "lon": 121.47}
    if k == 9:
        return {"seq": seq, "type": "message", "ts": "broken", "text": "x"}  # rejected
    return {"seq": seq, "type": "message", "ts": ts, "channel": "wechat",
            "direction": "out" if seq % 2 else "in",
            "peer": {"id": "wxid_r%d_%d" % (rnd, seq % 7), "name": "客户%d" % (seq % 7)},
            "chat": "wxid_r%d_%d" % (rnd, seq % 7), "msgtype": "text", "text": TEXTS[seq % 5]}

def body(i):
    first = i * per_batch + 1
    return json.dumps({"events": [event(s) for s in range(first, first + per_batch)]})

lock = threading.Lock()
acked_batches = 0
killed = threading.Event()
failures = []

def failed(what):
    with lock:
        failures.append(what)

def answer(r, dev, i):
    """the acked_seq of a 200 answer to batch i; anything else is a failure (raised)"""
    payload = r.read()
    if r.status != 200:
        raise AssertionError("%s batch %d: HTTP %d: %s" % (dev, i, r.status, payload[:300]))
    try:
        acked = json.loads(payload)["acked_seq"]
    except (ValueError, KeyError, TypeError):
        raise AssertionError("%s batch %d: not an acknowledgement: %r" % (dev, i, payload[:300]))
    if not isinstance(acked, int) or (mode == "stream" and acked > (i + 1) * per_batch):
        raise AssertionError("%s batch %d: acked_seq %r beyond what was sent" % (dev, i, acked))
    return acked

def post(conn, tok, dev, i):
    conn.request("POST", "/api/v1/device/events", body=body(i),
                 headers={"Authorization": "Bearer " + tok,
                          "Content-Type": "application/json"})
    return answer(conn.getresponse(), dev, i)

def stream(dev, tok):
    global acked_batches
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    last = 0
    try:
        for i in range(batches):
            with lock:
                killer = acked_batches >= kill_at  # ==: another thread may step past it
                if killer:
                    acked_batches = -10**9  # one killer only
            if killer:
                data = body(i).encode()
                conn.putrequest("POST", "/api/v1/device/events")
                conn.putheader("Authorization", "Bearer " + tok)
                conn.putheader("Content-Type", "application/json")
                conn.putheader("Content-Length", str(len(data)))
                conn.endheaders(data)
                time.sleep(int(os.environ["DELAY_US"]) / 1e6)
                killed.set()
                os.kill(server_pid, signal.SIGKILL)
                acked = answer(conn.getresponse(), dev, i)  # only if it answered before it died
            else:
                acked = post(conn, tok, dev, i)
            # one writer per device, batches in order: each answer acks its whole batch
            if acked != (i + 1) * per_batch:
                failed("%s batch %d: acked_seq %d, wanted %d" % (dev, i, acked, (i + 1) * per_batch))
            if acked < last:
                failed("%s batch %d: acked_seq went back from %d to %d" % (dev, i, last, acked))
            last = acked
            with lock:
                log.write("%s %d\n" % (dev, acked))
                acked_batches += 1
    except (OSError, http.client.HTTPException) as e:
        if not killed.is_set():  # the server may be gone only once it was killed
            failed("%s: connection lost before the kill: %r" % (dev, e))
    except BaseException as e:
        failed("%s: %s: %s" % (dev, type(e).__name__, e))

def get(conn, path, tok):
    conn.request("GET", path, headers={"Authorization": "Bearer " + tok})
    r = conn.getresponse()
    payload = r.read()
    if r.status != 200:
        raise AssertionError("GET %s: HTTP %d: %s" % (path, r.status, payload[:300]))
    return json.loads(payload)

def pages(conn, path, tok):
    cursor = None
    while True:
        sep = "&" if "?" in path else "?"
        j = get(conn, path + sep + "limit=200" +
                ("&cursor=" + urllib.parse.quote(cursor) if cursor else ""), tok)
        yield from j["items"]
        cursor = j["next_cursor"]
        if not cursor:
            return

def utc(ts):
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(timezone.utc)

def verify(admin, emp):
    """Every acknowledged message and call of the round's employee reads back through the API
    (GET /api/v1/messages; a call in its customer's timeline) as it was sent, and whatever
    else reads back was sent too (stored after the last answer): nothing acknowledged is lost,
    nothing stored is changed."""
    acked = {}
    for l in open(log_path):
        d, a = l.split()
        acked[d] = max(acked.get(d, 0), int(a))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    msgs = {}
    for m in pages(conn, "/api/v1/messages?employee=" + emp, admin):
        key = (m["device_id"], m["seq"])
        if key in msgs:
            failures.append("message %s/%d read back twice" % key)
        msgs[key] = (utc(m["ts"]), m["channel"], m["direction"], m["peer"].get("id"),
                     m["peer"].get("name"), m["chat"], m["msgtype"], m["text"])
    calls = {}  # (phone, ts, direction, duration_s): how many read back
    for c in pages(conn, "/api/v1/customers?owner=" + emp, admin):
        for it in pages(conn, "/api/v1/customers/%s/timeline" % c["id"], admin):
            if it["type"] == "call":
                k = (c["phone"], utc(it["ts"]), it["direction"], it["duration_s"])
                calls[k] = calls.get(k, 0) + 1
    n_msgs, n_calls = len(msgs), sum(calls.values())
    sent_calls = {}  # the same key: [sent, acknowledged]
    for dev, _ in tokens:
        for seq in range(1, batches * per_batch + 1):
            e, is_acked = event(seq), seq <= acked.get(dev, 0)
            if e["type"] == "call":
                k = (e["peer"]["phone"], utc(e["ts"]), e["direction"], e["duration_s"])
                n = sent_calls.setdefault(k, [0, 0])
                n[0] += 1
                n[1] += is_acked
            elif e["type"] == "message" and e["ts"] != "broken":
                want = (utc(e["ts"]), e["channel"], e["direction"], e["peer"]["id"],
                        e["peer"]["name"], e["chat"], e["msgtype"], e["text"])
                got = msgs.pop((dev, seq), None)
                if got is None:
                    if is_acked:
                        failures.append("%s/%d: an acknowledged message does not read back" % (dev, seq))
                elif got != want:
                    failures.append("%s/%d: reads back %r, sent %r" % (dev, seq, got, want))
    for key in msgs:
        failures.append("message %s/%d reads back but was never sent" % key)
    for k, n in calls.items():
        if n > sent_calls.get(k, [0])[0]:
            failures.append("call %r reads back %d times, sent %d" % (k, n, sent_calls.get(k, [0])[0]))
    for k, (_, n_acked) in sent_calls.items():
        if calls.get(k, 0) < n_acked:
            failures.append("call %r reads back %d times, acknowledged %d" % (k, calls.get(k, 0), n_acked))
    print("client: %d messages and %d calls read back" % (n_msgs, n_calls), file=sys.stderr)

if mode == "stream":
    log = open(log_path, "a", buffering=1)
    ts = [threading.Thread(target=stream, args=t) for t in tokens]
    for t in ts: t.start()
    for t in ts: t.join()
    if not killed.is_set():
        failures.append("the stream ended before the kill")
elif mode == "resend":
    for dev, tok in tokens:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for i in range(batches):
                acked = post(conn, tok, dev, i)
                if acked < (i + 1) * per_batch:
                    failures.append("%s: resend of batch %d acked %d" % (dev, i, acked))
        except Exception as e:
            failures.append("%s: resend: %s: %s" % (dev, type(e).__name__, e))
else:  # verify ADMIN_TOKEN EMPLOYEE_ID
    try:
        verify(sys.argv[7], sys.argv[8])
    except Exception as e:
        failures.append("verify: %s: %s" % (type(e).__name__, e))
for f in failures:
    print("client: " + f, file=sys.stderr)
sys.exit(1 if failures else 0)
EOF

# What the store holds for one device: every seq it stored, one per line, from every table an
# event can land in (rejected events are quarantined with their seq).
stored_seqs() {
    sql "SELECT seq FROM messages WHERE device_id = '$1' UNION ALL
         SELECT seq FROM calls WHERE device_id = '$1' UNION ALL
         SELECT seq FROM locations WHERE device_id = '$1' UNION ALL
         SELECT seq FROM quarantine WHERE device_id = '$1' ORDER BY 1"
}

# round BACKEND N KILL_AT DELAY_US: fresh devices of a fresh salesperson stream until KILL_AT
# batches are acknowledged, the server dies DELAY_US after the next request went out, and the
# store is checked (seqs in SQL, content through the API) before and after a full resend.
round() {
    local be=$1 n=$2 kill_at=$3 delay=$4 tokens="$TMP/tokens.$be.$2" acks="$TMP/acks.$be.$2"
    local what="$be/round $n (kill after $kill_at batches + ${delay}us)"
    : >"$tokens"; : >"$acks"
    export ROUND=$n DELAY_US=$delay
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    json POST /api/v1/auth/login '{"username": "admin", "password": "s3cret-pass"}'
    local tok hq emp code; tok=$(jq_ 'j["token"]'); hq=$(jq_ 'j["employee"]["org_unit_id"]')
    json POST /api/v1/employees "{\"name\": \"Sales $n\", \"org_unit_id\": \"$hq\", \"role\": \"sales\",
        \"username\": \"sales$n\", \"password\": \"s3cret-pass\"}" -H "Authorization: Bearer $tok"
    expect_status 201 "$what: create the salesperson"
    emp=$(jq_ 'j["id"]')
    for d in $(seq "$DEVICES"); do
        json POST "/api/v1/employees/$emp/enrollment-codes" '{}' -H "Authorization: Bearer $tok"
        code=$(jq_ 'j["code"]')
        json POST /api/v1/device/enroll "{\"code\": \"$code\", \"serial\": \"SN-$n-$d\", \"model\": \"M\"}"
        expect_status 201 "$be: enroll device $d"
        printf '%s %s\n' "$(jq_ 'j["device_id"]')" "$(jq_ 'j["token"]')" >>"$tokens"
    done
    local port=${base##*:}
    run python3 "$TMP/client.py" stream "$port" "$tokens" "$acks" "$kill_at" "$pid"
    expect_rc 0 "$what: every answer before the kill was a whole acknowledgement"
    wait "$pid" 2>/dev/null
    rc=$?
    expect_rc 137 "$what: the server was killed by SIGKILL"

    # Restarted: every acknowledged event is there, once, as it was sent.
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    local dev dtok max n_acked=0
    while read -r dev dtok; do
        max=$(awk -v d="$dev" '$1 == d && $2 > m { m = $2 } END { print m + 0 }' "$acks")
        n_acked=$((n_acked + max))
        stored_seqs "$dev" >"$TMP/seqs"
        out=$(awk -v m="$max" '$1 <= m' "$TMP/seqs" | tr '\n' ' ')
        checks=$((checks + 1))
        [ "$out" = "$(seq -s ' ' 1 "$max") " ] || [ "$max" = 0 -a -z "$out" ] ||
            fail "$what: device $dev: acked $max, stored seqs up to it differ"
        checks=$((checks + 1))
        [ "$(sort "$TMP/seqs" | uniq -d | wc -l)" = 0 ] || fail "$what: a seq stored twice"
        checks=$((checks + 1))
        [ "$(sql "SELECT acked_seq FROM devices WHERE id = '$dev'")" -ge "$max" ] ||
            fail "$what: device $dev: acked_seq went back below $max"
    done <"$tokens"
    echo "$what: $n_acked events acked before the kill" >&2
    checks=$((checks + 1))
    [ "$n_acked" -ge $((kill_at * PER_BATCH)) ] || fail "$what: only $n_acked events acked before the kill"
    json POST /api/v1/auth/login '{"username": "admin", "password": "s3cret-pass"}'
    tok=$(jq_ 'j["token"]')
    run python3 "$TMP/client.py" verify "${base##*:}" "$tokens" "$acks" 0 0 "$tok" "$emp"
    expect_rc 0 "$what: after the restart every acknowledged event reads back as sent"
    echo "$what: after the restart: ${err##*$'\n'}" >&2

    # Resend everything from seq 1: nothing is stored twice, and everything is stored as sent.
    run python3 "$TMP/client.py" resend "${base##*:}" "$tokens" /dev/null 0 0
    expect_rc 0 "$what: the resend acks every batch"
    local total=$((BATCHES * PER_BATCH))
    : >"$acks"
    while read -r dev dtok; do
        echo "$dev $total" >>"$acks"
        stored_seqs "$dev" >"$TMP/seqs"
        out=$(tr '\n' ' ' <"$TMP/seqs")
        checks=$((checks + 1))
        [ "$out" = "$(seq -s ' ' 1 "$total") " ] ||
            fail "$what: device $dev: after the resend seqs 1..$total are not all there once"
        # one alert per 飞单 message (seq % 5 == 1: always a message), never two
        out=$(sql "SELECT count(*), count(DISTINCT seq) FROM alerts WHERE device_id = '$dev'" | tr '|' ' ')
        local want; want=$(seq 1 "$total" | awk '$1 % 5 == 1' | wc -l)
        checks=$((checks + 1))
        [ "$out" = "$want $want" ] || fail "$what: device $dev: alerts '$out', wanted $want once each"
    done <"$tokens"
    run python3 "$TMP/client.py" verify "${base##*:}" "$tokens" "$acks" 0 0 "$tok" "$emp"
    expect_rc 0 "$what: after the resend every event reads back once, as sent"
    echo "$what: after the resend: ${err##*$'\n'}" >&2
    stop_server
}

# The kill points are random, from a seed printed here (WORKPHONE_CRASH_SEED=N replays a run):
# KILLS rounds per backend, each killing after 0..3/4 of the batches and 0..20 ms into the
# request that follows.
SEED=${WORKPHONE_CRASH_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
KILLS=3
echo "test_crash: seed $SEED (WORKPHONE_CRASH_SEED=$SEED replays these kill points)" >&2
RANDOM=$SEED

export BATCHES PER_BATCH
suite() { # backend
    local be=$1 n
    setup_store "$be"
    for n in $(seq "$KILLS"); do
        round "$be" "$n" $((RANDOM % (DEVICES * BATCHES * 3 / 4))) $((RANDOM % 20000))
    done
}

run_suites
