#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Reading is an operation too (issue 13), on SQLite and PostgreSQL: a search, a conversation
# and a timeline read leave audit rows (findable by customer), a HEAD request downloads
# nothing, a role change records old and new, and mass unmasking raises one insider alert.
. "$(dirname "$0")/lib_api.sh"

# rows ACTION [QUERY]: the audit rows of that action (as $body), newest first
rows() {
    req GET "/api/v1/audit?action=$1&limit=200${2:-}" "${A[@]}"
    expect_status 200 "$be: audit list of $1"
}

suite() { # backend
    local be=$1
    setup_store "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    local admin_id; admin_id=$(jq_ 'j["employee"]["id"]')
    A=(-H "Authorization: Bearer $tok")
    local AD=("${A[@]}")
    req GET /api/v1/org-units "${A[@]}"
    local hq; hq=$(jq_ 'j["items"][0]["id"]')
    employee mona "$hq" manager; local mona=$id
    employee sam "$hq" sales; local sam=$id
    employee audrey "$hq" auditor
    device "$sam" SN-1
    local D=(-H "Authorization: Bearer $dtok")

    # a recording, and chats with five customers
    printf 'a recording of a call' >"$TMP/rec"
    local ref; ref="sha256:$(sha256sum "$TMP/rec" | cut -d' ' -f1)"
    req PUT "/api/v1/device/media/$ref" --data-binary @"$TMP/rec" "${D[@]}"
    expect_status 201 "$be: upload a recording"
    local ev="" i
    for i in 1 2 3 4 5; do
        ev="$ev{\"seq\": $i, \"type\": \"message\", \"ts\": \"2026-11-20T09:0$i:00+08:00\",
          \"channel\": \"wechat\", \"direction\": \"out\", \"peer\": {\"id\": \"wxid_$i\",
          \"phone\": \"1380013800$i\"}, \"chat\": \"wxid_$i\", \"msgtype\": \"text\",
          \"text\": \"这款产品保本 $i\"},"
    done
    json POST /api/v1/device/events "{\"events\": [$ev
        {\"seq\": 6, \"type\": \"call\", \"ts\": \"2026-11-20T10:00:00+08:00\", \"direction\": \"out\",
         \"peer\": {\"phone\": \"13800138001\"}, \"duration_s\": 63, \"recording\": \"$ref\"}]}" "${D[@]}"
    expect_json 'j["acked_seq"]' 6 "$be: events"
    req GET '/api/v1/customers?limit=200' "${A[@]}"
    local cids; cids=$(jq_ '" ".join(sorted(i["id"] for i in j["items"]))')
    local c1=${cids%% *}
    expect_json 'len(j["items"])' 5 "$be: five customers"

    # --- a search: one row with its query, and the customers it showed --------------------------
    req GET '/api/v1/messages?q=%E4%BF%9D%E6%9C%AC' "${A[@]}"
    expect_json 'len(j["items"])' 5 "$be: a search"
    rows messages.search
    expect_json 'len(j["items"])' 1 "$be: the search is one audit row"
    expect_json '(j["items"][0]["actor"], j["items"][0]["target"], j["items"][0]["details"]["q"], j["items"][0]["details"]["results"])' \
        "[\"employee:$admin_id\", null, \"保本\", 5]" "$be: ... with who, the query and how many"
    expect_json '" ".join(sorted(j["items"][0]["details"]["customers"]))' "$cids" \
        "$be: ... and the customers it showed"
    rows messages.search "&customer=$c1"
    expect_json 'len(j["items"])' 1 "$be: ... found by one of its customers"

    # --- a conversation and a timeline: rows about that customer ---------------------------------
    req GET "/api/v1/messages?customer=$c1" "${A[@]}"
    expect_status 200 "$be: a conversation"
    req GET "/api/v1/customers/$c1/timeline" "${A[@]}"
    expect_status 200 "$be: a timeline"
    req GET "/api/v1/audit?target=customer:$c1&limit=200" "${A[@]}"
    expect_json '[i["action"] for i in j["items"]]' '["timeline.read", "messages.read"]' \
        "$be: who looked at the customer's chats: by target"
    req GET "/api/v1/audit?customer=$c1&limit=200" "${A[@]}"
    expect_json '[i["action"] for i in j["items"]]' \
        '["timeline.read", "messages.read", "messages.search"]' "$be: ... and by customer"
    req GET "/api/v1/messages?employee=$sam" "${A[@]}"
    rows messages.read "&target=employee:$sam"
    expect_json 'len(j["items"])' 1 "$be: an employee's chats read"
    # an empty q is no search: a read
    req GET "/api/v1/messages?q=&employee=$sam" "${A[@]}"
    expect_status 200 "$be: an empty query"
    rows messages.read "&target=employee:$sam"
    expect_json '(len(j["items"]), "q" in j["items"][0]["details"])' '[2, false]' \
        "$be: ... is recorded as a read, without a query"
    rows messages.search
    expect_json 'len(j["items"])' 1 "$be: ... not as a search"
    req GET '/api/v1/audit?customer=bad' "${A[@]}"
    expect_error 400 invalid_request "$be: a bad customer filter"

    # --- HEAD reads and downloads nothing ---------------------------------------------------------
    req HEAD "/api/v1/media/$ref" "${A[@]}"
    expect_status 200 "$be: HEAD on a recording"
    req HEAD '/api/v1/messages?q=%E4%BF%9D%E6%9C%AC' "${A[@]}"
    expect_status 200 "$be: HEAD on a search"
    req HEAD "/api/v1/customers/$c1/timeline" "${A[@]}"
    expect_status 200 "$be: HEAD on a timeline"
    expect_eq "$(audit_count media.download)" 0 "$be: HEAD is no download"
    expect_eq "$(audit_count messages.search)" 1 "$be: HEAD is no search"
    expect_eq "$(audit_count timeline.read)" 1 "$be: HEAD is no read"
    req GET "/api/v1/media/$ref" "${A[@]}"
    expect_status 200 "$be: GET on a recording"
    expect_eq "$(audit_count media.download)" 1 "$be: GET is one"

    # --- a role change records old and new ------------------------------------------------------
    json PUT /api/v1/roles/sales '{"unmask": true}' "${A[@]}"
    expect_status 200 "$be: a role's settings changed"
    rows role.update
    expect_json '(j["items"][0]["target"], j["items"][0]["details"])' \
        '["role:sales", {"handle_alerts": [false, false], "unmask": [false, true], "view_pii": [false, false]}]' \
        "$be: ... audited with old and new"
    json PUT /api/v1/roles/sales '{"unmask": false}' "${A[@]}"
    employee ed "$hq" sales; local ed=$id
    json PATCH "/api/v1/employees/$ed" "{\"role\": \"manager\", \"org_unit_id\": \"$hq\"}" "${A[@]}"
    expect_status 200 "$be: an employee's role changed"
    rows employee.update
    expect_json 'j["items"][0]["details"]' '{"role": ["sales", "manager"]}' \
        "$be: ... audited with old and new"

    # --- insider alerts -----------------------------------------------------------------------
    req GET /api/v1/settings "${A[@]}"
    expect_json '(j["settings"]["insider_unmask_per_hour"], j["settings"]["insider_export_per_day"])' \
        '[20, 100]' "$be: the insider thresholds' defaults"
    json PUT /api/v1/settings '{"insider_unmask_per_hour": 3}' "${A[@]}"
    expect_json 'j["settings"]["insider_unmask_per_hour"]' 3 "$be: a threshold set"
    json PUT /api/v1/settings '{"insider_export_per_day": -1}' "${A[@]}"
    expect_error 400 invalid_request "$be: a bad threshold"
    rows settings.put
    expect_json 'j["items"][0]["details"]' '{"insider_unmask_per_hour": [20, 3]}' \
        "$be: the change is audited"
    login sam
    req GET /api/v1/settings -H "Authorization: Bearer $tok"
    expect_json '"insider_unmask_per_hour" in j["settings"]' false \
        "$be: a salesperson does not see the thresholds"
    login mona
    local M=(-H "Authorization: Bearer $tok")
    for i in 1 2 3 4; do
        json POST "/api/v1/customers/$c1/unmask" '{}' "${M[@]}"
        expect_status 200 "$be: unmask $i"
    done
    req GET '/api/v1/alerts?kind=mass_unmask' "${AD[@]}"
    expect_json '[(i["kind"], i["employee_id"], i["status"], i["category"]) for i in j["items"]]' \
        "[[\"mass_unmask\", \"$mona\", \"open\", \"insider\"]]" \
        "$be: one past the threshold: one alert about the manager"
    local alert; alert=$(jq_ 'j["items"][0]["id"]')
    for i in 5 6 7; do
        json POST "/api/v1/customers/$c1/unmask" '{}' "${M[@]}"
    done
    req GET '/api/v1/alerts?kind=mass_unmask' "${AD[@]}"
    expect_json 'len(j["items"])' 1 "$be: ... and only one in the hour"
    req GET "/api/v1/audit?target=alert:$alert" "${AD[@]}"
    expect_json '[(i["actor"], i["action"], i["details"]["count"], i["details"]["limit"]) for i in j["items"]]' \
        '[["system", "alert.raise", 4, 3]]' "$be: the alert's audit row"
    # not shown to the manager it is about, nor changeable by it; the auditor sees it
    req GET /api/v1/alerts "${M[@]}"
    expect_json '[i for i in j["items"] if i["kind"].startswith("mass_")]' '[]' \
        "$be: the manager does not see it"
    json PATCH "/api/v1/alerts/$alert" '{"status": "resolved"}' "${M[@]}"
    expect_error 404 not_found "$be: ... nor resolves it"
    local days; days="from=$(date -u -d '-1 day' +%Y-%m-%dT00:00:00Z)&to=$(date -u -d '+2 day' +%Y-%m-%dT00:00:00Z)"
    req GET "/api/v1/analytics/alerts?$days" "${M[@]}"
    expect_json '[i for i in j["items"] if i["kind"].startswith("mass_")]' '[]' \
        "$be: ... nor counts it on the dashboard"
    req GET "/api/v1/analytics/alerts?$days" "${AD[@]}"
    expect_json '[i["count"] for i in j["items"] if i["kind"] == "mass_unmask"]' '[1]' \
        "$be: the admin's dashboard does"
    login audrey
    req GET '/api/v1/alerts?kind=mass_unmask' -H "Authorization: Bearer $tok"
    expect_json 'len(j["items"])' 1 "$be: the auditor sees it"

    # --- a read just before a stop is written by the stop -------------------------------------
    req GET '/api/v1/messages?q=%E4%BA%A7%E5%93%81' "${AD[@]}"
    expect_status 200 "$be: a last search"
    stop_server
    expect_eq "$(sql "SELECT count(*) FROM audit_log WHERE action = 'messages.search'")" 2 \
        "$be: the stop wrote the buffered read"
    run "$WP" audit verify --data "$dir" "${db_args[@]}"
    expect_rc 0 "$be: the chain is intact"
}

run_suites
