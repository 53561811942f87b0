#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Customer asset protection (issue 7) over real sockets, on SQLite and PostgreSQL: handovers
# (departure, split, transfer, idempotency, atomicity, report), the public pool (release,
# claim limit, cooldown, assign), the reclaim job with a clock the test sets, the timeline,
# edits and follow-ups, and scope (a manager of another region gets 404).
. "$(dirname "$0")/lib_api.sh"

NOW=2026-11-28T10:00:00+08:00
export WORKPHONE_FAKE_NOW=$NOW

owned_by() { # EMPLOYEE: the ids of its customers (admin view), sorted, as JSON
    req GET "/api/v1/customers?owner=$1&limit=200" "${A[@]}"
    jq_ 'sorted(c["id"] for c in j["items"])'
}

jobs() { # [FAKE NOW]: run the jobs once; sets $out
    WORKPHONE_FAKE_NOW=${1:-$NOW} run "$WP" jobs run --data "$dir" "${db_args[@]}"
}

suite() { # backend
    be=$1
    setup_store "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    req GET /api/v1/org-units "${A[@]}"
    local hq; hq=$(jq_ 'j["items"][0]["id"]')
    unit "Region A" "$hq" region; local ra=$id
    unit "Region B" "$hq" region; local rb=$id
    employee mgra "$ra" manager; local mgra=$id
    employee mgrb "$rb" manager; local mgrb=$id
    employee s1 "$ra" sales; local s1=$id
    employee s2 "$ra" sales; local s2=$id
    employee s3 "$ra" sales; local s3=$id
    employee s4 "$rb" sales; local s4=$id
    employee s5 "$rb" sales; local s5=$id

    # s1's phone reports three customers: messages, a call, a contact event
    device "$s1" SN-1; local D1=(-H "Authorization: Bearer $dtok")
    json POST /api/v1/device/events '{"events": [
     {"seq": 1, "type": "message", "ts": "2026-11-25T09:00:00+08:00", "channel": "wechat",
      "direction": "out", "peer": {"id": "wxid_a", "name": "客户甲", "phone": "13800000001"},
      "chat": "wxid_a", "msgtype": "text", "text": "甲，您好"},
     {"seq": 2, "type": "message", "ts": "2026-11-25T10:00:00+08:00", "channel": "wechat",
      "direction": "out", "peer": {"id": "wxid_b", "name": "客户乙", "phone": "13800000002"},
      "chat": "wxid_b", "msgtype": "text", "text": "乙，您好"},
     {"seq": 3, "type": "message", "ts": "2026-11-25T11:00:00+08:00", "channel": "wechat",
      "direction": "out", "peer": {"id": "wxid_c", "name": "客户丙", "phone": "13800000003"},
      "chat": "wxid_c", "msgtype": "text", "text": "丙，您好"},
     {"seq": 4, "type": "call", "ts": "2026-11-25T12:00:00+08:00", "direction": "in",
      "peer": {"phone": "13800000001"}, "duration_s": 63},
     {"seq": 5, "type": "contact", "ts": "2026-11-25T13:00:00+08:00", "channel": "wechat",
      "action": "renamed", "peer": {"id": "wxid_a"}},
     {"seq": 6, "type": "message", "ts": "2026-11-25T14:00:00+08:00", "channel": "wechat",
      "direction": "in", "peer": {"id": "wxid_a"}, "chat": "wxid_a", "msgtype": "text",
      "text": "好的，明天见"},
     {"seq": 7, "type": "message", "ts": "2026-11-25T15:00:00+08:00", "channel": "wechat",
      "direction": "out", "peer": {"id": "wxid_a"}, "chat": "wxid_a", "msgtype": "text",
      "text": "这款产品保本保息"}]}' "${D1[@]}"
    expect_json 'j["acked_seq"]' 7 "$be: s1's device reports"
    local c1s; c1s=$(owned_by "$s1")
    req GET "/api/v1/customers?owner=$s1" "${A[@]}"
    expect_json 'len(j["items"])' 3 "$be: s1 owns three customers"
    req GET "/api/v1/customers?q=%E7%94%B2" "${A[@]}"
    local ca; ca=$(jq_ 'j["items"][0]["id"]')

    login s1; local T1=(-H "Authorization: Bearer $tok")
    login s2; local T2=(-H "Authorization: Bearer $tok")
    login s3; local T3=(-H "Authorization: Bearer $tok")
    login s4; local T4=(-H "Authorization: Bearer $tok")
    login mgra; local MA=(-H "Authorization: Bearer $tok")
    login mgrb; local MB=(-H "Authorization: Bearer $tok")

    # --- the timeline: one stream, newest first, paged -------------------------------------------
    req GET "/api/v1/customers/$ca/timeline" "${T1[@]}"
    expect_status 200 "$be: the owner reads the timeline"
    expect_json 'sorted(i["type"] for i in j["items"][:2]) + [i["type"] for i in j["items"][2:]]' \
        '["alert", "message", "message", "contact", "call", "message"]' \
        "$be: messages, the alert, the call and the contact event, newest first"
    expect_json '[i.get("kind") for i in j["items"] if i["type"] == "alert"]' '["sensitive_word"]' \
        "$be: the alert about the customer"
    expect_json 'all(j["items"][k]["ts"] >= j["items"][k + 1]["ts"] for k in range(len(j["items"]) - 1))' \
        true "$be: in time order"
    req GET "/api/v1/customers/$ca/timeline?limit=2" "${T1[@]}"
    local p1 cur; p1=$(jq_ '[i["id"] for i in j["items"]]'); cur=$(jq_ 'j["next_cursor"]')
    req GET "/api/v1/customers/$ca/timeline?limit=2&cursor=$cur" "${T1[@]}"
    expect_json "(len(j['items']), j['next_cursor'] is not None, not set(i['id'] for i in j['items']) & set($p1))" \
        '[2, true, true]' "$be: the timeline page by page"
    req GET "/api/v1/customers/$ca/timeline?limit=2&cursor=$(jq_ 'j["next_cursor"]')" "${T1[@]}"
    expect_json "(len(j['items']), j['next_cursor'])" '[2, null]' "$be: ... to the last page"
    req GET "/api/v1/customers/$ca/timeline" "${T2[@]}"
    expect_error 404 not_found "$be: another salesperson does not see it"
    req GET "/api/v1/customers/$ca/timeline" "${MB[@]}"
    expect_error 404 not_found "$be: a manager of another region does not see it"
    req GET "/api/v1/customers/$ca/timeline" "${MA[@]}"
    expect_status 200 "$be: the manager of the region does"

    # --- edits and follow-ups ---------------------------------------------------------------------
    json PATCH "/api/v1/customers/$ca" '{"stage": "contacted", "grade": "A", "company": "甲公司"}' "${T1[@]}"
    expect_json '(j["stage"], j["grade"], j["company"], j["stage_at"] is not None)' \
        '["contacted", "A", "甲公司", true]' "$be: the owner edits its customer"
    json PATCH "/api/v1/customers/$ca" '{"stage": "won"}' "${T1[@]}"
    expect_error 400 invalid_request "$be: an unknown stage"
    json PATCH "/api/v1/customers/$ca" '{"grade": "B"}' "${T2[@]}"
    expect_error 404 not_found "$be: another salesperson cannot edit it"
    json POST "/api/v1/customers/$ca/follow-ups" '{"text": "约了下周面谈"}' "${T1[@]}"
    expect_status 201 "$be: a follow-up note"
    req GET "/api/v1/customers/$ca/timeline?limit=4" "${T1[@]}"
    expect_json 'sorted((i["kind"], i["details"].get("to", i["details"].get("text"))) for i in j["items"] if i["type"] == "event")' \
        '[["edited", "甲公司"], ["follow_up", "约了下周面谈"], ["grade_changed", "A"], ["stage_changed", "contacted"]]' \
        "$be: edits and the note are in the timeline"
    expect_json "$(audit_count customer.update) >= 1 and $(audit_count customer.follow_up) == 1" true \
        "$be: edits are audited"

    # --- handover: rights and scope ---------------------------------------------------------------
    json POST /api/v1/handovers "{\"from_employee\": \"$s1\", \"to_employee\": \"$s2\", \"reason\": \"departure\"}" "${T2[@]}"
    expect_error 403 forbidden "$be: a salesperson cannot hand over"
    json POST /api/v1/handovers "{\"from_employee\": \"$s1\", \"to_employee\": \"$s4\", \"reason\": \"departure\"}" "${MB[@]}"
    expect_error 404 not_found "$be: a manager of another region does not see the leaver"
    json POST /api/v1/handovers "{\"from_employee\": \"$s1\", \"to_employee\": \"$s4\", \"reason\": \"departure\"}" "${MA[@]}"
    expect_error 404 not_found "$be: ... nor may a manager hand to another region"
    json POST /api/v1/handovers "{\"from_employee\": \"$s1\", \"to_employee\": \"$s1\", \"reason\": \"departure\"}" "${A[@]}"
    expect_error 400 invalid_request "$be: to oneself"
    json POST /api/v1/handovers "{\"from_employee\": \"$s1\", \"reason\": \"departure\"}" "${A[@]}"
    expect_error 400 invalid_request "$be: no successor"
    json POST /api/v1/handovers "{\"from_employee\": \"$s1\", \"to_employee\": \"$s2\", \"reason\": \"quit\"}" "${A[@]}"
    expect_error 400 invalid_request "$be: a bad reason"
    expect_json "$(owned_by "$s1")" "$c1s" "$be: refused handovers moved nothing"

    # --- atomicity: the second move fails, nothing is left moved -----------------------------------
    stop_server
    WORKPHONE_TEST_HANDOVER_FAIL_AFTER=2 start_server "$dir" "${db_args[@]}"
    local creates; creates=$(audit_count handover.create)
    json POST /api/v1/handovers "{\"from_employee\": \"$s1\", \"to_employees\": [\"$s2\", \"$s3\"], \"reason\": \"departure\"}" "${MA[@]}"
    expect_error 500 internal_error "$be: a handover failing at its second move"
    expect_json "$(owned_by "$s1")" "$c1s" "$be: ... left every customer with s1"
    req GET /api/v1/auth/session "${T1[@]}"
    expect_status 200 "$be: ... and s1 logged in"
    req GET /api/v1/handovers "${A[@]}"
    expect_json 'j["items"]' '[]' "$be: ... and no handover recorded"
    expect_json "$(audit_count handover.create)" "$creates" "$be: ... nor audited"
    req GET "/api/v1/customers/$ca/timeline?limit=200" "${A[@]}"
    expect_json '[i for i in j["items"] if i.get("kind") == "owner_changed"]' '[]' "$be: ... nor in the timeline"
    stop_server
    start_server "$dir" "${db_args[@]}"

    # --- departure split across two successors ----------------------------------------------------
    json POST /api/v1/handovers "{\"from_employee\": \"$s1\", \"to_employees\": [\"$s2\", \"$s3\"], \"reason\": \"departure\"}" "${MA[@]}"
    expect_status 201 "$be: the manager hands s1's customers to s2 and s3"
    expect_json '(j["customers_moved"], j["sessions_revoked"], j["devices_revoked"], j["reason"], j["replayed"])' \
        '[3, 1, 1, "departure", false]' "$be: the handover's counts"
    local h1; h1=$(jq_ 'j["id"]')
    expect_json "$(owned_by "$s1")" '[]' "$be: s1 has no customer left"
    req GET "/api/v1/customers?owner=$s2" "${A[@]}"; local n2; n2=$(jq_ 'len(j["items"])')
    req GET "/api/v1/customers?owner=$s3" "${A[@]}"; local n3; n3=$(jq_ 'len(j["items"])')
    expect_json "sorted([$n2, $n3])" '[1, 2]' "$be: an even split (2 and 1)"
    req GET /api/v1/auth/session "${T1[@]}"
    expect_error 401 unauthorized "$be: the leaver's session stops at once"
    login s1
    expect_error 401 unauthorized "$be: the leaver cannot log in"
    json POST /api/v1/device/events '{"events": []}' "${D1[@]}"
    expect_error 401 unauthorized "$be: the leaver's device stops at once"
    req GET "/api/v1/employees/$s1" "${A[@]}"
    expect_json 'j["active"]' false "$be: the leaver is inactive"
    # the new owner of customer 甲 sees s1's old conversation with it
    req GET "/api/v1/customers/$ca" "${A[@]}"
    local owner_a; owner_a=$(jq_ 'j["owner_employee_id"]')
    local TO=("${T2[@]}"); [ "$owner_a" = "$s3" ] && TO=("${T3[@]}")
    req GET "/api/v1/customers/$ca/timeline" "${TO[@]}"
    expect_json '[i["text"] for i in j["items"] if i["type"] == "message"]' '["这款产品保本保息", "好的，明天见", "甲，您好"]' \
        "$be: the successor sees the old conversation in the timeline" 
    expect_json "[(i['details']['from'], i['details']['to'], i['details']['handover_id']) for i in j['items'] if i.get('kind') == 'owner_changed']" \
        "[[\"$s1\", \"$owner_a\", \"$h1\"]]" "$be: the move is in the timeline"
    req GET "/api/v1/messages?customer=$ca" "${TO[@]}"
    expect_json 'len(j["items"])' 3 "$be: ... and in the message archive"
    expect_json "$(audit_count handover.create)" "$((creates + 1))" "$be: the handover is one audit row"
    req GET "/api/v1/audit?action=handover.create&limit=1" "${A[@]}"
    expect_json "(j['items'][0]['target'], json.loads(j['items'][0]['details'])['customers_moved'] if isinstance(j['items'][0].get('details'), str) else j['items'][0]['details']['customers_moved'])" \
        "[\"employee:$s1\", 3]" "$be: ... naming the leaver, with the counts"

    # an admin who leaves: the API keys it created stop at once
    employee admin2 "$hq" admin; local admin2=$id
    login admin2; local AD2=(-H "Authorization: Bearer $tok")
    json POST /api/v1/api-keys '{"name": "BI", "role": "auditor"}' "${AD2[@]}"
    expect_status 201 "$be: admin2 creates an API key"
    local K=(-H "Authorization: Bearer $(jq_ 'j["key"]')")
    req GET /api/v1/pool "${K[@]}"
    expect_status 200 "$be: ... which works"
    json POST /api/v1/handovers "{\"from_employee\": \"$admin2\", \"to_employee\": \"$mgra\", \"reason\": \"departure\"}" "${A[@]}"
    expect_json '(j["customers_moved"], j["api_keys_revoked"], j["sessions_revoked"])' '[0, 1, 1]' \
        "$be: admin2 leaves with no customers"
    req GET /api/v1/pool "${K[@]}"
    expect_error 401 unauthorized "$be: its API key stops at once"

    # --- idempotency --------------------------------------------------------------------------------
    json POST /api/v1/handovers "{\"from_employee\": \"$s1\", \"to_employees\": [\"$s2\", \"$s3\"], \"reason\": \"departure\"}" "${MA[@]}"
    expect_status 200 "$be: the same departure again"
    expect_json '(j["id"], j["replayed"], j["customers_moved"])' "[\"$h1\", true, 3]" "$be: ... answers the first"
    req GET "/api/v1/handovers?from_employee=$s1" "${A[@]}"
    expect_json 'len(j["items"])' 1 "$be: ... and made no second one"
    json POST /api/v1/handovers "{\"from_employee\": \"$s2\", \"to_employee\": \"$s3\", \"reason\": \"transfer\", \"idempotency_key\": \"k-1\", \"keep_read_access\": true}" "${A[@]}"
    expect_status 201 "$be: a transfer with a key"
    local h2 moved2; h2=$(jq_ 'j["id"]'); moved2=$(jq_ 'j["customers_moved"]')
    expect_json "$moved2" "$n2" "$be: ... moves all of s2's customers"
    req GET /api/v1/auth/session "${T2[@]}"
    expect_status 200 "$be: ... and s2 stays logged in"
    json POST /api/v1/handovers "{\"from_employee\": \"$s2\", \"to_employee\": \"$s3\", \"reason\": \"transfer\", \"idempotency_key\": \"k-1\", \"keep_read_access\": true}" "${A[@]}"
    expect_json '(j["id"], j["replayed"])' "[\"$h2\", true]" "$be: the same key again answers the first"
    json POST /api/v1/handovers "{\"from_employee\": \"$s3\", \"to_employee\": \"$s2\", \"reason\": \"transfer\", \"idempotency_key\": \"k-1\"}" "${A[@]}"
    expect_error 409 conflict "$be: a key used for another handover"
    req GET "/api/v1/handovers/$h2" "${A[@]}"
    local given; given=$(jq_ 'j["customers"][0]["customer_id"]')
    req GET "/api/v1/customers/$given/timeline" "${T2[@]}"
    expect_status 200 "$be: the transfer kept s2's read access"
    req GET "/api/v1/customers/$given" "${T2[@]}"
    expect_status 200 "$be: ... and to the customer (s3's now)"
    req GET "/api/v1/customers" "${T2[@]}"
    expect_json "\"$given\" in [c[\"id\"] for c in j[\"items\"]]" true "$be: ... which s2 still lists"
    req GET "/api/v1/messages?customer=$given" "${T2[@]}"
    expect_json 'len(j["items"]) > 0' true "$be: ... with its conversation"
    json PATCH "/api/v1/customers/$given" '{"notes": "x"}' "${T2[@]}"
    expect_error 404 not_found "$be: ... read only: s2 cannot change it"

    # --- the report -----------------------------------------------------------------------------------
    req GET "/api/v1/handovers/$h1" "${MA[@]}"
    expect_json '(len(j["customers"]), sorted(set(c["to_employee"] for c in j["customers"])) == sorted(['"\"$s2\", \"$s3\""']))' \
        '[3, true]' "$be: the report lists the customers moved"
    req GET "/api/v1/handovers/$h1?limit=2" "${MA[@]}"
    local rc1; rc1=$(jq_ 'j["next_cursor"]')
    req GET "/api/v1/handovers/$h1?limit=2&cursor=$rc1" "${MA[@]}"
    expect_json '(len(j["customers"]), j["next_cursor"])' '[1, null]' "$be: the report page by page"
    req GET "/api/v1/handovers/$h1" "${MB[@]}"
    expect_error 404 not_found "$be: a manager of another region does not see it"
    local exports; exports=$(audit_count handover.export)
    req GET "/api/v1/handovers/$h1?format=csv" "${MA[@]}"
    expect_status 200 "$be: the report as CSV"
    expect_header_has "text/csv" "$be: ... is text/csv"
    checks=$((checks + 1))
    [ "$(printf '%s' "$body" | tr -d '\r' | head -n 1)" = '"customer_id","customer_name","to_employee_id"' ] &&
        [ "$(printf '%s\n' "$body" | wc -l)" = 4 ] || fail "$be: the CSV has a header and 3 rows"
    case "$body" in *客户甲*) ;; *) fail "$be: the CSV names the customers";; esac
    expect_eq "$(audit_count handover.export)" "$((exports + 1))" "$be: the download is audited"

    # --- the pool -------------------------------------------------------------------------------------
    req GET "/api/v1/customers?owner=$s3" "${A[@]}"
    local cb; cb=$(jq_ '[c["id"] for c in j["items"] if c["id"] != "'"$ca"'"][0]')
    json POST "/api/v1/customers/$cb/release" '{"note": "不再跟进"}' "${T2[@]}"
    expect_error 404 not_found "$be: a salesperson cannot release someone else's customer"
    json POST "/api/v1/customers/$cb/release" '{"note": "不再跟进"}' "${T3[@]}"
    expect_json '(j["in_pool"], j["owner_employee_id"], j["previous_owner_employee_id"], j["pool_reason"])' \
        "[true, null, \"$s3\", \"manual\"]" "$be: the owner releases a customer into the pool"
    json POST "/api/v1/customers/$cb/release" '{}' "${A[@]}"
    expect_error 409 in_pool "$be: released twice"
    req GET /api/v1/pool "${T4[@]}"
    expect_json "[c['id'] for c in j['items']]" "[\"$cb\"]" "$be: every salesperson sees the pool"
    expect_json "'****' in j['items'][0]['phone']" true "$be: ... phones masked"
    json POST "/api/v1/pool/$cb/claim" '{}' "${T3[@]}"
    expect_error 409 cooldown "$be: the last owner cannot claim it back within the cooldown"
    expect_json '"retry_after" in j["error"]["details"]' true "$be: ... and is told when"
    json POST "/api/v1/pool/$cb/claim" '{}' "${T4[@]}"
    expect_json '(j["in_pool"], j["owner_employee_id"])' "[false, \"$s4\"]" "$be: another salesperson claims it"
    json POST "/api/v1/pool/$cb/claim" '{}' "${T2[@]}"
    expect_error 404 not_found "$be: a claimed customer is gone from the pool (and out of scope)"
    json POST "/api/v1/pool/$cb/claim" '{}' "${T4[@]}"
    expect_error 409 not_in_pool "$be: claiming one's own customer"
    json PUT /api/v1/pool/settings '{"pool_claim_daily_max": 1}' "${A[@]}"
    expect_json '(j["pool_claim_daily_max"], j["pool_cooldown_days"], j["reclaim_inactive_days"])' \
        '[1, 7, 30]' "$be: the admin sets a daily claim limit of 1"
    json PUT /api/v1/pool/settings '{"pool_claim_daily_max": -1}' "${A[@]}"
    expect_error 400 invalid_request "$be: a negative limit"
    json POST "/api/v1/customers/$cb/release" '{}' "${T4[@]}"
    expect_status 200 "$be: s4 releases it again"
    json POST "/api/v1/customers/$ca/release" '{}' "${MA[@]}"
    expect_status 200 "$be: the manager releases customer 甲"
    json POST "/api/v1/pool/$ca/claim" '{}' "${T4[@]}"
    expect_error 429 claim_limit "$be: the second claim in a day is refused"
    json POST "/api/v1/pool/$ca/assign" "{\"employee_id\": \"$s4\"}" "${MA[@]}"
    expect_error 404 not_found "$be: a manager cannot assign to another region"
    json POST "/api/v1/pool/$ca/assign" "{\"employee_id\": \"$s4\"}" "${T2[@]}"
    expect_error 403 forbidden "$be: a salesperson cannot assign"
    json POST "/api/v1/pool/$ca/assign" "{\"employee_id\": \"$s4\"}" "${MB[@]}"
    expect_json '(j["owner_employee_id"], j["in_pool"])' "[\"$s4\", false]" \
        "$be: the manager of region B assigns to s4 (no daily limit)"
    req GET "/api/v1/customers/$ca/timeline?limit=200" "${A[@]}"
    expect_json 'sorted(i["kind"] for i in j["items"] if i["type"] == "event" and i["kind"] in ("assigned", "pooled"))' '["assigned", "pooled"]' \
        "$be: pool moves are in the timeline"
    expect_json "($(audit_count pool.release), $(audit_count pool.claim), $(audit_count pool.assign))" '[3, 1, 1]' \
        "$be: pool moves are audited"

    # --- the reclaim job ------------------------------------------------------------------------------
    json PATCH "/api/v1/employees/$s4" '{"active": false}' "${A[@]}"
    expect_status 200 "$be: s4 is deactivated without a handover"
    jobs
    expect_rc 0 "$be: jobs run"
    expect_out "reclaim: owner_left=1 inactive=0" "$be: s4's customer goes to the pool (owner_left)"
    req GET '/api/v1/pool?reason=owner_left' "${A[@]}"
    expect_json "[(c['id'], c['previous_owner_employee_id']) for c in j['items']]" "[[\"$ca\", \"$s4\"]]" \
        "$be: ... with its reason"
    jobs
    expect_out "reclaim: owner_left=0 inactive=0" "$be: a second run moves nothing"
    jobs 2026-12-20T10:00:00+08:00
    expect_out "reclaim: owner_left=0 inactive=0" "$be: nothing is inactive for 30 days yet"
    jobs 2027-01-10T10:00:00+08:00
    expect_out "reclaim: owner_left=0 inactive=1" "$be: after 30 days without contact the last owned customer goes"
    req GET '/api/v1/pool?reason=inactive' "${A[@]}"
    expect_json 'len(j["items"])' 1 "$be: ... to the pool, reason inactive"
    expect_json "$(audit_count pool.reclaim)" 2 "$be: reclaim moves are audited"
    req GET /api/v1/audit/verify "${A[@]}"
    expect_json 'j["ok"]' true "$be: the audit chain is intact"
    run "$WP" jobs run
    expect_rc 2 "$be: jobs run without --data"

    # serve runs the jobs on its own, every WORKPHONE_JOBS_INTERVAL_S, and stops them cleanly
    stop_server
    WORKPHONE_JOBS_INTERVAL_S=1 start_server "$dir" "${db_args[@]}"
    local seen=""
    for _ in $(seq 100); do
        seen=$(grep -o 'event=jobs task=reclaim owner_left=[0-9]* inactive=[0-9]*' "$TMP/serve.err" | head -n 1)
        [ -n "$seen" ] && break
        sleep 0.1
    done
    expect_eq "$seen" "event=jobs task=reclaim owner_left=0 inactive=0" "$be: serve runs the jobs"
    stop_server
}

run_suites
