// SPDX-License-Identifier: MIT
// The lexicon text (CONTRACT §2) as the table edits it: parsed line by line as the server reads
// it, and written back line by line, so that comments, blank lines and the order of everything
// the table does not touch stay as they were (docs/internals/scan.md, "The console's table").

export const ACTIONS = ['alert', 'block', 'mask']
export const MAX_PATTERN_BYTES = 1024
export const MAX_CATEGORY_BYTES = 256

const bytes = (s) => new TextEncoder().encode(s).length

// One entry per line that is not blank and not a comment, in order:
// {index (0-based line), line (1-based), kind: 'word'|'regex'|'allow', pattern (as written,
// with its prefix), body, category, action, error: null|'fields'|'empty'|'action'|'category'}.
export function parseLexicon(text) {
  const lines = text.split('\n')
  const entries = []
  lines.forEach((raw, index) => {
    let s = index === 0 && raw.startsWith('\uFEFF') ? raw.slice(1) : raw
    s = s.replace(/[\r \t]+$/, '')
    if (!s || s.startsWith('#')) return
    const f = s.split('\t')
    const pattern = f[0]
    const e = { index, line: index + 1, kind: 'word', pattern, body: pattern, category: 'custom', action: 'alert', error: null }
    if (pattern.startsWith('re:')) {
      e.kind = 'regex'
      e.body = pattern.slice(3)
    } else if (pattern.startsWith('allow:')) {
      e.kind = 'allow'
      e.body = pattern.slice(6)
    }
    const category = (f[1] || '').replace(/^ +| +$/g, '')
    const action = (f[2] || '').replace(/^ +| +$/g, '').toLowerCase()
    if (category) e.category = category
    if (f.length > 1 && f[2] !== undefined) e.action = action
    if (f.length > 3) e.error = 'fields'
    else if (!e.body) e.error = 'empty'
    else if (f[2] !== undefined && !ACTIONS.includes(action)) e.error = 'action'
    else if (/[\u0000-\u001f\u007f]/.test(category) || bytes(category) > MAX_CATEGORY_BYTES) e.error = 'category'
    if (e.kind === 'allow') {
      e.category = null
      e.action = null
    }
    entries.push(e)
  })
  return entries
}

// What matching compares, roughly: width and case folded, everything but letters and digits
// dropped (the server also folds traditional to simplified and styled characters).
export function fold(s) {
  return s.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]/gu, '')
}

function regexTest(body) {
  try {
    const re = new RegExp(body, 'iu')
    return (text) => re.test(text)
  } catch {
    return () => false // a PCRE feature JavaScript lacks: shown on its own row
  }
}

// The table's rows: each word or regex with the exceptions (allow: entries) whose text holds a
// match of it ("the words they protect"), and every exception that protects none of them as a
// row of its own. Each exception lists the indices of the lines it protects. Words are looked
// up by every piece of an exception's folded text (an exception is short; a lexicon may hold
// 10^5 words), regexes are tried on it.
export function tableRows(entries) {
  const words = entries.filter((e) => e.kind !== 'allow').map((e) => ({ ...e, exceptions: [] }))
  const byFold = new Map()
  const regexes = []
  for (const w of words) {
    if (w.kind === 'regex') {
      regexes.push([w, regexTest(w.body)])
      continue
    }
    const f = fold(w.body)
    if (!f) continue
    if (!byFold.has(f)) byFold.set(f, [])
    byFold.get(f).push(w)
  }
  const standalone = []
  for (const e of entries) {
    if (e.kind !== 'allow') continue
    const text = fold(e.body)
    const chars = [...text]
    const hit = new Set()
    for (let i = 0; i < chars.length; i++) {
      let piece = ''
      for (let j = i; j < chars.length; j++) {
        piece += chars[j]
        for (const w of byFold.get(piece) || []) hit.add(w)
      }
    }
    for (const [w, test] of regexes) if (test(text)) hit.add(w)
    const protects = [...hit].sort((a, b) => a.index - b.index)
    const ex = { ...e, protects: protects.map((w) => w.index) }
    for (const w of protects) w.exceptions.push(ex)
    if (!protects.length) standalone.push({ ...ex, exceptions: [] })
  }
  return words.concat(standalone).sort((a, b) => a.index - b.index)
}

// The line of an entry, written as the table writes every line it touches.
export function entryLine({ kind, body, category, action }) {
  if (kind === 'allow') return 'allow:' + body
  return (kind === 'regex' ? 're:' : '') + body + '\t' + (category || 'custom') + '\t' + (action || 'alert')
}

// What is wrong with an entry the table is about to write, or null: the same rules as the
// server, plus those that would change what the line means (a word that begins with '#' would
// be a comment, one that begins with 're:' a regex).
export function entryError({ kind, body, category }) {
  const b = (body || '').trim()
  if (!b) return 'empty'
  if (/[\t\r\n]/.test(b)) return 'tab'
  if (kind === 'word' && (b.startsWith('#') || b.startsWith('re:') || b.startsWith('allow:'))) return 'prefix'
  if (kind === 'allow' && b.startsWith('#')) return 'prefix'
  if (bytes(b) > MAX_PATTERN_BYTES) return 'long'
  if (kind !== 'allow') {
    const c = category || 'custom'
    if (/[\u0000-\u001f\u007f]/.test(c) || bytes(c) > MAX_CATEGORY_BYTES) return 'category'
  }
  // a regex is PCRE2's dialect, not JavaScript's: the server says whether it compiles
  return null
}

