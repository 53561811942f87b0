#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The web console in a real Chromium (web/tests/browser.mjs, playwright-core driving Debian's
# /usr/bin/chromium) against the real server on a fresh data dir. Skipped (77) when the console
# is not built or Chromium is missing, unless WORKPHONE_REQUIRE_WEB=1 (scripts/test, CI), and in
# a sanitizer build (it runs once per CI run, in the plain build).
. "$(dirname "$0")/lib_api.sh"

# The browser suite tests the console, not the server's memory: it runs once per CI run, in the
# plain build, and skips in a sanitizer build (which runs every other suite).
if [ "${WORKPHONE_SANITIZED:-0}" = 1 ]; then
    echo "skip: the browser suite runs in the plain build only"
    exit 77
fi

missing=""
[ -f "$SRC/web/dist/index.html" ] || missing="$missing web/dist (run 'make web')"
[ -d "$SRC/web/node_modules/playwright-core" ] || missing="$missing web/node_modules (run 'make web')"
command -v node >/dev/null || missing="$missing node"
[ -x "${WORKPHONE_CHROMIUM:-/usr/bin/chromium}" ] || missing="$missing chromium (scripts/install-deps)"
if [ -n "$missing" ]; then
    if [ "${WORKPHONE_REQUIRE_WEB:-0}" = 1 ]; then
        echo "FAIL: WORKPHONE_REQUIRE_WEB=1 but missing:$missing" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "skip: missing$missing"
    exit 77
fi

setup_store sqlite
# WeCom's jobs every second (web/tests/suites/wecom_contact.mjs waits for transfer states)
export WORKPHONE_WECOM_INTERVAL_S=1
# The chat archive through the fake Finance SDK the suite builds (tests/wecom/fake_sdk.c), as
# test_wecom_archive.py runs it: the operator allows the library's directory, and the server
# and web/tests/suites/wecom_settings.mjs share WECOM_FAKE_DIR, where the suite writes the RSA
# public keys, the archive secret and the records the fake serves.
if [ -f "${WORKPHONE_WECOM_FAKE_SDK:-}" ]; then
    export WECOM_FAKE_DIR="$TMP/wecom-fake"
    mkdir -p "$WECOM_FAKE_DIR/media"
    : >"$WECOM_FAKE_DIR/records.jsonl"
    echo '{}' >"$WECOM_FAKE_DIR/control.json"
    echo "wecom_sdk_dirs=$(dirname "$WORKPHONE_WECOM_FAKE_SDK")" >>"$dir/workphone.conf"
else
    unset WECOM_FAKE_DIR
fi
start_server "$dir" --web "$SRC/web/dist"
if [ -n "$base" ]; then
    WORKPHONE_URL=$base WORKPHONE_DATA=$dir WORKPHONE_SCREENSHOTS="${WORKPHONE_SCREENSHOTS-$SRC/docs/screenshots}" \
        timeout 900 node "$SRC/web/tests/browser.mjs" >"$TMP/node.out" 2>"$TMP/node.err" </dev/null
    rc=$?
    out=$(cat "$TMP/node.out")
    err=$(cat "$TMP/node.err")
    cat "$TMP/node.out"
    expect_rc 0 "the browser tests pass"
    expect_out_has " 0 failed" "the browser tests ran"
    stop_server
fi
finish
