// SPDX-License-Identifier: MIT
// WeCom customer contact (issue 16, CONTRACT §6): callbacks built with WeCom's algorithm
// (node:crypto) reach the server, a fake of WeCom's API on loopback answers its client, and a
// departure in the handover wizard shows each customer's WeCom transfer state. The WeCom
// settings and UserIDs are written into the store (sqlite3 on WORKPHONE_DATA): their routes
// are the archive connector's.
import { createCipheriv, createHash, randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { adminApi, call, expect, must, open, shots, skip, test } from '../lib.mjs'

const CORP = 'wwdemo0000corp01'
const TOKEN = 'cbtoken1'
const AES = 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C'
const SECRET = 'contact-secret'
const DATA = process.env.WORKPHONE_DATA

const CONTACTS = [
  ['wmS1', '刘先生'],
  ['wmS2', '陈女士'],
  ['wmS3', '黄总'],
  ['wmS4', '吴小姐'],
  ['wmS5', '郑先生'],
]
// what the fake answers: a transfer's errcode, transfer_result's status
const SEND = { wmS3: 40097 }
const STATUS = { wmS1: 1, wmS2: 2, wmS4: 3, wmS5: 2 }

function fakeWecom() {
  const srv = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      const u = new URL(req.url, 'http://x')
      const p = u.pathname.replace('/cgi-bin/', '')
      const b = body ? JSON.parse(body) : {}
      let out = { errcode: 0, errmsg: 'ok' }
      if (p === 'gettoken') out = { ...out, access_token: 'tok-1', expires_in: 7200 }
      else if (p === 'externalcontact/batch/get_by_user')
        out.external_contact_list = CONTACTS.map(([id, name]) => ({
          external_contact: { external_userid: id, name },
          follow_info: { userid: 'sunyue', createtime: 1764230400 },
        }))
      else if (p.endsWith('transfer_customer')) out.customer = b.external_userid.map((e) => ({ external_userid: e, errcode: SEND[e] || 0 }))
      else if (p.endsWith('transfer_result')) out.customer = Object.entries(STATUS).map(([e, status]) => ({ external_userid: e, status }))
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify(out))
    })
  })
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)))
}

function encrypt(xml) {
  const key = Buffer.from(AES + '=', 'base64')
  const msg = Buffer.from(xml)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(msg.length)
  let plain = Buffer.concat([randomBytes(16), len, msg, Buffer.from(CORP)])
  const pad = 32 - (plain.length % 32)
  plain = Buffer.concat([plain, Buffer.alloc(pad, pad)])
  const c = createCipheriv('aes-256-cbc', key, key.subarray(0, 16))
  c.setAutoPadding(false)
  return Buffer.concat([c.update(plain), c.final()]).toString('base64')
}

let nonce = 0
async function callback(tenant, change, userid, ext) {
  const xml = `<xml><ToUserName><![CDATA[${CORP}]]></ToUserName><CreateTime>${Math.floor(Date.now() / 1000)}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[${change}]]></ChangeType><UserID><![CDATA[${userid}]]></UserID><ExternalUserID><![CDATA[${ext}]]></ExternalUserID></xml>`
  const enc = encrypt(xml)
  const ts = String(Math.floor(Date.now() / 1000))
  const n = 'web' + ++nonce
  const sig = createHash('sha1').update([TOKEN, ts, n, enc].sort().join('')).digest('hex')
  const res = await fetch(`${process.env.WORKPHONE_URL}/api/v1/wecom/callback/${tenant}?msg_signature=${sig}&timestamp=${ts}&nonce=${n}`, {
    method: 'POST',
    body: `<xml><ToUserName><![CDATA[${CORP}]]></ToUserName><Encrypt><![CDATA[${enc}]]></Encrypt></xml>`,
  })
  const text = await res.text()
  if (res.status !== 200 || text !== 'success') throw new Error(`callback ${change}: ${res.status} ${text}`)
}

const sql = (stmt) => execFileSync('sqlite3', ['-batch', '-noheader', join(DATA, 'workphone.db'), stmt]).toString().trim()
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

