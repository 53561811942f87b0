#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Import and export (issue 15) over real sockets, on SQLite and PostgreSQL: POST /customers and
# its 409 without an existence oracle across scopes; customer and employee imports from files
# another program made (XLSX by the system Python's openpyxl, and CSV): the dry run's report
# exactly, all or nothing, skip_bad, the plan, re-imports, the owner column, scope, every limit;
# exports read back with openpyxl: cells masked for a salesperson and whole for the admin, each
# with its audit row, counted for the insider alert mass_export.
. "$(dirname "$0")/lib_api.sh"

PY=/usr/bin/python3 # Debian's, with python3-openpyxl (scripts/packages.txt)

# xlsx OUT: a workbook from the JSON rows on standard input (a list of lists), made by openpyxl
xlsx() {
    "$PY" -c '
import json, sys, openpyxl
wb = openpyxl.Workbook()
ws = wb.active
ws.title = "客户"
for row in json.load(sys.stdin):
    ws.append(row)
wb.save(sys.argv[1])' "$1"
}

# cells FILE: the first sheet of an XLSX as JSON rows (openpyxl), into $body for jq_
cells() {
    body=$("$PY" -c '
import json, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1], read_only=True)
ws = wb.worksheets[0]
print(json.dumps([[c for c in r] for r in ws.iter_rows(values_only=True)], ensure_ascii=False, default=str))' "$1")
}

# upload PATH FILE [CURL ARGS]: POST the file as the body
upload() {
    local p=$1 f=$2; shift 2
    req POST "$p" --data-binary "@$f" -H 'Content-Type: application/octet-stream' "$@"
}

# download PATH OUT [CURL ARGS]: GET into a file; $status and $headers
download() {
    local p=$1 o=$2; shift 2
    status=$(curl -s -o "$o" -D "$TMP/headers" -w '%{http_code}' "$@" "$base$p")
    headers=$(cat "$TMP/headers")
    body=""
    out="HTTP $status"
}

