#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `workphone scan` (CONTRACT §1-3): output shape, offsets, masking, exit codes, limits.
. "$(dirname "$0")/lib.sh"

lex=$TMP/lex.txt
printf '# test lexicon\n飞单\tprivate_deal\tblock\n私单\tprivate_deal\talert\n保本保息\tfalse_promise\tblock\n加我私人微信\tcontact_leak\n加我vx\tcontact_leak\nre:返[0-9]{1,2}个点\trebate\talert\nallow:单飞行程\n' >"$lex"

# CONTRACT §3's own example, byte for byte.
run_in '这笔可以飞*单给你' "$WP" scan --lexicon "$lex"
expect_rc 0 "scan exits 0 when something matched"
expect_out '{"line":1,"action":"block","matches":[{"pattern":"飞单","category":"private_deal","action":"block","start":12,"end":19,"text":"飞*单"}],"masked":"这笔可以***给你"}' "CONTRACT example"

# One object per line, numbered, empty lines included; JSON parses.
run_in $'你好\n\n飛單和私单\n加我ＶＸ吧\n返12个点给你\n' "$WP" scan --lexicon "$lex" --no-pii
expect_rc 0 "several lines"
printf '%s\n' "$out" >"$TMP/o.jsonl"
res=$(python3 - "$TMP/o.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
print(len(rows), [r["line"] for r in rows], [r["action"] for r in rows],
      [[m["text"] for m in r["matches"]] for r in rows], rows[2]["masked"])
PY
)
out=$res
expect_out "5 [1, 2, 3, 4, 5] ['none', 'none', 'block', 'alert', 'alert'] [[], [], ['飛單', '私单'], ['加我ＶＸ'], ['返12个点']] **和**" "lines, actions, texts"

# PII detectors, and --no-pii turning them off.
run_in '电话13800138000' "$WP" scan --lexicon "$lex"
expect_out_has '"category":"pii.mobile","action":"mask","start":6,"end":17,"text":"13800138000"' "mobile detected"
expect_out_has '"masked":"电话***********"' "mobile masked"
run_in '电话13800138000' "$WP" scan --lexicon "$lex" --no-pii
expect_out '{"line":1,"action":"none","matches":[],"masked":"电话13800138000"}' "--no-pii"

# Invalid UTF-8 is noise, not an error, and the output stays valid JSON.
printf '飞\xff单\n' | "$WP" scan --lexicon "$lex" >"$TMP/o" 2>"$TMP/err"; rc=$?; out=$(cat "$TMP/o"); err=$(cat "$TMP/err")
expect_rc 0 "invalid UTF-8"
expect_out_has '"start":0,"end":7' "match around an invalid byte"
python3 -c 'import json,sys; json.loads(open(sys.argv[1],encoding="utf-8").read())' "$TMP/o" || fail "invalid UTF-8 output is not JSON"

# CRLF input and a last line without a newline.
run_in $'私单\r\n私单' "$WP" scan --lexicon "$lex"
expect_out_has '{"line":2,"action":"alert"' "last line without newline"
expect_out_has '"end":6,"text":"私单"}],"masked":"**"}' "CR stripped"

# A lexicon with no entries (empty, or only comments) is valid: PII detection alone.
printf '# nothing yet\n\n' >"$TMP/empty.txt"
run_in $'hi\n电话13800138000\n' "$WP" scan --lexicon "$TMP/empty.txt"
expect_rc 0 "lexicon of comments only"
expect_out_has '{"line":1,"action":"none","matches":[],"masked":"hi"}' "nothing matches with an empty lexicon"
expect_out_has '"category":"pii.mobile"' "PII still detected with an empty lexicon"
: >"$TMP/empty0.txt"
run_in 'hi' "$WP" scan --lexicon "$TMP/empty0.txt" --no-pii
expect_rc 0 "empty lexicon file"
expect_out '{"line":1,"action":"none","matches":[],"masked":"hi"}' "empty lexicon, no PII"

# Bad lexicons: exit 2, file and line named, one line.
printf '飞单\tprivate_deal\tblock\n\n# c\n私单\tprivate_deal\tblok\n' >"$TMP/bad.txt"
run_in 'x' "$WP" scan --lexicon "$TMP/bad.txt"
expect_rc 2 "bad action"
expect_err_has "$TMP/bad.txt:4:" "bad action names file:line"
expect_err_has "blok" "bad action names the action"
expect_one_line_err "bad action"
printf 're:返[0-9\trebate\n' >"$TMP/bad2.txt"
run_in 'x' "$WP" scan --lexicon "$TMP/bad2.txt"
expect_rc 2 "bad regex"
expect_err_has "$TMP/bad2.txt:1:" "bad regex names file:line"
run_in 'x' "$WP" scan --lexicon "$TMP/missing.txt"
expect_rc 2 "missing lexicon"
expect_err_has "missing.txt" "missing lexicon named"
run_in 'x' "$WP" scan
expect_rc 2 "no --lexicon"

# The shipped default lexicon compiles and blocks what it must.
run_in $'这单我们走飞单吧\n保本保息，稳赚不赔\n今天天气不错\n' "$WP" scan --lexicon "$SRC/data/lexicon/default.txt" --no-pii
expect_rc 0 "default lexicon"
printf '%s\n' "$out" >"$TMP/d.jsonl"
out=$(python3 -c 'import json,sys; print([json.loads(l)["action"] for l in open(sys.argv[1],encoding="utf-8")])' "$TMP/d.jsonl")
expect_out "['block', 'block', 'none']" "default lexicon verdicts"

