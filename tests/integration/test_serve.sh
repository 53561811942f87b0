#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `workphone serve` (CONTRACT §1): starts on an initialized dir, answers JSON, stops cleanly.
. "$(dirname "$0")/lib.sh"
export WORKPHONE_ADMIN_PASSWORD='s3cret-pass'

# start_server DIR [ARGS...]: sets $pid and $base
start_server() {
    local dir=$1; shift
    : >"$TMP/serve.err"
    "$WP" serve --data "$dir" --listen 127.0.0.1:0 "$@" >"$TMP/serve.out" 2>"$TMP/serve.err" &
    pid=$!
    base=""
    for _ in $(seq 100); do
        base=$(grep -o 'url=http://127.0.0.1:[0-9]*' "$TMP/serve.err" | head -n 1 | cut -d= -f2)
        [ -n "$base" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$base" ] || { rc=x; out=""; err=$(cat "$TMP/serve.err"); fail "server did not start"; }
}

stop_server() {
    kill -TERM "$pid"
    wait "$pid"; rc=$?
    out=""; err=$(cat "$TMP/serve.err")
    expect_rc 0 "serve exits 0 on SIGTERM"
    expect_err_has "event=stopped" "serve logs its stop"
}

check_server() { # backend name
    run curl -s "$base/api/v1/health"
    expect_out_has '"status":"ok"' "health on $1"
    expect_out_has "\"store\":\"$1\"" "health names the backend"
    run curl -s -o /dev/null -w '%{http_code} %{content_type}' "$base/api/v1/nothing"
    expect_out "404 application/json" "unknown path is a JSON 404"
    run curl -s -X POST -H 'Content-Type: application/json' --data-binary '{"a":' "$base/api/v1/health"
    expect_out_has '"error":{"code":' "wrong method is a JSON error"
    run curl -s "$base/metrics"
    expect_out_has 'workphone_http_requests_total{route="/api/v1/health",method="GET",status="200"} 1' "metrics count requests"
}

run "$WP" init --data "$TMP/s" --tenant Acme --admin admin
expect_rc 0 "init"
start_server "$TMP/s"
[ -n "$base" ] && check_server sqlite
[ -n "$base" ] && stop_server

run "$WP" serve --data "$TMP/nothing-here"
expect_rc 2 "serve on a dir that is not initialized"
expect_one_line_err "serve on a dir that is not initialized"
run "$WP" serve --data "$TMP/s" --listen nonsense
expect_rc 2 "serve with a bad --listen"

if [ -n "${WORKPHONE_TEST_PG_URL:-}" ]; then
    db="wp_it_$$_$RANDOM"
    psql -q "$WORKPHONE_TEST_PG_URL" -c "create database $db" || fail "create database"
    url="${WORKPHONE_TEST_PG_URL%/*}/$db"
    run "$WP" init --data "$TMP/p" --tenant Acme --admin admin --db "$url"
    expect_rc 0 "init on PostgreSQL"
    start_server "$TMP/p" --db "$url"
    [ -n "$base" ] && check_server postgresql
    [ -n "$base" ] && stop_server
    psql -q "$WORKPHONE_TEST_PG_URL" -c "drop database $db with (force)" || true
elif [ "${WORKPHONE_REQUIRE_PG:-0}" = 1 ]; then
    fail "WORKPHONE_TEST_PG_URL is not set but WORKPHONE_REQUIRE_PG=1"
fi

finish