export async function run({ page }) {
  if (!DATA) {
    skip('WeCom customer contact', 'WORKPHONE_DATA (the server’s data dir) is not set')
    return
  }
  const fake = await fakeWecom()
  const tenant = sql('SELECT id FROM tenants LIMIT 1')
  const tok = await adminApi()
  const top = sql('SELECT id FROM org_units ORDER BY path LIMIT 1')
  const emp = {}
  for (const [name, user] of [['孙悦', 'sunyue'], ['周洁', 'zhoujie']]) {
    const e = await must('POST', '/employees', { token: tok, json: { name, org_unit_id: top, role: 'sales', username: user, password: 'wecom-pass-1' } }, 201)
    emp[user] = e.id
    await must('PATCH', `/employees/${e.id}`, { token: tok, json: { wecom_userid: user } }, 200)
  }
  await must('PUT', '/integrations/wecom', { token: tok, json: { corp_id: CORP, callback_token: TOKEN, encoding_aes_key: AES, contact_secret: SECRET, api_base: `http://127.0.0.1:${fake.address().port}` } }, 200)

  try {
    await test('WeCom: contacts from callbacks and the contact list; del_external_contact raises customer_deleted', async () => {
      for (const [ext] of CONTACTS) await callback(tenant, 'add_external_contact', 'sunyue', ext)
      await callback(tenant, 'del_external_contact', 'sunyue', 'wmS5')
      const alerts = await must('GET', '/alerts?limit=200', { token: tok }, 200)
      const del = alerts.items.filter((a) => a.kind === 'customer_deleted' && a.employee_id === emp.sunyue)
      expect(del.length === 1, 'customer_deleted alerts: ' + JSON.stringify(del))
      await must('POST', '/integrations/wecom/contacts/sync', { token: tok, json: {} }, 202)
      let names = []
      for (let i = 0; i < 50 && names.length < CONTACTS.length; i++) {
        await sleep(200)
        const cs = await must('GET', `/customers?owner=${emp.sunyue}&limit=50`, { token: tok }, 200)
        names = cs.items.map((c) => c.name).filter((n) => CONTACTS.some(([, name]) => name === n))
      }
      expect(names.length === CONTACTS.length, 'named from the contact list: ' + names)
    })

    await test('WeCom: a departure shows each customer’s transfer state in the handover report', async () => {
      await open(page, 'employees', '[data-test=employees-table] .el-table__row')
      await page.click('[data-test=handover-open]')
      await page.click('[data-test=ho-from]')
      await page.locator('.ho-from-popper .el-select-dropdown__item', { hasText: '(sunyue)' }).click()
      await page.click('[data-test=ho-transfer]')
      await page.click('[data-test=ho-departure]')
      await page.click('[data-test=ho-to]')
      await page.locator('.ho-to-popper .el-select-dropdown__item', { hasText: '(zhoujie)' }).click()
      await page.click('.el-dialog__title')
      await page.click('[data-test=ho-next]')
      await page.click('[data-test=ho-confirm]')
      await page.waitForSelector('[data-test=ho-report] .el-table__row')
      // the wizard asks again while WeCom's answers come in
      await page.waitForSelector('[data-test=ho-wecom-accepted]', { timeout: 30000 })
      await page.waitForSelector('[data-test=ho-wecom-waiting]')
      expect((await page.locator('[data-test=ho-wecom-refused]').count()) === 2, 'two refused')
      const sum = await page.textContent('[data-test=ho-wecom]')
      expect(sum.includes('已接替 1') && sum.includes('拒绝 2') && sum.includes('等待 2'), 'summary: ' + sum)
      const id = (await call('GET', `/handovers?from_employee=${emp.sunyue}`, { token: tok })).body.items[0].id
      const rep = await must('GET', `/handovers/${id}`, { token: tok }, 200)
      const st = Object.fromEntries(rep.customers.map((c) => [c.name, c.wecom && c.wecom.state]))
      expect(st['刘先生'] === 'accepted' && st['陈女士'] === 'waiting' && st['黄总'] === 'refused' && st['吴小姐'] === 'refused', 'states: ' + JSON.stringify(st))
      await shots(page, 'wecom-handover')
      await page.click('[data-test=ho-close]')
    })
  } finally {
    fake.close()
  }
}
