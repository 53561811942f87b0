// SPDX-License-Identifier: MIT
// The WeCom page (issue 16, CONTRACT §6) as an admin walks it: the tenant configured through
// the form (a bad EncodingAESKey refused in words, a wrong archive secret shown as a sentence
// and replaced, the Finance SDK's path, private keys by version shown by fingerprint only), the
// fake Finance SDK (tests/wecom/fake_sdk.c, loaded by the server from the path typed in the
// page) serving records this suite writes, as test_wecom_archive.py does, into WECOM_FAKE_DIR:
// the records arrive in the archive's search, one of them raises an alert, the held ones show
// their reasons and leave when a key or a WeCom account comes. A salesperson has no menu entry
// and is refused. tests/integration/test_web.sh prepares the directory and the server.
import { generateKeyPairSync } from 'node:crypto'
import { appendFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BASE, ADMIN_PW, adminApi, call, expect, login, menuNames, must, open, shot, shots, skip, test } from '../lib.mjs'

const DIR = process.env.WECOM_FAKE_DIR
const LIB = process.env.WORKPHONE_WECOM_FAKE_SDK
const CORP = 'wwarchive0000web1'
const SECRET = 'arch1ve-web-s3cret'
const AES = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq'
const N = 2000 // the bulk of the records; three more are held back
const EXT = Array.from({ length: 20 }, (_, i) => 'wm' + String(i + 1).padStart(30, 'x'))
const TALK = ['您好，房子还在吗', '周末可以看房', '首付大概多少', '我再考虑一下', '好的谢谢', '麻烦发一下户型图', '价格还能谈吗', '明天下午有空', '贷款能批多少', '小区物业怎么样']

function keyPair() {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  })
}

const head = (msgid, ms, from, to) => ({ msgid, action: 'send', from, tolist: to, roomid: '', msgtime: ms, msgtype: 'text' })

// N texts of 陈静 (WeCom account chenjing) with customers, one in ten saying 飞单, each with
// its own token 编号<seq>号; then a record of key version 2 (not given yet), one from an account
// no employee has yet, and one whose message is not JSON.
function records() {
  const t0 = Date.now() - 3600 * 1000
  const out = []
  for (let i = 0; i < N; i++) {
    const seq = i + 1
    const inbound = i % 3 === 0
    const ext = EXT[i % EXT.length]
    const m = head('web-' + seq, t0 + i * 1000, inbound ? ext : 'chenjing', [inbound ? 'chenjing' : ext])
    m.text = { content: `${TALK[i % TALK.length]} 编号${seq}号${i % 10 === 5 ? '，私下走飞单吧' : ''}` }
    out.push({ seq, ver: 1, msg: m })
  }
  out.push({ seq: N + 1, ver: 2, msg: { ...head('web-v2', t0, 'chenjing', [EXT[0]]), text: { content: '第二版密钥的消息' } } })
  out.push({ seq: N + 2, ver: 1, msg: { ...head('web-who', t0, 'liuyang', [EXT[1]]), text: { content: '刘洋的消息' } } })
  out.push({ seq: N + 3, ver: 1, corrupt: 'json', msg: head('web-bad', t0, 'chenjing', [EXT[2]]) })
  return out
}

async function until(fn, what, ms = 30000) {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error('timed out: ' + what)
    await new Promise((r) => setTimeout(r, 250))
  }
}

// an el-input-number's input, whichever element its data-test landed on
async function fillNumber(page, test, value) {
  const el = page.locator(`[data-test=${test}] input, input[data-test=${test}]`).first()
  await el.fill(String(value))
  await el.press('Tab')
}

async function addKey(page, version, pem) {
  await page.click('[data-test=wecom-key-add]')
  await page.waitForSelector('[data-test=wecom-key-dialog] [data-test=wecom-key-pem]')
  await fillNumber(page, 'wecom-key-version', version)
  await page.fill('[data-test=wecom-key-pem]', pem)
  await page.click('[data-test=wecom-key-save]')
  await page.waitForSelector('[data-test=wecom-key-dialog]', { state: 'hidden' })
}

const pageText = (page) => page.textContent('.page')

