// SPDX-License-Identifier: MIT
// What the customer pages share: the funnel stages and grades, the tenant's tags and groups,
// who may manage (admins and managers), and the words for the pool's refusals.
import { reactive } from 'vue'
import { listAll } from '../api.js'
import { session } from '../session.js'

export const STAGES = ['lead', 'contacted', 'intent', 'deal', 'lost']
export const GRADES = ['A', 'B', 'C', 'D']
export const STAGE_TYPE = { lead: 'info', contacted: '', intent: 'warning', deal: 'success', lost: 'danger' }
export const GRADE_TYPE = { A: 'danger', B: 'warning', C: '', D: 'info' }

// Admins and managers assign, hand over and edit the tenant's vocabulary; the server checks
// again (403 for others).
export function isManager() {
  const r = session.employee?.role
  return r === 'admin' || r === 'manager'
}

// A role that changes customers (auditors only read).
export function mayWrite() {
  const r = session.employee?.role
  return r === 'admin' || r === 'manager' || r === 'sales'
}

// The tenant's tags and groups (at most 1000 each: the lists are not paged).
export const vocab = reactive({ loaded: false, tags: [], groups: [] })

export async function loadVocab(force = false) {
  if (vocab.loaded && !force) return
  const [tags, groups] = await Promise.all([listAll('/tags'), listAll('/tag-groups')])
  vocab.tags = tags
  vocab.groups = groups
  vocab.loaded = true
}

// Tags by group for a picker: [{id, name, color, tags: [...]}], tags in no group last.
export function groupedTags() {
  const out = vocab.groups.map((g) => ({ ...g, tags: vocab.tags.filter((t) => t.group_id === g.id) }))
  const loose = vocab.tags.filter((t) => !t.group_id || !vocab.groups.some((g) => g.id === t.group_id))
  if (loose.length) out.push({ id: '', name: '', color: '#8c8c8c', tags: loose })
  return out.filter((g) => g.tags.length)
}

// A readable text color on a tag's background.
export function tagStyle(color) {
  const c = /^#[0-9a-f]{6}$/i.test(color || '') ? color : '#8c8c8c'
  const n = parseInt(c.slice(1), 16)
  const light = ((n >> 16) * 299 + ((n >> 8) & 255) * 587 + (n & 255) * 114) / 1000 > 150
  return { backgroundColor: c, borderColor: c, color: light ? '#1f2329' : '#fff' }
}

// The message for a refused pool move or handover: the server's code in the user's words,
// with when it may be tried again.
export function refusal(e, t, when) {
  const at = e?.details?.retry_after ? when(e.details.retry_after) : ''
  switch (e?.code) {
    case 'claim_limit':
      return at ? t('pool.claimLimitUntil', { when: at }) : t('pool.claimLimit')
    case 'cooldown':
      return t('pool.cooldown', { when: at || '—' })
    case 'not_in_pool':
      return t('pool.notInPool')
    case 'in_pool':
      return t('pool.inPoolAlready')
    default:
      return e?.message || String(e)
  }
}

// A new idempotency key for one handover wizard run.
export function newKey() {
  const b = new Uint8Array(16)
  crypto.getRandomValues(b)
  return 'ui-' + [...b].map((x) => x.toString(16).padStart(2, '0')).join('')
}
