// SPDX-License-Identifier: MIT
// What a person reads instead of the system's codes: audit actions, the objects and people
// the audit log names ("customer:<id>" becomes the customer's name, scoped: an object the
// reader cannot see stays a readable "客户 01a24…"), money in yuan, file sizes, and the address
// of a stored file shown in the page or downloaded.
import { reactive } from 'vue'
import { listAll } from '../api.js'
import { i18n } from '../i18n.js'
import { can, customers, directory, loadCustomerNames, loadDirectory } from '../session.js'

const t = (k, v) => i18n.global.t(k, v)
const te = (k) => i18n.global.te(k)

// An audit action ("auth.login") in words; one the console does not know stays as it is.
export function auditAction(code) {
  return code && te('seen.auditAction.' + code) ? t('seen.auditAction.' + code) : code || ''
}

// Every audit action the console has words for, grouped by what they are about, for a filter.
export function auditActions() {
  const all = i18n.global.getLocaleMessage('zh-CN').seen.auditAction
  return Object.entries(all).flatMap(([k, v]) => Object.keys(v).map((a) => `${k}.${a}`))
}

export function shortId(id) {
  const s = String(id || '')
  return s.length > 8 ? s.slice(0, 6) + '…' : s
}

// ¥1,234.56 from fen
export function yuan(fen, locale) {
  if (fen === null || fen === undefined) return ''
  return new Intl.NumberFormat(locale || i18n.global.locale.value, { style: 'currency', currency: 'CNY' }).format(fen / 100)
}

export function fileSize(bytes) {
  if (bytes === null || bytes === undefined || bytes < 0) return ''
  if (bytes < 1024) return bytes + ' B'
  if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + ' KB'
  return (bytes / 1024 / 1024).toFixed(1) + ' MB'
}

// A stored file (a recording, a picture): view = shown in the page (the server audits a read,
// media.view); without it a download (media.download, counted like an export).
export function mediaUrl(ref, view = false) {
  return '/api/v1/media/' + encodeURIComponent(ref).replace(/%3A/gi, ':') + (view ? '?view=1' : '')
}

// --- references: "kind:id" as a name --------------------------------------------------------

// Names of objects other than employees, units and customers, by "kind:id" (API keys, devices,
// tags), fetched once.
const names = reactive({})
let fetched = {}

async function once(kind, load) {
  if (fetched[kind]) return fetched[kind]
  fetched[kind] = load().catch(() => {})
  return fetched[kind]
}

// Learn the names behind refs ("customer:<id>", "employee:<id>", "apikey:<id>", ...): each
// through the lists the caller may read, so nothing outside its scope is shown.
export async function resolveRefs(refs) {
  const kinds = new Set()
  const custIds = []
  for (const r of refs) {
    const m = /^([a-z_]+):(.+)$/.exec(r || '')
    if (!m) continue
    kinds.add(m[1])
    if (m[1] === 'customer') custIds.push(m[2])
  }
  const jobs = [loadDirectory()]
  if (custIds.length) jobs.push(loadCustomerNames(custIds))
  if ((kinds.has('apikey') || kinds.has('api_key')) && can('admin'))
    jobs.push(once('keys', async () => {
      for (const k of await listAll('/api-keys')) names['api_key:' + k.id] = names['apikey:' + k.id] = k.name
    }))
  if (kinds.has('device'))
    jobs.push(once('devices', async () => {
      for (const d of await listAll('/devices')) names['device:' + d.id] = [d.model, d.serial].filter(Boolean).join(' ')
    }))
  if (kinds.has('tag') || kinds.has('tag_group'))
    jobs.push(once('tags', async () => {
      const [tags, groups] = await Promise.all([listAll('/tags'), listAll('/tag-groups')])
      for (const x of tags) names['tag:' + x.id] = x.name
      for (const x of groups) names['tag_group:' + x.id] = x.name
    }))
  await Promise.all(jobs)
}

export function forgetRefs() {
  for (const k of Object.keys(names)) delete names[k]
  fetched = {}
}

// A reference in words: the object's name when the reader may see it, else its kind and the
// start of its id; a word that is no reference ("system", a user name) as itself.
export function refText(ref) {
  if (!ref) return ''
  if (te('seen.targetKind.' + ref) && !ref.includes(':')) return t('seen.targetKind.' + ref)
  const m = /^([a-z_]+):(.+)$/.exec(ref)
  if (!m) return ref
  const [, kind, id] = m
  const what = te('seen.targetKind.' + kind) ? t('seen.targetKind.' + kind) : kind
  let name = null
  if (kind === 'employee') name = directory.employees[id]?.name
  else if (kind === 'org_unit') name = directory.units[id]?.name
  else if (kind === 'customer') name = customers[id]
  else if (kind === 'role') name = te('role.' + id) ? t('role.' + id) : null
  else name = names[ref]
  if (kind === 'employee' || kind === 'customer') return name || `${what} ${shortId(id)}`
  if (kind === 'media') return `${what} ${shortId(id.replace(/^sha256:/, ''))}`
  return name ? t('seen.named', { what, name }) : `${what} ${shortId(id)}`
}
