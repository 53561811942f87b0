#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One device stopped from the console, over real sockets, on SQLite and PostgreSQL: revoked for
# good (POST /devices/{id}/revoke) or disabled until enabled again (PATCH /devices/{id}), its
# token refused at once on every device route; who may (admins; managers over the device's
# employee; not sales, auditors or peers; 404 outside the scope), and the audit rows.
. "$(dirname "$0")/lib_api.sh"

# expect_device_status TOKEN STATUS MSG: what the device's own routes answer it
expect_device_status() {
    json POST /api/v1/device/events '{"events": []}' -H "Authorization: Bearer $1"
    expect_status "$2" "$3 (events)"
    req GET /api/v1/device/policy -H "Authorization: Bearer $1"
    expect_status "$2" "$3 (policy)"
    json POST /api/v1/device/check '{"channel": "wechat", "peer": {"id": "x"}, "text": "你好"}' \
        -H "Authorization: Bearer $1"
    expect_status "$2" "$3 (check)"
}

suite() { # backend
    be=$1
    setup_store "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    local admin_id hq; admin_id=$(jq_ 'j["employee"]["id"]'); hq=$(jq_ 'j["employee"]["org_unit_id"]')

    unit "Region A" "$hq" region; local ra=$id
    unit "Store A1" "$ra" store; local sa1=$id
    unit "Region B" "$hq" region; local rb=$id
    employee mgra "$ra" manager; local mgra=$id
    employee mgra2 "$ra" manager; local mgra2=$id
    employee mgrs "$sa1" manager; local mgrs=$id
    employee sella "$sa1" sales; local sella=$id
    employee sellb "$rb" sales; local sellb=$id
    employee aud "$hq" auditor
    employee auds "$sa1" auditor; local auds=$id
    device "$sella" SN-SELLA; local dev_a=$dtok
    device "$sellb" SN-SELLB; local dev_b=$dtok
    device "$mgra2" SN-MGRA2; local dev_m2=$dtok
    device "$mgrs" SN-MGRS; local dev_ms=$dtok
    device "$admin_id" SN-ADMIN; local dev_admin=$dtok
    device "$auds" SN-AUDS; local dev_auds=$dtok
    req GET "/api/v1/devices?employee=$sella" "${A[@]}"
    local da; da=$(jq_ 'j["items"][0]["id"]')
    expect_json '(j["items"][0]["revoked"], j["items"][0]["disabled"], j["items"][0]["disabled_at"])' \
        '[false, false, null]' "$be: a new device works"
    req GET "/api/v1/devices?employee=$sellb" "${A[@]}"; local db=$(jq_ 'j["items"][0]["id"]')
    req GET "/api/v1/devices?employee=$mgra2" "${A[@]}"; local dm2=$(jq_ 'j["items"][0]["id"]')
    req GET "/api/v1/devices?employee=$mgrs" "${A[@]}"; local dms=$(jq_ 'j["items"][0]["id"]')
    req GET "/api/v1/devices?employee=$admin_id" "${A[@]}"; local dadm=$(jq_ 'j["items"][0]["id"]')
    req GET "/api/v1/devices?employee=$auds" "${A[@]}"; local daud=$(jq_ 'j["items"][0]["id"]')
    expect_device_status "$dev_a" 200 "$be: the device works before"

    # --- disable and enable --------------------------------------------------------------------
    json PATCH "/api/v1/devices/$da" '{"disabled": true}' "${A[@]}"
    expect_status 200 "$be: the admin disables a device"
    expect_json '(j["id"], j["disabled"], j["revoked"], j["disabled_at"] is not None)' \
        "[\"$da\", true, false, true]" "$be: ... and the reply says so"
    expect_device_status "$dev_a" 401 "$be: a disabled device's token is refused"
    req GET "/api/v1/devices?employee=$sella" "${A[@]}"
    expect_json 'j["items"][0]["disabled"]' true "$be: the list shows it disabled"
    json PATCH "/api/v1/devices/$da" '{"disabled": false}' "${A[@]}"
    expect_json '(j["disabled"], j["disabled_at"])' '[false, null]' "$be: enabled again"
    expect_device_status "$dev_a" 200 "$be: ... and its token works again"
    req GET "/api/v1/audit?target=device:$da&action=device.update" "${A[@]}"
    expect_json '[(a["action"], a["details"]["disabled"], a["details"]["employee_id"], a["details"]["serial"]) for a in j["items"]]' \
        "[[\"device.update\", [true, false], \"$sella\", \"SN-SELLA\"], [\"device.update\", [false, true], \"$sella\", \"SN-SELLA\"]]" \
        "$be: both changes are audited, newest first"

    # bad bodies
    json PATCH "/api/v1/devices/$da" '{}' "${A[@]}"
    expect_error 400 invalid_request "$be: nothing to change"
    json PATCH "/api/v1/devices/$da" '{"disabled": "yes"}' "${A[@]}"
    expect_error 400 invalid_request "$be: disabled must be a boolean"
    json PATCH "/api/v1/devices/$da" '{"disabled": true, "revoked": false}' "${A[@]}"
    expect_error 400 invalid_request "$be: an unknown field"
    json PATCH /api/v1/devices/0123456789abcdef01234567 '{"disabled": true}' "${A[@]}"
    expect_error 404 not_found "$be: an unknown device"
    req POST /api/v1/devices/nope/revoke "${A[@]}"
    expect_error 404 not_found "$be: a malformed id"

    # --- who may ---------------------------------------------------------------------------------
    login mgra; local M=(-H "Authorization: Bearer $tok")
    json PATCH "/api/v1/devices/$da" '{"disabled": true}' "${M[@]}"
    expect_status 200 "$be: a manager disables the device of a salesperson below it"
    json PATCH "/api/v1/devices/$dms" '{"disabled": true}' "${M[@]}"
    expect_status 200 "$be: ... and of a manager of a unit below its own"
    json PATCH "/api/v1/devices/$dms" '{"disabled": false}' "${M[@]}"
    expect_status 200 "$be: ... and enables it"
    json PATCH "/api/v1/devices/$dm2" '{"disabled": true}' "${M[@]}"
    expect_error 403 forbidden "$be: not a peer manager's"
    expect_json '"not its peers" in j["error"]["message"]' true "$be: ... and the refusal says why"
    json PATCH "/api/v1/devices/$daud" '{"disabled": true}' "${M[@]}"
    expect_error 403 forbidden "$be: not an auditor's, even one in a unit below it"
    expect_json '"only admins" in j["error"]["message"]' true "$be: ... and the refusal says why"
    req POST "/api/v1/devices/$daud/revoke" "${M[@]}"
    expect_error 403 forbidden "$be: ... nor revoke it"
    expect_device_status "$dev_auds" 200 "$be: the auditor's device still works"
    json PATCH "/api/v1/devices/$db" '{"disabled": true}' "${M[@]}"
    expect_error 404 not_found "$be: another region's device does not exist for it"
    req POST "/api/v1/devices/$db/revoke" "${M[@]}"
    expect_error 404 not_found "$be: ... nor can it be revoked"
    json PATCH "/api/v1/devices/$dadm" '{"disabled": true}' "${M[@]}"
    expect_status 404 "$be: the admin's device is outside its scope"
    login mgrs; local MS=(-H "Authorization: Bearer $tok")
    json PATCH "/api/v1/devices/$dms" '{"disabled": true}' "${MS[@]}"
    expect_error 403 forbidden "$be: nobody disables its own device"
    expect_json '"themselves" in j["error"]["message"]' true "$be: ... and the refusal says why"
    login sella; local S=(-H "Authorization: Bearer $tok")
    json PATCH "/api/v1/devices/$da" '{"disabled": false}' "${S[@]}"
    expect_error 403 forbidden "$be: sales may not (the route table says so)"
    req POST "/api/v1/devices/$da/revoke" "${S[@]}"
    expect_error 403 forbidden "$be: ... nor revoke, not even its own"
    login aud; local AU=(-H "Authorization: Bearer $tok")
    json PATCH "/api/v1/devices/$da" '{"disabled": false}' "${AU[@]}"
    expect_error 403 forbidden "$be: an auditor changes nothing"
    expect_device_status "$dev_a" 401 "$be: refusals changed nothing"

    # --- revoke: for good ------------------------------------------------------------------------
    req POST "/api/v1/devices/$db/revoke" "${A[@]}"
    expect_status 200 "$be: the admin revokes a device"
    expect_json '(j["id"], j["revoked"])' "[\"$db\", true]" "$be: ... and the reply says so"
    expect_device_status "$dev_b" 401 "$be: a revoked device's token is refused"
    json PATCH "/api/v1/devices/$db" '{"disabled": false}' "${A[@]}"
    expect_error 409 conflict "$be: a revoked device cannot be enabled"
    req POST "/api/v1/devices/$db/revoke" "${A[@]}"
    expect_status 200 "$be: revoking twice is no error"
    req POST "/api/v1/devices/$da/revoke" "${M[@]}"
    expect_json 'j["revoked"]' true "$be: a manager revokes the device of a salesperson below it"
    req POST "/api/v1/devices/$dms/revoke" "${MS[@]}"
    expect_json 'j["revoked"]' true "$be: anybody revokes its own lost phone"
    expect_device_status "$dev_ms" 401 "$be: ... and it stops"
    req POST "/api/v1/devices/$dadm/revoke" "${A[@]}"
    expect_status 200 "$be: so does an admin"
    expect_device_status "$dev_m2" 200 "$be: the devices nobody stopped work"
    req GET "/api/v1/audit?target=device:$db&action=device.revoke" "${A[@]}"
    expect_json '[(a["action"], a["actor"], a["details"]["revoked"]) for a in j["items"]]' \
        "[[\"device.revoke\", \"employee:$admin_id\", [true, true]], [\"device.revoke\", \"employee:$admin_id\", [false, true]]]" \
        "$be: revocations are audited"
    req GET "/api/v1/audit?action=device.revoke&limit=200" "${A[@]}"
    expect_json 'len(j["items"])' 5 "$be: every revocation, and no refusal, is a row"

    # a new enrollment brings the phone back
    device "$sellb" SN-SELLB; local dev_b2=$dtok
    expect_device_status "$dev_b2" 200 "$be: the phone enrolled again works"
    stop_server
}

run_suites
