import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RateLimiter, compileKeyOf, rateLimitStoreUnavailable, MAX_KEY_VALUE_LENGTH, type LimitSubject } from '../../../src/limits/rate-limiter.js'
import { parseLimitKey, type CompiledRateLimit } from '../../../src/limits/config.js'
import { MemoryCounterStore } from '../../../src/stores/memory.js'
import type { CounterStore } from '../../../src/stores/counter-store.js'

function subject (overrides: Partial<LimitSubject> = {}): LimitSubject {
  return { ip: '127.0.0.2', headers: {}, principal: null, ...overrides }
}

const keyOf = (key: string) => compileKeyOf(parseLimitKey(key))

function spec (overrides: Partial<CompiledRateLimit> = {}): CompiledRateLimit {
  return { limit: 2, windowMs: 1000, algorithm: 'fixed-window', key: { from: 'ip' }, store: 'memory', onStoreError: 'open', ...overrides }
}

test('key ip: the client address', () => {
  assert.equal(keyOf('ip')(subject()), 'ip:127.0.0.2')
  assert.notEqual(keyOf('ip')(subject({ ip: '127.0.0.3' })), keyOf('ip')(subject()))
})

test('key route: the same for every client', () => {
  assert.equal(keyOf('route')(subject({ ip: '127.0.0.3' })), keyOf('route')(subject()))
})

test('key header: the value of the header named in any case', () => {
  const of = keyOf('header:X-Api-Key')
  assert.equal(of(subject({ headers: { 'x-api-key': 'alpha' } })), 'header:=alpha')
  assert.equal(of(subject({ ip: '127.0.0.3', headers: { 'x-api-key': 'alpha' } })), 'header:=alpha')
})

test('key header: a missing or empty header falls back to the client address', () => {
  const of = keyOf('header:x-api-key')
  assert.equal(of(subject()), 'ip:127.0.0.2')
  assert.equal(of(subject({ headers: { 'x-api-key': '' } })), 'ip:127.0.0.2')
})

test('key header: a value that reads like an address is not that address\'s count', () => {
  assert.notEqual(keyOf('header:x-api-key')(subject({ ip: '10.0.0.1', headers: { 'x-api-key': 'ip:127.0.0.2' } })), keyOf('ip')(subject()))
})

test('key header: a long value is keyed by its digest, of bounded length', () => {
  const of = keyOf('header:x-api-key')
  const long = of(subject({ headers: { 'x-api-key': 'a'.repeat(10_000) } }))
  const other = of(subject({ headers: { 'x-api-key': 'a'.repeat(9_999) + 'b' } }))
  assert.ok(long.length < 64, long)
  assert.notEqual(long, other)
  assert.equal(of(subject({ headers: { 'x-api-key': 'a'.repeat(MAX_KEY_VALUE_LENGTH) } })), 'header:=' + 'a'.repeat(MAX_KEY_VALUE_LENGTH))
})

test('key principal: the principal\'s id, a number included', () => {
  assert.equal(keyOf('principal')(subject({ principal: { id: 'svc' } })), 'principal:=svc')
  assert.equal(keyOf('principal')(subject({ principal: { id: 42 } })), 'principal:=42')
})

test('key principal: a JWT\'s principal (its claims) by its sub; id wins when both are there', () => {
  assert.equal(keyOf('principal')(subject({ principal: { sub: 'u-42', tenant: 'acme' } })), 'principal:=u-42')
  assert.equal(keyOf('principal')(subject({ principal: { id: 'svc', sub: 'u-42' } })), 'principal:=svc')
})

test('key principal: without a principal, an id or a sub, the client address', () => {
  assert.equal(keyOf('principal')(subject()), 'ip:127.0.0.2')
  assert.equal(keyOf('principal')(subject({ principal: {} })), 'ip:127.0.0.2')
  assert.equal(keyOf('principal')(subject({ principal: { name: 'x', sub: '' } })), 'ip:127.0.0.2')
})

test('key claim: the claim\'s value; without it, or with a non-scalar one, the client address', () => {
  const of = keyOf('claim:tenant')
  assert.equal(of(subject({ principal: { tenant: 'acme', sub: 'u1' } })), 'claim:=acme')
  assert.equal(of(subject({ principal: { sub: 'u1' } })), 'ip:127.0.0.2')
  assert.equal(of(subject({ principal: { tenant: { nested: true } } })), 'ip:127.0.0.2')
  assert.equal(of(subject()), 'ip:127.0.0.2')
})

test('key claim: a claim named like an object member is read only when the principal has it', () => {
  assert.equal(keyOf('claim:toString')(subject({ principal: { sub: 'u1' } })), 'ip:127.0.0.2')
})

test('rate limiter: routes, algorithms and window lengths count apart in one store', () => {
  const store = new MemoryCounterStore()
  const a = new RateLimiter('a', spec(), store)
  const b = new RateLimiter('b', spec(), store)
  const aSliding = new RateLimiter('a', spec({ algorithm: 'sliding-window' }), store)
  const aLonger = new RateLimiter('a', spec({ windowMs: 2000 }), store)
  a.hit('ip:1')
  a.hit('ip:1')
  for (const other of [b, aSliding, aLonger]) assert.equal((other.hit('ip:1') as { current: number }).current, 1)
})

test('rate limiter: a route name and key cannot spell another pair', () => {
  const store = new MemoryCounterStore()
  assert.notEqual(new RateLimiter('a:b', spec(), store).storeKey('c'), new RateLimiter('a', spec(), store).storeKey('b:c'))
})

test('rate limiter: asks the store for the route\'s algorithm, window and limit', () => {
  const calls: string[] = []
  const store: CounterStore = {
    kind: 'memory',
    fixedWindow: (key, windowMs) => { calls.push(`fixed ${key} ${windowMs}`); return { current: 1, ttl: 1 } },
    slidingWindow: (key, windowMs, limit) => { calls.push(`sliding ${key} ${windowMs} ${limit}`); return { current: 1, ttl: 1 } }
  }
  new RateLimiter('r', spec({ windowMs: 500 }), store).hit('ip:x')
  new RateLimiter('r', spec({ algorithm: 'sliding-window', limit: 7 }), store).hit('ip:x')
  assert.deepEqual(calls, ['fixed fixed:500:1:r:ip:x 500', 'sliding sliding:1000:1:r:ip:x 1000 7'])
})

test('store unavailable: 503 NO_HEALTHY_UPSTREAM saying so, with Retry-After and the limit\'s headers', () => {
  const error = rateLimitStoreUnavailable(5, new Error('Command timed out'))
  assert.equal(error.statusCode, 503)
  assert.equal(error.code, 'NO_HEALTHY_UPSTREAM')
  assert.equal(error.message, 'the rate limit store is unavailable')
  assert.deepEqual(error.headers, { 'retry-after': '1', 'ratelimit-limit': '5', 'ratelimit-remaining': '0', 'ratelimit-reset': '1' })
  assert.equal(error.detail, 'Command timed out')
})
