#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The org tree and employees API over real sockets, on SQLite and PostgreSQL: the tree and its
# changes, accounts of every role, what each role sees (404 outside), deactivation and password
# resets ending sessions at once, bad inputs, and tenants kept apart.
. "$(dirname "$0")/lib_api.sh"

expect_names() { # FIELD MSG: the error message names the field, quoted
    expect_json "\"'$1'\" in j['error']['message']" true "$2"
}

suite() { # backend
    be=$1
    setup_store "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    local admin_id; admin_id=$(jq_ 'j["employee"]["id"]')

    # --- the tree ----------------------------------------------------------------------------
    req GET /api/v1/org-units "${A[@]}"
    expect_status 200 "$be: list units"
    expect_json '([(u["name"], u["kind"], u["parent_id"], u["depth"]) for u in j["items"]], j["next_cursor"])' \
        '[[["Acme", "hq", null, 1]], null]' "$be: init made the top unit"
    local hq; hq=$(jq_ 'j["items"][0]["id"]')
    unit "Region A" "$hq" region; local ra=$id
    expect_json '(j["name"], j["parent_id"], j["kind"], j["depth"], sorted(j))' \
        "[\"Region A\", \"$hq\", \"region\", 2, [\"depth\", \"id\", \"kind\", \"name\", \"parent_id\"]]" \
        "$be: the created unit"
    unit "Region B" "$hq" region; local rb=$id
    unit "Store A1" "$ra" store; local sa1=$id
    unit "Store B1" "$rb" store; local sb1=$id
    unit "Team B1" "$sb1" team; local tb1=$id
    req GET "/api/v1/org-units/$tb1" "${A[@]}"
    expect_json '(j["parent_id"], j["depth"])' "[\"$sb1\", 4]" "$be: get a unit"
    req GET /api/v1/org-units "${A[@]}"
    expect_json 'len(j["items"])' 6 "$be: six units"
    expect_json 'all(any(p["id"] == u["parent_id"] for p in j["items"][:i]) for i, u in enumerate(j["items"]) if i)' \
        true "$be: parents come before their children"
    req GET '/api/v1/org-units?limit=4' "${A[@]}"
    local first; first=$(jq_ '[u["id"] for u in j["items"]]')
    req GET "/api/v1/org-units?limit=4&cursor=$(jq_ 'j["next_cursor"]')" "${A[@]}"
    expect_json "(len(j['items']), j['next_cursor'], not set(u['id'] for u in j['items']) & set($first))" \
        '[2, null, true]' "$be: units page by page"
    req GET /api/v1/org-units/0123456789abcdef01234567 "${A[@]}"
    expect_error 404 not_found "$be: an unknown unit"

    # bad units: 400 naming the field
    json POST /api/v1/org-units "{\"parent_id\": \"$hq\", \"kind\": \"store\"}" "${A[@]}"
    expect_error 400 invalid_request "$be: a unit without a name"
    expect_names name "$be: ... names 'name'"
    json POST /api/v1/org-units "{\"name\": \"X\", \"parent_id\": \"$hq\", \"kind\": \"city\"}" "${A[@]}"
    expect_error 400 invalid_request "$be: a bad kind"
    expect_names kind "$be: ... names 'kind'"
    json POST /api/v1/org-units '{"name": "X", "parent_id": "nope", "kind": "store"}' "${A[@]}"
    expect_error 400 invalid_request "$be: a malformed parent"
    expect_names parent_id "$be: ... names 'parent_id'"
    json POST /api/v1/org-units '{"name": "X", "parent_id": "0123456789abcdef01234567", "kind": "store"}' "${A[@]}"
    expect_error 400 invalid_request "$be: an unknown parent"
    expect_names parent_id "$be: ... names 'parent_id'"
    json POST /api/v1/org-units "{\"name\": \"$(printf 'x%.0s' $(seq 101))\", \"parent_id\": \"$hq\", \"kind\": \"store\"}" "${A[@]}"
    expect_error 400 invalid_request "$be: a name of 101 characters"
    json POST /api/v1/org-units "{\"name\": \"X\", \"parent_id\": \"$hq\", \"kind\": \"store\", \"colour\": 1}" "${A[@]}"
    expect_error 400 invalid_request "$be: an unknown field"
    expect_names colour "$be: ... is named"
    json POST /api/v1/org-units '{"name": "Second top", "parent_id": null, "kind": "hq"}' "${A[@]}"
    expect_error 409 conflict "$be: one top unit per tenant"
    req POST /api/v1/org-units "${A[@]}" -H 'Content-Type: application/json' --data-binary '[1]'
    expect_error 400 invalid_json "$be: a body that is no object"

    # --- employees of every role ----------------------------------------------------------------
    employee mgra "$ra" manager; local mgra=$id
    expect_json 'sorted(j)' '["active", "created_at", "id", "name", "org_unit_id", "role", "username", "wecom_userid"]' \
        "$be: the employee object, and no password in it"
    expect_json '(j["name"], j["username"], j["org_unit_id"], j["role"], j["active"], j["wecom_userid"])' \
        "[\"Name of mgra\", \"mgra\", \"$ra\", \"manager\", true, null]" "$be: the created employee"
    employee mgrb "$rb" manager; local mgrb=$id
    employee sella "$sa1" sales; local sella=$id
    employee sellb "$sb1" sales; local sellb=$id
    employee audrey "$hq" auditor; local audrey=$id
    employee admin2 "$hq" admin; local admin2=$id
    case "$body" in *argon2*|*'"password'*) fail "$be: a password hash in a reply";; esac
    req GET "/api/v1/employees/$sella" "${A[@]}"
    expect_json '(j["username"], j["role"], j["org_unit_id"])' "[\"sella\", \"sales\", \"$sa1\"]" "$be: get an employee"
    case "$body" in *argon2*|*password*) fail "$be: a password hash in a reply";; esac
    req GET /api/v1/employees "${A[@]}"
    expect_json 'len(j["items"])' 7 "$be: seven employees"
    case "$body" in *argon2*|*password*) fail "$be: a password hash in a list";; esac

    # bad employees: 400 naming the field; a taken username 409
    local ok="\"name\": \"N\", \"org_unit_id\": \"$sa1\", \"role\": \"sales\", \"password\": \"$PW\""
    for c in "username|\"username\": \"two words\"" "username|\"username\": \"\"" \
             "username|\"username\": \"$(printf 'u%.0s' $(seq 65))\"" "username|\"username\": 5" \
             "username|\"username\": \"王\""; do
        json POST /api/v1/employees "{$ok, ${c#*|}}" "${A[@]}"
        expect_error 400 invalid_request "$be: bad ${c#*|}"
        expect_names "${c%%|*}" "$be: ... names '${c%%|*}'"
    done
    local base_u="\"username\": \"newbie\""
    for c in "password|\"password\": \"short\"" "password|\"password\": \"        \"" \
             "role|\"role\": \"root\"" "org_unit_id|\"org_unit_id\": \"0123456789abcdef01234567\"" \
             "org_unit_id|\"org_unit_id\": \"x\"" "name|\"name\": \"\"" "name|\"name\": null"; do
        local field=${c%%|*} b
        b=$(python3 -c 'import json, sys; d = json.loads("{" + sys.argv[1] + "}"); d.update(json.loads("{" + sys.argv[2] + "}")); print(json.dumps(d))' \
            "$ok, $base_u" "${c#*|}")
        json POST /api/v1/employees "$b" "${A[@]}"
        expect_error 400 invalid_request "$be: bad ${c#*|}"
        expect_names "$field" "$be: ... names '$field'"
    done
    json POST /api/v1/employees "{$ok, \"username\": \"sella\"}" "${A[@]}"
    expect_error 409 already_exists "$be: a taken username"
    req GET '/api/v1/employees?q=newbie' "${A[@]}"
    expect_json 'j["items"]' '[]' "$be: refused employees were not created"

    # --- who sees what -----------------------------------------------------------------------------
    login mgra; local M=(-H "Authorization: Bearer $tok")
    req GET /api/v1/employees "${M[@]}"
    expect_json 'sorted(e["username"] for e in j["items"])' '["mgra", "sella"]' \
        "$be: a manager sees its subtree's employees"
    req GET "/api/v1/employees/$sella" "${M[@]}"
    expect_status 200 "$be: a manager reads its salesperson"
    req GET "/api/v1/employees/$sellb" "${M[@]}"
    expect_error 404 not_found "$be: a manager does not see another region's employee"
    req GET "/api/v1/employees/$admin_id" "${M[@]}"
    expect_error 404 not_found "$be: ... nor the admin above it"
    req GET /api/v1/org-units "${M[@]}"
    expect_json 'sorted(u["name"] for u in j["items"])' '["Region A", "Store A1"]' \
        "$be: a manager sees its units"
    req GET "/api/v1/org-units/$rb" "${M[@]}"
    expect_error 404 not_found "$be: ... and not the others"
    req GET "/api/v1/employees?org_unit=$rb" "${M[@]}"
    expect_json 'j["items"]' '[]' "$be: filtering on a unit out of scope finds nothing"
    json POST /api/v1/org-units "{\"name\": \"Mine\", \"parent_id\": \"$ra\", \"kind\": \"store\"}" "${M[@]}"
    expect_error 403 forbidden "$be: a manager does not create units"
    json PATCH "/api/v1/employees/$sella" '{"name": "Renamed"}' "${M[@]}"
    expect_error 403 forbidden "$be: a manager does not change employees"

    login sella; local S=(-H "Authorization: Bearer $tok")
    req GET /api/v1/employees "${S[@]}"
    expect_json 'sorted(e["username"] for e in j["items"])' '["sella"]' "$be: a salesperson sees itself"
    req GET "/api/v1/employees/$mgra" "${S[@]}"
    expect_error 404 not_found "$be: ... and not its manager"
    req GET /api/v1/org-units "${S[@]}"
    expect_json '[u["id"] for u in j["items"]]' "[\"$sa1\"]" "$be: a salesperson sees its own unit"
    req GET "/api/v1/org-units/$ra" "${S[@]}"
    expect_error 404 not_found "$be: ... only"

    login audrey; local U=(-H "Authorization: Bearer $tok")
    req GET /api/v1/employees "${U[@]}"
    expect_json 'len(j["items"])' 7 "$be: an auditor reads every employee"
    req GET "/api/v1/org-units/$tb1" "${U[@]}"
    expect_status 200 "$be: ... and every unit"
    json POST /api/v1/org-units "{\"name\": \"X\", \"parent_id\": \"$hq\", \"kind\": \"store\"}" "${U[@]}"
    expect_error 403 forbidden "$be: an auditor cannot create units"
    json PATCH "/api/v1/org-units/$ra" '{"name": "X"}' "${U[@]}"
    expect_error 403 forbidden "$be: ... nor rename them"
    req DELETE "/api/v1/org-units/$tb1" "${U[@]}"
    expect_error 403 forbidden "$be: ... nor delete them"
    json POST /api/v1/employees "{$ok, \"username\": \"x\"}" "${U[@]}"
    expect_error 403 forbidden "$be: an auditor cannot create employees"
    json PATCH "/api/v1/employees/$sella" '{"active": false}' "${U[@]}"
    expect_error 403 forbidden "$be: ... nor change them"
    json PUT "/api/v1/employees/$sella/password" "{\"password\": \"$PW\"}" "${U[@]}"
    expect_error 403 forbidden "$be: ... nor set passwords"

    # --- list filters ------------------------------------------------------------------------------
    req GET "/api/v1/employees?org_unit=$ra" "${A[@]}"
    expect_json 'sorted(e["username"] for e in j["items"])' '["mgra", "sella"]' "$be: ?org_unit= takes the subtree"
    req GET '/api/v1/employees?role=manager' "${A[@]}"
    expect_json 'sorted(e["username"] for e in j["items"])' '["mgra", "mgrb"]' "$be: ?role="
    req GET '/api/v1/employees?q=SELL' "${A[@]}"
    expect_json 'sorted(e["username"] for e in j["items"])' '["sella", "sellb"]' "$be: ?q= on the username"
    req GET '/api/v1/employees?q=name%20of%20aud' "${A[@]}"
    expect_json 'sorted(e["username"] for e in j["items"])' '["audrey"]' "$be: ?q= on the name"
    req GET '/api/v1/employees?limit=4' "${A[@]}"
    first=$(jq_ '[e["id"] for e in j["items"]]')
    req GET "/api/v1/employees?limit=4&cursor=$(jq_ 'j["next_cursor"]')" "${A[@]}"
    expect_json "(len(j['items']), j['next_cursor'], not set(e['id'] for e in j['items']) & set($first))" \
        '[3, null, true]' "$be: employees page by page"
    for bad in 'role=root' 'active=yes' 'org_unit=x' 'limit=0' 'cursor=garbage'; do
        req GET "/api/v1/employees?$bad" "${A[@]}"
        expect_error 400 invalid_request "$be: employees?$bad"
    done

    # --- delete ----------------------------------------------------------------------------------
    req DELETE "/api/v1/org-units/$sa1" "${A[@]}"
    expect_error 409 conflict "$be: a unit with people cannot go"
    req DELETE "/api/v1/org-units/$sb1" "${A[@]}"
    expect_error 409 conflict "$be: a unit with units cannot go"
    req DELETE "/api/v1/org-units/$tb1" "${A[@]}"
    expect_status 204 "$be: an empty unit goes"
    req GET "/api/v1/org-units/$tb1" "${A[@]}"
    expect_error 404 not_found "$be: ... and is gone"
    req DELETE "/api/v1/org-units/$tb1" "${A[@]}"
    expect_error 404 not_found "$be: deleting it again"

    # --- rename and move -------------------------------------------------------------------------
    json PATCH "/api/v1/org-units/$ra" '{"name": "华南"}' "${A[@]}"
    expect_json '(j["name"], j["parent_id"])' "[\"华南\", \"$hq\"]" "$be: rename"
    json PATCH "/api/v1/org-units/$ra" '{}' "${A[@]}"
    expect_error 400 invalid_request "$be: a PATCH that changes nothing"
    json PATCH "/api/v1/org-units/$ra" "{\"parent_id\": \"$sa1\"}" "${A[@]}"
    expect_error 400 invalid_request "$be: a unit cannot move below itself"
    expect_names parent_id "$be: ... names 'parent_id'"
    json PATCH "/api/v1/org-units/$ra" "{\"parent_id\": \"$ra\"}" "${A[@]}"
    expect_error 400 invalid_request "$be: ... nor under itself"
    json PATCH "/api/v1/org-units/$ra" '{"parent_id": null}' "${A[@]}"
    expect_error 400 invalid_request "$be: ... nor become a second top"
    json PATCH "/api/v1/org-units/$sb1" "{\"parent_id\": \"$ra\", \"name\": \"Store B1 (moved)\"}" "${A[@]}"
    expect_json '(j["name"], j["parent_id"], j["depth"])' "[\"Store B1 (moved)\", \"$ra\", 3]" "$be: move and rename"
    req GET /api/v1/employees "${M[@]}"
    expect_json 'sorted(e["username"] for e in j["items"])' '["mgra", "sella", "sellb"]' \
        "$be: the moved unit's people are in the new manager's scope"
    req GET "/api/v1/employees/$sellb" "${M[@]}"
    expect_status 200 "$be: ... one by one too"
    req GET /api/v1/org-units "${M[@]}"
    expect_json 'len(j["items"])' 3 "$be: ... with the unit"
    login mgrb; local MB=(-H "Authorization: Bearer $tok")
    req GET "/api/v1/employees/$sellb" "${MB[@]}"
    expect_error 404 not_found "$be: ... and out of the old manager's"

    # --- changing employees ----------------------------------------------------------------------
    json PATCH "/api/v1/employees/$sellb" "{\"org_unit_id\": \"$rb\", \"role\": \"manager\", \"name\": \"Bee\"}" "${A[@]}"
    expect_json '(j["org_unit_id"], j["role"], j["name"], j["active"])' "[\"$rb\", \"manager\", \"Bee\", true]" \
        "$be: change unit, role and name"
    json PATCH "/api/v1/employees/$sellb" '{"active": "no"}' "${A[@]}"
    expect_error 400 invalid_request "$be: active must be a boolean"
    json PATCH "/api/v1/employees/$sellb" '{"org_unit_id": "0123456789abcdef01234567"}' "${A[@]}"
    expect_error 400 invalid_request "$be: an unknown unit"
    json PATCH "/api/v1/employees/$sellb" '{"username": "x"}' "${A[@]}"
    expect_error 400 invalid_request "$be: the username does not change"
    json PATCH /api/v1/employees/0123456789abcdef01234567 '{"name": "x"}' "${A[@]}"
    expect_error 404 not_found "$be: an unknown employee"

    # deactivation ends sessions at once
    req GET /api/v1/auth/session "${S[@]}"
    expect_status 200 "$be: the salesperson's session works"
    json PATCH "/api/v1/employees/$sella" '{"active": false}' "${A[@]}"
    expect_json 'j["active"]' false "$be: deactivated"
    req GET /api/v1/auth/session "${S[@]}"
    expect_error 401 unauthorized "$be: ... its session ends at once"
    login sella
    expect_error 401 unauthorized "$be: ... it cannot log in"
    req GET '/api/v1/employees?active=false' "${A[@]}"
    expect_json '[e["username"] for e in j["items"]]' '["sella"]' "$be: ?active=false"
    json PATCH "/api/v1/employees/$sella" '{"active": true}' "${A[@]}"
    login sella
    expect_status 200 "$be: reactivated, it logs in again"
    S=(-H "Authorization: Bearer $tok")

    # an admin sets a password: policy, and that employee's sessions end
    json PUT "/api/v1/employees/$sella/password" '{"password": "short"}' "${A[@]}"
    expect_error 400 invalid_request "$be: a password against the policy"
    expect_names password "$be: ... names 'password'"
    json PUT "/api/v1/employees/$sella/password" '{"password": "n3w-passw0rd"}' "${A[@]}"
    expect_status 204 "$be: password set"
    req GET /api/v1/auth/session "${S[@]}"
    expect_error 401 unauthorized "$be: ... the old sessions end"
    login sella
    expect_error 401 unauthorized "$be: ... the old password is refused"
    login sella n3w-passw0rd
    expect_status 200 "$be: ... the new one works"
    json PUT /api/v1/employees/0123456789abcdef01234567/password '{"password": "n3w-passw0rd"}' "${A[@]}"
    expect_error 404 not_found "$be: the password of an unknown employee"

    # nobody demotes or deactivates itself (the last active admin least of all); another
    # admin may (the store's last-admin rule, WP_EBUSY, is in tests/unit/store)
    json PATCH "/api/v1/employees/$admin2" '{"active": false}' "${A[@]}"
    expect_status 200 "$be: the second admin leaves"
    json PATCH "/api/v1/employees/$admin_id" '{"role": "auditor"}' "${A[@]}"
    expect_error 403 forbidden "$be: the last admin cannot demote itself"
    json PATCH "/api/v1/employees/$admin_id" '{"active": false}' "${A[@]}"
    expect_error 403 forbidden "$be: ... nor deactivate itself"
    req GET /api/v1/auth/session "${A[@]}"
    expect_status 200 "$be: ... and stays logged in"
    json PATCH "/api/v1/employees/$admin2" '{"active": true}' "${A[@]}"
    json PATCH "/api/v1/employees/$admin_id" '{"role": "auditor", "name": "Former admin"}' "${A[@]}"
    expect_error 403 forbidden "$be: ... nor with another admin there"
    login admin2
    local A2=(-H "Authorization: Bearer $tok")
    json PATCH "/api/v1/employees/$admin_id" '{"role": "auditor", "name": "Former admin"}' "${A2[@]}"
    expect_json 'j["role"]' auditor "$be: another admin can demote it"
    json PATCH "/api/v1/employees/$admin_id" '{"role": "admin"}' "${A2[@]}"
    expect_status 200 "$be: the other admin promotes it back"
    A=("${A2[@]}")

    # --- every write is audited, without passwords ------------------------------------------------
    req GET "/api/v1/audit?target=org_unit:$tb1" "${A[@]}"
    expect_json '[a["action"] for a in j["items"]]' '["org_unit.delete", "org_unit.create"]' \
        "$be: a unit's audit trail"
    req GET "/api/v1/audit?target=org_unit:$sb1&action=org_unit.update" "${A[@]}"
    expect_json '[(a["details"]["old_parent_id"], a["details"]["parent_id"], a["details"]["name"]) for a in j["items"]]' \
        "[[\"$rb\", \"$ra\", \"Store B1 (moved)\"]]" "$be: a move is audited with where from and to"
    req GET "/api/v1/audit?target=employee:$sella" "${A[@]}"
    expect_json '[a["action"] for a in j["items"] if a["action"].startswith("employee.")]' \
        '["employee.password_reset", "employee.update", "employee.update", "employee.create"]' \
        "$be: an employee's audit trail"
    expect_json '[a["details"] for a in j["items"] if a["action"] == "employee.update"][1]' \
        '{"active": [true, false], "sessions_revoked": 1}' "$be: the deactivation and the sessions it ended"
    req GET '/api/v1/audit?limit=200' "${A[@]}"
    case "$body" in *argon2*|*n3w-passw0rd*|*"$PW"*) fail "$be: a password or hash in the audit log";; esac
    expect_json '"employee.create" in [a["action"] for a in j["items"]]' true "$be: audit rows are there"

    # --- tenants stay apart ----------------------------------------------------------------------
    stop_server
    local t2=bbbbbbbbbbbbbbbbbbbbbbb2 u2=bbbbbbbbbbbbbbbbbbbbbbb3
    sql "INSERT INTO tenants (id, name, created_us) VALUES ('$t2', 'Other', 0)" >/dev/null
    sql "INSERT INTO org_units (tenant_id, id, parent_id, name, kind, path, depth, created_us)
         VALUES ('$t2', '$u2', NULL, 'Other HQ', 'hq', '/$u2/', 1, 0)" >/dev/null
    sql "INSERT INTO employees (tenant_id, id, org_unit_id, name, username, role, password_hash,
         active, created_us) SELECT '$t2', 'bbbbbbbbbbbbbbbbbbbbbbb4', '$u2', 'Their admin',
         'admin', 'admin', password_hash, 1, 1764230400000000 FROM employees WHERE username = 'mgra'" >/dev/null
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin "$PW" Other
    local O=(-H "Authorization: Bearer $tok")
    req GET /api/v1/org-units "${O[@]}"
    expect_json '[u["id"] for u in j["items"]]' "[\"$u2\"]" "$be: another tenant sees its own tree only"
    req GET /api/v1/employees "${O[@]}"
    expect_json '[e["username"] for e in j["items"]]' '["admin"]' "$be: ... and its own people only"
    req GET "/api/v1/org-units/$ra" "${O[@]}"
    expect_error 404 not_found "$be: ... not the first tenant's units"
    req GET "/api/v1/employees/$mgra" "${O[@]}"
    expect_error 404 not_found "$be: ... nor its employees"
    json PATCH "/api/v1/employees/$mgra" '{"active": false}' "${O[@]}"
    expect_error 404 not_found "$be: ... nor change them"
    req DELETE "/api/v1/org-units/$sa1" "${O[@]}"
    expect_error 404 not_found "$be: ... nor delete units"
    json POST /api/v1/org-units "{\"name\": \"Stolen\", \"parent_id\": \"$ra\", \"kind\": \"store\"}" "${O[@]}"
    expect_error 400 invalid_request "$be: ... nor hang units below them"
    json POST /api/v1/employees "{$ok, \"username\": \"spy\"}" "${O[@]}"
    expect_error 400 invalid_request "$be: ... nor put people in them"
    json PATCH "/api/v1/org-units/$u2" "{\"parent_id\": \"$ra\"}" "${O[@]}"
    expect_error 400 invalid_request "$be: ... nor move a unit under them"
    login admin2 "$PW" Acme
    req GET "/api/v1/org-units/$u2" -H "Authorization: Bearer $tok"
    expect_error 404 not_found "$be: and the first tenant does not see the other's"
    stop_server
}

run_suites
