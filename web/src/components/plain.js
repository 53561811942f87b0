// SPDX-License-Identifier: MIT
// The server's refusals in plain words, in the user's language: its error code (and, for a bad
// field, which field) becomes a sentence; what a page knows better (a unit that still has
// people, a group that still holds tags) it passes in `codes`. Also sizes and money as people
// read them. No imports: node --test runs it (tests/unit/plain.test.mjs).

// e: an ApiError (or Error); tr: { t, te } of vue-i18n; codes: { code or status: sentence };
// fields: { field: its label } for the fields of this form (else plainErrors.field.<name>).
export function plainError(e, tr, { codes = {}, fields = {} } = {}) {
  if (!e) return ''
  const { t, te } = tr
  if (e.code && codes[e.code]) return codes[e.code]
  if (e.status && codes[e.status]) return codes[e.status]
  const msg = String(e.message || '')
  const quoted = /'([a-z_]+)'/.exec(msg)?.[1] || /^([a-z_]+) (?:is|must|contains)\b/.exec(msg)?.[1]
  const field = quoted && (fields[quoted] || (te(`plainErrors.field.${quoted}`) ? t(`plainErrors.field.${quoted}`) : ''))
  switch (e.code) {
    case 'network':
      return t('plainErrors.network')
    case 'unauthorized':
      return t('plainErrors.unauthorized')
    case 'forbidden':
    case 'csrf_failed':
      if (/themselves/.test(msg)) return t('plainErrors.self')
      if (/only admins may/.test(msg)) return t('plainErrors.onlyAdmins')
      if (/not its peers/.test(msg)) return t('plainErrors.peers')
      return t('plainErrors.forbidden')
    case 'not_found':
      return t('plainErrors.notFound')
    case 'already_exists':
      return field ? t('plainErrors.existsField', { field }) : t('plainErrors.exists')
    case 'conflict':
      return t('plainErrors.conflict')
    case 'limit_exceeded':
      return t('plainErrors.limit')
    case 'too_many_attempts':
    case 'rate_limited':
      return t('plainErrors.tooMany')
    case 'quota_exceeded':
      return t('plainErrors.quota')
    case 'storage_full':
      return t('plainErrors.storageFull')
    case 'store_unavailable':
      return t('plainErrors.storeUnavailable')
    case 'invalid_request':
    case 'invalid_json':
      if (/^nothing to change/.test(msg)) return t('plainErrors.nothing')
      if (!field) return t('plainErrors.invalid')
      if (/is required/.test(msg)) return t('plainErrors.required', { field })
      if (/is wrong/.test(msg)) return t('plainErrors.wrong', { field })
      if (/too long|longer than/.test(msg)) return t('plainErrors.tooLong', { field })
      if (/shorter than|is empty|only whitespace/.test(msg)) return t('plainErrors.tooShort', { field })
      if (/control character|not valid utf-8/i.test(msg)) return t('plainErrors.badChar', { field })
      if (/not found|cannot move under itself/.test(msg)) return t('plainErrors.badChoice', { field })
      return t('plainErrors.badField', { field })
  }
  if (e.status === 429) return t('plainErrors.tooMany')
  if (e.status >= 500) return t('plainErrors.server')
  return t('plainErrors.other')
}

// Bytes as people read them: 1.5 GB, 256 MB (binary units, as the limits are set).
export function formatBytes(n) {
  if (n === null || n === undefined) return ''
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB']
  let v = Number(n)
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  const s = i === 0 ? String(v) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
  return `${s.replace(/\.0+$|(\.\d*[1-9])0+$/, '$1')} ${units[i]}`
}

// Money in fen as yuan, and back (the API keeps fen).
export const fenToYuan = (fen) => Math.round(Number(fen) || 0) / 100
export const yuanToFen = (yuan) => Math.round((Number(yuan) || 0) * 100)
