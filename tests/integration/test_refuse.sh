#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Input the server must refuse (issue 13), over real sockets, on SQLite and PostgreSQL: device
# times and seqs outside their window, the quarantine's bounded copy, the per-tenant storage
# limits (usage in the settings, 507 past a limit, nothing stored), CSV cells that a
# spreadsheet would run, and control characters in names and texts. Each attack gets its
# exact refusal; each allowed case its exact answer. The server's clock is fixed.
. "$(dirname "$0")/lib_api.sh"

NOW=2026-11-28T10:00:00+08:00 # 02:00Z: the window is 2026-06-01T02:00:00Z .. 2026-11-29T02:00:00Z
export WORKPHONE_FAKE_NOW=$NOW
SRV_TS=2026-11-28T02:00:00Z
WINDOW="is outside the accepted window, 180 days before to 24 hours after the server's time $SRV_TS"

# msg SEQ TS PEER TEXT: a text message event as JSON (ASCII, so Python's compact JSON is the
# server's byte for byte)
msg() {
    printf '{"seq": %s, "type": "message", "ts": "%s", "channel": "wechat", "direction": "out", "peer": {"id": "%s"}, "msgtype": "text", "text": "%s"}' \
        "$1" "$2" "$3" "$4"
}
loc() { # SEQ TS
    printf '{"seq": %s, "type": "location", "ts": "%s", "lat": 31, "lon": 121}' "$1" "$2"
}

# stored_bytes JSON: what the archive counts for these events (compact JSON + message texts)
stored_bytes() {
    python3 -c '
import json, sys
n = 0
for e in json.loads(sys.argv[1])["events"]:
    n += len(json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode())
    if e.get("type") == "message" and isinstance(e.get("text"), str):
        n += len(e["text"].encode())
print(n)' "$1"
}

usage() { # KIND: the settings' usage of archive, media or quarantine
    req GET /api/v1/settings "${A[@]}"
    jq_ "j['usage']['${1}_bytes']"
}

acked() { # the device's acked_seq, from the console
    req GET /api/v1/devices "${A[@]}"
    jq_ 'j["items"][0]["acked_seq"]'
}

# fresh BACKEND: a new store (the suites below each start from an empty one)
fresh() {
    rm -rf "${TMP:?}/$1"
    setup_store "$1"
}

