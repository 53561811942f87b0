// SPDX-License-Identifier: MIT
// Chinese by default, English on request; the choice is kept in the browser.
import { createI18n } from 'vue-i18n'
import zhCN from './locales/zh-CN.json'
import en from './locales/en.json'

export const LOCALES = [
  { code: 'zh-CN', label: '中文' },
  { code: 'en', label: 'English' },
]

function initial() {
  const saved = localStorage.getItem('wp.locale')
  return LOCALES.some((l) => l.code === saved) ? saved : 'zh-CN'
}

export const i18n = createI18n({
  legacy: false,
  locale: initial(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
})

export function setLocale(code) {
  i18n.global.locale.value = code
  localStorage.setItem('wp.locale', code)
  document.documentElement.lang = code
}

// The translation of prefix.value when there is one, else value as it came (channels, kinds
// and message types are open lists: a word the console does not know is shown as is).
export function label(prefix, value) {
  if (value === null || value === undefined || value === '') return ''
  const key = `${prefix}.${value}`
  return i18n.global.te(key) ? i18n.global.t(key) : String(value)
}

// What an alert is about, for people: its category when the console has words for it (飞单私单),
// else its kind (删除客户); a follow-up alert's category (sop) or a money alert's (transfer)
// says less than its kind would, so those have words of their own too.
export function alertLabel(category, kind) {
  if (category && i18n.global.te(`category.${category}`)) return i18n.global.t(`category.${category}`)
  return label('alertKind', kind) || label('category', category)
}
