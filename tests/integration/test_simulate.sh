#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `workphone simulate`: usage errors exit 2 naming the option, an unreachable server exits 1; a
# company of 20 built through the API and driven through real agents shows up in the console API
# in plausible numbers (units, employees who log in by role, devices, customers, Chinese
# messages found by search, alerts of the planted kinds; field staff's geofences, check-ins,
# attendance and geofence alerts); the same seed on another fresh server gives the same archive
# and the same check-ins; a second company on the same server gets usernames of its own.
. "$(dirname "$0")/lib_api.sh"
# The events carry fixed dates of late November 2026; the server accepts device times within
# 180 days of its own (src/ingest/event.c), so its clock is fixed beside them.
export WORKPHONE_FAKE_NOW=2026-11-27T08:00:00Z
export WORKPHONE_STAFF_PASSWORD='staff-pass-2026'

# --- usage ---------------------------------------------------------------------------------------
run "$WP" simulate --help
expect_rc 0 "simulate --help"
for o in --server --admin --tenant --employees --days --end --seed --customers --violations \
    --threads --batch --dir --quiet; do
    expect_out_has "  $o" "simulate --help documents $o"
done
run "$WP" simulate
expect_rc 2 "simulate without --server"
expect_err_has "--server" "the message names --server"
bad() { # ARGS... then the option the message must name, last
    local want=${*: -1}
    run "$WP" simulate --server http://127.0.0.1:1 "${@:1:$#-1}"
    expect_rc 2 "simulate ${*:1:$#-1}"
    expect_err_has "$want" "simulate ${*:1:$#-1} names $want"
    expect_one_line_err "simulate ${*:1:$#-1}"
}
bad --employees 19 --employees
bad --employees 501 --employees
bad --employees twenty --employees
bad --days 0 --days
bad --days 85 --days
bad --seed -1 --seed
bad --threads 0 --threads
bad --batch 1001 --batch
bad --violations 301 --violations
bad --customers 0 --customers
bad --end yesterday --end
bad --frobnicate x "unknown argument '--frobnicate'"
bad --days "option '--days' needs a value"
run "$WP" simulate --server ftp://127.0.0.1:1
expect_rc 2 "a --server that is not http"
mkdir -p "$TMP/busy" && echo x >"$TMP/busy/x"
bad --dir "$TMP/busy" --dir
WORKPHONE_ADMIN_PASSWORD='' run "$WP" simulate --server http://127.0.0.1:1
expect_rc 2 "no admin password"
expect_err_has "WORKPHONE_ADMIN_PASSWORD" "says which variable"
WORKPHONE_STAFF_PASSWORD=short run "$WP" simulate --server http://127.0.0.1:1
expect_rc 2 "a staff password against the policy"
expect_err_has "WORKPHONE_STAFF_PASSWORD" "names the staff password"
run "$WP" simulate --server http://127.0.0.1:1 --employees 20 --days 1
expect_rc 1 "an unreachable server"
expect_err_has "cannot reach 'http://127.0.0.1:1'" "says it cannot reach the server"
expect_one_line_err "an unreachable server"

# as_admin: sets $tok and A for the server at $base
as_admin() {
    json POST /api/v1/auth/login '{"username": "admin", "password": "s3cret-pass"}'
    tok=$(jq_ 'j.get("token", "")')
    A=(-H "Authorization: Bearer $tok")
}

# archive FILE: every message of the server at $base, as sorted lines of ts, direction, channel,
# text (ids differ between servers; what the phones said does not)
archive() {
    python3 - "$base" "$tok" >"$1" <<'PY'
import json, sys, urllib.request, urllib.parse
base, tok = sys.argv[1], sys.argv[2]
rows, cursor = [], None
while True:
    q = "limit=200" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
    r = urllib.request.Request(base + "/api/v1/messages?" + q, headers={"Authorization": "Bearer " + tok})
    j = json.load(urllib.request.urlopen(r))
    rows += ["%s\t%s\t%s\t%s" % (m["ts"], m["direction"], m["channel"], m.get("text") or "") for m in j["items"]]
    cursor = j.get("next_cursor")
    if not cursor:
        break
print("\n".join(sorted(rows)))
PY
}

