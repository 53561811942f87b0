#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The audit log, on SQLite and PostgreSQL: writes through the API leave rows, GET /api/v1/audit
# lists them, and `workphone audit verify` finds a row edited, removed or inserted behind
# workphone's back (with sqlite3 or psql), naming that row.
. "$(dirname "$0")/lib_api.sh"
# The events carry fixed dates of late November 2026; the server accepts device times within
# 180 days of its own (src/ingest/event.c), so its clock is fixed beside them.
export WORKPHONE_FAKE_NOW=2026-11-27T08:00:00Z

BATCH='{"events": [
 {"seq": 1, "type": "message", "ts": "2026-11-20T09:00:00+08:00", "channel": "wechat",
  "direction": "out", "peer": {"id": "wxid_k2", "phone": "13800138000"}, "chat": "wxid_k2",
  "msgtype": "text", "text": "这款产品保本保息"}
]}'
LEXICON='保本保息	guarantee	alert
飞单	private_deal	block
'

# verify WHAT: runs `workphone audit verify` on the stopped store
verify() {
    run "$WP" audit verify --data "$dir" "${db_args[@]}" "$@"
}

suite() { # backend
    local be=$1
    setup_store "$be"
    verify
    expect_rc 0 "$be: verify after init"
    expect_out "ok: 2 rows" "$be: init writes two rows"
    [ "$(stat -c %a "$dir/keys")" = 700 ] || fail "$be: keys/ is 0700"
    [ "$(stat -c %a "$dir/keys/audit.key")" = 600 ] || fail "$be: audit.key is 0600"

    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin wrong-password
    expect_status 401 "$be: a failed login"
    login admin
    expect_status 200 "$be: login"
    local emp; emp=$(jq_ 'j["employee"]["id"]')
    A=(-H "Authorization: Bearer $tok")

    # --- writes that leave rows -------------------------------------------------------------
    req PUT /api/v1/lexicon -H 'Content-Type: text/plain' --data-binary "$LEXICON" "${A[@]}"
    expect_status 200 "$be: lexicon put"
    req PUT /api/v1/lexicon -H 'Content-Type: text/plain' --data-binary 'x	nope	nope' "${A[@]}"
    expect_status 400 "$be: a bad lexicon changes nothing"
    json PUT /api/v1/settings '{"money_alert_fen": 700}' "${A[@]}"
    expect_status 200 "$be: settings put"
    # the phone is a salesperson's: nobody handles the alerts about itself
    req GET /api/v1/auth/session "${A[@]}"
    json POST /api/v1/employees "{\"name\": \"Sella\", \"role\": \"sales\", \"username\": \"sella\",
        \"password\": \"s3cret-pass\", \"org_unit_id\": \"$(jq_ 'j["employee"]["org_unit_id"]')\"}" "${A[@]}"
    expect_status 201 "$be: a salesperson"
    local sella; sella=$(jq_ 'j["id"]')
    json POST "/api/v1/employees/$sella/enrollment-codes" '{"ttl_s": 600}' "${A[@]}"
    expect_status 201 "$be: enrollment code"
    local code; code=$(jq_ 'j["code"]')
    json POST /api/v1/device/enroll "{\"code\": \"$code\", \"serial\": \"SN-7\", \"model\": \"P60\"}"
    expect_status 201 "$be: enroll"
    local device; device=$(jq_ 'j["device_id"]')
    local D=(-H "Authorization: Bearer $(jq_ 'j["token"]')")
    json POST /api/v1/device/events "$BATCH" "${D[@]}"
    expect_json 'j["acked_seq"]' 1 "$be: events"
    local alert; alert=$(jq_ 'j["alerts"][0]["id"]')
    json PATCH "/api/v1/alerts/$alert" '{"status": "acknowledged"}' "${A[@]}"
    expect_status 200 "$be: alert status"
    json PATCH "/api/v1/alerts/$alert" '{"status": "done"}' "${A[@]}"
    expect_status 400 "$be: a bad alert status changes nothing"

    # --- the list --------------------------------------------------------------------------
    req GET /api/v1/audit "${A[@]}"
    expect_status 200 "$be: audit list"
    # login rows come from the auth handler; whether they are there yet does not matter here
    expect_json '[i["action"] for i in j["items"] if not i["action"].startswith("auth.")]' \
        '["alert.update", "device.enroll", "enrollment_code.create", "employee.create", "settings.put", "lexicon.put", "employee.create", "tenant.create"]' \
        "$be: one row per write, newest first"
    expect_json 'all(a["seq"] == b["seq"] + 1 and a["prev_hash"] == b["hash"] for a, b in zip(j["items"], j["items"][1:]))' \
        true "$be: each row chains to the one before"
    expect_json 'j["items"][-1]["seq"], j["items"][-1]["prev_hash"] == "0" * 64' "[1, true]" \
        "$be: the chain starts at 1 from zeros"
    expect_json 'sorted(j["items"][0].keys())' \
        '["action", "actor", "client", "details", "hash", "id", "prev_hash", "seq", "target", "ts"]' \
        "$be: item fields"
    expect_json '[(i["actor"], i["target"], i["details"], i["client"]) for i in j["items"] if i["action"] == "alert.update"][0]' \
        "[\"employee:$emp\", \"alert:$alert\", {\"status\": \"acknowledged\"}, \"127.0.0.1\"]" \
        "$be: an alert's row"
    expect_json '[(i["actor"], i["target"], i["details"]["employee_id"]) for i in j["items"] if i["action"] == "device.enroll"][0]' \
        "[\"device:$device\", \"device:$device\", \"$sella\"]" "$be: an enrollment's row"
    expect_json '[(i["actor"], i["details"]["name"]) for i in j["items"] if i["action"] == "tenant.create"][0]' \
        '["system", "Acme"]' "$be: init's row"
    checks=$((checks + 1))
    case "$body" in *"$code"*) fail "$be: the enrollment code is in the audit log";; esac
    local total; total=$(jq_ 'len(j["items"])')

    req GET '/api/v1/audit?action=settings.' "${A[@]}"
    expect_json '[i["action"] for i in j["items"]]' '["settings.put"]' "$be: action is a prefix"
    req GET '/api/v1/audit?actor=system' "${A[@]}"
    expect_json '[i["action"] for i in j["items"]]' '["employee.create", "tenant.create"]' "$be: by actor"
    req GET "/api/v1/audit?target=alert:$alert" "${A[@]}"
    expect_json 'len(j["items"])' 1 "$be: by target"
    req GET '/api/v1/audit?to=2000-01-01T00:00:00Z' "${A[@]}"
    expect_json 'j["items"]' '[]' "$be: by time"
    req GET '/api/v1/audit?limit=2' "${A[@]}"
    expect_json 'len(j["items"])' 2 "$be: a page"
    local cursor; cursor=$(jq_ 'j["next_cursor"]')
    req GET "/api/v1/audit?limit=200&cursor=$cursor" "${A[@]}"
    expect_json 'len(j["items"])' $((total - 2)) "$be: the next page"
    req GET '/api/v1/audit?cursor=bad' "${A[@]}"
    expect_error 400 invalid_request "$be: a bad cursor"
    # an empty filter is no filter; a customer is an id, a field no longer than a row's
    req GET '/api/v1/audit?actor=&action=&target=&customer=&limit=200' "${A[@]}"
    expect_json 'len(j["items"])' "$total" "$be: empty filters filter nothing"
    req GET '/api/v1/audit?customer=nope' "${A[@]}"
    expect_error 400 invalid_request "$be: a customer that is not an id"
    expect_json 'j["error"]["message"]' "'customer' is not an id" "$be: ... says so"
    req GET "/api/v1/audit?target=$(printf 'x%.0s' $(seq 257))" "${A[@]}"
    expect_error 400 invalid_request "$be: a target longer than a row's"
    expect_json 'j["error"]["message"]' "'target' is longer than 256 bytes" "$be: ... says so"
    req GET "/api/v1/audit?customer=$(printf 'c%.0s' $(seq 24))" "${A[@]}"
    expect_json 'j["items"]' '[]' "$be: a customer nobody read"
    local q
    for q in limit=0 limit=201 limit=x from=yesterday to=2026-13-01T00:00:00Z; do
        req GET "/api/v1/audit?$q" "${A[@]}"
        expect_error 400 invalid_request "$be: ?$q"
    done
    req GET /api/v1/audit/verify "${A[@]}"
    expect_json '(j["ok"], j["rows"], j["first_bad"])' "[true, $total, null]" "$be: verify over HTTP"
    stop_server

    # --- rights: auditors read the log, others do not ----------------------------------------
    sql "INSERT INTO employees (tenant_id, id, org_unit_id, name, username, role, password_hash,
         active, created_us) SELECT tenant_id, 'aaaaaaaaaaaaaaaaaaaaaaa1', org_unit_id, 'Audrey',
         'audrey', 'auditor', password_hash, 1, 0 FROM employees WHERE username = 'admin'" >/dev/null
    sql "INSERT INTO employees (tenant_id, id, org_unit_id, name, username, role, password_hash,
         active, created_us) SELECT tenant_id, 'aaaaaaaaaaaaaaaaaaaaaaa2', org_unit_id, 'Sam',
         'sam', 'sales', password_hash, 1, 0 FROM employees WHERE username = 'admin'" >/dev/null
    # a row's details edited behind workphone's back into something not an object: the list
    # shows them as the text they are, and verify names the row
    local details2; details2=$(sql "SELECT details FROM audit_log WHERE seq = 2")
    sql "UPDATE audit_log SET details = '[1]' WHERE seq = 2" >/dev/null
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login audrey
    req GET '/api/v1/audit?limit=200' -H "Authorization: Bearer $tok"
    expect_status 200 "$be: an auditor reads the log"
    expect_json '[i["details"] for i in j["items"] if i["seq"] == 2]' '["[1]"]' \
        "$be: details that are no object are shown as their text"
    req GET /api/v1/audit/verify -H "Authorization: Bearer $tok"
    expect_json '(j["ok"], j["first_bad"]["seq"], j["first_bad"]["why"])' \
        '[false, 2, "row altered: its hash does not match its contents"]' \
        "$be: an auditor verifies, and the edited row is named"
    login sam
    req GET /api/v1/audit -H "Authorization: Bearer $tok"
    expect_error 403 forbidden "$be: a salesperson does not"
    stop_server
    sql "UPDATE audit_log SET details = '${details2//\'/\'\'}' WHERE seq = 2" >/dev/null
    total=$(sql "SELECT count(*) FROM audit_log")

    # --- tampering, found by the offline verify ----------------------------------------------
    verify
    expect_rc 0 "$be: verify an intact log"
    expect_out "ok: $total rows" "$be: ... counts every row"
    verify --tenant Acme
    expect_out "ok: $total rows" "$be: ... of one tenant"
    verify --tenant Nope
    expect_rc 2 "$be: an unknown tenant"

    local id3 id4 details3
    id3=$(sql "SELECT id FROM audit_log WHERE seq = 3")
    id4=$(sql "SELECT id FROM audit_log WHERE seq = 4")
    details3=$(sql "SELECT details FROM audit_log WHERE seq = 3")
    sql "UPDATE audit_log SET details = '{\"version\":1}' WHERE seq = 3" >/dev/null
    verify
    expect_rc 1 "$be: an edited row"
    expect_out_has "row 3 (id $id3): row altered" "$be: ... is named"
    sql "UPDATE audit_log SET details = '${details3//\'/\'\'}' WHERE seq = 3" >/dev/null
    verify
    expect_rc 0 "$be: the row put back"

    sql "CREATE TABLE audit_saved AS SELECT * FROM audit_log WHERE seq = 3" >/dev/null
    sql "DELETE FROM audit_log WHERE seq = 3" >/dev/null
    verify
    expect_rc 1 "$be: a removed row"
    expect_out_has "row 4 (id $id4): row 3 removed" "$be: ... is named"
    sql "INSERT INTO audit_log SELECT * FROM audit_saved" >/dev/null
    sql "DROP TABLE audit_saved" >/dev/null
    verify
    expect_rc 0 "$be: the row put back"

    sql "INSERT INTO audit_log (tenant_id, seq, id, ts_us, actor, action, target, details, client,
         prev_hash, hash) SELECT tenant_id, seq + 1, 'ffffffffffffffffffffffff', ts_us, 'system',
         'employee.delete', target, details, client, hash, hash FROM audit_log
         WHERE seq = (SELECT max(seq) FROM audit_log)" >/dev/null
    verify
    expect_rc 1 "$be: an inserted row"
    expect_out_has "row $((total + 1)) (id ffffffffffffffffffffffff): row inserted" "$be: ... is named"
    sql "DELETE FROM audit_log WHERE id = 'ffffffffffffffffffffffff'" >/dev/null
    verify
    expect_rc 0 "$be: the row taken out"

    sql "DELETE FROM audit_log WHERE seq = $total" >/dev/null
    verify
    expect_rc 1 "$be: the last row removed"
    expect_out_has "row $total (id none: the row is gone): row $total removed from the end" \
        "$be: ... is named"

    # the server still starts and appends after the head (its login may be such a row), so
    # the missing row is now a gap before a genuine one; its verify names it too
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    req GET /api/v1/audit/verify -H "Authorization: Bearer $tok"
    expect_json '(j["ok"], j["first_bad"]["why"].startswith("row '"$total"' removed"))' \
        '[false, true]' "$be: verify over HTTP names it too"
    stop_server

    # no key, no verify
    mv "$dir/keys/audit.key" "$dir/keys/saved.key"
    verify
    expect_rc 1 "$be: verify without the key"
    expect_err_has "audit key" "$be: ... says so"
    # nor does the server make a new key beside an existing log: every row would look altered
    run "$WP" serve --data "$dir" --listen 127.0.0.1:0 "${db_args[@]}"
    expect_rc 1 "$be: serve refuses a missing key when there is a log"
    expect_err_has "audit.key is missing" "$be: ... and says which file"
    [ ! -e "$dir/keys/audit.key" ] || fail "$be: serve made a new key"
    mv "$dir/keys/saved.key" "$dir/keys/audit.key"
    end_suite "$be"
}