suite() {
    be=$1
    setup_store "$be"
    start_server "$dir" "${db_args[@]}"
    [ -n "$base" ] || return
    login admin
    A=(-H "Authorization: Bearer $tok")
    req GET /api/v1/auth/session "${A[@]}"
    local admin_id; admin_id=$(jq_ 'j["employee"]["id"]')
    local hq; hq=$(jq_ 'j["employee"]["org_unit_id"]')
    unit "华东区" "$hq" region; local ra=$id
    unit "华南区" "$hq" region; local rb=$id
    employee mgra "$ra" manager; local mgra=$id
    employee mgrb "$rb" manager; local mgrb=$id
    employee s1 "$ra" sales; local s1=$id
    employee s2 "$rb" sales; local s2=$id
    employee s3 "$ra" sales; local s3=$id
    login mgra; local MA=(-H "Authorization: Bearer $tok")
    login s1; local T1=(-H "Authorization: Bearer $tok")
    json POST /api/v1/tags '{"name": "VIP"}' "${A[@]}"; local vip; vip=$(jq_ 'j["id"]')
    json POST /api/v1/tags '{"name": "老客户"}' "${A[@]}"; local old; old=$(jq_ 'j["id"]')

    # s1 and s2 meet a customer each on their phones; s1's chat has a number and a bad word
    device "$s1" SN-1; local D1=(-H "Authorization: Bearer $dtok")
    json POST /api/v1/device/events '{"events": [
     {"seq": 1, "type": "message", "ts": "2026-11-25T09:00:00+08:00", "channel": "wechat",
      "direction": "out", "peer": {"id": "wxid_a", "name": "客户甲", "phone": "13800000001"},
      "chat": "wxid_a", "msgtype": "text", "text": "可以飞单，打我电话13912345678"}]}' "${D1[@]}"
    expect_json 'j["acked_seq"]' 1 "$be: s1's device reports"
    device "$s2" SN-2; local D2=(-H "Authorization: Bearer $dtok")
    json POST /api/v1/device/events '{"events": [
     {"seq": 1, "type": "message", "ts": "2026-11-25T09:00:00+08:00", "channel": "wechat",
      "direction": "out", "peer": {"id": "wxid_b", "name": "客户乙", "phone": "13800000002"},
      "chat": "wxid_b", "msgtype": "text", "text": "您好"}]}' "${D2[@]}"
    req GET "/api/v1/customers?owner=$s1" "${A[@]}"; local ca; ca=$(jq_ 'j["items"][0]["id"]')
    req GET "/api/v1/customers?owner=$s2" "${A[@]}"; local cb; cb=$(jq_ 'j["items"][0]["id"]')

    # --- POST /api/v1/customers ----------------------------------------------------------------
    json POST /api/v1/customers '{"name": "新客户", "phone": "+86 139-0000-0001", "grade": "B",
        "stage": "lead", "company": "甲公司", "tags": ["'"$vip"'"]}' "${A[@]}"
    expect_status 201 "$be: create a customer"
    local cn; cn=$(jq_ 'j["id"]')
    expect_json '(j["phone"], j["owner_employee_id"], j["grade"], j["stage"], j["company"], [t["name"] for t in j["tags"]])' \
        "[\"13900000001\", \"$admin_id\", \"B\", \"lead\", \"甲公司\", [\"VIP\"]]" \
        "$be: the phone normalized, the caller owns it, its fields and tags"
    json POST /api/v1/customers '{"phone": "13900000001"}' "${A[@]}"
    expect_error 409 conflict "$be: the same phone again"
    expect_json 'j["error"]["details"]' "{\"field\": \"phone\", \"customer_id\": \"$cn\"}" \
        "$be: ... names the customer for whoever sees it"
    json POST /api/v1/customers '{"phone": "13800000002"}' "${MA[@]}"
    expect_error 409 conflict "$be: manager A, a phone of region B's customer"
    expect_json 'j["error"]["details"]' '{"field": "phone"}' "$be: ... without its id (no oracle of which)"
    json POST /api/v1/customers '{"channel": "wechat", "channel_id": "wxid_a"}' "${MA[@]}"
    expect_json 'j["error"]["details"]' "{\"field\": \"channel_id\", \"customer_id\": \"$ca\"}" \
        "$be: manager A, a WeChat id of its region's customer: 409 with the id"
    json POST /api/v1/customers '{"phone": "13900000002", "name": "销售自建"}' "${T1[@]}"
    expect_status 201 "$be: a salesperson creates one for itself"
    expect_json 'j["owner_employee_id"]' "$s1" "$be: ... and owns it"
    json POST /api/v1/customers "{\"phone\": \"13900000003\", \"owner_employee_id\": \"$s3\"}" "${T1[@]}"
    expect_error 403 forbidden "$be: a salesperson does not create for others"
    json POST /api/v1/customers "{\"phone\": \"13900000003\", \"owner_employee_id\": \"$s2\"}" "${MA[@]}"
    expect_error 400 invalid_request "$be: manager A may not give one to region B"
    json POST /api/v1/customers "{\"phone\": \"13900000003\", \"owner_employee_id\": \"$s3\"}" "${MA[@]}"
    expect_status 201 "$be: manager A gives one to its salesperson"
    json POST /api/v1/customers '{"phone": "12ab"}' "${A[@]}"
    expect_error 400 invalid_request "$be: not a phone number"
    json POST /api/v1/customers '{"name": "无号"}' "${A[@]}"
    expect_error 400 invalid_request "$be: neither phone nor channel id"
    json POST /api/v1/customers '{"phone": "13900000009", "grade": "Z"}' "${A[@]}"
    expect_error 400 invalid_request "$be: a bad grade"
    json POST /api/v1/customers '{"phone": "13900000009", "channel": "phone", "channel_id": "x"}' "${A[@]}"
    expect_error 400 invalid_request "$be: the phone channel is the phone field"
    expect_eq "$(audit_count customer.conflict)" 3 "$be: each refused create is audited"
    expect_eq "$(audit_count customer.create)" 3 "$be: each create is audited"
    req GET "/api/v1/customers/$cn/timeline" "${A[@]}"
    expect_json '[(i["kind"], i["details"]["via"]) for i in j["items"] if i["type"] == "event" and i["kind"] == "created"]' \
        '[["created", "api"]]' "$be: the timeline says how it came"

    # --- the customer import: a dry run whose report is exact -------------------------------
    # rows 2-4 new, 5 s1's customer updated (no owner column value: owner stays), 6 region B's
    # customer taken by an owner column (admin may), 7 bad phone, 8 unknown tag and bad grade,
    # 9 the same phone as row 2, 10 unchanged (the customer made above, as it is)
    xlsx "$TMP/c.xlsx" <<EOF
