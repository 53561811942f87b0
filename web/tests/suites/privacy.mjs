// SPDX-License-Identifier: MIT
// Notice and consent, and 我的隐私 / My privacy (issue 20): the admin sets the enrollment notice
// and the automatic first message in the settings; a salesperson's phone sends a chat; her
// manager reads it and
// unmasks the customer's phone through the API; the salesperson opens 我的隐私 from the user
// menu and sees what her phone records, for how long, the notice the admin set, and exactly
// those two views with the manager's name; the page fits a phone's width. She records in the
// customer's detail that the customer was told (告知同意), and the customer list filters on it.
// The manager's own page shows none of the salesperson's viewers.
import { ADMIN_PW, adminApi, expect, login, must, open, shots, shotsOf, test } from '../lib.mjs'

const PW = 'privacy-pass-1'
const NOTICE = '本机的聊天、通话录音会被记录保存，保存期限以公司规则为准。'
const AUTO = '您好，为保障服务质量，本对话将被记录。'

async function enroll(tok, employeeId, serial) {
  const { code } = await must('POST', `/employees/${employeeId}/enrollment-codes`, { token: tok, json: {} }, 201)
  return (await must('POST', '/device/enroll', { json: { code, serial, model: 'Workphone X1' } }, 201)).token
}

export async function run({ browser, options, page }) {
  const tok = await adminApi()
  const me = (await must('GET', '/auth/session', { token: tok }, 200)).employee
  const sales = await must('POST', '/employees', { token: tok, json: { name: '隐私小周', org_unit_id: me.org_unit_id, role: 'sales', username: 'privsales', password: PW } }, 201)
  await must('POST', '/employees', { token: tok, json: { name: '隐私王经理', org_unit_id: me.org_unit_id, role: 'manager', username: 'privmgr', password: PW } }, 201)
  const notice = await must('GET', '/notice', { token: tok }, 200)

  await test('privacy: the admin sets what employees and customers are told', async () => {
    await login(page, 'admin', ADMIN_PW)
    await page.waitForURL(/\/dashboard/)
    await open(page, 'settings/notice', '[data-test=notice-text]')
    expect((await page.inputValue('[data-test=notice-text]')) === notice.text, 'the current notice is shown')
    await page.fill('[data-test=notice-text]', NOTICE)
    await page.fill('[data-test=notice-auto]', AUTO)
    await page.click('[data-test=notice-save]')
    await page.waitForSelector('.el-message--success')
    const got = await must('GET', '/notice', { token: tok }, 200)
    expect(got.text === NOTICE && got.auto_message === AUTO && got.version === notice.version + 1, 'stored: ' + JSON.stringify(got))
    expect((await page.textContent('[data-test=notice-version]')).includes(`第 ${got.version} 版`), 'version shown')
    await page.evaluate(() => document.querySelectorAll('.el-message').forEach((m) => m.remove()))
    await shots(page, 'settings-notice')
  })

  const phone = await enroll(tok, sales.id, 'SN-PRIV-1')
  const ts = new Date(Date.now() - 60000).toISOString()
  const peer = { id: 'wxid_privacy_kehu', name: '隐私测试客户', phone: '13900139066' }
  await must('POST', '/device/events', { token: phone, json: { events: [{ seq: 1, type: 'message', ts, channel: 'wechat', direction: 'out', peer, chat: peer.id, msgtype: 'text', text: '您好，资料已发您' }] } }, 200)
  await must('POST', '/device/notice-ack', { token: phone, json: { version: notice.version + 1 } }, 201)
  const cust = (await must('GET', '/customers?q=' + encodeURIComponent('隐私测试客户'), { token: tok }, 200)).items[0]
  const mgr = (await must('POST', '/auth/login', { json: { username: 'privmgr', password: PW } }, 200)).token
  await must('GET', '/messages?customer=' + cust.id, { token: mgr }, 200)
  await must('POST', `/customers/${cust.id}/unmask`, { token: mgr, json: {} }, 200)

  await test('privacy: a salesperson sees what is recorded, for how long, and who read her chats', async () => {
    await login(page, 'privsales', PW)
    await page.waitForURL(/\/dashboard/)
    await page.click('[data-test=who]')
    await page.click('[data-test=my-privacy]')
    await page.waitForURL(/\/me\/privacy/)
    await page.waitForSelector('[data-test=privacy-view]')
    const chans = await page.locator('[data-test=privacy-channel]').allTextContents()
    expect(JSON.stringify(chans.map((c) => c.trim())) === JSON.stringify(['微信', '企业微信', '短信', '通话', '邮件']), 'channels: ' + chans)
    expect((await page.textContent('[data-test=privacy-location]')).includes('只在工作时间记录'), 'location line')
    const kept = await page.locator('[data-test=privacy-retention-row]').allTextContents()
    expect(kept.length === 5 && kept.every((k) => k.includes('保存到按公司规则删除为止')), 'retention: ' + kept)
    expect((await page.textContent('[data-test=privacy-notice-text]')).trim() === NOTICE, 'the notice')
    expect((await page.textContent('[data-test=privacy-notice-ack]')).includes('在手机上确认'), 'acknowledged')
    const who = await page.locator('[data-test=privacy-view-who]').allTextContents()
    const what = await page.locator('[data-test=privacy-view-what]').allTextContents()
    expect(who.length === 2 && who.every((w) => w.includes('隐私王经理') && w.includes('主管')), 'viewers: ' + who)
    expect(JSON.stringify(what.map((w) => w.trim()).sort()) === JSON.stringify(['查看了客户的完整信息', '查看了聊天记录']), 'what they did: ' + what)
    await shots(page, 'my-privacy')
    await page.setViewportSize({ width: 390, height: 844 })
    await page.waitForTimeout(300)
    const wide = await page.evaluate(() => document.documentElement.scrollWidth)
    expect(wide <= 390, 'nothing runs off a phone’s width: ' + wide)
    await page.setViewportSize(options.viewport)
  })

  await test('privacy: the salesperson records that her customer was told, and the list filters on it', async () => {
    await open(page, 'customers/' + cust.id, '[data-test=detail-consent]')
    // the tag fades in (el-tag's transition): wait for it, then nothing says told
    await page.waitForSelector('[data-test=consent-none]', { state: 'visible' })
    expect((await page.$$('[data-test=consent-told]')).length === 0, 'shown as not told yet')
    await page.click('[data-test=consent-add]')
    await page.waitForSelector('[data-test=consent-method]')
    await page.click('[data-test=consent-method]')
    await page.locator('.el-select-dropdown__item:visible', { hasText: '签署告知书' }).first().click()
    await page.fill('[data-test=consent-note]', '客户已签字')
    await page.click('[data-test=consent-save]')
    await page.waitForSelector('[data-test=consent-told]')
    expect((await page.textContent('[data-test=detail-consent]')).includes('签署告知书'), 'method shown')
    const recs = (await must('GET', `/customers/${cust.id}/consents`, { token: tok }, 200)).items
    expect(recs.length === 1 && recs[0].method === 'signed_form' && recs[0].note === '客户已签字' && recs[0].by === 'employee:' + sales.id, 'stored: ' + JSON.stringify(recs))
    await page.evaluate(() => document.querySelectorAll('.el-message').forEach((m) => m.remove()))
    await shotsOf(page, '.el-card:has([data-test=detail-consent])', 'customer-consent')
    await open(page, 'customers', '[data-test=customers-consent]')
    await page.click('[data-test=customers-consent]')
    const listed = page.waitForResponse((r) => r.url().includes('/api/v1/customers?') && r.url().includes('consent=recorded'))
    await page.locator('.el-select-dropdown__item:visible', { hasText: '已告知' }).first().click()
    const body = await (await listed).json()
    expect(body.items.length === 1 && body.items[0].id === cust.id, 'only the told customer: ' + JSON.stringify(body.items.map((c) => c.name)))
  })

  await test('privacy: the admin sees who acknowledged the notice on their phone', async () => {
    const ctx = await browser.newContext(options)
    const pg = await ctx.newPage()
    pg.setDefaultTimeout(15000)
    try {
      await login(pg, 'admin', ADMIN_PW)
      await pg.waitForURL(/\/dashboard/)
      await open(pg, 'settings/notice', '[data-test=notice-ack-row]')
      const row = pg.locator('[data-test=notice-ack-row]', { hasText: '隐私小周' }).first()
      expect((await row.locator('[data-test=notice-ack-state]').textContent()).includes('已确认当前版本'), 'the salesperson acknowledged')
      const other = pg.locator('[data-test=notice-ack-row]', { hasText: '隐私王经理' }).first()
      expect((await other.locator('[data-test=notice-ack-state]').textContent()).includes('未确认'), 'the manager did not')
      await shotsOf(pg, '[data-test=notice-acks]', 'settings-notice-acks')
    } finally {
      await ctx.close()
    }
  })

  await test('privacy: the manager’s page is about the manager only, in English too', async () => {
    const ctx = await browser.newContext(options)
    const pg = await ctx.newPage()
    pg.setDefaultTimeout(15000)
    try {
      await login(pg, 'privmgr', PW)
      await pg.waitForURL(/\/dashboard/)
      await open(pg, 'me/privacy', '[data-test=privacy-viewers] [data-test=empty]')
      expect((await pg.textContent('[data-test=privacy-viewers]')).includes('还没有人查看过您的会话'), 'the manager sees no viewers of others')
      await pg.evaluate(() => localStorage.setItem('wp.locale', 'en'))
      await open(pg, 'me/privacy', '[data-test=privacy-viewers] [data-test=empty]')
      const text = await pg.textContent('[data-test=privacy-page]')
      expect(text.includes('Who viewed my conversations') && text.includes('Nobody has viewed your conversations yet'), 'English: ' + text.slice(0, 200))
    } finally {
      await ctx.close()
    }
    await must('PUT', '/notice', { token: tok, json: { text: notice.text, auto_message: null } }, 200)
  })

  // the suites after this one find the shared page signed in as the admin, as they left it
  await login(page, 'admin', ADMIN_PW)
  await page.waitForURL(/\/dashboard/)
}
