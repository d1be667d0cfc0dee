import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfigObject } from '../../../src/config/load.js'
import { issuesOf } from '../../helpers/config.js'

test('metrics: {} listens on 127.0.0.1:9091 and serves /metrics; no `metrics` means no endpoint', () => {
  assert.deepEqual(loadConfigObject({ metrics: {} }).compiled.metrics, { host: '127.0.0.1', port: 9091, path: '/metrics' })
  assert.equal(loadConfigObject({}).compiled.metrics, null)
  assert.deepEqual(loadConfigObject({ metrics: { listen: { host: '0.0.0.0', port: 9100 }, path: '/prom' } }).compiled.metrics, { host: '0.0.0.0', port: 9100, path: '/prom' })
})

test('a metrics path that is not an absolute path, or a key metrics does not have, is refused', () => {
  assert.deepEqual(issuesOf(() => loadConfigObject({ metrics: { path: 'metrics' } })), ['metrics.path: must be a path starting with /'])
  assert.deepEqual(issuesOf(() => loadConfigObject({ metrics: { path: '/metrics?x=1' } })), ['metrics.path: must be a path starting with /'])
  assert.deepEqual(issuesOf(() => loadConfigObject({ metrics: { listen: { port: 70000 } } })).length, 1)
  assert.deepEqual(issuesOf(() => loadConfigObject({ metrics: { token: 'x' } })), ['metrics.token: unknown key'])
})
