// SPDX-License-Identifier: MIT
// The webhooks page as an admin walks it: a WeCom robot made through the form (a private
// address refused until allowed), a test message and its delivery record, a real alert reaching
// the robot masked, a JSON webhook whose secret is shown once and signs, a failing receiver's
// retry, a redelivery. The receivers are a small HTTP server of this process on loopback.
import http from 'node:http'
import { createHmac } from 'node:crypto'
import { ADMIN_PW, BASE, adminApi, ago, call, expect, login, menuNames, must, open, shots, test } from '../lib.mjs'

function receiver() {
  const reqs = []
  const answers = {}
  const srv = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const u = new URL(req.url, 'http://receiver')
      reqs.push({ path: u.pathname, headers: req.headers, body: Buffer.concat(chunks) })
      const [code, text] = answers[u.pathname] || [200, '{"errcode":0,"errmsg":"ok"}']
      res.writeHead(code, { 'Content-Type': 'application/json' })
      res.end(text)
    })
  })
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      const port = srv.address().port
      resolve({ srv, reqs, answers, url: (p) => `http://127.0.0.1:${port}${p}`, got: (p) => reqs.filter((r) => r.path === p) })
    })
  })
}

async function until(fn, what, ms = 15000) {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error('timed out: ' + what)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const content = (r) => JSON.parse(r.body.toString()).markdown?.content || ''

export async function run({ browser, page }) {
  const rx = await receiver()
  const token = await adminApi()
  try {
    await test('webhooks: a WeCom robot through the form; a private address is refused until allowed', async () => {
      await login(page, 'admin', ADMIN_PW)
      await page.waitForURL(/\/dashboard/)
      await page.click('[data-test=menu-webhooks]')
      await page.waitForURL(/\/webhooks/)
      await page.waitForSelector('[data-test=webhook-new]')
      expect((await page.textContent('.page-title')).includes('Webhook 推送'), 'title not in Chinese')
      await page.click('[data-test=webhook-new]')
      await page.waitForSelector('[data-test=webhook-dialog] [data-test=webhook-url]')
      await page.fill('[data-test=webhook-name]', '上海一店告警群')
      await page.fill('[data-test=webhook-url]', rx.url('/wecom'))
      await shots(page, 'webhooks-new')
      await page.click('[data-test=webhook-save]')
      const err = await page.waitForSelector('[data-test=webhook-error]')
      const msg = (await err.textContent()).trim()
      expect(msg.includes('内网地址') && msg.includes('允许推送到内网地址'), 'refusal: ' + msg)
      expect(!/loopback|allow_private|url_not_allowed|127\.0\.0\.1/.test(msg), 'the refusal shows raw codes: ' + msg)
      expect(!(await page.$('[data-test=webhook-private-warn]')), 'the warning shows before the box is ticked')
      await page.click('[data-test=webhook-private]')
      const warn = await page.waitForSelector('[data-test=webhook-private-warn]')
      expect((await warn.textContent()).includes('内网'), 'the warning: ' + (await warn.textContent()))
      await shots(page, 'webhooks-private')
      await page.click('[data-test=webhook-save]')
      await page.waitForSelector('[data-test=webhooks-table] >> text=上海一店告警群')
      const list = await must('GET', '/webhooks', { token }, 200)
      const h = list.items.find((x) => x.name === '上海一店告警群')
      expect(h && h.format === 'wecom' && h.allow_private && h.events.join() === 'alert.raised', 'made: ' + JSON.stringify(h))
    })

    await test('webhooks: a test message reaches the robot and shows as delivered', async () => {
      await page.click('[data-test=webhooks-table] [data-test=webhook-test]')
      const r = await until(() => rx.got('/wecom')[0], 'the test message')
      expect(content(r).includes('测试'), 'test message: ' + content(r))
      await page.click('[data-test=webhooks-table] [data-test=webhook-history]')
      await until(async () => {
        const b = await page.$('[data-test=webhook-deliveries] [data-test=delivery-delivered]')
        if (!b) await page.click('[data-test=webhook-deliveries] .filters button')
        return b
      }, 'a delivered row')
      await page.waitForSelector('.el-message', { state: 'detached' }) // the toasts, out of the picture
      await shots(page, 'webhooks-deliveries')
      await page.keyboard.press('Escape')
    })

    await test('webhooks: an alert reaches the robot in Chinese, the customer masked', async () => {
      const me = (await must('POST', '/auth/login', { json: { username: 'admin', password: ADMIN_PW } }, 200)).employee
      const { code } = await must('POST', `/employees/${me.id}/enrollment-codes`, { token, json: {} }, 201)
      const dev = await must('POST', '/device/enroll', { json: { code, serial: 'SN-HOOK-0001', model: 'X1' } }, 201)
      const ev = { seq: 1, type: 'message', ts: ago(3), channel: 'wechat', direction: 'out', peer: { phone: '13900001111' }, chat: '13900001111', msgtype: 'text', text: '这单我私下给你飞单' }
      await must('POST', '/device/events', { token: dev.token, json: { events: [ev] } }, 200)
      const r = await until(() => rx.got('/wecom').find((x) => content(x).includes('飞单私单')), 'the alert message')
      const c = content(r)
      expect(c.includes('告警') && c.includes('拦截') && c.includes('北京时间'), 'message: ' + c)
      expect(!c.includes('13900001111'), 'the phone leaked: ' + c)
    })

    await test('webhooks: a JSON webhook without a secret gets one, shown once, that signs', async () => {
      await open(page, 'webhooks', '[data-test=webhook-new]')
      await page.click('[data-test=webhook-new]')
      await page.click('[data-test=webhook-format] >> text=JSON（签名）')
      await page.fill('[data-test=webhook-name]', 'CRM 同步')
      await page.fill('[data-test=webhook-url]', rx.url('/json'))
      await page.click('[data-test=webhook-private]')
      await page.click('[data-test=webhook-save]')
      const box = await page.waitForSelector('[data-test=webhook-secret] input')
      const secret = await box.inputValue()
      expect(secret.startsWith('whsec_'), 'secret: ' + secret)
      await page.click('[data-test=webhook-dialog] .el-dialog__footer button')
      const row = page.locator('[data-test=webhooks-table] .el-table__row', { hasText: 'CRM 同步' })
      await row.locator('[data-test=webhook-test]').click()
      const r = await until(() => rx.got('/json')[0], 'the signed test event')
      const sig = Object.fromEntries(String(r.headers['x-workphone-signature']).split(',').map((p) => p.split('=')))
      const want = createHmac('sha256', secret).update(sig.t + '.').update(r.body).digest('hex')
      expect(sig.v1 === want, 'signature ' + JSON.stringify(sig))
      expect(JSON.parse(r.body.toString()).event === 'webhook.test', 'event')
      const list = await must('GET', '/webhooks', { token }, 200)
      expect(!JSON.stringify(list).includes(secret), 'the secret is answered back')
    })

    await test('webhooks: a failing receiver is retried, and a delivered message can be sent again', async () => {
      rx.answers['/fail'] = [500, 'down']
      const h = await must('POST', '/webhooks', { token, json: { name: '坏掉的接收方', url: rx.url('/fail'), events: ['alert.raised'], secret: 'fail-secret-1', allow_private: true } }, 201)
      await must('POST', `/webhooks/${h.id}/test`, { token, json: {} }, 202)
      await until(() => rx.got('/fail').length, 'an attempt')
      await open(page, 'webhooks', '[data-test=webhooks-table]')
      const row = page.locator('[data-test=webhooks-table] .el-table__row', { hasText: '坏掉的接收方' })
      await row.locator('[data-test=webhook-history]').click()
      const tag = await page.waitForSelector('[data-test=webhook-deliveries] [data-test=delivery-pending]')
      expect((await tag.textContent()).includes('待重试'), 'pending tag')
      const text = await page.textContent('[data-test=webhook-deliveries] [data-test=deliveries-table]')
      expect(text.includes('HTTP 500') && text.includes('500'), 'history: ' + text)
      await shots(page, 'webhooks-retry')
      await page.keyboard.press('Escape')

      const wecom = page.locator('[data-test=webhooks-table] .el-table__row', { hasText: '上海一店告警群' })
      await wecom.locator('[data-test=webhook-history]').click()
      const before = rx.got('/wecom').length
      await page.waitForSelector('[data-test=webhook-deliveries] [data-test=delivery-redeliver]')
      const first = (await page.$$('[data-test=webhook-deliveries] [data-test=delivery-redeliver]')).pop()
      await first.click()
      await until(() => rx.got('/wecom').length > before, 'the redelivery')
      await page.keyboard.press('Escape')
    })

    await test('webhooks: the list and the dead letters, at desktop and phone width', async () => {
      await open(page, 'webhooks', '[data-test=webhooks-table]')
      await page.waitForSelector('[data-test=dead-letters]')
      const r = await call('GET', '/webhook-deliveries?status=dead', { token })
      expect(r.status === 200 && Array.isArray(r.body.items), 'dead letters: ' + r.status)
      const text = await page.textContent('[data-test=webhooks-table]')
      for (const w of ['上海一店告警群', 'CRM 同步', '企业微信群', 'JSON（签名）', '产生告警', '全公司', '已送达'])
        expect(text.includes(w), `the list lacks ${w}: ${text}`)
      await shots(page, 'webhooks')
      const size = page.viewportSize()
      await page.setViewportSize({ width: 390, height: 844 })
      try {
        await page.waitForSelector('[data-test=webhooks-cards]')
        const wide = await page.evaluate(() => document.documentElement.scrollWidth)
        expect(wide <= 390, 'the page is wider than the phone: ' + wide)
        const cards = await page.textContent('[data-test=webhooks-cards]')
        expect(cards.includes('上海一店告警群') && cards.includes('发送测试'), 'cards: ' + cards)
      } finally {
        await page.setViewportSize(size)
      }
    })

    await test('webhooks: a manager has no webhooks menu, the page sends them away, the API refuses', async () => {
      const me = (await must('POST', '/auth/login', { json: { username: 'admin', password: ADMIN_PW } }, 200)).employee
      await must('POST', '/employees', { token, json: { name: '钱主管', org_unit_id: me.org_unit_id, role: 'manager', username: 'hookmgr', password: 'hookmgr-pass-1' } }, 201)
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' })
      try {
        const mp = await ctx.newPage()
        mp.setDefaultTimeout(15000)
        await login(mp, 'hookmgr', 'hookmgr-pass-1')
        await mp.waitForURL(/\/dashboard/)
        const menu = await menuNames(mp)
        expect(menu.includes('dashboard') && !menu.includes('webhooks'), 'the manager’s menu: ' + menu)
        await mp.goto(BASE + '/webhooks')
        await mp.waitForURL(/\/dashboard/)
        const mt = (await must('POST', '/auth/login', { json: { username: 'hookmgr', password: 'hookmgr-pass-1' } }, 200)).token
        const r = await call('GET', '/webhooks', { token: mt })
        expect(r.status === 403 && r.body.error.code === 'forbidden', 'the manager lists webhooks: ' + JSON.stringify(r))
      } finally {
        await ctx.close()
      }
    })
  } finally {
    rx.srv.close()
  }
}
