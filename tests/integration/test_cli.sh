#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The command line: dispatcher, --help everywhere, version, exit codes.
. "$(dirname "$0")/lib.sh"

run "$WP" --help
expect_rc 0 "workphone --help"
top=$out
for c in init serve demo scan version agent audit jobs simulate; do
    out=$top
    expect_out_has "  $c " "--help lists $c"
    run "$WP" "$c" --help
    expect_rc 0 "$c --help"
    expect_out_has "usage: workphone $c" "$c --help"
done

run "$WP"
expect_rc 2 "no command"
run "$WP" frobnicate
expect_rc 2 "unknown command"
expect_err_has "'frobnicate' is not a command" "unknown command"

run "$WP" version
expect_rc 0 "version"
expect_out_has "workphone " "version"
run "$WP" version extra
expect_rc 2 "version with an argument"

finish