# --- 1 and 2: seq and ts windows, the quarantine's bounded copy -----------------------------
suite_events() {
    local be=$1
    fresh "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    local me; me=$(jq_ 'j["employee"]["id"]')
    # the window's edges fall on a Sunday: locations off duty are kept only under "keep"
    json PUT /api/v1/settings '{"locations_off_duty": "keep"}' "${A[@]}"
    expect_status 200 "$be: keep off-duty locations"
    device "$me" SN-T; local D=(-H "Authorization: Bearer $dtok")

    local batch
    batch="{\"events\": [$(msg 1 2026-11-27T10:00:00+08:00 wxid_t "first") ,
        $(msg 2 9999-12-31T23:59:59Z wxid_t "from the far future"),
        $(msg 3 1970-01-01T00:00:00Z wxid_t "from a dead clock"),
        $(loc 4 2026-06-01T02:00:00Z), $(loc 5 2026-06-01T01:59:59Z),
        $(loc 6 2026-11-29T02:00:00Z), $(loc 7 2026-11-29T02:00:01Z),
        $(loc 9223372036854775807 2026-11-27T10:00:00Z), $(loc 9007199254740992 2026-11-27T10:00:00Z),
        $(loc 9007199254740991 2026-11-27T10:00:00Z), $(loc 1000000009 2026-11-27T10:00:00Z),
        $(msg 8 2026-11-27T11:00:00+08:00 wxid_t "next")]}"
    json POST /api/v1/device/events "$batch" "${D[@]}"
    expect_status 200 "$be: a batch with bad times and seqs"
    expect_json 'j["acked_seq"]' 8 "$be: acked_seq is the last good seq, not a refused one"
    expect_json '[(r["seq"], r["reason"]) for r in j["rejected"]]' \
        "[[2, \"ts_out_of_range: ts '9999-12-31T23:59:59Z' $WINDOW\"], [3, \"ts_out_of_range: ts '1970-01-01T00:00:00Z' $WINDOW\"], [5, \"ts_out_of_range: ts '2026-06-01T01:59:59Z' $WINDOW\"], [7, \"ts_out_of_range: ts '2026-11-29T02:00:01Z' $WINDOW\"], [9223372036854775807, \"seq_out_of_range: seq 9223372036854775807 is greater than 9007199254740991 (2^53 - 1)\"], [9007199254740992, \"seq_out_of_range: seq 9007199254740992 is greater than 9007199254740991 (2^53 - 1)\"], [9007199254740991, \"seq_too_far_ahead: seq 9007199254740991 is more than 1000000000 past 7, the highest seq before it\"], [1000000009, \"seq_too_far_ahead: seq 1000000009 is more than 1000000000 past 7, the highest seq before it\"]]" \
        "$be: every bad value is rejected with its reason"
    expect_eq "$(acked)" 8 "$be: the device's acked_seq did not jump"
    expect_eq "$(sql "SELECT count(*) FROM locations")" 2 "$be: the locations at both edges of the window are stored"
    expect_eq "$(sql "SELECT coalesce(seq, -1) FROM quarantine ORDER BY 1" | tr '\n' ' ')" \
        "-1 -1 -1 -1 2 3 5 7 " "$be: every refused event is quarantined, refused seqs without one"
    req GET '/api/v1/messages?limit=200' "${A[@]}"
    expect_json '[m["text"] for m in j["items"]]' '["next", "first"]' "$be: the good messages are stored"
    req GET '/api/v1/customers' "${A[@]}"
    expect_json '[(c["name"], c["last_contact_at"]) for c in j["items"]]' '[["wxid_t", "2026-11-27T03:00:00Z"]]' \
        "$be: the far-future message did not become the customer's last contact"

    # the stream goes on after the refused seqs: 9, then one 10^9 past it is fine
    json POST /api/v1/device/events "{\"events\": [$(loc 9 2026-11-27T12:00:00Z), $(loc 1000000009 2026-11-27T12:00:00Z)]}" "${D[@]}"
    expect_json '(j["acked_seq"], j["rejected"])' '[1000000009, []]' "$be: the next events are stored and acked"
    # a resend: the refused seqs are refused again, nothing else is stored twice
    json POST /api/v1/device/events "$batch" "${D[@]}"
    expect_json '(j["acked_seq"], [r["seq"] for r in j["rejected"]])' \
        '[1000000009, [9223372036854775807, 9007199254740992, 9007199254740991]]' "$be: a resend"
    expect_eq "$(sql "SELECT count(*) FROM messages")" 2 "$be: ... stores no message twice"

    # the quarantine keeps the first 4 KiB of a rejected event, its length and its SHA-256
    local long ev
    long=$(head -c 10000 /dev/zero | tr '\0' 'x')
    ev="{\"seq\": 1000000010, \"type\": \"message\", \"ts\": \"never\", \"text\": \"$long\"}"
    json POST /api/v1/device/events "{\"events\": [$ev]}" "${D[@]}"
    expect_json '(j["acked_seq"], j["rejected"])' \
        "[1000000010, [{\"seq\": 1000000010, \"reason\": \"ts 'never' is not an rfc 3339 time\"}]]" \
        "$be: a 10 KB event is rejected"
    local compact
    compact=$(python3 -c 'import json, sys; sys.stdout.write(json.dumps(json.loads(sys.argv[1]), separators=(",", ":")))' "$ev")
    expect_eq "$(sql "SELECT length(raw) || ' ' || raw_len || ' ' || raw_sha256 FROM quarantine WHERE seq = 1000000010")" \
        "4096 ${#compact} $(printf '%s' "$compact" | sha256sum | cut -d' ' -f1)" \
        "$be: the quarantine row keeps 4096 bytes, the length and the hash"
    expect_eq "$(sql "SELECT raw FROM quarantine WHERE seq = 1000000010")" "${compact:0:4096}" \
        "$be: ... the first 4096 bytes of the event"
    # cut on a character: 3-byte characters never end half way
    long=$(python3 -c 'print("飞" * 3000)')
    ev="{\"seq\": 1000000011, \"type\": \"message\", \"ts\": \"never\", \"text\": \"$long\"}"
    json POST /api/v1/device/events "{\"events\": [$ev]}" "${D[@]}"
    compact=$(python3 -c 'import json, sys; sys.stdout.write(json.dumps(json.loads(sys.argv[1]), separators=(",", ":"), ensure_ascii=False))' "$ev")
    local keep; keep=$(python3 -c 'import sys; b = sys.argv[1].encode(); n = 4096
while b[n] & 0xC0 == 0x80: n -= 1
print(n, len(b))' "$compact")
    local raw_bytes
    if [ -n "$pg_url" ]; then raw_bytes="octet_length(raw)"; else raw_bytes="length(CAST(raw AS BLOB))"; fi
    expect_eq "$(sql "SELECT $raw_bytes || ' ' || raw_len FROM quarantine WHERE seq = 1000000011")" "$keep" \
        "$be: a multi-byte event is cut at the last whole character before 4096 bytes"

    stop_server
}