[["姓名", "手机", "公司", "等级", "阶段", "标签", "负责人", "备注", "微信"],
 ["导入一", 13700000001, "乙公司", "a", "意向", "VIP，老客户", "s1", "第一行", null],
 ["导入二", "137-0000-0002", null, "B", "lead", null, "s3", null, "wx_imp2"],
 ["导入三", "13700000003", null, null, null, null, null, null, null],
 ["客户甲改", "13800000001", null, "A", null, "VIP", null, null, null],
 [null, "13800000002", null, null, null, null, "s1", null, null],
 ["坏号", "12x", null, null, null, null, null, null, null],
 ["坏行", "13700000008", null, "Z", null, "没有这个", null, null, null],
 ["重复", "13700000001", null, null, null, null, null, null, null],
 ["新客户", "13900000001", "甲公司", "B", "lead", "VIP", null, null, null]]
EOF
    local before; req GET '/api/v1/customers?limit=200' "${A[@]}"; before=$(jq_ 'len(j["items"])')
    upload '/api/v1/customers/import?mode=dry_run' "$TMP/c.xlsx" "${A[@]}"
    expect_status 200 "$be: dry run"
    expect_json '(j["kind"], j["mode"], j["applied"], j["format"], j["rows"])' \
        '["customers", "dry_run", false, "xlsx", 9]' "$be: what the dry run read"
    expect_json 'j["summary"]' '{"new": 3, "updated": 2, "unchanged": 1, "owner_changes": 1, "bad": 3}' \
        "$be: the summary"
    expect_json '[(i["row"], i["action"]) for i in j["items"]]' \
        '[[2, "new"], [3, "new"], [4, "new"], [5, "update"], [6, "update"], [7, "bad"], [8, "bad"], [9, "bad"], [10, "unchanged"]]' \
        "$be: each row's action"
    expect_json 'j["columns"]' '{"phone": "B", "wechat": "I", "name": "A", "company": "C", "notes": "H", "grade": "D", "stage": "E", "tags": "F", "owner": "G"}' \
        "$be: the columns it found (Chinese headers)"
    expect_json '[(e["column"], e["field"]) for i in j["items"] if i["action"] == "bad" for e in i["errors"]]' \
        '[["B", "phone"], ["D", "grade"], ["F", "tags"], ["B", "phone"]]' "$be: every bad cell, by column"
    expect_json '[e["message"] for e in j["items"][7]["errors"]]' '["the same customer as row 2"]' \
        "$be: a phone twice in the file"
    expect_json 'j["items"][0]["changes"]' '{"name": [null, "导入一"], "company": [null, "乙公司"], "notes": [null, "…"], "grade": [null, "A"], "stage": [null, "intent"], "tags": 2}' \
        "$be: a new row's values (grade and stage read as the console names them)"
    expect_json '(j["items"][0]["owner_employee_id"], j["items"][2]["owner_employee_id"])' \
        "[\"$s1\", \"$admin_id\"]" "$be: a new customer's owner: the column, else the importer"
    expect_json '(j["items"][3]["customer_id"], j["items"][3]["changes"], "owner_change" in j["items"][3])' \
        "[\"$ca\", {\"name\": [\"客户甲\", \"客户甲改\"], \"grade\": [null, \"A\"], \"tags\": [[], [\"VIP\"]]}, false]" \
        "$be: an update lists what changes, and no owner change without the column"
    expect_json '(j["items"][4]["customer_id"], j["items"][4]["owner_change"])' \
        "[\"$cb\", {\"from\": \"$s2\", \"to\": \"$s1\", \"from_pool\": false}]" \
        "$be: the owner column changes the owner, listed"
    local plan; plan=$(jq_ 'j["plan"]')
    req GET '/api/v1/customers?limit=200' "${A[@]}"
    expect_json 'len(j["items"])' "$before" "$be: a dry run changes nothing"

    # --- apply: nothing with bad rows, unless skip_bad; the plan must still hold -------------
    upload '/api/v1/customers/import?mode=apply' "$TMP/c.xlsx" "${A[@]}"
    expect_error 422 invalid_rows "$be: bad rows refuse the whole file"
    expect_json 'j["error"]["details"]' '{"bad": 3, "rows": [7, 8, 9]}' "$be: ... naming them"
    req GET '/api/v1/customers?limit=200' "${A[@]}"
    expect_json 'len(j["items"])' "$before" "$be: ... and nothing was imported"
    upload "/api/v1/customers/import?mode=apply&skip_bad=true&plan=$plan" "$TMP/c.xlsx" "${A[@]}"
    expect_status 409 "$be: the plan of a dry run without skip_bad is another plan"
    upload '/api/v1/customers/import?mode=dry_run&skip_bad=true' "$TMP/c.xlsx" "${A[@]}"
    plan=$(jq_ 'j["plan"]')
    upload "/api/v1/customers/import?mode=apply&skip_bad=true&plan=$plan" "$TMP/c.xlsx" "${A[@]}"
    expect_status 200 "$be: apply the good rows"
    expect_json '(j["applied"], j["summary"]["new"], j["summary"]["updated"])' '[true, 3, 2]' \
        "$be: ... 3 new, 2 updated"
    req GET '/api/v1/customers?limit=200' "${A[@]}"
    expect_json 'len(j["items"])' "$((before + 3))" "$be: three more customers"
    req GET "/api/v1/customers?q=%E5%AF%BC%E5%85%A5%E4%B8%80" "${A[@]}"
    expect_json '(j["items"][0]["phone"], j["items"][0]["owner_employee_id"], j["items"][0]["grade"], j["items"][0]["stage"], sorted(t["name"] for t in j["items"][0]["tags"]))' \
        "[\"13700000001\", \"$s1\", \"A\", \"intent\", [\"VIP\", \"老客户\"]]" "$be: a new customer as the file said"
    req GET "/api/v1/customers/$ca" "${A[@]}"
    expect_json '(j["name"], j["grade"], j["owner_employee_id"])' "[\"客户甲改\", \"A\", \"$s1\"]" \
        "$be: the update, owner unchanged"
    req GET "/api/v1/customers/$cb" "${A[@]}"
    expect_json 'j["owner_employee_id"]' "$s1" "$be: the owner column moved region B's customer"
    req GET "/api/v1/customers?q=%E5%AF%BC%E5%85%A5%E4%BA%8C" "${A[@]}"
    local c2; c2=$(jq_ 'j["items"][0]["id"]')
    req GET "/api/v1/customers/$c2" "${A[@]}"
    expect_json 'sorted(j["identities"])' '["phone:13700000002", "wechat:wx_imp2"]' "$be: both identities"
    expect_eq "$(audit_count customers.import)" 1 "$be: one import row"
    expect_eq "$(audit_count customer.create)" 6 "$be: a create row per new customer"
    expect_eq "$(audit_count customer.assign)" 1 "$be: the owner change is an assign row"
    req GET '/api/v1/audit?action=customers.import' "${A[@]}"
    expect_json '(j["items"][0]["details"]["new"], j["items"][0]["details"]["bad"], j["items"][0]["details"]["skip_bad"], j["items"][0]["details"]["format"])' \
        '[3, 3, true, "xlsx"]' "$be: the import row's counts"

    # --- re-import: unchanged; a changed cell updates just that --------------------------------
    upload '/api/v1/customers/import?mode=dry_run&skip_bad=true' "$TMP/c.xlsx" "${A[@]}"
    expect_json 'j["summary"]' '{"new": 0, "updated": 0, "unchanged": 6, "owner_changes": 0, "bad": 3}' \
        "$be: the same file again changes nothing"
    printf 'phone,stage,wechat\r\n13700000003,成交,wx_imp3\r\n' >"$TMP/c.csv"
    upload '/api/v1/customers/import?mode=apply' "$TMP/c.csv" "${A[@]}"
    expect_json '(j["format"], j["summary"]["updated"], j["items"][0]["changes"])' \
        '["csv", 1, {"stage": [null, "deal"], "identity": [null, "wechat:wx_imp3"]}]' \
        "$be: a CSV re-import updates the fields it gives, and adds an identity"
    req GET "/api/v1/customers?q=%E5%AF%BC%E5%85%A5%E4%B8%89" "${A[@]}"
    expect_json '(j["items"][0]["stage"], j["items"][0]["name"])' '["deal", "导入三"]' "$be: ... the rest stays"

    # --- scope: a manager imports into its part of the company only ----------------------------
    printf 'phone,name,owner\n13800000002,乙,\n13600000001,新,s2\n13600000002,新二,s3\n' >"$TMP/m.csv"
    upload '/api/v1/customers/import?mode=dry_run' "$TMP/m.csv" "${MA[@]}"
    expect_json '[(i["row"], i["action"]) for i in j["items"]]' '[[2, "update"], [3, "bad"], [4, "new"]]' \
        "$be: manager A's dry run"
    json POST "/api/v1/customers/$cb/assign" "{\"employee_id\": \"$s2\"}" "${A[@]}"
    upload '/api/v1/customers/import?mode=dry_run' "$TMP/m.csv" "${MA[@]}"
    expect_json '[(i["action"], [e["message"] for e in i.get("errors", [])]) for i in j["items"][:2]]' \
        '[["bad", ["names a customer outside your part of the company"]], ["bad", ["'"'"'s2'"'"' is not an active employee you may give customers to"]]]' \
        "$be: region B's customer and salesperson are out of manager A's reach, the customer unnamed"
    expect_json '"customer_id" in j["items"][0]' false "$be: ... no id of it either"
    upload '/api/v1/customers/import?mode=dry_run' "$TMP/m.csv" "${T1[@]}"
    expect_error 403 forbidden "$be: a salesperson does not import"

    # --- the file: what is refused whole, and the limits -------------------------------------
    printf 'phone,shoe size\n1,2\n' >"$TMP/x.csv"
    upload '/api/v1/customers/import' "$TMP/x.csv" "${A[@]}"
    expect_error 400 invalid_request "$be: an unknown column"
    expect_json 'j["error"]["message"].startswith("column B '"'"'shoe size'"'"'")' true "$be: ... named"
    printf 'name\nx\n' >"$TMP/x.csv"
    upload '/api/v1/customers/import' "$TMP/x.csv" "${A[@]}"
    expect_error 400 invalid_request "$be: no column that finds a customer"
    "$PY" -c '
