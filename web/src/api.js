// SPDX-License-Identifier: MIT
// The one way the console talks to the server: JSON over fetch, the session cookie, the CSRF
// token on writes, errors as ApiError with the server's code and message.

let csrfToken = ''
let onUnauthorized = () => {}

export function setCsrf(token) {
  csrfToken = token || ''
}

// The CSRF token of the session, for writes that do not go through api() (file uploads).
export function csrf() {
  return csrfToken
}

// Called when a request answers 401 (the session ended): the router sends people to login.
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn
}

export class ApiError extends Error {
  constructor(status, code, message, details = {}, retryAfter = null) {
    super(message)
    this.status = status
    this.code = code
    this.details = details || {}
    this.retryAfter = retryAfter
  }
}

export function queryString(query) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') q.append(k, String(v))
  }
  const s = q.toString()
  return s ? '?' + s : ''
}

// method, path under /api/v1, { query, json, text }. Resolves to the parsed JSON (or text for
// text/plain replies, null for 204); rejects with ApiError.
export async function api(method, path, { query, json, text } = {}) {
  const headers = { Accept: 'application/json' }
  let body
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(json)
  } else if (text !== undefined) {
    headers['Content-Type'] = 'text/plain; charset=utf-8'
    body = text
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken
  let res
  try {
    res = await fetch('/api/v1' + path + queryString(query), {
      method,
      headers,
      body,
      credentials: 'same-origin',
    })
  } catch (e) {
    throw new ApiError(0, 'network', e.message || 'network error')
  }
  const type = res.headers.get('Content-Type') || ''
  if (!res.ok) {
    let err = { code: 'http_' + res.status, message: res.statusText, details: {} }
    if (type.startsWith('application/json')) {
      try {
        err = (await res.json()).error || err
      } catch {
        // keep the status line
      }
    }
    const ra = res.headers.get('Retry-After')
    if (res.status === 401 && path !== '/auth/login') onUnauthorized()
    throw new ApiError(res.status, err.code, err.message, err.details, ra ? Number(ra) : null)
  }
  if (res.status === 204) return null
  if (type.startsWith('application/json')) return res.json()
  return res.text()
}

// Every page of a list, up to max items (lists answer {items, next_cursor}).
export async function listAll(path, query = {}, max = 1000) {
  const items = []
  let cursor
  do {
    const page = await api('GET', path, { query: { ...query, limit: 200, cursor } })
    items.push(...page.items)
    cursor = page.next_cursor
  } while (cursor && items.length < max)
  return items
}
