// SPDX-License-Identifier: MIT
// 外勤 · 签到记录 and 考勤 (issue 18): a salesperson's phone uploads a photo and sends, on the
// last working day before today (the hour of the run is arbitrary: a past day is complete), a
// clock-in 20 minutes late, a visit naming a customer inside the team's geofence (with the
// photo), one 2 km outside it, and a clock-out 45 minutes early; a salesperson of another team
// clocks in on time. The admin sees exactly those rows with their flags, the photo loads and
// opens larger, the customer link opens the customer; the attendance page shows late and early
// leave and the hours, derived here from the events and the working hours the server states for
// the employee (GET /employees/{id}/working-hours; the 5-minute grace of
// docs/internals/checkins.md); the export is an XLSX the browser downloads. The team's manager
// sees only the team: the other salesperson is absent from both pages.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BASE, adminApi, expect, login, must, open, shots, test } from '../lib.mjs'

const PY = '/usr/bin/python3' // Debian's, with python3-openpyxl
const LAT = 31.2304567, LON = 121.4737012 // the fence's centre
const CUSTOMER = { phone: '13900139018', name: '外勤客户陈总' }
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

function readXlsx(path) {
  const out = execFileSync(PY, ['-c', `
import json, sys, openpyxl
ws = openpyxl.load_workbook(sys.argv[1], read_only=True).worksheets[0]
print(json.dumps([list(r) for r in ws.iter_rows(values_only=True)], ensure_ascii=False, default=str))`, path])
  return JSON.parse(out.toString())
}

// the instant of a local time (date "YYYY-MM-DD", minutes after midnight) in the zone tz
function localMs(date, minutes, tz) {
  const [y, m, d] = date.split('-').map(Number)
  const guess = Date.UTC(y, m - 1, d) + minutes * 60000
  const offset = (ms) => {
    const f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]))
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - ms
  }
  let t = guess - offset(guess)
  t = guess - offset(t)
  return t
}
const dayIn = (ms, tz) => new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms))
const hhmm = (s) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5))
const clock = (ms, tz) => new Intl.DateTimeFormat('zh-CN', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(ms))

async function enroll(tok, employeeId, serial) {
  const { code } = await must('POST', `/employees/${employeeId}/enrollment-codes`, { token: tok, json: {} }, 201)
  return must('POST', '/device/enroll', { json: { code, serial, model: 'Workphone X1' } }, 201)
}

// the text of the rows of the check-ins table, newest first, with their place flag
async function checkinRows(page) {
  return page.$$eval('[data-test=checkins-table] .el-table__body tr', (trs) => trs.map((tr) => ({
    kind: tr.querySelector('[data-test=checkin-kind]')?.textContent.trim(),
    who: tr.querySelector('[data-test=checkin-employee]')?.textContent.trim(),
    customer: tr.querySelector('[data-test=checkin-customer]')?.textContent.trim() || '',
    place: tr.querySelector('[data-test=checkin-place]')?.dataset.place,
    placeText: tr.querySelector('[data-test=checkin-place]')?.textContent.trim(),
    accuracy: tr.querySelector('[data-test=checkin-accuracy]')?.textContent.trim(),
    photo: !!tr.querySelector('[data-test=checkin-photo]'),
  })))
}