import openpyxl, sys
wb = openpyxl.Workbook(); ws = wb.active
ws.append(["phone", "name"]); ws.append(["13500000001", "=1+1"])
wb.save(sys.argv[1])' "$TMP/f.xlsx"
    upload '/api/v1/customers/import' "$TMP/f.xlsx" "${A[@]}"
    expect_error 400 invalid_file "$be: a formula is refused"
    expect_json '(j["error"]["details"], j["error"]["message"][:17])' '[{"row": 2, "column": "B"}, "cell B2: a formul"]' \
        "$be: ... with its cell"
    printf '\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest' >"$TMP/old.xls"
    upload '/api/v1/customers/import' "$TMP/old.xls" "${A[@]}"
    expect_error 400 invalid_file "$be: an old .xls is refused, saying so"
    "$PY" -c '
import sys
open(sys.argv[1], "w").write("phone\n" + "".join("1350%07d\n" % i for i in range(5001)))' "$TMP/rows.csv"
    upload '/api/v1/customers/import' "$TMP/rows.csv" "${A[@]}"
    expect_error 422 limit_exceeded "$be: 5001 rows"
    expect_json '(j["error"]["details"]["limit"], j["error"]["details"]["max"])' '["rows", 5000]' "$be: ... the rows limit"
    "$PY" -c '
