#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# House-style lint over src/, include/, tests/, bench/: banned functions, comment style,
# file headers, and SQL never built from values.
cd "${WORKPHONE_SOURCE_ROOT:?}" || exit 1
bad=0
files=$(git ls-files -co --exclude-standard -- 'src/*.[ch]' 'include/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]' 2>/dev/null \
        || find src include tests bench -name '*.[ch]')
report() { echo "lint: $*" >&2; bad=1; }

for f in $files; do
    [ -f "$f" ] || continue
    # banned: unbounded string functions (use wp_buf / snprintf / strtol)
    if grep -nE '\b(strcpy|sprintf|vsprintf|strcat|atoi|atol|gets)\s*\(' "$f" | grep -vE 'snprintf|vsnprintf' ; then
        report "$f: banned function (strcpy, sprintf, strcat, atoi, atol, gets)"
    fi
    # /* */ comments only (URLs inside strings are fine)
    if sed -e 's/"[^"]*"//g' "$f" | grep -nE '(^|[^:])//' >/dev/null; then
        report "$f: use /* */ comments, not //"
    fi
    # first line: SPDX identifier (generated and placeholder files excepted)
    if ! head -n 1 "$f" | grep -q 'SPDX-License-Identifier'; then
        grep -q wp_placeholder_ "$f" || report "$f: first line must be the SPDX-License-Identifier"
    fi
done

# SQL is never built by formatting values into it: no printf-family call whose format holds
# an SQL keyword and a %s.
if grep -nE '(printf|wp_buf_addf)\s*\([^;]*"[^"]*\b(SELECT|INSERT|UPDATE|DELETE|select|insert|update|delete)\b[^"]*%s' \
        $(echo "$files" | grep '^src/') 2>/dev/null; then
    report "SQL built with printf-style formatting of values (use bound parameters)"
fi

# CSV is written in one place (issue 13): src/api/csv.c quotes every cell and defuses
# spreadsheet formulas; an export that wrote text/csv itself would bypass it.
if grep -l 'text/csv' $(echo "$files" | grep '^src/') 2>/dev/null | grep -vx 'src/api/csv.c'; then
    report "CSV written outside src/api/csv.c (use api_csv_cell and api_csv_reply)"
fi

# Data scope is enforced in one place (issue 6): a handler in src/api that reads people,
# customers or what they said must get its scope from api_scope_for(), or be a helper handed
# that scope (a `const api_scope *` parameter). auth.c (who is calling) and scope.c (the
# scope itself) are the only exceptions.
scoped='wp_store_(customers_list|customer_get|customer_identities|messages_search|alerts_list|alert_set_status|alert_get|devices_list|device_get|employees_list|employee_get|org_units_list|org_unit_get|org_unit_subtree|customer_timeline|calls_list|locations_list)\('
for f in src/api/*.c; do
    case "$f" in src/api/auth.c|src/api/scope.c) continue ;; esac
    awk -v f="$f" -v re="$scoped" '
        /^[a-z].*\(/ && !/;$/ { fn = $0; body = ""; infn = 1 }
        infn { body = body "\n" $0 }
        infn && /^}/ {
            if (body ~ re && body !~ /api_scope_for\(/ && body !~ /const api_scope \*/)
                printf "%s: %s reads scoped data without api_scope_for()\n", f, fn
            infn = 0
        }' "$f" | while read -r line; do echo "$line"; done | grep . >&2 &&
        report "$f: a handler reads scoped data without api_scope_for()"
done

# Personal data is masked in one place (issue 13): every JSON answer passes the server's
# reply filter (api_view_reply, installed by serve), so a handler cannot skip it. What leaves
# src/api another way is listed here: raw bytes only where the file masks what it writes with
# api_view_text() (CSV exports) or holds no one's personal data (the lexicon, media files);
# an unmasked answer (api_reply_revealed) only from the audited unmask handlers.
grep -q 'o.reply_filter = api_view_reply;' src/cli/cmd_serve.c ||
    report "src/cli/cmd_serve.c: serve must install api_view_reply as the reply filter"
for f in src/api/*.c; do
    case "$f" in src/api/view.c) continue ;; esac
    if grep -nE '\bwp_http_reply_(bytes|fd)\(' "$f" >/dev/null; then
        case "$f" in
        src/api/lexicon.c|src/api/lexicons.c|src/api/media.c|src/api/wecom.c) ;; # wecom.c: "success", WeCom's echo
        src/api/pipl.c) ;; # a customer's own data for that customer (PIPL): unmasked on purpose, admins only, audited
        *) grep -q 'api_view_text(' "$f" ||
               report "$f: sends raw bytes without masking them with api_view_text()" ;;
        esac
    fi
    if grep -nE '\bMHD_[a-z_]+\(' "$f" >/dev/null; then
        report "$f: writes an answer around the reply filter"
    fi
    awk -v f="$f" '
        /^[a-z].*\(/ && !/;$/ { fn = $0 }
        /api_reply_revealed\(/ && fn !~ /^int api_(customers|messages)_unmask\(/ {
            printf "%s: %s answers unmasked outside an unmask handler\n", f, fn }' "$f" |
        grep . >&2 && report "$f: api_reply_revealed() outside the audited unmask handlers"
done

# The include graph follows docs/internals/layout.md (issue 14): a file of src/<a>/ includes
# "<b>/..." only when the page's table of arrows lets <a> include <b> (or b is a itself).
python3 - <<'PY' || report "the include graph leaves docs/internals/layout.md's arrows"
import glob, os, re, sys
rows = {}
for line in open("docs/internals/layout.md", encoding="utf-8"):
    m = re.match(r"\| `([a-z]+)` \| ([^|]*)\|", line)
    if m:
        cell = m.group(2)
        rows[m.group(1)] = None if "every module" in cell else set(re.findall(r"`([a-z]+)`", cell))
if not rows:
    sys.exit("lint: docs/internals/layout.md: no table of arrows found")
bad = 0
for d in sorted(glob.glob("src/*/")):
    mod = os.path.basename(d.rstrip("/"))
    if mod not in rows:
        print("lint: src/%s: a module docs/internals/layout.md does not list" % mod, file=sys.stderr)
        bad = 1
        continue
    for f in sorted(glob.glob(d + "*.[ch]")):
        for n, line in enumerate(open(f, encoding="utf-8", errors="replace"), 1):
            m = re.match(r'\s*#\s*include\s+"([a-z]+)/', line)
            if m and m.group(1) != mod and rows[mod] is not None and m.group(1) not in rows[mod]:
                print("lint: %s:%d: src/%s includes %s/, which docs/internals/layout.md does not "
                      "allow" % (f, n, mod, m.group(1)), file=sys.stderr)
                bad = 1
sys.exit(bad)
PY

# Every route is called by some test (issue 17), or listed in tests/routes_untested.txt with the
# reason; and the check itself fails on a route no test calls.
python3 tests/untested_routes.py || report "a route no test calls (tests/untested_routes.py)"
rt=$(mktemp)
{ cat src/api/routes.c; echo '    {"GET", "/api/v1/never-called/{id}", api_x, WP_RIGHT_READ, 0},'; } >"$rt"
python3 tests/untested_routes.py --routes "$rt" 2>&1 | grep -q 'no test calls GET /api/v1/never-called/{id}' ||
    report "tests/untested_routes.py does not catch a route no test calls"
rm -f "$rt"

if [ $bad = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $bad