# The default lexicon's own examples (data/lexicon/README.md): every "must match" line is
# flagged, every "must pass" line is not. verdicts KIND FIXTURE OUTPUT RC prints what is wrong
# with a scan's OUTPUT of FIXTURE (KIND match or pass) that exited RC, nothing when all is
# right: one JSON verdict per line, numbered in order, each of the wanted kind. An empty
# output or a failed scan is wrong, never "nothing flagged".
verdicts() {
    python3 - "$@" <<'PY'
import json, sys
kind, fixture, output, rc = sys.argv[1:5]
want = sum(1 for _ in open(fixture, encoding="utf-8"))
rows = open(output, encoding="utf-8").read().splitlines()
if rc != "0":
    sys.exit(print("the scan exited %s" % rc))
if want == 0 or len(rows) != want:
    sys.exit(print("%d verdicts for %d lines" % (len(rows), want)))
for n, row in enumerate(rows, 1):
    try:
        v = json.loads(row)
    except ValueError:
        sys.exit(print("line %d: not JSON: %s" % (n, row[:80])))
    if not isinstance(v, dict) or v.get("line") != n or \
            v.get("action") not in ("none", "alert", "block", "mask"):
        sys.exit(print("line %d: not a verdict: %s" % (n, row[:80])))
    if (v["action"] == "none") != (kind == "pass"):
        sys.exit(print("line %d: %s: %s" % (n, v["action"], row[:200])))
PY
}
fix=$(dirname "$0")/lexicon
for kind in match pass; do
    "$WP" scan --no-pii --lexicon "$SRC/data/lexicon/default.txt" <"$fix/must_$kind.txt" >"$TMP/v" 2>"$TMP/err"
    rc=$?; out=$(verdicts "$kind" "$fix/must_$kind.txt" "$TMP/v" "$rc"); err=$(cat "$TMP/err")
    expect_rc 0 "default lexicon, must-$kind lines"
    expect_out "" "every must-$kind line is as the lexicon's README says"
done
# ... and the check itself fails on an empty output, a failed scan, a missing verdict, a line
# that is no verdict, a verdict of the other kind.
: >"$TMP/empty"
out=$(verdicts pass "$fix/must_pass.txt" "$TMP/empty" 0)
expect_out "0 verdicts for 43 lines" "an empty output is not 'nothing flagged'"
out=$(verdicts match "$fix/must_match.txt" "$TMP/empty" 0)
expect_out "0 verdicts for 57 lines" "an empty output is not 'all flagged'"
"$WP" scan --no-pii --lexicon "$SRC/data/lexicon/default.txt" <"$fix/must_pass.txt" >"$TMP/v" 2>/dev/null
out=$(verdicts pass "$fix/must_pass.txt" "$TMP/v" 2)
expect_out "the scan exited 2" "a failed scan fails the check"
head -n 42 "$TMP/v" >"$TMP/short"
out=$(verdicts pass "$fix/must_pass.txt" "$TMP/short" 0)
expect_out "42 verdicts for 43 lines" "a missing verdict fails the check"
{ head -n 42 "$TMP/v"; echo 'not json'; } >"$TMP/bad"
out=$(verdicts pass "$fix/must_pass.txt" "$TMP/bad" 0)
expect_out "line 43: not JSON: not json" "a line that is not a verdict fails the check"
"$WP" scan --no-pii --lexicon "$SRC/data/lexicon/default.txt" <"$fix/must_match.txt" >"$TMP/vm" 2>/dev/null
out=$(verdicts pass "$fix/must_match.txt" "$TMP/vm" 0)
expect_out_has "line 1: block: " "a flagged line fails the must-pass check"
out=$(verdicts match "$fix/must_pass.txt" "$TMP/v" 0)
expect_out_has "line 1: none: " "an unflagged line fails the must-match check"

# A line over 16 MiB is answered with an error object and skipped; the rest is scanned.
python3 -c 'import sys; sys.stdout.write("a" * (17 << 20) + "\n私单\n")' >"$TMP/big.txt"
"$WP" scan --lexicon "$lex" <"$TMP/big.txt" >"$TMP/o" 2>"$TMP/err"; rc=$?; out=$(cat "$TMP/o"); err=$(cat "$TMP/err")
expect_rc 1 "line too long"
expect_out_has '{"line":1,"error":{"code":"line_too_long"' "too-long line answered"
expect_out_has '{"line":2,"action":"alert"' "scanning goes on after a too-long line"
expect_err_has "line 1 is longer than" "too-long line named on stderr"

# A 1 MB line is fine.
python3 -c 'import sys; sys.stdout.write("好" * 350000 + "飞单\n")' >"$TMP/mb.txt"
"$WP" scan --lexicon "$lex" <"$TMP/mb.txt" >"$TMP/o" 2>"$TMP/err"; rc=$?; out=$(head -c 100 "$TMP/o"); err=""
expect_rc 0 "1 MB line"
expect_out_has '"action":"block"' "match at the end of a 1 MB line"
grep -q '"start":1050000,"end":1050006' "$TMP/o" || fail "offsets at the end of a 1 MB line"

finish
