// SPDX-License-Identifier: MIT
// What the settings pages share about acting on people and things: who is over whom (so a page
// offers only the acts the server would allow; it decides again), and a confirmation first.
import { ElMessageBox } from 'element-plus'
import { session } from '../session.js'

// A confirmation before an act that cannot be taken back lightly; resolves to true when the
// user said yes.
export async function confirmAct(t, message, title, button, type = 'warning') {
  try {
    await ElMessageBox.confirm(message, title, {
      type,
      confirmButtonText: button,
      cancelButtonText: t('common.cancel'),
      customClass: 'confirm-act',
    })
    return true
  } catch {
    return false
  }
}

// Whether the logged-in employee may act on employee e as someone over it (change it, stop
// its devices), as src/api/scope.c decides: admins over everyone, a manager over the
// salespeople of its subtree (the only employees it sees) and the managers of the units below
// its own; nobody over itself unless self says the act allows it.
export function isOver(e, { self = false } = {}) {
  const me = session.employee
  if (!me || !e) return false
  if (e.id === me.id) return self && (me.role === 'admin' || me.role === 'manager')
  if (me.role === 'admin') return true
  if (me.role !== 'manager') return false
  if (e.role === 'sales') return true
  return e.role === 'manager' && e.org_unit_id !== me.org_unit_id
}
