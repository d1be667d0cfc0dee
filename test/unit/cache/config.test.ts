import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfigObject } from '../../../src/config/load.js'
import { issuesOf } from '../../helpers/config.js'

const BASE = { upstreams: { a: { targets: ['127.0.0.1:1'] } } }

test('a route cache with every default: lock on, 1 MB objects, PURGE from loopback, CDN-Cache-Control forwarded', () => {
  const { compiled } = loadConfigObject({ ...BASE, routes: [{ name: 'r', upstream: 'a', cache: {} }] })
  const cache = compiled.routes[0]?.cache
  assert.ok(cache !== null && cache !== undefined)
  assert.deepEqual({ ...cache, purgeAllow: cache.purgeAllow.map(c => `${c.address}/${c.prefix}`) }, {
    ttlMs: 0, staleWhileRevalidateMs: 0, staleIfErrorMs: 0, lock: true, maxObjectSize: 1024 * 1024, purgeAllow: ['127.0.0.1/32', '::1/128'], consumeCdnHeader: false
  })
  assert.deepEqual(compiled.cache, { store: 'memory', maxSize: 256 * 1024 * 1024 })
})

test('cache.store: redis needs the top-level redis', () => {
  const issues = issuesOf(() => loadConfigObject({ ...BASE, cache: { store: 'redis' }, routes: [{ name: 'r', upstream: 'a', cache: {} }] }))
  assert.deepEqual(issues, ['cache.store: redis needs the top-level redis.url'])
})

test('bad cache values are refused by path', () => {
  const issues = issuesOf(() => loadConfigObject({
    ...BASE,
    cache: { store: 'redis', maxSize: 'lots' },
    routes: [{ name: 'r', upstream: 'a', cache: { ttl: 'soon', purge: { allow: ['10.0.0.0/99'] }, cdnHeader: 'strip' } }]
  }))
  assert.ok(issues.some(i => i.startsWith('cache.maxSize: ')), issues.join('\n'))
  assert.ok(issues.some(i => i.startsWith('routes[0].cache.ttl: ')), issues.join('\n'))
  assert.ok(issues.includes('routes[0].cache.cdnHeader: must be forward or consume'), issues.join('\n'))
})

test('purge.allow entries are checked once the rest passes', () => {
  const issues = issuesOf(() => loadConfigObject({ ...BASE, routes: [{ name: 'r', upstream: 'a', cache: { purge: { allow: ['10.0.0.0/99'] } } }] }))
  assert.deepEqual(issues, ['routes[0].cache.purge.allow[0]: "10.0.0.0/99": prefix length must be 0-32'])
})