# walk PATH FILE: every item of a list of the server at $base (path from /api/v1 on), as a JSON
# array in FILE
walk() {
    python3 - "$base" "$tok" "$1" >"$2" <<'PY'
import json, sys, urllib.request, urllib.parse
base, tok, path = sys.argv[1:4]
items, cursor = [], None
while True:
    q = "limit=200" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
    r = urllib.request.Request(base + "/api/v1" + path + "?" + q, headers={"Authorization": "Bearer " + tok})
    j = json.load(urllib.request.urlopen(r))
    items += j["items"]
    cursor = j.get("next_cursor")
    if not cursor:
        break
print(json.dumps(items))
PY
}

# field FILE: every check-in of the server at $base as sorted lines (time, kind, place, photo,
# inside or not, the visited customer's number) and its geofence alerts' times
field() {
    walk /checkins "$TMP/f-checkins.json"
    walk /customers "$TMP/f-customers.json"
    walk "/alerts?kind=geofence" "$TMP/f-alerts.json"
    python3 - "$TMP/f-checkins.json" "$TMP/f-customers.json" "$TMP/f-alerts.json" >"$1" <<'PY'
import json, sys
ch, cu, al = (json.load(open(f)) for f in sys.argv[1:4])
phone = {c["id"]: c["phone"] for c in cu}
rows = ["%s\t%s\t%.6f\t%.6f\t%s\t%s\t%s" % (c["ts"], c["kind"], c["lat"], c["lon"], c["photo"],
        c["inside_geofence"], phone.get(c["customer_id"], "")) for c in ch]
rows += ["alert\t%s" % a["ts"] for a in al]
print("\n".join(sorted(rows)))
PY
}

# simulate_into NAME [ARGS...]: a fresh store and server, then simulate seed 7 into it; leaves
# the server running, the summary in $summary
simulate_into() {
    local be=$1; shift
    setup_store "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return 1
    run "$WP" simulate --server "$base" --employees 20 --days 3 --seed 7 --end 2026-11-27T00:00:00+08:00 --quiet "$@"
    expect_rc 0 "$be: simulate 20 employees, 3 days"
    summary=$out
    as_admin
}

# --- one company, checked through the API ---------------------------------------------------------
simulate_into sqlite
body=$summary
expect_json 'j["employees"], j["devices"], j["days"], j["rejected"]' '[20, 17, 3, 0]' "the summary counts"
expect_json 'j["org_units"]' 6 "2 regions and 4 stores"
expect_json 'j["events"] == j["messages"] + j["calls"] + j["contacts"] + j["locations"] + j["checkins"]' true "events add up"
expect_json 'j["field"]["geofences"], j["checkins"] == j["field"]["in"] + j["field"]["out"] + j["field"]["visits"]' \
    '[3, true]' "a fence around each of the 3 stores with field staff (property and insurance); check-ins add up"
expect_json 'j["messages"] > 1000 and j["locations"] > 500 and j["calls"] > 10 and j["contacts"] > 20' true "plausible numbers"
expect_json 'j["events_per_s"] > 0 and j["seconds"] > 0' true "events/s"
expect_json 'j["alerts"]["sensitive_word"] >= 10 and j["alerts"]["customer_deleted"] >= 1' true "alerts in the summary"
expect_json 'j["crm"]["deals"] > 0 and j["crm"]["deal_amount_fen"] > 0 and j["crm"]["stages"] > j["crm"]["deals"]' true \
    "the summary counts the CRM's stage changes and deals"
expect_json 'j["crm"]["tagged"] > 0 and j["crm"]["notes"] > 0 and j["crm"]["skipped"] * 10 < j["crm"]["acts"]' true \
    "tags and notes, hardly any refused"
messages=$(jq_ 'j["messages"]')
customers=$(jq_ 'j["customers"]')

req GET "/api/v1/org-units?limit=200" "${A[@]}"
expect_json 'sorted(u["kind"] for u in j["items"])' '["hq", "region", "region", "store", "store", "store", "store"]' "the org tree"
expect_json 'all(any("\u4e00" <= ch <= "\u9fff" for ch in u["name"]) for u in j["items"] if u["kind"] != "hq")' true "units have Chinese names"
req GET "/api/v1/employees?limit=200" "${A[@]}"
expect_json 'len(j["items"])' 21 "20 employees and the admin"
expect_json 'sorted({e["role"] for e in j["items"]})' '["admin", "auditor", "manager", "sales"]' "every role"
expect_json 'all(2 <= len(e["name"]) <= 3 and all("\u4e00" <= ch <= "\u9fff" for ch in e["name"]) for e in j["items"] if e["role"] != "admin")' true "Chinese names"
manager=$(jq_ '[e["username"] for e in j["items"] if e["role"] == "manager"][0]')
sales=$(jq_ '[e["username"] for e in j["items"] if e["role"] == "sales"][0]')
sales_id=$(jq_ '[e["id"] for e in j["items"] if e["role"] == "sales"][0]')
req GET "/api/v1/devices?limit=200" "${A[@]}"
expect_json 'len(j["items"])' 17 "one phone per store employee"
req GET "/api/v1/customers?limit=200" "${A[@]}"
expect_json 'len(j["items"]) == min(200, '"$customers"') and '"$customers"' > 100' true "customers"
expect_json 'all(len(c["phone"]) == 11 and c["phone"][0] == "1" and c["phone"].isdigit() for c in j["items"])' true \
    "customers have mainland mobile numbers"