# --- 3: storage limits per tenant --------------------------------------------------------------
suite_limits() {
    local be=$1
    fresh "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    local me; me=$(jq_ 'j["employee"]["id"]')
    device "$me" SN-Q; local D=(-H "Authorization: Bearer $dtok")

    req GET /api/v1/settings "${A[@]}"
    expect_status 200 "$be: settings"
    expect_json '(j["settings"], j["usage"])' \
        '[{"money_alert_fen": 500000, "locations_off_duty": "drop", "archive_limit_bytes": 107374182400, "media_limit_bytes": 1099511627776, "quarantine_limit_bytes": 268435456, "map_tiles_url": "", "map_crs": "wgs84", "track_accuracy_m": 100, "track_stop_minutes": 10, "attendance_grace_minutes": 5, "devices_limit": null, "insider_unmask_per_hour": 20, "insider_export_per_day": 100}, {"archive_bytes": 0, "media_bytes": 0, "quarantine_bytes": 0, "devices": 1}]' \
        "$be: the default limits, nothing used"

    # a known batch: two messages and one rejected event
    local b1 b2 rej
    b1="{\"events\": [$(msg 1 2026-11-27T10:00:00+08:00 wxid_q "hello quota"), $(msg 2 2026-11-27T10:01:00+08:00 wxid_q "second")]}"
    rej='{"seq": 3, "type": "message", "ts": "never", "text": "bad"}'
    json POST /api/v1/device/events "{\"events\": [$(msg 1 2026-11-27T10:00:00+08:00 wxid_q "hello quota"), $(msg 2 2026-11-27T10:01:00+08:00 wxid_q "second"), $rej]}" "${D[@]}"
    expect_json '(j["acked_seq"], len(j["rejected"]))' '[3, 1]' "$be: the known batch"
    local arch quar
    arch=$(stored_bytes "$b1")
    quar=$(python3 -c 'import json, sys; print(len(json.dumps(json.loads(sys.argv[1]), separators=(",", ":"))))' "$rej")
    req GET /api/v1/settings "${A[@]}"
    expect_json 'j["usage"]' "{\"archive_bytes\": $arch, \"media_bytes\": 0, \"quarantine_bytes\": $quar, \"devices\": 1}" \
        "$be: usage is exact after the batch"

    # media counts its bytes once
    head -c 1000 /dev/urandom >"$TMP/m1.bin"
    local h1; h1=$(sha256sum "$TMP/m1.bin" | cut -d' ' -f1)
    req PUT "/api/v1/device/media/sha256:$h1" --data-binary @"$TMP/m1.bin" "${D[@]}"
    expect_status 201 "$be: a media file"
    req PUT "/api/v1/device/media/sha256:$h1" --data-binary @"$TMP/m1.bin" "${D[@]}"
    expect_status 200 "$be: ... again"
    expect_eq "$(usage media)" 1000 "$be: media usage counts the file once"

    # a batch past the archive limit: 507, nothing stored, acked_seq unchanged
    b2="{\"events\": [$(msg 4 2026-11-27T11:00:00+08:00 wxid_q "past the limit"), $(msg 5 2026-11-27T11:01:00+08:00 wxid_q2 "new peer")]}"
    local need; need=$(stored_bytes "$b2")
    json PUT /api/v1/settings "{\"archive_limit_bytes\": $((arch + need - 1))}" "${A[@]}"
    expect_status 200 "$be: an admin lowers the archive limit"
    expect_json 'j["settings"]["archive_limit_bytes"]' "$((arch + need - 1))" "$be: ... the settings show it"
    json POST /api/v1/device/events "$b2" "${D[@]}"
    expect_error 507 quota_exceeded "$be: a batch past the archive limit"
    expect_json 'j["error"]["message"]' \
        "the tenant's archive limit is reached: $arch of $((arch + need - 1)) bytes used, this needs $need more; an admin can raise 'archive_limit_bytes' in the settings" \
        "$be: ... says which limit and by how much"
    expect_json 'j["error"]["details"]' \
        "{\"limit\": \"archive_limit_bytes\", \"used_bytes\": $arch, \"limit_bytes\": $((arch + need - 1)), \"needed_bytes\": $need}" \
        "$be: ... in its details too"
    expect_eq "$(acked)" 3 "$be: ... acked_seq unchanged"
    expect_eq "$(sql "SELECT count(*) FROM messages") $(sql "SELECT count(*) FROM customers")" "2 1" \
        "$be: ... no message and no customer stored"
    expect_eq "$(usage archive)" "$arch" "$be: ... usage unchanged"
    # a resend of what is stored passes: it needs nothing
    json POST /api/v1/device/events "$b1" "${D[@]}"
    expect_json '(j["acked_seq"], j["rejected"])' '[3, []]' "$be: a resend of stored events passes the limit"
    # raising the limit lets the same batch through
    json PUT /api/v1/settings "{\"archive_limit_bytes\": $((arch + need))}" "${A[@]}"
    json POST /api/v1/device/events "$b2" "${D[@]}"
    expect_status 200 "$be: the same batch once the limit is raised"
    expect_json 'j["acked_seq"]' 5 "$be: ... is acked"
    expect_eq "$(usage archive)" "$((arch + need))" "$be: ... usage is the limit exactly"

    # the quarantine limit: rejected events need room too
    json PUT /api/v1/settings "{\"archive_limit_bytes\": null, \"quarantine_limit_bytes\": $quar}" "${A[@]}"
    expect_json '(j["settings"]["archive_limit_bytes"], j["settings"]["quarantine_limit_bytes"])' \
        "[107374182400, $quar]" "$be: null puts a limit back to its default"
    json POST /api/v1/device/events '{"events": [{"seq": 6, "type": "message", "ts": "never"}]}' "${D[@]}"
    expect_error 507 quota_exceeded "$be: a rejected event past the quarantine limit"
    expect_json 'j["error"]["details"]["limit"]' quarantine_limit_bytes "$be: ... names the quarantine"
    expect_eq "$(acked) $(sql "SELECT count(*) FROM quarantine")" "5 1" "$be: ... nothing quarantined or acked"
    json POST /api/v1/device/events "{\"events\": [$(msg 6 2026-11-27T12:00:00+08:00 wxid_q "fine")]}" "${D[@]}"
    expect_json 'j["acked_seq"]' 6 "$be: good events still pass"

    # the media limit
    json PUT /api/v1/settings '{"media_limit_bytes": 1000}' "${A[@]}"
    head -c 10 /dev/urandom >"$TMP/m2.bin"
    local h2; h2=$(sha256sum "$TMP/m2.bin" | cut -d' ' -f1)
    req PUT "/api/v1/device/media/sha256:$h2" --data-binary @"$TMP/m2.bin" "${D[@]}"
    expect_error 507 quota_exceeded "$be: a media file past the media limit"
    expect_json 'j["error"]["message"]' \
        "the tenant's media limit is reached: 1000 of 1000 bytes used, this needs 10 more; an admin can raise 'media_limit_bytes' in the settings" \
        "$be: ... says so"
    req PUT "/api/v1/device/media/sha256:$h2" -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/m2.bin" "${D[@]}"
    expect_error 507 quota_exceeded "$be: ... also without a Content-Length"
    [ ! -e "$dir/media/${h2:0:2}/${h2:2:2}/$h2" ] || fail "$be: the refused file is not kept"
    req PUT "/api/v1/device/media/sha256:$h1" --data-binary @"$TMP/m1.bin" "${D[@]}"
    expect_status 200 "$be: a file the tenant has passes"
    json PUT /api/v1/settings '{"media_limit_bytes": 1010}' "${A[@]}"
    req PUT "/api/v1/device/media/sha256:$h2" --data-binary @"$TMP/m2.bin" "${D[@]}"
    expect_status 201 "$be: ... and a new one once the limit is raised"
    expect_eq "$(usage media)" 1010 "$be: media usage"

    # bad limits, and the audit rows
    json PUT /api/v1/settings '{"media_limit_bytes": -1}' "${A[@]}"
    expect_error 400 invalid_request "$be: a negative limit"
    expect_json 'j["error"]["message"]' \
        "'media_limit_bytes' must be a whole number of bytes from 0 to 9007199254740991, or null for the default" \
        "$be: ... says what is allowed"
    json PUT /api/v1/settings '{"archive_limit_bytes": "1GB"}' "${A[@]}"
    expect_error 400 invalid_request "$be: a limit that is not a number"
    req GET '/api/v1/audit?action=settings.put&limit=200' "${A[@]}"
    expect_json "[d for d in (json.loads(i['details']) if isinstance(i['details'], str) else i['details'] for i in reversed(j['items']))]" \
        "[{\"archive_limit_bytes\": $((arch + need - 1))}, {\"archive_limit_bytes\": $((arch + need))}, {\"archive_limit_bytes\": null, \"quarantine_limit_bytes\": $quar}, {\"media_limit_bytes\": 1000}, {\"media_limit_bytes\": 1010}]" \
        "$be: each change of a limit is audited"
    stop_server
}

