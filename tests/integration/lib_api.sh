# SPDX-License-Identifier: MIT
# Helpers for the integration tests of the HTTP API (test_device.sh, test_console.sh), on top
# of lib.sh: a server per store, requests with curl, JSON read with python3, and the org tree,
# accounts and devices that the console tests build.
. "$(dirname "$0")/lib.sh"
export WORKPHONE_ADMIN_PASSWORD='s3cret-pass'
rc=0 out='' err='' body='' headers='' status=''

# start_server DIR [ARGS...]: sets $pid and $base
start_server() {
    local dir=$1; shift
    # emptied here, not by the redirection below: that runs in the background child, and the
    # loop could meet the previous server's start line before it does
    : >"$TMP/serve.err"
    "$WP" serve --data "$dir" --listen 127.0.0.1:0 "$@" >"$TMP/serve.out" 2>"$TMP/serve.err" &
    pid=$!
    base=""
    for _ in $(seq 600); do # a minute: a loaded CI machine may take seconds
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
    out=""; err=$(tail -n 5 "$TMP/serve.err")
    expect_rc 0 "serve exits 0 on SIGTERM"
    expect_err_has "event=stopped" "serve logs its stop"
}

# setup_store NAME [DIR]: a fresh data dir $dir ($TMP/DIR, default $TMP/NAME) initialized on
# SQLite (NAME=sqlite) or on a new PostgreSQL database (NAME=postgresql); sets $dir and
# $db_args, and sql() runs SQL on it.
setup_store() {
    dir="$TMP/${2:-$1}"
    db_args=()
    pg_url=""
    if [ "$1" = postgresql ]; then
        local db="wp_it_$$_$RANDOM"
        psql -q "$WORKPHONE_TEST_PG_URL" -c "create database $db" || fail "create database"
        pg_url="${WORKPHONE_TEST_PG_URL%/*}/$db"
        pg_dbs="${pg_dbs:-} $db"
        db_args=(--db "$pg_url")
    fi
    run "$WP" init --data "$dir" --tenant Acme --admin admin "${db_args[@]}"
    expect_rc 0 "init on $1"
}

sql() {
    if [ -n "$pg_url" ]; then
        psql -qtAX "$pg_url" -c "$1"
    else
        sqlite3 -batch -noheader -cmd ".timeout 10000" "$dir/workphone.db" "$1"
    fi
}

drop_pg_dbs() {
    for db in ${pg_dbs:-}; do
        psql -q "$WORKPHONE_TEST_PG_URL" -c "drop database $db with (force)" >/dev/null || true
    done
}

# req METHOD PATH [CURL ARGS...]: sets $status, $body, $headers (and $out for fail messages)
req() {
    local m=$1 p=$2; shift 2
    local mflag=(-X "$m")
    [ "$m" = HEAD ] && mflag=(-I)
    rm -f "$TMP/body" "$TMP/headers"
    touch "$TMP/body"
    status=$(curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "${mflag[@]}" "$@" \
        "$base$p")
    body=$(cat "$TMP/body")
    headers=$(cat "$TMP/headers")
    rc=0; out="HTTP $status $(printf '%s' "$body" | head -c 1500)"; err=""
    keep_answer "$m" "$p"
}

# keep_answer METHOD PATH: a JSON answer is kept so that finish() checks it against
# docs/openapi.yaml with the python tests' checker (one python3 for the whole suite). A file
# name of its own for each: req() also runs in subshells ($(audit_count ...)), where a counter
# would not move.
keep_answer() {
    [ "$1" != HEAD ] || return 0
    case "$headers" in
        *$'\n'[Cc]ontent-[Tt]ype:\ application/json*) ;;
        *) return 0 ;;
    esac
    [ -s "$TMP/body" ] || return 0
    mkdir -p "$TMP/answers"
    local f
    f=$(mktemp "$TMP/answers/XXXXXXXX") || return 0
    cp "$TMP/body" "$f"
    printf '%s\t%s\t%s\t%s\n' "${f##*/}" "$1" "$2" "$status" >>"$TMP/answers/index"
}

# json METHOD PATH BODY [CURL ARGS...]: req with a JSON body
json() {
    local m=$1 p=$2 b=$3; shift 3
    req "$m" "$p" -H 'Content-Type: application/json' --data-binary "$b" "$@"
}

