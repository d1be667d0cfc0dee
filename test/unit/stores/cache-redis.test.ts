import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import type { CacheKey, StoredResponse } from '../../../src/cache/stored-response.js'
import { RedisCacheStore, REDIS_CACHE_PREFIX } from '../../../src/stores/cache-redis.js'
import { MAX_VARIANTS_PER_URL } from '../../../src/stores/cache-store.js'
import { startRedis, type TestRedis } from '../../helpers/redis.js'
import { within } from '../../helpers/deadline.js'

interface LogLine { level: number, msg: string, failures?: number }

async function connectedStore (t: TestContext, redis: TestRedis, options: { commandTimeoutMs?: number, now?: () => number } = {}): Promise<{ store: RedisCacheStore, logs: LogLine[] }> {
  const logs: LogLine[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { logs.push(JSON.parse(line) as LogLine) } })
  const store = new RedisCacheStore(redis.url, { logger, commandTimeoutMs: options.commandTimeoutMs ?? 200, now: options.now })
  t.after(() => store.close())
  assert.ok(await store.connected(5000), 'connected to the test redis-server')
  return { store, logs }
}

function response (body: string | Buffer, options: { variant?: string, keepUntil?: number, headers?: StoredResponse['headers'] } = {}): StoredResponse {
  return {
    status: 200,
    headers: options.headers ?? { 'content-type': 'text/plain' },
    body: typeof body === 'string' ? Buffer.from(body) : body,
    requestTime: 1_700_000_000_000,
    responseTime: 1_700_000_000_050,
    vary: options.variant === undefined ? null : { 'accept-encoding': options.variant },
    variant: options.variant ?? '',
    keepUntil: options.keepUntil ?? Date.now() + 60_000
  }
}

const at = (url: string, host = 'a.example'): CacheKey => ({ url, host })
const redisKey = (url: string, host = 'a.example'): string => `${REDIS_CACHE_PREFIX}${url}\n${host}`
const bodies = (found: readonly StoredResponse[]): string[] => found.map(r => r.body.toString()).sort()

test('cache redis store: a binary body and its headers come back as stored', async (t) => {
  const redis = await startRedis(t)
  const { store } = await connectedStore(t, redis)
  const body = Buffer.alloc(256 * 4)
  for (let i = 0; i < body.length; i++) body[i] = i % 256
  const headers = { 'content-type': 'application/octet-stream', 'set-list': ['a=1', 'b=2, c'], 'x-n': 7, 'x-utf8': 'caf\u00e9 \u2603' }
  const stored: StoredResponse = { ...response(body, { headers, variant: 'gzip' }), status: 203 }
  await store.put(at('/bin?x=1'), stored)
  const [found, ...rest] = await store.get(at('/bin?x=1'))
  assert.equal(rest.length, 0)
  assert.ok(found !== undefined)
  assert.ok(found.body.equals(body), 'every byte value survives')
  assert.deepEqual({ ...found, body: null }, { ...stored, body: null })
  assert.deepEqual(await store.get(at('/bin?x=1', 'b.example')), [], 'another host is another entry')
  assert.deepEqual(await store.get(at('/bin')), [], 'another query is another entry')

  const raw = await redis.client().hgetBuffer(redisKey('/bin?x=1'), 'gzip')
  assert.ok(raw !== null)
  const metaLength = raw.readUInt32BE(0)
  assert.equal((JSON.parse(raw.toString('utf8', 4, 4 + metaLength)) as { status: number }).status, 203)
  assert.ok(raw.subarray(4 + metaLength).equals(body), 'the body is stored as raw bytes after the meta')
})

test('cache redis store: variants live side by side, the same variant is replaced, delete counts them', async (t) => {
  const redis = await startRedis(t)
  const { store } = await connectedStore(t, redis)
  await store.put(at('/v'), response('gzip-1', { variant: 'gzip' }))
  await store.put(at('/v'), response('plain', { variant: '' }))
  await store.put(at('/v'), response('gzip-2', { variant: 'gzip' }))
  assert.deepEqual(bodies(await store.get(at('/v'))), ['gzip-2', 'plain'])
  assert.equal(await redis.client().hlen(redisKey('/v')), 2)
  assert.equal(await store.delete(at('/v')), 2)
  assert.deepEqual(await store.get(at('/v')), [])
  assert.equal(await store.delete(at('/v')), 0)
})

