// SPDX-License-Identifier: MIT
// A phone's width: the menu folds into a drawer, tables become lists, filters fold away.
import { ref } from 'vue'

export const NARROW = '(max-width: 767px)'
const mq = typeof window !== 'undefined' && window.matchMedia ? window.matchMedia(NARROW) : null

// true while the window is as narrow as a phone (390 px and the like)
export const narrow = ref(!!mq?.matches)
mq?.addEventListener('change', (e) => (narrow.value = e.matches))