# jq_ EXPR: a Python expression over the reply's JSON as j, printed on one line (JSON for
# lists, dicts, booleans and None). One python3 serves every call: starting one per check
# would cost more than the requests.
coproc JQ { python3 -u -c '
import json, sys
for line in sys.stdin:
    try:
        with open(sys.argv[1], encoding="utf-8") as f:
            j = json.load(f)
        v = eval(line.rstrip("\n"))
        out = json.dumps(v, ensure_ascii=False) if isinstance(v, (bool, type(None), list, tuple, dict)) else str(v)
    except Exception as e:
        out = "python: %s: %s" % (type(e).__name__, e)
    print(out.replace("\n", "\\n"), flush=True)
' "$TMP/jq_in"; }
jq_() {
    local v
    printf '%s' "$body" >"$TMP/jq_in"
    printf '%s\n' "${1//$'\n'/ }" >&"${JQ[1]}"
    IFS= read -r v <&"${JQ[0]}"
    printf '%s\n' "$v"
}

expect_status() { checks=$((checks + 1)); [ "$status" = "$1" ] || fail "$2: expected HTTP $1"; }
# expect_json EXPR VALUE MSG
expect_json() {
    checks=$((checks + 1))
    local v; v=$(jq_ "$1")
    [ "$v" = "$2" ] || fail "$3: $1 is '$v', wanted '$2'"
}
expect_error() { # STATUS CODE MSG: a JSON error of CONTRACT with this status and code
    expect_status "$1" "$3"
    expect_json 'j["error"]["code"]' "$2" "$3 (error code)"
}
expect_header_has() { checks=$((checks + 1)); case "$headers" in *"$1"*) ;; *) fail "$2: headers lack '$1'";; esac; }

expect_eq() { # VALUE WANT MSG
    checks=$((checks + 1))
    [ "$1" = "$2" ] || fail "$3: '$1', wanted '$2'"
}

# --- accounts, the org tree and devices: made as the caller in ${A[@]}, messages name $be ---

PW=$WORKPHONE_ADMIN_PASSWORD # every account's password

login() { # USER [PASSWORD [TENANT]]: sets $tok
    local t=""
    [ -n "${3:-}" ] && t=", \"tenant\": \"$3\""
    json POST /api/v1/auth/login "{\"username\": \"$1\", \"password\": \"${2:-$PW}\"$t}"
    tok=$(jq_ 'j.get("token", "")')
}

unit() { # NAME PARENT KIND: sets $id
    json POST /api/v1/org-units "{\"name\": \"$1\", \"parent_id\": \"$2\", \"kind\": \"$3\"}" "${A[@]}"
    expect_status 201 "$be: create unit $1"
    id=$(jq_ 'j["id"]')
}

employee() { # USERNAME UNIT ROLE: sets $id
    json POST /api/v1/employees "{\"name\": \"Name of $1\", \"org_unit_id\": \"$2\", \"role\": \"$3\",
        \"username\": \"$1\", \"password\": \"$PW\"}" "${A[@]}"
    expect_status 201 "$be: create employee $1"
    id=$(jq_ 'j["id"]')
}

device() { # EMPLOYEE SERIAL: enrolls a device for it, sets $dtok
    json POST "/api/v1/employees/$1/enrollment-codes" '{"ttl_s": 600}' "${A[@]}"
    local code; code=$(jq_ 'j["code"]')
    json POST /api/v1/device/enroll "{\"code\": \"$code\", \"serial\": \"$2\", \"model\": \"P60\"}"
    expect_status 201 "$be: enroll $2"
    dtok=$(jq_ 'j["token"]')
}

audit_count() { # ACTION: rows of that action
    req GET "/api/v1/audit?action=$1&limit=200" "${A[@]}"
    jq_ 'len(j["items"])'
}

# run_suites: suite() on SQLite, then on PostgreSQL (pg_half: a failure when
# WORKPHONE_TEST_PG_URL is not set, unless WORKPHONE_TEST_SKIP_PG=1 skips it); then finish.
run_suites() {
    suite sqlite
    if pg_half; then
        suite postgresql
        drop_pg_dbs
    fi
    finish
}