checks=$((checks + 1)); [ "$(sql "select count(*) from messages")" = "$messages" ] || fail "every message is stored once"
q() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
req GET "/api/v1/alerts?kind=sensitive_word&limit=200" "${A[@]}"
expect_json '{"private_deal", "false_promise", "contact_leak"} <= {a["category"] for a in j["items"]}' true \
    "alerts for private deals (飞单, 不走公司), false promises (保本保息) and leaked contacts"
# the planted words are worded many ways: search for what the alerts of two categories matched
planted=$(jq_ '" ".join(sorted({a["text"] for a in j["items"] if a["category"] in ("private_deal", "false_promise")})[:3])')
for w in 房 微信 $planted; do
    req GET "/api/v1/messages?q=$(q "$w")&limit=5" "${A[@]}"
    expect_json 'len(j["items"]) > 0 and all("'"$w"'" in m["text"] for m in j["items"])' true "search finds '$w'"
done
req GET "/api/v1/analytics/funnel" "${A[@]}"
expect_json '[s["amount_fen"] > 0 for s in j["stages"] if s["stage"] == "deal"]' '[true]' \
    "deals with amounts in the funnel, recorded through the console API"
req GET "/api/v1/alerts?kind=customer_deleted&limit=200" "${A[@]}"
expect_json 'len(j["items"]) >= 1' true "a customer deleted by an employee raises an alert"
archive "$TMP/archive-1"
field "$TMP/field-1"

# field staff (issue 18): the fences simulate made through the API, the check-ins, attendance
# and the geofence alerts of those who left their area during working hours
summary_checkins=$(printf '%s' "$summary" | python3 -c 'import json, sys; print(json.load(sys.stdin)["checkins"])')
req GET "/api/v1/geofences" "${A[@]}"
expect_status 200 "the geofences"
expect_json 'sorted((f["shape"]["type"], f["schedule"], f["name"].endswith("外勤范围"), 1000 <= f["shape"]["radius_m"] <= 6000) for f in j["items"])' \
    '[["circle", null, true, true], ["circle", null, true, true], ["circle", null, true, true]]' \
    "three circles named after their stores, in force during working hours (no schedule of their own)"
walk /checkins "$TMP/checkins.json"
walk /customers "$TMP/customers.json"
body=$(python3 - "$TMP/checkins.json" "$TMP/customers.json" <<'PY'
import json, sys
ch, cu = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ids = {c["id"] for c in cu}
visits = [c for c in ch if c["kind"] == "visit"]
print(json.dumps({
    "n": len(ch),
    "kinds": sorted({c["kind"] for c in ch}),
    "visits_name_customers": all(c["customer_id"] in ids for c in visits),
    "photos": all(c["photo"] and c["photo"].startswith("sha256:") for c in ch),
    "clock_no_customer": all(c["customer_id"] is None for c in ch if c["kind"] != "visit"),
    "decided": all(c["inside_geofence"] is not None for c in ch),
    "inside": sum(1 for c in ch if c["inside_geofence"]) / max(1, len(ch)),
    "employees": len({c["employee_id"] for c in ch}),
}))
PY
)
expect_json 'j["n"]' "$summary_checkins" "every check-in the phones sent is listed"
expect_json 'j["kinds"], j["visits_name_customers"], j["photos"], j["clock_no_customer"], j["decided"]' \
    '[["in", "out", "visit"], true, true, true, true]' \
    "clock-ins, clock-outs and visits naming customers that exist, each with its photo and where it lies"
expect_json 'j["inside"] > 0.95 and j["employees"] >= 8' true "the check-ins of the field staff lie inside their store's fence"
field_people=$(jq_ 'j["employees"]')
req GET "/api/v1/alerts?kind=geofence&limit=200" "${A[@]}"
expect_json '0 < len(j["items"]) < '"$field_people"' * 3 / 5 and all(a["kind"] == "geofence" and a["employee_id"] for a in j["items"])' true \
    "some field staff left their area during working hours: fewer geofence alerts than field people x days / 5"
