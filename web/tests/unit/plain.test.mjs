// SPDX-License-Identifier: MIT
// The server's refusals in plain Chinese, sizes and money (node --test), with the real zh-CN
// messages: every sentence plainError() picks exists, and the field is named in words.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fenToYuan, formatBytes, plainError, yuanToFen } from '../../src/components/plain.js'

const zh = JSON.parse(readFileSync(new URL('../../src/locales/zh-CN.json', import.meta.url), 'utf8'))
const lookup = (key) => key.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), zh)
const tr = {
  te: (key) => typeof lookup(key) === 'string',
  t: (key, args = {}) => {
    const m = lookup(key)
    if (typeof m !== 'string') throw new Error('no message ' + key)
    return m.replace(/\{(\w+)\}/g, (_, k) => String(args[k]))
  },
}
const err = (status, code, message) => Object.assign(new Error(message), { status, code, details: {} })

test('a bad field is named in words, whatever the English says', () => {
  assert.equal(plainError(err(400, 'invalid_request', "'name' is required"), tr), '请填写「名称」')
  assert.equal(plainError(err(400, 'invalid_request', "'name' contains a control character (U+0009)"), tr), '「名称」里有不能使用的字符（例如换行或制表符）')
  assert.equal(plainError(err(400, 'invalid_request', "'password': password is shorter than 8 characters"), tr), '「密码」太短了')
  assert.equal(plainError(err(400, 'invalid_request', 'current_password is wrong'), tr, { fields: { current_password: '当前密码' } }), '「当前密码」不对')
  assert.equal(plainError(err(400, 'invalid_request', "'parent_id': org unit '0123' cannot move under itself or a unit below it"), tr), '「上级部门」选的不对：它可能已被删除，或不能选在这里')
  // a form names its own fields
  assert.equal(plainError(err(400, 'invalid_request', "'name' is longer than 50 characters"), tr, { fields: { name: '标签名称' } }), '「标签名称」太长了')
  // a field the console has no word for: a general sentence, never the code
  assert.equal(plainError(err(400, 'invalid_request', "'zzz' must be a string"), tr), '填写的内容有误，请检查后再试')
  assert.equal(plainError(err(400, 'invalid_request', "nothing to change: give 'name'"), tr), '没有需要保存的改动')
})

test('a full server disk is said in words, not as its code', () => {
  assert.equal(plainError(err(503, 'storage_full', "the server's storage is full: nothing was stored; try again later"), tr), '服务器磁盘已满，这次没有保存任何内容，请稍后再试')
})

test('refusals of rights and reach', () => {
  assert.equal(plainError(err(403, 'forbidden', "the role 'sales' may not use PATCH /api/v1/devices/x"), tr), '你的角色不能做这件事')
  assert.equal(plainError(err(403, 'forbidden', 'nobody may disable the devices of themselves'), tr), '不能对自己做这件事，请让其他管理员或上级主管来做')
  assert.match(plainError(err(403, 'forbidden', 'a manager may change the salespeople of its unit and below and the managers of the units below its own, not its peers'), tr), /同级的主管/)
  assert.match(plainError(err(403, 'forbidden', 'only admins may change an admin or an auditor'), tr), /只有管理员/)
  assert.match(plainError(err(404, 'not_found', "device 'x' not found"), tr), /找不到/)
  assert.match(plainError(err(0, 'network', 'Failed to fetch'), tr), /连不上服务器/)
  // the store is gone for a moment (PostgreSQL restarting): nothing was saved, try again
  assert.equal(plainError(err(503, 'store_unavailable', 'the store is unavailable for now; nothing was stored: try again later'), tr), '数据库暂时连不上，这次没有保存任何内容，请稍后再试')
  assert.match(plainError(err(502, 'http_502', 'Bad Gateway'), tr), /服务器出错/)
})

test('what the page knows better wins, by code or status', () => {
  const codes = { conflict: '分组里还有 2 个标签' }
  assert.equal(plainError(err(409, 'conflict', "tag group 'x' has 2 tags"), tr, { codes }), '分组里还有 2 个标签')
  assert.match(plainError(err(409, 'conflict', 'x'), tr), /现在不能这样改/)
  assert.equal(plainError(err(409, 'already_exists', "'name': '客户来源' exists already"), tr), '「名称」已经被占用了，请换一个')
})

test('sizes in binary units, money in yuan', () => {
  assert.equal(formatBytes(0), '0 B')
  assert.equal(formatBytes(2417), '2.36 KB')
  assert.equal(formatBytes(50 * 2 ** 30), '50 GB')
  assert.equal(formatBytes(2 ** 40), '1 TB')
  assert.equal(formatBytes(256 * 2 ** 20), '256 MB')
  assert.equal(formatBytes(1.5 * 2 ** 30), '1.5 GB')
  assert.equal(fenToYuan(500000), 5000)
  assert.equal(yuanToFen(1000), 100000)
  assert.equal(yuanToFen(0.1 + 0.2), 30)
  assert.equal(yuanToFen(19.99), 1999)
})
