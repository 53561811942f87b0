// SPDX-License-Identifier: MIT
// The settings a company runs from the console (issue 15), each done through its page and then
// read back from the API: tags and tag groups (the customer page's picker offers them), the
// scripts library, follow-up and grading rules (a rule grades a customer), the pool's rules,
// what each role may see, the transfer alert, storage limits and insider thresholds; employees
// (edit, move, role, password, deactivate: the login stops) and org units (create, rename,
// move, and the refusal to delete one that holds people or units); pausing and revoking one
// phone (its token is refused). A manager, an auditor and a salesperson do not see what they
// may not change. The suite makes its own company beside what earlier suites left.
import { ADMIN_PW, BASE, adminApi, call, expect, login, must, open, shots as both, shotsOf, test, watch } from '../lib.mjs'
import { enrollAndSend } from './core.mjs'

const PW = 'settings-pass-1'

async function pick(pg, select, text) {
  await pg.click(select)
  await pg.locator('.el-select-dropdown__item:visible', { hasText: text }).first().click()
}

// an el-input-number: type the value, then leave the field (it takes the value on change)
async function number(pg, sel, v) {
  await pg.fill(`${sel} input`, String(v))
  await pg.press(`${sel} input`, 'Tab')
}

// yes to the confirmation the page asks (components/acts.js confirmAct)
async function confirmBox(pg) {
  const box = pg.locator('.el-message-box.confirm-act')
  await box.locator('.el-button--primary').click()
  await box.waitFor({ state: 'detached' })
}

// a page of its own for one person, with its errors watched
async function as(browser, options, user, password) {
  const ctx = await browser.newContext(options)
  const pg = await ctx.newPage()
  pg.setDefaultTimeout(15000)
  const errors = watch(pg)
  await login(pg, user, password)
  await pg.waitForURL(/\/dashboard/)
  return { ctx, pg, errors }
}

async function enroll(tok, employeeId, serial) {
  const { code } = await must('POST', `/employees/${employeeId}/enrollment-codes`, { token: tok, json: {} }, 201)
  return must('POST', '/device/enroll', { json: { code, serial, model: 'Workphone S2' } }, 201)
}

const count = (pg, sel) => pg.locator(sel).count()

// the pictures: from the top of the page, without the toasts of the acts just done
async function shots(pg, name) {
  await pg.evaluate(() => {
    document.querySelectorAll('.el-message').forEach((m) => m.remove())
    window.scrollTo(0, 0)
    document.querySelectorAll('*').forEach((el) => {
      if (el.scrollTop && !el.closest('.el-dialog, .el-overlay')) el.scrollTop = 0
    })
  })
  await both(pg, name)
}

