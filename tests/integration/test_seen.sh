#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What people see (issue 15), over real sockets on SQLite and PostgreSQL: the open-alert count
# past 200 and what arrived since the last look, scoped like the list; the tenant's time zone
# and working hours with a per-unit override inherited down the tree (the question attendance
# will ask: is this time within an employee's working hours); each message type's fields in the
# archive and the timeline; media shown in the page (media.view, a read) versus downloaded
# (media.download, an export).
. "$(dirname "$0")/lib_api.sh"

T0=2026-11-27T10:00:00+08:00 # a Friday
export WORKPHONE_TEST_CLOCK=$CLOCK

# send DEVTOKEN EVENTS...: one batch, all acked
send() {
    local t=$1; shift
    local IFS=,
    json POST /api/v1/device/events "{\"events\": [$*]}" -H "Authorization: Bearer $t"
    expect_status 200 "$be: events"
    expect_json 'len(j["rejected"])' 0 "$be: nothing rejected: $(jq_ 'j["rejected"]')"
}

# msg SEQ PEER MSGTYPE EXTRA-JSON: a message event at T0 minus SEQ minutes
msg() {
    local ts; ts=$(python3 -c "import datetime as d; print((d.datetime.fromisoformat('$T0') - d.timedelta(minutes=300 - $1)).isoformat())")
    printf '{"seq": %s, "type": "message", "ts": "%s", "channel": "wechat", "direction": "in",
      "peer": {"id": "wxid_%s", "name": "客户%s"}, "chat": "wxid_%s", "msgtype": "%s"%s}' \
        "$1" "$ts" "$2" "$2" "$2" "$3" "${4:+, $4}"
}

open_count() { # CREDENTIAL...: the open-alert count
    req GET "/api/v1/alerts/count?status=open" "$@"
    jq_ 'j["count"]'
}

working() { # EMPLOYEE TIME: true/false
    req GET "/api/v1/employees/$1/working-hours?at=$(python3 -c "import urllib.parse as u; print(u.quote('$2'))")" "${A[@]}"
    jq_ 'j["working"]'
}