import sys
open(sys.argv[1], "w").write("phone\n" + "".join("1350%07d\n" % i for i in range(5000)))' "$TMP/rows.csv"
    upload '/api/v1/customers/import' "$TMP/rows.csv" "${A[@]}"
    expect_json '(j["rows"], j["summary"]["new"])' '[5000, 5000]' "$be: 5000 rows are read"
    printf 'phone%s\n1\n' "$(printf ',x%d' $(seq 32))" >"$TMP/cols.csv"
    upload '/api/v1/customers/import' "$TMP/cols.csv" "${A[@]}"
    expect_json '(j["error"]["details"]["limit"], j["error"]["details"]["max"])' '["columns", 32]' "$be: 33 columns"
    "$PY" -c '
import sys
open(sys.argv[1], "w").write("phone,notes\n13500000001," + "x" * 16385 + "\n")' "$TMP/cell.csv"
    upload '/api/v1/customers/import' "$TMP/cell.csv" "${A[@]}"
    expect_json '(j["error"]["details"]["limit"], j["error"]["details"]["max"], j["error"]["details"]["row"])' \
        '["cell_bytes", 16384, 2]' "$be: a cell of 16385 bytes"
    "$PY" -c '
import sys, zipfile
src = zipfile.ZipFile(sys.argv[1])
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as z:
    for n in src.namelist():
        data = src.read(n)
        if n == "xl/worksheets/sheet1.xml":
            data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * (65 * 1024 * 1024))
        z.writestr(n, data)' "$TMP/c.xlsx" "$TMP/bomb.xlsx"
    upload '/api/v1/customers/import' "$TMP/bomb.xlsx" "${A[@]}"
    expect_json '(j["error"]["details"]["limit"], j["error"]["details"]["max"])' \
        '["part_bytes", 67108864]' "$be: a part that inflates past 64 MiB (a zip bomb)"
    head -c $((8 * 1024 * 1024 + 1)) /dev/zero >"$TMP/big.bin"
    upload '/api/v1/customers/import' "$TMP/big.bin" "${A[@]}"
    expect_error 413 body_too_large "$be: a file past 8 MiB"
    expect_json '(j["error"]["details"]["limit"], j["error"]["details"]["max"])' '["bytes", 8388608]' \
        "$be: ... the bytes limit"

    # --- the employee import: units made as needed, roles, nobody changes itself --------------
    cat >"$TMP/e.csv" <<'EOF'
