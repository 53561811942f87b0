// SPDX-License-Identifier: MIT
// The lexicon text as the table reads and writes it (node --test).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { addEntry, bulkAdd, deleteRow, entryError, entryLine, exceptionPoint, insertLines, parseLexicon, replaceLine, tableRows } from '../../src/lexicon.js'

const DEFAULT = readFileSync(new URL('../../../data/lexicon/default.txt', import.meta.url), 'utf8')

const LEX = `# 飞单私单
飞单\tprivate_deal\tblock
allow:严禁飞单
私单\tprivate_deal
allow:隐私单独

# 承诺
保本 \t false_promise \t ALERT\r
re:返[0-9]个点\trebate\talert
allow:不返3个点
加我微信
allow:单飞行程
坏行\tx\tblok
`

test('parsed as the server reads it: defaults, spaces, case, CR, kinds, bad lines', () => {
  const e = parseLexicon(LEX)
  assert.deepEqual(
    e.map((x) => [x.line, x.kind, x.body, x.category, x.action, x.error]),
    [
      [2, 'word', '飞单', 'private_deal', 'block', null],
      [3, 'allow', '严禁飞单', null, null, null],
      [4, 'word', '私单', 'private_deal', 'alert', null],
      [5, 'allow', '隐私单独', null, null, null],
      [8, 'word', '保本 ', 'false_promise', 'alert', null],
      [9, 'regex', '返[0-9]个点', 'rebate', 'alert', null],
      [10, 'allow', '不返3个点', null, null, null],
      [11, 'word', '加我微信', 'custom', 'alert', null],
      [12, 'allow', '单飞行程', null, null, null],
      [13, 'word', '坏行', 'x', 'blok', 'action'],
    ],
  )
  assert.equal(parseLexicon('\uFEFF飞单\n')[0].body, '飞单')
  assert.equal(parseLexicon('a\tb\tblock\tx\n')[0].error, 'fields')
})

test('the shipped lexicon parses without an error, every exception shown with its word', () => {
  const e = parseLexicon(DEFAULT)
  assert.ok(e.length > 150)
  assert.deepEqual(e.filter((x) => x.error), [])
  const rows = tableRows(e)
  const feidan = rows.find((r) => r.body === '飞单')
  assert.deepEqual(feidan.exceptions.map((x) => x.body), ['严禁飞单'])
  const baoben = rows.find((r) => r.body === '保本')
  assert.ok(baoben.exceptions.some((x) => x.body === '不保本'))
  // 不保本保息 protects both 保本保息 and 保本: shown with each
  const x = rows.find((r) => r.body === '保本保息').exceptions.find((y) => y.body === '不保本保息')
  assert.ok(x.protects.length >= 2)
  // no exception of the shipped lexicon is left on its own row (the regexes included)
  assert.deepEqual(rows.filter((r) => r.kind === 'allow').map((r) => r.body), [])
})

test('rows: an exception protecting no listed word is a row of its own', () => {
  const rows = tableRows(parseLexicon(LEX))
  assert.deepEqual(rows.map((r) => [r.kind, r.body, r.exceptions.map((x) => x.body)]), [
    ['word', '飞单', ['严禁飞单']],
    ['word', '私单', ['隐私单独']],
    ['word', '保本 ', []],
    ['regex', '返[0-9]个点', ['不返3个点']],
    ['word', '加我微信', []],
    ['allow', '单飞行程', []],
    ['word', '坏行', []],
  ])
})

test('an edit rewrites its own line only: comments, blank lines and order stay', () => {
  const e = parseLexicon(LEX)
  const out = replaceLine(LEX, e[2].index, entryLine({ ...e[2], action: 'block' }))
  assert.equal(out, LEX.replace('私单\tprivate_deal\n', '私单\tprivate_deal\tblock\n'))
})

test('a new word goes after the last of its category, below its exceptions; else at the end', () => {
  let out = addEntry(LEX, { kind: 'word', body: '跳单', category: 'private_deal', action: 'alert' })
  assert.equal(out.split('\n')[5], '跳单\tprivate_deal\talert')
  assert.equal(out.split('\n')[4], 'allow:隐私单独')
  out = addEntry(LEX, { kind: 'word', body: '看房', category: 'property', action: 'block' })
  assert.ok(out.endsWith('坏行\tx\tblok\n看房\tproperty\tblock\n'))
  assert.equal(addEntry('', { kind: 'word', body: 'a', category: 'custom', action: 'alert' }), 'a\tcustom\talert\n')
  assert.equal(addEntry('x\tother', { kind: 'word', body: 'a', category: 'custom', action: 'alert' }), 'x\tother\na\tcustom\talert\n')
  assert.equal(addEntry('x\n', { kind: 'word', body: 'a', category: 'custom', action: 'alert' }), 'x\na\tcustom\talert\n')
  // an exception goes below its word and the exceptions already there
  const e = parseLexicon(LEX)
  out = insertLines(LEX, exceptionPoint(e, e[0].index), ['allow:公司严禁飞单'])
  assert.deepEqual(out.split('\n').slice(1, 4), ['飞单\tprivate_deal\tblock', 'allow:严禁飞单', 'allow:公司严禁飞单'])
})

