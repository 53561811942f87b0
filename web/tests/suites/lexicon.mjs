// SPDX-License-Identifier: MIT
// The lexicon as a compliance officer edits it: the table of the company's lexicon (Chinese
// categories, filters, search, an edit that keeps the text around it), a word added for one
// store only, seen in the raw text and on that store's phone and not another's, the entries a
// store inherits shown read-only, a word list pasted in bulk, an exception that would lift a
// block set above, the test box with a store's draft, and no lexicon for a salesperson.
import { BASE, adminApi, expect, login, menuNames, must, open, shots, test, watch } from '../lib.mjs'

// Two stores under the top unit, a salesperson and an enrolled phone in each.
async function stores(tok, top) {
  const made = {}
  for (const [key, name, user] of [['bj', '北京一店', 'bjsales'], ['tj', '天津一店', 'tjsales']]) {
    const unit = await must('POST', '/org-units', { token: tok, json: { name, parent_id: top, kind: 'store' } }, 201)
    const emp = await must('POST', '/employees', { token: tok, json: { name: name + '店员', org_unit_id: unit.id, role: 'sales', username: user, password: user + '-pass-1' } }, 201)
    const { code } = await must('POST', `/employees/${emp.id}/enrollment-codes`, { token: tok, json: {} }, 201)
    const dev = await must('POST', '/device/enroll', { json: { code, serial: 'SN-LEX-' + key, model: 'Workphone X1' } }, 201)
    made[key] = { unit: unit.id, name, phone: dev.token }
  }
  return made
}

// The policy a phone gets, and its ETag.
async function policy(phone) {
  const res = await fetch(process.env.WORKPHONE_URL + '/api/v1/device/policy', { headers: { Authorization: 'Bearer ' + phone } })
  expect(res.status === 200, 'policy: HTTP ' + res.status)
  return { etag: res.headers.get('etag'), body: await res.json() }
}

async function rowWords(page) {
  return page.$$eval('[data-test=lexicon-table] .el-table__body-wrapper [data-test=lexicon-word]', (els) => els.map((e) => e.textContent.trim()))
}

async function pickUnit(page, name) {
  await page.click('[data-test=lexicon-unit]')
  await page.locator('.el-select-dropdown__item:visible', { hasText: name }).first().click()
}

// Pictures without the toasts of what came before.
async function calm(page) {
  await page.evaluate(() => document.querySelectorAll('.el-message').forEach((m) => m.remove()))
}

async function pickOption(page, selector, text) {
  await page.click(selector)
  await page.locator('.el-select-dropdown__item:visible', { hasText: text }).first().click()
}

