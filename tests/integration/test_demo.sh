#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `workphone demo` (CONTRACT §1): a new dir is filled with a simulated company and served, the
# printed admin password logs in and the console API shows messages, alerts and customers, and a
# CRM with a story (a funnel with deals, conversion by store, tags, grades, the pool, overdue
# reminders, a handover, violations worded many ways), field staff with geofences, check-ins,
# attendance and a few geofence alerts; a second run on the same dir only serves it; one seed at
# one time gives the same CRM and the same check-ins.
. "$(dirname "$0")/lib_api.sh"

# start_demo DIR [ARGS...]: runs demo on a free port; sets $pid, $base (from the URL line it
# prints) and $demo_out (its standard output so far)
start_demo() {
    local d=$1; shift
    : >"$TMP/demo.out"
    : >"$TMP/demo.err"
    "$WP" demo --data "$d" --listen 127.0.0.1:0 "$@" >"$TMP/demo.out" 2>"$TMP/demo.err" &
    pid=$!
    base=""
    for _ in $(seq 1200); do # the fill takes seconds, more under sanitizers
        base=$(grep -o 'running: http://127.0.0.1:[0-9]*' "$TMP/demo.out" | head -n 1 | cut -d' ' -f2)
        [ -n "$base" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    demo_out=$(cat "$TMP/demo.out")
    [ -n "$base" ] || { rc=x; out=$demo_out; err=$(cat "$TMP/demo.err"); fail "demo did not start"; }
}

stop_demo() {
    kill -TERM "$pid"
    wait "$pid"; rc=$?
    out=$(cat "$TMP/demo.out"); err=$(tail -n 5 "$TMP/demo.err")
    expect_rc 0 "demo exits 0 on SIGTERM"
    expect_err_has "event=stopped" "demo logs its stop"
}

# walk PATH FILE: every item of a list of the demo at $base (path from /api/v1 on, with its query)
# as a JSON array in FILE
walk() {
    python3 - "$base" "$tok" "$1" >"$2" <<'PY'
import json, sys, urllib.request, urllib.parse
base, tok, path = sys.argv[1:4]
items, cursor = [], None
while True:
    q = ("&" if "?" in path else "?") + "limit=200" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
    r = urllib.request.Request(base + "/api/v1" + path + q, headers={"Authorization": "Bearer " + tok})
    j = json.load(urllib.request.urlopen(r))
    items += j["items"]
    cursor = j.get("next_cursor")
    if not cursor:
        break
print(json.dumps(items))
PY
}

login() { # PASSWORD: sets $tok and A
    json POST /api/v1/auth/login "{\"username\": \"admin\", \"password\": \"$1\"}"
    tok=$(jq_ 'j.get("token", "")')
    A=(-H "Authorization: Bearer $tok")
}

# --- usage errors change nothing --------------------------------------------------------------
run "$WP" demo --help
expect_rc 0 "demo --help"
expect_out_has "usage: workphone demo" "demo --help prints its usage"
run "$WP" demo --data "$TMP/never" --listen nonsense
expect_rc 2 "demo with a bad --listen"
checks=$((checks + 1)); [ ! -e "$TMP/never" ] || fail "a bad --listen created the data dir"
mkdir "$TMP/busy"; echo hello >"$TMP/busy/notes.txt"
run "$WP" demo --data "$TMP/busy" --listen 127.0.0.1:0
expect_rc 2 "demo on a dir that is neither empty nor a data dir"
expect_one_line_err "demo on a busy dir"
checks=$((checks + 1)); [ "$(ls "$TMP/busy")" = notes.txt ] || fail "demo changed a busy dir"
run "$WP" demo --data "$TMP/x" --seed -1
expect_rc 2 "demo with a negative seed"

# --- first run: init, fill, serve ---------------------------------------------------------------
dir="$TMP/demo"; pg_url=""
start_demo "$dir"
if [ -n "$base" ]; then
    rc=0; out=$demo_out; err=""
    expect_out_has "making a demo company in $dir" "demo says what it makes"
    expect_out_has "week 3 of 3" "demo prints its progress"
    expect_out_has "3 geofences around their stores" "demo says it made the field staff's fences"
    password=$(printf '%s\n' "$demo_out" | grep -o 'admin / [^ ]*' | head -n 1 | cut -d' ' -f3)
    checks=$((checks + 1)); [ ${#password} -ge 12 ] || fail "demo prints the admin password"

    login wrong-password
    expect_status 401 "a wrong password does not log in"
    login "$password"
    expect_status 200 "the printed password logs in as admin"
    req GET "/api/v1/messages?limit=200" "${A[@]}"
    expect_status 200 "messages"
    expect_json 'len(j["items"]) == 200 and j["next_cursor"] is not None' true "messages has items"
    expect_json 'sorted({m["direction"] for m in j["items"]})' '["in", "out"]' "customers and employees both talk"
    expect_json 'all(m["channel"] in ("wechat", "sms") for m in j["items"])' true "messages come from WeChat and SMS"
    req GET "/api/v1/alerts?kind=sensitive_word&limit=200" "${A[@]}"
    expect_status 200 "alerts"
    expect_json 'len(j["items"]) > 20 and all(a["kind"] == "sensitive_word" for a in j["items"])' true \
        "sensitive_word alerts"
    expect_json 'len({a["category"] for a in j["items"]}) >= 3' true "alerts of several categories"
    req GET "/api/v1/alerts?limit=200" "${A[@]}"
    expect_json 'len(j["items"])' 200 "alerts, more than a page"
    req GET "/api/v1/customers?limit=200" "${A[@]}"
    expect_status 200 "customers"
    expect_json 'len(j["items"]) > 100' true "customers has items"
    expect_json 'all(len(c["phone"]) == 11 and c["phone"][0] == "1" for c in j["items"])' true \
        "customers have mainland mobile numbers"
    req GET "/api/v1/devices?limit=200" "${A[@]}"
    expect_json 'len(j["items"])' 24 "24 phones are enrolled"
    q=$(python3 -c 'import urllib.parse; print(urllib.parse.quote("私人微信"))')
    req GET "/api/v1/messages?q=$q" "${A[@]}"
    expect_json 'len(j["items"]) > 0' true "search finds the planted violations"

    # the CRM tells the story: customers moved through the funnel to deals worth something (or
    # lost), tagged and graded, some neglected into the pool and overdue reminders, a leaver's
    # customers handed over
    req GET /api/v1/analytics/funnel "${A[@]}"
    expect_status 200 "the funnel"
    expect_json '{s["stage"]: s["count"] > 0 for s in j["stages"]}' \
        '{"lead": true, "contacted": true, "intent": true, "deal": true, "lost": true}' \
        "customers at every stage of the funnel"
    expect_json '[s["count"] > 40 and s["amount_fen"] > 100000 * s["count"] for s in j["stages"] if s["stage"] == "deal"]' \
        '[true]' "dozens of deals, each worth more than ¥1,000"
    expect_json '[s["reached"] for s in j["stages"][:4]] == sorted([s["reached"] for s in j["stages"][:4]], reverse=True)' \
        true "the funnel narrows"
    req GET "/api/v1/analytics/conversion?by=unit" "${A[@]}"
    expect_status 200 "conversion by store"
    expect_json 'j["total"]["deals"] > 40 and j["total"]["lost"] > 5 and 0.1 < j["total"]["rate"] < 0.9' true \
        "conversion has deals and losses"
    expect_json 'len(j["items"]) == 4 and all(u["deals"] > 0 and u["deals_closed_amount_fen"] > 0 for u in j["items"])' \
        true "every store closed deals with amounts"
    expect_json 'len({u["deals_closed_amount_fen"] for u in j["items"]})' 4 "the stores' sales differ"
    req GET "/api/v1/customers?limit=200" "${A[@]}"
    expect_json 'sum(1 for c in j["items"] if c["tags"]) > 100' true "most customers have tags"
    expect_json 'len({t["name"] for c in j["items"] for t in c["tags"]}) >= 10' true "tags of many kinds"
    expect_json 'sorted({c["grade"] for c in j["items"] if c["grade"]})' '["A", "B", "C", "D"]' \
        "customers graded A to D"
    req GET "/api/v1/tag-groups" "${A[@]}"
    expect_json 'len(j["items"]) >= 4' true "the tags come in groups"
    req GET "/api/v1/pool?limit=200" "${A[@]}"
    expect_status 200 "the public pool"
    expect_json 'len(j["items"]) > 5 and all(c["in_pool"] and c["owner_employee_id"] is None for c in j["items"])' \
        true "customers in the public pool"
    expect_json 'sorted({c["pool_reason"] for c in j["items"]})' '["inactive", "manual"]' \
        "released by hand and reclaimed for inactivity"
    req GET "/api/v1/reminders?limit=200" "${A[@]}"
    expect_status 200 "reminders"
    expect_json 'sum(1 for r in j["items"] if r["state"] == "overdue") > 5' true "overdue reminders"
    expect_json 'all(r["alert_id"] for r in j["items"] if r["state"] == "overdue")' true \
        "an overdue reminder raised an alert"
    req GET "/api/v1/handovers" "${A[@]}"
    expect_json '[(h["reason"], len(h["to_employees"]) > 0, h["customers_moved"] > 0) for h in j["items"]]' \
        '[["departure", true, true]]' "a leaver's customers were handed over"
    req GET "/api/v1/messages?q=$(python3 -c 'import urllib.parse; print(urllib.parse.quote("飞单"))')&limit=200" "${A[@]}"
    expect_json 'len(j["items"]) >= 5 and len({m["text"] for m in j["items"]}) * 2 >= len(j["items"])' true \
        "飞单 is said in many ways"
    # the violations are not one sentence copied: most of the flagged messages are worded apart
    read -r flagged worded <<<"$(sql "select count(*) || ' ' || count(distinct m.text) from alerts a join messages m on m.id = a.message_id where a.kind = 'sensitive_word'")"
    checks=$((checks + 1))
    [ "$flagged" -gt 100 ] && [ $((worded * 10)) -gt $((flagged * 6)) ] ||
        fail "flagged messages are worded many ways ($worded texts of $flagged)"
    req GET "/api/v1/messages?limit=200" "${A[@]}"
    expect_json 'len({m["msgtype"] for m in j["items"]} & {"image", "voice", "file", "link", "card", "location"}) >= 3' \
        true "photos, voice notes, files and links among the messages"

    # field staff (issue 18): a fence around each store with field staff, their clock-ins, visits
    # and clock-outs, attendance, and the geofence alerts of those who left their area at work
    req GET /api/v1/geofences "${A[@]}"
    expect_status 200 "the geofences"
    expect_json 'sorted((f["shape"]["type"], f["schedule"], 1000 <= f["shape"]["radius_m"] <= 6000) for f in j["items"])' \
        '[["circle", null, true], ["circle", null, true], ["circle", null, true]]' \
        "three circles around the property and insurance stores, in force in working hours"
    walk /checkins "$TMP/checkins.json"
    walk /customers "$TMP/customers.json"
    walk /pool "$TMP/pool.json"
    body=$(python3 - "$TMP/checkins.json" "$TMP/customers.json" "$TMP/pool.json" <<'PY'
import json, sys
ch, cu, pool = (json.load(open(f)) for f in sys.argv[1:4])
ids = {c["id"] for c in cu} | {c["id"] for c in pool}
visits = [c for c in ch if c["kind"] == "visit"]
print(json.dumps({
    "kinds": {k: sum(1 for c in ch if c["kind"] == k) for k in ("in", "out", "visit")},
    "visits_name_customers": all(c["customer_id"] in ids for c in visits),
    "customers_visited": len({c["customer_id"] for c in visits}),
    "photos": all(c["photo"] and c["photo"].startswith("sha256:") for c in ch),
    "inside": sum(1 for c in ch if c["inside_geofence"]) / max(1, len(ch)),
    "employees": len({c["employee_id"] for c in ch}),
}))
PY
)
    expect_json 'j["kinds"]["in"] > 200 and j["kinds"]["out"] > 200 and j["kinds"]["visit"] > 300' true \
        "hundreds of clock-ins, clock-outs and visits"
    expect_json 'j["visits_name_customers"], j["photos"], j["customers_visited"] > 50' '[true, true, true]' \
        "visits name dozens of customers that exist, every check-in with its photo"
    expect_json 'j["inside"] > 0.95' true "check-ins lie inside their store's fence"
    field_people=$(jq_ 'j["employees"]')
    checks=$((checks + 1)); [ "$field_people" -ge 10 ] || fail "a dozen field staff check in ($field_people)"
    walk "/alerts?kind=geofence" "$TMP/fence-alerts.json"
    checks=$((checks + 1))
    fence_alerts=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/fence-alerts.json")
    [ "$fence_alerts" -gt 0 ] && [ $((fence_alerts * 5)) -lt $((field_people * 21)) ] ||
        fail "some geofence alerts, fewer than field people x days / 5 ($fence_alerts for $field_people people)"
    read -r from to <<<"$(python3 -c 'import datetime as d; t = d.datetime.now(d.timezone(d.timedelta(hours=8))).date(); print(t - d.timedelta(days=20), t)')"
    req GET "/api/v1/attendance?from=$from&to=$to" "${A[@]}"
    expect_status 200 "attendance over the three weeks"
    expect_json 'sum(1 for d in j["items"] if d["first_in"] and d["last_out"] and d["worked_minutes"] > 0) > 10 * '"$field_people" true \
        "attendance has the field staff's days with hours worked"
    expect_json 'any(d["late"] for d in j["items"]) and any(d["early_leave"] and d["first_in"] for d in j["items"])' true \
        "some came late and some left early"

    messages=$(sql "select count(*) from messages")
    checks=$((checks + 1)); [ "$messages" -gt 5000 ] || fail "demo archives thousands of messages ($messages)"
    stop_demo
fi
checks=$((checks + 1)); [ -f "$dir/demo.conf" ] && [ -f "$dir/workphone.conf" ] || fail "demo marks its dir"
checks=$((checks + 1)); [ -z "$(ls -d "$TMP"/demo.tmp-* 2>/dev/null)" ] || fail "demo leaves no temp dir behind"

# --- second run: serves the same data, adds nothing -------------------------------------------
if [ -n "${messages:-}" ]; then
    start_demo "$dir/"
    if [ -n "$base" ]; then
        rc=0; out=$demo_out; err=""
        expect_out_has "serving it (nothing is added)" "a second run says it only serves"
        checks=$((checks + 1))
        case "$demo_out" in *"$password"*) fail "a second run prints the password again";; esac
        login "$password"
        expect_status 200 "the first run's password still logs in"
        req GET "/api/v1/messages?limit=1" "${A[@]}"
        expect_status 200 "a second run serves"
        checks=$((checks + 1))
        [ "$(sql "select count(*) from messages")" = "$messages" ] || fail "a second run added messages"
        stop_demo
    fi
fi

# --- one seed, one company: two fills at the same (fake) time keep the same CRM ----------------
# every customer's stage, grade, deal amount, pool state, owner, tags and overdue reminders
crm_digest() {
    sqlite3 -batch -noheader "$1/workphone.db" "
        select c.phone, coalesce(c.stage, ''), coalesce(c.grade, ''), coalesce(c.deal_amount_fen, 0),
            c.in_pool, coalesce(c.pool_reason, ''), coalesce(e.username, ''),
            (select group_concat(name) from (select t.name from customer_tags ct
                join tags t on t.id = ct.tag_id where ct.customer_id = c.id order by t.name)),
            (select count(*) from reminders r where r.customer_id = c.id and r.alert_id is not null)
        from customers c left join employees e on e.id = c.owner_employee_id order by c.phone"
}
# every check-in (time, kind, place, photo, inside or not, the visited customer's number) and
# the geofence alerts' times and employees
field_digest() {
    sqlite3 -batch -noheader "$1/workphone.db" "
        select k.ts_us, k.kind, k.lat_e7, k.lon_e7, k.photo, coalesce(k.inside_geofence, ''),
            coalesce(c.phone, ''), e.username
        from checkins k join employees e on e.id = k.employee_id
        left join customers c on c.id = k.customer_id
        union all
        select a.ts_us, a.kind, 0, 0, '', '', '', e.username
        from alerts a join employees e on e.id = a.employee_id where a.kind = 'geofence'
        order by 1, 8, 2"
}
digests=()
field_digests=()
for n in 1 2; do
    WORKPHONE_FAKE_NOW=2026-11-27T08:00:00Z start_demo "$TMP/same-$n" --seed 5
    [ -n "$base" ] && stop_demo
    digests+=("$(crm_digest "$TMP/same-$n" | sha256sum)")
    field_digests+=("$(field_digest "$TMP/same-$n" | sha256sum)")
done
checks=$((checks + 1))
[ "$(crm_digest "$TMP/same-1" | wc -l)" -gt 200 ] && [ "${digests[0]}" = "${digests[1]}" ] ||
    fail "the same seed at the same time gives the same CRM"
checks=$((checks + 1))
[ "$(field_digest "$TMP/same-1" | grep -c '|geofence|')" -gt 0 ] && [ "$(field_digest "$TMP/same-1" | wc -l)" -gt 500 ] &&
    [ "${field_digests[0]}" = "${field_digests[1]}" ] ||
    fail "the same seed at the same time gives the same check-ins and geofence alerts"

finish
