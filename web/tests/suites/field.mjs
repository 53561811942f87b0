// SPDX-License-Identifier: MIT
// 外勤 (issue 18): a salesperson's phone sends a route through the device API (north, a stop of
// 15 minutes, east, a stop of 12 minutes, south: one point a minute); the admin opens the track
// player, picks the salesperson and the day, presses play, and the marker moves along the
// route: where it stands is the route's point for the player's time, and it moves on screen.
// The stops list gives exactly 15 and 12 minutes, the distance is the route's; the map of
// today's positions shows the salesperson's marker at the last point. The map runs without
// tiles (a plain grid): the test is offline. Then the admin sets Chinese tiles (GCJ-02) on the
// settings page, with a tile URL on the test server itself (the tiles fail to load, the page
// still works), and the track's marker is drawn at the GCJ-02 conversion of the route.
import { ADMIN_PW, BASE, adminApi, expect, login, must, open, shots, test } from '../lib.mjs'
import { distance, positionAt, wgsToGcj } from '../../src/components/geo.js'

const ZONE = 'Asia/Shanghai' // the tenant's default time zone, and the browser's (browser.mjs)
const SELLER = { name: '外勤小周', username: 'fieldsales', password: 'field-sales-pass-1' }
const LAT0 = 31.2, LON0 = 121.4
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
const dayIn = (ms) => new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms))

// [minute, lat, lon]: 45 minutes, 46 points
function route() {
  const r = []
  for (let k = 0; k < 5; k++) r.push([k, LAT0 + 0.003 * k, LON0])
  const s1 = [LAT0 + 0.015, LON0]
  for (let m = 5; m <= 20; m++) r.push([m, ...s1])
  for (let j = 1; j <= 9; j++) r.push([20 + j, s1[0], s1[1] + 0.004 * j])
  const s2 = [s1[0], s1[1] + 0.04]
  for (let m = 30; m <= 42; m++) r.push([m, ...s2])
  for (let i = 1; i <= 3; i++) r.push([42 + i, s2[0] - 0.003 * i, s2[1]])
  return r
}