suite() { # backend
    be=$1
    set_clock "$T0"
    setup_store "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    req GET /api/v1/auth/session "${A[@]}"
    local hq; hq=$(jq_ 'j["employee"]["org_unit_id"]')
    unit "华东大区" "$hq" region; local east=$id
    unit "上海一店" "$east" store; local shop=$id
    unit "华南大区" "$hq" region; local south=$id
    employee mgr "$east" manager; local mgr=$id
    employee s1 "$shop" sales; local s1=$id
    employee s2 "$south" sales; local s2=$id
    login mgr; local M=(-H "Authorization: Bearer $tok")
    login s1; local S1=(-H "Authorization: Bearer $tok")
    login s2; local S2=(-H "Authorization: Bearer $tok")

    # === 1. the open-alert count: the true number, scoped, and what is new since ==========
    req GET "/api/v1/alerts/count?status=open" "${A[@]}"
    expect_status 200 "$be: count of nothing"
    expect_json '(j["count"], j["new"])' '[0, null]' "$be: no alerts, nothing asked since"
    local since; since=$(jq_ 'j["checked_at"]')
    # 205 sensitive words from s1's phone, 3 from s2's
    device "$s1" SN-S1; local d1=$dtok
    local ev=() i
    for i in $(seq 1 205); do ev+=("$(msg "$i" a text '"text": "可以帮你飞单"')"); done
    send "$d1" "${ev[@]}"
    device "$s2" SN-S2; local d2=$dtok
    send "$d2" "$(msg 1 b text '"text": "飞单找我"')" "$(msg 2 b text '"text": "私单也行"')" \
        "$(msg 3 b text '"text": "飞单"')"
    expect_eq "$(open_count "${A[@]}")" 208 "$be: the admin's open alerts, past 200"
    expect_eq "$(open_count "${M[@]}")" 205 "$be: the manager's: its subtree's"
    expect_eq "$(open_count "${S2[@]}")" 3 "$be: a salesperson's: its own"
    req GET "/api/v1/alerts/count?status=open&employee=$s2" "${M[@]}"
    expect_json 'j["count"]' 0 "$be: a filter outside the manager's subtree counts nothing"
    req GET "/api/v1/alerts/count?status=open&since=$since" "${A[@]}"
    expect_json 'j["new"]' 0 "$be: stored within the last 2 s: not counted yet"
    set_clock 2026-11-27T10:00:10+08:00
    req GET "/api/v1/alerts/count?status=open&since=$since" "${A[@]}"
    expect_json '(j["count"], j["new"], j["checked_at"])' '[208, 208, "2026-11-27T02:00:08Z"]' \
        "$be: then they are new, up to checked_at"
    since=$(jq_ 'j["checked_at"]')
    req GET "/api/v1/alerts/count?status=open&since=$since" "${M[@]}"
    expect_json 'j["new"]' 0 "$be: and not new twice"
    req GET "/api/v1/alerts?status=open&employee=$s2&limit=1" "${A[@]}"
    json PATCH "/api/v1/alerts/$(jq_ 'j["items"][0]["id"]')" '{"status": "resolved"}' "${A[@]}"
    expect_status 200 "$be: resolve one"
    expect_eq "$(open_count "${A[@]}")" 207 "$be: a resolved alert leaves the count"
    req GET "/api/v1/alerts/count?status=resolved" "${S2[@]}"
    expect_json 'j["count"]' 1 "$be: counted by status"
    req GET "/api/v1/alerts/count?status=shut" "${A[@]}"
    expect_error 400 invalid_request "$be: an unknown status"
    req GET "/api/v1/alerts/count?since=yesterday" "${A[@]}"
    expect_error 400 invalid_request "$be: since is a time"
    req GET /api/v1/alerts/count
    expect_status 401 "$be: no token"

    # === 2. working hours ==================================================================
    req GET /api/v1/working-hours "${S1[@]}"
    expect_status 200 "$be: everyone reads the working hours"
    expect_json '(j["time_zone"], j["time_zone_set"], j["default"], j["default_set"], j["units"])' \
        '["Asia/Shanghai", false, {"days": [1, 2, 3, 4, 5], "from": "09:00", "to": "18:00"}, false, []]' \
        "$be: the default: Monday to Friday, 09:00-18:00, Shanghai time"
    expect_eq "$(working "$s1" 2026-11-27T17:59:59+08:00)" true "$be: Friday 17:59:59 is working time"
    expect_eq "$(working "$s1" 2026-11-27T18:00:00+08:00)" false "$be: 18:00 is not"
    expect_eq "$(working "$s1" 2026-11-28T10:00:00+08:00)" false "$be: nor a Saturday"
    expect_eq "$(working "$s1" 2026-11-30T01:00:00Z)" true "$be: Monday 09:00 in Shanghai is 01:00Z"
    local bad
    for bad in '{"default": {"days": [8], "from": "09:00", "to": "18:00"}}' \
        '{"default": {"days": [1, 1], "from": "09:00", "to": "18:00"}}' \
        '{"default": {"days": [1], "from": "9:00", "to": "18:00"}}' \
        '{"default": {"days": [1], "from": "09:00", "to": "24:30"}}' \
        '{"default": {"days": [1], "from": "09:00", "to": "09:00"}}' \
        '{"default": {"days": [1], "from": "09:00"}}' \
        '{"default": {"days": [1], "from": "09:00", "to": "18:00", "lunch": "12:00"}}' \
        '{"time_zone": "Mars/Olympus"}' '{"time_zone": "../../etc/passwd"}' \
        '{"units": {"not-an-id": null}}' "{\"units\": {\"${hq:0:31}0\": null}}" '{}' \
        '{"hours": 8}'; do
        json PUT /api/v1/working-hours "$bad" "${A[@]}"
        expect_error 400 invalid_request "$be: refused: $bad"
    done
    json PUT /api/v1/working-hours '{"time_zone": "UTC"}' "${M[@]}"
    expect_error 403 forbidden "$be: a manager may not change them"
    # the east region works Saturdays too, 10:00-19:00; the shop below it inherits that
    json PUT /api/v1/working-hours "{\"units\": {\"$east\": {\"days\": [1, 2, 3, 4, 5, 6], \"from\": \"10:00\", \"to\": \"19:00\"}}}" "${A[@]}"
    expect_status 200 "$be: an override for the east region"
    expect_json '[(u["org_unit_id"] == "'"$east"'", u["days"], u["from"], u["to"]) for u in j["units"]]' \
        '[[true, [1, 2, 3, 4, 5, 6], "10:00", "19:00"]]' "$be: ... answered back"
    expect_eq "$(working "$s1" 2026-11-28T10:00:00+08:00)" true "$be: the shop inherits the region's Saturday"
    expect_eq "$(working "$s1" 2026-11-27T09:30:00+08:00)" false "$be: ... and its 10:00 start"
    req GET "/api/v1/employees/$s1/working-hours" "${A[@]}"
    expect_json '(j["org_unit_id"] == "'"$east"'", j["time_zone"], j["from"], j["checked_at"])' \
        '[true, "Asia/Shanghai", "10:00", "2026-11-27T02:00:10Z"]' "$be: where the hours come from, at now"
    expect_eq "$(working "$s2" 2026-11-28T10:00:00+08:00)" false "$be: the south keeps the tenant's"
    req GET /api/v1/working-hours "${S2[@]}"
    expect_json 'j["units"]' '[]' "$be: a salesperson of the south sees no other region's override"
    req GET /api/v1/working-hours "${M[@]}"
    expect_json 'len(j["units"])' 1 "$be: the east manager sees its region's"
    req GET "/api/v1/employees/$s2/working-hours" "${M[@]}"
    expect_error 404 not_found "$be: an employee outside the manager's subtree"
    # a night shift for the south (22:00-06:00, starting Sunday to Thursday) and the tenant in UTC
    json PUT /api/v1/working-hours "{\"time_zone\": \"UTC\", \"units\": {\"$south\": {\"days\": [7, 1, 2, 3, 4], \"from\": \"22:00\", \"to\": \"06:00\"}}}" "${A[@]}"
    expect_status 200 "$be: a night shift and another zone"
    expect_json '(j["time_zone"], j["time_zone_set"], len(j["units"]))' '["UTC", true, 2]' "$be: both set"
    expect_eq "$(working "$s2" 2026-11-27T05:59:00Z)" true "$be: Friday 05:59 ends Thursday's shift"
    expect_eq "$(working "$s2" 2026-11-27T22:00:00Z)" false "$be: no shift starts on a Friday"
    expect_eq "$(working "$s2" 2026-11-29T23:00:00Z)" true "$be: Sunday's starts at 22:00"
    expect_eq "$(working "$s1" 2026-11-28T10:30:00Z)" true "$be: the east's hours now read in UTC"
    expect_eq "$(working "$s1" 2026-11-28T19:30:00Z)" false "$be: ... up to 19:00 UTC"
    json PUT /api/v1/working-hours "{\"time_zone\": null, \"default\": {\"days\": [1, 2, 3, 4, 5, 6, 7], \"from\": \"00:00\", \"to\": \"24:00\"}, \"units\": {\"$east\": null}}" "${A[@]}"
    expect_json '(j["time_zone"], j["default"], j["default_set"], len(j["units"]))' \
        '["Asia/Shanghai", {"days": [1, 2, 3, 4, 5, 6, 7], "from": "00:00", "to": "24:00"}, true, 1]' \
        "$be: back to the default zone, all day every day, the east inherits again"
    expect_eq "$(working "$s1" 2026-11-28T03:00:00+08:00)" true "$be: at 03:00 on a Saturday"
    req GET "/api/v1/audit?action=working_hours.put" "${A[@]}"
    expect_json '[len(j["items"]), j["items"][0]["target"], j["items"][0]["details"]["time_zone"], j["items"][2]["actor"][:9]]' \
        '[3, "working_hours", null, "employee:"]' "$be: each change is audited with what it set"
    json PUT /api/v1/working-hours '{"default": null}' "${A[@]}"
    expect_json 'j["default_set"]' false "$be: the tenant's own hours removed: the default again"

    # === 3. every message type in the archive and the timeline ===============================
    local png="$TMP/pic.png"
    printf '\x89PNG\r\n\x1a\n-a-tiny-picture-%s' "$be" >"$png"
    local ref; ref="sha256:$(sha256sum "$png" | cut -d' ' -f1)"
    req PUT "/api/v1/device/media/$ref" --data-binary "@$png" -H "Authorization: Bearer $d1"
    expect_status 201 "$be: the picture uploaded"
    send "$d1" "$(msg 210 c text '"text": "您好"')" \
        "$(msg 211 c image "\"media\": \"$ref\"")" \
        "$(msg 212 c voice "\"media\": \"$ref\", \"size\": 23")" \
        "$(msg 213 c file "\"media\": \"$ref\", \"filename\": \"合同.pdf\", \"size\": 23")" \
        "$(msg 214 c link '"url": "https://example.com/house/1", "title": "浦东三居室"')" \
        "$(msg 215 c transfer '"amount_fen": 123456, "memo": "定金"')" \
        "$(msg 216 c redpacket '"amount_fen": 888')" \
        "$(msg 217 c location '"title": "静安寺", "text": "上海市静安区南京西路"')" \
        "$(msg 218 c card '"title": "王经理"')" \
        "$(msg 219 c revoke '"revoked_seq": 210')"
    req GET "/api/v1/customers?q=%E5%AE%A2%E6%88%B7c" "${A[@]}"
    local cust; cust=$(jq_ 'j["items"][0]["id"]')
    req GET "/api/v1/messages?customer=$cust&limit=20" "${A[@]}"
    expect_json '[(m["msgtype"], m.get("media") == "'"$ref"'", m.get("filename"), m.get("size"), m.get("url"), m.get("title"), m.get("amount_fen"), m.get("memo"), m["recalled"]) for m in reversed(j["items"])]' \
        '[["text", false, null, null, null, null, null, null, true], ["image", true, null, null, null, null, null, null, false], ["voice", true, null, 23, null, null, null, null, false], ["file", true, "合同.pdf", 23, null, null, null, null, false], ["link", false, null, null, "https://example.com/house/1", "浦东三居室", null, null, false], ["transfer", false, null, null, null, null, 123456, "定金", false], ["redpacket", false, null, null, null, null, 888, null, false], ["location", false, null, null, null, "静安寺", null, null, false], ["card", false, null, null, null, "王经理", null, null, false], ["revoke", false, null, null, null, null, null, null, false]]' \
        "$be: the archive carries each type's fields"
    req GET "/api/v1/customers/$cust/timeline?limit=50" "${A[@]}"
    expect_json '[(m["msgtype"], m.get("media") == "'"$ref"'", m.get("filename"), m.get("url"), m.get("amount_fen"), m["recalled"]) for m in reversed(j["items"]) if m["type"] == "message"]' \
        '[["text", false, null, null, null, true], ["image", true, null, null, null, false], ["voice", true, null, null, null, false], ["file", true, "合同.pdf", null, null, false], ["link", false, null, "https://example.com/house/1", null, false], ["transfer", false, null, null, 123456, false], ["redpacket", false, null, null, 888, false], ["location", false, null, null, null, false], ["card", false, null, null, null, false], ["revoke", false, null, null, null, false]]' \
        "$be: ... and so does the timeline"

    # === 4. media shown in the page, or downloaded ============================================
    local views downloads
    views=$(audit_count media.view)
    downloads=$(audit_count media.download)
    req GET "/api/v1/media/$ref?view=1" "${M[@]}"
    expect_status 200 "$be: the manager over s1 views the picture"
    expect_header_has "Content-Type: image/png" "$be: ... as an image"
    expect_header_has "Content-Disposition: inline" "$be: ... shown in the page"
    expect_eq "$(cmp -s "$TMP/body" "$png" && echo same)" same "$be: ... its bytes"
    req HEAD "/api/v1/media/$ref?view=1" "${M[@]}"
    expect_status 200 "$be: a HEAD of the view"
    expect_eq "$(audit_count media.view)" "$((views + 1))" "$be: one view is one read in the audit log, a HEAD none"
    expect_eq "$(audit_count media.download)" "$downloads" "$be: ... and no download"
    req GET "/api/v1/media/$ref" "${M[@]}"
    expect_header_has "Content-Disposition: attachment" "$be: a download is an attachment"
    expect_header_has "Content-Type: application/octet-stream" "$be: ... of plain bytes"
    expect_eq "$(audit_count media.download)" "$((downloads + 1))" "$be: ... audited as a download"
    req GET "/api/v1/media/$ref?view=2" "${M[@]}"
    expect_error 400 invalid_request "$be: view is 1 or absent"
    req GET "/api/v1/media/$ref?view=1" "${S2[@]}"
    expect_error 404 not_found "$be: another region's salesperson views nothing"
    stop_server
}

run_suites