test('cache redis store: the hash expires in Redis at the latest keepUntil of its variants', async (t) => {
  const redis = await startRedis(t)
  const { store } = await connectedStore(t, redis)
  const client = redis.client()
  await store.put(at('/e'), response('a', { variant: 'a', keepUntil: Date.now() + 60_000 }))
  let ttl = await client.pttl(redisKey('/e'))
  assert.ok(ttl > 55_000 && ttl <= 60_000, `ttl ${ttl}`)
  await store.put(at('/e'), response('b', { variant: 'b', keepUntil: Date.now() + 10_000 }))
  ttl = await client.pttl(redisKey('/e'))
  assert.ok(ttl > 55_000 && ttl <= 60_000, `a shorter-lived variant leaves the expiry alone: ttl ${ttl}`)
  await store.put(at('/e'), response('c', { variant: 'c', keepUntil: Date.now() + 120_000 }))
  ttl = await client.pttl(redisKey('/e'))
  assert.ok(ttl > 115_000 && ttl <= 120_000, `a longer-lived one moves it later: ttl ${ttl}`)
})

test('cache redis store: variants past keepUntil are ignored and removed from Redis', async (t) => {
  const redis = await startRedis(t)
  let time = Date.now()
  const { store } = await connectedStore(t, redis, { now: () => time })
  await store.put(at('/k'), response('short', { variant: 'a', keepUntil: time + 1000 }))
  await store.put(at('/k'), response('long', { variant: 'b', keepUntil: time + 60_000 }))
  time += 1000
  assert.deepEqual(bodies(await store.get(at('/k'))), ['long', 'short'], 'usable up to keepUntil')
  time += 1
  assert.deepEqual(bodies(await store.get(at('/k'))), ['long'])
  // One connection answers in order: once this get is answered, the removal sent before it ran.
  assert.deepEqual(bodies(await store.get(at('/k'))), ['long'])
  assert.deepEqual(await redis.client().hkeys(redisKey('/k')), ['b'])
  await store.put(at('/late'), response('late', { keepUntil: time - 1 }))
  assert.equal(await redis.client().exists(redisKey('/late')), 0, 'a response already past keepUntil is not stored')
})

test('cache redis store: a purge on one instance is seen by another at once, by url or prefix, with or without host', async (t) => {
  const redis = await startRedis(t)
  const { store: one } = await connectedStore(t, redis)
  const { store: two } = await connectedStore(t, redis)
  const fill = async (): Promise<void> => {
    for (const host of ['a.example', 'b.example']) {
      for (const url of ['/files/a', '/files/b?x=1', '/filesystem', '/other/files/c']) await one.put(at(url, host), response(url))
    }
    await one.put(at('/files/a', 'a.example'), response('gz', { variant: 'gzip' }))
  }
  await fill()
  assert.equal((await two.get(at('/files/a'))).length, 2)

  assert.equal(await two.purge({ url: '/files/a', host: 'a.example' }), 2)
  assert.deepEqual(await one.get(at('/files/a', 'a.example')), [])
  assert.equal((await one.get(at('/files/a', 'b.example'))).length, 1)

  assert.equal(await two.purge({ url: '/files/a' }), 1)
  assert.deepEqual(await one.get(at('/files/a', 'b.example')), [])

  assert.equal(await two.purge({ prefix: '/files', host: 'b.example' }), 2, '/files/b?x=1 and /filesystem of b.example')
  assert.deepEqual(await one.get(at('/filesystem', 'b.example')), [])
  assert.equal((await one.get(at('/filesystem', 'a.example'))).length, 1)

  assert.equal(await two.purge({ prefix: '/files/' }), 1, 'a.example\'s /files/b?x=1')
  assert.equal((await one.get(at('/filesystem', 'a.example'))).length, 1)
  assert.equal(await two.purge({ prefix: '/' }), 3)
  assert.deepEqual(await redis.client().keys(`${REDIS_CACHE_PREFIX}*`), [])
})

test('cache redis store: a purge takes glob characters in urls and hosts literally', async (t) => {
  const redis = await startRedis(t)
  const { store } = await connectedStore(t, redis)
  const urls = ['/a*b', '/axxb', '/ab', '/[x]', '/x', '/[x]/1', '/x/1', '/q?v=a?b', '/q?v=aXb', '/back\\slash', '/back/slash']
  for (const url of urls) await store.put(at(url), response(url))
  await store.put(at('/h', 'h*.example'), response('star host'))
  await store.put(at('/h', 'hx.example'), response('plain host'))
  const left = async (): Promise<string[]> => (await redis.client().keys(`${REDIS_CACHE_PREFIX}*`)).map(k => k.slice(REDIS_CACHE_PREFIX.length)).sort()

  assert.equal(await store.purge({ url: '/a*b' }), 1)
  assert.equal(await store.purge({ url: '/[x]' }), 1)
  assert.equal(await store.purge({ url: '/q?v=a?b' }), 1)
  assert.equal(await store.purge({ prefix: '/back\\' }), 1)
  assert.equal(await store.purge({ url: '/h', host: 'h*.example' }), 1)
  assert.deepEqual(await left(), ['/[x]/1', '/ab', '/axxb', '/back/slash', '/h\nhx.example', '/q?v=aXb', '/x', '/x/1'].map(u => u.includes('\n') ? u : `${u}\na.example`).sort())
  assert.equal(await store.purge({ prefix: '/[x]' }), 1)
  assert.equal((await store.get(at('/x/1'))).length, 1)
  assert.equal(await store.purge({ prefix: '/', host: 'h*.example' }), 0, 'a host with a star is not a pattern')
  assert.equal((await store.get(at('/h', 'hx.example'))).length, 1)
})

