// SPDX-License-Identifier: MIT
// Byte offsets from the server into JavaScript strings (node --test).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { splitHighlights } from '../../src/highlight.js'

const hits = (parts) => parts.filter((p) => p.hit).map((p) => p.text)
const join = (parts) => parts.map((p) => p.text).join('')

test('Chinese text: byte offsets of 3-byte characters', () => {
  const text = '我是VIP客户，能飞单吗'
  // 我是 (6) VIP (3) 客户 (6) ， (3) 能 (3) → 飞单 at 21..27
  const parts = splitHighlights(text, [{ start: 21, end: 27 }])
  assert.deepEqual(hits(parts), ['飞单'])
  assert.equal(join(parts), text)
})

test('characters outside the BMP and emoji before the hit', () => {
  const text = '😀𝟏飞*单'
  // 😀 4 bytes, 𝟏 4 bytes, 飞 3, * 1, 单 3
  const parts = splitHighlights(text, [{ start: 8, end: 15 }])
  assert.deepEqual(hits(parts), ['飞*单'])
  assert.equal(join(parts), text)
})

test('several hits, unordered and overlapping, are merged', () => {
  const text = 'abcabcabc'
  const parts = splitHighlights(text, [{ start: 6, end: 9 }, { start: 0, end: 3 }, { start: 1, end: 4 }])
  assert.deepEqual(hits(parts), ['abca', 'abc'])
  assert.equal(join(parts), text)
})

test('bad offsets are clamped, never thrown on', () => {
  const text = '飞单'
  assert.equal(join(splitHighlights(text, [{ start: -5, end: 100 }])), text)
  assert.deepEqual(hits(splitHighlights(text, [{ start: 1, end: 4 }])), ['飞'])
  assert.deepEqual(splitHighlights(text, null), [{ text, hit: false }])
  assert.deepEqual(splitHighlights('', [{ start: 0, end: 1 }]), [])
})
