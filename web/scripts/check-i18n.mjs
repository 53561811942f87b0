// SPDX-License-Identifier: MIT
// Every string is translated: the locale files must have the same keys, no empty value, and
// no key the code uses may be missing (t('a.b') and $t('a.b') with literal keys).
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('../src/', import.meta.url).pathname
const locales = ['zh-CN', 'en']

function flatten(obj, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k
    if (v && typeof v === 'object') flatten(v, key, out)
    else out[key] = v
  }
  return out
}

const flat = Object.fromEntries(
  locales.map((l) => [l, flatten(JSON.parse(readFileSync(join(root, 'locales', l + '.json'), 'utf8')))]),
)
const problems = []
const [a, b] = locales
for (const [x, y] of [[a, b], [b, a]]) {
  for (const k of Object.keys(flat[x])) if (!(k in flat[y])) problems.push(`${k}: in ${x}, missing in ${y}`)
}
for (const l of locales) {
  for (const [k, v] of Object.entries(flat[l])) {
    if (typeof v !== 'string' || !v.trim()) problems.push(`${k}: empty in ${l}`)
    // vue-i18n reads { } @ $ | as syntax; a stray one breaks the message at run time
    else if (/[@$|]/.test(v) || /\{(?![a-zA-Z]+\})/.test(v)) problems.push(`${k}: message syntax in ${l}: ${v}`)
  }
}

function walk(dir, files = []) {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n)
    if (statSync(p).isDirectory()) walk(p, files)
    else if (/\.(vue|js)$/.test(n)) files.push(p)
  }
  return files
}
let used = 0
for (const f of walk(root)) {
  const src = readFileSync(f, 'utf8')
  for (const m of src.matchAll(/\$?\bt\('([a-zA-Z]+(?:\.[a-zA-Z]+)+)'/g)) {
    used++
    if (!(m[1] in flat[a])) problems.push(`${m[1]}: used in ${f.slice(root.length)}, in no locale`)
  }
}

if (problems.length) {
  console.error('check-i18n: ' + problems.join('\ncheck-i18n: '))
  process.exit(1)
}
console.log(`check-i18n: ${Object.keys(flat[a]).length} keys in ${locales.join(' and ')}, ${used} uses checked`)