export async function run({ browser, options, page, errors, made }) {
  const tok = await adminApi()
  const top = made.admin.org_unit_id
  const errorsBefore = errors.length
  const shop = await stores(tok, top)

  await test('lexicon table: the shipped lexicon as rows, Chinese categories, exceptions with their word', async () => {
    await open(page, 'lexicon', '[data-test=lexicon-table] [data-test=lexicon-word]')
    const count = await page.textContent('[data-test=lexicon-count]')
    const n = Number(count.replace(/\D/g, ''))
    expect(n > 100, 'rows: ' + count)
    await page.fill('[data-test=lexicon-search]', '飞单')
    await page.waitForFunction(() => document.querySelector('[data-test=lexicon-word]')?.textContent.trim() === '飞单')
    const row = page.locator('[data-test=lexicon-table] .el-table__body-wrapper tr', { hasText: '严禁飞单' }).first()
    expect((await row.locator('[data-test=lexicon-category]').textContent()).includes('飞单私单'), 'the category is not in Chinese')
    expect((await row.locator('[data-test=lexicon-action]').textContent()).trim() === '拦截', 'the action is not 拦截')
    expect((await row.locator('[data-test=lexicon-exception]').allTextContents()).includes('严禁飞单'), 'the exception is not shown with its word')
    await page.fill('[data-test=lexicon-search]', '')
    await shots(page, 'lexicon')
  })

  await test('lexicon table: filter by category, action and kind', async () => {
    await open(page, 'lexicon', '[data-test=lexicon-table] [data-test=lexicon-word]')
    await pickOption(page, '[data-test=lexicon-filter-category]', '虚假承诺')
    await page.waitForFunction(() => [...document.querySelectorAll('[data-test=lexicon-category]')].every((e) => e.textContent.includes('虚假承诺')))
    const cats = await page.$$eval('[data-test=lexicon-category]', (els) => els.map((e) => e.textContent.trim()))
    expect(cats.length > 5 && cats.every((c) => c === '虚假承诺'), 'category filter: ' + cats)
    await pickOption(page, '[data-test=lexicon-filter-action]', '拦截')
    await page.waitForFunction(() => document.querySelectorAll('[data-test=lexicon-action]').length <= 3)
    const words = await rowWords(page)
    expect(JSON.stringify(words) === '["保本保息","稳赚不赔"]', 'false promises that block: ' + words)
    await pickOption(page, '[data-test=lexicon-filter-kind]', '正则')
    await page.waitForFunction(() => document.querySelectorAll('[data-test=lexicon-word]').length === 0)
    expect((await page.textContent('[data-test=lexicon-count]')).includes('0'), 'no false-promise regex blocks')
  })

  await test('lexicon table: an edit rewrites its own line; comments and order stay', async () => {
    await open(page, 'lexicon', '[data-test=lexicon-table] [data-test=lexicon-word]')
    const before = await page.$eval('[data-test=lexicon-text]', (ta) => ta.value)
    await page.fill('[data-test=lexicon-search]', '私单')
    const row = page.locator('[data-test=lexicon-table] .el-table__body-wrapper tr', { hasText: '隐私单独' }).first()
    await row.locator('[data-test=lexicon-edit]').click()
    await page.click('[data-test=lexicon-dialog-action-block]')
    await page.click('[data-test=lexicon-dialog-ok]')
    await page.waitForSelector('[data-test=lexicon-dirty]')
    const after = await page.$eval('[data-test=lexicon-text]', (ta) => ta.value)
    const b = before.split('\n')
    const a = after.split('\n')
    const changed = a.map((l, i) => (l === b[i] ? null : [i + 1, b[i], l])).filter(Boolean)
    expect(a.length === b.length && changed.length === 1 && changed[0][2] === '私单\tprivate_deal\tblock', 'lines changed: ' + JSON.stringify(changed))
    // delete it: its line and its exception go, the comment above stays
    await page.fill('[data-test=lexicon-search]', '私单')
    await page.locator('[data-test=lexicon-table] .el-table__body-wrapper tr', { hasText: '隐私单独' }).first().locator('[data-test=lexicon-delete]').click()
    await page.click('.el-message-box .el-button--primary')
    await page.waitForFunction(() => !document.querySelector('[data-test=lexicon-text]').value.includes('allow:隐私单独'))
    const gone = await page.$eval('[data-test=lexicon-text]', (ta) => ta.value)
    expect(!gone.includes('\n私单\t') && gone.includes('# ---- private_deal'), 'the delete took more or less than its lines')
    // nothing was saved
    const now = await must('GET', '/lexicon', { token: tok }, 200)
    expect(now.includes('私单\tprivate_deal\talert'), 'an unsaved edit reached the server')
  })

  await test('lexicon table: a word for one store only reaches that store’s phone, not another’s', async () => {
    const bj0 = await policy(shop.bj.phone)
    const tj0 = await policy(shop.tj.phone)
    await open(page, 'lexicon', '[data-test=lexicon-table]')
    await pickUnit(page, '北京一店')
    await page.waitForURL(new RegExp('unit=' + shop.bj.unit))
    await page.waitForFunction(() => document.querySelector('[data-test=lexicon-scope-help]')?.textContent.includes('北京一店'))
    await page.click('[data-test=lexicon-add]')
    await page.fill('[data-test=lexicon-dialog-word]', '团购看房')
    await pickOption(page, '[data-test=lexicon-dialog-category]', '房产违规')
    await page.click('[data-test=lexicon-dialog-action-block]')
    await page.fill('[data-test=lexicon-dialog-exception]', '不搞团购看房')
    await page.keyboard.press('Enter')
    await page.click('[data-test=lexicon-dialog-ok]')
    await page.waitForFunction(() => document.querySelector('[data-test=lexicon-word]')?.textContent.trim() === '团购看房')
    // the same draft in the raw text: the store's two lines, nothing of the company's
    await page.click('[data-test=lexicon-tab-text]')
    const raw = await page.$eval('[data-test=lexicon-text]', (ta) => ta.value)
    expect(raw === '团购看房\tproperty\tblock\nallow:不搞团购看房\n', 'the raw text: ' + JSON.stringify(raw))
    await page.click('[data-test=lexicon-tab-table]')
    await page.click('[data-test=lexicon-save]')
    await page.waitForFunction(() => !document.querySelector('[data-test=lexicon-dirty]'))
    const own = await must('GET', '/lexicon?unit=' + shop.bj.unit, { token: tok }, 200)
    expect(own === '团购看房\tproperty\tblock\nallow:不搞团购看房\n', 'the store’s lexicon: ' + JSON.stringify(own))
    const bj = await policy(shop.bj.phone)
    expect(bj.etag !== bj0.etag && bj.body.lexicon.includes('团购看房\tproperty\tblock'), 'the Beijing phone did not get the word: ' + bj.etag)
    expect(bj.body.lexicon.includes('飞单\tprivate_deal\tblock'), 'the Beijing phone lost the company’s words')
    const tj = await policy(shop.tj.phone)
    expect(tj.etag === tj0.etag && !tj.body.lexicon.includes('团购看房'), 'the Tianjin phone got the Beijing word')
    const list = (await must('GET', '/lexicons', { token: tok }, 200)).items.map((i) => i.org_unit_id)
    expect(JSON.stringify(list) === JSON.stringify([shop.bj.unit]), 'units with their own words: ' + list)
    await calm(page)
    await shots(page, 'lexicon-unit')
  })

  await test('lexicon table: a store sees what it inherits, read-only, and which of it it changed', async () => {
    await open(page, 'lexicon?unit=' + shop.bj.unit, '[data-test=lexicon-table] [data-test=lexicon-word]')
    // its own row first, then the company's
    const first = await rowWords(page)
    expect(first[0] === '团购看房' && first.length === 50, 'the first page: ' + first.slice(0, 3) + ' … ' + first.length)
    expect((await page.textContent('[data-test=lexicon-show-inherited]')).includes('只读'), 'the switch')
    // (the search also finds the words of the category 飞单私单)
    await page.fill('[data-test=lexicon-search]', '私单')
    await page.waitForFunction(() => [...document.querySelectorAll('[data-test=lexicon-word]')].some((e) => e.textContent.trim() === '私单'))
    const row = page.locator('[data-test=lexicon-table] .el-table__body-wrapper tr', { hasText: '隐私单独' }).first()
    expect((await row.locator('[data-test=lexicon-from]').textContent()).trim() === '继承自全公司', 'where the row comes from')
    expect((await row.locator('[data-test=lexicon-edit]').count()) === 0 && (await row.locator('[data-test=lexicon-delete]').count()) === 0, 'an inherited row can be edited')
    // the store lists 私单 itself, blocking: the company's row says the store's line applies
    await page.click('[data-test=lexicon-add]')
    await page.fill('[data-test=lexicon-dialog-word]', '私单')
    await pickOption(page, '[data-test=lexicon-dialog-category]', '飞单私单')
    await page.click('[data-test=lexicon-dialog-action-block]')
    await page.click('[data-test=lexicon-dialog-ok]')
    await page.fill('[data-test=lexicon-search]', '私单')
    await page.waitForSelector('[data-test=lexicon-overridden]')
    const rows = await page.$$eval('[data-test=lexicon-table] .el-table__body-wrapper tr', (trs) =>
      trs.map((tr) => [tr.querySelector('[data-test=lexicon-word]')?.textContent.trim(), tr.querySelector('[data-test=lexicon-action]')?.textContent.trim(), tr.querySelector('[data-test=lexicon-from]')?.textContent.trim() || '', tr.querySelector('[data-test=lexicon-overridden]')?.textContent.trim() || '']),
    )
    expect(
      JSON.stringify(rows.filter((r) => r[0] === '私单')) === JSON.stringify([['私单', '拦截', '', ''], ['私单', '告警', '继承自全公司', '本单位已改写此词，以本单位为准']]),
      'the two 私单 rows: ' + JSON.stringify(rows),
    )
    await calm(page)
    await shots(page, 'lexicon-inherited')
    // a line typed in the raw text is a row of the table: one draft
    await page.click('[data-test=lexicon-tab-text]')
    const ta = page.locator('[data-test=lexicon-text]')
    await ta.fill((await ta.inputValue()) + '代开收据\tfraud\tmask\n')
    await page.click('[data-test=lexicon-tab-table]')
    await page.fill('[data-test=lexicon-search]', '代开收据')
    await page.waitForFunction(() => document.querySelector('[data-test=lexicon-word]')?.textContent.trim() === '代开收据')
    expect((await page.textContent('[data-test=lexicon-table] .el-table__body-wrapper [data-test=lexicon-action]')).trim() === '打码', 'the typed line’s action')
    // without the inherited rows: the store's own only
    await page.fill('[data-test=lexicon-search]', '')
    await page.click('[data-test=lexicon-show-inherited]')
    await page.waitForFunction(() => document.querySelectorAll('[data-test=lexicon-word]').length === 3)
    expect(JSON.stringify(await rowWords(page)) === '["团购看房","私单","代开收据"]', 'own rows: ' + (await rowWords(page)))
    expect((await page.locator('[data-test=lexicon-inherited]').count()) === 0, 'inherited rows left')
    // not saved: the store's lexicon is as before
    const own = await must('GET', '/lexicon?unit=' + shop.bj.unit, { token: tok }, 200)
    expect(own === '团购看房\tproperty\tblock\nallow:不搞团购看房\n', 'saved: ' + JSON.stringify(own))
  })

  await test('lexicon table: a word list pasted in bulk, one category and action for all', async () => {
    await open(page, 'lexicon?unit=' + shop.tj.unit, '[data-test=lexicon-table]')
    await page.waitForFunction(() => document.querySelector('[data-test=lexicon-scope-help]')?.textContent.includes('天津一店'))
    await page.click('[data-test=lexicon-bulk]')
    await page.fill('[data-test=lexicon-bulk-list]', '代持房产\n阴阳价\n\n代持房产\n内部房源\nallow:飞单业务\n')
    await pickOption(page, '[data-test=lexicon-bulk-category]', '房产违规')
    await page.click('[data-test=lexicon-bulk-action-alert]')
    await shots(page, 'lexicon-bulk')
    await page.click('[data-test=lexicon-bulk-ok]')
    await page.waitForFunction(() => document.querySelectorAll('[data-test=lexicon-word]').length === 4)
    const words = await rowWords(page)
    expect(JSON.stringify(words) === '["代持房产","阴阳价","内部房源","飞单业务"]', 'rows after the paste: ' + words)
    // the store's exception would lift the company's block on 飞单: marked, and left out
    await page.waitForSelector('[data-test=lexicon-not-applied]')
    const why = await page.textContent('[data-test=lexicon-not-applied]')
    expect(why.includes('飞单'), 'the exception is not marked: ' + why)
    await page.click('[data-test=lexicon-save]')
    await page.waitForFunction(() => !document.querySelector('[data-test=lexicon-dirty]'))
    const tj = await policy(shop.tj.phone)
    expect(tj.body.lexicon.includes('阴阳价\tproperty\talert') && !tj.body.lexicon.includes('团购看房'), 'the Tianjin phone’s words')
    expect(tj.body.lexicon.includes("# not applied (would lift the block of '飞单' set above): allow:飞单业务"), 'the exception reached the phone')
    await calm(page)
    await shots(page, 'lexicon-not-applied')
  })

  await test('lexicon: the test box tries a store’s draft with the company’s words', async () => {
    await open(page, 'lexicon?unit=' + shop.bj.unit, '[data-test=lexicon-table] [data-test=lexicon-word]')
    await page.fill('[data-test=lexicon-test-input]', '周末团购看房，这笔飞单给你')
    await page.waitForSelector('[data-test=lexicon-verdict-action]')
    const v = await page.textContent('[data-test=lexicon-verdict]')
    expect(v.includes('→ 团购看房') && v.includes('→ 飞单'), 'the verdict: ' + v)
    expect((await page.textContent('[data-test=lexicon-verdict-action]')).trim() === '拦截', 'not blocked')
    // a draft word, not saved, counts in the test box
    await page.click('[data-test=lexicon-add]')
    await page.fill('[data-test=lexicon-dialog-word]', '包过户')
    await page.click('[data-test=lexicon-dialog-ok]')
    await page.fill('[data-test=lexicon-test-input]', '我们包过户')
    await page.waitForFunction(() => document.querySelector('[data-test=lexicon-verdict]')?.textContent.includes('→ 包过户'))
    await calm(page)
    await shots(page, 'lexicon-test-unit')
    const own = await must('GET', '/lexicon?unit=' + shop.bj.unit, { token: tok }, 200)
    expect(!own.includes('包过户'), 'the test box saved the draft')
    // what the store's phones get, read-only
    await page.click('[data-test=lexicon-effective]')
    await page.waitForFunction(() => document.querySelector('[data-test=lexicon-effective-text]')?.value.includes('# ---- org unit'))
    await page.keyboard.press('Escape')
  })

  await test('lexicon: a salesperson has no lexicon page, nor the test box', async () => {
    const sctx = await browser.newContext(options)
    const sp = await sctx.newPage()
    sp.setDefaultTimeout(15000)
    const serr = watch(sp)
    await login(sp, 'bjsales', 'bjsales-pass-1')
    await sp.waitForURL(/\/dashboard/)
    const menu = await menuNames(sp)
    expect(menu.includes('archive') && !menu.includes('lexicon'), 'the salesperson’s menu: ' + menu)
    await sp.goto(BASE + '/lexicon?unit=' + shop.bj.unit)
    await sp.waitForURL(/\/dashboard/)
    expect((await sp.locator('[data-test=lexicon-table]').count()) === 0, 'the lexicon page opened')
    const l = await must('POST', '/auth/login', { json: { username: 'bjsales', password: 'bjsales-pass-1' } }, 200)
    const r = await fetch(BASE + '/api/v1/lexicon/check', { method: 'POST', headers: { Authorization: 'Bearer ' + l.token, 'Content-Type': 'application/json' }, body: JSON.stringify({ text: '飞单', unit: shop.bj.unit }) })
    const body = await r.json()
    expect(r.status === 403 && body.error.code === 'forbidden', 'the test box for a salesperson: ' + r.status + ' ' + JSON.stringify(body))
    expect(serr.length === 0, serr.join('\n'))
    await sctx.close()
  })

  await test('lexicon: the page logs no errors', async () => {
    expect(errors.length === errorsBefore, errors.slice(errorsBefore).join('\n'))
  })
}
