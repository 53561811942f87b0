// SPDX-License-Identifier: MIT
// The field pages' map (issue 18): Leaflet with the tenant's tiles (settings map_tiles_url, a
// {z}/{x}/{y} template; map_crs wgs84 | gcj02 says what the tiles expect), or, without a tile
// URL, a plain grid (no tile layer, a CSS background): the map works offline. Points come from
// the API in WGS-84 and go through place() before they are drawn.
import L from 'leaflet'
import 'leaflet/dist/leaflet.css'
import { api } from '../api.js'
import { forTiles } from './geo.js'

// {tiles: '' | url template, crs: 'wgs84' | 'gcj02'}; the defaults when the settings lack them
export async function mapSettings() {
  try {
    const r = await api('GET', '/settings')
    const s = r.settings || {}
    return { tiles: s.map_tiles_url || '', crs: s.map_crs === 'gcj02' ? 'gcj02' : 'wgs84' }
  } catch {
    return { tiles: '', crs: 'wgs84' }
  }
}

export function createMap(el, { tiles }) {
  const map = L.map(el, { zoomControl: true, attributionControl: !!tiles })
  if (tiles) L.tileLayer(tiles, { maxZoom: 19 }).addTo(map)
  else el.classList.add('plain-grid')
  map.setView([35, 105], 4)
  // a page that changes width (a phone turned, the menu folded) shows the same area again:
  // map.refit, when a page sets it, frames what it drew
  const ro = new ResizeObserver(() => {
    map.invalidateSize()
    map.refit?.()
  })
  ro.observe(el)
  map.on('unload', () => ro.disconnect())
  return map
}

// [lat, lon] to draw for a WGS-84 point
export const place = (lat, lon, crs) => forTiles(lat, lon, crs)

// colour by how old a position is: fresh, within two hours, older
export function ageColour(iso, now = Date.now()) {
  const min = (now - Date.parse(iso)) / 60000
  return min <= 30 ? '#2e9d3a' : min <= 120 ? '#e6a23c' : '#909399'
}
export function ageClass(iso, now = Date.now()) {
  const min = (now - Date.parse(iso)) / 60000
  return min <= 30 ? 'fresh' : min <= 120 ? 'recent' : 'old'
}

export { L }

// The instant (ms) of local midnight starting date 'YYYY-MM-DD' in the IANA zone tz.
export function zonedMidnight(date, tz) {
  const [y, m, d] = date.split('-').map(Number)
  const guess = Date.UTC(y, m - 1, d)
  const offset = (ms) => {
    const f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]))
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - ms
  }
  let t = guess - offset(guess)
  t = guess - offset(t)
  return t
}

// Today's date 'YYYY-MM-DD' in the zone tz.
export function todayIn(tz, now = Date.now()) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(now))
}
