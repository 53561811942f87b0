// SPDX-License-Identifier: MIT
// 外勤 · 电子围栏 (issue 18): the admin opens the geofence page at a known view (?lat=&lon=&z=),
// draws a polygon by clicking four points and a circle by clicking its centre and its edge, and
// saves both; where they are stored (GET /api/v1/geofences) is compared, within a metre, with
// what this file computes from the clicked pixels with its own Web Mercator math (nothing is
// read from the page's code). A corner is dragged and the stored polygon follows; the circle is
// deleted after a confirmation. Then a salesperson's phone in that unit walks out of the
// polygon and back, within the fence's own schedule (every day, all day, so the test works at
// any hour): exactly one `geofence` alert. Last, with GCJ-02 tiles a polygon drawn on the map is
// stored at gcjToWgs of the clicked points, and gcjToWgs undoes wgsToGcj within half a metre.
import { BASE, adminApi, allOpenAlerts, expect, login, must, open, shots, test } from '../lib.mjs'
import { distance, gcjToWgs, wgsToGcj } from '../../src/components/geo.js'

const LAT0 = 30.6, LON0 = 104.05 // Chengdu, away from the field suite's Shanghai
const Z = 17
const SELLER = { name: '围栏小吴', username: 'fencesales', password: 'fence-sales-pass-1' }
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

// Web Mercator as every slippy map has it: 256 px tiles, world pixels at zoom z
const SIZE = (z) => 256 * 2 ** z
const toWorld = (lat, lon, z) => {
  const s = Math.sin((lat * Math.PI) / 180)
  return [((lon + 180) / 360) * SIZE(z), (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * SIZE(z)]
}
const fromWorld = (x, y, z) => [(Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / SIZE(z))))) * 180 / Math.PI, (x / SIZE(z)) * 360 - 180]

// The map element at ?lat=LAT0&lon=LON0&z=Z: its top left on the page and in world pixels (the
// centre of the view at the middle of the element, rounded to a whole pixel as maps do)
async function frame(page, lat = LAT0, lon = LON0) {
  const m = await page.locator('[data-test=fence-map]').evaluate((e) => {
    const r = e.getBoundingClientRect()
    return { left: r.left + e.clientLeft, top: r.top + e.clientTop, w: e.clientWidth, h: e.clientHeight }
  })
  const [cx, cy] = toWorld(lat, lon, Z)
  return { ...m, ox: Math.round(cx - m.w / 2), oy: Math.round(cy - m.h / 2) }
}
// the point under a page pixel
const pointAt = (f, px, py) => fromWorld(px - f.left + f.ox, py - f.top + f.oy, Z)

const near = (a, b, m = 1) => distance(a[0], a[1], b[0], b[1]) <= m

async function openAtView(page, lat = LAT0, lon = LON0) {
  await open(page, `field/geofences?lat=${lat}&lon=${lon}&z=${Z}`, '[data-test=fence-map]')
  await page.waitForSelector('[data-test=fence-draw-polygon]')
  await page.waitForTimeout(300) // the map settles its size
  return frame(page, lat, lon)
}

async function fillForm(page, name, { allDay = false } = {}) {
  await page.fill('[data-test=fence-name]', name)
  if (allDay) {
    await page.click('[data-test=fence-schedule-custom]')
    await page.click('[data-test=fence-day-6]')
    await page.click('[data-test=fence-day-7]')
    await page.click('[data-test=fence-from]')
    await page.locator('.el-select-dropdown__item:visible', { hasText: /^00:00$/ }).first().click()
    await page.click('[data-test=fence-to]')
    await page.locator('.el-select-dropdown__item:visible', { hasText: /^24:00$/ }).first().click()
  }
}

async function saveForm(page, tok, name) {
  await page.click('[data-test=fence-save]')
  await page.waitForSelector('[data-test=fence-form]', { state: 'detached', timeout: 5000 }).catch(async (e) => {
    if (process.env.FENCES_DEBUG) await page.screenshot({ path: '/tmp/fences-fail.png' })
    throw new Error(`the form stays: ${await page.locator('[data-test=fence-error]').textContent().catch(() => '')} ${e.message}`)
  })
  const f = (await must('GET', '/geofences', { token: tok }, 200)).items.find((x) => x.name === name)
  expect(f, `${name} is stored`)
  await page.waitForSelector(`[data-test=fence-row-${f.id}]`)
  return f
}

