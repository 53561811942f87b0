#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `workphone demo` (CONTRACT §1): a new dir is filled with a simulated company and served, the
# printed admin password logs in and the console API shows messages, alerts and customers; a
# second run on the same dir only serves it.
. "$(dirname "$0")/lib_api.sh"

# start_demo DIR [ARGS...]: runs demo on a free port; sets $pid, $base (from the URL line it
# prints) and $demo_out (its standard output so far)
start_demo() {
    local d=$1; shift
    : >"$TMP/demo.out"
    : >"$TMP/demo.err"
    "$WP" demo --data "$d" --listen 127.0.0.1:0 "$@" >"$TMP/demo.out" 2>"$TMP/demo.err" &
    pid=$!
    base=""
    for _ in $(seq 1200); do # the fill takes seconds, more under sanitizers
        base=$(grep -o 'running: http://127.0.0.1:[0-9]*' "$TMP/demo.out" | head -n 1 | cut -d' ' -f2)
        [ -n "$base" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    demo_out=$(cat "$TMP/demo.out")
    [ -n "$base" ] || { rc=x; out=$demo_out; err=$(cat "$TMP/demo.err"); fail "demo did not start"; }
}

stop_demo() {
    kill -TERM "$pid"
    wait "$pid"; rc=$?
    out=$(cat "$TMP/demo.out"); err=$(tail -n 5 "$TMP/demo.err")
    expect_rc 0 "demo exits 0 on SIGTERM"
    expect_err_has "event=stopped" "demo logs its stop"
}

login() { # PASSWORD: sets $tok and A
    json POST /api/v1/auth/login "{\"username\": \"admin\", \"password\": \"$1\"}"
    tok=$(jq_ 'j.get("token", "")')
    A=(-H "Authorization: Bearer $tok")
}

# --- usage errors change nothing --------------------------------------------------------------
run "$WP" demo --help
expect_rc 0 "demo --help"
expect_out_has "usage: workphone demo" "demo --help prints its usage"
run "$WP" demo --data "$TMP/never" --listen nonsense
expect_rc 2 "demo with a bad --listen"
checks=$((checks + 1)); [ ! -e "$TMP/never" ] || fail "a bad --listen created the data dir"
mkdir "$TMP/busy"; echo hello >"$TMP/busy/notes.txt"
run "$WP" demo --data "$TMP/busy" --listen 127.0.0.1:0
expect_rc 2 "demo on a dir that is neither empty nor a data dir"
expect_one_line_err "demo on a busy dir"
checks=$((checks + 1)); [ "$(ls "$TMP/busy")" = notes.txt ] || fail "demo changed a busy dir"
run "$WP" demo --data "$TMP/x" --seed -1
expect_rc 2 "demo with a negative seed"

# --- first run: init, fill, serve ---------------------------------------------------------------
dir="$TMP/demo"; pg_url=""
start_demo "$dir"
if [ -n "$base" ]; then
    rc=0; out=$demo_out; err=""
    expect_out_has "making a demo company in $dir" "demo says what it makes"
    expect_out_has "week 3 of 3" "demo prints its progress"
    password=$(printf '%s\n' "$demo_out" | grep -o 'admin / [^ ]*' | head -n 1 | cut -d' ' -f3)
    checks=$((checks + 1)); [ ${#password} -ge 12 ] || fail "demo prints the admin password"

    login wrong-password
    expect_status 401 "a wrong password does not log in"
    login "$password"
    expect_status 200 "the printed password logs in as admin"
    req GET "/api/v1/messages?limit=200" "${A[@]}"
    expect_status 200 "messages"
    expect_json 'len(j["items"]) == 200 and j["next_cursor"] is not None' true "messages has items"
    expect_json 'sorted({m["direction"] for m in j["items"]})' '["in", "out"]' "customers and employees both talk"
    expect_json 'all(m["channel"] in ("wechat", "sms") for m in j["items"])' true "messages come from WeChat and SMS"
    req GET "/api/v1/alerts?kind=sensitive_word&limit=200" "${A[@]}"
    expect_status 200 "alerts"
    expect_json 'len(j["items"]) > 20 and all(a["kind"] == "sensitive_word" for a in j["items"])' true \
        "sensitive_word alerts"
    expect_json 'len({a["category"] for a in j["items"]}) >= 3' true "alerts of several categories"
    req GET "/api/v1/alerts?limit=200" "${A[@]}"
    expect_json 'len(j["items"])' 200 "alerts, more than a page"
    req GET "/api/v1/customers?limit=200" "${A[@]}"
    expect_status 200 "customers"
    expect_json 'len(j["items"]) > 100' true "customers has items"
    expect_json 'all(len(c["phone"]) == 11 and c["phone"][0] == "1" for c in j["items"])' true \
        "customers have mainland mobile numbers"
    req GET "/api/v1/devices?limit=200" "${A[@]}"
    expect_json 'len(j["items"])' 24 "24 phones are enrolled"
    q=$(python3 -c 'import urllib.parse; print(urllib.parse.quote("私人微信"))')
    req GET "/api/v1/messages?q=$q" "${A[@]}"
    expect_json 'len(j["items"]) > 0' true "search finds the planted violations"

    messages=$(sql "select count(*) from messages")
    checks=$((checks + 1)); [ "$messages" -gt 5000 ] || fail "demo archives thousands of messages ($messages)"
    stop_demo
fi
checks=$((checks + 1)); [ -f "$dir/demo.conf" ] && [ -f "$dir/workphone.conf" ] || fail "demo marks its dir"
checks=$((checks + 1)); [ -z "$(ls -d "$TMP"/demo.tmp-* 2>/dev/null)" ] || fail "demo leaves no temp dir behind"

# --- second run: serves the same data, adds nothing -------------------------------------------
if [ -n "${messages:-}" ]; then
    start_demo "$dir/"
    if [ -n "$base" ]; then
        rc=0; out=$demo_out; err=""
        expect_out_has "serving it (nothing is added)" "a second run says it only serves"
        checks=$((checks + 1))
        case "$demo_out" in *"$password"*) fail "a second run prints the password again";; esac
        login "$password"
        expect_status 200 "the first run's password still logs in"
        req GET "/api/v1/messages?limit=1" "${A[@]}"
        expect_status 200 "a second run serves"
        checks=$((checks + 1))
        [ "$(sql "select count(*) from messages")" = "$messages" ] || fail "a second run added messages"
        stop_demo
    fi
fi

finish
