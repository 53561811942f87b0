#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test hooks (src/util/testhooks.h), on SQLite and PostgreSQL: without the one switch,
# WORKPHONE_TEST_HOOKS=1, a server and `jobs run` ignore a stray WORKPHONE_FAKE_NOW and
# injected failures; with it, a test moves the clock of a running server (WORKPHONE_TEST_CLOCK)
# and a session expires, and the reclaim job moves a customer, without a restart.
. "$(dirname "$0")/lib_api.sh"

# events DEVICE_TOKEN N: the device reports chats with customers 1..N
events() {
    local ev="" i
    for i in $(seq "$2"); do
        ev="$ev${ev:+,}{\"seq\": $i, \"type\": \"message\", \"ts\": \"2026-11-27T09:0$i:00+08:00\",
          \"channel\": \"wechat\", \"direction\": \"out\", \"peer\": {\"id\": \"wxid_$i\",
          \"phone\": \"1380013800$i\"}, \"chat\": \"wxid_$i\", \"msgtype\": \"text\", \"text\": \"您好 $i\"}"
    done
    json POST /api/v1/device/events "{\"events\": [$ev]}" -H "Authorization: Bearer $1"
    expect_json 'j["acked_seq"]' "$2" "$be: the device's events"
}

# wait_log PATTERN: the first line of the server log matching PATTERN (grep -o), waited for
# (the jobs run every second here; nothing waits for time to pass, only for the thread)
wait_log() {
    local seen=""
    for _ in $(seq 150); do
        seen=$(grep -o "$1" "$TMP/serve.err" | head -n 1)
        [ -n "$seen" ] && break
        sleep 0.1
    done
    printf '%s' "$seen"
}

suite() { # backend
    be=$1
    local hq s1 s2

    # --- without the switch: the hooks' variables change nothing ----------------------------------
    setup_store "$be" "$be-off"
    WORKPHONE_TEST_HOOKS=0 WORKPHONE_FAKE_NOW=2001-02-03T04:05:06Z \
        WORKPHONE_TEST_HANDOVER_FAIL_AFTER=1 start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    # a session lasts 12 hours from the real now, not from 2001
    expect_json 'abs(__import__("datetime").datetime.fromisoformat(j["expires_at"].replace("Z", "+00:00")).timestamp() - __import__("time").time() - 12 * 3600) < 600' \
        true "$be: a server without the switch ignores WORKPHONE_FAKE_NOW"
    req GET /api/v1/org-units "${A[@]}"
    hq=$(jq_ 'j["items"][0]["id"]')
    employee s1 "$hq" sales; s1=$id
    employee s2 "$hq" sales; s2=$id
    device "$s1" SN-OFF
    events "$dtok" 2
    json POST /api/v1/handovers "{\"from_employee\": \"$s1\", \"to_employee\": \"$s2\", \"reason\": \"departure\"}" "${A[@]}"
    expect_status 201 "$be: ... and WORKPHONE_TEST_HANDOVER_FAIL_AFTER"
    expect_json 'j["customers_moved"]' 2 "$be: ... so the handover moves every customer"
    stop_server
    WORKPHONE_TEST_HOOKS=0 WORKPHONE_FAKE_NOW=2099-01-01T00:00:00Z \
        run "$WP" jobs run --data "$dir" "${db_args[@]}"
    expect_out "reclaim: owner_left=0 inactive=0" "$be: jobs run without the switch: today, not 2099"
    WORKPHONE_FAKE_NOW=2099-01-01T00:00:00Z run "$WP" jobs run --data "$dir" "${db_args[@]}"
    expect_out "reclaim: owner_left=0 inactive=2" "$be: ... with it, 2099: every customer is inactive"

    # a bad switch, or a bad hook behind it, stops the binary before it does anything
    WORKPHONE_TEST_HOOKS=yes run timeout 60 "$WP" jobs run --data "$dir" "${db_args[@]}"
    expect_rc 2 "$be: WORKPHONE_TEST_HOOKS=yes"
    expect_err_has "WORKPHONE_TEST_HOOKS must be 1" "$be: ... is named"
    for v in "WORKPHONE_FAKE_NOW=tomorrow" "WORKPHONE_JOBS_INTERVAL_S=0" \
        "WORKPHONE_TEST_HANDOVER_FAIL_AFTER=x"; do
        run timeout 60 env "$v" "$WP" serve --data "$dir" --listen 127.0.0.1:0 "${db_args[@]}"
        expect_rc 2 "$be: $v"
        expect_err_has "${v%%=*}" "$be: ... is named"
        expect_one_line_err "$be: $v"
    done

    # --- with it: the test moves the clock of a running server ------------------------------------
    setup_store "$be" "$be-clock"
    set_clock 2026-11-28T10:00:00+08:00
    WORKPHONE_TEST_CLOCK=$CLOCK WORKPHONE_JOBS_INTERVAL_S=1 start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    expect_json 'j["expires_at"]' 2026-11-28T14:00:00Z "$be: the clock starts where the file says"
    req GET /api/v1/org-units "${A[@]}"
    hq=$(jq_ 'j["items"][0]["id"]')
    employee s1 "$hq" sales; s1=$id
    device "$s1" SN-ON
    events "$dtok" 1
    expect_eq "$(wait_log 'event=jobs task=reclaim owner_left=[0-9]* inactive=[0-9]*')" \
        "event=jobs task=reclaim owner_left=0 inactive=0" "$be: the jobs run, and move nothing yet"
    req GET /api/v1/auth/session "${A[@]}"
    expect_status 200 "$be: the session is good"

    set_clock 2026-11-28T23:00:00+08:00
    req GET /api/v1/auth/session "${A[@]}"
    expect_error 401 unauthorized "$be: 13 hours later, without a restart, it has expired"

    set_clock 2027-01-08T10:00:00+08:00
    expect_eq "$(wait_log 'event=jobs task=reclaim owner_left=[0-9]* inactive=1')" \
        "event=jobs task=reclaim owner_left=0 inactive=1" \
        "$be: 41 days later the reclaim job moves the customer"
    login admin
    A=(-H "Authorization: Bearer $tok")
    expect_json 'j["expires_at"]' 2027-01-08T14:00:00Z "$be: a new session starts at the new time"
    req GET '/api/v1/pool?reason=inactive' "${A[@]}"
    expect_json 'len(j["items"])' 1 "$be: ... into the pool, reason inactive"
    stop_server
}

run_suites
