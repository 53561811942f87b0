// SPDX-License-Identifier: MIT
// The console in a real Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// against a real `workphone serve` that tests/integration/test_web.sh started on a fresh data
// dir. The suites of web/tests/suites/ put data in through the API (a device for the admin and
// one for a salesperson, Chinese chats with violations), then walk the console as people would,
// and save screenshots of the main pages (web/tests/lib.mjs has what they share).
//   WORKPHONE_URL          the server, http://127.0.0.1:PORT
//   WORKPHONE_ADMIN_PASSWORD  the admin's password (user "admin")
//   WORKPHONE_SCREENSHOTS  where the PNGs go (docs/screenshots); unset: none are written
//   WORKPHONE_SUITES       a comma-separated choice of suites (core,checkins); unset: all
import { chromium } from 'playwright-core'
import { mkdirSync } from 'node:fs'
import { BASE, CHROMIUM, SHOTS, counts, expect, open, test, watch } from './lib.mjs'
import * as core from './suites/core.mjs'
import * as seen from './suites/seen.mjs'
import * as settings from './suites/settings.mjs'
import * as importexport from './suites/importexport.mjs'
import * as lexicon from './suites/lexicon.mjs'
import * as webhooks from './suites/webhooks.mjs'
import * as wecomContact from './suites/wecom_contact.mjs'
import * as wecomSettings from './suites/wecom_settings.mjs'
import * as adminday from './suites/adminday.mjs'
import * as retention from './suites/retention.mjs'
import * as pipl from './suites/pipl.mjs'
import * as privacy from './suites/privacy.mjs'
import * as field from './suites/field.mjs'
import * as checkins from './suites/checkins.mjs'
import * as fences from './suites/fences.mjs'

// The suites, in order; each exports run(env). A suite's tests may leave data behind for the
// next (the core suite seeds what the archive and alert pages show).
const ALL = { core, seen, settings, lexicon, importexport, webhooks, wecomContact, wecomSettings, adminday, retention, pipl, privacy, field, checkins, fences }
// WORKPHONE_SUITES=core,checkins runs only those (in this order), to work on one suite
const only = (process.env.WORKPHONE_SUITES || '').split(',').filter(Boolean)
const SUITES = Object.entries(ALL).filter(([name]) => !only.length || only.includes(name)).map(([, s]) => s)

const made = await core.seed()
if (SHOTS) mkdirSync(SHOTS, { recursive: true })
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless'] })
const options = { viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' }
const ctx = await browser.newContext(options)
const page = await ctx.newPage()
page.setDefaultTimeout(15000)
const errors = watch(page)

try {
  for (const suite of SUITES) await suite.run({ browser, options, page, errors, made })

  await test('logging out ends the session', async () => {
    await open(page, 'dashboard', '[data-test=who]')
    await page.click('[data-test=who]')
    await page.click('[data-test=logout]')
    await page.waitForURL(/\/login/)
    await page.goto(BASE + '/customers')
    await page.waitForURL(/\/login\?next=/)
  })
} finally {
  await browser.close()
}

const { passed, failed, skipped } = counts()
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failed ? 1 : 0)