function split(text) {
  const lines = text.split('\n')
  // a text that ends with a newline ends with an empty "line": new lines go before it
  const end = lines.length > 1 && lines[lines.length - 1] === '' ? lines.length - 1 : lines.length
  return { lines, end }
}

// Replace line index with line (the entry edited in place).
export function replaceLine(text, index, line) {
  const { lines } = split(text)
  lines[index] = line
  return lines.join('\n')
}

// Remove lines by index.
export function removeLines(text, indices) {
  const drop = new Set(indices)
  const { lines } = split(text)
  return lines.filter((_, i) => !drop.has(i)).join('\n')
}

// Insert new lines after line index (-1: at the end of the text).
export function insertLines(text, index, newLines) {
  if (!newLines.length) return text
  let { lines, end } = split(text)
  if (text === '') {
    lines = []
    end = 0
  }
  const at = index < 0 || index >= end ? end : index + 1
  lines.splice(at, 0, ...newLines)
  let out = lines.join('\n')
  if (index < 0 && !out.endsWith('\n')) out += '\n'
  return out
}

// The line after which a new entry of this category goes: after the last entry of the
// category and the exceptions right below it (so it lands in that category's section, under
// its comment), or -1 (the end) when the lexicon has none.
export function insertionPoint(entries, category) {
  let at = -1
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]
    if (e.kind === 'allow' || e.category !== category) continue
    at = e.index
    for (let j = i + 1; j < entries.length && entries[j].kind === 'allow' && entries[j].index === at + 1; j++) at = entries[j].index
  }
  return at
}

// The line after which an exception of the entry at index goes: below it and the exceptions
// right below it.
export function exceptionPoint(entries, index) {
  let at = index
  for (const e of entries) if (e.index === at + 1 && e.kind === 'allow') at = e.index
  return at
}

// Add one entry where it belongs.
export function addEntry(text, entry) {
  const entries = parseLexicon(text)
  return insertLines(text, entry.kind === 'allow' ? -1 : insertionPoint(entries, entry.category || 'custom'), [entryLine(entry)])
}

// Delete a row: its line, and the lines of its exceptions that protect nothing else.
export function deleteRow(text, row) {
  const lines = [row.index]
  for (const ex of row.exceptions || []) if (ex.protects.length <= 1) lines.push(ex.index)
  return removeLines(text, lines)
}

// A word list, one word per line (a line that begins with "re:" is a regex, "allow:" an
// exception; what follows a tab is dropped; blank lines and "#" lines are skipped), added with
// one category and action: a word already listed (the same after folding) takes them in
// place, the others go where addEntry() puts them. Returns {text, added, updated, unchanged,
// skipped}.
export function bulkAdd(text, list, category, action) {
  const cat = category || 'custom'
  const act = action || 'alert'
  let entries = parseLexicon(text)
  const known = new Map()
  for (const e of entries) known.set(e.kind + ':' + (e.kind === 'word' ? fold(e.body) : e.body), e)
  const fresh = []
  const seen = new Set()
  let updated = 0
  let unchanged = 0
  let skipped = 0
  let out = text
  for (const raw of list.split('\n')) {
    const w = raw.split('\t')[0].trim()
    if (!w || w.startsWith('#')) continue
    const kind = w.startsWith('re:') ? 'regex' : w.startsWith('allow:') ? 'allow' : 'word'
    const body = kind === 'regex' ? w.slice(3) : kind === 'allow' ? w.slice(6) : w
    const entry = { kind, body, category: cat, action: act }
    const key = kind + ':' + (kind === 'word' ? fold(body) : body)
    if (entryError(entry) || (kind === 'word' && !fold(body)) || seen.has(key)) {
      skipped++
      continue
    }
    seen.add(key)
    const old = known.get(key)
    if (!old) fresh.push(entry)
    else if (kind === 'allow' || (old.category === cat && old.action === act && !old.error)) unchanged++
    else {
      out = replaceLine(out, old.index, entryLine({ ...old, category: cat, action: act }))
      updated++
    }
  }
  entries = parseLexicon(out)
  const words = fresh.filter((e) => e.kind !== 'allow').map(entryLine)
  const allows = fresh.filter((e) => e.kind === 'allow').map(entryLine)
  out = insertLines(out, insertionPoint(entries, cat), words)
  out = insertLines(out, -1, allows)
  return { text: out, added: fresh.length, updated, unchanged, skipped }
}

// The levels of a unit's effective lexicon (GET /api/v1/lexicon?unit=&view=effective): the
// company's text, then each unit's after its line "# ---- org unit <id>"
// (docs/internals/scan.md, "Lexicons per org unit"). [{unit: null|id, text}], top first.
export function splitLevels(text) {
  const levels = [{ unit: null, lines: [] }]
  for (const line of text.split('\n')) {
    const m = /^# ---- org unit ([0-9a-f]{24})$/.exec(line)
    if (m) levels.push({ unit: m[1], lines: [] })
    else levels[levels.length - 1].lines.push(line)
  }
  return levels.map((l) => ({ unit: l.unit, text: l.lines.join('\n') }))
}

// What makes two entries the same pattern for "the nearer level wins": a word after folding, a
// regex or an exception as written.
export function patternKey(e) {
  return e.kind + ':' + (e.kind === 'word' ? fold(e.body) : e.body)
}
