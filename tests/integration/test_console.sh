#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The console API (CONTRACT §5) over real sockets, on SQLite and PostgreSQL: login, sessions,
# cookies and CSRF, rights by role, search, lists and their limits, customers, alerts.
. "$(dirname "$0")/lib_api.sh"
# The events carry fixed dates of late November 2026; the server accepts device times within
# 180 days of its own (src/ingest/event.c), so its clock is fixed beside them.
export WORKPHONE_FAKE_NOW=2026-11-27T08:00:00Z

# Messages for the search: 1-, 2- and 4-character Chinese queries and mixed text.
BATCH='{"events": [
 {"seq": 1, "type": "message", "ts": "2026-11-20T09:00:00+08:00", "channel": "wechat",
  "direction": "out", "peer": {"id": "wxid_k2", "name": "王女士", "phone": "13800138000"},
  "chat": "wxid_k2", "msgtype": "text", "text": "这款产品保本保息，年化5%"},
 {"seq": 2, "type": "message", "ts": "2026-11-21T09:00:00+08:00", "channel": "wechat",
  "direction": "in", "peer": {"id": "wxid_k2"}, "chat": "wxid_k2", "msgtype": "text",
  "text": "我是VIP客户，能飞单吗"},
 {"seq": 3, "type": "message", "ts": "2026-11-22T09:00:00+08:00", "channel": "sms",
  "direction": "out", "peer": {"phone": "13900139000"}, "msgtype": "text",
  "text": "飞机明天到，单据已发"},
 {"seq": 4, "type": "message", "ts": "2026-11-23T09:00:00+08:00", "channel": "wechat",
  "direction": "out", "peer": {"id": "wxid_k2"}, "chat": "wxid_k2", "msgtype": "text",
  "text": "Order #A17 已发货"}
]}'

login() { # USER [PASSWORD]: sets $tok
    json POST /api/v1/auth/login "{\"username\": \"$1\", \"password\": \"${2:-s3cret-pass}\"}"
    tok=$(jq_ 'j.get("token", "")')
}

# texts Q: the texts of the messages matching q=Q, in order, as JSON
search() {
    req GET "/api/v1/messages?q=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1")" "${A[@]}"
}

