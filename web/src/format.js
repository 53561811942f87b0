// SPDX-License-Identifier: MIT
// Times in the user's own time zone and language; money in yuan.

export const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'

const cache = new Map()
function fmt(locale, opts) {
  const key = locale + JSON.stringify(opts)
  if (!cache.has(key)) cache.set(key, new Intl.DateTimeFormat(locale, { timeZone, ...opts }))
  return cache.get(key)
}

export function formatTime(iso, locale) {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return fmt(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(d)
}

export function formatDay(date, locale) {
  return fmt(locale, { month: 'numeric', day: 'numeric' }).format(date)
}

// Midnight of today in the user's time zone, n days back.
export function startOfDay(daysBack = 0) {
  const d = new Date()
  d.setHours(0, 0, 0, 0)
  d.setDate(d.getDate() - daysBack)
  return d
}

// An amount in fen (分) as yuan: ¥1,234,567 (no fraction when whole), '' for null.
export function formatFen(fen, locale) {
  if (fen === null || fen === undefined) return ''
  const yuan = fen / 100
  return new Intl.NumberFormat(locale, { style: 'currency', currency: 'CNY', minimumFractionDigits: Number.isInteger(yuan) ? 0 : 2 }).format(yuan)
}