export async function run({ browser, page }) {
  if (!DIR || !LIB) {
    skip('WeCom settings page', 'WECOM_FAKE_DIR and WORKPHONE_WECOM_FAKE_SDK (the fake Finance SDK) are not set')
    return
  }
  const keys = { 1: keyPair(), 2: keyPair() }
  for (const v of [1, 2]) writeFileSync(join(DIR, `pub_${v}.pem`), keys[v].publicKey)
  writeFileSync(join(DIR, 'secret'), SECRET)
  const tok = await adminApi()
  const me = (await must('POST', '/auth/login', { json: { username: 'admin', password: ADMIN_PW } }, 200)).employee
  const chen = await must('POST', '/employees', { token: tok, json: { name: '陈静', org_unit_id: me.org_unit_id, role: 'sales', username: 'chenjing', password: 'chenjing-pass-1' } }, 201)
  await must('PATCH', `/employees/${chen.id}`, { token: tok, json: { wecom_userid: 'chenjing' } }, 200)
  const liu = await must('POST', '/employees', { token: tok, json: { name: '刘洋', org_unit_id: me.org_unit_id, role: 'sales', username: 'liuyang', password: 'liuyang-pass-1' } }, 201)
  for (const r of records()) appendFileSync(join(DIR, 'records.jsonl'), JSON.stringify(r) + '\n')
  const state = async () => (await must('GET', '/integrations/wecom', { token: tok }, 200)).archive_state

  await test('WeCom page: an admin sets the company up; a bad key is refused in words, secrets never come back', async () => {
    await login(page, 'admin', ADMIN_PW)
    await page.waitForURL(/\/dashboard/)
    await page.click('[data-test=menu-wecom]')
    await page.waitForURL(/\/integrations\/wecom$/)
    await page.waitForSelector('[data-test=wecom-form]')
    expect((await page.textContent('.page-title')).includes('企业微信'), 'title not in Chinese')
    const tenant = (await must('GET', '/integrations/wecom', { token: tok }, 200)).callback_url.split('/').pop()
    const url = await page.inputValue('[data-test=wecom-callback-url]')
    expect(url === `${BASE}/api/v1/wecom/callback/${tenant}`, 'the callback URL: ' + url)
    // the contact suite set these: shown as set, never as what they are
    for (const k of ['callback_token', 'encoding_aes_key', 'contact_secret']) await page.waitForSelector(`[data-test=wecom-set-${k}] >> text=已设置`)
    expect(!(await page.content()).includes('cbtoken1'), 'a secret is in the page')

    await page.fill('[data-test=wecom-corp-id]', CORP)
    await page.click('[data-test=wecom-replace-encoding_aes_key]')
    await page.fill('[data-test=wecom-encoding_aes_key]', 'short')
    await page.click('[data-test=wecom-save]')
    const err = (await (await page.waitForSelector('[data-test=wecom-error]')).textContent()).trim()
    expect(err.includes('43 位字母和数字'), 'the refusal: ' + err)
    expect(!/encoding_aes_key|'|invalid/.test(err), 'the refusal shows raw codes: ' + err)

    await page.fill('[data-test=wecom-encoding_aes_key]', AES)
    await page.fill('[data-test=wecom-archive_secret]', 'not-the-secret')
    await page.fill('[data-test=wecom-sdk-path]', LIB)
    await fillNumber(page, 'wecom-pull-limit', 500)
    await fillNumber(page, 'wecom-pull-interval', 2)
    await page.click('[data-test=wecom-save]')
    await page.waitForSelector('[data-test=wecom-set-archive_secret] >> text=已设置')
    await page.waitForSelector('[data-test=wecom-set-encoding_aes_key] >> text=已设置')
    const s = await must('GET', '/integrations/wecom', { token: tok }, 200)
    expect(s.corp_id === CORP && s.sdk_path === LIB && s.pull_limit === 500 && s.pull_interval_s === 2 && s.secrets.archive_secret && s.secrets.encoding_aes_key, 'saved: ' + JSON.stringify(s))
    expect((await page.textContent('[data-test=wecom-state-line]')).includes('添加私钥'), 'without a key the page says what is missing')

    await addKey(page, 1, keys[1].privateKey)
    const key = await page.waitForSelector('[data-test=wecom-key] >> text=版本 1')
    expect(key, 'the key is listed')
    const listed = (await must('GET', '/integrations/wecom', { token: tok }, 200)).archive_private_keys
    expect(listed.length === 1 && listed[0].bits === 2048, 'keys: ' + JSON.stringify(listed))
    expect((await pageText(page)).includes(listed[0].fingerprint), 'the fingerprint is shown')
    const html = await page.content()
    expect(!html.includes(keys[1].privateKey.split('\n')[3]) && !html.includes(AES) && !html.includes('not-the-secret'), 'a secret or the key is in the page')
  })

  await test('WeCom page: a wrong archive secret shows as a sentence; replaced, the records are pulled', async () => {
    const line = await until(async () => {
      const t = await page.textContent('[data-test=wecom-state]')
      return t.includes('连续失败') && (await page.$('[data-test=wecom-last-error]')) && t
    }, 'the failure on the page')
    const why = (await page.textContent('[data-test=wecom-last-error]')).trim()
    expect(why.includes('不认这个会话存档 Secret'), 'the failure: ' + why)
    expect(!/40001|errcode|GetChatData/.test(line), 'the failure shows raw codes: ' + line)

    await page.click('[data-test=wecom-replace-archive_secret]')
    await page.fill('[data-test=wecom-archive_secret]', SECRET)
    await page.click('[data-test=wecom-save]')
    await page.waitForSelector('[data-test=wecom-set-archive_secret]')
    await page.click('[data-test=wecom-retry]')
    await page.waitForSelector('.el-message >> text=已开始拉取')
    await until(async () => (await page.textContent('[data-test=wecom-seq]')).trim() === String(N + 3), `the page shows seq ${N + 3}`, 90000)
    const s = await state()
    expect(s.seq === N + 3 && s.stored === N && s.held === 3 && s.failures === 0, 'state: ' + JSON.stringify(s))
    await until(async () => (await page.textContent('[data-test=wecom-held-count]')).trim() === '3', 'three held on the page')
    await until(async () => (await page.textContent('[data-test=wecom-state-line]')).includes('运行正常'), 'the page says all is well')
  })

  await test('WeCom page: held records say why; a key of version 2 and a WeCom account release them', async () => {
    const held = await until(async () => {
      const t = await page.textContent('[data-test=wecom-held]')
      return t.includes('缺少版本 2') && t
    }, 'the held list')
    for (const w of ['缺少版本 2 的会话存档私钥', '没有员工的企业微信账号是 liuyang', '不是有效的消息', '会重试', '仅保留'])
      expect(held.includes(w), `the held list lacks ${w}: ${held}`)
    expect(!/no_key|unknown_employee|invalid_message|wecom_userid/.test(held), 'the held list shows raw codes: ' + held)
    await page.waitForSelector('.el-message', { state: 'detached' })
    await shots(page, 'wecom-settings')

    await addKey(page, 2, keys[2].privateKey)
    await must('PATCH', `/employees/${liu.id}`, { token: tok, json: { wecom_userid: 'liuyang' } }, 200)
    await page.click('[data-test=wecom-retry]')
    await until(async () => (await page.textContent('[data-test=wecom-held-count]')).trim() === '1', 'one held left', 30000)
    const s = await state()
    expect(s.held === 1 && s.stored === N + 2, 'released: ' + JSON.stringify(s))
    const t = await page.textContent('[data-test=wecom-held]')
    expect(!t.includes('缺少版本 2') && !t.includes('liuyang') && t.includes('不是有效的消息'), 'held after: ' + t)
    expect((await page.$$('[data-test=wecom-key]')).length === 2, 'two keys listed')
    // the keys by fingerprint, at both widths, the toasts gone first
    await page.waitForSelector('.el-message', { state: 'detached' })
    const size = page.viewportSize()
    await page.locator('[data-test=wecom-keys]').scrollIntoViewIfNeeded()
    await shot(page, 'wecom-settings-form')
    await page.setViewportSize({ width: 390, height: 844 })
    try {
      await page.locator('[data-test=wecom-keys]').scrollIntoViewIfNeeded()
      await shot(page, 'wecom-settings-form-phone')
    } finally {
      await page.setViewportSize(size)
    }

    // a key that is not one is refused in words; a version removed is gone from the list
    await page.click('[data-test=wecom-key-add]')
    await fillNumber(page, 'wecom-key-version', 3)
    await page.fill('[data-test=wecom-key-pem]', 'nope')
    await page.click('[data-test=wecom-key-save]')
    const bad = (await (await page.waitForSelector('[data-test=wecom-key-error]')).textContent()).trim()
    expect(bad.includes('不是 PEM 格式的私钥') && !/pem|PKCS|archive_private_keys/.test(bad), 'the refused key: ' + bad)
    await page.keyboard.press('Escape')
    await page.waitForSelector('[data-test=wecom-key-dialog]', { state: 'hidden' })
    await page.click('[data-test=wecom-key-remove-2]')
    await page.click('.el-message-box__btns .el-button--primary')
    await until(async () => (await page.$$('[data-test=wecom-key]')).length === 1, 'the key of version 2 removed')
    const left = (await must('GET', '/integrations/wecom', { token: tok }, 200)).archive_private_keys
    expect(left.length === 1 && left[0].version === 1, 'keys left: ' + JSON.stringify(left))

    await page.click('[data-test=wecom-sync]')
    await page.waitForSelector('.el-message >> text=已开始同步')
  })

  await test('WeCom page: at a phone’s width nothing is wider than the phone', async () => {
    await open(page, 'integrations/wecom', '[data-test=wecom-form]')
    const size = page.viewportSize()
    await page.setViewportSize({ width: 390, height: 844 })
    try {
      await page.waitForSelector('[data-test=wecom-held-list] [data-test=wecom-held-row]')
      const wide = await page.evaluate(() => document.documentElement.scrollWidth)
      expect(wide <= 390, 'the page is wider than the phone: ' + wide)
    } finally {
      await page.setViewportSize(size)
    }
  })

  await test('WeCom archive: the records are found in the archive search, one raised an alert', async () => {
    const seq = 1206 // i = 1205: one in ten says 飞单
    await open(page, 'archive?q=' + encodeURIComponent(`编号${seq}号`), '[data-test=archive-q]')
    const msg = await page.waitForSelector('[data-test=message]')
    const text = await msg.textContent()
    expect(text.includes(`编号${seq}号`) && text.includes('飞单') && text.includes('陈静') && text.includes('企业微信'), 'the message: ' + text)
    expect((await page.$$('[data-test=message]')).length === 1, 'one message holds the token')
    await open(page, 'archive?q=' + encodeURIComponent(`编号${N}号`), '[data-test=message]')
    expect((await page.textContent('[data-test=message]')).includes(`编号${N}号`), 'the last record is found')

    const found = await must('GET', '/messages?q=' + encodeURIComponent(`编号${seq}号`), { token: tok }, 200)
    const m = found.items[0]
    expect(found.items.length === 1 && m.channel === 'wecom' && m.employee_id === chen.id, 'the message: ' + JSON.stringify(m))
    const alerts = []
    let cursor = ''
    do {
      const p = await must('GET', `/alerts?employee=${chen.id}&limit=200` + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''), { token: tok }, 200)
      alerts.push(...p.items)
      cursor = p.next_cursor
    } while (cursor)
    const a = alerts.find((x) => x.message_id === m.id)
    expect(a && a.kind === 'sensitive_word', 'its alert: ' + JSON.stringify(alerts.slice(0, 3)))
    const words = alerts.filter((x) => x.kind === 'sensitive_word').length
    expect(words === N / 10, `one alert per 飞单 record: ${words}`)

    // the alerts page, narrowed to 陈静
    await open(page, 'alerts', '[data-test=alerts-status]')
    await page.click('[data-test=alerts-employee]')
    await page.keyboard.type('陈静')
    await page.click('.el-select-dropdown__item:visible >> text=陈静')
    await until(async () => {
      const t = await page.textContent('.page')
      return t.includes('陈静') && t.includes('飞单') && !t.includes('孙悦')
    }, 'the alerts of 陈静')
  })

  await test('WeCom page: a salesperson has no menu entry, the page sends them away, the API refuses', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' })
    try {
      const sp = await ctx.newPage()
      sp.setDefaultTimeout(15000)
      await login(sp, 'chenjing', 'chenjing-pass-1')
      await sp.waitForURL(/\/dashboard/)
      const menu = await menuNames(sp)
      expect(menu.includes('dashboard') && !menu.includes('wecom'), 'the salesperson’s menu: ' + menu)
      await sp.goto(BASE + '/integrations/wecom')
      await sp.waitForURL(/\/dashboard/)
      const st = (await must('POST', '/auth/login', { json: { username: 'chenjing', password: 'chenjing-pass-1' } }, 200)).token
      for (const [method, path] of [['GET', '/integrations/wecom'], ['PUT', '/integrations/wecom'], ['GET', '/integrations/wecom/archive/held'], ['POST', '/integrations/wecom/archive/retry'], ['POST', '/integrations/wecom/contacts/sync']]) {
        const r = await call(method, path, { token: st, json: method === 'GET' ? undefined : {} })
        expect(r.status === 403 && r.body.error.code === 'forbidden', `${method} ${path} by a salesperson: ` + JSON.stringify(r))
      }
    } finally {
      await ctx.close()
    }
  })
}
