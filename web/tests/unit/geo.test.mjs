// SPDX-License-Identifier: MIT
// WGS-84 -> GCJ-02 in the console against the reference point of tests/unit/util/test_geo.c.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { distance, forTiles, fromTiles, gcjToWgs, outsideChina, positionAt, wgsToGcj } from '../../src/components/geo.js'

const near = (got, want, tol) => assert.ok(Math.abs(got - want) <= tol, `${got} is not within ${tol} of ${want}`)

test('Beijing railway station shifts as Baidu geoconv answers', () => {
  // WGS-84 39.90105 N 116.42079 E -> GCJ-02 39.90245063 N 116.42702745 E (test_geo.c)
  const [lat, lon] = wgsToGcj(39.90105, 116.42079)
  near(lat, 39.90245063, 1e-5)
  near(lon, 116.42702745, 1e-5)
})

test('outside China nothing moves; wgs84 tiles take the point as it is', () => {
  assert.deepEqual(wgsToGcj(51.5074, -0.1278), [51.5074, -0.1278])
  assert.equal(outsideChina(51.5074, -0.1278), true)
  assert.equal(outsideChina(31.23, 121.47), false)
  assert.deepEqual(forTiles(39.90105, 116.42079, 'wgs84'), [39.90105, 116.42079])
  assert.deepEqual(forTiles(39.90105, 116.42079, 'gcj02'), wgsToGcj(39.90105, 116.42079))
})

test('distance along a meridian is R times the angle', () => {
  near(distance(31.2, 121.4, 31.203, 121.4), 6371008.8 * (0.003 * Math.PI / 180), 1e-6)
})

test('the player interpolates between points and clamps to the ends', () => {
  const pts = [{ ts: '2026-11-27T00:00:00Z', lat: 31, lon: 121 }, { ts: '2026-11-27T00:10:00Z', lat: 31.1, lon: 121.2 }]
  assert.deepEqual(positionAt(pts, Date.parse('2026-11-26T23:00:00Z')), [31, 121])
  const mid = positionAt(pts, Date.parse('2026-11-27T00:05:00Z'))
  near(mid[0], 31.05, 1e-12)
  near(mid[1], 121.1, 1e-12)
  assert.deepEqual(positionAt(pts, Date.parse('2026-11-28T00:00:00Z')), [31.1, 121.2])
  assert.equal(positionAt([], 0), null)
})

test('gcjToWgs undoes wgsToGcj within a millimetre across China; outside it nothing moves', () => {
  for (let lat = 18.5; lat < 53; lat += 2.5)
    for (let lon = 74; lon < 135; lon += 3.5) {
      const g = wgsToGcj(lat, lon)
      const w = gcjToWgs(g[0], g[1])
      assert.ok(distance(lat, lon, w[0], w[1]) < 0.001, `${lat},${lon} comes back at ${w}`)
    }
  assert.deepEqual(gcjToWgs(51.5074, -0.1278), [51.5074, -0.1278])
  assert.deepEqual(fromTiles(31.2, 121.4, 'wgs84'), [31.2, 121.4])
  assert.deepEqual(fromTiles(...wgsToGcj(31.2, 121.4), 'gcj02'), gcjToWgs(...wgsToGcj(31.2, 121.4)))
})
