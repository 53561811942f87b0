// SPDX-License-Identifier: MIT
// Import and export in the console (issue 15): 100 customers imported from an XLSX file that
// another program made (the system Python's openpyxl), two of its rows bad: the dry run's
// report names them, and the good 98 are imported; the alert list exported and the file read
// back with openpyxl.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ADMIN_PW, adminApi, allOpenAlerts, call, expect, login, must, open, shots, test } from '../lib.mjs'

const PY = '/usr/bin/python3' // Debian's, with python3-openpyxl

function makeXlsx(path, rows) {
  execFileSync(PY, ['-c', `
import json, sys, openpyxl
wb = openpyxl.Workbook()
ws = wb.active
for r in json.load(sys.stdin):
    ws.append(r)
wb.save(sys.argv[1])`, path], { input: JSON.stringify(rows) })
}

function readXlsx(path) {
  const out = execFileSync(PY, ['-c', `
import json, sys, openpyxl
ws = openpyxl.load_workbook(sys.argv[1], read_only=True).worksheets[0]
print(json.dumps([list(r) for r in ws.iter_rows(values_only=True)], ensure_ascii=False, default=str))`, path])
  return JSON.parse(out.toString())
}

export async function run({ page }) {
  const dir = mkdtempSync(join(tmpdir(), 'wp-importexport-'))
  const token = await adminApi()

  await test('import 100 customers from an XLSX file with two bad rows: the report names them, 98 are imported', async () => {
    const rows = [['姓名', '手机', '公司', '等级', '阶段']]
    for (let i = 1; i <= 100; i++) {
      rows.push([`导入客户${String(i).padStart(3, '0')}`, `1366${String(i).padStart(7, '0')}`, i % 3 ? '甲公司' : null, 'ABCD'[i % 4], ['lead', '意向', '成交'][i % 3]])
    }
    rows[37][1] = '136-00x-0037' // the file's row 38: not a phone number
    rows[81][3] = 'E' // row 82: no such grade
    const file = join(dir, 'customers.xlsx')
    makeXlsx(file, rows)

    await login(page, 'admin', ADMIN_PW)
    await page.waitForURL(/\/dashboard/)
    await open(page, 'customers', '[data-test=customers-import]')
    await page.click('[data-test=customers-import]')
    await page.waitForSelector('[data-test=import-dialog]')
    await page.setInputFiles('[data-test=import-file]', file)
    await page.click('[data-test=import-check]')
    await page.waitForSelector('[data-test=import-summary]')
    const bad = await page.textContent('[data-test=import-bad-count]')
    expect(/2/.test(bad), 'the report counts two bad rows: ' + bad)
    // the report opens on the bad rows, each with its row number, column and reason
    const shown = await page.$$eval('[data-test=import-report] .el-table__body tr', (trs) => trs.map((tr) => tr.innerText))
    expect(shown.length === 2, 'two bad rows listed: ' + JSON.stringify(shown))
    expect(/^38\b/.test(shown[0]) && /B/.test(shown[0]) && /phone|手机/.test(shown[0]), 'row 38, column B: ' + shown[0])
    expect(/^82\b/.test(shown[1]) && /D/.test(shown[1]) && /grade/.test(shown[1]), 'row 82, column D: ' + shown[1])
    await shots(page, 'import-report')
    await page.click('[data-test=import-apply-good]')
    await page.waitForSelector('[data-test=import-done]')
    const got = await must('GET', '/customers?q=' + encodeURIComponent('导入客户') + '&limit=200', { token }, 200)
    expect(got.items.length === 98, '98 customers imported: ' + got.items.length)
    const audit = await must('GET', '/audit?action=customers.import', { token }, 200)
    expect(audit.items.length === 1 && audit.items[0].details.new === 98 && audit.items[0].details.bad === 2, 'the import is audited: ' + JSON.stringify(audit.items[0]))
    await shots(page, 'import-done')
  })

  await test('export the alert list as XLSX and open the file', async () => {
    await open(page, 'alerts', '[data-test=alerts-export]')
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('[data-test=alerts-export] .el-button-group > .el-button:first-child'),
    ])
    const name = download.suggestedFilename()
    expect(/^alerts-\d{8}-\d{6}\.xlsx$/.test(name), 'a named file: ' + name)
    const path = join(dir, name)
    await download.saveAs(path)
    const cells = readXlsx(path)
    const listed = { items: await allOpenAlerts(token) }
    expect(cells[0][0] === 'id' && cells[0][2] === 'kind', 'the header: ' + JSON.stringify(cells[0]))
    const ids = cells.slice(1).map((r) => r[0]).sort()
    const want = listed.items.map((a) => a.id).sort()
    expect(JSON.stringify(ids) === JSON.stringify(want), `the open alerts, as the list has them: ${ids.length} vs ${want.length}`)
    const rows = await must('GET', '/audit?action=alerts.export&limit=1', { token }, 200)
    expect(rows.items[0]?.details?.format === 'xlsx' && rows.items[0].details.status === 'open', 'the export is audited with its filters: ' + JSON.stringify(rows.items[0]))
    const r = await call('GET', '/alerts/export?format=csv', { token })
    expect(r.status === 200 && String(r.body).startsWith('"id","ts","kind"'), 'CSV too: ' + String(r.body).slice(0, 40))
  })
}
