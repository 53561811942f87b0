// SPDX-License-Identifier: MIT
// A customer's data request and erasure as an admin walks them (PIPL, issue 20): the customer
// page's 导出个人信息 downloads a ZIP (read back: its files); 删除个人信息 asks for the id typed
// again and a reason, is refused in words while a legal hold covers the customer, then erases:
// the page and the list show 已删除客户 with the erased tag; a salesperson sees neither button.
import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ADMIN_PW, adminApi, expect, login, must, open, shots, test } from '../lib.mjs'

const PW = 'pipl-pass-1'

export async function run({ page }) {
  const tok = await adminApi()
  const me = (await must('GET', '/auth/session', { token: tok }, 200)).employee
  await must('POST', '/employees', { token: tok, json: { name: '个保测试销售', org_unit_id: me.org_unit_id, role: 'sales', username: 'piplsales', password: PW } }, 201)
  const cust = await must('POST', '/customers', { token: tok, json: { name: '个保测试客户', phone: '13912340037' } }, 201)
  await must('POST', `/customers/${cust.id}/follow-ups`, { token: tok, json: { text: '客户要求查看个人信息' } }, 201)
  const dir = mkdtempSync(join(tmpdir(), 'wp-pipl-'))

  await test('pipl: an admin exports a customer\'s personal data as a ZIP', async () => {
    await login(page, 'admin', ADMIN_PW)
    await page.waitForURL(/\/dashboard/)
    await open(page, 'customers/' + cust.id, '[data-test=pipl-export]')
    expect((await page.textContent('[data-test=pipl-export]')).includes('导出个人信息'), 'the export button in Chinese')
    await shots(page, 'customer-pipl')
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-test=pipl-export]')])
    const name = download.suggestedFilename()
    expect(new RegExp(`^customer-${cust.id}-\\d{8}\\.zip$`).test(name), 'a named file: ' + name)
    const path = join(dir, name)
    await download.saveAs(path)
    const files = execFileSync('python3', ['-c', 'import sys, zipfile; print(" ".join(sorted(zipfile.ZipFile(sys.argv[1]).namelist())))', path]).toString().trim()
    expect(files === 'calls.json customer.json messages.json summary.html', 'the files: ' + files)
    const audit = await must('GET', '/audit?action=customer.data_export&limit=1', { token: tok }, 200)
    expect(audit.items[0]?.target === 'customer:' + cust.id, 'audited: ' + JSON.stringify(audit.items[0]))
  })

  await test('pipl: erasure asks for the id typed again and is refused in words under a hold', async () => {
    const hold = await must('POST', '/legal-holds', { token: tok, json: { name: '个保测试保全', reason: '诉讼', customer_ids: [cust.id] } }, 201)
    await open(page, 'customers/' + cust.id, '[data-test=pipl-erase]')
    await page.click('[data-test=pipl-erase]')
    await page.waitForSelector('[data-test=erase-dialog] [data-test=erase-confirm]')
    await page.fill('[data-test=erase-reason]', '客户依法要求删除')
    expect(await page.isDisabled('[data-test=erase-do]'), 'erasing needs the id typed')
    await page.fill('[data-test=erase-confirm]', cust.id.slice(0, 10))
    expect(await page.isDisabled('[data-test=erase-do]'), 'a part of the id is not enough')
    await page.fill('[data-test=erase-confirm]', cust.id)
    await shots(page, 'customer-pipl-erase')
    await page.click('[data-test=erase-do]')
    await page.waitForSelector('[data-test=erase-error]')
    const text = await page.textContent('[data-test=erase-error]')
    expect(text.includes('受法律保全约束') && !text.includes('legal_hold'), 'the refusal in words: ' + text)
    await must('DELETE', '/legal-holds/' + hold.id, { token: tok, json: { reason: '结案' } }, 200)
  })

  await test('pipl: erased, the page and the list show an erased customer', async () => {
    await page.click('[data-test=erase-do]')
    await page.waitForSelector('[data-test=erased-note]')
    expect((await page.textContent('[data-test=detail-name]')).trim() === '已删除客户', 'the name is 已删除客户')
    const tagShown = await page.locator('[data-test=erased-tag]').waitFor({ state: 'visible', timeout: 5000 }).then(() => true, () => false)
    expect(tagShown, 'the erased tag')
    expect(!(await page.isVisible('[data-test=pipl-erase]')) && !(await page.isVisible('[data-test=edit-open]')), 'nothing left to erase or edit')
    expect(!(await page.isVisible('[data-test=timeline-export]')), 'no timeline left to export')
    expect(!(await page.isVisible('[data-test=detail-consent]')), 'no consent state for a tombstone')
    const got = await must('GET', '/customers/' + cust.id, { token: tok }, 200)
    expect(got.erased_at && got.phone === null && got.name === '已删除客户', 'the tombstone: ' + JSON.stringify(got))
    const tl = await must('GET', `/customers/${cust.id}/timeline`, { token: tok }, 200)
    expect(tl.items.length === 0, 'the timeline is empty: ' + JSON.stringify(tl.items))
    await shots(page, 'customer-erased')
    await open(page, 'customers', '[data-test=customer-erased]')
    expect(await page.isVisible('[data-test=customer-erased]'), 'the list marks it erased')
  })

  await test('pipl: a salesperson sees neither button', async () => {
    await login(page, 'piplsales', PW)
    await page.waitForURL(/\/dashboard|\/customers/)
    await open(page, 'customers/' + cust.id, '[data-test=detail-name]')
    expect(!(await page.isVisible('[data-test=pipl-export]')) && !(await page.isVisible('[data-test=pipl-erase]')), 'no export or erase for a salesperson')
  })
}
