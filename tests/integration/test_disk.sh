#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A full disk (issue 17), server and agent, on SQLite (a full PostgreSQL disk is out of scope:
# docs/internals/store.md). The server's data directory and the agent's directory each sit on
# a small tmpfs whose space a filler file takes; devices stream events until the disk is full.
# What is answered 2xx is stored, the rest is 503 with Retry-After and the storage_full error
# (never a 500); a media upload on the full disk leaves no file behind; when the filler goes,
# the same clients carry on and everything they sent is stored, without a restart. The agent
# answers "outbox full" (WP_AGENT_EFULL) on its full disk, keeps every event it recorded
# through a server that answers 503 (backing off at least Retry-After), and syncs them all
# once both disks have space again.
. "$(dirname "$0")/lib_api.sh"
export WORKPHONE_FAKE_NOW=2026-11-27T08:00:00Z
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

# Mounting a tmpfs needs root (or a user and mount namespace of our own): otherwise SKIP.
mounts=()
cleanup() {
    [ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null
    for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$TMP/probe"
if ! mount -t tmpfs -o size=64k tmpfs "$TMP/probe" 2>/dev/null; then
    if [ -z "${WP_DISK_NS:-}" ] && unshare -rm true 2>/dev/null; then
        rm -rf "$TMP"
        WP_DISK_NS=1 exec unshare -rm bash "$0" "$@"
    fi
    echo "SKIP: cannot mount a tmpfs here (not root, and no user namespace)" >&2
    exit 77
fi
umount "$TMP/probe"

# small_disk DIR SIZE: a tmpfs of SIZE at DIR
small_disk() {
    mkdir -p "$1"
    mount -t tmpfs -o "size=$2" tmpfs "$1" || { rc=x out="" err=""; fail "mount a tmpfs at $1"; exit 1; }
    mounts+=("$1")
}

# fill DIR FILE KEEP: FILE (in DIR's file system) takes all its free space but KEEP bytes
fill() {
    local avail; avail=$(df -B1 --output=avail "$1" | tail -n 1 | tr -d ' ')
    local n=$(((avail - $3) / 4096))
    [ "$n" -gt 0 ] && dd if=/dev/zero of="$2" bs=4096 count="$n" status=none
    checks=$((checks + 1))
    [ -f "$2" ] || fail "the filler $2 was not made (free: $avail)"
}

# jq_ and expect_json on the output of the last `run` (the agent's JSON)
jq_out() { local body=$out; jq_ "$1"; }
expect_json_out() { local body=$out; expect_json "$@"; }

DEVICES=2
BATCHES=60   # per device; the disk fills within a few
PER_BATCH=10
export BATCHES PER_BATCH

# --- the server ------------------------------------------------------------------------------
small_disk "$TMP/srv" 64m
setup_store sqlite srv/data
start_server "$dir"
[ -n "$base" ] || { finish; exit 1; }
server_pid=$pid
port=${base##*:}
json POST /api/v1/auth/login '{"username": "admin", "password": "s3cret-pass"}'
tok=$(jq_ 'j["token"]'); hq=$(jq_ 'j["employee"]["org_unit_id"]')
json POST /api/v1/employees "{\"name\": \"Sales D\", \"org_unit_id\": \"$hq\", \"role\": \"sales\",
    \"username\": \"salesd\", \"password\": \"s3cret-pass\"}" -H "Authorization: Bearer $tok"
expect_status 201 "create the salesperson"
emp=$(jq_ 'j["id"]')
tokens=$TMP/tokens
: >"$tokens"
for d in $(seq "$DEVICES"); do
    json POST "/api/v1/employees/$emp/enrollment-codes" '{}' -H "Authorization: Bearer $tok"
    code=$(jq_ 'j["code"]')
    json POST /api/v1/device/enroll "{\"code\": \"$code\", \"serial\": \"SN-D-$d\", \"model\": \"M\"}"
    expect_status 201 "enroll device $d"
    printf '%s %s\n' "$(jq_ 'j["device_id"]')" "$(jq_ 'j["token"]')" >>"$tokens"
done
dev1_tok=$(awk 'NR == 1 { print $2 }' "$tokens")

# Room for a few batches only; the client streams, fills the disk, and waits at $mark.
fill "$TMP/srv" "$TMP/srv/filler" $((384 * 1024))
mark=$TMP/full.mark
$PY "$HERE/disk_client.py" "$port" "$tokens" "$TMP/srv/filler" "$TMP/acks" "$mark" \
    >"$TMP/client.out" 2>"$TMP/client.err" &
client=$!
for _ in $(seq 6000); do
    [ -f "$mark" ] && break
    kill -0 "$client" 2>/dev/null || break
    sleep 0.1
done
checks=$((checks + 1))
[ -f "$mark" ] || { rc=x out="" err=$(cat "$TMP/client.err"); fail "the client never found the disk full"; }

# While the disk is full: a media upload is 503 storage_full with Retry-After, and leaves
# no file (nor a temp file) in the media directory.
head -c 262144 /dev/urandom >"$TMP/rec.bin"
ref="sha256:$(sha256sum "$TMP/rec.bin" | cut -d' ' -f1)"
req PUT "/api/v1/device/media/$ref" -H "Authorization: Bearer $dev1_tok" \
    -H 'Content-Type: application/octet-stream' --data-binary "@$TMP/rec.bin"
expect_status 503 "a media upload on the full disk"
expect_json 'j["error"]["code"]' 'storage_full' "a media upload on the full disk: the error code"
checks=$((checks + 1))
printf '%s\n' "$headers" | grep -qi '^Retry-After: [0-9][0-9]*' || fail "the media 503 has a Retry-After"
out=$(find "$dir/media" -type f 2>/dev/null | wc -l); rc=0; err=""
checks=$((checks + 1))
[ "$out" = 0 ] || fail "a media upload that failed left files: $(find "$dir/media" -type f)"
# A console write is 503 storage_full too, or, when a checkpoint has just made room in the
# WAL, 201 and stored (checked below): never a 500. A read still works.
json POST /api/v1/org-units "{\"name\": \"Full Disk Unit\", \"parent_id\": \"$hq\", \"kind\": \"store\"}" \
    -H "Authorization: Bearer $tok"
unit_status=$status
echo "test_disk: a console write on the full disk: HTTP $status" >&2
checks=$((checks + 1))
case "$status" in
201) ;;
503) expect_json 'j["error"]["code"]' 'storage_full' "a console write on the full disk: the error code"
     expect_header_has "Retry-After: " "a console write on the full disk: Retry-After" ;;
*) fail "a console write on the full disk: 503 storage_full or 201, not $status" ;;
esac
req GET /api/v1/employees -H "Authorization: Bearer $tok"
expect_status 200 "a read on the full disk"
checks=$((checks + 1))
kill -0 "$server_pid" 2>/dev/null || fail "the server died on the full disk"
rm -f "$mark"   # the client deletes the filler and its devices carry on