# --- 4 and 5: CSV cells, control characters ------------------------------------------------------
suite_text() {
    local be=$1
    fresh "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    req GET /api/v1/org-units "${A[@]}"
    local hq; hq=$(jq_ 'j["items"][0]["id"]')
    employee s1 "$hq" sales; local s1=$id
    employee s2 "$hq" sales; local s2=$id
    device "$s1" SN-C; local D=(-H "Authorization: Bearer $dtok")

    # customers named like formulas: their names come from the phone's contacts
    python3 - >"$TMP/csv-batch.json" <<'PY'
import json
names = ['=HYPERLINK("http://evil.example/","x")', "@SUM(1)", "+1+2", "-3", "\t=1+2", "\r=1+2",
         '客户, "甲"', "plain"]
print(json.dumps({"events": [
    {"seq": i + 1, "type": "contact", "ts": "2026-11-27T10:00:00+08:00", "channel": "wechat",
     "action": "added", "peer": {"id": "wxid_%d" % i, "name": n}} for i, n in enumerate(names)]}))
PY
    req POST /api/v1/device/events -H 'Content-Type: application/json' --data-binary @"$TMP/csv-batch.json" "${D[@]}"
    expect_json '(j["acked_seq"], j["rejected"])' '[8, []]' "$be: eight customers"
    json POST /api/v1/handovers "{\"from_employee\": \"$s1\", \"to_employee\": \"$s2\", \"reason\": \"transfer\"}" "${A[@]}"
    expect_status 201 "$be: a handover"
    local h; h=$(jq_ 'j["id"]')
    req GET "/api/v1/handovers/$h?format=csv" "${A[@]}"
    expect_status 200 "$be: the report as CSV"
    cat >"$TMP/csv_check.py" <<'PY'
import csv, io, re, sys
raw = open(sys.argv[1], "rb").read().decode()
rows = list(csv.reader(io.StringIO(raw, newline="")))
assert rows[0] == ["customer_id", "customer_name", "to_employee_id"], rows[0]
assert all(len(r) == 3 and r[2] == sys.argv[2] for r in rows[1:]), rows
names = sorted(r[1] for r in rows[1:])
want = ["'\t=1+2", "'\r=1+2", "'+1+2", "'-3", "'=HYPERLINK(\"http://evil.example/\",\"x\")", "'@SUM(1)",
        "plain", '客户, "甲"']
assert names == want, names
cell = r'"(?:[^"]|"")*"'
assert re.fullmatch(r"(?:%s(?:,%s)*\r\n)+" % (cell, cell), raw), "every cell quoted, every row ends in CRLF"
print("ok")
PY
    run python3 "$TMP/csv_check.py" "$TMP/body" "$s2"
    expect_out ok "$be: formula cells begin with a quote, every cell is quoted"

    # control characters in names are refused with 400 naming the field
    json POST /api/v1/org-units "{\"name\": \"A\\tB\", \"parent_id\": \"$hq\", \"kind\": \"region\"}" "${A[@]}"
    expect_error 400 invalid_request "$be: a unit name with a TAB"
    expect_json 'j["error"]["message"]' "'name': org unit name contains a control character (U+0009)" "$be: ... named"
    json POST /api/v1/employees "{\"name\": \"x\\u0085y\", \"org_unit_id\": \"$hq\", \"role\": \"sales\", \"username\": \"c1\", \"password\": \"$PW\"}" "${A[@]}"
    expect_error 400 invalid_request "$be: an employee name with a C1 control"
    expect_json 'j["error"]["message"]' "'name': employee name contains a control character (U+0085)" "$be: ... named"
    req GET "/api/v1/customers?limit=1" "${A[@]}"
    local cid; cid=$(jq_ 'j["items"][0]["id"]')
    json PATCH "/api/v1/customers/$cid" '{"company": "Acme\tLtd"}' "${A[@]}"
    expect_error 400 invalid_request "$be: a company with a TAB"
    expect_json 'j["error"]["message"]' "'company' contains a control character (U+0009)" "$be: ... named"
    json PATCH "/api/v1/customers/$cid" '{"name": "a\u009bb"}' "${A[@]}"
    expect_json '(j["error"]["code"], j["error"]["message"])' \
        "[\"invalid_request\", \"'name' contains a control character (U+009B)\"]" "$be: a customer name with a C1 CSI"
    json PATCH "/api/v1/customers/$cid" '{"notes": "line 1\nline 2\tindented"}' "${A[@]}"
    expect_json '(j.get("error"), j.get("notes"))' '[null, "line 1\nline 2\tindented"]' "$be: notes keep LF and TAB"
    json PATCH "/api/v1/customers/$cid" '{"notes": "a\rb"}' "${A[@]}"
    expect_json 'j["error"]["message"]' "'notes' contains a control character (U+000D)" "$be: ... but not CR"
    json POST "/api/v1/customers/$cid/follow-ups" '{"text": "a\u0085b"}' "${A[@]}"
    expect_json '(j["error"]["code"], j["error"]["message"])' \
        "[\"invalid_request\", \"'text' contains a control character (U+0085)\"]" "$be: a follow-up with a C1 control"
    json POST /api/v1/tags '{"name": "a\u007fb"}' "${A[@]}"
    expect_json '(j["error"]["code"], j["error"]["message"])' \
        "[\"invalid_request\", \"'name' contains a control character (U+007F)\"]" "$be: a tag name with DEL"
    json POST /api/v1/tag-groups '{"name": "g\nx"}' "${A[@]}"
    expect_json '(j["error"]["code"], j["error"]["message"])' \
        "[\"invalid_request\", \"'name' contains a control character (U+000A)\"]" "$be: a tag group name with LF"
    json POST /api/v1/scripts '{"category": "c", "title": "t\u0085", "text": "x"}' "${A[@]}"
    expect_json '(j["error"]["code"], j["error"]["message"])' \
        "[\"invalid_request\", \"'title' contains a control character (U+0085)\"]" "$be: a script title with a C1 control"
    json POST /api/v1/scripts '{"category": "c\u001b[31m", "title": "t", "text": "x"}' "${A[@]}"
    expect_json 'j["error"]["message"]' "'category' contains a control character (U+001B)" "$be: a script category with ESC"
    json POST /api/v1/api-keys '{"name": "k\rx", "role": "auditor"}' "${A[@]}"
    expect_json '(j["error"]["code"], j["error"]["message"])' \
        "[\"invalid_request\", \"name contains a control character (U+000D)\"]" "$be: an API key name with CR"
    json POST /api/v1/sop-rules '{"name": "r\u001b", "interval_hours": 24}' "${A[@]}"
    expect_json '(j["error"]["code"], j["error"]["message"])' \
        "[\"invalid_request\", \"'name' contains a control character (U+001B)\"]" "$be: a rule name with ESC"
    json POST /api/v1/scripts '{"category": "开场", "title": "问候 =1", "text": "第一行\n\t第二行"}' "${A[@]}"
    expect_json '(j["category"], j["title"], j["text"])' '["开场", "问候 =1", "第一行\n\t第二行"]' \
        "$be: names without controls and texts with LF and TAB pass"
    stop_server
}

suite() {
    suite_events "$1"
    suite_limits "$1"
    suite_text "$1"
}
run_suites