test('a deleted row takes the exceptions that protected it alone', () => {
  const rows = tableRows(parseLexicon(LEX))
  let out = deleteRow(LEX, rows.find((r) => r.body === '飞单'))
  assert.ok(!out.includes('飞单\tprivate_deal'))
  assert.ok(!out.includes('allow:严禁飞单'))
  assert.ok(out.includes('# 飞单私单\n'))
  // an exception that also protects another word stays
  const lex = '保本\tx\talert\n保本保息\tx\tblock\nallow:不保本保息\n'
  out = deleteRow(lex, tableRows(parseLexicon(lex)).find((r) => r.body === '保本保息'))
  assert.equal(out, '保本\tx\talert\nallow:不保本保息\n')
})

test('a word list: added once, listed words take the new category and action in place', () => {
  const list = '看房\n飞单\n\n# a comment\n首付贷\t随便\n看房\nＫＡＮＧ\nre:返[0-9]个点\nallow:不看房\nkang\n'
  const r = bulkAdd(LEX, list, 'property', 'block')
  assert.deepEqual([r.added, r.updated, r.unchanged, r.skipped], [4, 2, 0, 2])
  const e = parseLexicon(r.text)
  const by = Object.fromEntries(e.map((x) => [x.kind + ':' + x.body, x]))
  assert.equal(by['word:飞单'].action, 'block')
  assert.equal(by['word:飞单'].category, 'property')
  assert.equal(by['word:飞单'].line, 2) // in place
  assert.equal(by['regex:返[0-9]个点'].category, 'property')
  assert.equal(by['word:看房'].action, 'block')
  assert.equal(by['word:首付贷'].category, 'property')
  assert.ok(by['word:ＫＡＮＧ'])
  assert.ok(!by['word:kang']) // the same after folding
  assert.ok(by['allow:不看房'])
  assert.equal(e.filter((x) => x.body === '看房').length, 1)
  // again: nothing new
  const again = bulkAdd(r.text, list, 'property', 'block')
  assert.equal(again.text, r.text)
  assert.deepEqual([again.added, again.updated], [0, 0])
})

test('entries the table refuses to write', () => {
  assert.equal(entryError({ kind: 'word', body: '' }), 'empty')
  assert.equal(entryError({ kind: 'word', body: 'a\tb' }), 'tab')
  assert.equal(entryError({ kind: 'word', body: '#a' }), 'prefix')
  assert.equal(entryError({ kind: 'word', body: 're:a' }), 'prefix')
  assert.equal(entryError({ kind: 'word', body: 'x'.repeat(1025) }), 'long')
  assert.equal(entryError({ kind: 'word', body: 'a', category: 'b\u0001' }), 'category')
  assert.equal(entryError({ kind: 'regex', body: '返[0-9]个点', category: 'rebate' }), null)
})

test('the levels of an effective lexicon: the company, then each unit by its id', async () => {
  const { splitLevels, patternKey } = await import('../../src/lexicon.js')
  const a = '0123456789abcdef01234567'
  const b = '89abcdef0123456789abcdef'
  const eff = `# ---- private_deal\n飞单\tprivate_deal\tblock\n# ---- org unit ${a}\n看房\tproperty\talert\n# ---- org unit ${b}\n飛 單\tprivate_deal\talert\n`
  assert.deepEqual(splitLevels(eff), [
    { unit: null, text: '# ---- private_deal\n飞单\tprivate_deal\tblock' },
    { unit: a, text: '看房\tproperty\talert' },
    { unit: b, text: '飛 單\tprivate_deal\talert\n' },
  ])
  assert.deepEqual(splitLevels('x\n'), [{ unit: null, text: 'x\n' }])
  const [x, y] = parseLexicon('飞单\tprivate_deal\tblock\n飞 单\n')
  assert.equal(patternKey(x), patternKey(y))
  assert.notEqual(patternKey(parseLexicon('re:飞单\n')[0]), patternKey(x))
})
