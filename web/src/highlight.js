// SPDX-License-Identifier: MIT
// Search hits come as UTF-8 byte offsets into the message text (CONTRACT §3); JavaScript
// strings count UTF-16 units. Split the text at the byte offsets into pieces to render.

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8')

// text: the message; ranges: [{start, end}] byte offsets, end exclusive. Returns
// [{text, hit}] whose texts joined give back text. Ranges out of bounds, empty, unordered or
// overlapping are clamped or merged rather than trusted.
export function splitHighlights(text, ranges) {
  if (!text) return []
  if (!Array.isArray(ranges) || ranges.length === 0) return [{ text, hit: false }]
  const bytes = encoder.encode(text)
  const sorted = ranges
    .map((r) => [Math.max(0, Math.min(bytes.length, r.start | 0)), Math.max(0, Math.min(bytes.length, r.end | 0))])
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0])
  const merged = []
  for (const [s, e] of sorted) {
    const last = merged[merged.length - 1]
    if (last && s <= last[1]) last[1] = Math.max(last[1], e)
    else merged.push([s, e])
  }
  const out = []
  let at = 0
  for (const [s, e] of merged) {
    // offsets inside a character (never from the server) move to its start
    const start = boundary(bytes, s)
    const end = boundary(bytes, e)
    if (start > at) out.push({ text: decoder.decode(bytes.subarray(at, start)), hit: false })
    if (end > start) out.push({ text: decoder.decode(bytes.subarray(start, end)), hit: true })
    at = Math.max(at, end)
  }
  if (at < bytes.length) out.push({ text: decoder.decode(bytes.subarray(at)), hit: false })
  return out
}

function boundary(bytes, i) {
  while (i > 0 && i < bytes.length && (bytes[i] & 0xc0) === 0x80) i--
  return i
}
