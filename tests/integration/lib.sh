# SPDX-License-Identifier: MIT
# Helpers for the integration tests: run the real binary, compare, report.
set -u
WP=${WORKPHONE_BIN:?WORKPHONE_BIN is set by meson}
SRC=${WORKPHONE_SOURCE_ROOT:?}
TMP=$(mktemp -d /tmp/wp-it.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
failures=0
checks=0
# The test hooks (a fake clock, WORKPHONE_FAKE_NOW, and the clock file, WORKPHONE_TEST_CLOCK;
# WORKPHONE_JOBS_INTERVAL_S; WORKPHONE_TEST_HANDOVER_FAIL_AFTER) work behind this one switch
# only (src/util/testhooks.h): without it the binary ignores them.
export WORKPHONE_TEST_HOOKS=1

# set_clock TIME: move the clock of every workphone started with WORKPHONE_TEST_CLOCK=$CLOCK,
# running ones included, to TIME (RFC 3339). The file is renamed into place, so a server
# never reads it half written.
CLOCK=$TMP/clock
set_clock() {
    printf '%s\n' "$1" >"$CLOCK.tmp" && mv -f "$CLOCK.tmp" "$CLOCK"
}

# run CMD...: sets $rc, $out (stdout) and $err (stderr)
run() {
    "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
    rc=$?
    out=$(cat "$TMP/out")
    err=$(cat "$TMP/err")
}

# run_in INPUT CMD...: like run, with INPUT on standard input
run_in() {
    local input=$1; shift
    printf '%s' "$input" | "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    out=$(cat "$TMP/out")
    err=$(cat "$TMP/err")
}

fail() {
    failures=$((failures + 1))
    echo "FAIL: $*" >&2
    echo "  rc=$rc" >&2
    echo "  stdout: $(printf '%s' "$out" | head -c 2000)" >&2
    echo "  stderr: $(printf '%s' "$err" | head -c 2000)" >&2
}

expect_rc() { checks=$((checks + 1)); [ "$rc" = "$1" ] || fail "$2: expected exit $1"; }
expect_out() { checks=$((checks + 1)); [ "$out" = "$1" ] || fail "$2: stdout differs, wanted: $1"; }
expect_out_has() { checks=$((checks + 1)); case "$out" in *"$1"*) ;; *) fail "$2: stdout lacks '$1'";; esac; }
expect_err_has() { checks=$((checks + 1)); case "$err" in *"$1"*) ;; *) fail "$2: stderr lacks '$1'";; esac; }
expect_one_line_err() {
    checks=$((checks + 1))
    [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "$1: error is not one line"
}

# pg_half: true when a test's PostgreSQL half is to run (WORKPHONE_TEST_PG_URL is set). Without
# the URL the half is skipped if WORKPHONE_TEST_SKIP_PG=1 asks for it, and fails otherwise
# (issue 17): a run without PostgreSQL never passes as if it had tested it.
pg_half() {
    [ -n "${WORKPHONE_TEST_PG_URL:-}" ] && return 0
    if [ "${WORKPHONE_TEST_SKIP_PG:-0}" = 1 ]; then
        echo "PostgreSQL half SKIPPED: WORKPHONE_TEST_PG_URL is not set and WORKPHONE_TEST_SKIP_PG=1" >&2
    else
        rc=x out="" err=""
        fail "WORKPHONE_TEST_PG_URL is not set: run under scripts/with-pg, or set WORKPHONE_TEST_SKIP_PG=1 to skip the PostgreSQL half"
    fi
    return 1
}

# only_backend BACKEND: a test of one backend reports SKIP (exit 77, meson's SKIP) on the other
# and never OK: only_backend postgresql without WORKPHONE_TEST_PG_URL exits 77 when
# WORKPHONE_TEST_SKIP_PG=1, and fails otherwise.
only_backend() {
    case "$1" in
    sqlite) ;;
    postgresql) pg_half || { [ "$failures" = 0 ] && exit 77; finish; exit 1; } ;;
    *) echo "only_backend: sqlite or postgresql, not '$1'" >&2; exit 1 ;;
    esac
}

finish() {
    if [ -s "$TMP/answers/index" ]; then # the JSON answers req() kept (lib_api.sh)
        local line n=0
        while IFS= read -r line; do
            n=$((n + 1))
            failures=$((failures + 1))
            echo "FAIL: $line" >&2
        done < <(/usr/bin/python3 "$SRC/tests/integration/openapi_check.py" --answers "$TMP/answers" ||
                 echo "the answers could not be checked against docs/openapi.yaml")
        checks=$((checks + $(wc -l <"$TMP/answers/index")))
        echo "$(wc -l <"$TMP/answers/index") JSON answers checked against docs/openapi.yaml, $n differ"
    fi
    echo "$((checks - failures)) passed, $failures failed"
    [ "$failures" = 0 ]
}
