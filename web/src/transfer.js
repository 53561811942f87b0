// SPDX-License-Identifier: MIT
// Files to and from the server (issue 15): an import's spreadsheet sent as the request body,
// and an export downloaded under the name the server gives it (Content-Disposition).
import { ApiError, csrf, queryString } from './api.js'

async function failure(res) {
  let err = { code: 'http_' + res.status, message: res.statusText, details: {} }
  if ((res.headers.get('Content-Type') || '').startsWith('application/json')) {
    try {
      err = (await res.json()).error || err
    } catch {
      // keep the status line
    }
  }
  return new ApiError(res.status, err.code, err.message, err.details)
}

// POST the file (a File or Blob) as the body of path under /api/v1; resolves to the JSON answer.
export async function uploadFile(path, file, query) {
  const headers = { Accept: 'application/json', 'Content-Type': 'application/octet-stream' }
  if (csrf()) headers['X-CSRF-Token'] = csrf()
  let res
  try {
    res = await fetch('/api/v1' + path + queryString(query), { method: 'POST', headers, body: file, credentials: 'same-origin' })
  } catch (e) {
    throw new ApiError(0, 'network', e.message || 'network error')
  }
  if (!res.ok) throw await failure(res)
  return res.json()
}

// GET an export (or POST one that is made on request, as a customer's data request) and save it
// as the browser saves downloads; resolves to the file's name.
export async function downloadFile(path, query, method = 'GET') {
  const headers = {}
  if (method !== 'GET' && csrf()) headers['X-CSRF-Token'] = csrf()
  let res
  try {
    res = await fetch('/api/v1' + path + queryString(query), { method, headers, credentials: 'same-origin' })
  } catch (e) {
    throw new ApiError(0, 'network', e.message || 'network error')
  }
  if (!res.ok) throw await failure(res)
  const disp = res.headers.get('Content-Disposition') || ''
  const name = (disp.match(/filename="([^"]+)"/) || [])[1] || 'export'
  const url = URL.createObjectURL(await res.blob())
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10000)
  return name
}