suite() { # backend
    local be=$1
    setup_store "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return

    # --- login -----------------------------------------------------------------------------
    login admin wrong-password
    expect_error 401 unauthorized "$be: wrong password"
    local bad_msg; bad_msg=$(jq_ 'j["error"]["message"]')
    login nobody wrong-password
    expect_error 401 unauthorized "$be: unknown user"
    expect_json 'j["error"]["message"]' "$bad_msg" "$be: unknown user and wrong password read the same"
    json POST /api/v1/auth/login '{"username": "admin"}'
    expect_error 400 invalid_request "$be: login without a password"
    json POST /api/v1/auth/login 'admin:s3cret-pass'
    expect_error 400 invalid_json "$be: login that is not JSON"
    json POST /api/v1/auth/login '{"username": "admin", "password": "s3cret-pass", "tenant": "Nope"}'
    expect_error 401 unauthorized "$be: an unknown tenant"
    json POST /api/v1/auth/login '{"username": "admin", "password": "s3cret-pass", "tenant": "Acme"}'
    expect_status 200 "$be: login naming the tenant"

    login admin
    expect_status 200 "$be: login"
    expect_json '(j["token"][:4], len(j["csrf_token"]), j["employee"]["role"], j["employee"]["username"])' \
        '["wps_", 64, "admin", "admin"]' "$be: login reply"
    expect_header_has "Set-Cookie: wp_session=$tok; Path=/; HttpOnly; SameSite=Strict" "$be: login sets the cookie"
    local admin_tok=$tok csrf emp
    csrf=$(jq_ 'j["csrf_token"]'); emp=$(jq_ 'j["employee"]["id"]')
    A=(-H "Authorization: Bearer $admin_tok")
    local C=(-H "Cookie: wp_session=$admin_tok")
    req GET /api/v1/auth/session "${A[@]}"
    expect_json '(j["employee"]["id"], j["csrf_token"], j["via_cookie"])' "[\"$emp\", \"$csrf\", false]" \
        "$be: the session by bearer"
    req GET /api/v1/auth/session "${C[@]}"
    expect_json '(j["csrf_token"], j["via_cookie"])' "[\"$csrf\", true]" "$be: the session by cookie"

    # --- credentials -----------------------------------------------------------------------
    req GET /api/v1/messages
    expect_error 401 unauthorized "$be: no credentials"
    req GET /api/v1/messages -H "Authorization: Bearer wps_forged"
    expect_error 401 unauthorized "$be: a forged token"
    req GET /api/v1/messages -H "Authorization: Basic YWRtaW46eA=="
    expect_error 401 unauthorized "$be: another scheme"
    req GET /api/v1/messages "${C[@]}"
    expect_status 200 "$be: a cookie reads"
    json PUT /api/v1/settings '{}' "${C[@]}"
    expect_error 403 csrf_failed "$be: a cookie write without the CSRF token"
    # a token that surely differs: its first hex digit changed (a token may hold no 'a' at all)
    local wrong
    if [ "${csrf:0:1}" = 0 ]; then wrong="1${csrf:1}"; else wrong="0${csrf:1}"; fi
    json PUT /api/v1/settings '{}' "${C[@]}" -H "X-CSRF-Token: $wrong"
    expect_error 403 csrf_failed "$be: a cookie write with a wrong CSRF token"
    json PUT /api/v1/settings '{"money_alert_fen": 100000}' "${C[@]}" -H "X-CSRF-Token: $csrf"
    expect_status 200 "$be: a cookie write with the CSRF token"
    expect_json 'j["settings"]["money_alert_fen"]' 100000 "$be: the setting is changed"
    json PUT /api/v1/settings '{"money_alert_fen": 5}' "${A[@]}"
    expect_status 200 "$be: a bearer write needs no CSRF token"
    json PUT /api/v1/settings '{"money_alert_fen": -1}' "${A[@]}"
    expect_error 400 invalid_request "$be: a negative threshold"
    json PUT /api/v1/settings '{"colour": "red"}' "${A[@]}"
    expect_error 400 invalid_request "$be: an unknown setting"
    req GET /api/v1/settings "${A[@]}"
    expect_json 'j["settings"]["money_alert_fen"]' 5 "$be: settings read back"

    # --- data: a device reports messages ------------------------------------------------------
    json POST "/api/v1/employees/$emp/enrollment-codes" '{"ttl_s": 600}' "${A[@]}"
    local code; code=$(jq_ 'j["code"]')
    json POST /api/v1/device/enroll "{\"code\": \"$code\", \"serial\": \"SN-9\", \"model\": \"P60\"}"
    local D=(-H "Authorization: Bearer $(jq_ 'j["token"]')")
    json POST /api/v1/device/events "$BATCH" "${D[@]}"
    expect_json 'j["acked_seq"]' 4 "$be: the batch is stored"

    # --- search: any substring, one character included ----------------------------------------
    search "飞"
    expect_json '[m["text"] for m in j["items"]]' '["飞机明天到，单据已发", "我是VIP客户，能飞单吗"]' "$be: q of 1 character"
    expect_json '[m["highlight"] for m in j["items"]]' '[[{"start": 0, "end": 3}], [{"start": 21, "end": 24}]]' \
        "$be: highlights are byte offsets"
    search "飞单"
    expect_json '[m["text"] for m in j["items"]]' '["我是VIP客户，能飞单吗"]' "$be: q of 2 characters (not 飞…单)"
    search "保本保息"
    expect_json '[m["text"] for m in j["items"]]' '["这款产品保本保息，年化5%"]' "$be: q of 4 characters"
    search "vip客户"
    expect_json '[m["text"] for m in j["items"]]' '["我是VIP客户，能飞单吗"]' "$be: mixed text, any case"
    search "#A17 已"
    expect_json '[m["text"] for m in j["items"]]' '["Order #A17 已发货"]' "$be: mixed text with symbols"
    search "年化5%"
    expect_json 'len(j["items"])' 1 "$be: a % in q is no wildcard"
    search "单飞"
    expect_json 'j["items"]' '[]' "$be: no false hit"
    req GET /api/v1/messages "${A[@]}"
    expect_json '(len(j["items"]), j["items"][0]["highlight"], j["next_cursor"])' '[4, null, null]' "$be: no q: everything"

    # --- filters, paging, limits -------------------------------------------------------------
    req GET '/api/v1/messages?channel=sms' "${A[@]}"
    expect_json '[m["channel"] for m in j["items"]]' '["sms"]' "$be: channel filter"
    req GET '/api/v1/messages?from=2026-11-21T00:00:00%2B08:00&to=2026-11-22T00:00:00Z' "${A[@]}"
    expect_json '[m["text"] for m in j["items"]]' '["我是VIP客户，能飞单吗"]' "$be: from/to"
    req GET "/api/v1/messages?employee=$emp&limit=2" "${A[@]}"
    expect_json '(len(j["items"]), j["next_cursor"] is not None)' '[2, true]' "$be: first page of 2"
    local first_ids cursor; first_ids=$(jq_ '[m["id"] for m in j["items"]]'); cursor=$(jq_ 'j["next_cursor"]')
    req GET "/api/v1/messages?employee=$emp&limit=2&cursor=$cursor" "${A[@]}"
    expect_json '(len(j["items"]), j["next_cursor"])' '[2, null]' "$be: last page of 2"
    expect_json "not set(m['id'] for m in j['items']) & set($first_ids)" true "$be: pages do not overlap"
    for bad in 'limit=0' 'limit=201' 'limit=abc' 'limit=' 'cursor=garbage' 'from=yesterday' 'customer=x'; do
        req GET "/api/v1/messages?$bad" "${A[@]}"
        expect_error 400 invalid_request "$be: messages?$bad"
    done
    req GET '/api/v1/messages?limit=200' "${A[@]}"
    expect_status 200 "$be: limit=200"

    # --- customers -----------------------------------------------------------------------------
    req GET /api/v1/customers "${A[@]}"
    expect_json 'sorted((c["name"], c["phone"]) for c in j["items"])' \
        '[["13900139000", "13900139000"], ["王女士", "13800138000"]]' "$be: customers, phones seen by admin"
    local cust; cust=$(jq_ '[c["id"] for c in j["items"] if c["name"] == "王女士"][0]')
    req GET "/api/v1/customers/$cust" "${A[@]}"
    expect_json '(j["name"], j["phone"], j["owner_employee_id"], j["tags"], sorted(j["identities"]))' \
        "[\"王女士\", \"13800138000\", \"$emp\", [], [\"phone:13800138000\", \"wechat:wxid_k2\"]]" "$be: one customer"
    req GET /api/v1/customers/0123456789abcdef01234567 "${A[@]}"
    expect_error 404 not_found "$be: an unknown customer"
    req GET "/api/v1/customers?q=%E7%8E%8B" "${A[@]}"
    expect_json '[c["name"] for c in j["items"]]' '["王女士"]' "$be: customers by name"
    req GET "/api/v1/messages?customer=$cust" "${A[@]}"
    expect_json 'len(j["items"])' 3 "$be: messages of one customer"

    # --- alerts ----------------------------------------------------------------------------------
    # the phone is the admin's own: its alerts go to another admin, never to itself
    req GET /api/v1/auth/session "${A[@]}"
    json POST /api/v1/employees "{\"name\": \"Second admin\", \"role\": \"admin\", \"username\": \"admin2\",
        \"password\": \"s3cret-pass\", \"org_unit_id\": \"$(jq_ 'j["employee"]["org_unit_id"]')\"}" "${A[@]}"
    expect_status 201 "$be: a second admin"
    login admin2
    local A2=(-H "Authorization: Bearer $tok")
    req GET '/api/v1/alerts?kind=sensitive_word' "${A[@]}"
    expect_json 'sorted(a["pattern"] for a in j["items"])' '["保本保息", "飞单"]' "$be: alerts by kind"
    local alert; alert=$(jq_ 'j["items"][0]["id"]')
    json PATCH "/api/v1/alerts/$alert" '{"status": "acknowledged"}' "${A[@]}"
    expect_error 403 forbidden "$be: the admin does not handle the alerts about itself"
    json PATCH "/api/v1/alerts/$alert" '{"status": "acknowledged"}' "${A2[@]}"
    expect_json '(j["id"], j["status"])' "[\"$alert\", \"acknowledged\"]" "$be: alert acknowledged"
    req GET '/api/v1/alerts?status=acknowledged' "${A[@]}"
    expect_json '[a["id"] for a in j["items"]]' "[\"$alert\"]" "$be: alerts by status"
    req GET '/api/v1/alerts?status=open&kind=sensitive_word' "${A[@]}"
    expect_json 'len(j["items"])' 1 "$be: the other one is still open"
    json PATCH "/api/v1/alerts/$alert" '{"status": "resolved", "comment": "已与员工谈话\n并提醒规范"}' "${A2[@]}"
    expect_json '(j["status"], j["comment"], j["handled_by"][:9])' \
        '["resolved", "已与员工谈话\n并提醒规范", "employee:"]' "$be: resolved with a comment"
    req GET '/api/v1/alerts?status=resolved' "${A[@]}"
    expect_json '(j["items"][0]["comment"], j["items"][0]["handled_by"][:9])' \
        '["已与员工谈话\n并提醒规范", "employee:"]' "$be: the queue shows who handled it and why"
    json PATCH "/api/v1/alerts/$alert" "{\"status\": \"resolved\", \"comment\": \"$(printf 'x%.0s' $(seq 1001))\"}" "${A2[@]}"
    expect_error 400 invalid_request "$be: a comment over 1,000 characters"
    json PATCH "/api/v1/alerts/$alert" '{"status": "acknowledged", "comment": 5}' "${A2[@]}"
    expect_error 400 invalid_request "$be: a comment that is not text"
    json PATCH "/api/v1/alerts/$alert" '{"status": "done"}' "${A2[@]}"
    expect_error 400 invalid_request "$be: an unknown status"
    json PATCH /api/v1/alerts/0123456789abcdef01234567 '{"status": "resolved"}' "${A2[@]}"
    expect_error 404 not_found "$be: an unknown alert"
    req GET '/api/v1/alerts?status=nope' "${A[@]}"
    expect_error 400 invalid_request "$be: a bad status filter"

    req GET /api/v1/lexicon "${A[@]}"
    expect_status 200 "$be: lexicon"
    expect_header_has "Content-Type: text/plain; charset=utf-8" "$be: the lexicon is text"
    case "$body" in *"飞单	private_deal	block"*) ;; *) fail "$be: the default lexicon";; esac

    # --- roles: an auditor reads (phones masked) and may unmask one record; a salesperson sees
    # only its own customers --------------------------------------------------------------------
    # The store is changed behind the server's back only while it is stopped: another process
    # writing the SQLite file of a running server is not a supported way to administer it.
    stop_server
    sql "INSERT INTO employees (tenant_id, id, org_unit_id, name, username, role, password_hash,
         active, created_us) SELECT tenant_id, 'aaaaaaaaaaaaaaaaaaaaaaa1', org_unit_id, 'Audrey',
         'audrey', 'auditor', password_hash, 1, 0 FROM employees WHERE username = 'admin'" >/dev/null
    sql "INSERT INTO employees (tenant_id, id, org_unit_id, name, username, role, password_hash,
         active, created_us) SELECT tenant_id, 'aaaaaaaaaaaaaaaaaaaaaaa2', org_unit_id, 'Sam',
         'sam', 'sales', password_hash, 1, 0 FROM employees WHERE username = 'admin'" >/dev/null
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    req GET /api/v1/auth/session "${A[@]}"
    expect_status 200 "$be: a session outlives a restart"
    login audrey
    expect_json 'j["employee"]["role"]' auditor "$be: auditor login"
    local U=(-H "Authorization: Bearer $tok")
    req GET "/api/v1/customers/$cust" "${U[@]}"
    expect_json '(j["phone"], sorted(j["identities"])[0])' '["138****8000", "phone:138****8000"]' \
        "$be: the auditor sees phones masked"
    req GET '/api/v1/customers?q=8000' "${U[@]}"
    expect_error 400 invalid_request "$be: the auditor cannot probe phone digits"
    req GET /api/v1/alerts "${U[@]}"
    expect_status 200 "$be: the auditor reads alerts"
    json PATCH "/api/v1/alerts/$alert" '{"status": "resolved"}' "${U[@]}"
    expect_status 200 "$be: the auditor handles alerts (handle_alerts, on by default)"
    req PUT /api/v1/lexicon --data-binary 'x' "${U[@]}"
    expect_error 403 forbidden "$be: the auditor cannot change the lexicon"
    json POST "/api/v1/employees/$emp/enrollment-codes" '{}' "${U[@]}"
    expect_error 403 forbidden "$be: the auditor cannot make codes"
    login sam
    local S=(-H "Authorization: Bearer $tok")
    req GET /api/v1/messages "${S[@]}"
    expect_json 'len(j["items"])' 0 "$be: sales sees no one else's messages"
    req GET "/api/v1/customers/$cust" "${S[@]}"
    expect_error 404 not_found "$be: someone else's customer does not exist for sales"
    req POST "/api/v1/customers/$cust/unmask" "${S[@]}"
    expect_error 403 forbidden "$be: sales may not unmask"
    req POST "/api/v1/customers/$cust/unmask" "${U[@]}"
    expect_json '(j["phone"], "phone:13800138000" in j["identities"])' '["13800138000", true]' \
        "$be: the auditor unmasks one customer"
    req GET /api/v1/auth/session "${S[@]}"
    expect_status 200 "$be: sales has its session"

    # --- deactivation, expiry ----------------------------------------------------------------
    stop_server
    sql "UPDATE employees SET active = 0 WHERE username = 'sam'" >/dev/null
    sql "UPDATE sessions SET expires_us = 1 WHERE employee_id = 'aaaaaaaaaaaaaaaaaaaaaaa1'" >/dev/null
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    req GET /api/v1/auth/session "${S[@]}"
    expect_error 401 unauthorized "$be: deactivating an employee ends its sessions"
    login sam
    expect_error 401 unauthorized "$be: an inactive employee cannot log in"
    expect_json 'j["error"]["message"]' "$bad_msg" "$be: ... and is told nothing more"
    req GET /api/v1/alerts "${U[@]}"
    expect_error 401 unauthorized "$be: an expired session"

    # --- logout ----------------------------------------------------------------------------------
    req POST /api/v1/auth/logout "${C[@]}"
    expect_error 403 csrf_failed "$be: a cookie logout needs the CSRF token"
    req POST /api/v1/auth/logout "${C[@]}" -H "X-CSRF-Token: $csrf"
    expect_status 204 "$be: logout"
    expect_header_has "Set-Cookie: wp_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" "$be: logout clears the cookie"
    req GET /api/v1/messages "${A[@]}"
    expect_error 401 unauthorized "$be: the token is dead after logout"
    req POST /api/v1/auth/logout "${A[@]}"
    expect_error 401 unauthorized "$be: logging out twice"

    # several tenants: login must name one
    stop_server
    [ "$(sql "SELECT count(*) FROM sessions WHERE token_hash LIKE 'wps_%'")" = 0 ] || fail "$be: a clear token in the store"
    sql "INSERT INTO tenants (id, name, created_us) VALUES ('bbbbbbbbbbbbbbbbbbbbbbbb', 'Other', 0)" >/dev/null
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    expect_error 400 invalid_request "$be: two tenants and none named"
    expect_json 'j["error"]["message"]' "tenant is required" "$be: ... says so"
    json POST /api/v1/auth/login '{"username": "admin", "password": "s3cret-pass", "tenant": "Acme"}'
    expect_status 200 "$be: two tenants, one named"
    req GET /api/v1/messages -H "Authorization: Bearer $(jq_ 'j["token"]')"
    expect_status 200 "$be: and works"

    req GET /metrics
    case "$body" in *'workphone_http_requests_total{route="/api/v1/messages",method="GET",status="200"}'*) ;;
        *) fail "$be: metrics count the console routes";; esac
    stop_server
}

suite sqlite
if pg_half; then
    suite postgresql
    drop_pg_dbs
fi
finish
