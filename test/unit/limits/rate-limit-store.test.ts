import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RouteLimiterStore } from '../../../src/limits/rate-limit-store.js'
import { RateLimiter } from '../../../src/limits/rate-limiter.js'
import type { CompiledRateLimit } from '../../../src/limits/config.js'
import type { CounterStore, WindowCount } from '../../../src/stores/counter-store.js'
import { MemoryCounterStore } from '../../../src/stores/memory.js'

function spec (overrides: Partial<CompiledRateLimit> = {}): CompiledRateLimit {
  return { limit: 2, windowMs: 1000, algorithm: 'fixed-window', key: { from: 'ip' }, store: 'memory', onStoreError: 'open', ...overrides }
}

const failing = (how: 'throw' | 'reject'): CounterStore => ({
  kind: 'redis',
  fixedWindow: () => { if (how === 'throw') throw new Error('down'); return Promise.reject(new Error('down')) },
  slidingWindow: () => Promise.reject(new Error('down'))
})

async function incr (store: RouteLimiterStore, key: string): Promise<{ error: Error | null, result?: WindowCount }> {
  return await new Promise(resolve => store.incr(key, (error, result) => resolve({ error, result })))
}

test('route store: hands the package the route\'s count', async () => {
  const store = new RouteLimiterStore().child({ limiter: new RateLimiter('r', spec(), new MemoryCounterStore()) })
  assert.equal((await incr(store, 'ip:1')).result?.current, 1)
  assert.equal((await incr(store, 'ip:1')).result?.current, 2)
})

test('route store: a memory count is handed on synchronously', () => {
  const store = new RouteLimiterStore({ limiter: new RateLimiter('r', spec(), new MemoryCounterStore()) })
  let called = false
  store.incr('ip:1', () => { called = true })
  assert.ok(called)
})

test('route store: a failure on an open route is handed on as it is, for the package to skip', async () => {
  for (const how of ['throw', 'reject'] as const) {
    const store = new RouteLimiterStore({ limiter: new RateLimiter('r', spec(), failing(how)) })
    const { error } = await incr(store, 'ip:1')
    assert.equal(error?.message, 'down')
  }
})

test('route store: a failure on a closed route becomes 503 NO_HEALTHY_UPSTREAM', async () => {
  const store = new RouteLimiterStore({ limiter: new RateLimiter('r', spec({ onStoreError: 'closed' }), failing('reject')) })
  const { error } = await incr(store, 'ip:1')
  assert.equal((error as Error & { code?: string }).code, 'NO_HEALTHY_UPSTREAM')
  assert.equal(error?.message, 'the rate limit store is unavailable')
  assert.equal((error as Error & { statusCode?: number }).statusCode, 503)
})

test('route store: the package\'s app-wide store serves no route', async () => {
  const { error } = await incr(new RouteLimiterStore({ max: 1000, timeWindow: 60000 }), 'ip:1')
  assert.ok(error instanceof Error)
})
