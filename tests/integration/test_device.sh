#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The device protocol (CONTRACT §4) over real sockets, on SQLite and PostgreSQL: enrollment,
# events (idempotent resend, rejected events, alerts), check, policy ETags, media, limits.
. "$(dirname "$0")/lib_api.sh"
# the events are of 2026-11-22: the server's clock is set beside them, inside the window of
# times it accepts (WP_INGEST_TS_*), whenever the test runs
export WORKPHONE_FAKE_NOW=2026-11-22T12:00:00+08:00

BATCH='{"events": [
 {"seq": 1, "type": "message", "ts": "2026-11-22T10:00:00+08:00", "channel": "wechat",
  "direction": "out", "peer": {"id": "wxid_k2", "name": "王女士", "phone": "13800138000"},
  "chat": "wxid_k2", "msgtype": "text", "text": "这笔可以飞单给你"},
 {"seq": 2, "type": "call", "ts": "2026-11-22T10:01:00+08:00", "direction": "in",
  "peer": {"phone": "13900139000"}, "duration_s": 63},
 {"seq": 3, "type": "contact", "ts": "2026-11-22T10:02:00+08:00", "channel": "wechat",
  "action": "added", "peer": {"id": "wxid_k3", "name": "李先生"}},
 {"seq": 4, "type": "location", "ts": "2026-11-22T10:03:00+08:00", "lat": 31.23, "lon": 121.47,
  "accuracy_m": 12},
 {"seq": 5, "type": "message", "ts": "2026-11-22T10:04:00+08:00", "channel": "wechat",
  "direction": "in", "peer": {"id": "wxid_k2"}, "chat": "wxid_k2", "msgtype": "text",
  "text": "好的，明天见"},
 {"seq": 6, "type": "message", "ts": "not a time", "channel": "wechat", "msgtype": "text",
  "text": "broken"}
]}'