wait "$client"; rc=$?
out=$(cat "$TMP/client.out"); err=$(cat "$TMP/client.err")
expect_rc 0 "every answer was 200 or 503 storage_full with Retry-After, and 200 once the space returned"
printf '%s\n' "$err" | sed 's/^/test_disk: /' >&2
checks=$((checks + 1))
[ "$pid" = "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null || fail "the server did not keep running"

# Everything the devices sent is stored, once, as sent; and the media upload now succeeds.
total=$((BATCHES * PER_BATCH))
run $PY "$HERE/disk_verify.py" "$port" "$tok" "$emp" "$tokens" "$total"
expect_rc 0 "after the space returned every event reads back once, as sent"
req PUT "/api/v1/device/media/$ref" -H "Authorization: Bearer $dev1_tok" \
    -H 'Content-Type: application/octet-stream' --data-binary "@$TMP/rec.bin"
expect_status 201 "the media upload once the space returned"
json POST /api/v1/device/events "{\"events\": [{\"seq\": $((total + 1)), \"type\": \"call\",
    \"ts\": \"2026-11-22T10:00:00+08:00\", \"direction\": \"in\", \"peer\": {\"phone\": \"13900139000\"},
    \"duration_s\": 5, \"recording\": \"$ref\"}]}" -H "Authorization: Bearer $dev1_tok"
expect_status 200 "a call naming the recording"
curl -s -o "$TMP/rec.got" -H "Authorization: Bearer $tok" "$base/api/v1/media/$ref"
checks=$((checks + 1))
cmp -s "$TMP/rec.bin" "$TMP/rec.got" || fail "the recording reads back as uploaded"

req GET /api/v1/org-units -H "Authorization: Bearer $tok"
expect_status 200 "the org units after the space returned"
expect_json '[u["name"] for u in j["items"]].count("Full Disk Unit")' "$([ "$unit_status" = 201 ] && echo 1 || echo 0)" \
    "the console write is stored exactly when it was answered 201"

# --- the agent -------------------------------------------------------------------------------
AG=$TMP/ag/agent
small_disk "$TMP/ag" 4m
json POST /api/v1/employees "{\"name\": \"Sales A\", \"org_unit_id\": \"$hq\", \"role\": \"sales\",
    \"username\": \"salesa\", \"password\": \"s3cret-pass\"}" -H "Authorization: Bearer $tok"
expect_status 201 "create the agent's salesperson"
emp2=$(jq_ 'j["id"]')
json POST "/api/v1/employees/$emp2/enrollment-codes" '{}' -H "Authorization: Bearer $tok"
code=$(jq_ 'j["code"]')
run "$WP" agent enroll --dir "$AG" --server "$base" --code "$code" --serial SN-AG --model M
expect_rc 0 "the agent enrolls"
agent_dev=$(jq_out 'j["device_id"]')
fill "$TMP/ag" "$TMP/ag/filler" $((128 * 1024))
# record one event a call until the disk is full: "outbox full", and nothing half recorded
$PY "$HERE/disk_events.py" 1 400 >"$TMP/agent.jsonl"
recorded=0
while IFS= read -r line; do
    run_in "$line" "$WP" agent send --dir "$AG"
    [ "$rc" = 0 ] || break
    recorded=$((recorded + 1))
done <"$TMP/agent.jsonl"
echo "test_disk: the agent recorded $recorded events before its disk was full" >&2
expect_rc 1 "agent send on a full disk"
expect_err_has "outbox full" "agent send on a full disk says the outbox is full (WP_AGENT_EFULL)"
checks=$((checks + 1))
[ "$recorded" -gt 0 ] && [ "$recorded" -lt 400 ] || fail "the agent's disk did not fill ($recorded recorded)"
run "$WP" agent status --dir "$AG"
expect_rc 0 "agent status on a full disk"
expect_json_out 'j["outbox_events"], j["next_seq"]' "[$recorded, $((recorded + 1))]" \
    "the outbox holds exactly what was recorded; the failed record spent no seq"

# Sync with the agent's own disk full: the server stores the batch; whether the agent can then
# note it or not (exit 0, or 1 with "outbox full"), nothing is lost, nothing is stored twice.
run "$WP" agent sync --dir "$AG" --attempts 1
checks=$((checks + 1))
[ "$rc" = 0 ] || { [ "$rc" = 1 ] && case "$err" in *"outbox full"*) true ;; *) false ;; esac; } ||
    fail "agent sync with its own disk full: exit 0, or 1 saying the outbox is full"
