/**
 * One suite, run against every CounterStore: the memory store and the Redis store (a real
 * redis-server on a loopback port). Windows are short and real; every check that depends
 * on time waits for the time the store itself announced (ttl), or checks counts within
 * windows in a way a slow machine cannot fail falsely.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import type { CounterStore } from '../../../src/stores/counter-store.js'
import { MemoryCounterStore } from '../../../src/stores/memory.js'
import { RedisCounterStore } from '../../../src/stores/redis.js'
import { startRedis } from '../../helpers/redis.js'
import { overfullSpans, paced } from '../../helpers/rate-limit.js'

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

let unique = 0
const freshKey = (): string => `key-${process.pid}-${++unique}`

async function suite (t: TestContext, store: CounterStore): Promise<void> {
  await t.test('fixed window: hits of one window are counted 1, 2, 3…', async () => {
    const key = freshKey()
    const counts = []
    for (let i = 0; i < 5; i++) counts.push((await store.fixedWindow(key, 60_000)).current)
    assert.deepEqual(counts, [1, 2, 3, 4, 5])
  })

  await t.test('fixed window: ttl is at most the window, and the window ends at the first hit plus its length', async () => {
    const key = freshKey()
    const started = performance.now()
    const first = await store.fixedWindow(key, 5000)
    assert.ok(first.ttl > 0 && first.ttl <= 5000, `ttl ${first.ttl}`)
    await sleep(50)
    const second = await store.fixedWindow(key, 5000)
    const elapsed = performance.now() - started
    assert.ok(second.ttl <= 5000 - 40 && second.ttl >= 5000 - elapsed - 5, `ttl ${second.ttl} after ${elapsed.toFixed(0)} ms`)
  })

  await t.test('fixed window: the count starts again once the window has ended', async () => {
    const key = freshKey()
    await store.fixedWindow(key, 200)
    const { ttl } = await store.fixedWindow(key, 200)
    await sleep(ttl + 20)
    assert.equal((await store.fixedWindow(key, 200)).current, 1)
  })

  await t.test('fixed window: keys count apart', async () => {
    const a = freshKey()
    const b = freshKey()
    await store.fixedWindow(a, 60_000)
    await store.fixedWindow(a, 60_000)
    assert.equal((await store.fixedWindow(b, 60_000)).current, 1)
  })

  await t.test('sliding window: passes the limit, then refuses with current above it and ttl within the window', async () => {
    const key = freshKey()
    const counts = []
    for (let i = 0; i < 4; i++) counts.push(await store.slidingWindow(key, 60_000, 3))
    assert.deepEqual(counts.map(c => c.current), [1, 2, 3, 4])
    const refused = counts[3] as { ttl: number }
    assert.ok(refused.ttl > 0 && refused.ttl <= 60_000, `ttl ${refused.ttl}`)
  })

  await t.test('sliding window: a hit passes again once the oldest passed hit has left the window, not before', async () => {
    // The second hit leaves the window 500 ms after the first: that is the slack for a slow machine.
    const key = freshKey()
    await store.slidingWindow(key, 1000, 2)
    await sleep(500)
    await store.slidingWindow(key, 1000, 2)
    const refused = await store.slidingWindow(key, 1000, 2)
    assert.equal(refused.current, 3)
    assert.ok(refused.ttl <= 1000 - 490, `ttl ${refused.ttl}: the oldest hit leaves first, not the newest`)
    await sleep(refused.ttl + 20)
    assert.equal((await store.slidingWindow(key, 1000, 2)).current, 2, 'one slot came free')
    assert.equal((await store.slidingWindow(key, 1000, 2)).current, 3, 'only one')
  })

  await t.test('sliding window: refused hits are not recorded', async () => {
    const key = freshKey()
    const first = await store.slidingWindow(key, 300, 1)
    let refused = first
    for (let i = 0; i < 5; i++) {
      await sleep(20)
      refused = await store.slidingWindow(key, 300, 1)
      assert.equal(refused.current, 2)
    }
    await sleep(refused.ttl + 20)
    assert.equal((await store.slidingWindow(key, 300, 1)).current, 1)
  })

  await t.test('sliding window: no span of the window holds more than the limit', async () => {
    const key = freshKey()
    const results = await paced(40, 15, async () => {
      const { current } = await store.slidingWindow(key, 300, 4)
      return { status: current <= 4 ? 200 : 429 }
    })
    assert.ok(results.some(r => r.status === 429))
    assert.deepEqual(overfullSpans(results, 4, 300), [])
  })

  await t.test('concurrent hits are counted exactly: 50 of 200 at once pass a limit of 50', async () => {
    const fixed = freshKey()
    const sliding = freshKey()
    const fixedCounts = await Promise.all(Array.from({ length: 200 }, async () => (await store.fixedWindow(fixed, 60_000)).current))
    const slidingCounts = await Promise.all(Array.from({ length: 200 }, async () => (await store.slidingWindow(sliding, 60_000, 50)).current))
    assert.equal(fixedCounts.filter(c => c <= 50).length, 50)
    assert.deepEqual([...fixedCounts].sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i + 1))
    assert.equal(slidingCounts.filter(c => c <= 50).length, 50)
  })
}

test('memory counter store', async (t) => {
  await suite(t, new MemoryCounterStore())
})

test('redis counter store', async (t) => {
  const redis = await startRedis(t)
  const store = new RedisCounterStore(redis.url, { logger: pino({ level: 'silent' }) })
  t.after(() => store.close())
  assert.ok(await store.connected(5000), 'connected to the test redis-server')
  await suite(t, store)
})
