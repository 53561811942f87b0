// SPDX-License-Identifier: MIT
// After `vite build`: a .gz beside every text file of dist/ worth compressing, which
// `workphone serve` sends to clients that accept gzip (compressed once here, never per request).
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync, constants } from 'node:zlib'

const dist = new URL('../dist/', import.meta.url).pathname
const text = /\.(js|mjs|css|html|svg|json|txt)$/
let raw = 0, gz = 0
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) { walk(p); continue }
    if (!text.test(name) || name === 'index.html') continue // index.html stays small and fresh
    const data = readFileSync(p)
    if (data.length < 1024) continue
    const out = gzipSync(data, { level: constants.Z_BEST_COMPRESSION })
    if (out.length >= data.length * 0.9) continue
    writeFileSync(p + '.gz', out)
    raw += data.length
    gz += out.length
  }
}
walk(dist)
console.log(`compress: ${(raw / 1024).toFixed(0)} KiB of text files, ${(gz / 1024).toFixed(0)} KiB gzipped`)
