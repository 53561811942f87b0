#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The routes no other test called (issue 17; tests/untested_routes.py keeps it so): changing
# one's own password, the roles page's read, the pool's settings, tag groups read and changed,
# grade rules changed and deleted. Exact status and body as each role (admin, manager, sales,
# auditor, an API key), refusals and bad input, on SQLite and PostgreSQL.
. "$(dirname "$0")/lib_api.sh"

suite() { # backend
    be=$1
    setup_store "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin; A=(-H "Authorization: Bearer $tok")
    req GET /api/v1/org-units "${A[@]}"
    local hq; hq=$(jq_ 'j["items"][0]["id"]')
    unit "Region A" "$hq" region; local ra=$id
    employee mgra "$ra" manager
    employee s1 "$ra" sales; local s1=$id
    employee aud "$hq" auditor
    login mgra; MA=(-H "Authorization: Bearer $tok")
    login s1; T1=(-H "Authorization: Bearer $tok")
    login aud; AU=(-H "Authorization: Bearer $tok")
    json POST /api/v1/api-keys '{"name": "reader", "role": "auditor"}' "${A[@]}"
    expect_status 201 "$be: an auditor API key"
    K=(-H "Authorization: Bearer $(jq_ 'j["key"]')")

    # --- GET /roles: the same four rows for every role that may read -------------------------
    local want='[["admin", ["session", "read", "write", "manage", "unmask", "handle_alerts", "audit", "admin"], true, true, true], ["manager", ["session", "read", "write", "manage", "unmask", "handle_alerts"], false, true, true], ["auditor", ["session", "read", "unmask", "handle_alerts", "audit"], false, true, true], ["sales", ["session", "read", "write"], false, false, false]]'
    for who in A MA T1 AU K; do
        local -n hdr=$who
        req GET /api/v1/roles "${hdr[@]}"
        expect_status 200 "$be: GET /roles as $who"
        expect_json '[[r["role"], r["rights"], r["view_pii"], r["unmask"], r["handle_alerts"]] for r in j["items"]]' "$want" "$be: GET /roles as $who"
        expect_json 'sorted(j)' '["items", "next_cursor"]' "$be: GET /roles as $who: a page"
        expect_json 'j["next_cursor"]' null "$be: GET /roles as $who: one page"
        expect_json 'sorted(j["items"][0])' '["handle_alerts", "rights", "role", "unmask", "updated_at", "view_pii"]' "$be: GET /roles fields"
    done
    req GET /api/v1/roles
    expect_error 401 unauthorized "$be: GET /roles without a token"
    json PUT /api/v1/roles/sales '{"view_pii": true}' "${A[@]}"
    expect_status 200 "$be: sales may see phone numbers"
    req GET /api/v1/roles "${T1[@]}"
    expect_json '[r["view_pii"] for r in j["items"] if r["role"] == "sales"]' '[true]' "$be: GET /roles shows the change"
    expect_json '[r["rights"] for r in j["items"] if r["role"] == "sales"]' '[["session", "read", "write", "unmask"]]' "$be: view_pii brings unmask"
    json PUT /api/v1/roles/sales '{"view_pii": false}' "${A[@]}"
    expect_status 200 "$be: and back"

    # --- GET /pool/settings -----------------------------------------------------------------
    for who in A MA T1 AU K; do
        local -n hdr=$who
        req GET /api/v1/pool/settings "${hdr[@]}"
        expect_status 200 "$be: GET /pool/settings as $who"
        expect_json '{k: v for k, v in j.items() if k != "updated_at"}' '{"pool_claim_daily_max": 20, "pool_cooldown_days": 7, "reclaim_inactive_days": 30}' "$be: GET /pool/settings as $who: the defaults"
    done
    json PUT /api/v1/pool/settings '{"pool_claim_daily_max": 3, "pool_cooldown_days": 0}' "${A[@]}"
    expect_status 200 "$be: PUT /pool/settings"
    req GET /api/v1/pool/settings "${T1[@]}"
    expect_json '{k: v for k, v in j.items() if k != "updated_at"}' '{"pool_claim_daily_max": 3, "pool_cooldown_days": 0, "reclaim_inactive_days": 30}' "$be: GET /pool/settings after a change"
    expect_json 'j["updated_at"][:2]' 20 "$be: GET /pool/settings: updated_at is a time"
    req GET /api/v1/pool/settings
    expect_error 401 unauthorized "$be: GET /pool/settings without a token"

    # --- tag groups: read by all, changed by admin and manager -------------------------------
    json POST /api/v1/tag-groups '{"name": "来源", "color": "#FF0000"}' "${MA[@]}"
    expect_status 201 "$be: a tag group"
    local g1; g1=$(jq_ 'j["id"]')
    json POST /api/v1/tag-groups '{"name": "意向"}' "${A[@]}"
    expect_status 201 "$be: another tag group"
    local g2; g2=$(jq_ 'j["id"]')
    for who in A MA T1 AU K; do
        local -n hdr=$who
        req GET /api/v1/tag-groups "${hdr[@]}"
        expect_status 200 "$be: GET /tag-groups as $who"
        expect_json '[(g["id"], g["name"], g["color"]) for g in j["items"]]' "[[\"$g2\", \"意向\", \"#8c8c8c\"], [\"$g1\", \"来源\", \"#ff0000\"]]" "$be: GET /tag-groups as $who"
        expect_json 'j["next_cursor"]' null "$be: GET /tag-groups as $who: one page"
    done
    req GET /api/v1/tag-groups
    expect_error 401 unauthorized "$be: GET /tag-groups without a token"

    local n0; n0=$(audit_count tag_group.update)
    json PATCH "/api/v1/tag-groups/$g1" '{"name": "客户来源"}' "${MA[@]}"
    expect_status 200 "$be: a manager renames a tag group"
    expect_json '(j["id"], j["name"], j["color"])' "[\"$g1\", \"客户来源\", \"#ff0000\"]" "$be: the renamed group"
    json PATCH "/api/v1/tag-groups/$g1" '{"color": "#00AA00"}' "${A[@]}"
    expect_status 200 "$be: an admin recolors it"
    expect_json '(j["id"], j["name"], j["color"])' "[\"$g1\", \"客户来源\", \"#00aa00\"]" "$be: the recolored group"
    expect_eq "$(audit_count tag_group.update)" $((n0 + 2)) "$be: each change audited"
    for who in T1 AU K; do
        local -n hdr=$who
        json PATCH "/api/v1/tag-groups/$g1" '{"name": "x"}' "${hdr[@]}"
        expect_error 403 forbidden "$be: PATCH /tag-groups as $who"
    done
    json PATCH "/api/v1/tag-groups/$g1" '{}' "${A[@]}"
    expect_error 400 invalid_request "$be: PATCH /tag-groups with nothing to change"
    json PATCH "/api/v1/tag-groups/$g1" '{"group_id": "x"}' "${A[@]}"
    expect_error 400 invalid_request "$be: a group has no group"
    json PATCH "/api/v1/tag-groups/$g1" '{"name": 5}' "${A[@]}"
    expect_error 400 invalid_request "$be: a name that is not a string"
    json PATCH "/api/v1/tag-groups/$g1" '[' "${A[@]}"
    expect_error 400 invalid_json "$be: PATCH /tag-groups with broken JSON"
    json PATCH "/api/v1/tag-groups/$g1" '{"name": "意向"}' "${A[@]}"
    expect_error 409 already_exists "$be: a name another group has"
    json PATCH /api/v1/tag-groups/00000000000000000000000000000000 '{"name": "y"}' "${A[@]}"
    expect_error 404 not_found "$be: PATCH an unknown tag group"
    req GET /api/v1/tag-groups "${T1[@]}"
    expect_json '[(g["name"], g["color"]) for g in j["items"]]' '[["客户来源", "#00aa00"], ["意向", "#8c8c8c"]]' "$be: refused changes changed nothing"

    # --- grade rules: changed and deleted by admins only -------------------------------------
    json POST /api/v1/grade-rules '{"grade": "B", "stage": "lead", "min_messages": 2, "messages_days": 7}' "${A[@]}"
    expect_status 201 "$be: a grade rule"
    local r1; r1=$(jq_ 'j["id"]')
    local fields='(j["id"], j["grade"], j["stage"], j["min_messages"], j["messages_days"], j["contact_within_days"], j["no_contact_days"], j["tag_id"], j["active"])'
    n0=$(audit_count grade_rule.update)
    json PATCH "/api/v1/grade-rules/$r1" '{"min_messages": null}' "${A[@]}"
    expect_error 400 invalid_request "$be: PATCH /grade-rules that splits a pair"
    expect_json 'j["error"]["message"]' "'min_messages' (0..1000000) and 'messages_days' (1..3650) go together" "$be: named"
    json PATCH "/api/v1/grade-rules/$r1" '{"grade": "A", "min_messages": null, "messages_days": null, "no_contact_days": 30, "active": false}' "${A[@]}"
    expect_status 200 "$be: PATCH /grade-rules"
    expect_json "$fields" "[\"$r1\", \"A\", \"lead\", null, null, null, 30, null, false]" "$be: the changed rule"
    req GET /api/v1/grade-rules "${T1[@]}"
    expect_json "[$fields for j in j[\"items\"]]" "[[\"$r1\", \"A\", \"lead\", null, null, null, 30, null, false]]" "$be: the change is read back"
    expect_eq "$(audit_count grade_rule.update)" $((n0 + 1)) "$be: the change audited"
    for who in MA T1 AU K; do
        local -n hdr=$who
        json PATCH "/api/v1/grade-rules/$r1" '{"grade": "C"}' "${hdr[@]}"
        expect_error 403 forbidden "$be: PATCH /grade-rules as $who"
        req DELETE "/api/v1/grade-rules/$r1" "${hdr[@]}"
        expect_error 403 forbidden "$be: DELETE /grade-rules as $who"
    done
    json PATCH "/api/v1/grade-rules/$r1" '{}' "${A[@]}"
    expect_error 400 invalid_request "$be: PATCH /grade-rules with nothing to change"
    json PATCH "/api/v1/grade-rules/$r1" '{"colour": "red"}' "${A[@]}"
    expect_error 400 invalid_request "$be: PATCH /grade-rules with an unknown field"
    json PATCH "/api/v1/grade-rules/$r1" '{"active": "yes"}' "${A[@]}"
    expect_error 400 invalid_request "$be: active that is not a boolean"
    json PATCH "/api/v1/grade-rules/$r1" '{"no_contact_days": -1}' "${A[@]}"
    expect_error 400 invalid_request "$be: a negative count"
    json PATCH "/api/v1/grade-rules/$r1" '{"tag_id": "not an id"}' "${A[@]}"
    expect_error 400 invalid_request "$be: a tag_id that is not an id"
    json PATCH /api/v1/grade-rules/00000000000000000000000000000000 '{"grade": "C"}' "${A[@]}"
    expect_error 404 not_found "$be: PATCH an unknown grade rule"
    req GET /api/v1/grade-rules "${A[@]}"
    expect_json "[$fields for j in j[\"items\"]]" "[[\"$r1\", \"A\", \"lead\", null, null, null, 30, null, false]]" "$be: refused changes changed nothing"

    n0=$(audit_count grade_rule.delete)
    req DELETE "/api/v1/grade-rules/$r1" "${A[@]}"
    expect_status 204 "$be: DELETE /grade-rules"
    expect_eq "$body" "" "$be: DELETE answers no body"
    expect_eq "$(audit_count grade_rule.delete)" $((n0 + 1)) "$be: the delete audited"
    req GET /api/v1/grade-rules "${A[@]}"
    expect_json 'j["items"]' '[]' "$be: the rule is gone"
    req DELETE "/api/v1/grade-rules/$r1" "${A[@]}"
    expect_error 404 not_found "$be: DELETE it again"
    json PATCH "/api/v1/grade-rules/$r1" '{"grade": "C"}' "${A[@]}"
    expect_error 404 not_found "$be: PATCH a deleted rule"

    # --- POST /auth/password: one's own, the current one checked -----------------------------
    json POST /api/v1/auth/password "{\"current_password\": \"$PW\"}" "${T1[@]}"
    expect_error 400 invalid_request "$be: no new_password"
    json POST /api/v1/auth/password "{\"current_password\": \"$PW\", \"new_password\": 5}" "${T1[@]}"
    expect_error 400 invalid_request "$be: a new_password that is not a string"
    json POST /api/v1/auth/password "{\"current_password\": \"$PW\", \"new_password\": \"$PW\"}" "${T1[@]}"
    expect_error 400 invalid_request "$be: the same password again"
    expect_json 'j["error"]["message"]' "new_password is the same as the current one" "$be: named"
    json POST /api/v1/auth/password "{\"current_password\": \"$PW\", \"new_password\": \"short\"}" "${T1[@]}"
    expect_error 400 invalid_request "$be: a too short new password"
    json POST /api/v1/auth/password '{"current_password": "wrong-password-1", "new_password": "another-pass-42"}' "${T1[@]}"
    expect_error 400 invalid_request "$be: a wrong current password"
    expect_json 'j["error"]["message"]' "current_password is wrong" "$be: named"
    json POST /api/v1/auth/password '[' "${T1[@]}"
    expect_error 400 invalid_json "$be: broken JSON"
    json POST /api/v1/auth/password "{\"current_password\": \"$PW\", \"new_password\": \"another-pass-42\"}" "${K[@]}"
    expect_error 403 forbidden "$be: an API key has no password"
    json POST /api/v1/auth/password "{\"current_password\": \"$PW\", \"new_password\": \"another-pass-42\"}"
    expect_error 401 unauthorized "$be: no token"

    n0=$(audit_count auth.password_change)
    local old=("${T1[@]}")
    json POST /api/v1/auth/password "{\"current_password\": \"$PW\", \"new_password\": \"another-pass-42\"}" "${T1[@]}"
    expect_status 200 "$be: sales changes its password"
    expect_json 'sorted(j)' '["csrf_token", "expires_at", "token"]' "$be: a new session answered"
    expect_json 'j["token"][:4]' wps_ "$be: a session token"
    T1=(-H "Authorization: Bearer $(jq_ 'j["token"]')")
    expect_eq "$(audit_count auth.password_change)" $((n0 + 1)) "$be: the change audited"
    req GET /api/v1/auth/session "${old[@]}"
    expect_error 401 unauthorized "$be: the old session ended"
    req GET /api/v1/auth/session "${T1[@]}"
    expect_status 200 "$be: the new session works"
    expect_json 'j["employee"]["id"]' "$s1" "$be: as s1"
    login s1
    expect_error 401 unauthorized "$be: the old password is refused"
    login s1 another-pass-42
    expect_status 200 "$be: the new password logs in"
    for who in A MA AU; do
        local -n hdr=$who
        json POST /api/v1/auth/password '{"current_password": "nope-nope-1", "new_password": "another-pass-42"}' "${hdr[@]}"
        expect_error 400 invalid_request "$be: POST /auth/password as $who checks the current one"
    done
    stop_server
}

run_suites
