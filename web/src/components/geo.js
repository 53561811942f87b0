// SPDX-License-Identifier: MIT
// Coordinates for the map (issue 18): WGS-84 as phones report and the API answers, shifted to
// GCJ-02 for Chinese tiles (AMap, Tencent) when the tenant's map_crs says so. The same formula
// as src/util/geo.c (Krasovsky 1940 ellipsoid); nothing moves outside mainland China's box.

const A = 6378245.0
const EE = 0.00669342162296594323
const R = 6371008.8 // the mean earth radius of the track's distances (docs/internals/track.md)

export function outsideChina(lat, lon) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271
}

function shiftLat(x, y) {
  let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x))
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0
  r += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0
  r += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320.0 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0
  return r
}

function shiftLon(x, y) {
  let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x))
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0
  r += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0
  r += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0
  return r
}

// [lat, lon] in GCJ-02 for a WGS-84 point.
export function wgsToGcj(lat, lon) {
  if (outsideChina(lat, lon)) return [lat, lon]
  let dlat = shiftLat(lon - 105.0, lat - 35.0)
  let dlon = shiftLon(lon - 105.0, lat - 35.0)
  const rad = (lat * Math.PI) / 180
  let magic = Math.sin(rad)
  magic = 1 - EE * magic * magic
  const sm = Math.sqrt(magic)
  dlat = (dlat * 180.0) / (((A * (1 - EE)) / (magic * sm)) * Math.PI)
  dlon = (dlon * 180.0) / ((A / sm) * Math.cos(rad) * Math.PI)
  return [lat + dlat, lon + dlon]
}

// [lat, lon] in WGS-84 for a GCJ-02 point (a fence drawn on Chinese tiles): the shift has no
// closed inverse, but it changes slowly, so w <- w + (g - wgsToGcj(w)) from w = g converges to
// well under a millimetre in a few rounds.
export function gcjToWgs(lat, lon) {
  if (outsideChina(lat, lon)) return [lat, lon]
  let w = [lat, lon]
  for (let i = 0; i < 30; i++) {
    const g = wgsToGcj(w[0], w[1])
    const dlat = lat - g[0], dlon = lon - g[1]
    w = [w[0] + dlat, w[1] + dlon]
    if (Math.abs(dlat) < 1e-12 && Math.abs(dlon) < 1e-12) break
  }
  return w
}

// The point to draw for a WGS-84 one on tiles of crs ('wgs84' | 'gcj02').
export function forTiles(lat, lon, crs) {
  return crs === 'gcj02' ? wgsToGcj(lat, lon) : [lat, lon]
}

// The WGS-84 point to store for one drawn on tiles of crs.
export function fromTiles(lat, lon, crs) {
  return crs === 'gcj02' ? gcjToWgs(lat, lon) : [lat, lon]
}

// Haversine distance in metres, as the server's.
export function distance(lat1, lon1, lat2, lon2) {
  const r = Math.PI / 180
  const a = Math.sin(((lat2 - lat1) * r) / 2) ** 2 + Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(((lon2 - lon1) * r) / 2) ** 2
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(a)))
}

// Where along a track (points {ts, lat, lon} in time order) the marker is at time ms: the
// point interpolated between its neighbours; clamped to the ends.
export function positionAt(points, ms) {
  if (!points.length) return null
  const t = (p) => Date.parse(p.ts)
  if (ms <= t(points[0])) return [points[0].lat, points[0].lon]
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1], b = points[i]
    if (ms <= t(b)) {
      const f = t(b) === t(a) ? 1 : (ms - t(a)) / (t(b) - t(a))
      return [a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f]
    }
  }
  const last = points[points.length - 1]
  return [last.lat, last.lon]
}
