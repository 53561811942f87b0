// SPDX-License-Identifier: MIT
// An admin's whole day in the console, one step after another on the same company (issue 15):
// a new store and a salesperson in it, 100 customers from an XLSX file another program made
// (two rows bad) given to that salesperson, a tag and a grading rule, a lexicon word for that
// store only that reaches the store's phone and no other, the alert that word raises exported
// and the file opened, and the alert handled by the compliance officer in a browser of its own.
// Each step is done on the page and then read back from the API.
import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ADMIN_PW, BASE, adminApi, ago, allOpenAlerts, expect, login, must, open, shots, test, watch } from '../lib.mjs'

const PY = '/usr/bin/python3' // Debian's, with python3-openpyxl
const STORE = '日常一店'
const SELLER = { name: '日常销售', username: 'daysales', password: 'day-sales-pass-1' }
const AUDITOR = { name: '日常审计', username: 'dayaudit', password: 'day-audit-pass-1' }
const WORD = '私下走账'

function xlsx(path, rows) {
  execFileSync(PY, ['-c', `
import json, sys, openpyxl
wb = openpyxl.Workbook()
for r in json.load(sys.stdin):
    wb.active.append(r)
wb.save(sys.argv[1])`, path], { input: JSON.stringify(rows) })
}

function readXlsx(path) {
  const out = execFileSync(PY, ['-c', `
import json, sys, openpyxl
ws = openpyxl.load_workbook(sys.argv[1], read_only=True).worksheets[0]
print(json.dumps([list(r) for r in ws.iter_rows(values_only=True)], ensure_ascii=False, default=str))`, path])
  return JSON.parse(out.toString())
}

async function pick(page, select, text) {
  await page.click(select)
  await page.locator('.el-select-dropdown__item:visible', { hasText: text }).first().click()
}

async function policy(phone) {
  const res = await fetch(BASE + '/api/v1/device/policy', { headers: { Authorization: 'Bearer ' + phone } })
  expect(res.status === 200, 'policy: HTTP ' + res.status)
  return { etag: res.headers.get('etag'), body: await res.json() }
}

async function enroll(tok, employeeId, serial) {
  const { code } = await must('POST', `/employees/${employeeId}/enrollment-codes`, { token: tok, json: {} }, 201)
  return (await must('POST', '/device/enroll', { json: { code, serial, model: 'Workphone X1' } }, 201)).token
}