export async function run({ browser, options, page, errors }) {
  const tok = await adminApi()
  const me = (await must('GET', '/auth/session', { token: tok }, 200)).employee
  const hq = me.org_unit_id
  // the company this suite works on: a region with a store, another region, their people
  const unit = (name, parent, kind) => must('POST', '/org-units', { token: tok, json: { name, parent_id: parent, kind } }, 201)
  const person = (name, org, role, username) => must('POST', '/employees', { token: tok, json: { name, org_unit_id: org.id, role, username, password: PW } }, 201)
  const east = await unit('设置测试华东', hq, 'region')
  const store = await unit('设置测试一店', east.id, 'store')
  const south = await unit('设置测试华南', hq, 'region')
  const mgr = await person('冯主管', east, 'manager', 'setmgr')
  const seller = await person('蒋销售', store, 'sales', 'setsales')
  const seller2 = await person('沈销售', south, 'sales', 'setsales2')
  await person('秦审计', { id: hq }, 'auditor', 'setaud')
  const peer = { id: 'wxid_han', name: '韩先生', phone: '13011112222' }
  await enrollAndSend(tok, seller.id, 'SN-SET-0001', [
    { dir: 'out', peer, text: '韩先生您好，我是蒋销售' },
    { dir: 'in', peer, text: '你好，想了解一下新楼盘' },
    { dir: 'out', peer, text: '好的，周末带您去看' },
  ])
  const han = (await must('GET', '/customers?q=' + encodeURIComponent('韩先生'), { token: tok }, 200)).items[0]

  // the admin's page is logged in after the core suite; on its own, the suite logs in
  await page.goto(BASE + '/settings')
  await page.waitForSelector('[data-test=login-submit], [data-test=who]')
  if (/\/login/.test(page.url())) {
    await login(page, 'admin', ADMIN_PW)
    await page.waitForURL(/\/dashboard/)
  }

  await test('settings: the admin has every section; a tag group and a tag made on the page reach the customer page', async () => {
    await open(page, 'settings', '[data-test=settings-sections]')
    for (const s of ['account', 'crm', 'roles', 'alerts']) expect(await count(page, '#tab-' + s), 'no section ' + s)
    await page.click('#tab-crm')
    await page.waitForURL(/\/settings\/crm/)
    await page.waitForSelector('[data-test=tag-new]')
    for (const s of ['tags', 'scripts', 'sop', 'grade', 'pool']) expect(await count(page, '#tab-' + s), 'no tab ' + s)
    await page.click('[data-test=group-new]')
    await page.fill('[data-test=group-name]', '客户来源')
    await page.click('[data-test=group-save]')
    const card = page.locator('[data-test=tag-group]', { has: page.locator('[data-test=tag-group-name]', { hasText: '客户来源' }) })
    await card.waitFor()
    await card.locator('[data-test=group-add-tag]').click()
    await page.fill('[data-test=tag-name]', '转介绍')
    await page.click('[data-test=tag-save]')
    await card.locator('[data-test=tag-chip]', { hasText: '转介绍' }).waitFor()
    const group = (await must('GET', '/tag-groups', { token: tok }, 200)).items.find((g) => g.name === '客户来源')
    const tag = (await must('GET', '/tags', { token: tok }, 200)).items.find((x) => x.name === '转介绍')
    expect(group && tag && tag.group_id === group.id, 'on the server: ' + JSON.stringify({ group, tag }))
    await shots(page, 'settings-tags')

    // a group that holds a tag is not deleted, and the page says why
    await card.locator('[data-test=group-delete]').click()
    await confirmBox(page)
    const msg = await page.locator('.el-message--error').first().textContent()
    expect(msg.includes('还有 1 个标签'), 'the refusal: ' + msg)
    expect((await must('GET', '/tag-groups', { token: tok }, 200)).items.some((g) => g.id === group.id), 'the group went')

    // the customer page's picker offers it, and picking it tags the customer
    await open(page, 'customers/' + han.id, '[data-test=tag-picker]')
    await pick(page, '[data-test=tag-picker]', '转介绍')
    await page.locator('[data-test=tag-chip]', { hasText: '转介绍' }).waitFor()
    await page.click('h3')
    const now = await must('GET', '/customers/' + han.id, { token: tok }, 200)
    expect(now.tags.some((x) => x.id === tag.id), 'the customer’s tags: ' + JSON.stringify(now.tags))
  })

  await test('settings: a script added to the library', async () => {
    await open(page, 'settings/crm/scripts', '[data-test=script-new]')
    await page.click('[data-test=script-new]')
    await page.click('[data-test=script-category]')
    await page.keyboard.type('开场白')
    await page.keyboard.press('Enter')
    await page.fill('[data-test=script-title-input]', '首次问候')
    await page.fill('[data-test=script-text]', '您好，我是您的专属顾问，有任何问题随时联系我。')
    await page.click('[data-test=script-save]')
    await page.locator('[data-test=script-title]', { hasText: '首次问候' }).waitFor()
    const s = (await must('GET', '/scripts?q=' + encodeURIComponent('首次问候'), { token: tok }, 200)).items
    expect(s.length === 1 && s[0].category === '开场白' && s[0].text.startsWith('您好，我是您的专属顾问'), 'on the server: ' + JSON.stringify(s))
    await shots(page, 'settings-scripts')
  })

  await test('settings: a follow-up rule, read in plain words, then paused', async () => {
    await open(page, 'settings/crm/sop', '[data-test=sop-new]')
    await page.click('[data-test=sop-new]')
    await page.fill('[data-test=sop-name-input]', 'A 级客户每 3 天跟进')
    await pick(page, '[data-test=sop-grade]', 'A 级')
    const preview = await page.textContent('[data-test=sop-preview]')
    expect(preview.includes('A 级客户') && preview.includes('3 天') && preview.includes('1 天'), 'the preview: ' + preview)
    await shots(page, 'settings-sop-dialog')
    await page.click('[data-test=sop-save]')
    const card = page.locator('[data-test=sop-rule]', { hasText: 'A 级客户每 3 天跟进' })
    await card.waitFor()
    const rule = (await must('GET', '/sop-rules', { token: tok }, 200)).items.find((r) => r.name === 'A 级客户每 3 天跟进')
    expect(rule && rule.grade === 'A' && rule.stage === null && rule.interval_hours === 72 && rule.grace_hours === 24 && rule.active, 'on the server: ' + JSON.stringify(rule))
    await shots(page, 'settings-sop')
    await card.locator('[data-test=sop-active]').click()
    await page.waitForFunction(() => document.querySelector('[data-test=sop-rule].off'))
    const off = (await must('GET', '/sop-rules', { token: tok }, 200)).items.find((r) => r.id === rule.id)
    expect(off.active === false, 'still active on the server')
  })

  await test('settings: a grading rule grades a customer', async () => {
    await open(page, 'settings/crm/grade', '[data-test=grade-new]')
    await page.click('[data-test=grade-new]')
    await number(page, '[data-test=grade-min-messages]', 2)
    await page.click('[data-test=grade-give-B]')
    const preview = await page.textContent('[data-test=grade-preview]')
    expect(preview.includes('最近 7 天内消息不少于 2 条') && preview.includes('评为 B 级'), 'the preview: ' + preview)
    await shots(page, 'settings-grade-dialog')
    await page.click('[data-test=grade-save]')
    await page.locator('[data-test=grade-summary]', { hasText: '不少于 2 条' }).waitFor()
    const rule = (await must('GET', '/grade-rules', { token: tok }, 200)).items.find((r) => r.min_messages === 2)
    expect(rule && rule.grade === 'B' && rule.messages_days === 7 && rule.stage === null && rule.tag_id === null && rule.active, 'on the server: ' + JSON.stringify(rule))
    await shots(page, 'settings-grade')
    // an edit of the customer runs the rules: 韩先生 has 3 messages this week
    await must('PATCH', '/customers/' + han.id, { token: tok, json: { notes: '想看新楼盘' } }, 200)
    const graded = await must('GET', '/customers/' + han.id, { token: tok }, 200)
    expect(graded.grade === 'B', 'the rule did not grade the customer: ' + graded.grade)
    const row = page.locator('[data-test=grade-rule]', { hasText: '不少于 2 条' })
    await row.locator('[data-test=grade-active]').click()
    await page.waitForFunction(() => document.querySelector('[data-test=grade-rule].off'))
    const off = (await must('GET', '/grade-rules', { token: tok }, 200)).items.find((r) => r.id === rule.id)
    expect(off.active === false, 'still active on the server')
  })

  await test('settings: the pool’s rules, and the pool page tells them', async () => {
    await open(page, 'settings/crm/pool', '[data-test=pool-save]')
    await number(page, '[data-test=pool-claim]', 5)
    await number(page, '[data-test=pool-cooldown]', 3)
    await number(page, '[data-test=pool-reclaim]', 0)
    await page.click('[data-test=pool-save]')
    await page.locator('.el-message--success').first().waitFor()
    const s = await must('GET', '/pool/settings', { token: tok }, 200)
    expect(s.pool_claim_daily_max === 5 && s.pool_cooldown_days === 3 && s.reclaim_inactive_days === 0, 'on the server: ' + JSON.stringify(s))
    await shots(page, 'settings-pool')
    await open(page, 'pool', '[data-test=pool-rules]')
    const rules = await page.textContent('[data-test=pool-rules]')
    expect(rules.includes('最多领取 5 个') && rules.includes('3 天内'), 'the pool page: ' + rules)
    await must('PUT', '/pool/settings', { token: tok, json: { pool_claim_daily_max: 20, pool_cooldown_days: 7, reclaim_inactive_days: 30 } }, 200)
  })

  await test('settings: roles: letting sales see phone numbers, and taking it back', async () => {
    await open(page, 'settings/roles', '[data-test=role-sales]')
    expect((await count(page, '[data-test=role-sales-handle_alerts]')) === 0, 'sales is offered handling alerts')
    expect(await count(page, '[data-test=role-auditor-handle_alerts]'), 'no handle_alerts switch for auditors')
    const rights = await page.textContent('[data-test=role-manager] [data-test=role-rights]')
    expect(rights.includes('分配和交接客户'), 'the manager’s rights in words: ' + rights)
    const sl = (await must('POST', '/auth/login', { json: { username: 'setsales', password: PW } }, 200)).token
    const phone = async () => (await must('GET', '/customers/' + han.id, { token: sl }, 200)).phone
    expect((await phone()) === '130****2222', 'masked before: ' + (await phone()))
    await page.click('[data-test=role-sales-view_pii]')
    await page.waitForFunction(() => document.querySelector('[data-test=role-sales-view_pii]').classList.contains('is-checked'))
    const roles = (await must('GET', '/roles', { token: tok }, 200)).items
    expect(roles.find((r) => r.role === 'sales').view_pii === true, 'on the server: ' + JSON.stringify(roles))
    expect((await phone()) === '13011112222', 'the salesperson still sees ' + (await phone()))
    await shots(page, 'settings-roles')
    await page.click('[data-test=role-sales-view_pii]')
    await page.waitForFunction(() => !document.querySelector('[data-test=role-sales-view_pii]').classList.contains('is-checked'))
    expect((await phone()) === '130****2222', 'masked again: ' + (await phone()))
  })

  await test('settings: the transfer alert in yuan, a storage limit, the insider thresholds', async () => {
    const before = (await must('GET', '/settings', { token: tok }, 200)).settings
    await open(page, 'settings/alerts', '[data-test=money-save]')
    await number(page, '[data-test=money-yuan]', 1000)
    await page.click('[data-test=money-save]')
    await page.waitForFunction(() => document.querySelector('.el-message--success'))
    let s = (await must('GET', '/settings', { token: tok }, 200)).settings
    expect(s.money_alert_fen === 100000, 'money_alert_fen: ' + s.money_alert_fen)
    // locations outside working hours: dropped by default, kept once chosen, and the phones'
    // policy says which
    expect(s.locations_off_duty === 'drop', 'locations_off_duty by default: ' + s.locations_off_duty)
    await page.click('[data-test=off-duty-keep]')
    await page.click('[data-test=off-duty-save]')
    await page.waitForFunction(() => document.querySelectorAll('.el-message--success').length >= 1)
    await page.waitForTimeout(300)
    s = (await must('GET', '/settings', { token: tok }, 200)).settings
    expect(s.locations_off_duty === 'keep', 'locations_off_duty: ' + s.locations_off_duty)
    await pick(page, '[data-test=limit-unit-media]', 'GB')
    await number(page, '[data-test=limit-media]', 50)
    await page.click('[data-test=storage-save]')
    await page.waitForFunction(() => document.querySelector('[data-test=usage-media]').textContent.includes('50 GB'))
    s = (await must('GET', '/settings', { token: tok }, 200)).settings
    expect(s.media_limit_bytes === 50 * 2 ** 30, 'media_limit_bytes: ' + s.media_limit_bytes)
    await number(page, '[data-test=insider_unmask_per_hour]', 30)
    await page.click('[data-test=insider-save]')
    await page.waitForFunction(() => document.querySelectorAll('.el-message--success').length >= 1)
    await page.waitForTimeout(300)
    s = (await must('GET', '/settings', { token: tok }, 200)).settings
    expect(s.insider_unmask_per_hour === 30, 'insider_unmask_per_hour: ' + s.insider_unmask_per_hour)
    // the field thresholds: the defaults, then a stop of 15 minutes and a grace of 3
    expect(s.track_accuracy_m === 100 && s.track_stop_minutes === 10 && s.attendance_grace_minutes === 5, 'field thresholds by default: ' + JSON.stringify(s))
    await number(page, '[data-test=track_stop_minutes]', 15)
    await number(page, '[data-test=attendance_grace_minutes]', 3)
    await page.click('[data-test=field-save]')
    for (let i = 0; i < 100 && s.track_stop_minutes !== 15; i++) {
      await page.waitForTimeout(100)
      s = (await must('GET', '/settings', { token: tok }, 200)).settings
    }
    expect(s.track_stop_minutes === 15 && s.attendance_grace_minutes === 3 && s.track_accuracy_m === 100, 'field thresholds saved: ' + JSON.stringify(s))
    await shotsOf(page, '[data-test=limits-field]', 'settings-field')
    await shots(page, 'settings-alerts')
    await page.click('[data-test=off-duty-drop]')
    await page.click('[data-test=off-duty-save]')
    s = (await must('GET', '/settings', { token: tok }, 200)).settings
    for (let i = 0; i < 100 && s.locations_off_duty !== 'drop'; i++) {
      await page.waitForTimeout(100)
      s = (await must('GET', '/settings', { token: tok }, 200)).settings
    }
    expect(s.locations_off_duty === 'drop', 'back to drop: ' + s.locations_off_duty)
    await page.click('[data-test=limit-default-media]')
    await page.click('[data-test=storage-save]')
    await page.waitForFunction(() => document.querySelector('[data-test=usage-media]').textContent.includes('1 TB'))
    s = (await must('GET', '/settings', { token: tok }, 200)).settings
    expect(s.media_limit_bytes === 2 ** 40, 'back to the default: ' + s.media_limit_bytes)
    await must('PUT', '/settings', { token: tok, json: { money_alert_fen: before.money_alert_fen } }, 200)
  })

  await test('employees: rename, move and promote one, reset its password, deactivate it (the login stops) and bring it back', async () => {
    const e = await person('待调整', store, 'sales', 'setmove')
    const loginAs = (password) => call('POST', '/auth/login', { json: { username: 'setmove', password } })
    await open(page, 'employees', '[data-test=employees-table] .el-table__row')
    await page.fill('.filters input', 'setmove')
    await page.press('.filters input', 'Enter')
    const row = page.locator('[data-test=employees-table] .el-table__body-wrapper .el-table__row', { hasText: 'setmove' })
    await row.waitFor()
    await row.locator('[data-test=emp-edit]').click()
    await page.fill('[data-test=emp-edit-name]', '韦调整')
    await pick(page, '[data-test=emp-edit-unit]', '设置测试华南')
    await pick(page, '[data-test=emp-edit-role]', '主管')
    expect((await page.textContent('.el-dialog:visible')).includes('原部门的主管将不再看到他'), 'no word on what the move does')
    await shots(page, 'employee-edit')
    await page.click('[data-test=emp-edit-save]')
    await page.locator('[data-test=employees-table]', { hasText: '韦调整' }).waitFor()
    let now = await must('GET', '/employees/' + e.id, { token: tok }, 200)
    expect(now.name === '韦调整' && now.org_unit_id === south.id && now.role === 'manager', 'on the server: ' + JSON.stringify(now))

    await row.locator('[data-test=emp-more]').click()
    await page.locator('[data-test=emp-password-reset]:visible').click()
    await page.fill('[data-test=pw-reset-new]', 'moved-pass-9')
    await page.fill('[data-test=pw-reset-again]', 'moved-pass-9')
    await page.click('[data-test=pw-reset-save]')
    await page.locator('.el-message--success', { hasText: '新密码' }).waitFor()
    expect((await loginAs('moved-pass-9')).status === 200, 'the new password does not log in')
    expect((await loginAs(PW)).status === 401, 'the old password still logs in')

    await row.locator('[data-test=emp-more]').click()
    await page.locator('[data-test=emp-deactivate]:visible').click()
    await confirmBox(page)
    await page.locator('[data-test=employees-table]', { hasText: '停用' }).waitFor()
    now = await must('GET', '/employees/' + e.id, { token: tok }, 200)
    expect(now.active === false, 'still active on the server')
    const refused = await loginAs('moved-pass-9')
    expect(refused.status === 401, 'a deactivated employee logs in: HTTP ' + refused.status)

    await row.locator('[data-test=emp-more]').click()
    await page.locator('[data-test=emp-activate]:visible').click()
    await page.locator('.el-message--success', { hasText: '重新启用' }).waitFor()
    expect((await loginAs('moved-pass-9')).status === 200, 'reactivated, yet no login')

    // my own row: my name only, no password reset or deactivation
    await page.fill('.filters input', 'admin')
    await page.press('.filters input', 'Enter')
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-test=employees-table] .el-table__body-wrapper .el-table__row')]
      return rows.length === 1 && rows[0].textContent.includes('管理员')
    })
    const mine = page.locator('[data-test=employees-table] .el-table__body-wrapper .el-table__row')
    expect((await mine.locator('[data-test=emp-more]').count()) === 0, 'the admin may deactivate itself on the page')
    await mine.locator('[data-test=emp-edit]').click()
    await page.locator('[data-test=emp-edit-self]:visible').waitFor()
    expect((await count(page, '.el-dialog:visible [data-test=emp-edit-role]')) === 0, 'the admin may change its own role on the page')
    await page.keyboard.press('Escape')
  })

  await test('org units: create, rename and move one; deleting one with people or units below is refused in words', async () => {
    await open(page, 'employees', '[data-test=org-tree] .el-tree-node')
    await page.click('[data-test=new-unit]')
    await page.fill('[data-test=unit-name]', '设置测试小组')
    await pick(page, '.el-dialog:visible .el-form-item:last-child .el-select', '设置测试华东')
    await page.click('[data-test=unit-save]')
    const node = (name) => page.locator('[data-test=org-tree] .el-tree-node__content', { hasText: name })
    await node('设置测试小组').click()
    await page.click('[data-test=unit-rename]')
    await page.fill('[data-test=unit-new-name]', '设置测试二组')
    await page.click('[data-test=unit-edit-save]')
    await node('设置测试二组').waitFor()
    const team = (await must('GET', '/org-units', { token: tok }, 200)).items.find((u) => u.name === '设置测试二组')
    expect(team && team.parent_id === east.id && team.kind === 'team', 'on the server: ' + JSON.stringify(team))
    await node('设置测试二组').click()
    await page.click('[data-test=unit-move]')
    await pick(page, '[data-test=unit-new-parent]', '设置测试华南')
    await page.click('[data-test=unit-edit-save]')
    // the rename's success message may still be up: wait for the move on the server itself
    let moved = null
    for (let i = 0; i < 100; i++) {
      moved = await must('GET', '/org-units/' + team.id, { token: tok }, 200)
      if (moved.parent_id === south.id) break
      await page.waitForTimeout(100)
    }
    expect(moved.parent_id === south.id && moved.depth === 3, 'moved on the server: ' + JSON.stringify(moved))

    // a unit with someone in it
    await person('组员', team, 'sales', 'setmember')
    await open(page, 'employees', '[data-test=org-tree] .el-tree-node')
    await node('设置测试二组').click()
    await page.click('[data-test=unit-delete]')
    await confirmBox(page)
    const refusal = page.locator('.el-message-box.refusal .el-message-box__message')
    await refusal.waitFor()
    const why = await refusal.textContent()
    expect(why.includes('还有 1 名员工') && why.includes('调到其他部门'), 'the refusal: ' + why)
    await shots(page, 'org-unit-refusal')
    await page.click('.el-message-box.refusal .el-button--primary')
    await refusal.waitFor({ state: 'detached' })
    // a unit with units below it
    await node('设置测试华南').click()
    await page.click('[data-test=unit-delete]')
    await confirmBox(page)
    await refusal.waitFor()
    const why2 = await refusal.textContent()
    expect(why2.includes('下级部门'), 'the refusal: ' + why2)
    await page.click('.el-message-box.refusal .el-button--primary')
    await refusal.waitFor({ state: 'detached' })
    expect((await call('GET', '/org-units/' + team.id, { token: tok })).status === 200, 'the unit went')
    // an empty one goes
    const empty = await unit('设置测试空组', east.id, 'team')
    await open(page, 'employees', '[data-test=org-tree] .el-tree-node')
    await node('设置测试空组').click()
    await page.click('[data-test=unit-delete]')
    await confirmBox(page)
    await page.locator('.el-message--success', { hasText: '设置测试空组' }).waitFor()
    expect((await call('GET', '/org-units/' + empty.id, { token: tok })).status === 404, 'the empty unit is still there')
    // the top unit is neither moved nor deleted
    const top = (await must('GET', '/org-units/' + hq, { token: tok }, 200)).name
    await node(top).first().click()
    expect(await count(page, '[data-test=unit-rename]'), 'the top unit cannot be renamed')
    expect((await count(page, '[data-test=unit-move]')) + (await count(page, '[data-test=unit-delete]')) === 0, 'the top unit may be moved or deleted')
  })

  await test('devices: pause a phone (its token is refused), resume it, revoke it for good', async () => {
    const dev = await enroll(tok, seller2.id, 'SN-SET-0002')
    const policy = async () => (await call('GET', '/device/policy', { token: dev.token })).status
    expect((await policy()) === 200, 'a new phone is refused')
    await open(page, 'devices', '[data-test=devices-table] .el-table__row')
    const row = page.locator('[data-test=devices-table] .el-table__body-wrapper .el-table__row', { hasText: 'SN-SET-0002' })
    await row.waitFor()
    await row.locator('[data-test=device-pause]').click()
    await confirmBox(page)
    await row.locator('[data-test=device-state]', { hasText: '已暂停' }).waitFor()
    expect((await policy()) === 401, 'a paused phone is let in')
    let d = (await must('GET', '/devices?employee=' + seller2.id, { token: tok }, 200)).items[0]
    expect(d.disabled === true && d.revoked === false, 'on the server: ' + JSON.stringify(d))
    await shots(page, 'devices-actions')
    await row.locator('[data-test=device-resume]').click()
    await row.locator('[data-test=device-state]', { hasText: '正常' }).waitFor()
    expect((await policy()) === 200, 'a resumed phone is refused')
    await row.locator('[data-test=device-revoke]').click()
    await confirmBox(page)
    await row.locator('[data-test=device-state]', { hasText: '已吊销' }).waitFor()
    expect((await policy()) === 401, 'a revoked phone is let in')
    expect((await row.locator('[data-test=device-pause], [data-test=device-resume], [data-test=device-revoke]').count()) === 0, 'a revoked phone still has buttons')
    d = (await must('GET', '/devices?employee=' + seller2.id, { token: tok }, 200)).items[0]
    expect(d.revoked === true, 'on the server: ' + JSON.stringify(d))
    const audit = (await must('GET', '/audit?target=device:' + d.id, { token: tok }, 200)).items.map((a) => a.action)
    expect(audit.filter((a) => a === 'device.update').length === 2 && audit.includes('device.revoke'), 'the audit rows: ' + audit)
  })

  await test('a manager changes tags and scripts and stops its people’s phones, nothing else', async () => {
    await enroll(tok, seller.id, 'SN-SET-0003')
    const { ctx, pg, errors: merr } = await as(browser, options, 'setmgr', PW)
    await open(pg, 'settings', '[data-test=settings-sections]')
    expect(await count(pg, '#tab-crm'), 'no customer rules for the manager')
    expect((await count(pg, '#tab-roles')) + (await count(pg, '#tab-alerts')) === 0, 'the manager sees roles or alerts')
    await open(pg, 'settings/crm', '[data-test=tag-new]')
    expect(await count(pg, '#tab-scripts'), 'no scripts for the manager')
    expect((await count(pg, '#tab-sop')) + (await count(pg, '#tab-grade')) + (await count(pg, '#tab-pool')) === 0, 'the manager sees admin-only rules')
    await shots(pg, 'settings-manager')
    await pg.goto(BASE + '/settings/roles')
    await pg.waitForSelector('text=修改我的密码')
    expect((await count(pg, '[data-test=roles]')) === 0, 'the roles page opened for a manager')
    await open(pg, 'employees', '[data-test=employees-table] .el-table__row')
    expect((await count(pg, '[data-test=emp-edit]')) + (await count(pg, '[data-test=new-unit]')) === 0, 'the manager may edit people')
    await pg.locator('[data-test=org-tree] .el-tree-node__content').first().click()
    expect((await count(pg, '[data-test=unit-acts]')) === 0, 'the manager may change units')
    await open(pg, 'devices', '[data-test=devices-table] .el-table__row')
    const rows = await pg.$$eval('[data-test=devices-table] .el-table__body-wrapper .el-table__row', (r) => r.map((x) => x.textContent))
    expect(rows.some((x) => x.includes('SN-SET-0003')) && !rows.some((x) => x.includes('SN-SET-0002')), 'the manager’s devices: ' + rows)
    expect(await count(pg, '[data-test=device-pause]'), 'the manager may not pause its salesperson’s phone')
    expect(merr.length === 0, merr.join('\n'))
    await ctx.close()
  })

  await test('an auditor reads the alert and storage settings and changes none', async () => {
    const { ctx, pg, errors: aerr } = await as(browser, options, 'setaud', PW)
    await open(pg, 'settings', '[data-test=settings-sections]')
    expect((await count(pg, '#tab-crm')) + (await count(pg, '#tab-roles')) === 0, 'the auditor sees rules or roles')
    await pg.click('#tab-alerts')
    await pg.waitForSelector('[data-test=limits-readonly]')
    expect((await count(pg, '[data-test=money-save]')) + (await count(pg, '[data-test=off-duty-save]')) + (await count(pg, '[data-test=storage-save]')) + (await count(pg, '[data-test=insider-save]')) === 0, 'the auditor has save buttons')
    expect((await pg.textContent('[data-test=insider_unmask_per_hour]')).trim() === '30', 'the insider threshold as read')
    expect((await pg.textContent('[data-test=track_stop_minutes]')).trim() === '15' && (await count(pg, '[data-test=field-save]')) === 0, 'the field thresholds as read, without a save button')
    expect((await pg.textContent('[data-test=money-value]')).includes('元'), 'the transfer alert in yuan')
    await shots(pg, 'settings-auditor')
    // back to the defaults: the field suite's track has a stop of 12 minutes
    await must('PUT', '/settings', { token: tok, json: { track_stop_minutes: 10, attendance_grace_minutes: 5 } }, 200)
    expect(aerr.length === 0, aerr.join('\n'))
    await ctx.close()
  })

  await test('a salesperson has its password only, and no buttons to change people or phones', async () => {
    const { ctx, pg, errors: serr } = await as(browser, options, 'setsales', PW)
    await open(pg, 'settings', 'text=修改我的密码')
    expect((await count(pg, '[data-test=settings-sections]')) === 0, 'sections for sales')
    await pg.goto(BASE + '/settings/crm/tags')
    await pg.waitForSelector('text=修改我的密码')
    expect((await count(pg, '[data-test=tag-new]')) === 0, 'sales may make tags')
    await open(pg, 'devices', '[data-test=devices-table] .el-table__row')
    expect((await count(pg, '[data-test=device-pause]')) + (await count(pg, '[data-test=device-revoke]')) === 0, 'sales may stop phones')
    await open(pg, 'employees', '[data-test=employees-table] .el-table__row')
    expect((await count(pg, '[data-test=emp-edit]')) === 0, 'sales may edit people')
    expect(serr.length === 0, serr.join('\n'))
    await ctx.close()
  })

  await test('the settings pages logged no errors', async () => {
    expect(errors.length === 0, errors.join('\n'))
  })
}
