// SPDX-License-Identifier: MIT
// New alerts reach a manager without a reload: while the console is open it asks the server
// every few seconds how many alerts are open and how many arrived since it last asked
// (GET /api/v1/alerts/count: one count, scoped like the list). The menu's badge shows the open
// count; the alerts page offers the new ones; and, when the person turned them on (the browser
// asks once), a desktop notification says so. Polling rather than a stream held open:
// docs/internals/api.md, "New alerts".
import { reactive } from 'vue'
import { api } from '../api.js'
import { i18n } from '../i18n.js'

export const POLL_MS = 10000 // while the page is in view
export const POLL_HIDDEN_MS = 30000 // in a background tab

export const alertWatch = reactive({
  open: null, // open alerts in my scope; null until the first answer
  arrived: 0, // alerts that arrived since the page started watching (the alerts page resets it)
  notify: false, // desktop notifications are on
  permission: typeof Notification === 'undefined' ? 'unsupported' : Notification.permission,
})

let since = null
let timer = null
let running = false
let onOpen = () => {}

function notifyOn() {
  return alertWatch.notify && alertWatch.permission === 'granted'
}

async function poll() {
  if (running) return
  running = true
  try {
    const r = await api('GET', '/alerts/count', { query: { status: 'open', since } })
    alertWatch.open = r.count
    if (since && r.new > 0) {
      alertWatch.arrived += r.new
      if (notifyOn()) show(r.new, r.count)
    }
    since = r.checked_at
  } catch {
    // the next look tries again; a 401 already sent the person to the login page
  } finally {
    running = false
  }
  schedule()
}

function schedule() {
  clearTimeout(timer)
  if (!watching) return
  timer = setTimeout(poll, document.hidden ? POLL_HIDDEN_MS : POLL_MS)
}

function show(n, open) {
  const t = i18n.global.t
  try {
    const note = new Notification(t('seen.alerts.newTitle'), { body: t('seen.alerts.newBody', { n, open }), tag: 'workphone-alerts' })
    note.onclick = () => {
      window.focus()
      onOpen()
      note.close()
    }
  } catch {
    // some browsers allow notifications only from a service worker: the badge still moves
  }
}

let watching = false
function visible() {
  if (!document.hidden) poll()
}

// Start watching (after login); open() is called when a notification is clicked.
export function startAlertWatch(open) {
  onOpen = open || onOpen
  alertWatch.notify = localStorage.getItem('wp.notify') === '1'
  if (watching) return
  watching = true
  since = null
  alertWatch.arrived = 0
  document.addEventListener('visibilitychange', visible)
  poll()
}

export function stopAlertWatch() {
  watching = false
  clearTimeout(timer)
  document.removeEventListener('visibilitychange', visible)
  alertWatch.open = null
}

// Ask again now (after handling an alert).
export function refreshAlertWatch() {
  if (watching) poll()
}

// Turn desktop notifications on (asking the browser once) or off. Resolves to the new state.
export async function toggleNotify() {
  if (alertWatch.permission === 'unsupported') return false
  if (alertWatch.notify) {
    alertWatch.notify = false
    localStorage.setItem('wp.notify', '0')
    return false
  }
  if (Notification.permission === 'default' && !localStorage.getItem('wp.notifyAsked')) {
    localStorage.setItem('wp.notifyAsked', '1')
    alertWatch.permission = await Notification.requestPermission()
  } else {
    alertWatch.permission = Notification.permission
  }
  alertWatch.notify = alertWatch.permission === 'granted'
  localStorage.setItem('wp.notify', alertWatch.notify ? '1' : '0')
  return alertWatch.notify
}
