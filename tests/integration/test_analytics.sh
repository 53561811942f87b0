#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The dashboard's numbers (issue 9) over real sockets, on SQLite and PostgreSQL: known chats,
# calls and an alert put in through the device protocol at fixed times, then every analytics
# endpoint checked against numbers worked out by hand (docs/internals/analytics.md), for
# admin, a manager (its subtree only) and a salesperson (itself only); days in another zone;
# the same answers before and after the rollup job, and after more rows arrive on top of it;
# reply times in working time only: the default hours (Monday to Friday, 09:00-18:00, Shanghai
# time), a unit's own hours and another zone, each change folded again by the job.
. "$(dirname "$0")/lib_api.sh"

NOW=2026-11-28T10:00:00+08:00
LATER=2026-11-29T10:00:00+08:00 # the job's clock: calls and alerts are past its lag
export WORKPHONE_FAKE_NOW=$NOW
R='from=2026-11-25T00:00:00%2B08:00&to=2026-11-27T00:00:00%2B08:00'

msg() { # SEQ TS DIR PEER [TEXT] [GROUP]: one message event as JSON
    local g=""
    [ -n "${6:-}" ] && g=", \"group\": {\"id\": \"$6\", \"name\": \"Group $6\"}"
    printf '{"seq": %s, "type": "message", "ts": "%s", "channel": "wechat", "direction": "%s",
      "peer": {"id": "%s", "name": "Peer %s", "phone": "%s"}, "chat": "%s", "msgtype": "text",
      "text": "%s"%s}' "$1" "$2" "$3" "$4" "$4" "$(peer_phone "$4")" "${6:-$4}" "${5:-你好}" "$g"
}

peer_phone() {
    case $1 in wxid_a) echo 13800000001 ;; wxid_b) echo 13800000002 ;; wxid_c) echo 13800000003 ;;
    wxid_d) echo 13800000004 ;; *) echo 13800000005 ;; esac
}

jobs() { # run the jobs once, at LATER
    WORKPHONE_FAKE_NOW=$LATER run "$WP" jobs run --data "$dir" "${db_args[@]}"
    expect_rc 0 "$be: jobs run"
}

