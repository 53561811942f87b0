// SPDX-License-Identifier: MIT
// The sections of the settings page (/settings/<key>), in order, each with the right the
// console needs to show it (the server checks every change again). A role sees only the
// sections it may use; the first, "account" (my password; API keys for admins), is
// Settings.vue's own. Another section is one line here and one component.
import { defineAsyncComponent } from 'vue'

export const SECTIONS = [
  { key: 'account', right: 'session' },
  // customer rules: tags and scripts (admins and managers), follow-up, grading and pool rules (admins)
  { key: 'crm', right: 'manage', component: defineAsyncComponent(() => import('./CrmRules.vue')) },
  // what each role may see and do
  { key: 'roles', right: 'admin', component: defineAsyncComponent(() => import('./Roles.vue')) },
  // the transfer alert, storage limits and use, insider alerts: admins change, auditors read
  { key: 'alerts', right: 'audit', component: defineAsyncComponent(() => import('./Limits.vue')) },
  // the working hours that response times, attendance and geofences read: admins change,
  // managers read them
  { key: 'hours', right: 'manage', component: defineAsyncComponent(() => import('../../components/WorkingHours.vue')) },
  // how long each channel and alert category is kept, and the legal holds: admins only
  { key: 'retention', right: 'admin', component: defineAsyncComponent(() => import('./Retention.vue')) },
  // what employees are told on enrollment and the automatic first message to customers
  // (issue 20): admins only
  { key: 'notice', right: 'admin', component: defineAsyncComponent(() => import('./Notice.vue')) },
]
