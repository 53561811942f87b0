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

finish() {
    echo "$((checks - failures)) passed, $failures failed"
    [ "$failures" = 0 ]
}