export async function run({ browser, options, page }) {
  const tok = await adminApi()
  // the walk below lies at whatever hour the suite runs: the tenant keeps off-duty locations
  // (its default drops them), and the fence it leaves is in force all day
  await must('PUT', '/settings', { token: tok, json: { locations_off_duty: 'keep' } }, 200)
  const me = (await must('GET', '/auth/session', { token: tok }, 200)).employee
  // fences an earlier suite left in the admin's scope are drawn too
  const others = (await must('GET', '/geofences', { token: tok }, 200)).items.length
  const size = page.viewportSize()
  // polygon corners and the circle, as page pixels from the middle of the map
  let poly = [], polyPx = [], polygon = null, circle = null

  await test('the 外勤 menu holds the geofence page; a polygon drawn with four clicks is stored where it was clicked', async () => {
    await open(page, 'dashboard', '[data-test=who]')
    await page.click('[data-test=menugroup-field]')
    await page.click('[data-test=menu-fieldFences]')
    await page.waitForURL(/\/field\/geofences/)
    const f = await openAtView(page)
    const mx = f.left + f.w / 2, my = f.top + f.h / 2
    polyPx = [[-120, -90], [110, -100], [130, 80], [-100, 100]].map(([dx, dy]) => [Math.round(mx + dx), Math.round(my + dy)])
    await page.click('[data-test=fence-draw-polygon]')
    // a stray click, taken back with undo; Esc then cancels a started sketch
    await page.mouse.click(polyPx[0][0], polyPx[0][1])
    expect((await page.textContent('[data-test=fence-hint]')).includes('已点 1 个'), 'one corner')
    await page.keyboard.press('Escape')
    await page.waitForSelector('[data-test=fence-draw-polygon]')
    await page.click('[data-test=fence-draw-polygon]')
    await page.mouse.click(mx + 5, my + 170)
    await page.click('[data-test=fence-undo]')
    for (const [x, y] of polyPx) await page.mouse.click(x, y)
    expect((await page.textContent('[data-test=fence-hint]')).includes('已点 4 个'), 'four corners')
    // closing on the first corner
    await page.mouse.click(polyPx[0][0], polyPx[0][1])
    await page.waitForSelector('[data-test=fence-form]')
    // a save without a name is refused in words, before the server
    await page.click('[data-test=fence-save]')
    const said = await page.textContent('[data-test=fence-error]')
    expect(said.includes('请填写围栏名称'), 'no name: ' + said)
    await fillForm(page, '春熙路片区', { allDay: true })
    polygon = await saveForm(page, tok, '春熙路片区')
    poly = polyPx.map(([x, y]) => pointAt(f, x, y))
    const got = polygon.shape.points.map(([lon, lat]) => [lat, lon])
    expect(polygon.shape.type === 'polygon' && got.length === 4, 'the shape: ' + JSON.stringify(polygon.shape))
    got.forEach((p, i) => expect(near(p, poly[i]), `corner ${i} stored at ${p}, clicked at ${poly[i]} (${distance(p[0], p[1], poly[i][0], poly[i][1]).toFixed(2)} m)`))
    expect(polygon.org_unit_id === me.org_unit_id, 'the unit: ' + polygon.org_unit_id)
    expect(JSON.stringify(polygon.schedule) === JSON.stringify({ days: [1, 2, 3, 4, 5, 6, 7], from: '00:00', to: '24:00' }), 'the schedule: ' + JSON.stringify(polygon.schedule))
    const row = await page.textContent(`[data-test=fence-row-${polygon.id}]`)
    expect(row.includes('春熙路片区') && row.includes('多边形 · 4 个顶点') && row.includes('每天 00:00–24:00'), 'the row: ' + row)
  })

  await test('a circle: the centre clicked, the edge clicked; the radius in metres, the working hours by default', async () => {
    const f = await openAtView(page)
    const c = [Math.round(f.left + f.w / 2 + 260), Math.round(f.top + f.h / 2 - 150)]
    const e = [c[0] + 70, c[1] + 20]
    await page.click('[data-test=fence-draw-circle]')
    await page.mouse.click(c[0], c[1])
    await page.waitForSelector('[data-test=fence-radius-typed]')
    await page.mouse.click(e[0], e[1])
    await page.waitForSelector('[data-test=fence-form]')
    await fillForm(page, '门店一公里')
    circle = await saveForm(page, tok, '门店一公里')
    const at = pointAt(f, ...c), edge = pointAt(f, ...e)
    const r = distance(at[0], at[1], edge[0], edge[1])
    const got = [circle.shape.center[1], circle.shape.center[0]]
    expect(circle.shape.type === 'circle' && near(got, at), `the centre stored at ${got}, clicked at ${at}`)
    expect(Math.abs(circle.shape.radius_m - r) <= 1, `the radius ${circle.shape.radius_m} m, clicked ${r.toFixed(2)} m`)
    expect(circle.schedule === null, 'working hours: ' + JSON.stringify(circle.schedule))
    const row = await page.textContent(`[data-test=fence-row-${circle.id}]`)
    expect(row.includes(`圆形 · 半径 ${circle.shape.radius_m} 米`) && row.includes('按工作时间'), 'the row: ' + row)
    // both drawn on the map
    const shapes = await page.locator('path.fence-shape').count()
    expect(shapes === others + 2, `two shapes on the map beside the ${others} there were: ${shapes}`)
  })

  await test('dragging a corner of the polygon moves the stored corner; the circle is deleted after a confirmation', async () => {
    const f = await openAtView(page)
    // the fence is in view, so editing keeps the view: the corner's handle is where it was
    // clicked, and the stored corner follows the handle dragged 40 px right and 30 px down
    await page.click(`[data-test=fence-edit-${polygon.id}]`)
    const h = page.locator('[data-test=fence-vertex-2]')
    await h.waitFor()
    const b = await h.boundingBox()
    const from = polyPx[2], to = [from[0] + 40, from[1] + 30]
    expect(Math.abs(b.x + b.width / 2 - from[0]) <= 1 && Math.abs(b.y + b.height / 2 - from[1]) <= 1, `the handle at ${JSON.stringify(b)}, the corner clicked at ${from}`)
    await page.mouse.move(from[0], from[1])
    await page.mouse.down()
    await page.mouse.move(from[0] + 20, from[1] + 15, { steps: 4 })
    await page.mouse.move(to[0], to[1], { steps: 4 })
    await page.mouse.up()
    await page.fill('[data-test=fence-name]', '春熙路片区（扩大）')
    await page.click('[data-test=fence-save]')
    await page.waitForSelector('[data-test=fence-form]', { state: 'detached' })
    const after = await must('GET', `/geofences/${polygon.id}`, { token: tok }, 200)
    const now = after.shape.points.map(([lon, lat]) => [lat, lon])
    for (const i of [0, 1, 3]) expect(near(now[i], poly[i]), `corner ${i} stays: ${now[i]}, was ${poly[i]}`)
    const want = pointAt(f, ...to)
    expect(near(now[2], want), `corner 2 stored at ${now[2]}, dragged to ${want} (${distance(now[2][0], now[2][1], want[0], want[1]).toFixed(2)} m)`)
    expect(after.name === '春熙路片区（扩大）' && JSON.stringify(after.schedule) === JSON.stringify(polygon.schedule), 'name and schedule: ' + JSON.stringify(after))
    polygon = after
    poly = now

    await page.click(`[data-test=fence-delete-${circle.id}]`)
    await page.locator('.el-message-box__btns .el-button--primary').click()
    await page.waitForSelector(`[data-test=fence-row-${circle.id}]`, { state: 'detached' })
    await must('GET', `/geofences/${circle.id}`, { token: tok }, 404)
    const list = (await must('GET', '/geofences', { token: tok }, 200)).items
    expect(list.some((x) => x.id === polygon.id) && !list.some((x) => x.id === circle.id), 'the list: ' + list.map((x) => x.name))
    // the picture: the fence list, and the polygon being edited with its corner handles
    await page.click(`[data-test=fence-edit-${polygon.id}]`)
    await page.waitForSelector('[data-test=fence-vertex-3]')
    await page.waitForSelector('.el-message', { state: 'detached' })
    await shots(page, 'field-fences')
    await page.click('[data-test=fence-form-cancel]')
  })

  await test('a salesperson’s phone leaves the drawn polygon and comes back: exactly one geofence alert', async () => {
    const seller = await must('POST', '/employees', { token: tok, json: { name: SELLER.name, org_unit_id: me.org_unit_id, role: 'sales', username: SELLER.username, password: SELLER.password } }, 201)
    const { code } = await must('POST', `/employees/${seller.id}/enrollment-codes`, { token: tok, json: {} }, 201)
    const dev = await must('POST', '/device/enroll', { json: { code, serial: 'SN-FENCE-0001', model: 'Workphone X1' } }, 201)
    const pts = polygon.shape.points.map(([lon, lat]) => [lat, lon])
    const mid = [pts.reduce((a, p) => a + p[0], 0) / 4, pts.reduce((a, p) => a + p[1], 0) / 4]
    // inside at the middle, out 400 m south of the fence (well beyond the 30 m band), back in
    const south = Math.min(...pts.map((p) => p[0])) - 400 / 111195
    const walk = [mid, mid, [south, mid[1]], [south, mid[1]], mid, mid]
    const t0 = Math.floor(Date.now() / 60000) * 60000 - walk.length * 60000
    const events = walk.map(([lat, lon], i) => ({ seq: i + 1, type: 'location', ts: iso(t0 + i * 60000), lat, lon, accuracy_m: 10 }))
    const r = await must('POST', '/device/events', { token: dev.token, json: { events } }, 200)
    expect(r.acked_seq === events.length && r.rejected.length === 0, 'the walk is taken: ' + JSON.stringify(r))
    const alerts = (await allOpenAlerts(tok)).filter((a) => a.kind === 'geofence' && a.employee_id === seller.id)
    expect(alerts.length === 1, 'one geofence alert: ' + JSON.stringify(alerts))
  })

  await test('a fence deleted while its form is open: the save says so in words; a salesperson reads the fences but draws none', async () => {
    const gone = await must('POST', '/geofences', { token: tok, json: { name: '临时围栏', org_unit_id: me.org_unit_id, shape: { type: 'circle', center: [LON0 + 0.01, LAT0 + 0.01], radius_m: 120 } } }, 201)
    await openAtView(page)
    await page.click(`[data-test=fence-edit-${gone.id}]`)
    await page.waitForSelector('[data-test=fence-form]')
    await must('DELETE', `/geofences/${gone.id}`, { token: tok }, 204)
    await page.click('[data-test=fence-save]')
    const said = await page.locator('[data-test=fence-error]').textContent()
    expect(said.includes('找不到它了') && !/not_found|404|geofence/.test(said), 'the refusal: ' + said)
    await page.click('[data-test=fence-form-cancel]')

    const ctx = await browser.newContext(options)
    const sp = await ctx.newPage()
    try {
      await login(sp, SELLER.username, SELLER.password)
      await sp.waitForURL(/\/dashboard/)
      await sp.goto(BASE + '/field/geofences')
      await sp.waitForSelector(`[data-test=fence-row-${polygon.id}]`)
      expect((await sp.locator('[data-test=fence-tools], [data-test^=fence-edit-], [data-test^=fence-delete-]').count()) === 0, 'the salesperson has no drawing or editing buttons')
      expect((await sp.locator('path.fence-shape').count()) === 1, 'the fence is drawn for the salesperson')
    } finally {
      await ctx.close()
    }
  })

  await test('with GCJ-02 tiles a fence drawn on the map is stored at the inverse conversion', async () => {
    for (const [lat, lon] of [[LAT0, LON0], [39.90105, 116.42079], [22.54, 114.06], [45.75, 126.63]]) {
      const g = wgsToGcj(lat, lon), w = gcjToWgs(g[0], g[1])
      expect(distance(lat, lon, w[0], w[1]) < 0.5, `the round trip at ${lat},${lon} ends at ${w}`)
    }
    await must('PUT', '/settings', { token: tok, json: { map_crs: 'gcj02' } }, 200)
    try {
      const f = await openAtView(page)
      // the saved polygon is drawn shifted: its first corner's handle is where GCJ-02 puts it
      const mx = f.left + f.w / 2, my = f.top + f.h / 2
      const px = [[-60, 120], [60, 120], [0, 200]].map(([dx, dy]) => [Math.round(mx + dx), Math.round(my + dy)])
      await page.click('[data-test=fence-draw-polygon]')
      for (const [x, y] of px) await page.mouse.click(x, y)
      await page.click('[data-test=fence-finish]')
      await page.waitForSelector('[data-test=fence-form]')
      await fillForm(page, '火车站（GCJ-02）')
      const g = await saveForm(page, tok, '火车站（GCJ-02）')
      const got = g.shape.points.map(([lon, lat]) => [lat, lon])
      px.forEach(([x, y], i) => {
        const drawn = pointAt(f, x, y), want = gcjToWgs(drawn[0], drawn[1])
        expect(near(got[i], want), `corner ${i} stored at ${got[i]}, gcjToWgs of the click ${want}`)
        expect(distance(got[i][0], got[i][1], drawn[0], drawn[1]) > 100, `corner ${i} is not stored as drawn`)
      })
      await must('DELETE', `/geofences/${g.id}`, { token: tok }, 204)
      // the earlier polygon is drawn at its GCJ-02 place: opened at wgsToGcj of a stored
      // corner, that corner's handle is in the middle of the map
      const at = wgsToGcj(poly[0][0], poly[0][1])
      const f2 = await openAtView(page, at[0], at[1])
      await page.click(`[data-test=fence-edit-${polygon.id}]`)
      const b = await page.locator('[data-test=fence-vertex-0]').boundingBox()
      const shown = pointAt(f2, b.x + b.width / 2, b.y + b.height / 2)
      expect(near(shown, at, 1.5), `corner 0 drawn at ${shown}, GCJ-02 of the stored one ${at}`)
      expect(distance(shown[0], shown[1], poly[0][0], poly[0][1]) > 100, 'drawn shifted from WGS-84')
      await page.click('[data-test=fence-form-cancel]')
    } finally {
      await must('PUT', '/settings', { token: tok, json: { map_crs: 'wgs84' } }, 200)
    }
  })

  await test('at 390 px the list stands above the map and drawing still works', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    try {
      const f = await openAtView(page)
      const list = await page.locator('[data-test=fence-list]').boundingBox()
      expect(list.y + list.height <= f.top + 1, `the list ${JSON.stringify(list)} above the map at ${f.top}`)
      expect(f.w >= 340, 'the map is wide: ' + f.w)
      await page.click('[data-test=fence-draw-circle]')
      const c = [Math.round(f.left + f.w / 2), Math.round(f.top + f.h / 2)]
      await page.mouse.click(c[0], c[1])
      await page.fill('[data-test=fence-radius-typed] input, input[data-test=fence-radius-typed]', '250')
      await page.click('[data-test=fence-radius-ok]')
      await page.waitForSelector('[data-test=fence-form]')
      await fillForm(page, '手机上画的圈')
      const g = await saveForm(page, tok, '手机上画的圈')
      const at = pointAt(f, ...c)
      expect(g.shape.radius_m === 250 && near([g.shape.center[1], g.shape.center[0]], at), 'the circle: ' + JSON.stringify(g.shape))
      await must('DELETE', `/geofences/${g.id}`, { token: tok }, 204)
    } finally {
      await page.setViewportSize(size)
    }
  })
}