username,name,role,部门
s3,三号销售,manager,华东区
imp1,导入员工,sales,华东区/杭州店
imp2,,销售,/Acme/华南区/深圳店/一组
admin,,,
bad one,x,sales,华东区
imp3,y,boss,华东区
EOF
    upload '/api/v1/employees/import?mode=dry_run' "$TMP/e.csv" "${A[@]}"
    expect_status 200 "$be: employees' dry run"
    expect_json '[(i["row"], i["action"]) for i in j["items"]]' \
        '[[2, "update"], [3, "new"], [4, "new"], [5, "unchanged"], [6, "bad"], [7, "bad"]]' \
        "$be: each row's action"
    expect_json 'j["new_units"]' '[{"path": "华东区/杭州店", "kind": "store"}, {"path": "华南区/深圳店", "kind": "store"}, {"path": "华南区/深圳店/一组", "kind": "team"}]' \
        "$be: the units it would make"
    expect_json 'j["items"][0]["changes"]' '{"name": ["Name of s3", "三号销售"], "role": ["sales", "manager"]}' \
        "$be: an update"
    printf 'username,role\nadmin,sales\n' >"$TMP/self.csv"
    upload '/api/v1/employees/import?mode=dry_run' "$TMP/self.csv" "${A[@]}"
    expect_json '[e["message"] for e in j["items"][0]["errors"]]' '["you may not change your own role or unit"]' \
        "$be: nobody changes its own role"
    upload '/api/v1/employees/import?mode=apply&skip_bad=true' "$TMP/e.csv" "${A[@]}"
    expect_json '(j["applied"], j["summary"])' '[true, {"new": 2, "updated": 1, "unchanged": 1, "owner_changes": 0, "bad": 2}]' \
        "$be: employees applied"
    req GET '/api/v1/employees?q=imp2' "${A[@]}"
    expect_json '(j["items"][0]["name"], j["items"][0]["role"])' '["imp2", "sales"]' "$be: a new employee"
    local u2; u2=$(jq_ 'j["items"][0]["org_unit_id"]')
    req GET "/api/v1/org-units/$u2" "${A[@]}"
    expect_json '(j["name"], j["kind"])' '["一组", "team"]' "$be: ... in the unit made for it"
    json POST /api/v1/auth/login '{"username": "imp2", "password": "any-password-1"}'
    expect_status 401 "$be: a new employee has no password until one is set"
    req GET "/api/v1/employees/$s3" "${A[@]}"
    expect_json 'j["role"]' manager "$be: s3 promoted"
    expect_eq "$(audit_count employees.import)" 1 "$be: one employees import row"
    expect_eq "$(audit_count org_unit.create)" 5 "$be: the units made are audited (2 + 3)"
    upload '/api/v1/employees/import' "$TMP/e.csv" "${MA[@]}"
    expect_error 403 forbidden "$be: a manager does not import employees"

    # --- exports: read back, masked for a salesperson, whole for the admin, audited ------------
    download '/api/v1/customers/export' "$TMP/all.xlsx" "${A[@]}"
    expect_status 200 "$be: the admin exports customers"
    expect_header_has 'Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' "$be: ... as XLSX"
    expect_header_has 'Content-Disposition: attachment; filename="customers-' "$be: ... a named file"
    cells "$TMP/all.xlsx"
    expect_json 'j[0]' '["id", "name", "phone", "company", "owner_id", "owner", "owner_name", "grade", "stage", "tags", "notes", "created_at", "last_contact_at"]' \
        "$be: the header"
    expect_json '[(r[1], r[2], r[5], r[7], r[9]) for r in j if r[0] == "'"$ca"'"]' '[["客户甲改", "13800000001", "s1", "A", "VIP"]]' \
        "$be: a customer's row, its phone whole for the admin"
    download '/api/v1/customers/export?grade=A' "$TMP/a.xlsx" "${T1[@]}"
    cells "$TMP/a.xlsx"
    expect_json 'sorted(r[2] for r in j[1:])' '["137****0001", "138****0001"]' \
        "$be: a salesperson exports its own, the filter kept, phones masked"
    download '/api/v1/customers/export?format=csv&grade=A' "$TMP/a.csv" "${T1[@]}"
    expect_header_has 'Content-Type: text/csv; charset=utf-8' "$be: CSV on request"
    expect_eq "$(grep -c '138\*\*\*\*0001' "$TMP/a.csv")" 1 "$be: ... masked there too"
    download '/api/v1/alerts/export' "$TMP/al.xlsx" "${T1[@]}"
    cells "$TMP/al.xlsx"
    expect_json '[(r[2], r[4], r[6], r[8]) for r in j[1:]]' '[["sensitive_word", "open", "Name of s1", "客户甲改"]]' \
        "$be: the alert list, with names"
    download '/api/v1/messages/export?q=%E9%A3%9E%E5%8D%95' "$TMP/m.xlsx" "${T1[@]}"
    cells "$TMP/m.xlsx"
    expect_json '[r[11] for r in j[1:]]' '["可以飞单，打我电话***********"]' "$be: search results, masked for sales"
    download '/api/v1/messages/export?q=%E9%A3%9E%E5%8D%95' "$TMP/m2.xlsx" "${A[@]}"
    cells "$TMP/m2.xlsx"
    expect_json '[r[11] for r in j[1:]]' '["可以飞单，打我电话13912345678"]' "$be: ... whole for the admin"
    download "/api/v1/customers/$ca/timeline/export" "$TMP/t.xlsx" "${A[@]}"
    expect_header_has "filename=\"timeline-$ca-" "$be: the timeline's file is named by its customer"
    cells "$TMP/t.xlsx"
    expect_json 'sorted(set(r[2] for r in j[1:]))' '["alert", "event", "message"]' "$be: the timeline as evidence"
    download "/api/v1/customers/$cb/timeline/export" "$TMP/t2.xlsx" "${MA[@]}"
    expect_status 404 "$be: another region's customer's timeline is not found"
    download '/api/v1/audit/export?action=customers.import' "$TMP/au.xlsx" "${A[@]}"
    cells "$TMP/au.xlsx"
    expect_json '[(r[4], r[5][:7]) for r in j[1:]]' '[["customers.import", "import:"], ["customers.import", "import:"]]' \
        "$be: the audit log (both customer imports)"
    download '/api/v1/audit/export' "$TMP/au.xlsx" "${T1[@]}"
    expect_status 403 "$be: a salesperson does not export the audit log"
    download '/api/v1/customers/export?format=pdf' "$TMP/x" "${A[@]}"
    expect_status 400 "$be: an unknown format"
    for a in customers alerts messages timeline audit; do
        expect_eq "$(audit_count "$a.export")" "$(case $a in customers) echo 3;; messages) echo 2;; timeline) echo 1;; *) echo 1;; esac)" \
            "$be: each $a export is an audit row"
    done
    req GET '/api/v1/audit?action=customers.export&limit=1' "${A[@]}"
    expect_json '(j["items"][0]["actor"], j["items"][0]["details"]["grade"], j["items"][0]["details"]["rows"], j["items"][0]["details"]["format"])' \
        "[\"employee:$s1\", \"A\", 2, \"csv\"]" "$be: the export row: who, the filters, how many rows"

    # exports count for the insider alert mass_export
    json PUT /api/v1/settings '{"insider_export_per_day": 3}' "${A[@]}"
    for _ in 1 2 3 4; do download '/api/v1/alerts/export' "$TMP/x" "${MA[@]}"; done
    req GET '/api/v1/alerts?kind=mass_export' "${A[@]}"
    expect_json '[a["employee_id"] for a in j["items"]]' "[\"$mgra\"]" "$be: a fourth export in a day raises mass_export"

    stop_server
}

run_suites
