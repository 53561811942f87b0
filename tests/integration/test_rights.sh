#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Rights the role matrix missed (issue 13), over real sockets on SQLite and PostgreSQL: who
# handles an alert (never the one it is about), who hands over, changes or deactivates whom,
# API keys that end with their creator's rights, the pool's 404 for customers out of scope,
# who may make the server compile a lexicon and how big, and media that a viewer reaches only
# through messages of the device that uploaded it. Each attack is performed and its exact
# refusal asserted; the allowed cases assert status and body.
. "$(dirname "$0")/lib_api.sh"

# events DEVTOKEN SEQ PEER TEXT [MEDIA]: one message from a device, acked
events() {
    local m=""
    [ -n "${5:-}" ] && m=", \"msgtype\": \"file\", \"media\": \"$5\", \"filename\": \"a.pdf\", \"size\": 4"
    [ -z "$m" ] && m=", \"msgtype\": \"text\", \"text\": \"$4\""
    json POST /api/v1/device/events "{\"events\": [{\"seq\": $2, \"type\": \"message\",
        \"ts\": \"2026-11-25T09:0$2:00+08:00\", \"channel\": \"wechat\", \"direction\": \"out\",
        \"peer\": {\"id\": \"wxid_$3\", \"name\": \"客户$3\", \"phone\": \"1380000$3\"},
        \"chat\": \"wxid_$3\"$m}]}" -H "Authorization: Bearer $1"
    expect_json 'j["acked_seq"]' "$2" "$be: device reports seq $2"
}

alert_of() { # EMPLOYEE: the id of its newest alert (admin view)
    req GET "/api/v1/alerts?employee=$1&limit=1" "${A[@]}"
    jq_ 'j["items"][0]["id"]'
}

patch_alert() { # ID STATUS CREDENTIAL...
    local id=$1 s=$2; shift 2
    json PATCH "/api/v1/alerts/$id" "{\"status\": \"$s\", \"comment\": \"已处理\"}" "$@"
}

key() { # NAME ROLE [UNIT] CREDENTIAL...: an API key; sets $kid and $ktok
    local name=$1 role=$2 u=$3; shift 3
    local ub=""
    [ -n "$u" ] && ub=", \"org_unit_id\": \"$u\""
    json POST /api/v1/api-keys "{\"name\": \"$name\", \"role\": \"$role\"$ub}" "$@"
    expect_status 201 "$be: create key $name"
    kid=$(jq_ 'j["id"]')
    ktok=$(jq_ 'j["key"]')
}

key_revocations() { # KEY ID: [reason, creator] of its api_key.revoke audit rows
    req GET "/api/v1/audit?action=api_key.revoke&target=api_key:$1" "${A[@]}"
    jq_ '[[i["details"]["reason"], i["details"]["creator"]] for i in j["items"]]'
}

upload() { # FILE REF DEVTOKEN
    req PUT "/api/v1/device/media/$2" --data-binary "@$1" -H "Authorization: Bearer $3"
}

