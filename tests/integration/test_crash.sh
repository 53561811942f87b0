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
# acknowledged batches of all devices reach KILL_AT, the thread that saw it kills the server
# (SIGKILL) right after sending its next request, while the other threads have theirs in
# flight. "resend" mode posts every batch again, one device after another, and checks that
# each answer acknowledges at least the whole batch.
cat >"$TMP/client.py" <<'EOF'
import http.client, json, os, signal, sys, threading

mode, port, tokens_file, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
kill_at, server_pid = int(sys.argv[5]), int(sys.argv[6])
batches, per_batch = int(os.environ["BATCHES"]), int(os.environ["PER_BATCH"])
tokens = [l.split() for l in open(tokens_file) if l.strip()]  # device_id token
TEXTS = ["您好，资料我发您了", "这笔可以飞单给你", "明天下午3点带您去看房，在望京",
         "好的，收到😊", "年化参考3.5%，您看一下风险提示"]

def event(seq):
    ts = "2026-11-22T10:%02d:%02d+08:00" % (seq // 60 % 60, seq % 60)
    k = seq % 10
    if k == 3:
        return {"seq": seq, "type": "call", "ts": ts, "direction": "in",
                "peer": {"phone": "1390013%04d" % (seq % 50)}, "duration_s": seq}
    if k == 7:
        return {"seq": seq, "type": "location", "ts": ts, "lat": 31.23, "lon": 121.47}
    if k == 9:
        return {"seq": seq, "type": "message", "ts": "broken", "text": "x"}  # rejected
    return {"seq": seq, "type": "message", "ts": ts, "channel": "wechat",
            "direction": "out" if seq % 2 else "in",
            "peer": {"id": "wxid_%d" % (seq % 7), "name": "客户%d" % (seq % 7)},
            "chat": "wxid_%d" % (seq % 7), "msgtype": "text", "text": TEXTS[seq % 5]}

def body(i):
    first = i * per_batch + 1
    return json.dumps({"events": [event(s) for s in range(first, first + per_batch)]})

lock = threading.Lock()
acked_batches = 0
log = open(log_path, "a", buffering=1)

def post(conn, tok, data):
    conn.request("POST", "/api/v1/device/events", body=data,
                 headers={"Authorization": "Bearer " + tok,
                          "Content-Type": "application/json"})
    r = conn.getresponse()
    payload = r.read()
    if r.status != 200:
        raise SystemExit("HTTP %d: %s" % (r.status, payload[:300]))
    return json.loads(payload)["acked_seq"]

def stream(dev, tok):
    global acked_batches
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
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
                os.kill(server_pid, signal.SIGKILL)
                r = conn.getresponse()  # only if it answered before it died
                acked = json.loads(r.read())["acked_seq"]
            else:
                acked = post(conn, tok, body(i))
            with lock:
                log.write("%s %d\n" % (dev, acked))
                acked_batches += 1
    except (OSError, http.client.HTTPException):
        pass  # the server is gone: what it answered is in the log

if mode == "stream":
    ts = [threading.Thread(target=stream, args=t) for t in tokens]
    for t in ts: t.start()
    for t in ts: t.join()
else:
    for dev, tok in tokens:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(batches):
            acked = post(conn, tok, body(i))
            if acked < (i + 1) * per_batch:
                raise SystemExit("%s: resend of batch %d acked %d" % (dev, i, acked))
EOF

# What the store holds for one device: every seq it stored, one per line, from every table an
# event can land in (rejected events are quarantined with their seq).
stored_seqs() {
    sql "SELECT seq FROM messages WHERE device_id = '$1' UNION ALL
         SELECT seq FROM calls WHERE device_id = '$1' UNION ALL
         SELECT seq FROM locations WHERE device_id = '$1' UNION ALL
         SELECT seq FROM quarantine WHERE device_id = '$1' ORDER BY 1"
}

# round BACKEND KILL_AT: fresh devices stream until KILL_AT batches are acknowledged, the
# server dies, and the store is checked before and after a full resend.
round() {
    local be=$1 kill_at=$2 tokens="$TMP/tokens.$2" acks="$TMP/acks.$2"
    : >"$tokens"; : >"$acks"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    json POST /api/v1/auth/login '{"username": "admin", "password": "s3cret-pass"}'
    local tok emp code; tok=$(jq_ 'j["token"]'); emp=$(jq_ 'j["employee"]["id"]')
    for d in $(seq "$DEVICES"); do
        json POST "/api/v1/employees/$emp/enrollment-codes" '{}' -H "Authorization: Bearer $tok"
        code=$(jq_ 'j["code"]')
        json POST /api/v1/device/enroll "{\"code\": \"$code\", \"serial\": \"SN-$kill_at-$d\", \"model\": \"M\"}"
        expect_status 201 "$be: enroll device $d"
        printf '%s %s\n' "$(jq_ 'j["device_id"]')" "$(jq_ 'j["token"]')" >>"$tokens"
    done
    local port=${base##*:}
    run python3 "$TMP/client.py" stream "$port" "$tokens" "$acks" "$kill_at" "$pid"
    expect_rc 0 "$be/$kill_at: the stream runs until the kill"
    wait "$pid" 2>/dev/null
    rc=$?
    expect_rc 137 "$be/$kill_at: the server was killed by SIGKILL"

    # Restarted: every acknowledged event is there, once.
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
            fail "$be/$kill_at: device $dev: acked $max, stored seqs up to it differ"
        checks=$((checks + 1))
        [ "$(sort "$TMP/seqs" | uniq -d | wc -l)" = 0 ] || fail "$be/$kill_at: a seq stored twice"
        checks=$((checks + 1))
        [ "$(sql "SELECT acked_seq FROM devices WHERE id = '$dev'")" -ge "$max" ] ||
            fail "$be/$kill_at: device $dev: acked_seq went back below $max"
    done <"$tokens"
    echo "$be: killed after $kill_at acked batches; $n_acked events acked by then" >&2
    # the kill must come mid-stream: something acked (but the first round), not everything
    checks=$((checks + 1))
    [ "$n_acked" -lt $((DEVICES * BATCHES * PER_BATCH)) ] ||
        fail "$be/$kill_at: the stream ended before the kill"
    checks=$((checks + 1))
    [ "$kill_at" = 0 ] || [ "$n_acked" -ge $((kill_at * PER_BATCH)) ] ||
        fail "$be/$kill_at: only $n_acked events acked before the kill"

    # Resend everything from seq 1: nothing is stored twice, and everything is stored.
    run env BATCHES="$BATCHES" PER_BATCH="$PER_BATCH" \
        python3 "$TMP/client.py" resend "${base##*:}" "$tokens" /dev/null 0 0
    expect_rc 0 "$be/$kill_at: the resend acks every batch"
    local total=$((BATCHES * PER_BATCH))
    while read -r dev dtok; do
        stored_seqs "$dev" >"$TMP/seqs"
        out=$(tr '\n' ' ' <"$TMP/seqs")
        checks=$((checks + 1))
        [ "$out" = "$(seq -s ' ' 1 "$total") " ] ||
            fail "$be/$kill_at: device $dev: after the resend seqs 1..$total are not all there once"
        # one alert per 飞单 message (seq % 5 == 1: always a message), never two
        out=$(sql "SELECT count(*), count(DISTINCT seq) FROM alerts WHERE device_id = '$dev'" | tr '|' ' ')
        local want; want=$(seq 1 "$total" | awk '$1 % 5 == 1' | wc -l)
        checks=$((checks + 1))
        [ "$out" = "$want $want" ] || fail "$be/$kill_at: device $dev: alerts '$out', wanted $want once each"
    done <"$tokens"
    stop_server
}

export BATCHES PER_BATCH
suite() { # backend
    local be=$1
    setup_store "$be"
    # kill before the first answer, early, and late in the stream
    for k in 0 7 40; do
        round "$be" "$k"
    done
}

suite sqlite
if pg_half; then
    suite postgresql
    drop_pg_dbs
fi
finish
