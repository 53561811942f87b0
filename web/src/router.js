// SPDX-License-Identifier: MIT
// The console's pages; each names the right it needs (the server checks again).
import { createRouter, createWebHistory } from 'vue-router'
import { setUnauthorizedHandler } from './api.js'
import { can, forget, restore, session } from './session.js'
import Layout from './views/Layout.vue'
import Login from './views/Login.vue'

export const pages = [
  { path: 'dashboard', name: 'dashboard', icon: 'DataLine', right: 'read', component: () => import('./views/Dashboard.vue') },
  { path: 'archive', name: 'archive', icon: 'ChatLineSquare', right: 'read', component: () => import('./views/Archive.vue') },
  { path: 'alerts', name: 'alerts', icon: 'Bell', right: 'read', component: () => import('./views/Alerts.vue') },
  { path: 'customers', name: 'customers', icon: 'User', right: 'read', component: () => import('./views/Customers.vue') },
  { path: 'pool', name: 'pool', icon: 'User', right: 'read', component: () => import('./views/Pool.vue') },
  { path: 'reminders', name: 'reminders', icon: 'Bell', right: 'read', component: () => import('./views/Reminders.vue') },
  { path: 'employees', name: 'employees', icon: 'OfficeBuilding', right: 'read', component: () => import('./views/Employees.vue') },
  { path: 'devices', name: 'devices', icon: 'Iphone', right: 'read', component: () => import('./views/Devices.vue') },
  // 外勤 (field staff, issue 18): pages with a group sit under one sub-menu, in this order;
  // the map, tracks, check-ins, attendance and geofences
  { path: 'field/map', name: 'fieldMap', group: 'field', icon: 'Location', right: 'read', component: () => import('./views/FieldMap.vue') },
  { path: 'field/track', name: 'fieldTrack', group: 'field', icon: 'Guide', right: 'read', component: () => import('./views/FieldTrack.vue') },
  { path: 'field/checkins', name: 'fieldCheckins', group: 'field', icon: 'Camera', right: 'read', component: () => import('./views/FieldCheckins.vue') },
  { path: 'field/attendance', name: 'fieldAttendance', group: 'field', icon: 'Calendar', right: 'read', component: () => import('./views/FieldAttendance.vue') },
  // drawing and changing fences needs 'manage' (the page hides those buttons without it)
  { path: 'field/geofences', name: 'fieldFences', group: 'field', icon: 'Aim', right: 'read', component: () => import('./views/FieldFences.vue') },
  { path: 'lexicon', name: 'lexicon', icon: 'Document', right: 'lexicon', component: () => import('./views/Lexicon.vue') },
  { path: 'audit', name: 'audit', icon: 'Finished', right: 'audit', component: () => import('./views/Audit.vue') },
  { path: 'integrations/wecom', name: 'wecom', icon: 'ChatDotRound', right: 'admin', component: () => import('./views/Wecom.vue') },
  { path: 'webhooks', name: 'webhooks', icon: 'Connection', right: 'admin', component: () => import('./views/Webhooks.vue') },
  { path: 'settings', name: 'settings', icon: 'Setting', right: 'session', component: () => import('./views/Settings.vue') },
]

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: Login, meta: { public: true } },
    {
      path: '/',
      component: Layout,
      redirect: '/dashboard',
      children: [
        ...pages.map((p) => ({ path: p.path, name: p.name, component: p.component, meta: { right: p.right } })),
        // 我的隐私 (issue 20): every role's own page, from the user menu, not the side menu
        { path: 'me/privacy', name: 'privacy', component: () => import('./views/MyPrivacy.vue'), meta: { right: 'session' } },
        { path: 'customers/:id', name: 'customer', component: () => import('./views/CustomerDetail.vue'), meta: { right: 'read', menu: 'customers' } },
        // a section of the settings (views/settings/sections.js), and a tab within it
        { path: 'settings/:section/:tab?', name: 'settings-section', component: () => import('./views/Settings.vue'), meta: { right: 'session', menu: 'settings' } },
      ],
    },
    { path: '/:rest(.*)*', name: 'notfound', component: () => import('./views/NotFound.vue'), meta: { public: true } },
  ],
})

router.beforeEach(async (to) => {
  if (to.meta.public) return true
  if (!(await restore())) return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  if (to.meta.right && !can(to.meta.right)) return { name: 'dashboard' }
  return true
})

setUnauthorizedHandler(() => {
  if (!session.employee) return
  forget()
  const here = router.currentRoute.value
  if (!here.meta.public) router.push({ name: 'login', query: { next: here.fullPath, expired: '1' } })
})
