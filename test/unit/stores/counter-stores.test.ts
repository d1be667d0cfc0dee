import { test } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import { CounterStores } from '../../../src/stores/counter-stores.js'
import { loadConfigObject } from '../../../src/config/load.js'
import type { CompiledGateway } from '../../../src/config/compile.js'
import { startRedis, type TestRedis } from '../../helpers/redis.js'

const silent = pino({ level: 'silent' })

function config (redisUrl: string | null, store: 'memory' | 'redis', commandTimeout?: string): CompiledGateway {
  return loadConfigObject({
    ...(redisUrl === null ? {} : { redis: { url: redisUrl, ...(commandTimeout === undefined ? {} : { commandTimeout }) } }),
    upstreams: { a: { targets: ['127.0.0.1:1'] } },
    routes: [{ name: 'r', upstream: 'a', rateLimit: { limit: 1, window: '1s', store } }]
  }).compiled
}

/** Connections named by the gateway that Redis sees now. */
async function gatewayConnections (redis: TestRedis): Promise<number> {
  const list = await redis.client().client('LIST') as string
  return list.split('\n').filter(line => line.includes('name=tollgate ')).length
}

test('counter stores: a config without store redis opens no connection, even with redis.url set', async (t) => {
  const redis = await startRedis(t)
  const stores = new CounterStores(silent)
  t.after(() => stores.close())
  const change = await stores.prepare(config(redis.url, 'memory'))
  stores.commit(change)
  assert.equal(change.next.redis, null)
  assert.equal(await gatewayConnections(redis), 0)
})

test('counter stores: reloads with the same redis url keep one connection', async (t) => {
  const redis = await startRedis(t)
  const stores = new CounterStores(silent)
  t.after(() => stores.close())
  const first = await stores.prepare(config(redis.url, 'redis'))
  stores.commit(first)
  for (let i = 0; i < 3; i++) {
    const again = await stores.prepare(config(redis.url, 'redis'))
    assert.equal(again.next.redis, first.next.redis)
    assert.equal(again.created, null)
    assert.equal(again.retired, null)
    stores.commit(again)
  }
  assert.equal(await gatewayConnections(redis), 1)
})

test('counter stores: a changed redis url connects anew and retires the old connection', async (t) => {
  const one = await startRedis(t)
  const two = await startRedis(t)
  const stores = new CounterStores(silent)
  t.after(() => stores.close())
  const first = await stores.prepare(config(one.url, 'redis'))
  stores.commit(first)
  const second = await stores.prepare(config(two.url, 'redis'))
  assert.notEqual(second.next.redis, first.next.redis)
  assert.equal(second.created, second.next.redis)
  assert.equal(second.retired, first.next.redis)
  stores.commit(second)
  await second.retired?.close()
  assert.equal(await gatewayConnections(one), 0)
  assert.equal(await gatewayConnections(two), 1)
})

test('counter stores: a config that stops using redis retires its connection; the memory store stays', async (t) => {
  const redis = await startRedis(t)
  const stores = new CounterStores(silent)
  t.after(() => stores.close())
  const first = await stores.prepare(config(redis.url, 'redis'))
  stores.commit(first)
  const second = await stores.prepare(config(null, 'memory'))
  assert.equal(second.next.redis, null)
  assert.equal(second.retired, first.next.redis)
  assert.equal(second.next.memory, first.next.memory)
})

test('counter stores: a Redis that is not there delays a config by at most the connect timeout', async (t) => {
  const redis = await startRedis(t)
  await redis.kill()
  const stores = new CounterStores(silent)
  t.after(() => stores.close())
  const started = performance.now()
  const change = await stores.prepare(config(redis.url, 'redis'))
  const ms = performance.now() - started
  assert.ok(change.next.redis !== null)
  assert.ok(ms < 2000, `prepare took ${ms.toFixed(0)} ms`)
  await change.created?.close()
})

test('counter stores: redis.commandTimeout is the store\'s (250 ms by default); a changed one connects anew', async (t) => {
  const redis = await startRedis(t)
  const stores = new CounterStores(silent)
  t.after(() => stores.close())
  const first = await stores.prepare(config(redis.url, 'redis'))
  stores.commit(first)
  assert.equal(first.next.redis?.commandTimeoutMs, 250)
  const second = await stores.prepare(config(redis.url, 'redis', '2s'))
  assert.equal(second.next.redis?.commandTimeoutMs, 2000)
  assert.notEqual(second.next.redis, first.next.redis)
  assert.equal(second.retired, first.next.redis)
  stores.commit(second)
  await second.retired?.close()
})