# Every endpoint's answer for one caller, one JSON line each (for before/after comparisons).
snapshot() { # CURL AUTH ARGS...
    local p
    for p in "activity?$R" "activity?$R&by=employee" "activity?$R&by=unit" \
        "response-times?$R" "response-times?$R&by=unit" "response-times?from=2026-11-25T00:00:00%2B08:00&to=2026-11-26T00:00:00%2B08:00" \
        "alerts?$R" "alerts?$R&by=employee" "funnel" "funnel?by=employee" "conversion" \
        "conversion?by=employee" "activity?tz=Pacific/Honolulu&from=2026-11-24T00:00:00-10:00&to=2026-11-27T00:00:00-10:00"; do
        req GET "/api/v1/analytics/$p" "$@"
        printf '%s %s\n' "$status" "$body"
    done
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
    employee mgrb "$rb" manager
    employee s1 "$ra" sales; local s1=$id
    employee s2 "$ra" sales; local s2=$id
    employee s3 "$rb" sales; local s3=$id

    # --- nothing yet: every answer is there, with zeros ----------------------------------------
    req GET "/api/v1/analytics/activity?$R" "${A[@]}"
    expect_status 200 "$be: activity of an empty tenant"
    expect_json '[(i["day"], i["messages_in"], i["calls"]) for i in j["items"]]' \
        '[["2026-11-25", 0, 0], ["2026-11-26", 0, 0]]' "$be: one zero item a day"
    expect_json '(j["from"], j["to"], j["tz"], j["days"])' \
        '["2026-11-25T00:00:00+08:00", "2026-11-27T00:00:00+08:00", "+08:00", ["2026-11-25", "2026-11-26"]]' \
        "$be: the range as local days"
    req GET /api/v1/analytics/response-times "${A[@]}"
    expect_json '(j["total"], j["items"])' \
        '[{"turns": 0, "answered": 0, "unanswered": 0, "median_s": null, "p90_s": null}, []]' \
        "$be: no turns, no times"

    # --- s1: two customers, turns answered after 60 s, 300 s, 9 h, one never; a group chat ---
    device "$s1" SN-1
    json POST /api/v1/device/events "{\"events\": [
        $(msg 1 2026-11-25T09:00:00+08:00 in wxid_a 在吗),
        $(msg 2 2026-11-25T09:00:30+08:00 in wxid_a 有优惠吗),
        $(msg 3 2026-11-25T09:01:00+08:00 out wxid_a 您好),
        $(msg 4 2026-11-25T10:00:00+08:00 in wxid_b 价格),
        $(msg 5 2026-11-25T10:05:00+08:00 out wxid_b 三万),
        $(msg 6 2026-11-25T11:00:00+08:00 out wxid_b 还有问题吗),
        $(msg 7 2026-11-25T23:30:00+08:00 in wxid_a 睡了吗),
        $(msg 8 2026-11-26T09:05:00+08:00 out wxid_a 早上好),
        $(msg 9 2026-11-26T12:00:00+08:00 in wxid_b 再问一下),
        {\"seq\": 10, \"type\": \"call\", \"ts\": \"2026-11-26T12:30:00+08:00\", \"direction\": \"out\",
         \"peer\": {\"phone\": \"13800000002\"}, \"duration_s\": 60},
        {\"seq\": 11, \"type\": \"call\", \"ts\": \"2026-11-26T13:00:00+08:00\", \"direction\": \"in\",
         \"peer\": {\"phone\": \"13800000001\"}, \"duration_s\": 120},
        $(msg 12 2026-11-26T14:00:00+08:00 in wxid_a 群里问 grp1),
        $(msg 13 2026-11-26T18:00:00+08:00 out wxid_a 这款产品保本保息 grp1)]}" \
        -H "Authorization: Bearer $dtok"
    expect_json 'j["acked_seq"]' 13 "$be: s1's phone reports"
    expect_json 'len(j["alerts"])' 1 "$be: one alert raised"
    device "$s2" SN-2
    json POST /api/v1/device/events "{\"events\": [
        $(msg 1 2026-11-25T15:00:00+08:00 in wxid_c 你好),
        $(msg 2 2026-11-25T15:02:00+08:00 out wxid_c 您好),
        $(msg 3 2026-11-26T16:00:00+08:00 in wxid_d 你好),
        $(msg 4 2026-11-26T16:00:45+08:00 out wxid_d 您好)]}" -H "Authorization: Bearer $dtok"
    expect_json 'j["acked_seq"]' 4 "$be: s2's phone reports"
    device "$s3" SN-3
    json POST /api/v1/device/events "{\"events\": [
        $(msg 1 2026-11-26T09:00:00+08:00 in wxid_e 你好),
        $(msg 2 2026-11-26T09:10:00+08:00 out wxid_e 您好)]}" -H "Authorization: Bearer $dtok"
    expect_json 'j["acked_seq"]' 2 "$be: s3's phone reports"
    req GET "/api/v1/alerts" "${A[@]}"
    local cat; cat=$(jq_ 'j["items"][0]["category"]')

    # stages: A deal, B intent (s1); C lost, D contacted (s2); E none, a lead (s3)
    local p c
    for p in "13800000001 deal" "13800000002 intent" "13800000003 lost" "13800000004 contacted"; do
        req GET "/api/v1/customers?q=${p% *}" "${A[@]}"
        c=$(jq_ 'j["items"][0]["id"]')
        json PATCH "/api/v1/customers/$c" "{\"stage\": \"${p#* }\"}" "${A[@]}"
        expect_status 200 "$be: stage ${p#* }"
        [ "${p#* }" = deal ] && local won=$c
    done
    # what A's deal is worth (migration 0019): set, refused when not a whole number of fen,
    # changed, then what the funnel and conversion sum
    json PATCH "/api/v1/customers/$won" '{"deal_amount_fen": 1280050}' "${A[@]}"
    expect_status 200 "$be: a deal amount"
    expect_json 'j["deal_amount_fen"], j["stage"]' '[1280050, "deal"]' "$be: the amount is answered"
    for bad in '-1' '12.5' '"100"' '100000000000001'; do
        json PATCH "/api/v1/customers/$won" "{\"deal_amount_fen\": $bad}" "${A[@]}"
        expect_status 400 "$be: deal_amount_fen $bad is refused"
    done
    json PATCH "/api/v1/customers/$won" '{"deal_amount_fen": null}' "${A[@]}"
    expect_json 'j["deal_amount_fen"]' null "$be: null clears it"
    json PATCH "/api/v1/customers/$won" '{"deal_amount_fen": 12345600}' "${A[@]}"
    req GET "/api/v1/customers/$won" "${A[@]}"
    expect_json 'j["deal_amount_fen"]' 12345600 "$be: GET /customers/{id} has the amount"
    req GET "/api/v1/customers/$won/timeline?limit=50" "${A[@]}"
    # (the clock stands still: one ts for all, so compared as sets)
    expect_json 'sorted([str(e["details"]["from"]), str(e["details"]["to"])] for e in j["items"] if e.get("kind") == "edited" and e["details"].get("field") == "deal_amount_fen")' \
        '[["1280050", "None"], ["None", "12345600"], ["None", "1280050"]]' "$be: each change of the amount is in the timeline"
    req GET "/api/v1/customers?q=13800000002" "${A[@]}"
    c=$(jq_ 'j["items"][0]["id"]')
    json PATCH "/api/v1/customers/$c" '{"stage": "intent", "deal_amount_fen": 500000}' "${A[@]}"
    json PATCH "/api/v1/customers/$c" '{"stage": "deal", "deal_amount_fen": 700000}' "${A[@]}"
    json PATCH "/api/v1/customers/$c" '{"stage": "intent", "deal_amount_fen": null}' "${A[@]}"
    req GET "/api/v1/customers/$c/timeline?limit=50" "${A[@]}"
    expect_json 'sorted([e["kind"], str(e["details"].get("from")), str(e["details"].get("to")), str(e["details"].get("deal_amount_fen", "-"))] for e in j["items"] if e.get("kind") in ("edited", "stage_changed"))' \
        '[["edited", "None", "500000", "-"], ["stage_changed", "None", "intent", "-"], ["stage_changed", "deal", "intent", "None"], ["stage_changed", "intent", "deal", "700000"]]' \
        "$be: an amount given with a stage rides on its event"

    login mgra; local MA=(-H "Authorization: Bearer $tok")
    login mgrb; local MB=(-H "Authorization: Bearer $tok")
    login s1; local T1=(-H "Authorization: Bearer $tok")

    check_numbers() { # WHEN: everything worked out by hand
        local w=$1
        req GET "/api/v1/analytics/activity?$R" "${A[@]}"
        expect_json '[(i["day"], i["messages_in"], i["messages_out"], i["calls"], i["call_seconds"]) for i in j["items"]]' \
            '[["2026-11-25", 5, 4, 0, 0], ["2026-11-26", 4, 4, 2, 180]]' "$be $w: messages and calls per day"
        req GET "/api/v1/analytics/activity?$R&by=employee" "${A[@]}"
        expect_json "sorted((i['day'], i['name'], i['messages_in'], i['messages_out'], i['calls']) for i in j['items'])" \
            '[["2026-11-25", "Name of s1", 4, 3, 0], ["2026-11-25", "Name of s2", 1, 1, 0], ["2026-11-26", "Name of s1", 2, 2, 2], ["2026-11-26", "Name of s2", 1, 1, 0], ["2026-11-26", "Name of s3", 1, 1, 0]]' \
            "$be $w: per employee"
        req GET "/api/v1/analytics/activity?$R&by=unit" "${A[@]}"
        expect_json "sorted((i['day'], i['name'], i['messages_in'], i['unit_id'] == '$ra') for i in j['items'])" \
            '[["2026-11-25", "Region A", 5, true], ["2026-11-26", "Region A", 3, true], ["2026-11-26", "Region B", 1, false]]' \
            "$be $w: per unit"
        req GET "/api/v1/analytics/activity?$R" "${MB[@]}"
        expect_json '[(i["messages_in"], i["messages_out"], i["calls"]) for i in j["items"]]' \
            '[[0, 0, 0], [1, 1, 0]]' "$be $w: the manager of region B sees s3 only"
        req GET "/api/v1/analytics/activity?$R" "${T1[@]}"
        expect_json '[(i["messages_in"], i["messages_out"], i["calls"]) for i in j["items"]]' \
            '[[4, 3, 0], [2, 2, 2]]' "$be $w: a salesperson sees itself"
        req GET "/api/v1/analytics/activity?tz=Pacific/Honolulu&from=2026-11-24T00:00:00-10:00&to=2026-11-27T00:00:00-10:00" "${A[@]}"
        expect_json '[(i["day"], i["messages_in"], i["messages_out"], i["calls"]) for i in j["items"]]' \
            '[["2026-11-24", 4, 4, 0], ["2026-11-25", 5, 3, 2], ["2026-11-26", 0, 1, 0]]' \
            "$be $w: days in another zone"

        # replies in working time (Monday to Friday, 09:00-18:00 in Shanghai; the 25th is a
        # Wednesday): 45 s, 60 s, 120 s, 300 s, 600 s, and 300 s for the customer who wrote at
        # 23:30 and was answered at 09:05 the next morning (9 h 35 min of wall-clock time, 5
        # minutes of working time); one turn unanswered
        req GET "/api/v1/analytics/response-times?$R&by=none" "${A[@]}"
        expect_json 'j["total"]' '{"turns": 7, "answered": 6, "unanswered": 1, "median_s": 120, "p90_s": 600}' \
            "$be $w: first replies, everyone"
        req GET "/api/v1/analytics/response-times?$R" "${A[@]}"
        expect_json "sorted((i['name'], i['turns'], i['answered'], i['median_s'], i['p90_s']) for i in j['items'])" \
            '[["Name of s1", 4, 3, 300, 300], ["Name of s2", 2, 2, 45, 120], ["Name of s3", 1, 1, 600, 600]]' \
            "$be $w: per employee (s1: 60, 300, 300)"
        req GET "/api/v1/analytics/response-times?$R&by=unit" "${MA[@]}"
        expect_json "(j['total'], [(i['name'], i['turns']) for i in j['items']])" \
            '[{"turns": 6, "answered": 5, "unanswered": 1, "median_s": 120, "p90_s": 300}, [["Region A", 6]]]' \
            "$be $w: the manager of region A: its subtree"
        req GET "/api/v1/analytics/response-times?from=2026-11-25T00:00:00%2B08:00&to=2026-11-26T00:00:00%2B08:00" "${A[@]}"
        expect_json 'j["total"]' '{"turns": 4, "answered": 4, "unanswered": 0, "median_s": 120, "p90_s": 300}' \
            "$be $w: a turn counts on the day it began, answered the next day"

        req GET "/api/v1/analytics/alerts?$R" "${A[@]}"
        expect_json '[(i["day"], i["kind"], i["category"], i["count"]) for i in j["items"]]' \
            "[[\"2026-11-26\", \"sensitive_word\", \"$cat\", 1]]" "$be $w: alerts per day and category"
        req GET "/api/v1/analytics/alerts?$R" "${MB[@]}"
        expect_json 'j["items"]' '[]' "$be $w: not the other region's"

        req GET /api/v1/analytics/funnel "${A[@]}"
        expect_json '[(s["stage"], s["count"], s["reached"], s["amount_fen"]) for s in j["stages"]]' \
            '[["lead", 1, 4, 0], ["contacted", 1, 3, 0], ["intent", 1, 2, 0], ["deal", 1, 1, 12345600], ["lost", 1, 1, 0]]' \
            "$be $w: the funnel, with what the deals are worth"
        req GET /api/v1/analytics/funnel "${MA[@]}"
        expect_json '[s["count"] for s in j["stages"]]' '[0, 1, 1, 1, 1]' "$be $w: region A's funnel"
        req GET /api/v1/analytics/conversion "${A[@]}"
        expect_json "(j['total'], sorted((i['name'], i['customers'], i['deals'], i['rate'], i['deals_closed']) for i in j['items']))" \
            '[{"customers": 5, "deals": 1, "lost": 1, "rate": 0.2, "deals_closed": 1, "deals_closed_amount_fen": 12345600}, [["Region A", 4, 1, 0.25, 1], ["Region B", 1, 0, 0.0, 0]]]' \
            "$be $w: conversion per unit"
        req GET /api/v1/analytics/conversion "${MB[@]}"
        expect_json '(j["total"]["customers"], [i["name"] for i in j["items"]])' '[1, ["Region B"]]' \
            "$be $w: region B's conversion"
    }

    check_numbers "(raw rows)"
    snapshot "${A[@]}" >"$TMP/before.admin"
    snapshot "${MA[@]}" >"$TMP/before.mgra"
    # On PostgreSQL the job folds only rows below a point every writer has passed, judged by
    # the cluster's oldest running transaction: other tests' databases on the same server can
    # hold it back for a run or two. Run it until it has folded what there is (bounded), and
    # check the sum: every message exactly once.
    local folded=0 n
    for _ in $(seq 30); do
        jobs
        n=$(grep -o 'analytics: messages=[0-9]*' <<<"$err" | cut -d= -f2)
        folded=$((folded + ${n:-0}))
        [ "$folded" -ge 17 ] && break
    done
    expect_eq "$folded" 17 "$be: the job folds every message in, once"
    check_numbers "(rollups)"
    snapshot "${A[@]}" >"$TMP/after.admin"
    snapshot "${MA[@]}" >"$TMP/after.mgra"
    checks=$((checks + 1))
    cmp -s "$TMP/before.admin" "$TMP/after.admin" ||
        fail "$be: rollups answer what the raw rows answered: $(diff "$TMP/before.admin" "$TMP/after.admin" | head -c 1500)"
    checks=$((checks + 1))
    cmp -s "$TMP/before.mgra" "$TMP/after.mgra" || fail "$be: ... for a manager too"
    jobs
    expect_eq "$(grep -o 'analytics: messages=[0-9]*' <<<"$err")" "analytics: messages=0" \
        "$be: a second run folds nothing twice"

    # --- more rows on top of the rollups: B's open turn (Thursday 12:00) answered at 20:00, 6 h
    # of working time; a new turn at 19:00 answered on Saturday at 09:30: Friday's 9 h ---------
    device "$s1" SN-1b
    json POST /api/v1/device/events "{\"events\": [
        $(msg 1 2026-11-26T19:00:00+08:00 in wxid_a 还在吗),
        $(msg 2 2026-11-26T20:00:00+08:00 out wxid_b 抱歉晚了),
        $(msg 3 2026-11-28T09:30:00+08:00 out wxid_a 周末好)]}" -H "Authorization: Bearer $dtok"
    expect_json 'j["acked_seq"]' 3 "$be: s1's new phone reports"
    req GET "/api/v1/analytics/response-times?$R" "${T1[@]}"
    expect_json "[(i['turns'], i['answered'], i['median_s'], i['p90_s']) for i in j['items']]" \
        '[[5, 5, 300, 32400]]' "$be: rollups plus the rows after them (60 s, 300 s, 300 s, 6 h, 9 h)"
    snapshot "${A[@]}" >"$TMP/before.admin"
    jobs
    snapshot "${A[@]}" >"$TMP/after.admin"
    checks=$((checks + 1))
    cmp -s "$TMP/before.admin" "$TMP/after.admin" ||
        fail "$be: and the same once folded in: $(diff "$TMP/before.admin" "$TMP/after.admin" | head -c 1500)"

    # --- region A's own hours: Monday to Saturday, 08:00-20:00 (region B keeps the tenant's) ---
    # s1's replies become 60 s, 300 s, 3900 s (08:00-09:05), 28800 s (12:00-20:00) and 52200 s
    # (Thursday 19:00-20:00, Friday 08:00-20:00, Saturday 08:00-09:30); s2's and s3's stay.
    json PUT /api/v1/working-hours "{\"units\": {\"$ra\": {\"days\": [1, 2, 3, 4, 5, 6], \"from\": \"08:00\", \"to\": \"20:00\"}}}" "${A[@]}"
    expect_status 200 "$be: region A's own hours"
    check_hours() { # WHEN
        req GET "/api/v1/analytics/response-times?$R" "${A[@]}"
        expect_json "sorted((i['name'], i['turns'], i['answered'], i['median_s'], i['p90_s']) for i in j['items'])" \
            '[["Name of s1", 5, 5, 3900, 52200], ["Name of s2", 2, 2, 45, 120], ["Name of s3", 1, 1, 600, 600]]' \
            "$be $1: s1 by region A's hours"
        expect_json 'j["total"]' '{"turns": 8, "answered": 8, "unanswered": 0, "median_s": 300, "p90_s": 52200}' \
            "$be $1: everyone: 45, 60, 120, 300, 600, 3900, 28800, 52200"
    }
    check_hours "(raw rows after the change)"
    snapshot "${A[@]}" >"$TMP/before.admin"
    folded=0
    for _ in $(seq 30); do
        jobs
        n=$(grep -o 'analytics: messages=[0-9]*' <<<"$err" | cut -d= -f2)
        folded=$((folded + ${n:-0}))
        [ "$folded" -ge 20 ] && break
    done
    expect_eq "$folded" 20 "$be: a change of hours folds the history again"
    check_hours "(folded again)"
    snapshot "${A[@]}" >"$TMP/after.admin"
    checks=$((checks + 1))
    cmp -s "$TMP/before.admin" "$TMP/after.admin" ||
        fail "$be: the same answers folded again: $(diff "$TMP/before.admin" "$TMP/after.admin" | head -c 1500)"
    # the tenant's hours read in UTC: s3's turn (01:00Z-01:10Z) lies before 09:00 UTC
    json PUT /api/v1/working-hours '{"time_zone": "UTC"}' "${A[@]}"
    expect_status 200 "$be: the tenant in UTC"
    req GET "/api/v1/analytics/response-times?$R" "${A[@]}"
    expect_json "[(i['turns'], i['answered'], i['median_s']) for i in j['items'] if i['name'] == 'Name of s3']" \
        '[[1, 1, 0]]' "$be: s3 answered within the night in UTC"

    # --- bad requests -------------------------------------------------------------------------
    req GET "/api/v1/analytics/activity?tz=%2B05:30" "${A[@]}"
    expect_error 400 invalid_request "$be: an offset of half an hour"
    req GET "/api/v1/analytics/activity?tz=Mars/Olympus" "${A[@]}"
    expect_error 400 invalid_request "$be: an unknown zone"
    req GET "/api/v1/analytics/activity?tz=../../etc/passwd" "${A[@]}"
    expect_error 400 invalid_request "$be: a path is no zone"
    req GET "/api/v1/analytics/activity?by=customer" "${A[@]}"
    expect_error 400 invalid_request "$be: an unknown grouping"
    req GET "/api/v1/analytics/activity?from=2026-11-27T00:00:00Z&to=2026-11-20T00:00:00Z" "${A[@]}"
    expect_error 400 invalid_request "$be: a range backwards"
    req GET "/api/v1/analytics/activity?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z" "${A[@]}"
    expect_error 400 invalid_request "$be: a range too long"
    req GET /api/v1/analytics/activity
    expect_status 401 "$be: no token"
    stop_server
}

run_suites