suite() { # backend
    be=$1
    setup_store "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    req GET /api/v1/auth/session "${A[@]}"
    local admin_id hq; admin_id=$(jq_ 'j["employee"]["id"]'); hq=$(jq_ 'j["employee"]["org_unit_id"]')
    unit "Region A" "$hq" region; local ra=$id
    unit "Store A1" "$ra" store; local sa1=$id
    unit "Region B" "$hq" region; local rb=$id
    employee mgra "$ra" manager; local mgra=$id
    employee mgra2 "$ra" manager; local mgra2=$id # a peer of mgra in its own unit
    employee mgrs "$sa1" manager; local mgrs=$id  # a manager of a unit below mgra's
    employee s0 "$ra" sales; local s0=$id         # a salesperson in mgra's own unit
    employee s1 "$sa1" sales; local s1=$id
    employee s2 "$sa1" sales; local s2=$id
    employee sb "$rb" sales; local sb=$id
    employee aud "$hq" auditor; local aud=$id
    employee admin2 "$hq" admin; local admin2=$id
    employee admin3 "$ra" admin; local admin3=$id # an admin placed in region A
    employee aud3 "$ra" auditor; local aud3=$id   # an auditor placed in region A
    login mgra; local MA=(-H "Authorization: Bearer $tok")
    login mgra2; local MA2=(-H "Authorization: Bearer $tok")
    login s1; local T1=(-H "Authorization: Bearer $tok")
    login s2; local T2=(-H "Authorization: Bearer $tok")
    login sb; local TB=(-H "Authorization: Bearer $tok")
    login aud; local AU=(-H "Authorization: Bearer $tok")
    login admin2; local A2=(-H "Authorization: Bearer $tok")

    # phones that break the lexicon: alerts about s1, sb, mgrs, mgra and the admin
    device "$s1" SN-S1; local d1=$dtok
    device "$s2" SN-S2; local d2=$dtok
    device "$sb" SN-SB; local db=$dtok
    device "$mgrs" SN-MS; local dms=$dtok
    device "$mgra" SN-MA; local dma=$dtok
    device "$admin_id" SN-AD; local dad=$dtok
    events "$d1" 1 11 "这单可以飞单"
    events "$d1" 2 12 "您好"
    events "$d2" 1 21 "您好"
    events "$db" 1 31 "这单可以飞单"
    events "$dms" 1 41 "这单可以飞单"
    events "$dma" 1 51 "这单可以飞单"
    events "$dad" 1 61 "这单可以飞单"
    local al1 alb alms alma alad
    al1=$(alert_of "$s1"); alb=$(alert_of "$sb"); alms=$(alert_of "$mgrs")
    alma=$(alert_of "$mgra"); alad=$(alert_of "$admin_id")

    # === 1. alerts: handled by those over the employee, never by the employee itself ==========
    patch_alert "$al1" acknowledged "${T1[@]}"
    expect_error 403 forbidden "$be: a salesperson cannot acknowledge its own alert"
    expect_json 'j["error"]["message"]' "the role 'sales' may not use PATCH /api/v1/alerts/{id}" \
        "$be: ... refused by the route's right"
    patch_alert "$al1" acknowledged "${MA[@]}"
    expect_status 200 "$be: the manager over s1 acknowledges its alert"
    expect_json 'j' "{\"id\": \"$al1\", \"status\": \"acknowledged\", \"comment\": \"已处理\", \"handled_by\": \"employee:$mgra\"}" \
        "$be: ... and the answer is exactly the alert's new state"
    patch_alert "$alms" resolved "${MA[@]}"
    expect_status 200 "$be: ... and the alert of a manager of a unit below"
    patch_alert "$alma" resolved "${MA[@]}"
    expect_error 403 forbidden "$be: a manager cannot handle an alert about itself"
    patch_alert "$alma" resolved "${MA2[@]}"
    expect_error 403 forbidden "$be: ... nor can a peer manager of its own unit"
    patch_alert "$alb" resolved "${MA[@]}"
    expect_error 404 not_found "$be: an alert of another region does not exist for the manager"
    patch_alert "$alad" resolved "${A[@]}"
    expect_error 403 forbidden "$be: an admin cannot handle an alert about itself"
    patch_alert "$alad" resolved "${A2[@]}"
    expect_status 200 "$be: ... another admin can"
    patch_alert "$alma" acknowledged "${A[@]}"
    expect_status 200 "$be: ... and the manager's own alert goes to an admin"
    req GET "/api/v1/alerts?limit=200" "${A[@]}"
    expect_json "[{a['id']: a['status'] for a in j['items']}[x] for x in ('$al1', '$alms', '$alma', '$alad', '$alb')]" \
        '["acknowledged", "resolved", "acknowledged", "resolved", "open"]' "$be: refused changes changed nothing"
    # the auditor: handles alerts by the tenant's role setting, on by default
    req GET /api/v1/roles "${A[@]}"
    expect_json '[(r["role"], r["handle_alerts"], "handle_alerts" in r["rights"]) for r in j["items"]]' \
        '[["admin", true, true], ["manager", true, true], ["auditor", true, true], ["sales", false, false]]' \
        "$be: who handles alerts by default"
    key "Compliance BI" auditor "" "${A[@]}"; local AK=(-H "Authorization: Bearer $ktok")
    patch_alert "$alb" acknowledged "${AU[@]}"
    expect_status 200 "$be: the auditor handles an alert by default"
    expect_json 'j["handled_by"]' "employee:$aud" "$be: ... as itself"
    patch_alert "$alb" resolved "${AK[@]}"
    expect_status 200 "$be: ... and so does an auditor API key"
    json PUT /api/v1/roles/auditor '{"handle_alerts": false}' "${A[@]}"
    expect_status 200 "$be: the admin takes handle_alerts from auditors"
    expect_json '(j["handle_alerts"], j["rights"])' '[false, ["session", "read", "unmask", "audit"]]' \
        "$be: ... and the role's rights say so"
    patch_alert "$alb" open "${AU[@]}"
    expect_error 403 forbidden "$be: the auditor no longer handles alerts"
    patch_alert "$alb" open "${AK[@]}"
    expect_error 403 forbidden "$be: ... nor does its API key"
    json PUT /api/v1/roles/sales '{"handle_alerts": true}' "${A[@]}"
    expect_error 400 invalid_request "$be: handle_alerts cannot be granted to sales"
    json PUT /api/v1/roles/auditor '{"handle_alerts": true}' "${A[@]}"
    patch_alert "$alb" open "${AK[@]}"
    expect_status 200 "$be: given back, the auditor key handles alerts again"

    # === 2. handovers and employee changes: only over those below, never oneself ==============
    local to_self="{\"from_employee\": \"$s0\", \"to_employee\": \"$mgra\", \"reason\": \"transfer\"}"
    for case in "$admin3:departure:an admin" "$aud3:departure:an auditor" \
        "$mgra2:departure:a peer manager of its own unit"; do
        IFS=: read -r who reason what <<<"$case"
        json POST /api/v1/handovers "{\"from_employee\": \"$who\", \"to_employee\": \"$s0\", \"reason\": \"$reason\"}" "${MA[@]}"
        expect_error 403 forbidden "$be: a manager cannot hand over $what"
    done
    json POST /api/v1/handovers "$to_self" "${MA[@]}"
    expect_error 403 forbidden "$be: a manager cannot hand customers to itself"
    req GET "/api/v1/employees/$admin3" "${A[@]}"
    expect_json 'j["active"]' true "$be: the admin in region A is still active"
    json POST /api/v1/handovers "{\"from_employee\": \"$s1\", \"to_employee\": \"$s2\", \"reason\": \"departure\"}" "${MA[@]}"
    expect_status 201 "$be: the manager hands over its salesperson of a unit below"
    expect_json '(j["from_employee"], j["to_employees"], j["customers_moved"], j["sessions_revoked"], j["devices_revoked"], j["api_keys_revoked"])' \
        "[\"$s1\", [\"$s2\"], 2, 1, 1, 0]" "$be: ... with exact counts"
    json POST /api/v1/handovers "{\"from_employee\": \"$mgrs\", \"to_employee\": \"$s2\", \"reason\": \"transfer\"}" "${MA[@]}"
    expect_status 201 "$be: ... and a manager of a unit below"
    expect_json 'j["customers_moved"]' 1 "$be: ... moving its one customer"

    # === 3. API keys act for their creator and end with its rights ============================
    key "CRM" admin "" "${A2[@]}"; local k1=$kid K1=(-H "Authorization: Bearer $ktok")
    req GET /api/v1/employees "${K1[@]}"
    expect_status 200 "$be: admin2's key works"
    json PATCH "/api/v1/employees/$admin2" '{"active": false}' "${A[@]}"
    expect_status 200 "$be: admin2 is deactivated"
    req GET /api/v1/employees "${K1[@]}"
    expect_error 401 unauthorized "$be: ... and its key stops at once"
    expect_eq "$(key_revocations "$k1")" "[[\"creator_inactive\", \"$admin2\"]]" \
        "$be: ... revoked with one audit row naming why"
    json PATCH "/api/v1/employees/$admin2" '{"active": true}' "${A[@]}"
    req GET /api/v1/employees "${K1[@]}"
    expect_error 401 unauthorized "$be: ... and stays revoked when admin2 comes back"
    login admin2; A2=(-H "Authorization: Bearer $tok")
    key "ERP" admin "" "${A2[@]}"; local k2=$kid K2=(-H "Authorization: Bearer $ktok")
    key "Region A BI" manager "$ra" "${A2[@]}"; local k3=$kid K3=(-H "Authorization: Bearer $ktok")
    key "Nested" admin "" "${K2[@]}"; local K4=(-H "Authorization: Bearer $ktok")
    expect_json 'j["created_by"]' "$admin2" "$be: a key made by a key acts for the same person"
    json PATCH "/api/v1/employees/$admin2" "{\"role\": \"manager\", \"org_unit_id\": \"$hq\"}" "${A[@]}"
    expect_status 200 "$be: admin2 becomes a manager of the top unit"
    local ok='"name": "New admin", "role": "admin", "password": "s3cret-pass"'
    json POST /api/v1/employees "{$ok, \"org_unit_id\": \"$hq\", \"username\": \"newadmin\"}" "${K2[@]}"
    expect_error 401 unauthorized "$be: its admin key can no longer create an admin"
    json POST /api/v1/employees "{$ok, \"org_unit_id\": \"$hq\", \"username\": \"newadmin\"}" "${K4[@]}"
    expect_error 401 unauthorized "$be: ... nor can the key that key made"
    expect_eq "$(key_revocations "$k2")" "[[\"creator_role\", \"$admin2\"]]" "$be: ... revoked, audited"
    req GET /api/v1/customers "${K3[@]}"
    expect_status 200 "$be: its manager key of region A lives on: it manages region A"
    json PATCH "/api/v1/employees/$admin2" "{\"org_unit_id\": \"$rb\"}" "${A[@]}"
    req GET /api/v1/customers "${K3[@]}"
    expect_error 401 unauthorized "$be: moved to region B, it no longer holds region A's key"
    expect_eq "$(key_revocations "$k3")" "[[\"creator_unit\", \"$admin2\"]]" "$be: ... revoked, audited"
    req GET "/api/v1/employees?q=newadmin" "${A[@]}"
    expect_json '[e["username"] for e in j["items"] if e["username"] == "newadmin"]' '[]' \
        "$be: no admin was created"
    # held at authentication too, whatever wrote the change
    key "Direct" admin "" "${A[@]}"; local K5=(-H "Authorization: Bearer $ktok") k5=$kid
    sql "UPDATE employees SET role = 'auditor' WHERE id = '$admin_id'" >/dev/null
    req GET /api/v1/employees "${K5[@]}"
    expect_error 401 unauthorized "$be: a key whose creator lost the role in the store is refused"
    sql "UPDATE employees SET role = 'admin' WHERE id = '$admin_id'" >/dev/null
    sql "UPDATE api_keys SET created_by = NULL WHERE id = '$k5'" >/dev/null
    req GET /api/v1/employees "${K5[@]}"
    expect_error 401 unauthorized "$be: a key with no known creator is refused"
    # a departure ends the leaver's keys, each with its audit row
    login admin3; local A3=(-H "Authorization: Bearer $tok")
    key "Leaver's" admin "" "${A3[@]}"; local k6=$kid K6=(-H "Authorization: Bearer $ktok")
    json POST /api/v1/handovers "{\"from_employee\": \"$admin3\", \"to_employee\": \"$s0\", \"reason\": \"departure\"}" "${A[@]}"
    expect_status 201 "$be: an admin hands over a leaving admin"
    expect_json 'j["api_keys_revoked"]' 1 "$be: ... one key ended"
    req GET /api/v1/employees "${K6[@]}"
    expect_error 401 unauthorized "$be: ... and refused"
    expect_eq "$(key_revocations "$k6")" "[[\"creator_inactive\", \"$admin3\"]]" "$be: ... audited"

    # === 4. the pool: out of scope is 404, before any pool state ==============================
    req GET "/api/v1/customers?owner=$sb" "${A[@]}"
    local cb; cb=$(jq_ 'j["items"][0]["id"]')
    req GET "/api/v1/customers?owner=$s2" "${A[@]}"
    local c0; c0=$(jq_ 'j["items"][0]["id"]')
    local missing=0123456789abcdef01234567
    json POST "/api/v1/pool/$cb/assign" "{\"employee_id\": \"$s0\"}" "${MA[@]}"
    expect_error 404 not_found "$be: assigning another region's customer is 404"
    expect_json 'j["error"]["message"]' "customer '$cb' not found" "$be: ... worded as a missing one"
    json POST "/api/v1/pool/$missing/assign" "{\"employee_id\": \"$s0\"}" "${MA[@]}"
    expect_json '(j["error"]["code"], j["error"]["message"])' "[\"not_found\", \"customer '$missing' not found\"]" \
        "$be: ... which says the same"
    json POST "/api/v1/pool/$c0/assign" "{\"employee_id\": \"$s0\"}" "${MA[@]}"
    expect_error 409 not_in_pool "$be: a customer in scope may say it is not in the pool"
    for case in "POST|/api/v1/pool/$cb/claim|{}" "POST|/api/v1/customers/$cb/release|{}" \
        "POST|/api/v1/customers/$c0/merge|{\"from\": \"$cb\"}" "PUT|/api/v1/customers/$cb/tags|{\"tags\": []}"; do
        IFS='|' read -r m p b <<<"$case"
        json "$m" "$p" "$b" "${MA[@]}"
        expect_error 404 not_found "$be: $m $p outside the scope"
    done
    json POST "/api/v1/pool/$cb/claim" '{}' "${T2[@]}"
    expect_error 404 not_found "$be: a salesperson claiming another's customer gets 404"

    # === 5. the lexicon test box: for those who edit the lexicon, within limits ===============
    local chk='{"text": "这单可以飞单", "lexicon": "飞单\tprivate_deal\tblock\n"}'
    json POST /api/v1/lexicon/check "$chk" "${T2[@]}"
    expect_error 403 forbidden "$be: a salesperson may not make the server compile a lexicon"
    json POST /api/v1/lexicon/check "$chk" "${MA[@]}"
    expect_error 403 forbidden "$be: ... nor a manager"
    json POST /api/v1/lexicon/check '{"text": "这单可以飞单"}' "${AU[@]}"
    expect_error 403 forbidden "$be: ... nor an auditor, even with the lexicon in force"
    json POST /api/v1/lexicon/check "$chk" "${A[@]}"
    expect_status 200 "$be: the admin tries a draft"
    expect_json '(j["action"], [m["pattern"] for m in j["matches"]])' '["block", ["飞单"]]' "$be: ... and gets its verdict"
    python3 -c '
import json, sys
print(json.dumps({"text": "x", "lexicon": "".join("re:a%d\n" % i for i in range(2001))}))' >"$TMP/many.json"
    req POST /api/v1/lexicon/check -H 'Content-Type: application/json' --data-binary "@$TMP/many.json" "${A[@]}"
    expect_error 422 limit_exceeded "$be: a draft with 2001 regexes is refused"
    expect_json 'j["error"]["details"]' '{"limit": "regex_entries", "max": 2000}' "$be: ... naming the limit"
    python3 -c '
import json
print(json.dumps({"text": "x" * 65537, "lexicon": "a\n"}))' >"$TMP/long.json"
    req POST /api/v1/lexicon/check -H 'Content-Type: application/json' --data-binary "@$TMP/long.json" "${A[@]}"
    expect_error 422 limit_exceeded "$be: a test text over 64 KiB is refused"
    expect_json 'j["error"]["details"]' '{"limit": "text_bytes", "max": 65536}' "$be: ... naming the limit"
    python3 -c '
import json
print(json.dumps({"text": "x", "lexicon": "a" * (8 * 1024 * 1024 - 1) + "\n\n"}))' >"$TMP/big.json"

    # === 6. media: reached through messages of the device that uploaded it ====================
    printf 'PDF1' >"$TMP/a.pdf"
    printf 'PDF2' >"$TMP/b.pdf"
    local ra_ rb_
    ra_="sha256:$(sha256sum "$TMP/a.pdf" | cut -c1-64)"; rb_="sha256:$(sha256sum "$TMP/b.pdf" | cut -c1-64)"
    upload "$TMP/a.pdf" "$ra_" "$d2"
    expect_status 201 "$be: device A uploads a file"
    events "$d2" 2 22 "" "$ra_"
    events "$db" 2 32 "" "$ra_" # device B names A's file without holding it
    req GET "/api/v1/media/$ra_" "${TB[@]}"
    expect_error 404 not_found "$be: B's salesperson cannot read A's file through B's message"
    login s2
    req GET "/api/v1/media/$ra_" -H "Authorization: Bearer $tok"
    expect_status 200 "$be: A's owner reads it"
    expect_eq "$body" PDF1 "$be: ... the exact bytes"
    local downloads; downloads=$(audit_count media.download)
    req HEAD "/api/v1/media/$ra_" -H "Authorization: Bearer $tok"
    expect_status 200 "$be: a HEAD answers"
    expect_eq "$(audit_count media.download)" "$downloads" "$be: ... and is no download in the audit log"
    upload "$TMP/b.pdf" "$rb_" "$d2"
    expect_status 201 "$be: A uploads another file"
    upload "$TMP/b.pdf" "$rb_" "$db"
    expect_status 201 "$be: B uploading a file A holds is told it is new"
    expect_json 'j["created"]' true "$be: ... in the body too"
    upload "$TMP/b.pdf" "$rb_" "$db"
    expect_status 200 "$be: ... and 200 only when B sends it again"

    # === 2b. nobody acts on itself this way; an admin neither ================================
    json POST /api/v1/handovers "{\"from_employee\": \"$mgra\", \"to_employee\": \"$s0\", \"reason\": \"departure\"}" "${MA[@]}"
    expect_error 403 forbidden "$be: a manager cannot hand over itself"
    json POST /api/v1/handovers "{\"from_employee\": \"$admin_id\", \"to_employee\": \"$admin2\", \"reason\": \"departure\"}" "${A[@]}"
    expect_error 403 forbidden "$be: an admin cannot hand itself over"
    json PATCH "/api/v1/employees/$admin_id" '{"active": false}' "${A[@]}"
    expect_error 403 forbidden "$be: an admin cannot deactivate itself"
    json PATCH "/api/v1/employees/$admin_id" '{"role": "sales"}' "${A[@]}"
    expect_error 403 forbidden "$be: ... nor demote itself"
    json PUT "/api/v1/employees/$admin_id/password" '{"password": "an0ther-pass"}' "${A[@]}"
    expect_error 403 forbidden "$be: ... nor reset its own password past /auth/password"
    json PATCH "/api/v1/employees/$admin_id" '{"name": "The admin"}' "${A[@]}"
    expect_status 200 "$be: ... but it may rename itself"
    key "Self" admin "" "${A[@]}"; local SK=(-H "Authorization: Bearer $ktok")
    json PATCH "/api/v1/employees/$admin_id" '{"active": false}' "${SK[@]}"
    expect_error 403 forbidden "$be: a key acts for its creator: not on the creator itself"

    # a unit moved out of a manager-creator's subtree takes the manager key with it
    employee admin4 "$hq" admin; local admin4=$id
    login admin4
    key "Store A1 BI" manager "$sa1" -H "Authorization: Bearer $tok"; local k7=$kid K7=(-H "Authorization: Bearer $ktok")
    json PATCH "/api/v1/employees/$admin4" "{\"role\": \"manager\", \"org_unit_id\": \"$ra\"}" "${A[@]}"
    req GET /api/v1/customers "${K7[@]}"
    expect_status 200 "$be: a manager of region A holds a key of a store in it"
    json PATCH "/api/v1/org-units/$sa1" "{\"parent_id\": \"$rb\"}" "${A[@]}"
    expect_status 200 "$be: the store moves to region B"
    req GET /api/v1/customers "${K7[@]}"
    expect_error 401 unauthorized "$be: ... and the key ends with the move"
    expect_eq "$(key_revocations "$k7")" "[[\"creator_unit\", \"$admin4\"]]" "$be: ... revoked, audited"
    stop_server

    # the draft lexicon's size: PUT's limit, whatever the server's body limit
    start_server "$dir" "${db_args[@]}" --max-body 16777216
    [ -n "$base" ] || return
    req POST /api/v1/lexicon/check -H 'Content-Type: application/json' --data-binary "@$TMP/big.json" "${A[@]}"
    expect_error 422 limit_exceeded "$be: a draft larger than PUT accepts is refused"
    expect_json 'j["error"]["details"]' '{"limit": "lexicon_bytes", "max": 8388608}' "$be: ... naming the limit"
    stop_server
}

run_suites
