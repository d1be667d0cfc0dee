import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import { RedisCounterStore, REDIS_KEY_PREFIX } from '../../../src/stores/redis.js'
import { startRedis, type TestRedis } from '../../helpers/redis.js'
import { within } from '../../helpers/deadline.js'

interface LogLine { level: number, msg: string, failures?: number }

async function connectedStore (t: TestContext, redis: TestRedis, commandTimeoutMs = 200): Promise<{ store: RedisCounterStore, logs: LogLine[] }> {
  const logs: LogLine[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { logs.push(JSON.parse(line) as LogLine) } })
  const store = new RedisCounterStore(redis.url, { logger, commandTimeoutMs })
  t.after(() => store.close())
  assert.ok(await store.connected(5000), 'connected to the test redis-server')
  return { store, logs }
}

/** How long `fn` took to settle, and whether it failed. */
async function timed (fn: () => Promise<unknown>): Promise<{ ms: number, failed: boolean }> {
  const started = performance.now()
  let failed = false
  try {
    await fn()
  } catch {
    failed = true
  }
  return { ms: performance.now() - started, failed }
}

test('redis store: keys are written under tollgate:rl: and expire with their window', async (t) => {
  const redis = await startRedis(t)
  const { store } = await connectedStore(t, redis)
  await store.fixedWindow('fixed-key', 5000)
  await store.slidingWindow('sliding-key', 7000, 3)
  const client = redis.client()
  const fixedTtl = await client.pttl(`${REDIS_KEY_PREFIX}fixed-key`)
  const slidingTtl = await client.pttl(`${REDIS_KEY_PREFIX}sliding-key`)
  assert.ok(fixedTtl > 4000 && fixedTtl <= 5000, `fixed ttl ${fixedTtl}`)
  assert.ok(slidingTtl > 6000 && slidingTtl <= 7000, `sliding ttl ${slidingTtl}`)
})

test('redis store: a call while Redis is down fails at once', async (t) => {
  const redis = await startRedis(t)
  const { store } = await connectedStore(t, redis, 2000)
  await redis.kill()
  for (let i = 0; i < 3; i++) {
    const call = await timed(async () => await store.fixedWindow('k', 1000))
    assert.ok(call.failed)
    assert.ok(call.ms < 500, `failed after ${call.ms.toFixed(0)} ms, not at once (the command timeout is 2 s)`)
  }
})

test('redis store: a call Redis does not answer fails after the command timeout', async (t) => {
  const redis = await startRedis(t)
  const { store } = await connectedStore(t, redis, 200)
  redis.freeze()
  const call = await within(timed(async () => await store.slidingWindow('k', 1000, 5)), 5000, 'the call to a frozen Redis never ended')
  redis.thaw()
  assert.ok(call.failed)
  assert.ok(call.ms >= 150 && call.ms < 1500, `failed after ${call.ms.toFixed(0)} ms`)
})

test('redis store: during an outage one call at a time waits on Redis, the others fail at once', async (t) => {
  const redis = await startRedis(t)
  const { store } = await connectedStore(t, redis, 300)
  redis.freeze()
  assert.ok((await timed(async () => await store.fixedWindow('k', 1000))).failed, 'the outage begins')
  const calls = await within(Promise.all(Array.from({ length: 6 }, async () => await timed(async () => await store.fixedWindow('k', 1000)))), 5000, 'calls hung')
  redis.thaw()
  assert.ok(calls.every(c => c.failed))
  const waited = calls.filter(c => c.ms >= 250)
  assert.equal(waited.length, 1, `waits: ${calls.map(c => c.ms.toFixed(0)).join(', ')} ms`)
})

test('redis store: an outage is logged once, its end once, and every uncounted hit is counted', async (t) => {
  const redis = await startRedis(t)
  const { store, logs } = await connectedStore(t, redis)
  await store.fixedWindow('k', 60_000)
  await redis.kill()
  for (let i = 0; i < 5; i++) await assert.rejects(async () => await store.fixedWindow('k', 60_000))
  assert.equal(store.failures, 5)
  await redis.start()
  assert.ok(await store.connected(10_000), 'reconnected')
  await store.fixedWindow('k', 60_000)
  const warnings = logs.filter(l => l.level === 40)
  const recoveries = logs.filter(l => l.level === 30 && l.msg.startsWith('redis answers again'))
  assert.equal(warnings.length, 1, JSON.stringify(logs))
  assert.match(warnings[0]?.msg ?? '', /redis is unreachable/)
  assert.equal(recoveries.length, 1)
  assert.equal(recoveries[0]?.failures, 5)
})

test('redis store: counts again by itself once Redis is back', async (t) => {
  const redis = await startRedis(t)
  const { store } = await connectedStore(t, redis)
  await redis.kill()
  await assert.rejects(async () => await store.fixedWindow('k', 60_000))
  await redis.start()
  assert.ok(await store.connected(10_000), 'reconnected within 10 s')
  assert.equal((await store.fixedWindow('k', 60_000)).current, 1)
  assert.equal((await store.fixedWindow('k', 60_000)).current, 2)
})
