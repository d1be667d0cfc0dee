import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfigObject } from '../../../src/config/load.js'
import { schemaKeys } from '../../../scripts/config-reference.js'

/** The smallest config every key is tried in. */
const BASE = { upstreams: { a: { targets: ['127.0.0.1:1'] } }, routes: [{ name: 'r', upstream: 'a' }] }

/**
 * What some keys only mean beside others: a key under one of these is tried in a config
 * that has them (sticky settings need the sticky-cookie balancer, a DNS record a DNS source).
 */
const CONTEXT: Readonly<Record<string, Record<string, unknown>>> = {
  'upstreams.<name>.sticky': { upstreams: { a: { targets: ['127.0.0.1:1'], balancer: 'sticky-cookie' } } },
  'upstreams.<name>.discovery': { upstreams: { a: { discovery: { type: 'dns', host: 'blue.internal', port: 80 } } } },
  'routes[].auth': { routes: [{ name: 'r', upstream: 'a', auth: { type: 'jwt', secret: 's' } }] },
  'routes[].rateLimit': { routes: [{ name: 'r', upstream: 'a', rateLimit: { limit: 1, window: '1s' } }] },
  'routes[].concurrency': { routes: [{ name: 'r', upstream: 'a', concurrency: { limit: 1 } }] },
  'routes[].inspect': { routes: [{ name: 'r', upstream: 'a', inspect: { block: ['x'] } }] },
  'server.listen[]': { server: { listen: [{ port: 8080 }] } },
  redis: { redis: { url: 'redis://127.0.0.1:6379' } }
}

/**
 * `config` with `value` at a schema key path (`upstreams.<name>.x` is upstream a,
 * `routes[]` route 0), its parents made where missing; `undefined`: the parents only.
 */
function withValue (config: Record<string, unknown>, keyPath: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(config)
  const steps = keyPath.replace(/\[\]/g, '.0').replace(/<name>/g, 'a').split('.')
  let at: Record<string, unknown> = copy
  steps.slice(0, -1).forEach((step, i) => {
    const next = steps[i + 1] ?? ''
    at[step] ??= /^\d+$/.test(next) ? [] : {}
    at = at[step] as Record<string, unknown>
  })
  if (value !== undefined) at[steps[steps.length - 1] ?? ''] = value
  return copy
}

/** A compiled config as comparable data: closures, and the fingerprints made of the source, left out. */
function comparable (value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => {
    if (key === 'fingerprint' || key === 'source') return undefined
    if (typeof v === 'function') return '[function]'
    if (v instanceof Map) return [...v.entries()]
    if (v instanceof Set) return [...v.values()]
    return v
  })
}

test('a key set to its documented default compiles exactly as the key left out', () => {
  let checked = 0
  for (const key of schemaKeys()) {
    if (key.schema.default === undefined) continue
    const context = Object.entries(CONTEXT).filter(([prefix]) => key.path.startsWith(prefix)).sort((a, b) => b[0].length - a[0].length)[0]?.[1] ?? {}
    const without = withValue({ ...BASE, ...context }, key.path, undefined)
    const compiledWithout = comparable(loadConfigObject(without).compiled)
    const compiledWith = comparable(loadConfigObject(withValue(without, key.path, key.schema.default)).compiled)
    assert.ok(compiledWith === compiledWithout, `${key.path}: the documented default ${JSON.stringify(key.schema.default)} is not what compile uses`)
    checked++
  }
  assert.ok(checked > 50, `only ${checked} defaults checked`)
})
