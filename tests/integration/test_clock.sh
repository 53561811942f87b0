#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The server's clock stepping backwards while jobs run (issue 17), on SQLite and PostgreSQL:
# a running server's clock is moved a day ahead and back again through the clock file
# (WORKPHONE_TEST_CLOCK); calls stored on either side are all folded into the dashboard once,
# its scheduler's runs keep coming at their interval (a monotonic clock), nothing is reclaimed
# twice, and an event far in the past or future is kept (quarantined, acknowledged) without
# moving a customer's last contact.
. "$(dirname "$0")/lib_api.sh"

NOW=2026-11-28T10:00:00+08:00
AHEAD=2026-11-29T10:00:00+08:00 # a day ahead: a clock set wrong, then corrected
unset WORKPHONE_FAKE_NOW
export WORKPHONE_TEST_CLOCK=$CLOCK

call() { # SEQ TS PHONE DURATION: one call event as JSON
    printf '{"seq": %s, "type": "call", "ts": "%s", "direction": "out", "peer": {"phone": "%s"},
      "duration_s": %s}' "$1" "$2" "$3" "$4"
}

runs() { # how many reclaim runs the server has logged
    grep -c 'event=jobs task=reclaim' "$TMP/serve.err"
}

wait_runs() { # N: until the server has logged more than N reclaim runs (at most a minute)
    local _
    for _ in $(seq 600); do
        [ "$(runs)" -gt "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

calls_folded() { # the calls the dashboard's rollup holds
    sql 'SELECT COALESCE(sum(calls), 0) FROM analytics_hourly'
}

suite() { # backend
    be=$1
    set_clock "$NOW"
    setup_store "$be"
    WORKPHONE_JOBS_INTERVAL_S=1 start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    req GET /api/v1/org-units "${A[@]}"
    local hq; hq=$(jq_ 'j["items"][0]["id"]')
    employee s1 "$hq" sales; local s1=$id
    device "$s1" SN-1; local D1=(-H "Authorization: Bearer $dtok")

    # the clock jumps a day ahead; a call is stored then, and the jobs fold it
    set_clock "$AHEAD"
    json POST /api/v1/device/events "{\"events\": [$(call 1 2026-11-29T09:00:00+08:00 13800000001 60)]}" "${D1[@]}"
    expect_json 'j["acked_seq"]' 1 "$be: a call stored with the clock a day ahead"
    set_clock "2026-11-29T10:10:00+08:00" # past the rollup's lag
    local n; n=$(runs)
    wait_runs $((n + 1)) || fail "$be: the jobs did not run"
    expect_eq "$(calls_folded)" 1 "$be: ... is folded by the jobs"

    # the clock is corrected: back by a day while the server runs
    set_clock "$NOW"
    n=$(runs)
    json POST /api/v1/device/events "{\"events\": [$(call 2 2026-11-28T09:30:00+08:00 13800000002 30)]}" "${D1[@]}"
    expect_json 'j["acked_seq"]' 2 "$be: a call stored after the clock went back"
    set_clock "2026-11-28T10:10:00+08:00"
    wait_runs $((n + 2)) || fail "$be: the jobs stopped running when the clock went back"
    # stamped just past the rollup's watermark (the clock is behind it): counted live, folded
    # once the clock passes the watermark again
    expect_eq "$(calls_folded)" 1 "$be: ... waits past the watermark, not lost below it"
    req GET '/api/v1/analytics/activity?from=2026-11-28T00:00:00%2B08:00&to=2026-11-30T00:00:00%2B08:00' "${A[@]}"
    expect_status 200 "$be: the dashboard"
    expect_json '(sum(i["calls"] for i in j["items"]), sum(i["call_seconds"] for i in j["items"]))' '[2, 90]' "$be: ... counts both calls once"
    # the clock reaches the day ahead again: nothing is folded twice
    n=$(runs)
    set_clock "2026-11-29T12:00:00+08:00"
    login admin # sessions opened "a day ago" have expired
    A=(-H "Authorization: Bearer $tok")
    wait_runs $((n + 2)) || fail "$be: the jobs did not run"
    expect_eq "$(calls_folded)" 2 "$be: back at the day ahead, the second call is folded, once"
    req GET '/api/v1/analytics/activity?from=2026-11-28T00:00:00%2B08:00&to=2026-11-30T00:00:00%2B08:00' "${A[@]}"
    expect_json '(sum(i["calls"] for i in j["items"]), sum(i["call_seconds"] for i in j["items"]))' '[2, 90]' "$be: ... and the dashboard still counts two"

    # reclaim: s1 leaves; its customers go to the pool once, whatever the clock does after
    json PATCH "/api/v1/employees/$s1" '{"active": false}' "${A[@]}"
    expect_status 200 "$be: s1 is deactivated"
    n=$(runs)
    wait_runs $((n + 1)) || fail "$be: the jobs did not run"
    set_clock "$NOW"
    n=$(runs)
    wait_runs $((n + 2)) || fail "$be: the jobs did not run"
    expect_eq "$(sql "SELECT count(*), count(DISTINCT customer_id) FROM customer_events WHERE kind = 'pooled'" | tr '|' ' ')" \
        "2 2" "$be: each of s1's customers pooled once"
    expect_eq "$(sql "SELECT count(*) FROM audit_log WHERE action = 'pool.reclaim'")" 2 \
        "$be: ... with one audit row each"
    stop_server
}

run_suites
