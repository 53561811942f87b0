#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lexicons per org unit over real sockets, on SQLite and PostgreSQL: a word added for one store
# reaches the policy of that store's phones and not another store's, the ETag moves for the one
# and not the other, and an event from that store raises the alert while one from the other
# store does not; the region's words reach both; a store's exception never lifts a block set
# above it; rights, scope and the audit row.
. "$(dirname "$0")/lib_api.sh"
export WORKPHONE_FAKE_NOW=2026-11-22T12:00:00+08:00

msg() { # SEQ TEXT: a one-message batch
    printf '{"events": [{"seq": %s, "type": "message", "ts": "2026-11-22T10:00:00+08:00",
      "channel": "wechat", "direction": "out", "peer": {"id": "wxid_c%s", "name": "客户"},
      "chat": "wxid_c%s", "msgtype": "text", "text": "%s"}]}' "$1" "$1" "$1" "$2"
}

etag_of() { printf '%s' "$headers" | tr -d '\r' | sed -n 's/^ETag: //Ip'; }

suite() { # backend
    local be=$1
    setup_store "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return

    login admin
    local A=(-H "Authorization: Bearer $tok")
    json GET /api/v1/org-units '' "${A[@]}"
    local top; top=$(jq_ 'j["items"][0]["id"]')
    local east sh hz
    unit 华东大区 "$top" region; east=$id
    unit 上海一店 "$east" store; sh=$id
    unit 杭州一店 "$east" store; hz=$id
    employee sh_sales "$sh" sales; local sh_emp=$id
    employee hz_sales "$hz" sales; local hz_emp=$id
    employee east_mgr "$east" manager
    device "$sh_emp" SN-SH; local DSH=(-H "Authorization: Bearer $dtok")
    device "$hz_emp" SN-HZ; local DHZ=(-H "Authorization: Bearer $dtok")

    # before: both phones get the tenant's policy, the ETag its version
    req GET /api/v1/device/policy "${DSH[@]}"
    expect_status 200 "$be: policy of the Shanghai phone"
    local sh0; sh0=$(etag_of)
    expect_eq "$sh0" "\"$(jq_ 'j["version"]')\"" "$be: without unit lexicons the ETag is the version"
    req GET /api/v1/device/policy "${DHZ[@]}"
    local hz0; hz0=$(etag_of)
    expect_eq "$hz0" "$sh0" "$be: both stores' phones have the tenant's policy"

    # a word for the Shanghai store only
    req PUT "/api/v1/lexicon?unit=$sh" -H 'Content-Type: text/plain' "${A[@]}" \
        --data-binary $'# 上海一店的词\n看房\tproperty\tblock\n'
    expect_status 200 "$be: PUT a store's lexicon"
    expect_json '(j["org_unit_id"], j["not_applied"], j["version"] > 1)' "[\"$sh\", [], true]" \
        "$be: the store's lexicon, its version above the tenant's"
    local shv; shv=$(jq_ 'j["version"]')
    req GET "/api/v1/lexicon?unit=$sh" "${A[@]}"
    expect_status 200 "$be: GET a store's lexicon"
    expect_eq "$body" $'# 上海一店的词\n看房\tproperty\tblock' "$be: the text as put"
    expect_eq "$(etag_of)" "\"$shv\"" "$be: its ETag is its version"
    req GET /api/v1/lexicon "${A[@]}"
    case "$body" in *看房*) fail "$be: the tenant's lexicon took the store's word" ;; esac

    # the Shanghai phone's policy moved and carries the word; Hangzhou's did not
    req GET /api/v1/device/policy -H "If-None-Match: $sh0" "${DSH[@]}"
    expect_status 200 "$be: the Shanghai phone's old ETag is stale"
    local sh1; sh1=$(etag_of)
    expect_json '(j["version"], "看房\tproperty\tblock" in j["lexicon"], "飞单" in j["lexicon"])' \
        "[$shv, true, true]" "$be: the store's word and the tenant's, the store's version"
    [[ $sh1 == \"$shv-*\" ]] || fail "$be: ETag '$sh1' names the version and the units"
    req GET /api/v1/device/policy -H "If-None-Match: $sh1" "${DSH[@]}"
    expect_status 304 "$be: the new ETag holds"
    req GET /api/v1/device/policy -H "If-None-Match: $hz0" "${DHZ[@]}"
    expect_status 304 "$be: the Hangzhou phone's policy did not move"
    req GET /api/v1/device/policy "${DHZ[@]}"
    expect_json '"看房" in j["lexicon"]' false "$be: the Hangzhou phone does not get the word"

    # events: the alert from the Shanghai phone only
    json POST /api/v1/device/events "$(msg 1 '周末带您去看房')" "${DSH[@]}"
    expect_json '[(a["pattern"], a["action"], a["category"]) for a in j["alerts"]]' \
        '[["看房", "block", "property"]]' "$be: the Shanghai phone's event raises the alert"
    json POST /api/v1/device/events "$(msg 1 '周末带您去看房')" "${DHZ[@]}"
    expect_json 'j["alerts"]' '[]' "$be: the Hangzhou phone's event does not"
    json POST /api/v1/device/check '{"text": "看房"}' "${DSH[@]}"
    expect_json 'j["action"]' block "$be: the pre-send check of the Shanghai phone blocks"
    json POST /api/v1/device/check '{"text": "看房"}' "${DHZ[@]}"
    expect_json 'j["action"]' allow "$be: the Hangzhou phone's passes"

    # the region's words reach both stores; where both list one, the store's action wins
    req PUT "/api/v1/lexicon?unit=$east" -H 'Content-Type: text/plain' "${A[@]}" \
        --data-binary $'看房\tproperty\talert\n首付贷\tproperty\talert\n'
    expect_status 200 "$be: PUT the region's lexicon"
    req GET /api/v1/device/policy -H "If-None-Match: $hz0" "${DHZ[@]}"
    expect_status 200 "$be: the region's change moves the Hangzhou phone's ETag"
    req GET /api/v1/device/policy -H "If-None-Match: $sh1" "${DSH[@]}"
    expect_status 200 "$be: and the Shanghai phone's"
    json POST /api/v1/device/check '{"text": "看房，首付贷"}' "${DHZ[@]}"
    expect_json '[(m["pattern"], m["action"]) for m in j["matches"]]' \
        '[["看房", "alert"], ["首付贷", "alert"]]' "$be: Hangzhou gets the region's words"
    json POST /api/v1/device/check '{"text": "看房"}' "${DSH[@]}"
    expect_json 'j["action"]' block "$be: the nearer unit's action wins"

    # a store's exception never lifts a block set above it
    req PUT "/api/v1/lexicon?unit=$sh" -H 'Content-Type: text/plain' "${A[@]}" \
        --data-binary $'看房\tproperty\tblock\nallow:飞单业务\nallow:不看房\n'
    expect_json 'j["not_applied"]' '[{"line": 2, "allow": "allow:飞单业务", "lifts": "飞单", "set_by": null}]' \
        "$be: the reply names the exception left out"
    json POST /api/v1/device/events "$(msg 2 '我们不做飞单业务，今天不看房')" "${DSH[@]}"
    expect_json '[a["pattern"] for a in j["alerts"]]' '["飞单"]' \
        "$be: the block above holds, the store's own exception holds"
    req GET "/api/v1/lexicon?unit=$sh&view=effective" "${A[@]}"
    expect_status 200 "$be: the union a store's phones get"
    case "$body" in *"# not applied (would lift the block of '飞单' set above): allow:飞单业务"*) ;;
        *) fail "$be: the union shows the exception left out" ;; esac
    local eff; eff=$(etag_of)
    req GET /api/v1/device/policy "${DSH[@]}"
    expect_eq "$(etag_of)" "$eff" "$be: the effective view's ETag is the phones'"

    # the test box with a unit's draft
    json POST /api/v1/lexicon/check "{\"unit\": \"$hz\", \"text\": \"不做飞单业务\",
        \"lexicon\": \"allow:飞单业务\n\"}" "${A[@]}"
    expect_json '(j["action"], [x["lifts"] for x in j["not_applied"]])' '["block", ["飞单"]]' \
        "$be: a draft tried for a unit"
    json POST /api/v1/lexicon/check "{\"unit\": \"$hz\", \"text\": \"x\", \"lexicon\": \"a\nb\tc\tblok\n\"}" "${A[@]}"
    expect_error 400 invalid_lexicon "$be: a bad draft for a unit"
    expect_json 'j["error"]["details"]["line"]' 2 "$be: its line"
    json POST /api/v1/lexicon/check "{\"unit\": \"$hz\", \"text\": \"看房\"}" "${A[@]}"
    expect_json 'j["action"]' alert "$be: the lexicons in force for a unit"
    json POST /api/v1/lexicon/check '{"unit": "0123456789abcdef01234567", "text": "x"}' "${A[@]}"
    expect_error 400 invalid_request "$be: an unknown unit in the test box"

    # the list, refusals, scope, the audit row
    req GET /api/v1/lexicons "${A[@]}"
    expect_json '[(i["org_unit_id"], i["entries"]) for i in j["items"]]' \
        "[[\"$east\", 2], [\"$sh\", 3]]" "$be: units with a lexicon of their own"
    req PUT "/api/v1/lexicon?unit=$sh" -H 'Content-Type: text/plain' "${A[@]}" \
        --data-binary $'看房\tproperty\tblok\n'
    expect_error 400 invalid_lexicon "$be: a bad line"
    expect_json 'j["error"]["details"]["line"]' 1 "$be: named by its line"
    req PUT "/api/v1/lexicon?unit=nope" -H 'Content-Type: text/plain' "${A[@]}" --data-binary 'x'
    expect_error 400 invalid_request "$be: a unit that is no id"
    req PUT "/api/v1/lexicon?unit=0123456789abcdef01234567" -H 'Content-Type: text/plain' \
        "${A[@]}" --data-binary 'x'
    expect_error 404 not_found "$be: an unknown unit"
    req GET "/api/v1/lexicon?unit=$sh&view=all" "${A[@]}"
    expect_error 400 invalid_request "$be: an unknown view"
    req GET "/api/v1/audit?action=lexicon.put&limit=10" "${A[@]}"
    expect_json "[(i['target'], i['details']['org_unit_id']) for i in j['items'] if i['target'] == 'org_unit:$sh'][:1]" \
        "[[\"org_unit:$sh\", \"$sh\"]]" "$be: audited as lexicon.put on the unit"

    login east_mgr
    local M=(-H "Authorization: Bearer $tok")
    req PUT "/api/v1/lexicon?unit=$sh" -H 'Content-Type: text/plain' "${M[@]}" --data-binary 'x'
    expect_error 403 forbidden "$be: a manager does not edit its subtree's lexicon"
    req GET "/api/v1/lexicon?unit=$sh" "${M[@]}"
    expect_status 200 "$be: a manager reads its subtree's"
    req GET "/api/v1/lexicon?unit=$top" "${M[@]}"
    expect_error 404 not_found "$be: not a unit above it"
    req GET /api/v1/lexicons "${M[@]}"
    expect_json 'len(j["items"])' 2 "$be: the manager lists its subtree's"
    login sh_sales
    local S=(-H "Authorization: Bearer $tok")
    req GET "/api/v1/lexicon?unit=$sh&view=effective" "${S[@]}"
    expect_status 200 "$be: a salesperson reads what its phone gets"
    req GET "/api/v1/lexicon?unit=$hz" "${S[@]}"
    expect_error 404 not_found "$be: not another store's"
    req GET /api/v1/lexicons "${S[@]}"
    expect_json '[i["org_unit_id"] for i in j["items"]]' "[\"$sh\"]" "$be: its own unit's"

    stop_server
}

run_suites