export async function run({ browser, options, page }) {
  const dir = mkdtempSync(join(tmpdir(), 'wp-adminday-'))
  const tok = await adminApi()
  const me = (await must('GET', '/auth/session', { token: tok }, 200)).employee
  const hq = await must('GET', '/org-units/' + me.org_unit_id, { token: tok }, 200)
  const day = {}

  await page.goto(BASE + '/employees')
  await page.waitForSelector('[data-test=login-submit], [data-test=who]')
  if (/\/login/.test(page.url())) {
    await login(page, 'admin', ADMIN_PW)
    await page.waitForURL(/\/dashboard/)
  }

  await test('admin day 1: a new store under the top unit and a salesperson in it, made on the employees page', async () => {
    await open(page, 'employees', '[data-test=new-unit]')
    await page.click('[data-test=new-unit]')
    await page.fill('[data-test=unit-name]', STORE)
    await pick(page, '.el-dialog:visible .el-form-item:nth-child(2) .el-select', '门店')
    await pick(page, '.el-dialog:visible .el-form-item:last-child .el-select', hq.name)
    await page.click('[data-test=unit-save]')
    await page.locator('[data-test=org-tree] .el-tree-node__content', { hasText: STORE }).waitFor()
    day.store = (await must('GET', '/org-units', { token: tok }, 200)).items.find((u) => u.name === STORE)
    expect(day.store && day.store.parent_id === hq.id && day.store.kind === 'store', 'the store on the server: ' + JSON.stringify(day.store))

    await page.click('[data-test=new-employee]')
    await page.fill('[data-test=emp-name]', SELLER.name)
    await page.fill('[data-test=emp-username]', SELLER.username)
    await page.fill('[data-test=emp-password]', SELLER.password)
    await pick(page, '[data-test=emp-role]', '销售')
    await pick(page, '.el-dialog:visible .el-form-item:last-child .el-select', STORE)
    await page.click('[data-test=emp-save]')
    await page.locator('[data-test=employees-table]', { hasText: SELLER.username }).waitFor()
    const people = (await must('GET', '/employees?q=' + SELLER.username, { token: tok }, 200)).items
    day.seller = people.find((p) => p.username === SELLER.username)
    expect(day.seller && day.seller.role === 'sales' && day.seller.org_unit_id === day.store.id, 'the salesperson on the server: ' + JSON.stringify(day.seller))
    // the new salesperson can log in
    await must('POST', '/auth/login', { json: { username: SELLER.username, password: SELLER.password } }, 200)
  })

  await test('admin day 2: 100 customers for the new salesperson from an XLSX file with two bad rows', async () => {
    const rows = [['姓名', '手机', '等级', '负责人']]
    for (let i = 1; i <= 100; i++) rows.push([`日常客户${String(i).padStart(3, '0')}`, `1377${String(i).padStart(7, '0')}`, 'ABCD'[i % 4], SELLER.username])
    rows[10][1] = '1377-bad' // the file's row 11: not a phone number
    rows[60][3] = 'nobody-here' // row 61: no such employee
    const file = join(dir, 'customers.xlsx')
    xlsx(file, rows)
    await open(page, 'customers', '[data-test=customers-import]')
    await page.click('[data-test=customers-import]')
    await page.waitForSelector('[data-test=import-dialog]')
    await page.setInputFiles('[data-test=import-file]', file)
    await page.click('[data-test=import-check]')
    await page.waitForSelector('[data-test=import-summary]')
    const shown = await page.$$eval('[data-test=import-report] .el-table__body tr', (trs) => trs.map((tr) => tr.innerText))
    expect(shown.length === 2 && /^11\b/.test(shown[0]) && /^61\b/.test(shown[1]), 'the two bad rows, by row number: ' + JSON.stringify(shown))
    // the dry run changed nothing
    const before = await must('GET', '/customers?q=' + encodeURIComponent('日常客户') + '&limit=200', { token: tok }, 200)
    expect(before.items.length === 0, 'the dry run imported: ' + before.items.length)
    await page.click('[data-test=import-apply-good]')
    await page.waitForSelector('[data-test=import-done]')
    const got = await must('GET', '/customers?q=' + encodeURIComponent('日常客户') + '&limit=200', { token: tok }, 200)
    expect(got.items.length === 98, '98 customers imported: ' + got.items.length)
    expect(got.items.every((c) => c.owner_employee_id === day.seller.id), 'owned by the new salesperson: ' + JSON.stringify(got.items.find((c) => c.owner_employee_id !== day.seller.id)))
    day.customer = got.items.find((c) => c.name === '日常客户001')
    expect(day.customer, 'customer 001 imported')
  })

  await test('admin day 3: a tag and a grading rule, made in the settings', async () => {
    await open(page, 'settings/crm', '[data-test=group-new]')
    await page.click('[data-test=group-new]')
    await page.fill('[data-test=group-name]', '日常分组')
    await page.click('[data-test=group-save]')
    const card = page.locator('[data-test=tag-group]', { has: page.locator('[data-test=tag-group-name]', { hasText: '日常分组' }) })
    await card.waitFor()
    await card.locator('[data-test=group-add-tag]').click()
    await page.fill('[data-test=tag-name]', '日常重点')
    await page.click('[data-test=tag-save]')
    await card.locator('[data-test=tag-chip]', { hasText: '日常重点' }).waitFor()
    const tag = (await must('GET', '/tags', { token: tok }, 200)).items.find((x) => x.name === '日常重点')
    expect(tag, 'the tag on the server')

    await open(page, 'settings/crm/grade', '[data-test=grade-new]')
    const rulesBefore = (await must('GET', '/grade-rules', { token: tok }, 200)).items.length
    await page.click('[data-test=grade-new]')
    await page.fill('[data-test=grade-min-messages] input', '1')
    await page.press('[data-test=grade-min-messages] input', 'Tab')
    await page.click('[data-test=grade-give-A]')
    await page.click('[data-test=grade-save]')
    await page.locator('[data-test=grade-rule]', { hasText: '不少于 1 条' }).first().waitFor()
    const rules = (await must('GET', '/grade-rules', { token: tok }, 200)).items
    expect(rules.length === rulesBefore + 1 && rules.some((r) => r.grade === 'A'), 'the grading rule on the server: ' + JSON.stringify(rules))
  })

  await test('admin day 4: a lexicon word for the new store only reaches that store’s phone and no other', async () => {
    day.phone = await enroll(tok, day.seller.id, 'SN-DAY-0001')
    const other = await enroll(tok, me.id, 'SN-DAY-0002') // a phone at the top unit
    const p0 = await policy(day.phone)
    const o0 = await policy(other)
    expect(!p0.body.lexicon.includes(WORD), 'the word is there before it is added')
    await open(page, 'lexicon', '[data-test=lexicon-table]')
    await pick(page, '[data-test=lexicon-unit]', STORE)
    await page.waitForURL(new RegExp('unit=' + day.store.id))
    await page.click('[data-test=lexicon-add]')
    await page.fill('[data-test=lexicon-dialog-word]', WORD)
    await pick(page, '[data-test=lexicon-dialog-category]', '飞单私单')
    await page.click('[data-test=lexicon-dialog-action-block]')
    await page.click('[data-test=lexicon-dialog-ok]')
    await page.waitForFunction((w) => [...document.querySelectorAll('[data-test=lexicon-word]')].some((e) => e.textContent.trim() === w), WORD)
    await page.click('[data-test=lexicon-save]')
    await page.waitForFunction(() => !document.querySelector('[data-test=lexicon-dirty]'))
    const p1 = await policy(day.phone)
    expect(p1.etag !== p0.etag && p1.body.lexicon.includes(WORD + '\tprivate_deal\tblock'), 'the store’s phone did not get the word')
    const o1 = await policy(other)
    expect(o1.etag === o0.etag && !o1.body.lexicon.includes(WORD), 'a phone outside the store got the word')
  })

  await test('admin day 5: the word raises an alert; the alert list exported as XLSX holds it', async () => {
    const peer = { id: 'wxid_day001', name: '日常客户001', phone: day.customer.phone || '13770000001' }
    const events = [{ seq: 1, type: 'message', ts: ago(3), channel: 'wechat', direction: 'out', peer, chat: peer.id, msgtype: 'text', text: `这笔可以${WORD}，您看行吗` }]
    const r = await must('POST', '/device/events', { token: day.phone, json: { events } }, 200)
    expect(r.acked_seq === 1 && r.alerts.length === 1 && r.alerts[0].pattern === WORD && r.alerts[0].action === 'block', 'one alert raised, by the store’s word: ' + JSON.stringify(r))
    const alerts = await allOpenAlerts(tok)
    day.alert = alerts.find((a) => a.employee_id === day.seller.id)
    expect(day.alert, 'the alert in the list')

    await open(page, 'alerts', '[data-test=alerts-export]')
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('[data-test=alerts-export] .el-button-group > .el-button:first-child'),
    ])
    const path = join(dir, download.suggestedFilename())
    await download.saveAs(path)
    const cells = readXlsx(path)
    const ids = cells.slice(1).map((row) => row[0])
    expect(ids.includes(day.alert.id) && ids.length === alerts.length, `the file holds the open alerts: ${ids.length} rows, the list ${alerts.length}`)
    const audit = await must('GET', '/audit?action=alerts.export&limit=1', { token: tok }, 200)
    expect(audit.items.length === 1 && audit.items[0].actor === 'employee:' + me.id && audit.items[0].details?.format === 'xlsx', 'the export is audited as the admin’s: ' + JSON.stringify(audit.items[0]))
  })

  await test('admin day 6: the compliance officer handles the alert in a browser of its own', async () => {
    await must('POST', '/employees', { token: tok, json: { name: AUDITOR.name, org_unit_id: hq.id, role: 'auditor', username: AUDITOR.username, password: AUDITOR.password } }, 201)
    const ctx = await browser.newContext(options)
    const pg = await ctx.newPage()
    pg.setDefaultTimeout(15000)
    const errs = watch(pg)
    try {
      await login(pg, AUDITOR.username, AUDITOR.password)
      await pg.waitForURL(/\/dashboard/)
      await open(pg, 'alerts', '[data-test=alerts-table] .el-table__row')
      const row = pg.locator('[data-test=alerts-table] .el-table__row', { hasText: SELLER.name }).first()
      await row.locator('[data-test=alert-ack]').click()
      await pg.fill('.alert-comment-box textarea', '已约谈，客户转由门店跟进')
      await pg.click('.alert-comment-box .el-button--primary')
      await row.locator('[data-test=alert-status]', { hasText: '已确认' }).waitFor()
      await shots(pg, 'adminday-auditor')
      expect(errs.length === 0, 'the auditor’s page logged errors: ' + errs.join('; '))
    } finally {
      await ctx.close()
    }
    const acked = (await must('GET', '/alerts?status=acknowledged&limit=200', { token: tok }, 200)).items
    const a = acked.find((x) => x.id === day.alert.id) || {}
    expect(a.status === 'acknowledged' && a.comment === '已约谈，客户转由门店跟进', 'handled on the server: ' + JSON.stringify(a))
    const aud = (await must('POST', '/auth/login', { json: { username: AUDITOR.username, password: AUDITOR.password } }, 200))
    const rows = (await must('GET', '/audit?action=alert.update&limit=5', { token: tok }, 200)).items
    expect(rows.some((x) => JSON.stringify(x).includes(aud.employee.id) && JSON.stringify(x).includes(day.alert.id)), 'the handling is audited as the auditor’s: ' + JSON.stringify(rows))
  })
}
