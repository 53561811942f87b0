#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# How tests treat a missing PostgreSQL (issue 17), checked in each runner: without
# WORKPHONE_TEST_PG_URL the PostgreSQL half fails unless WORKPHONE_TEST_SKIP_PG=1 asks to skip
# it, and a test of one backend reports SKIP on the other, never OK.
#   pg_policy.sh TEST_STORE_WORKHOURS TEST_STORE_ARCHIVE (the unit test binaries)
. "$(dirname "$0")/integration/lib.sh"
workhours=$1 archive=$2
nopg=(env -u WORKPHONE_TEST_PG_URL -u WORKPHONE_TEST_SKIP_PG)
skippg=(env -u WORKPHONE_TEST_PG_URL WORKPHONE_TEST_SKIP_PG=1)
missing="WORKPHONE_TEST_PG_URL is not set: run under scripts/with-pg, or set WORKPHONE_TEST_SKIP_PG=1"

# C: the store fixtures (tests/unit/store/pg_util.c)
run "${nopg[@]}" "$workhours"
expect_rc 1 "unit test without PostgreSQL"
expect_err_has "store_workhours: FAIL: $missing" "unit test names what is missing"
run "${skippg[@]}" "$workhours"
expect_rc 0 "unit test with WORKPHONE_TEST_SKIP_PG=1"
expect_err_has "store_workhours: PostgreSQL half SKIPPED" "unit test says it skipped"
run "${skippg[@]}" "$archive"
expect_rc 0 "archive unit tests with WORKPHONE_TEST_SKIP_PG=1"
expect_out_has "[  SKIPPED ] test_archive__pg_reconnect" "a PostgreSQL test is SKIPPED on SQLite"
expect_out_has "[  SKIPPED ] test_archive__pg_identity_race" "another PostgreSQL test is SKIPPED on SQLite"
checks=$((checks + 1))
case "$out" in *"[       OK ] test_archive__pg_reconnect"*) fail "a PostgreSQL test passed on SQLite" ;; esac

# shell: run_suites (lib_api.sh) and only_backend (lib.sh)
# (run as if from tests/integration/: its files source their neighbours by $0)
cat >"$TMP/halves.sh" <<'SH'
. "$(dirname "$0")/lib_api.sh"
suite() { checks=$((checks + 1)); echo "ran $1"; }
run_suites
SH
run "${nopg[@]}" bash -c "$(cat "$TMP/halves.sh")" "$SRC/tests/integration/halves.sh"
expect_rc 1 "run_suites without PostgreSQL"
expect_out "ran sqlite
0 passed, 1 failed" "run_suites runs SQLite, then fails the missing half"
expect_err_has "FAIL: $missing" "run_suites names what is missing"
run "${skippg[@]}" bash -c "$(cat "$TMP/halves.sh")" "$SRC/tests/integration/halves.sh"
expect_rc 0 "run_suites with WORKPHONE_TEST_SKIP_PG=1"
expect_out "ran sqlite
1 passed, 0 failed" "run_suites skips the PostgreSQL half"
expect_err_has "PostgreSQL half SKIPPED" "run_suites says it skipped"
for be in postgresql sqlite; do
    printf '. "$WORKPHONE_SOURCE_ROOT/tests/integration/lib.sh"\nonly_backend %s\necho ran\nfinish\n' "$be" >"$TMP/only_$be.sh"
done
run "${skippg[@]}" bash "$TMP/only_postgresql.sh"
expect_rc 77 "a PostgreSQL-only test is SKIP (77) with WORKPHONE_TEST_SKIP_PG=1"
expect_out "" "... and runs nothing"
run "${nopg[@]}" bash "$TMP/only_postgresql.sh"
expect_rc 1 "a PostgreSQL-only test fails without PostgreSQL"
expect_err_has "FAIL: $missing" "only_backend names what is missing"
run "${skippg[@]}" bash "$TMP/only_sqlite.sh"
expect_rc 0 "a SQLite-only test runs"
expect_out "ran
0 passed, 0 failed" "a SQLite-only test runs"

# Python: harness.run_backends
cat >"$TMP/halves.py" <<'PY'
import os, sys
sys.path.insert(0, os.path.join(os.environ["WORKPHONE_SOURCE_ROOT"], "tests", "integration"))
import harness
harness.Store = lambda be, tmp, name: print("ran", be) or type("S", (), {"drop": lambda s: None})()
sys.exit(harness.run_backends(lambda store: None, "policy"))
PY
run "${nopg[@]}" python3 "$TMP/halves.py"
expect_rc 1 "run_backends without PostgreSQL"
expect_out "ran sqlite
0 checks, 1 failed" "run_backends runs SQLite, then fails the missing half"
expect_err_has "FAIL: policy: $missing" "run_backends names what is missing"
run "${skippg[@]}" python3 "$TMP/halves.py"
expect_rc 0 "run_backends with WORKPHONE_TEST_SKIP_PG=1"
expect_out "ran sqlite
0 checks, 0 failed" "run_backends skips the PostgreSQL half"
expect_err_has "policy: PostgreSQL half SKIPPED" "run_backends says it skipped"
finish
