/**
 * `cache.store: redis` with a real redis-server: two gateway instances share stored
 * responses, a purge on one is seen by the other at once, and while Redis is away cached
 * routes proxy uncached (logged once), with no error for any client.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startGateway, type RunningGateway } from '../helpers/gateway.js'
import { client, type Reply, type RequestInit } from '../helpers/client.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { pollUntil, within } from '../helpers/deadline.js'

interface LogLine { level: number, msg: string }

interface Pair {
  readonly origin: Origin
  readonly redis: TestRedis
  readonly a: RunningGateway
  readonly b: RunningGateway
  readonly logs: LogLine[]
  /** A request through `gw`, always with the same Host, so that both gateways use the same keys. */
  readonly send: (gw: RunningGateway, path: string, init?: RequestInit) => Promise<Reply>
}

async function pair (t: TestContext): Promise<Pair> {
  const redis = await startRedis(t)
  let version = 0
  const origin = await startOrigin(t, 'origin', {
    handler: (_req, res) => {
      version++
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'application/octet-stream' })
      res.end(Buffer.from([0, 255, 1, 254, version]))
    }
  })
  const logs: LogLine[] = []
  const config = {
    redis: { url: redis.url },
    cache: { store: 'redis' as const },
    upstreams: { origin: { targets: [origin.address] } },
    routes: [{ name: 'cached', match: { path: '/c/*' }, upstream: 'origin', cache: {} }]
  }
  const a = await startGateway(t, config, { logLevel: 'info', logTo: line => logs.push(JSON.parse(line) as LogLine) })
  const b = await startGateway(t, config)
  const request = client(t)
  return {
    origin,
    redis,
    a,
    b,
    logs,
    send: async (gw, path, init = {}) => await within(request(`${gw.url}${path}`, { ...init, headers: { host: 'shared.example', ...init.headers } }), 5_000, `${path} was not answered`)
  }
}

test('two gateways on one Redis share stored responses, binary bodies intact', async (t) => {
  const { a, b, send, origin } = await pair(t)
  const miss = await send(a, '/c/file')
  assert.equal(miss.headers['x-cache-status'], 'MISS')
  await pollUntil(async () => (await send(b, '/c/file')).headers['x-cache-status'] === 'HIT', 20, 2_000, 'b never found what a stored')
  const hit = await send(b, '/c/file')
  assert.equal(hit.headers['x-cache-status'], 'HIT')
  assert.equal(Buffer.from(hit.text, 'latin1').length, 5)
  assert.equal(hit.text, miss.text)
  assert.equal(origin.received.length, 1)
})

test('a PURGE on one gateway is seen by the other at once', async (t) => {
  const { a, b, send } = await pair(t)
  await send(a, '/c/file')
  await pollUntil(async () => (await send(b, '/c/file')).headers['x-cache-status'] === 'HIT', 20, 2_000, 'b never found what a stored')
  const purge = await send(a, '/c/file', { method: 'PURGE' as 'GET' })
  assert.deepEqual(purge.json(), { purged: 1 })
  assert.equal((await send(b, '/c/file')).headers['x-cache-status'], 'MISS')
})

test('with Redis down, cached routes proxy uncached: no client error, one log line for the outage, a PURGE is 503 CACHE_STORE_UNAVAILABLE; caching resumes when it is back', async (t) => {
  const { a, send, redis, logs, origin } = await pair(t)
  await send(a, '/c/file')
  await redis.kill()
  for (let i = 0; i < 5; i++) {
    const res = await send(a, '/c/file')
    assert.equal(res.status, 200)
    assert.equal(res.headers['x-cache-status'], 'MISS')
  }
  assert.equal(origin.received.length, 6)
  assert.equal(logs.filter(line => line.level === 40 && line.msg.startsWith('redis is unreachable')).length, 1)
  const purge = await send(a, '/c/file', { method: 'PURGE' as 'GET' })
  assert.equal(purge.status, 503)
  assert.equal(purge.json<{ error: { code: string } }>().error.code, 'CACHE_STORE_UNAVAILABLE')
  await redis.start()
  await pollUntil(async () => (await send(a, '/c/again')).headers['x-cache-status'] === 'HIT', 50, 5_000, 'caching did not resume')
})
