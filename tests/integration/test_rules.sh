#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Customer rules (issue 7) over real sockets, on SQLite and PostgreSQL: tag groups and tags,
# tagging customers (timeline, audit, scope), follow-up SOP rules with a clock the test sets
# (reminders, follow-ups closing them, overdue alerts reaching the manager, idempotent runs).
. "$(dirname "$0")/lib_api.sh"

NOW=2026-11-28T10:00:00+08:00
export WORKPHONE_FAKE_NOW=$NOW

jobs() { # FAKE NOW: run the jobs once
    WORKPHONE_FAKE_NOW=$1 run "$WP" jobs run --data "$dir" "${db_args[@]}"
    expect_rc 0 "$be: jobs run at $1"
}

restart_at() { # FAKE NOW: the server at another time, everyone logged in again
    stop_server
    WORKPHONE_FAKE_NOW=$1 start_server "$dir" "${db_args[@]}"
    login admin; A=(-H "Authorization: Bearer $tok")
    login s1; T1=(-H "Authorization: Bearer $tok")
    login s4; T4=(-H "Authorization: Bearer $tok")
    login mgra; MA=(-H "Authorization: Bearer $tok")
    login mgrb; MB=(-H "Authorization: Bearer $tok")
}

suite() { # backend
    be=$1
    setup_store "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    req GET /api/v1/org-units "${A[@]}"
    local hq; hq=$(jq_ 'j["items"][0]["id"]')
    unit "Region A" "$hq" region; local ra=$id
    unit "Region B" "$hq" region; local rb=$id
    employee mgra "$ra" manager
    employee mgrb "$rb" manager
    employee s1 "$ra" sales; local s1=$id
    employee s2 "$ra" sales
    employee s4 "$rb" sales; local s4=$id
    employee aud "$hq" auditor

    # s1's phone reports three customers, s4's one
    device "$s1" SN-1; local D1=(-H "Authorization: Bearer $dtok")
    json POST /api/v1/device/events '{"events": [
     {"seq": 1, "type": "message", "ts": "2026-11-28T09:00:00+08:00", "channel": "wechat",
      "direction": "out", "peer": {"id": "wxid_a", "name": "客户甲"}, "chat": "wxid_a",
      "msgtype": "text", "text": "甲，您好"},
     {"seq": 2, "type": "message", "ts": "2026-11-28T09:01:00+08:00", "channel": "wechat",
      "direction": "out", "peer": {"id": "wxid_b", "name": "客户乙"}, "chat": "wxid_b",
      "msgtype": "text", "text": "乙，您好"},
     {"seq": 3, "type": "message", "ts": "2026-11-28T09:02:00+08:00", "channel": "wechat",
      "direction": "out", "peer": {"id": "wxid_c", "name": "客户丙"}, "chat": "wxid_c",
      "msgtype": "text", "text": "丙，您好"}]}' "${D1[@]}"
    expect_json 'j["acked_seq"]' 3 "$be: s1's device reports"
    device "$s4" SN-4; local D4=(-H "Authorization: Bearer $dtok")
    json POST /api/v1/device/events '{"events": [
     {"seq": 1, "type": "message", "ts": "2026-11-28T09:00:00+08:00", "channel": "wechat",
      "direction": "out", "peer": {"id": "wxid_d", "name": "客户丁"}, "chat": "wxid_d",
      "msgtype": "text", "text": "丁，您好"}]}' "${D4[@]}"
    expect_json 'j["acked_seq"]' 1 "$be: s4's device reports"
    local ca cb cc cd
    req GET "/api/v1/customers?owner=$s1" "${A[@]}"
    ca=$(jq_ '[c["id"] for c in j["items"] if c["name"] == "客户甲"][0]')
    cb=$(jq_ '[c["id"] for c in j["items"] if c["name"] == "客户乙"][0]')
    cc=$(jq_ '[c["id"] for c in j["items"] if c["name"] == "客户丙"][0]')
    expect_json 'j["items"][0]["tags"]' '[]' "$be: no tags yet"
    req GET "/api/v1/customers?owner=$s4" "${A[@]}"
    cd=$(jq_ 'j["items"][0]["id"]')

    login s1; T1=(-H "Authorization: Bearer $tok")
    login s2; local T2=(-H "Authorization: Bearer $tok")
    login s4; T4=(-H "Authorization: Bearer $tok")
    login mgra; MA=(-H "Authorization: Bearer $tok")
    login mgrb; MB=(-H "Authorization: Bearer $tok")
    login aud; local AU=(-H "Authorization: Bearer $tok")

    # --- tag groups and tags: admins and managers keep them, everyone reads them -------------
    json POST /api/v1/tag-groups '{"name": "意向", "color": "#FF0000"}' "${MA[@]}"
    expect_status 201 "$be: a manager creates a tag group"
    expect_json 'j["color"]' '#ff0000' "$be: colors are kept lowercase"
    local g1; g1=$(jq_ 'j["id"]')
    json POST /api/v1/tag-groups '{"name": "x"}' "${T1[@]}"
    expect_error 403 forbidden "$be: sales may not create tag groups"
    json POST /api/v1/tags '{"name": "x"}' "${AU[@]}"
    expect_error 403 forbidden "$be: nor may auditors create tags"
    json POST /api/v1/tag-groups '{"name": "意向"}' "${A[@]}"
    expect_error 409 already_exists "$be: a group name is unique"
    json POST /api/v1/tags '{"name": "红", "color": "red"}' "${A[@]}"
    expect_error 400 invalid_request "$be: a color is #rrggbb"
    json POST /api/v1/tags "{\"name\": \"高意向\", \"group_id\": \"$g1\", \"color\": \"#00aa00\"}" "${A[@]}"
    expect_status 201 "$be: a tag in a group"
    local t1; t1=$(jq_ 'j["id"]')
    json POST /api/v1/tags '{"name": "老客户"}' "${A[@]}"
    expect_status 201 "$be: a tag in no group"
    expect_json '[j["group_id"], j["color"]]' '[null, "#8c8c8c"]' "$be: ... with the default color"
    local t2; t2=$(jq_ 'j["id"]')
    json POST /api/v1/tags '{"name": "x", "group_id": "000000000000000000000000"}' "${A[@]}"
    expect_error 400 invalid_request "$be: a tag's group must exist"
    req GET /api/v1/tags "${T1[@]}"
    expect_json '[t["name"] for t in j["items"]]' '["老客户", "高意向"]' "$be: everyone lists tags"
    req GET "/api/v1/tags?group_id=$g1" "${T1[@]}"
    expect_json '[t["id"] for t in j["items"]]' "[\"$t1\"]" "$be: tags of one group"
    json PATCH "/api/v1/tags/$t2" '{"name": "老客户 VIP"}' "${MA[@]}"
    expect_json 'j["name"]' '老客户 VIP' "$be: a manager renames a tag"

    # --- tagging customers: the write right, scoped; a timeline event and an audit row each --
    json PUT "/api/v1/customers/$ca/tags" "{\"tags\": [\"$t1\", \"$t2\"]}" "${T1[@]}"
    expect_status 200 "$be: the owner tags its customer"
    expect_json '([t["id"] for t in j["tags"]], j["changed"])' "[[\"$t2\", \"$t1\"], 2]" \
        "$be: tags by name, two changed"
    req GET "/api/v1/customers/$ca" "${T1[@]}"
    expect_json '[t["name"] for t in j["tags"]]' '["老客户 VIP", "高意向"]' "$be: the customer shows its tags"
    req GET "/api/v1/customers?owner=$s1" "${MA[@]}"
    expect_json "[len(c['tags']) for c in j['items'] if c['id'] == '$ca']" '[2]' "$be: ... in the list too"
    json PUT "/api/v1/customers/$ca/tags" "{\"remove\": [\"$t2\"]}" "${MA[@]}"
    expect_json '([t["id"] for t in j["tags"]], j["changed"])' "[[\"$t1\"], 1]" "$be: the manager removes one"
    json PUT "/api/v1/customers/$ca/tags" "{\"remove\": [\"$t2\"]}" "${MA[@]}"
    expect_json 'j["changed"]' 0 "$be: removing it again changes nothing"
    json PUT "/api/v1/customers/$ca/tags" "{\"add\": [\"$t2\"]}" "${MB[@]}"
    expect_error 404 not_found "$be: a manager of another region gets 404"
    json PUT "/api/v1/customers/$ca/tags" "{\"add\": [\"$t2\"]}" "${T2[@]}"
    expect_error 404 not_found "$be: another salesperson gets 404"
    json PUT "/api/v1/customers/$ca/tags" "{\"add\": [\"$t2\"]}" "${AU[@]}"
    expect_error 403 forbidden "$be: an auditor may not tag"
    json PUT "/api/v1/customers/$ca/tags" '{"add": ["000000000000000000000000"]}' "${T1[@]}"
    expect_error 400 invalid_request "$be: an unknown tag is refused"
    json PUT "/api/v1/customers/$ca/tags" '{}' "${T1[@]}"
    expect_error 400 invalid_request "$be: an empty change is refused"
    req GET "/api/v1/customers/$ca/timeline" "${T1[@]}"
    expect_json "sorted((len(i['details']['added']), len(i['details']['removed'])) for i in j['items'] if i.get('kind') == 'tags_changed')" \
        '[[0, 1], [2, 0]]' "$be: each change is a timeline event (the clock stands still: any order)"
    expect_eq "$(audit_count customer.tags)" 3 "$be: each tagging is audited"
    req DELETE "/api/v1/tag-groups/$g1" "${A[@]}"
    expect_error 409 conflict "$be: a group with tags is not deleted"
    req DELETE "/api/v1/tags/$t1" "${A[@]}"
    expect_status 204 "$be: a tag is deleted"
    req GET "/api/v1/customers/$ca" "${T1[@]}"
    expect_json 'j["tags"]' '[]' "$be: ... and leaves its customers"
    req GET "/api/v1/customers/$ca/timeline" "${T1[@]}"
    expect_json "len([i for i in j['items'] if i.get('kind') == 'tags_changed'])" 3 "$be: ... in their timeline"
    req DELETE "/api/v1/tag-groups/$g1" "${A[@]}"
    expect_status 204 "$be: an empty group is deleted"
    expect_eq "$(audit_count tag.delete)" 1 "$be: deleting a tag is audited"

    # --- follow-up SOP: reminders for owners, overdue alerts for managers ----------------------
    json POST /api/v1/sop-rules '{"name": "x", "interval_hours": 24}' "${MA[@]}"
    expect_error 403 forbidden "$be: only admins set SOP rules"
    json POST /api/v1/sop-rules '{"name": "x", "interval_hours": 0}' "${A[@]}"
    expect_error 400 invalid_request "$be: an interval is at least an hour"
    json POST /api/v1/sop-rules '{"name": "x", "interval_hours": 3, "grade": "E"}' "${A[@]}"
    expect_error 400 invalid_request "$be: a grade is A..D"
    json POST /api/v1/sop-rules '{"name": "新线索 24 小时内跟进", "stage": "lead", "interval_hours": 24, "grace_hours": 24}' "${A[@]}"
    expect_status 201 "$be: a new-lead rule"
    local r1; r1=$(jq_ 'j["id"]')
    json POST /api/v1/sop-rules '{"name": "A 类每 3 天", "grade": "A", "interval_hours": 72, "grace_hours": 24}' "${A[@]}"
    expect_status 201 "$be: a grade A rule"
    req GET /api/v1/sop-rules "${T1[@]}"
    expect_json 'len(j["items"])' 2 "$be: everyone reads the rules"

    jobs 2026-11-29T09:00:00+08:00
    expect_err_has "rules: reminders=0 " "$be: nothing is due before 24 h"
    jobs 2026-11-29T11:00:00+08:00
    expect_err_has "rules: reminders=4 " "$be: four new leads are due after 24 h"
    jobs 2026-11-29T11:00:00+08:00
    expect_err_has "rules: reminders=0 closed=0 overdue=0 " "$be: a rerun makes nothing twice"

    restart_at 2026-11-29T12:00:00+08:00
    req GET /api/v1/reminders "${T1[@]}"
    expect_json "sorted(r['customer_id'] for r in j['items'])" "$(python3 -c "import json,sys; print(json.dumps(sorted(sys.argv[1:])))" "$ca" "$cb" "$cc")" \
        "$be: the owner's own reminders"
    expect_json '{r["state"] for r in j["items"]} == {"open"} and {r["rule_id"] for r in j["items"]} == {"'"$r1"'"}' \
        true "$be: open, from the new-lead rule"
    local rb_; rb_=$(jq_ "[r['id'] for r in j['items'] if r['customer_id'] == '$cb'][0]")
    req GET /api/v1/reminders "${MA[@]}"
    expect_json 'len(j["items"])' 3 "$be: manager A sees its region's"
    req GET /api/v1/reminders "${MB[@]}"
    expect_json '[r["customer_id"] for r in j["items"]]' "[\"$cd\"]" "$be: manager B sees its region's"
    req GET /api/v1/reminders "${A[@]}"
    expect_json 'len(j["items"])' 4 "$be: the admin sees all"
    req GET "/api/v1/reminders?employee=$s1" "${T4[@]}"
    expect_json 'len(j["items"])' 0 "$be: a salesperson sees no one else's"
    req GET "/api/v1/reminders?state=later" "${T1[@]}"
    expect_error 400 invalid_request "$be: an unknown state is refused"

    json POST "/api/v1/customers/$ca/follow-ups" '{"text": "微信沟通了需求"}' "${T1[@]}"
    expect_status 201 "$be: a follow-up note"
    req GET /api/v1/reminders "${T1[@]}"
    expect_json 'len(j["items"])' 2 "$be: ... clears the customer's reminder at once"
    req GET "/api/v1/reminders?state=done" "${T1[@]}"
    expect_json '[r["customer_id"] for r in j["items"]]' "[\"$ca\"]" "$be: ... which shows as done"
    json POST "/api/v1/reminders/$rb_/done" '{"text": "电话回访"}' "${MB[@]}"
    expect_error 404 not_found "$be: manager B cannot close region A's reminder"
    json POST "/api/v1/reminders/$rb_/done" '{"text": "电话回访"}' "${T1[@]}"
    expect_status 200 "$be: the owner marks one done with a note"
    expect_json '[j["state"], "follow_up_event_id" in j]' '["done", true]' "$be: ... done, and the note is a follow-up"
    req GET "/api/v1/customers/$cb/timeline" "${T1[@]}"
    expect_json "[i['kind'] for i in j['items'] if i.get('kind') == 'follow_up']" '["follow_up"]' "$be: ... in the timeline"
    req GET /api/v1/reminders "${T1[@]}"
    expect_json '[r["customer_id"] for r in j["items"]]' "[\"$cc\"]" "$be: one left open"

    jobs 2026-11-30T11:00:00+08:00
    expect_err_has "rules: reminders=0 closed=1 overdue=2 " "$be: past the grace: two overdue alerts"
    jobs 2026-11-30T11:00:00+08:00
    expect_err_has "rules: reminders=0 closed=0 overdue=0 " "$be: a rerun raises none twice"
    restart_at 2026-11-30T11:30:00+08:00
    req GET "/api/v1/alerts?kind=followup_overdue" "${MA[@]}"
    expect_json '[(a["customer_id"], a["status"]) for a in j["items"]]' "[[\"$cc\", \"open\"]]" \
        "$be: manager A gets the overdue alert of its region"
    req GET "/api/v1/alerts?kind=followup_overdue" "${MB[@]}"
    expect_json '[a["customer_id"] for a in j["items"]]' "[\"$cd\"]" "$be: manager B gets its own"
    req GET "/api/v1/reminders?state=overdue" "${T1[@]}"
    expect_json '[(r["customer_id"], r["state"], r["alert_id"] is not None) for r in j["items"]]' \
        "[[\"$cc\", \"overdue\", true]]" "$be: the owner sees it overdue"
    expect_eq "$(audit_count reminder.create)" 4 "$be: reminders are audited"
    expect_eq "$(audit_count reminder.overdue)" 2 "$be: overdue alerts are audited"
    expect_eq "$(audit_count reminder.done)" 1 "$be: marking done is audited"
    json PATCH "/api/v1/sop-rules/$r1" '{"active": false}' "${A[@]}"
    expect_json 'j["active"]' false "$be: a rule is switched off"
    req DELETE "/api/v1/sop-rules/$r1" "${A[@]}"
    expect_status 204 "$be: a rule is deleted"
    req GET /api/v1/reminders?state=all "${A[@]}"
    expect_json 'len(j["items"])' 0 "$be: ... with its reminders"
    # --- the scripts library: managers keep it, everyone searches it, the jobs count uses ------
    req GET /api/v1/device/policy "${D1[@]}"
    local pv; pv=$(jq_ 'j["version"]')
    expect_json 'j["scripts"]' '[]' "$be: the agent's policy carries the (empty) library"
    json POST /api/v1/scripts '{"category": "开场", "title": "问候", "text": "x"}' "${T1[@]}"
    expect_error 403 forbidden "$be: sales may not add scripts"
    json POST /api/v1/scripts '{"category": "开场", "title": "问候", "text": "您好，欢迎光临本店！"}' "${MA[@]}"
    expect_status 201 "$be: a manager adds a script"
    local sc; sc=$(jq_ 'j["id"]')
    json POST /api/v1/scripts '{"category": "报价", "title": "Price", "text": "Our price is fair"}' "${A[@]}"
    expect_status 201 "$be: the admin adds another"
    req GET /api/v1/device/policy "${D1[@]}"
    expect_json '(j["version"] > '"$pv"', sorted(s["title"] for s in j["scripts"]))' \
        '[true, ["Price", "问候"]]' "$be: a new script moves the policy version and reaches agents"
    req GET "/api/v1/scripts?q=%E6%AC%A2%E8%BF%8E" "${T1[@]}"
    expect_json '[s["id"] for s in j["items"]]' "[\"$sc\"]" "$be: everyone searches the library"
    req GET "/api/v1/scripts?category=%E6%8A%A5%E4%BB%B7" "${T4[@]}"
    expect_json '[s["title"] for s in j["items"]]' '["Price"]' "$be: ... by category"
    json POST /api/v1/device/events '{"events": [
     {"seq": 4, "type": "message", "ts": "2026-11-30T11:31:00+08:00", "channel": "wechat",
      "direction": "out", "peer": {"id": "wxid_a"}, "chat": "wxid_a", "msgtype": "text",
      "text": "您好, 欢迎光临本店!!"},
     {"seq": 5, "type": "message", "ts": "2026-11-30T11:32:00+08:00", "channel": "wechat",
      "direction": "out", "peer": {"id": "wxid_b"}, "chat": "wxid_b", "msgtype": "text",
      "text": "您好"},
     {"seq": 6, "type": "message", "ts": "2026-11-30T11:33:00+08:00", "channel": "wechat",
      "direction": "in", "peer": {"id": "wxid_b"}, "chat": "wxid_b", "msgtype": "text",
      "text": "您好，欢迎光临本店！"},
     {"seq": 7, "type": "message", "ts": "2026-11-30T11:34:00+08:00", "channel": "wechat",
      "direction": "out", "peer": {"id": "wxid_c"}, "chat": "wxid_c", "msgtype": "text",
      "text": "丙总：您好 欢迎光临本店 。这是目录"}]}' "${D1[@]}"
    expect_json 'j["acked_seq"]' 7 "$be: s1 sends three messages, one received"
    # --- automatic grading: rules in order, manual grades pin ---------------------------------
    json POST /api/v1/grade-rules '{"grade": "B", "stage": "lead"}' "${MA[@]}"
    expect_error 403 forbidden "$be: only admins set grading rules"
    json POST /api/v1/grade-rules '{"grade": "A"}' "${A[@]}"
    expect_error 400 invalid_request "$be: a grading rule needs a condition"
    json POST /api/v1/grade-rules "{\"grade\": \"A\", \"tag_id\": \"$t2\", \"position\": 1}" "${A[@]}"
    expect_status 201 "$be: a rule on a tag"
    json POST /api/v1/grade-rules '{"grade": "B", "stage": "lead", "position": 2}' "${A[@]}"
    expect_status 201 "$be: a rule on the stage"
    local gr; gr=$(jq_ 'j["id"]')
    json PUT "/api/v1/customers/$cb/tags" "{\"tags\": [\"$t2\"]}" "${T1[@]}"
    json PATCH "/api/v1/customers/$cc" '{"grade": "D"}' "${T1[@]}"
    expect_status 200 "$be: a grade set by hand"
    jobs 2026-11-30T12:00:00+08:00
    expect_err_has " graded=3 script_uses=2" "$be: the rules grade three customers, not the pinned one; two messages use the script"
    jobs 2026-11-30T12:00:00+08:00
    expect_err_has " graded=0 script_uses=0" "$be: a rerun changes and counts nothing"
    req GET /api/v1/scripts "${T1[@]}"
    expect_json "sorted((s['id'] == '$sc', s['usage_count']) for s in j['items'])" '[[false, 0], [true, 2]]' \
        "$be: the usage counts (outgoing texts that contain the script, normalized)"
    json PATCH "/api/v1/scripts/$sc" '{"text": "您好，欢迎再次光临！"}' "${MB[@]}"
    expect_json 'j["usage_count"]' 0 "$be: a new text counts from zero"
    req DELETE "/api/v1/scripts/$sc" "${MA[@]}"
    expect_status 204 "$be: a script is deleted"
    expect_eq "$(audit_count script.)" 4 "$be: script changes are audited"
    req GET "/api/v1/customers/$cb" "${T1[@]}"
    expect_json 'j["grade"]' A "$be: the first rule that holds wins"
    req GET "/api/v1/customers/$ca" "${T1[@]}"
    expect_json 'j["grade"]' B "$be: ... else the next"
    req GET "/api/v1/customers/$cc" "${T1[@]}"
    expect_json 'j["grade"]' D "$be: a manual grade stays"
    req GET "/api/v1/customers/$ca/timeline" "${T1[@]}"
    expect_json "[(i['actor'], i['details']['to']) for i in j['items'] if i.get('kind') == 'grade_changed']" \
        "[[\"rule:$gr\", \"B\"]]" "$be: the change is in the timeline, by the rule"
    expect_eq "$(audit_count customer.grade_rule)" 3 "$be: each change is audited"
    req GET /api/v1/grade-rules "${T4[@]}"
    expect_json '[r["grade"] for r in j["items"]]' '["A", "B"]' "$be: everyone reads the rules, in order"
    # --- merge: two records of one person --------------------------------------------------
    req GET "/api/v1/messages?customer=$cb&limit=200" "${A[@]}"
    local nb; nb=$(jq_ 'len(j["items"])')
    req GET "/api/v1/messages?customer=$ca&limit=200" "${A[@]}"
    local na; na=$(jq_ 'len(j["items"])')
    json POST "/api/v1/customers/$ca/merge" "{\"from\": \"$cb\"}" "${MB[@]}"
    expect_error 404 not_found "$be: a manager of another region cannot merge"
    json POST "/api/v1/customers/$cd/merge" "{\"from\": \"$ca\"}" "${T4[@]}"
    expect_error 404 not_found "$be: nor can a salesperson merge someone else's customer"
    json POST "/api/v1/customers/$ca/merge" "{\"from\": \"$ca\"}" "${T1[@]}"
    expect_error 400 invalid_request "$be: a customer is not merged into itself"
    json POST "/api/v1/customers/$ca/merge" "{\"from\": \"$cb\"}" "${T1[@]}"
    expect_status 200 "$be: the owner merges its two records"
    expect_json '[j["id"], j["merged"]["messages"], j["merged"]["identities"]]' "[\"$ca\", $nb, 1]" \
        "$be: ... messages and identities moved"
    req GET "/api/v1/customers/$ca" "${T1[@]}"
    expect_json '"wechat:wxid_b" in j["identities"] and "wechat:wxid_a" in j["identities"]' true \
        "$be: the survivor has both identities"
    expect_json '[t["id"] for t in j["tags"]]' "[\"$t2\"]" "$be: ... and the merged record's tags"
    req GET "/api/v1/messages?customer=$ca&limit=200" "${T1[@]}"
    expect_json 'len(j["items"])' $((na + nb)) "$be: ... and all the messages"
    req GET "/api/v1/customers/$ca/timeline?limit=200" "${T1[@]}"
    expect_json "[i['details']['from'] for i in j['items'] if i.get('kind') == 'merged']" "[\"$cb\"]" \
        "$be: the merge is in the survivor's timeline"
    json POST "/api/v1/customers/$ca/merge" "{\"from\": \"$cb\"}" "${T1[@]}"
    expect_error 409 conflict "$be: a record is merged once"
    json POST /api/v1/device/events '{"events": [
     {"seq": 8, "type": "message", "ts": "2026-11-30T11:40:00+08:00", "channel": "wechat",
      "direction": "in", "peer": {"id": "wxid_b"}, "chat": "wxid_b", "msgtype": "text",
      "text": "还在吗"}]}' "${D1[@]}"
    req GET "/api/v1/messages?customer=$ca&limit=200" "${T1[@]}"
    expect_json 'len(j["items"])' $((na + nb + 1)) "$be: a new message of the merged peer reaches the survivor"
    req GET "/api/v1/customers/$ca" "${T1[@]}"
    expect_json 'j["grade"]' A "$be: a new event re-grades its customer at once (the merged tag: rule A)"
    expect_eq "$(audit_count customer.grade_rule)" 4 "$be: ... audited like the job's changes"
    expect_eq "$(audit_count customer.merge)" 1 "$be: the merge is audited"
    req GET /api/v1/audit/verify "${A[@]}"
    expect_json 'j["ok"]' true "$be: the audit chain is intact"
    stop_server
}

run_suites