echo "test_disk: agent sync with its own disk full: exit $rc" >&2
rm -f "$TMP/ag/filler"
run "$WP" agent status --dir "$AG"
left=$(jq_out 'j["outbox_events"]')

# A server whose disk stays full (503 storage_full, Retry-After: 30): sync keeps every event
# in the outbox and waits at least those 30 s before it tries again.
$PY "$HERE/disk_full_server.py" "$TMP/full.port" &
full_pid=$!
for _ in $(seq 600); do [ -f "$TMP/full.port" ] && break; sleep 0.1; done
run "$WP" agent sync --dir "$AG" --server "http://127.0.0.1:$(cat "$TMP/full.port")" --attempts 1
kill "$full_pid"; wait "$full_pid" 2>/dev/null
expect_rc 1 "agent sync against a server whose disk is full"
expect_err_has "HTTP 503" "the agent names the 503"
run "$WP" agent status --dir "$AG"
expect_json_out 'j["outbox_events"]' "$left" "a 503 leaves every event in the outbox"
expect_json_out 'j["retry_after_ms"] >= 30000' "true" "the agent waits at least the server's Retry-After"

# Space on both, the real server again: sync empties the outbox.
run "$WP" agent sync --dir "$AG" --server "$base"
expect_rc 0 "agent sync once both disks have space"
expect_json_out '[j["outbox_events"], j["acked_seq"], j["retry_after_ms"]]' "[0, $recorded, 0]" \
    "the outbox is empty"
printf '%s\n' "$agent_dev" >"$TMP/agent.dev"
run $PY "$HERE/disk_verify.py" "$port" "$tok" "$emp2" "$TMP/agent.dev" "$recorded"
expect_rc 0 "every event the agent recorded reads back once, as recorded"
run_in "$(sed -n "$((recorded + 1))p" "$TMP/agent.jsonl")" "$WP" agent send --dir "$AG"
expect_rc 0 "the agent records again"

stop_server
finish
