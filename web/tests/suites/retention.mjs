// SPDX-License-Identifier: MIT
// Data retention as an admin walks it (issue 20): the page says that what has no rule is kept
// forever; rules for a channel and an alert category made through the form and read back from
// the API; a legal hold on a customer and an employee made with the pickers, listed in force,
// then lifted with a reason; a manager has no such section. The rules are emptied at the end,
// so the suites after this one see none.
import { ADMIN_PW, adminApi, expect, login, must, open, shots, test } from '../lib.mjs'

const PW = 'retention-pass-1'

async function pick(pg, select, text) {
  await pg.click(select)
  await pg.locator('.el-select-dropdown__item:visible', { hasText: text }).first().click()
}

export async function run({ browser, options, page }) {
  const tok = await adminApi()
  const me = (await must('GET', '/auth/session', { token: tok }, 200)).employee
  const clerk = await must('POST', '/employees', { token: tok, json: { name: '保全测试员工', org_unit_id: me.org_unit_id, role: 'sales', username: 'retsales', password: PW } }, 201)
  await must('POST', '/employees', { token: tok, json: { name: '保全测试经理', org_unit_id: me.org_unit_id, role: 'manager', username: 'retmgr', password: PW } }, 201)
  const cust = await must('POST', '/customers', { token: tok, json: { name: '保全测试客户', phone: '13912340020' } }, 201)

  await test('retention: no rule means kept forever; a channel and a category rule through the form', async () => {
    await must('PUT', '/retention', { token: tok, json: { rules: [] } }, 200)
    await login(page, 'admin', ADMIN_PW)
    await page.waitForURL(/\/dashboard/)
    await open(page, 'settings/retention', '[data-test=retention-rules]')
    expect((await page.textContent('[data-test=retention-forever]')).includes('没有规则的渠道永久保留'), 'the page does not say what has no rule is kept forever')
    expect(await page.isVisible('[data-test=retention-none]'), 'no "no rule yet" line')
    await page.click('[data-test=rule-add-channel]')
    await page.fill('[data-test=rule-days-0] input', '365')
    await page.press('[data-test=rule-days-0] input', 'Tab')
    await page.click('[data-test=rule-add-category]')
    await pick(page, '[data-test=rule-name-1]', '金融违规')
    await page.fill('[data-test=rule-days-1] input', '1825')
    await page.press('[data-test=rule-days-1] input', 'Tab')
    await page.click('[data-test=retention-save]')
    await page.waitForSelector('.el-message--success')
    const got = (await must('GET', '/retention', { token: tok }, 200)).rules.map((r) => `${r.kind}:${r.name}:${r.days}`)
    expect(JSON.stringify(got) === JSON.stringify(['channel:wechat:365', 'category:finance:1825']), 'rules stored: ' + JSON.stringify(got))
  })

  await test('retention: the same channel twice is refused in words', async () => {
    await open(page, 'settings/retention', '[data-test=rule-0]')
    await page.click('[data-test=rule-add-channel]')
    await pick(page, '[data-test=rule-name-2]', '微信')
    await page.click('[data-test=retention-save]')
    await page.waitForSelector('[data-test=retention-error]')
    const text = await page.textContent('[data-test=retention-error]')
    expect(text.includes('同一个渠道或类别只能有一条规则'), 'refusal: ' + text)
    await page.click('[data-test=rule-remove-2]')
  })

  await test('retention: a legal hold on a customer and an employee, then lifted with a reason', async () => {
    await open(page, 'settings/retention', '[data-test=hold-new]')
    await page.click('[data-test=hold-new]')
    await page.waitForSelector('[data-test=hold-form-name]')
    await page.fill('[data-test=hold-form-name]', '张某投诉案')
    await page.fill('[data-test=hold-form-reason]', '客户投诉，法务要求保全聊天记录')
    await pick(page, '[data-test=hold-form-customers]', '保全测试客户')
    await page.keyboard.press('Escape')
    await pick(page, '[data-test=hold-form-employees]', '保全测试员工')
    await page.keyboard.press('Escape')
    await page.click('[data-test=hold-form-save]')
    await page.waitForSelector('[data-test=hold-dialog]', { state: 'hidden' })
    const holds = (await must('GET', '/legal-holds', { token: tok }, 200)).items
    const h = holds.find((x) => x.name === '张某投诉案')
    expect(h && h.active && h.customer_ids[0] === cust.id && h.employee_ids[0] === clerk.id, 'hold stored: ' + JSON.stringify(holds))
    const card = page.locator('[data-test=hold]', { hasText: '张某投诉案' })
    expect((await card.locator('[data-test=hold-state]').textContent()).includes('生效中'), 'not shown in force')
    expect((await card.locator('[data-test=hold-customers]').textContent()).includes('保全测试客户'), 'customer not named')
    await page.evaluate(() => document.querySelectorAll('.el-message').forEach((m) => m.remove()))
    await shots(page, 'settings-retention')
    await card.locator('[data-test=hold-lift]').click()
    const box = page.locator('.el-message-box.lift-box')
    await box.locator('input').fill('已结案')
    await box.locator('.el-button--primary').click()
    await box.waitFor({ state: 'detached' })
    await card.locator('[data-test=hold-lifted]').waitFor()
    expect((await card.locator('[data-test=hold-state]').textContent()).includes('已解除'), 'not shown lifted')
    const after = (await must('GET', '/legal-holds', { token: tok }, 200)).items.find((x) => x.id === h.id)
    expect(!after.active && after.lift_reason === '已结案', 'lifted: ' + JSON.stringify(after))
  })

  await test('retention: a manager has no retention section', async () => {
    const ctx = await browser.newContext(options)
    const pg = await ctx.newPage()
    pg.setDefaultTimeout(15000)
    try {
      await login(pg, 'retmgr', PW)
      await pg.waitForURL(/\/dashboard/)
      await open(pg, 'settings', '[data-test=settings-sections]')
      const tabs = await pg.locator('[data-test=settings-sections] .el-tabs__item').allTextContents()
      expect(tabs.length && !tabs.some((x) => x.includes('数据保留')), 'tabs: ' + tabs.join(','))
    } finally {
      await ctx.close()
    }
    await must('PUT', '/retention', { token: tok, json: { rules: [] } }, 200)
  })
}
