#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `workphone agent` (libwpagent from the command line) against a real server: help and usage,
# enroll, send (a bad line records nothing), status, sync with the server up and down, and the
# offline check answering as POST /api/v1/device/check does.
. "$(dirname "$0")/lib_api.sh"
# The events carry fixed dates of late November 2026; the server accepts device times within
# 180 days of its own (src/ingest/event.c), so its clock is fixed beside them.
export WORKPHONE_FAKE_NOW=2026-11-27T08:00:00Z

AG="$TMP/agent"

# --help everywhere, usage errors exit 2
run "$WP" agent --help
expect_rc 0 "agent --help"
expect_out_has "enroll --dir D" "agent --help lists the subcommands"
for sub in enroll send sync status check; do
    run "$WP" agent "$sub" --help
    expect_rc 0 "agent $sub --help"
    expect_out_has "usage: workphone agent $sub" "agent $sub --help"
done
run "$WP" agent
expect_rc 2 "agent without a subcommand"
run "$WP" agent frobnicate --dir "$AG"
expect_rc 2 "an unknown subcommand"
expect_err_has "unknown subcommand 'frobnicate'" "names the subcommand"
run "$WP" agent status
expect_rc 2 "status without --dir"
expect_one_line_err "status without --dir"
run "$WP" agent enroll --dir "$AG" --server http://127.0.0.1:1
expect_rc 2 "enroll without --code"
run "$WP" agent status --dir "$AG" --code X
expect_rc 2 "--code with status"

# the outbox's synchronous FULL is asserted, not assumed (issue 17): read back as anything
# else (the test hook sets NORMAL after FULL), the agent refuses to open it, naming the file
run env WORKPHONE_TEST_SQLITE_NOT_FULL=1 "$WP" agent status --dir "$AG"
expect_rc 1 "an outbox that is not synchronous FULL"
checks=$((checks + 1))
[ "$err" = "workphone agent status: cannot open '$AG': '$AG/agent.db': PRAGMA synchronous reads back 1, not 2 (FULL): recorded events could be lost on a power cut" ] ||
    fail "... is refused, naming the file: $err"

# before enrolling: status works offline, check has no policy, sync refuses
run "$WP" agent status --dir "$AG"
expect_rc 0 "status of a new agent"
expect_out_has '"enrolled":false' "a new agent is not enrolled"
run_in $'hello\n' "$WP" agent check --dir "$AG"
expect_rc 1 "check without a policy"
expect_err_has "no policy" "check says why"
run "$WP" agent sync --dir "$AG"
expect_rc 1 "sync before enroll"
expect_err_has "not enrolled" "sync says why"

setup_store sqlite
start_server "$dir"
[ -n "$base" ] || { finish; exit 1; }
json POST /api/v1/auth/login '{"username": "admin", "password": "s3cret-pass"}'
tok=$(jq_ 'j["token"]')
A=(-H "Authorization: Bearer $tok")
req GET /api/v1/auth/session "${A[@]}"
emp=$(jq_ 'j["employee"]["id"]')
new_code() {
    json POST "/api/v1/employees/$emp/enrollment-codes" '{}' "${A[@]}"
    jq_ 'j["code"]'
}

run "$WP" agent enroll --dir "$AG" --server "$base" --code AAAA-BBBB-CCCC
expect_rc 1 "enroll with an unknown code"
expect_err_has "refused by the server" "the code is refused"
code=$(new_code)
run "$WP" agent enroll --dir "$AG" --server "$base/" --code "$code" --serial SN-9 --model Pixel
expect_rc 0 "enroll"
expect_out_has '"device_id":"' "enroll prints the device id"
[ "$(stat -c %a "$AG/agent.db")" = 600 ] || fail "the credentials are 0600"
code=$(new_code)
run "$WP" agent enroll --dir "$AG" --server "$base" --code "$code"
expect_rc 1 "enroll twice"
expect_err_has "already enrolled" "enroll twice says so"

EV1='{"type":"message","ts":"2026-11-22T10:00:00+08:00","channel":"wechat","direction":"out","peer":{"id":"wxid_a1","phone":"13800138000"},"chat":"wxid_a1","msgtype":"text","text":"agent-cli-1 飞单"}'
EV2='{"type":"call","ts":"2026-11-22T10:01:00+08:00","direction":"in","peer":{"phone":"13900139000"},"duration_s":63}'
EV3='{"type":"message","channel":"wechat","direction":"in","peer":{"id":"wxid_a1"},"chat":"wxid_a1","msgtype":"text","text":"agent-cli-2"}'

