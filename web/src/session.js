// SPDX-License-Identifier: MIT
// Who is logged in (from the login reply or GET /auth/session), what the role may do, and the
// names of employees and units for display.
import { reactive } from 'vue'
import { api, listAll, setCsrf } from './api.js'

// The rights of each role are fixed by the server (docs/openapi.yaml, "Who may do what").
// lexicon: the console's own word for who is shown the lexicon page (those who watch over
// compliance; a salesperson's phone holds the lexicon, but its menu does not).
const RIGHTS = {
  admin: ['session', 'read', 'write', 'audit', 'admin', 'lexicon'],
  manager: ['session', 'read', 'write', 'lexicon'],
  sales: ['session', 'read', 'write'],
  auditor: ['session', 'read', 'audit', 'lexicon'],
}

export const session = reactive({
  employee: null, // {id, name, username, role, org_unit_id, tenant_id}
  expiresAt: null,
  checked: false, // GET /auth/session was asked once
  role: null, // this role's row of GET /roles: {view_pii, unmask}
})

export function can(right) {
  return !!session.employee && (RIGHTS[session.employee.role] || []).includes(right)
}

function take(reply) {
  session.employee = reply.employee
  session.expiresAt = reply.expires_at
  setCsrf(reply.csrf_token)
}

// Resolves to true when a session (the HttpOnly cookie) is still good.
export async function restore() {
  if (session.employee) return true
  try {
    take(await api('GET', '/auth/session'))
  } catch {
    session.employee = null
  }
  session.checked = true
  return !!session.employee
}

export async function login(username, password, tenant) {
  const body = { username, password }
  if (tenant) body.tenant = tenant
  take(await api('POST', '/auth/login', { json: body }))
  session.checked = true
}

export async function logout() {
  try {
    await api('POST', '/auth/logout')
  } finally {
    forget()
  }
}

export function forget() {
  session.employee = null
  session.role = null
  setCsrf('')
  directory.loaded = false
  directory.employees = {}
  directory.units = {}
}

// What my role may see of personal data (view_pii: unmasked everywhere; unmask: one record
// at a time, audited).
export async function myRole() {
  if (!session.role) {
    const roles = await api('GET', '/roles')
    session.role = roles.items.find((r) => r.role === session.employee.role) || {}
  }
  return session.role
}

// Employees and org units in my scope, by id, for names in tables.
export const directory = reactive({ loaded: false, employees: {}, units: {} })

export async function loadDirectory(force = false) {
  if (directory.loaded && !force) return
  const [emps, units] = await Promise.all([
    listAll('/employees').catch(() => []),
    listAll('/org-units').catch(() => []),
  ])
  directory.employees = Object.fromEntries(emps.map((e) => [e.id, e]))
  directory.units = Object.fromEntries(units.map((u) => [u.id, u]))
  directory.loaded = true
}

export function employeeName(id) {
  if (!id) return ''
  const e = directory.employees[id]
  return e ? e.name : id
}

// Customer names by id, fetched once each, for lists that carry only customer_id.
export const customers = reactive({})

export async function loadCustomerNames(ids) {
  const want = [...new Set(ids.filter((id) => id && !(id in customers)))]
  for (const id of want) customers[id] = null
  await Promise.all(
    want.map((id) =>
      api('GET', `/customers/${encodeURIComponent(id)}`)
        .then((c) => (customers[id] = c.name || ''))
        .catch(() => delete customers[id]),
    ),
  )
}