suite() { # backend
    local be=$1
    setup_store "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return

    # an admin session, and a code for the admin (the only employee)
    json POST /api/v1/auth/login '{"username": "admin", "password": "s3cret-pass"}'
    expect_status 200 "$be: login"
    local tok emp
    tok=$(jq_ 'j["token"]'); emp=$(jq_ 'j["employee"]["id"]')
    local A=(-H "Authorization: Bearer $tok")
    json POST "/api/v1/employees/$emp/enrollment-codes" '{}' "${A[@]}"
    expect_status 201 "$be: enrollment code"
    expect_json 'len(j["code"]) == 14 and j["expires_at"].endswith("Z")' true "$be: code shape"
    local code; code=$(jq_ 'j["code"]')
    json POST /api/v1/employees/0123456789abcdef01234567/enrollment-codes '{}' "${A[@]}"
    expect_error 404 not_found "$be: code for an unknown employee"
    req POST "/api/v1/employees/$emp/enrollment-codes"
    expect_error 401 unauthorized "$be: code without a session"

    # enroll: 201 once; the code is then spent
    json POST /api/v1/device/enroll "{\"code\": \"$code\", \"serial\": \"SN-1\", \"model\": \"Mi 11\"}"
    expect_status 201 "$be: enroll"
    expect_json 'j["token"].startswith("wpd_") and len(j["device_id"]) == 24' true "$be: enroll reply"
    local dtok; dtok=$(jq_ 'j["token"]')
    local D=(-H "Authorization: Bearer $dtok")
    json POST /api/v1/device/enroll "{\"code\": \"$code\", \"serial\": \"SN-1\", \"model\": \"Mi 11\"}"
    expect_error 401 unauthorized "$be: a used code"
    json POST /api/v1/device/enroll '{"code": "AAAA-BBBB-CCCC", "serial": "S", "model": "M"}'
    expect_error 401 unauthorized "$be: an unknown code"
    json POST /api/v1/device/enroll '{"serial": "S", "model": "M"}'
    expect_error 400 invalid_request "$be: enroll without a code"

    # credentials on device routes
    json POST /api/v1/device/events '{"events": []}'
    expect_error 401 unauthorized "$be: events without a token"
    expect_header_has "WWW-Authenticate: Bearer" "$be: 401 names the scheme"
    json POST /api/v1/device/events '{"events": []}' -H "Authorization: Bearer wpd_nope"
    expect_error 401 unauthorized "$be: events with a wrong token"
    json POST /api/v1/device/events '{"events": []}' "${A[@]}"
    expect_error 401 unauthorized "$be: a session token is no device token"
    json GET /api/v1/messages '' "${D[@]}"
    expect_error 401 unauthorized "$be: a device token is no session"

    # events: stored, scanned, a bad one rejected, and acked
    json POST /api/v1/device/events "$BATCH" "${D[@]}"
    expect_status 200 "$be: events"
    expect_json 'j["acked_seq"]' 6 "$be: acked_seq"
    expect_json '[(a["kind"], a["pattern"], a["action"], a["seq"]) for a in j["alerts"]]' \
        '[["sensitive_word", "飞单", "block", 1]]' "$be: 飞单 raises an alert"
    expect_json '[r["seq"] for r in j["rejected"]]' '[6]' "$be: the bad event is rejected"
    json GET '/api/v1/messages?limit=200' '' "${A[@]}"
    expect_json 'sorted(m["text"] for m in j["items"])' '["好的，明天见", "这笔可以飞单给你"]' \
        "$be: both messages archived"
    expect_json '[m["ts"] for m in j["items"]]' '["2026-11-22T02:04:00Z", "2026-11-22T02:00:00Z"]' \
        "$be: times in UTC, newest first"
    json GET /api/v1/alerts '' "${A[@]}"
    expect_json '[(a["kind"], a["category"], a["status"], a["text"]) for a in j["items"]]' \
        '[["sensitive_word", "private_deal", "open", "飞单"]]' "$be: the alert is in the console"
    local msg_id; msg_id=$(jq_ 'j["items"][0]["message_id"]')
    [ ${#msg_id} = 24 ] || fail "$be: the alert names its message"

    # resend: same answer, nothing stored twice
    json POST /api/v1/device/events "$BATCH" "${D[@]}"
    expect_status 200 "$be: resend"
    expect_json '(j["acked_seq"], j["alerts"])' '[6, []]' "$be: resend acks the same seq, no new alert"
    json GET '/api/v1/messages?limit=200' '' "${A[@]}"
    expect_json 'len(j["items"])' 2 "$be: resend stores no message twice"
    json GET /api/v1/alerts '' "${A[@]}"
    expect_json 'len(j["items"])' 1 "$be: resend raises no alert twice"
    json POST /api/v1/device/events '{"events": [{"seq": 7, "type": "message",
        "ts": "2026-11-22T10:05:00+08:00", "channel": "sms", "direction": "out",
        "peer": {"phone": "13800138000"}, "msgtype": "text", "text": "第七条"}]}' "${D[@]}"
    expect_json 'j["acked_seq"]' 7 "$be: the stream moves on"

    # bodies the protocol refuses
    json POST /api/v1/device/events '{"events": [' "${D[@]}"
    expect_error 400 invalid_json "$be: a body that is not JSON"
    json POST /api/v1/device/events '{"evnts": []}' "${D[@]}"
    expect_error 400 invalid_request "$be: no events array"
    python3 -c 'import sys; sys.stdout.write("{\"events\": [" + ",".join(["{\"seq\": 1}"] * 1001) + "]}")' >"$TMP/many.json"
    req POST /api/v1/device/events -H 'Content-Type: application/json' --data-binary @"$TMP/many.json" "${D[@]}"
    expect_error 400 invalid_request "$be: more than 1000 events"
    head -c 9000000 /dev/zero | tr '\0' ' ' >"$TMP/huge.json"
    req POST /api/v1/device/events -H 'Content-Type: application/json' --data-binary @"$TMP/huge.json" "${D[@]}"
    expect_error 413 body_too_large "$be: a body over 8 MiB"

    # check: the verdict before sending
    json POST /api/v1/device/check '{"channel": "wechat", "text": "可以飛 單吗"}' "${D[@]}"
    expect_status 200 "$be: check"
    expect_json '(j["action"], [m["pattern"] for m in j["matches"]])' '["block", ["飞单"]]' \
        "$be: check blocks a disguised 飞单"
    json POST /api/v1/device/check '{"channel": "wechat", "text": "明天上午十点见"}' "${D[@]}"
    expect_json '(j["action"], j["matches"])' '["allow", []]' "$be: check allows a clean text"
    json POST /api/v1/device/check '{"channel": "wechat"}' "${D[@]}"
    expect_error 400 invalid_request "$be: check without text"

    # policy and its ETag
    req GET /api/v1/device/policy "${D[@]}"
    expect_status 200 "$be: policy"
    expect_json '(type(j["version"]).__name__, "飞单" in j["lexicon"], "money_alert_fen" in j["settings"])' \
        '["int", true, true]' "$be: policy shape"
    local etag; etag=$(printf '%s' "$headers" | tr -d '\r' | sed -n 's/^ETag: //Ip')
    [ "$etag" = "\"$(jq_ 'j["version"]')\"" ] || fail "$be: ETag '$etag' is the version"
    req GET /api/v1/device/policy -H "If-None-Match: $etag" "${D[@]}"
    expect_status 304 "$be: If-None-Match of the current version"
    [ -z "$body" ] || fail "$be: 304 has no body"

    # a new lexicon is live at once, and moves the ETag
    printf '# ours\n紫色大象\tcustom\tblock\n' >"$TMP/lex.txt"
    req PUT /api/v1/lexicon -H 'Content-Type: text/plain' --data-binary @"$TMP/lex.txt" "${A[@]}"
    expect_status 200 "$be: lexicon PUT"
    json POST /api/v1/device/check '{"text": "送你一头紫色大 象"}' "${D[@]}"
    expect_json 'j["action"]' block "$be: check uses the new word at once"
    json POST /api/v1/device/check '{"text": "这笔可以飞单"}' "${D[@]}"
    expect_json 'j["action"]' allow "$be: the old lexicon is gone"
    req GET /api/v1/device/policy -H "If-None-Match: $etag" "${D[@]}"
    expect_status 200 "$be: the old ETag is stale after a lexicon change"
    expect_json '"紫色大象" in j["lexicon"]' true "$be: the policy carries the new lexicon"
    printf '好词\tok\n坏词\tbad\tnope\n' >"$TMP/bad.txt"
    req PUT /api/v1/lexicon -H 'Content-Type: text/plain' --data-binary @"$TMP/bad.txt" "${A[@]}"
    expect_error 400 invalid_lexicon "$be: a bad lexicon"
    expect_json 'j["error"]["details"]["line"]' 2 "$be: the bad lexicon's line is named"
    expect_json '"2" in j["error"]["message"] and "nope" in j["error"]["message"]' true \
        "$be: the message names the line and the word"
    json POST /api/v1/device/check '{"text": "紫色大象"}' "${D[@]}"
    expect_json 'j["action"]' block "$be: a bad lexicon changes nothing"

    # media: content-addressed, hash checked, stored once
    head -c 300000 /dev/urandom >"$TMP/rec.bin"
    local h; h=$(sha256sum "$TMP/rec.bin" | cut -d' ' -f1)
    req PUT "/api/v1/device/media/sha256:$h" --data-binary @"$TMP/rec.bin" "${D[@]}"
    expect_status 201 "$be: media upload"
    expect_json '(j["size"], j["created"])' '[300000, true]' "$be: media reply"
    req PUT "/api/v1/device/media/sha256:$h" --data-binary @"$TMP/rec.bin" "${D[@]}"
    expect_status 200 "$be: media upload again"
    req PUT "/api/v1/device/media/sha256:$h" -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/rec.bin" "${D[@]}"
    expect_status 200 "$be: media upload again, chunked"
    req PUT "/api/v1/device/media/sha256:$(printf 'x' | sha256sum | cut -d' ' -f1)" --data-binary @"$TMP/rec.bin" "${D[@]}"
    expect_error 400 invalid_request "$be: media hash mismatch"
    req PUT "/api/v1/device/media/sha256:XYZ" --data-binary @"$TMP/rec.bin" "${D[@]}"
    expect_error 400 invalid_request "$be: a bad media ref"
    req PUT "/api/v1/device/media/sha256:$h" -H 'Content-Length: 104857601' "${D[@]}"
    expect_error 413 body_too_large "$be: media over 100 MiB"
    # refused before a byte of the body is read: a client that sends the body anyway may meet
    # the closed connection (a reset) before it reads the answer, so ask first, as curl does
    # for big bodies by itself
    req PUT "/api/v1/device/media/sha256:$h" --data-binary @"$TMP/rec.bin" -H 'Expect: 100-continue'
    expect_error 401 unauthorized "$be: media without a token"
    [ "$(find "$dir/media" -type f | wc -l)" = 1 ] || fail "$be: exactly one media file on disk"

    json GET /api/v1/devices '' "${A[@]}"
    expect_json '[(d["serial"], d["acked_seq"], d["revoked"]) for d in j["items"]]' \
        '[["SN-1", 7, false]]' "$be: the device in the console"

    # /metrics carries the ingest series
    run curl -s "$base/metrics"
    printf '%s\n' "$out" >"$TMP/metrics.txt"
    out=$(python3 - "$TMP/metrics.txt" "$be" <<'PY'
import os
import sys
m = {}
for line in open(sys.argv[1], encoding="utf-8"):
    if line.startswith("workphone_") and "{" not in line:
        k, v = line.split()
        m[k] = float(v)
print(m["workphone_ingest_events_total"] >= 7, m["workphone_ingest_rejected_total"] >= 1,
      m["workphone_alerts_raised_total"] >= 1, m["workphone_store_commit_seconds_count"] >= 1,
      m["workphone_ingest_queue_depth"] == 0,
      # the memory gauges: the heap holds at least the caches (glibc's count: under the
      # sanitizers their allocator replaces glibc's and the gauge is only there); SQLite's only
      # on SQLite
      m["workphone_heap_bytes"] > 1e6 if os.environ.get("WORKPHONE_SANITIZED") != "1" else
      "workphone_heap_bytes" in m,
      m["workphone_sqlite_memory_bytes"] > 0 if sys.argv[2] == "sqlite" else
      "workphone_sqlite_memory_bytes" in m)
PY
)
    expect_out "True True True True True True True" "$be: ingest series in /metrics"

    stop_server
}

suite sqlite
if pg_half; then
    suite postgresql
    drop_pg_dbs
fi
finish
