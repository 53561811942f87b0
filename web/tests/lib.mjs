// SPDX-License-Identifier: MIT
// What the browser suites share: the server's address, the API for the data they look at, a
// small runner (test, skip, expect), and page helpers (login, open, screenshots at desktop and
// phone width). web/tests/browser.mjs runs the suites of web/tests/suites/ in order.
import { join } from 'node:path'
export const BASE = process.env.WORKPHONE_URL
export const ADMIN_PW = process.env.WORKPHONE_ADMIN_PASSWORD
export const SHOTS = process.env.WORKPHONE_SCREENSHOTS || ''
export const CHROMIUM = process.env.WORKPHONE_CHROMIUM || '/usr/bin/chromium'
if (!BASE || !ADMIN_PW) {
  console.error('browser.mjs: WORKPHONE_URL and WORKPHONE_ADMIN_PASSWORD are needed')
  process.exit(2)
}

// --- the API, for the data the tests look at ----------------------------------------------

export async function call(method, path, { token, json } = {}) {
  const headers = {}
  if (token) headers.Authorization = 'Bearer ' + token
  if (json !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(BASE + '/api/v1' + path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) })
  const text = await res.text()
  let body = null
  try {
    body = text ? JSON.parse(text) : null
  } catch {
    body = text
  }
  return { status: res.status, body }
}

export async function must(method, path, opts, want) {
  const r = await call(method, path, opts)
  if (r.status !== want) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`)
  return r.body
}

// every open alert, page after page (a page holds at most 200)
export async function allOpenAlerts(tok) {
  const all = []
  let cursor = ''
  do {
    const page = await must('GET', '/alerts?status=open&limit=200' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''), { token: tok }, 200)
    all.push(...page.items)
    cursor = page.next_cursor
  } while (cursor)
  return all
}

export const ago = (min) => new Date(Date.now() - min * 60000).toISOString().replace(/\.\d{3}Z$/, 'Z')


// --- a small runner ---------------------------------------------------------------------------

let passed = 0
let failed = 0
let skipped = 0
const results = []

// passed, failed and skipped so far
export function counts() {
  return { passed, failed, skipped }
}

export async function test(name, fn) {
  const t0 = Date.now()
  try {
    await fn()
    passed++
    results.push(`ok   ${name} (${Date.now() - t0} ms)`)
  } catch (e) {
    failed++
    results.push(`FAIL ${name}: ${e.message.split('\n').slice(0, 6).join('\n     ')}`)
  }
  console.log(results[results.length - 1])
}

export function skip(name, why) {
  skipped++
  console.log(`skip ${name}: ${why}`)
}

export function expect(cond, what) {
  if (!cond) throw new Error(what)
}

// Errors the page logs, less the failed requests the tests cause on purpose (401, 429, 400).
export function watch(page) {
  const errors = []
  page.on('pageerror', (e) => errors.push('pageerror: ' + e.message))
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push('console: ' + m.text())
  })
  return errors
}

export async function shot(page, name) {
  if (!SHOTS) return
  // let charts and transitions settle; the picture is for people, not an assertion
  await page.waitForTimeout(400)
  await page.screenshot({ path: join(SHOTS, name + '.png') })
}

// One part of a page (a card below the fold) at desktop width and at a phone's: the element
// alone, scrolled into view by the browser.
export async function shotsOf(page, sel, name) {
  if (!SHOTS) return
  const size = page.viewportSize()
  await page.waitForTimeout(400)
  await page.evaluate(() => document.querySelectorAll('.el-message').forEach((m) => m.remove()))
  await page.locator(sel).screenshot({ path: join(SHOTS, name + '.png') })
  await page.setViewportSize({ width: 390, height: 844 })
  await page.waitForTimeout(400)
  await page.locator(sel).screenshot({ path: join(SHOTS, name + '-phone.png') })
  await page.setViewportSize(size)
}

// The same page at desktop width (name.png) and at a phone's, 390 px (name-phone.png): a
// manager reads the alerts, customers and search on a phone.
export async function shots(page, name) {
  if (!SHOTS) return
  const size = page.viewportSize()
  await shot(page, name)
  await page.setViewportSize({ width: 390, height: 844 })
  await shot(page, name + '-phone')
  await page.setViewportSize(size)
}

export const adminApi = async () => (await must('POST', '/auth/login', { json: { username: 'admin', password: ADMIN_PW } }, 200)).token

export async function login(page, user, password) {
  await page.goto(BASE + '/login')
  await page.fill('[data-test=username]', user)
  await page.fill('[data-test=password]', password)
  await page.click('[data-test=login-submit]')
}

// A page by its path: a fresh load each time (the session comes back from the cookie), so
// that one test's open dialog cannot spoil the next.
export async function open(page, name, ready) {
  await page.goto(BASE + '/' + name)
  await page.waitForSelector(ready)
}

export async function menuNames(page) {
  return page.$$eval('[data-test=menu] [data-test^=menu-]', (els) => els.map((e) => e.getAttribute('data-test').slice(5)))
}