# a bad line: named, exit 2, nothing recorded
run_in "$EV1"$'\n\n{"type": "message", "seq": 9}\n' "$WP" agent send --dir "$AG"
expect_rc 2 "send with a bad line"
expect_err_has "line 3:" "the bad line is named"
expect_one_line_err "send with a bad line"
run_in $'{"type":\n' "$WP" agent send --dir "$AG"
expect_rc 2 "send with a line that is not json"
expect_err_has "line 1:" "names line 1"
run "$WP" agent status --dir "$AG"
expect_out_has '"next_seq":1,' "nothing was recorded"
expect_out_has '"outbox_events":0,' "the outbox is empty"

run_in "$EV1"$'\n'"$EV2"$'\n\n'"$EV3"$'\n' "$WP" agent send --dir "$AG"
expect_rc 0 "send"
expect_out '{"recorded":3,"first_seq":1,"last_seq":3}' "send reports the seqs"
run "$WP" agent status --dir "$AG"
expect_out_has '"outbox_events":3,' "three events wait"
expect_out_has '"acked_seq":0,' "none acknowledged yet"

# the server goes away: sync fails, keeps everything, says why
stop_server
run "$WP" agent sync --dir "$AG" --attempts 1
expect_rc 1 "sync with the server down"
expect_err_has "server unreachable" "sync names the failure"
run "$WP" agent status --dir "$AG"
expect_out_has '"outbox_events":3,' "nothing lost while the server is down"
expect_out_has '"failures":1,' "the failure is counted"
expect_out_has 'POST /api/v1/device/events' "status keeps the last error"

# and comes back on another port: sync --server moves the agent there
start_server "$dir"
run "$WP" agent sync --dir "$AG" --server "$base"
expect_rc 0 "sync"
expect_out_has '"acked_seq":3,' "all acknowledged"
expect_out_has '"outbox_events":0,' "the outbox is empty"
expect_out_has '"last_error":null' "no error left"
run "$WP" agent sync --dir "$AG"
expect_rc 0 "sync again: nothing to send"
json GET '/api/v1/messages?limit=200' '' "${A[@]}"
expect_json 'sorted(m["text"] for m in j["items"] if m["text"].startswith("agent-cli"))' \
    '["agent-cli-1 飞单", "agent-cli-2"]' "both messages stored once"
json GET /api/v1/alerts '' "${A[@]}"
expect_json '[a["category"] for a in j["items"]]' '["private_deal"]' "the alert was raised"

# the offline check equals the server's, line for line
TEXTS=$'这笔可以飞*单给你\n飛單\n我的手机13800138000\n明天上午十点见\n\n加我ＶＸ'
run_in "$TEXTS"$'\n' "$WP" agent check --dir "$AG"
expect_rc 0 "check"
local_out=$out
code=$(new_code)
json POST /api/v1/device/enroll "{\"code\": \"$code\", \"serial\": \"S\", \"model\": \"M\"}"
D=(-H "Authorization: Bearer $(jq_ 'j["token"]')")
server_out=""
while IFS= read -r t; do
    json POST /api/v1/device/check "$(python3 -c 'import json,sys; print(json.dumps({"channel": "wechat", "text": sys.argv[1]}, ensure_ascii=False))' "$t")" "${D[@]}"
    server_out+="$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), ensure_ascii=False, sort_keys=True))' "$body")"$'\n'
done <<<"$TEXTS"
local_norm=$(printf '%s\n' "$local_out" | python3 -c 'import json,sys
for l in sys.stdin: print(json.dumps(json.loads(l), ensure_ascii=False, sort_keys=True))')
checks=$((checks + 1))
[ "$local_norm" = "${server_out%$'\n'}" ] || { out="$local_norm"; fail "check equals the server's: $server_out"; }
out=$local_out
expect_out_has '"action":"block"' "check blocks 飞*单 offline"

# stopped server: check still answers
stop_server
run_in $'飛 單\n' "$WP" agent check --dir "$AG"
expect_rc 0 "check offline"
expect_out_has '"action":"block"' "offline check blocks"
run_in "$(head -c 70000 /dev/zero | tr '\0' a)"$'\nok\n' "$WP" agent check --dir "$AG"
expect_rc 1 "check with a line over 64 KiB"
expect_out_has '"error"' "the long line gets an error object"
expect_out_has '"action":"allow"' "the next line is still answered"

finish