test('cache redis store: a purge goes through many keys in batches', async (t) => {
  const redis = await startRedis(t)
  const { store } = await connectedStore(t, redis)
  const client = redis.client()
  const pipeline = client.pipeline()
  for (let i = 0; i < 2000; i++) pipeline.hset(redisKey(`/many/${i}`), 'v1', 'x', 'v2', 'y')
  for (let i = 0; i < 100; i++) pipeline.hset(redisKey(`/kept/${i}`), 'v1', 'x')
  await pipeline.exec()
  assert.equal(await store.purge({ prefix: '/many/' }), 4000)
  assert.equal(await client.dbsize(), 100)
})

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

test('cache redis store: while Redis is down every call fails at once, the outage is logged once, and it recovers', async (t) => {
  const redis = await startRedis(t)
  const { store, logs } = await connectedStore(t, redis, { commandTimeoutMs: 500 })
  await store.put(at('/r'), response('before'))
  await redis.kill()
  const calls = [
    async () => await store.get(at('/r')),
    async () => await store.put(at('/r'), response('during')),
    async () => await store.delete(at('/r')),
    async () => await store.purge({ prefix: '/' }),
    async () => await store.purge({ url: '/r', host: 'a.example' })
  ]
  for (const call of calls) {
    const result = await within(timed(call), 5000, 'a call to a dead Redis never ended')
    assert.ok(result.failed, 'rejects')
    assert.ok(result.ms < 1000, `failed after ${result.ms.toFixed(0)} ms`)
  }
  assert.equal(store.failures, calls.length)
  assert.equal(logs.filter(l => l.level === 40).length, 1, JSON.stringify(logs))
  assert.equal(logs.find(l => l.level === 40)?.msg, 'redis is unreachable: cached routes proxy uncached until it answers')

  await redis.start()
  assert.ok(await store.connected(10_000), 'reconnected')
  assert.deepEqual(await store.get(at('/r')), [], 'a fresh Redis holds nothing')
  await store.put(at('/r'), response('after'))
  assert.deepEqual(bodies(await store.get(at('/r'))), ['after'])
  const recoveries = logs.filter(l => l.level === 30 && l.msg.startsWith('redis answers again'))
  assert.equal(recoveries.length, 1)
  assert.equal(recoveries[0]?.failures, calls.length)
  assert.equal(logs.filter(l => l.level === 40).length, 1)
})

test('cache redis store: a call Redis does not answer fails after the command timeout', async (t) => {
  const redis = await startRedis(t)
  const { store, logs } = await connectedStore(t, redis, { commandTimeoutMs: 200 })
  redis.freeze()
  const first = await within(timed(async () => await store.get(at('/f'))), 5000, 'the call to a frozen Redis never ended')
  const second = await within(timed(async () => await store.put(at('/f'), response('x'))), 5000, 'the call to a frozen Redis never ended')
  redis.thaw()
  assert.ok(first.failed && second.failed)
  assert.ok(first.ms >= 150 && first.ms < 1000, `failed after ${first.ms.toFixed(0)} ms`)
  assert.ok(second.ms < 1000, `failed after ${second.ms.toFixed(0)} ms`)
  assert.equal(logs.filter(l => l.level === 40).length, 1)
})

test('cache redis store: a URL keeps at most MAX_VARIANTS_PER_URL variants', async (t) => {
  const redis = await startRedis(t)
  const { store } = await connectedStore(t, redis)
  const url = { url: '/v', host: 'a.example' }
  for (let i = 0; i < MAX_VARIANTS_PER_URL + 5; i++) await store.put(url, response(`b${i}`, { variant: `v${i}` }))
  const kept = await store.get(url)
  assert.equal(kept.length, MAX_VARIANTS_PER_URL)
  assert.ok(kept.some(r => r.variant === `v${MAX_VARIANTS_PER_URL + 4}`), 'the newest is kept')
})
