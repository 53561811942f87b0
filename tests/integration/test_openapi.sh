#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# docs/openapi.yaml is what integrators generate clients from: Redocly's OpenAPI linter
# (web/node_modules, a devDependency of the console) with docs/redocly.yaml must find no
# problem in it, and must find the kind it is there for (a stray property made by an unquoted
# comma in a flow mapping) in a copy broken on purpose. Skipped (77) only when web/node_modules
# is absent and WORKPHONE_REQUIRE_WEB is not 1 (scripts/test, CI); any other gap fails.
. "$(dirname "$0")/lib.sh"

if [ ! -d "$SRC/web/node_modules" ]; then
    if [ "${WORKPHONE_REQUIRE_WEB:-0}" = 1 ]; then
        echo "FAIL: WORKPHONE_REQUIRE_WEB=1 but web/node_modules is missing (run 'make web')" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "skip: web/node_modules is missing (run 'make web')"
    exit 77
fi
REDOCLY=$SRC/web/node_modules/.bin/redocly
checks=$((checks + 1))
if ! command -v node >/dev/null || [ ! -x "$REDOCLY" ]; then
    rc=- out="" err="node: $(command -v node || echo none), $REDOCLY: $([ -x "$REDOCLY" ] && echo present || echo missing)"
    fail "the linter cannot run (run 'make web')"
    finish
    exit 1
fi

lint() { # FILE: lint it with the project's settings, offline
    run env REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_COLOR=1 \
        "$REDOCLY" lint --config "$SRC/docs/redocly.yaml" --format=stylish "$1"
}

# 1. The document as it stands: no error and no warning
lint "$SRC/docs/openapi.yaml"
expect_rc 0 "redocly lint docs/openapi.yaml"
checks=$((checks + 1))
if printf '%s\n%s\n' "$out" "$err" | grep -Eq '^ *[0-9]+:[0-9]+ +(error|warning) '; then
    fail "redocly lint docs/openapi.yaml reports problems"
fi
expect_err_has "Your API description is valid" "redocly lint docs/openapi.yaml says valid"

# 2. The linter catches what it is here for: an unquoted comma in a description of a flow
# mapping becomes a property the schema cannot have
sed 's/description: "byte offset, exclusive"}/description: byte offset, exclusive}/' \
    "$SRC/docs/openapi.yaml" >"$TMP/broken.yaml"
checks=$((checks + 1))
cmp -s "$SRC/docs/openapi.yaml" "$TMP/broken.yaml" && fail "the broken copy is not broken (Match.end changed?)"
lint "$TMP/broken.yaml"
expect_rc 1 "redocly lint of a copy with a stray property fails"
expect_out_has 'Property `exclusive` is not expected here.' "the stray property is named"

# 3. The checker of the python tests' answers (openapi_check.py) finds a field the schema
# lacks and a missing required one, and can make every documented response schema strict
run python3 "$SRC/tests/integration/openapi_check.py"
expect_rc 0 "openapi_check.py checks itself"
expect_out "0 failed" "openapi_check.py finds what it should"

finish