# The end of the log (migration 0016): rows cut off it are found whatever else was edited
# with them, and a signed checkpoint catches even a log rewritten with the key.
end_suite() { # backend
    local be=$1 n cp line
    setup_store "$be" "$be-end"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    for fen in 100 200 300; do
        json PUT /api/v1/settings "{\"money_alert_fen\": $fen}" "${A[@]}"
        expect_status 200 "$be: settings put"
    done
    stop_server
    # serve wrote a signed checkpoint of each chain it moved into its log when it stopped
    cp=$(grep 'event=audit_checkpoint ' "$TMP/serve.err" | tail -n 1)
    n=$(sql "SELECT max(seq) FROM audit_log")
    case "$cp" in *" seq=$n "*) ;; *) rc=x out="$cp" err=""; fail "$be: serve logs a checkpoint of row $n";; esac
    verify --checkpoint "$cp"
    expect_rc 0 "$be: the log holds serve's checkpoint"
    expect_out_has "ok: $n rows" "$be: ... and says how many rows"
    run "$WP" audit checkpoint --data "$dir" "${db_args[@]}"
    expect_rc 0 "$be: audit checkpoint"
    expect_out_has "event=audit_checkpoint tenant=" "$be: ... prints a checkpoint line"
    expect_out_has " seq=$n " "$be: ... of the last row"
    line=$out
    verify --checkpoint "$line"
    expect_rc 0 "$be: the log holds it"
    verify --checkpoint "${line/ seq=$n / seq=$((n - 1)) }"
    expect_rc 1 "$be: a checkpoint edited by hand"
    expect_out_has "signature does not verify" "$be: ... is refused"
    verify --checkpoint "${line/ seq=$n / seq=0 }"
    expect_rc 2 "$be: a checkpoint line that is not one"
    expect_err_has "--checkpoint: checkpoint: 'seq' is not a row number" "$be: ... names the field"
    verify --checkpoint "event=audit_checkpoint tenant=$(printf 'a%.0s' $(seq 24))"
    expect_rc 2 "$be: a checkpoint line cut short"
    expect_err_has "no 'seq=' in the line" "$be: ... names what is missing"
    run "$WP" audit public-key --data "$dir"
    expect_rc 0 "$be: the public key"
    [ "${#out}" = 64 ] || fail "$be: the public key is 64 hex digits"
    verify --checkpoint "$line" --public-key "$out"
    expect_rc 0 "$be: checked with the public key given"
    verify --checkpoint "$line" --public-key "$(printf '0%.0s' $(seq 64))"
    expect_rc 1 "$be: ... and not with another"

    sql "CREATE TABLE saved_log AS SELECT * FROM audit_log" >/dev/null
    sql "CREATE TABLE saved_heads AS SELECT * FROM audit_heads" >/dev/null
    sql "CREATE TABLE saved_tenant AS SELECT audit_seq, audit_hash, audit_mac FROM tenants" >/dev/null
    restore() {
        sql "DELETE FROM audit_log" >/dev/null
        sql "INSERT INTO audit_log SELECT * FROM saved_log" >/dev/null
        sql "DELETE FROM audit_heads" >/dev/null
        sql "INSERT INTO audit_heads SELECT * FROM saved_heads" >/dev/null
        sql "UPDATE tenants SET audit_seq = (SELECT audit_seq FROM saved_tenant),
             audit_hash = (SELECT audit_hash FROM saved_tenant),
             audit_mac = (SELECT audit_mac FROM saved_tenant)" >/dev/null
        verify
        expect_rc 0 "$be: the log put back"
    }

    # the last rows deleted
    sql "DELETE FROM audit_log WHERE seq > $((n - 2))" >/dev/null
    verify
    expect_rc 1 "$be: the last rows deleted"
    expect_out_has "rows $((n - 1))-$n removed from the end" "$be: ... are named"
    # ... and the head set back to the last row kept, or deleted: the tenant's record says n
    sql "UPDATE audit_heads SET seq = $((n - 2)),
         hash = (SELECT hash FROM audit_log WHERE seq = $((n - 2)))" >/dev/null
    verify
    expect_rc 1 "$be: the last rows deleted, the head set back"
    expect_out_has "rows $((n - 1))-$n removed from the end (the tenant's length record says $n)" \
        "$be: ... found by the tenant's record"
    sql "DELETE FROM audit_heads" >/dev/null
    verify
    expect_rc 1 "$be: the last rows and the head deleted"
    expect_out_has "rows $((n - 1))-$n removed from the end (the tenant's length record says $n)" \
        "$be: ... found by the tenant's record"
    # ... and the tenant's record made to fit, without the key
    sql "INSERT INTO audit_heads (tenant_id, seq, hash) SELECT tenant_id, seq, hash FROM audit_log
         WHERE seq = $((n - 2))" >/dev/null
    sql "UPDATE tenants SET audit_seq = $((n - 2)),
         audit_hash = (SELECT hash FROM audit_log WHERE seq = $((n - 2)))" >/dev/null
    verify
    expect_rc 1 "$be: the tenant's record forged"
    expect_out_has "length record is forged" "$be: ... is found"
    restore

    # the whole log and its head deleted
    sql "DELETE FROM audit_log" >/dev/null
    sql "DELETE FROM audit_heads" >/dev/null
    verify
    expect_rc 1 "$be: the whole log deleted"
    expect_out_has "rows 1-$n removed from the end: the whole log was deleted" "$be: ... is found"
    restore

    # whoever holds the audit key deletes everything and lets workphone write a new log: it
    # verifies on its own, but no longer holds the checkpoint taken before
    sql "DELETE FROM audit_log" >/dev/null
    sql "DELETE FROM audit_heads" >/dev/null
    sql "UPDATE tenants SET audit_seq = NULL, audit_hash = NULL, audit_mac = NULL" >/dev/null
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    for fen in 100 200 300 400 500 600; do
        json PUT /api/v1/settings "{\"money_alert_fen\": $fen}" "${A[@]}"
    done
    stop_server
    verify
    expect_rc 0 "$be: a log rewritten with the key verifies alone"
    verify --checkpoint "$line"
    expect_rc 1 "$be: ... but not against the checkpoint"
    expect_out_has "rewritten since" "$be: ... which says why"
}

run "$WP" audit --help
expect_rc 0 "audit --help"
expect_out_has "usage: workphone audit verify" "audit --help shows the usage"
run "$WP" audit verify
expect_rc 2 "audit verify without --data"
run "$WP" audit check --data "$TMP"
expect_rc 2 "an unknown subcommand"
run "$WP" audit verify --data "$TMP"
expect_rc 2 "a dir that is no data dir"

run_suites
