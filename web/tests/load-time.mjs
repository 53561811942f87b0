// SPDX-License-Identifier: MIT
// The console's weight and first page load on loopback, for BENCHMARKS.md:
//   node web/tests/load-time.mjs ./build/src/cli/workphone [RUNS]
// Starts the server on a fresh data dir, then in headless Chromium loads /login with an empty
// cache RUNS times (navigation timing), and once logged in /dashboard until its numbers show.
import { chromium } from 'playwright-core'
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

const bin = process.argv[2]
const runs = Number(process.argv[3] || 10)
if (!bin) {
  console.error('usage: node web/tests/load-time.mjs PATH/TO/workphone [RUNS]')
  process.exit(2)
}
const dist = new URL('../dist/', import.meta.url).pathname
const password = 'bench-pass-1'

function bundle() {
  let js = 0, jsGz = 0, css = 0, cssGz = 0, files = 0
  for (const name of readdirSync(join(dist, 'assets'))) {
    if (!/\.(js|css)$/.test(name)) continue
    const data = readFileSync(join(dist, 'assets', name))
    const gz = gzipSync(data, { level: 9 }).length
    files++
    if (name.endsWith('.js')) (js += data.length), (jsGz += gz)
    else (css += data.length), (cssGz += gz)
  }
  return { js, jsGz, css, cssGz, files }
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const kib = (n) => (n / 1024).toFixed(0) + ' KiB'

const dir = mkdtempSync(join(tmpdir(), 'wp-web-bench.'))
execFileSync(bin, ['init', '--data', join(dir, 'd'), '--tenant', 'Bench', '--admin', 'admin'], {
  env: { ...process.env, WORKPHONE_ADMIN_PASSWORD: password },
  stdio: 'ignore',
})
const server = spawn(bin, ['serve', '--data', join(dir, 'd'), '--listen', '127.0.0.1:0', '--web', dist], { stdio: ['ignore', 'ignore', 'pipe'] })
const base = await new Promise((resolve, reject) => {
  let log = ''
  server.stderr.on('data', (d) => {
    log += d
    const m = /url=(http:\/\/127\.0\.0\.1:\d+)/.exec(log)
    if (m) resolve(m[1])
  })
  server.on('exit', () => reject(new Error('server exited: ' + log)))
})

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless'] })
try {
  const cold = []
  let wire = null
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext() // a fresh profile: nothing cached
    const page = await ctx.newPage()
    const t0 = Date.now()
    await page.goto(base + '/login')
    await page.waitForSelector('[data-test=login-submit]')
    const usable = Date.now() - t0
    const nav = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0]
      const res = performance.getEntriesByType('resource').filter((r) => /\.(js|css)$/.test(r.name))
      return {
        dcl: n.domContentLoadedEventEnd,
        load: n.loadEventEnd,
        files: res.length,
        encoded: res.reduce((s, r) => s + r.encodedBodySize, 0),
        decoded: res.reduce((s, r) => s + r.decodedBodySize, 0),
      }
    })
    cold.push({ ...nav, usable })
    wire = nav
    await ctx.close()
  }
  const ctx = await browser.newContext()
  const page = await ctx.newPage()
  await page.goto(base + '/login')
  await page.fill('[data-test=username]', 'admin')
  await page.fill('[data-test=password]', password)
  await page.click('[data-test=login-submit]')
  await page.waitForSelector('[data-test=stat-open]')
  const dash = []
  for (let i = 0; i < runs; i++) {
    const t0 = Date.now()
    await page.goto(base + '/dashboard')
    await page.waitForSelector('[data-test=stat-open]')
    dash.push(Date.now() - t0)
  }
  await ctx.close()

  const b = bundle()
  console.log(`chromium ${browser.version()}, ${runs} runs, ${new Date().toISOString()}`)
  console.log(`bundle: ${b.files} JS/CSS files; JS ${kib(b.js)} raw, ${kib(b.jsGz)} gzip; CSS ${kib(b.css)} raw, ${kib(b.cssGz)} gzip`)
  console.log(`/login loads ${wire.files} JS/CSS files: ${kib(wire.decoded)} raw, ${kib(wire.encoded)} on the wire (gzip)`)
  console.log(`/login, empty cache: DOMContentLoaded median ${median(cold.map((c) => c.dcl)).toFixed(0)} ms, load ${median(cold.map((c) => c.load)).toFixed(0)} ms, form usable ${median(cold.map((c) => c.usable))} ms (max ${Math.max(...cold.map((c) => c.usable))} ms)`)
  console.log(`/dashboard, logged in, cached: numbers shown after median ${median(dash)} ms (max ${Math.max(...dash)} ms)`)
} finally {
  await browser.close()
  server.kill('SIGTERM')
  await new Promise((r) => server.on('exit', r))
  rmSync(dir, { recursive: true, force: true })
}