export async function run({ browser, options, page }) {
  const tok = await adminApi()
  const me = (await must('GET', '/auth/session', { token: tok }, 200)).employee
  const teamA = await must('POST', '/org-units', { token: tok, json: { name: '外勤一组', parent_id: me.org_unit_id, kind: 'team' } }, 201)
  const teamB = await must('POST', '/org-units', { token: tok, json: { name: '外勤二组', parent_id: me.org_unit_id, kind: 'team' } }, 201)
  const seller = await must('POST', '/employees', { token: tok, json: { name: '签到小林', org_unit_id: teamA.id, role: 'sales', username: 'checkinsales', password: 'checkin-sales-1' } }, 201)
  const other = await must('POST', '/employees', { token: tok, json: { name: '二组小马', org_unit_id: teamB.id, role: 'sales', username: 'checkinother', password: 'checkin-other-1' } }, 201)
  const MGR = { username: 'checkinmgr', password: 'checkin-mgr-1' }
  await must('POST', '/employees', { token: tok, json: { name: '一组组长', org_unit_id: teamA.id, role: 'manager', ...MGR } }, 201)
  const dev = await enroll(tok, seller.id, 'SN-CHECKIN-0001')
  const devB = await enroll(tok, other.id, 'SN-CHECKIN-0002')

  // the working hours the server applies to the salesperson, and the last working day before
  // today in the tenant's zone
  const hours = await must('GET', `/employees/${seller.id}/working-hours`, { token: tok }, 200)
  const tz = hours.time_zone
  const start = hhmm(hours.from), end = hhmm(hours.to)
  expect(hours.days.length > 0 && end - start > 120, 'working hours to test with: ' + JSON.stringify(hours))
  let day = null
  for (let back = 1; back <= 14 && !day; back++) {
    const d = dayIn(Date.now() - back * 86400000, tz)
    const wd = new Date(d + 'T00:00:00Z').getUTCDay() || 7 // ISO: Monday 1 … Sunday 7
    if (hours.days.includes(wd) && d !== dayIn(Date.now(), tz)) day = d
  }
  const tIn = localMs(day, start + 20, tz), tOut = localMs(day, end - 45, tz)
  const tVisit1 = localMs(day, start + 60, tz), tVisit2 = localMs(day, start + 90, tz)
  const worked = Math.floor((tOut - tIn) / 60000)
  const wantHours = `${Math.floor(worked / 60)} 小时 ${worked % 60} 分`

  const fence = await must('POST', '/geofences', { token: tok, json: { name: '一组片区', org_unit_id: teamA.id, shape: { type: 'circle', center: [LON, LAT], radius_m: 300 } } }, 201)

  // a real picture, so that the browser can draw it: a PNG the browser paints
  await page.setContent('<body style="margin:0"><div style="width:120px;height:90px;background:linear-gradient(135deg,#5b8def,#7bd389);color:#fff;font:bold 40px sans-serif;display:flex;align-items:center;justify-content:center">店</div></body>')
  const photo = await page.screenshot({ clip: { x: 0, y: 0, width: 120, height: 90 } })
  const ref = 'sha256:' + createHash('sha256').update(photo).digest('hex')
  const put = await fetch(`${BASE}/api/v1/device/media/${ref}`, { method: 'PUT', headers: { Authorization: 'Bearer ' + dev.token, 'Content-Type': 'application/octet-stream' }, body: photo })
  expect(put.status === 201 || put.status === 200, 'the photo upload: HTTP ' + put.status)

  const events = [
    { seq: 1, type: 'checkin', ts: iso(tIn), kind: 'in', lat: LAT, lon: LON, accuracy_m: 12 },
    { seq: 2, type: 'checkin', ts: iso(tVisit1), kind: 'visit', lat: LAT + 0.001, lon: LON, accuracy_m: 9, photo: ref, peer: CUSTOMER, note: '送样品' },
    { seq: 3, type: 'checkin', ts: iso(tVisit2), kind: 'visit', lat: LAT + 0.018, lon: LON, accuracy_m: 15 },
    { seq: 4, type: 'checkin', ts: iso(tOut), kind: 'out', lat: LAT, lon: LON, accuracy_m: 20 },
  ]
  let r = await must('POST', '/device/events', { token: dev.token, json: { events } }, 200)
  expect(r.acked_seq === 4 && r.rejected.length === 0, 'the check-ins are stored: ' + JSON.stringify(r))
  r = await must('POST', '/device/events', { token: devB.token, json: { events: [{ seq: 1, type: 'checkin', ts: iso(localMs(day, start, tz)), kind: 'in', lat: 31.3, lon: 121.5, accuracy_m: 10 }] } }, 200)
  expect(r.acked_seq === 1 && r.rejected.length === 0, 'the other team’s check-in: ' + JSON.stringify(r))
  const listed = await must('GET', `/checkins?employee=${seller.id}&kind=visit`, { token: tok }, 200)
  const customerId = listed.items.find((c) => c.seq === 2)?.customer_id
  expect(customerId && listed.items.find((c) => c.seq === 2).fence_id === fence.id, 'the visit’s customer and fence: ' + JSON.stringify(listed.items))

  const from = localMs(day, 0, tz), to = localMs(day, 24 * 60, tz)
  const dayQuery = `from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(to))}`
  const want = [
    { kind: '下班签退', who: '签到小林', customer: '', place: 'inside', placeText: '围栏内', accuracy: '±20 米', photo: false },
    { kind: '客户拜访', who: '签到小林', customer: '', place: 'outside', placeText: '围栏外', accuracy: '±15 米', photo: false },
    { kind: '客户拜访', who: '签到小林', customer: CUSTOMER.name, place: 'inside', placeText: '围栏内', accuracy: '±9 米', photo: true },
    { kind: '上班签到', who: '签到小林', customer: '', place: 'inside', placeText: '围栏内', accuracy: '±12 米', photo: false },
  ]
  const other0 = { kind: '上班签到', who: '二组小马', customer: '', place: 'none', placeText: '未设围栏', accuracy: '±10 米', photo: false }

  await page.goto(BASE + '/dashboard')
  await page.waitForSelector('[data-test=login-submit], [data-test=who]')
  if (/\/login/.test(page.url())) {
    await login(page, 'admin', process.env.WORKPHONE_ADMIN_PASSWORD)
    await page.waitForURL(/\/dashboard/)
  }

  await test('the 外勤 menu opens the check-ins: that day’s rows, newest first, with their flags', async () => {
    await page.click('[data-test=menugroup-field]')
    await page.click('[data-test=menu-fieldCheckins]')
    await page.waitForURL(/\/field\/checkins/)
    await open(page, 'field/checkins?' + dayQuery, '[data-test=checkins-table] [data-test=checkin-kind]')
    const rows = await checkinRows(page)
    const all = [...want, other0] // the other's is the day's earliest
    expect(JSON.stringify(rows) === JSON.stringify(all), 'the rows: ' + JSON.stringify(rows))
    const outside = await page.locator('[data-test=checkins-table] tr.row-outside').count()
    expect(outside === 1, 'one row flagged outside: ' + outside)
  })

  await test('only outside, and one employee: the filters ask the server', async () => {
    await page.click('[data-test=checkins-outside]')
    await page.waitForFunction(() => document.querySelectorAll('[data-test=checkins-table] .el-table__body tr').length === 1)
    const rows = await checkinRows(page)
    expect(JSON.stringify(rows) === JSON.stringify([want[1]]), 'outside only: ' + JSON.stringify(rows))
    await open(page, `field/checkins?${dayQuery}&employee=${seller.id}`, '[data-test=checkins-table] [data-test=checkin-kind]')
    const mine = await checkinRows(page)
    expect(JSON.stringify(mine) === JSON.stringify(want), 'the salesperson’s: ' + JSON.stringify(mine))
  })

  await test('the visit’s photo loads and opens larger; its customer link opens the customer', async () => {
    const img = page.locator('[data-test=checkin-photo] img').first()
    await img.waitFor()
    await page.waitForFunction(() => document.querySelector('[data-test=checkin-photo] img')?.naturalWidth > 0)
    const w = await img.evaluate((el) => [el.naturalWidth, el.naturalHeight])
    expect(w[0] === 120 && w[1] === 90, 'the photo as uploaded: ' + w)
    await shots(page, 'field-checkins')
    await img.click()
    await page.waitForSelector('.el-image-viewer__img')
    await page.waitForFunction(() => document.querySelector('.el-image-viewer__img')?.naturalWidth === 120)
    await page.keyboard.press('Escape')
    await page.waitForSelector('.el-image-viewer__img', { state: 'detached' })
    await page.click('[data-test=checkin-customer]')
    await page.waitForURL(new RegExp('/customers/' + customerId + '$'))
    await page.waitForFunction((n) => document.querySelector('.page-title')?.textContent.includes(n), CUSTOMER.name)
  })

  await test('attendance: late and early leave on that day, the hours the server computed, the team’s totals', async () => {
    await open(page, `field/attendance?from=${day}&to=${day}&unit=${teamA.id}`, `[data-test=attendance-row][data-employee="${seller.id}"]`)
    const row = page.locator('[data-test=attendance-table] .el-table__body tr', { has: page.locator(`[data-test=attendance-row][data-employee="${seller.id}"]`) })
    const flags = await row.locator('[data-test=attendance-flag]').allTextContents()
    expect(JSON.stringify(flags) === JSON.stringify(['迟到', '早退']), 'the flags: ' + flags)
    const h = await row.locator('[data-test=attendance-hours]').textContent()
    expect(h.trim() === wantHours, `the hours: ${h}, from the events ${wantHours}`)
    const tin = await row.locator('[data-test=attendance-in]').textContent(), tout = await row.locator('[data-test=attendance-out]').textContent()
    expect(tin.trim() === clock(tIn, tz) && tout.trim() === clock(tOut, tz), `in ${tin} out ${tout}`)
    const names = await page.locator('[data-test=attendance-employee]').allTextContents()
    expect(!names.includes('二组小马') && names.includes('一组组长'), 'the team’s people: ' + names)
    // the team's totals: the salesperson and the manager (who clocked in never: missing)
    const tot = page.locator(`[data-test=attendance-total][data-unit="${teamA.id}"]`)
    const cells = (await tot.locator('td').allTextContents()).map((s) => s.trim())
    expect(JSON.stringify(cells) === JSON.stringify(['外勤一组', '2', '2', '1', '1', '1', wantHours, '2']), 'the totals: ' + JSON.stringify(cells))
    await shots(page, 'field-attendance')
  })

  await test('the attendance export is an XLSX with the day as the server counted it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wp-attendance-'))
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('[data-test=attendance-export] .el-button-group > .el-button:first-child'),
    ])
    const name = download.suggestedFilename()
    expect(/\.xlsx$/.test(name), 'an XLSX: ' + name)
    const path = join(dir, name)
    await download.saveAs(path)
    expect(readFileSync(path).subarray(0, 2).toString() === 'PK', 'a zip container')
    const cells = readXlsx(path)
    const head = cells[0]
    const mine = cells.slice(1).filter((x) => x[0] === seller.id)
    const col = (n) => head.indexOf(n)
    expect(mine.length === 1 && String(mine[0][col('date')]).startsWith(day) && +mine[0][col('late')] === 1 && +mine[0][col('early_leave')] === 1 && +mine[0][col('worked_minutes')] === worked,
      'the salesperson’s row: ' + JSON.stringify([head, mine]))
    expect(!cells.slice(1).some((x) => x[0] === other.id), 'the other team is not asked for')
  })

  await test('a manager sees only the team: the other salesperson is absent', async () => {
    const ctx = await browser.newContext(options)
    const p = await ctx.newPage()
    try {
      await login(p, MGR.username, MGR.password)
      await p.waitForURL(/\/dashboard/)
      await open(p, 'field/checkins?' + dayQuery, '[data-test=checkins-table] [data-test=checkin-kind]')
      const rows = await checkinRows(p)
      expect(JSON.stringify(rows) === JSON.stringify(want), 'the manager’s rows: ' + JSON.stringify(rows))
      // on a phone the same rows are cards, the one outside the fence flagged
      await p.setViewportSize({ width: 390, height: 844 })
      await p.waitForSelector('[data-test=checkins-list] [data-test=checkin-row]')
      const cards = await p.$$eval('[data-test=checkins-list] [data-test=checkin-row]', (els) => els.map((e) => [e.querySelector('[data-test=checkin-kind]').textContent.trim(), e.querySelector('[data-test=checkin-place]').dataset.place, e.classList.contains('outside')]))
      expect(JSON.stringify(cards) === JSON.stringify(want.map((w) => [w.kind, w.place, w.place === 'outside'])), 'the cards: ' + JSON.stringify(cards))
      const wide = await p.evaluate(() => document.documentElement.scrollWidth)
      expect(wide <= 390, 'nothing runs off a phone’s width: ' + wide)
      await p.setViewportSize(options.viewport)
      await open(p, `field/attendance?from=${day}&to=${day}`, `[data-test=attendance-row][data-employee="${seller.id}"]`)
      const names = await p.locator('[data-test=attendance-employee]').allTextContents()
      expect(names.includes('签到小林') && !names.includes('二组小马'), 'the manager’s attendance: ' + names)
    } finally {
      await ctx.close()
    }
  })
}