# the 3 days end at the start of the 27th: the 25th and the 26th had working hours
req GET "/api/v1/attendance?from=2026-11-25&to=2026-11-26" "${A[@]}"
expect_status 200 "attendance"
expect_json 'len([d for d in j["items"] if d["first_in"] and d["last_out"] and d["worked_minutes"] > 0]) >= '"$field_people" true \
    "attendance has rows with worked hours for the field staff's days"
expect_json 'sum(1 for d in j["items"] if d["visits"] > 0) >= '"$field_people" true "and their visits"

# the staff log in by role with the password they were given
json POST /api/v1/auth/login "{\"username\": \"$manager\", \"password\": \"$WORKPHONE_STAFF_PASSWORD\"}"
expect_status 200 "a simulated manager logs in"
json POST /api/v1/auth/login "{\"username\": \"$sales\", \"password\": \"$WORKPHONE_STAFF_PASSWORD\"}"
expect_status 200 "a simulated salesperson logs in"
S=(-H "Authorization: Bearer $(jq_ 'j["token"]')")
req GET "/api/v1/customers?limit=200" "${S[@]}"
expect_json 'len(j["items"]) > 0 and all(c["owner_employee_id"] == "'"$sales_id"'" for c in j["items"])' true \
    "a salesperson sees its own customers"
expect_json 'all("*" in c["phone"] for c in j["items"])' true "and their numbers masked"

# a second company on the same server: the usernames taken get a digit, nothing is rejected
run "$WP" simulate --server "$base" --employees 20 --days 1 --seed 7 --quiet
expect_rc 0 "a second company on the same server"
req GET "/api/v1/employees?limit=200" "${A[@]}"
expect_json 'len(j["items"]), len({e["username"] for e in j["items"]})' '[41, 41]' "taken usernames get a digit"
expect_json '"'"$manager"'2" in {e["username"] for e in j["items"]} or "'"$manager"'3" in {e["username"] for e in j["items"]}' true \
    "the second company's manager is ${manager}2"
stop_server

# --- the same seed on another fresh server: the same archive ------------------------------------
simulate_into sqlite2 --threads 1 --batch 37 --dir "$TMP/agents"
if [ -n "$base" ]; then
    archive "$TMP/archive-2"
    checks=$((checks + 1))
    cmp -s "$TMP/archive-1" "$TMP/archive-2" ||
        fail "the same seed gave another archive: $(diff "$TMP/archive-1" "$TMP/archive-2" | head -n 5)"
    checks=$((checks + 1)); [ "$(wc -l <"$TMP/archive-1")" = "$messages" ] || fail "the archive has every message"
    field "$TMP/field-2"
    checks=$((checks + 1))
    cmp -s "$TMP/field-1" "$TMP/field-2" ||
        fail "the same seed gave other check-ins or geofence alerts: $(diff "$TMP/field-1" "$TMP/field-2" | head -n 5)"
    stop_server
    serial=$(ls "$TMP/agents" | head -n 1)
    run "$WP" agent status --dir "$TMP/agents/$serial"
    expect_rc 0 "--dir keeps the agents"
    expect_out_has '"outbox_events":0' "a kept agent has sent everything"
fi
if pg_half; then
    simulate_into postgresql
    if [ -n "$base" ]; then
        archive "$TMP/archive-pg"
        checks=$((checks + 1))
        cmp -s "$TMP/archive-1" "$TMP/archive-pg" ||
            fail "PostgreSQL holds another archive: $(diff "$TMP/archive-1" "$TMP/archive-pg" | head -n 5)"
        field "$TMP/field-pg"
        checks=$((checks + 1))
        cmp -s "$TMP/field-1" "$TMP/field-pg" ||
            fail "PostgreSQL holds other check-ins or geofence alerts: $(diff "$TMP/field-1" "$TMP/field-pg" | head -n 5)"
        stop_server
    fi
    drop_pg_dbs
fi

# another seed, another company
setup_store other
start_server "$dir"
run "$WP" simulate --server "$base" --employees 20 --days 3 --seed 8 --end 2026-11-27T00:00:00+08:00 --quiet
expect_rc 0 "seed 8"
as_admin
archive "$TMP/archive-8"
checks=$((checks + 1)); ! cmp -s "$TMP/archive-1" "$TMP/archive-8" || fail "another seed gave the same archive"
stop_server

finish