export async function run({ page }) {
  const tok = await adminApi()
  // the route lies at whatever hour the suite runs: the tenant keeps locations outside working
  // hours, which it drops by default
  await must('PUT', '/settings', { token: tok, json: { locations_off_duty: 'keep' } }, 200)
  const me = (await must('GET', '/auth/session', { token: tok }, 200)).employee
  const seller = await must('POST', '/employees', { token: tok, json: { name: SELLER.name, org_unit_id: me.org_unit_id, role: 'sales', username: SELLER.username, password: SELLER.password } }, 201)
  const { code } = await must('POST', `/employees/${seller.id}/enrollment-codes`, { token: tok, json: {} }, 201)
  const dev = await must('POST', '/device/enroll', { json: { code, serial: 'SN-FIELD-0001', model: 'Workphone X1' } }, 201)

  // the route is yesterday's, ending a minute before midnight, whatever the hour of the run,
  // so the player always changes the day; today's position is sent a minute ago (at midnight
  // at the earliest)
  const now = Math.floor(Date.now() / 60000) * 60000
  const midnight = Date.parse(dayIn(now) + 'T00:00:00+08:00')
  const t0 = midnight - 46 * 60000
  const extra = Math.max(now - 60000, midnight)
  const pts = route().map(([m, lat, lon]) => ({ ts: iso(t0 + m * 60000), lat, lon }))
  const events = pts.map((p, i) => ({ seq: i + 1, type: 'location', ts: p.ts, lat: p.lat, lon: p.lon, accuracy_m: 8 }))
  const last = pts[pts.length - 1]
  events.push({ seq: events.length + 1, type: 'location', ts: iso(extra), lat: last.lat, lon: last.lon, accuracy_m: 8 })
  const r = await must('POST', '/device/events', { token: dev.token, json: { events } }, 200)
  expect(r.acked_seq === events.length && r.rejected.length === 0, 'the route is stored: ' + JSON.stringify(r))
  const day = dayIn(t0)
  let want = 0
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1], b = pts[i]
    const inStop = (m) => (m >= 5 && m <= 20) || (m >= 30 && m <= 42)
    const ma = (Date.parse(a.ts) - t0) / 60000, mb = (Date.parse(b.ts) - t0) / 60000
    if (!(inStop(ma) && inStop(mb))) want += distance(a.lat, a.lon, b.lat, b.lon)
  }

  await page.goto(BASE + '/dashboard')
  await page.waitForSelector('[data-test=login-submit], [data-test=who]')
  if (/\/login/.test(page.url())) {
    await login(page, 'admin', ADMIN_PW)
    await page.waitForURL(/\/dashboard/)
  }

  await test('the 外勤 menu holds the map and the track player', async () => {
    await page.click('[data-test=menugroup-field]')
    await page.click('[data-test=menu-fieldTrack]')
    await page.waitForURL(/\/field\/track/)
    await page.waitForSelector('[data-test=track-map].plain-grid')
  })

  await test('the track player plays one employee’s day: stops, distance, the marker on the route', async () => {
    await page.click('[data-test=track-employee]')
    await page.locator('.el-select-dropdown__item:visible', { hasText: SELLER.name }).first().click()
    const input = page.locator('[data-test=track-day] input').first()
    await input.fill(day)
    await input.press('Enter')
    // the player shows that day's track once the page names the day and lists its stops
    await page.waitForURL(new RegExp('day=' + day))
    await page.waitForSelector('[data-test=stop-duration]')
    const durs = await page.locator('[data-test=stop-duration]').allTextContents()
    expect(JSON.stringify(durs) === JSON.stringify(['15 分钟', '12 分钟']), 'the stops: ' + durs)
    const dist = await page.textContent('[data-test=track-distance]')
    expect(dist.includes(`${(want / 1000).toFixed(2)} 公里`), `the distance: ${dist}, by hand ${want}`)

    const clock = page.locator('[data-test=track-clock]')
    const state = async () => ({ ts: await clock.getAttribute('data-ts'), lat: +(await clock.getAttribute('data-lat')), lon: +(await clock.getAttribute('data-lon')) })
    const box = async () => page.locator('.player-marker').boundingBox()
    const s0 = await state()
    expect(s0.ts === new Date(Date.parse(pts[0].ts)).toISOString() && s0.lat === LAT0 && s0.lon === LON0, 'the marker starts at the first point: ' + JSON.stringify(s0))
    const b0 = await box()
    await page.click('[data-test=track-speed-60]')
    await page.click('[data-test=track-play]')
    // at 60x a minute of the route passes every second: wait until the marker is past the
    // first three minutes of the route, then pause
    await page.waitForFunction((t) => Date.parse(document.querySelector('[data-test=track-clock]').dataset.ts) >= t, Date.parse(pts[3].ts), { timeout: 20000 })
    await page.click('[data-test=track-pause]')
    const s1 = await state()
    const at = positionAt(pts, Date.parse(s1.ts))
    expect(Math.abs(s1.lat - at[0]) < 1e-7 && Math.abs(s1.lon - at[1]) < 1e-7,
      `the marker at ${s1.ts} is at ${s1.lat},${s1.lon}, the route there ${at}`)
    expect(s1.lat > LAT0 + 0.009 - 1e-9, 'the marker went north: ' + JSON.stringify(s1))
    const b1 = await box()
    expect(b1.y < b0.y - 5, `the marker moved up the screen: ${JSON.stringify(b0)} -> ${JSON.stringify(b1)}`)
    // a stop in the list puts the player at its start, at the stop's place
    await page.click('[data-test=track-stop-1]')
    const s2 = await state()
    expect(s2.ts === new Date(Date.parse(pts[0].ts) + 30 * 60000).toISOString() && Math.abs(s2.lat - (LAT0 + 0.015)) < 1e-9 && Math.abs(s2.lon - (LON0 + 0.04)) < 1e-9,
      'the second stop: ' + JSON.stringify(s2))
    await shots(page, 'field-track')
  })

  await test('the map shows today’s position of the employee', async () => {
    await open(page, 'field/map', `[data-test=map-row-${seller.id}]`)
    await page.waitForSelector(`.pos-marker[data-employee="${seller.id}"]`)
    const row = await page.textContent(`[data-test=map-row-${seller.id}]`)
    expect(row.includes(SELLER.name) && row.includes('±8 m'), 'the row: ' + row)
    await page.click(`.pos-marker[data-employee="${seller.id}"]`)
    const popup = await page.textContent('.leaflet-popup-content')
    expect(popup.includes(SELLER.name), 'the popup: ' + popup)
    await shots(page, 'field-map')
  })

  await test('with Chinese tiles (GCJ-02) the track marker is drawn at the converted route', async () => {
    const TILES = BASE + '/tiles-test/{z}/{x}/{y}.png'
    await open(page, 'settings/alerts', '[data-test=map-save]')
    // a template without {y}: refused, said in words, nothing stored
    await page.fill('[data-test=map-tiles-url]', BASE + '/tiles-test/{z}/{x}.png')
    await page.click('[data-test=map-crs-gcj02]')
    await page.click('[data-test=map-save]')
    const err = page.locator('[data-test=limits-map] .el-alert')
    await err.waitFor()
    const said = await err.textContent()
    expect(said.includes('瓦片地址') && !said.includes('map_tiles_url'), 'the refusal: ' + said)
    let s = (await must('GET', '/settings', { token: tok }, 200)).settings
    expect(s.map_tiles_url === '' && s.map_crs === 'wgs84', 'nothing stored: ' + JSON.stringify(s))
    await page.fill('[data-test=map-tiles-url]', TILES)
    await page.click('[data-test=map-save]')
    await page.waitForFunction(() => !document.querySelector('[data-test=limits-map] .el-alert') && document.querySelector('.el-message--success'))
    s = (await must('GET', '/settings', { token: tok }, 200)).settings
    expect(s.map_tiles_url === TILES && s.map_crs === 'gcj02', 'stored: ' + JSON.stringify(s))
    await page.locator('[data-test=limits-map]').scrollIntoViewIfNeeded()
    await shots(page, 'settings-map')

    const tiles = []
    const seen = (req) => { if (req.url().includes('/tiles-test/')) tiles.push(req.url()) }
    page.on('request', seen)
    try {
      await open(page, 'field/track', '[data-test=track-map]')
      await page.click('[data-test=track-employee]')
      await page.locator('.el-select-dropdown__item:visible', { hasText: SELLER.name }).first().click()
      const input = page.locator('[data-test=track-day] input').first()
      await input.fill(day)
      await input.press('Enter')
      // the player shows that day's track once the page names the day and lists its stops
      await page.waitForURL(new RegExp('day=' + day))
      await page.waitForSelector('[data-test=stop-duration]')
      const grid = await page.locator('[data-test=track-map].plain-grid').count()
      expect(grid === 0, 'a tile layer, not the grid')
      const durs = await page.locator('[data-test=stop-duration]').allTextContents()
      expect(JSON.stringify(durs) === JSON.stringify(['15 分钟', '12 分钟']), 'the stops with tiles that fail: ' + durs)
      const drawn = async () => {
        const m = page.locator('.player-marker')
        return [+(await m.getAttribute('data-lat')), +(await m.getAttribute('data-lon'))]
      }
      const near = (a, b) => Math.abs(a[0] - b[0]) < 1e-9 && Math.abs(a[1] - b[1]) < 1e-9
      const g0 = wgsToGcj(LAT0, LON0)
      expect(Math.abs(g0[0] - LAT0) + Math.abs(g0[1] - LON0) > 0.001, 'GCJ-02 moves Shanghai: ' + g0)
      let d = await drawn()
      expect(near(d, g0), `the marker at the first point is drawn at ${d}, GCJ-02 of the route ${g0}`)
      await page.click('[data-test=track-speed-60]')
      await page.click('[data-test=track-play]')
      await page.waitForFunction((t) => Date.parse(document.querySelector('[data-test=track-clock]').dataset.ts) >= t, Date.parse(pts[2].ts), { timeout: 20000 })
      await page.click('[data-test=track-pause]')
      const ts = Date.parse(await page.locator('[data-test=track-clock]').getAttribute('data-ts'))
      const at = positionAt(pts, ts)
      d = await drawn()
      expect(near(d, wgsToGcj(at[0], at[1])), `the marker at ${new Date(ts).toISOString()} is drawn at ${d}, GCJ-02 of the route ${wgsToGcj(at[0], at[1])}`)
      await page.click('[data-test=track-stop-1]')
      d = await drawn()
      const g2 = wgsToGcj(LAT0 + 0.015, LON0 + 0.04)
      expect(near(d, g2), `the second stop is drawn at ${d}, GCJ-02 ${g2}`)
      expect(tiles.length > 0 && tiles.every((u) => /\/tiles-test\/\d+\/\d+\/\d+\.png$/.test(u)), 'the tiles asked of the template: ' + tiles.slice(0, 3))
    } finally {
      page.off('request', seen)
      await must('PUT', '/settings', { token: tok, json: { map_tiles_url: '', map_crs: 'wgs84' } }, 200)
    }
    s = (await must('GET', '/settings', { token: tok }, 200)).settings
    expect(s.map_tiles_url === '' && s.map_crs === 'wgs84', 'set back: ' + JSON.stringify(s))
  })
}
