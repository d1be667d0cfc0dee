/**
 * Rate limits on `store: redis`, against a real redis-server on a loopback port that the
 * tests kill (by its PID), freeze and start again on the same port: counts shared in
 * Redis, an outage served open or closed as the route says, logged once and counted,
 * requests answered at once while Redis is away, and recovery without a restart.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { startGateway, type RunningGateway } from '../helpers/gateway.js'
import { client, type ErrorBody, type Reply } from '../helpers/client.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { pollUntil, within } from '../helpers/deadline.js'
import type { GatewayConfig } from '../../src/index.js'
import type { RedisCounterStore } from '../../src/stores/redis.js'

type RateLimit = NonNullable<NonNullable<GatewayConfig['routes']>[number]['rateLimit']>

/** A request while Redis is away is answered within this (the command timeout is 250 ms). */
const OUTAGE_ANSWER_MS = 1500

interface LogLine { level: number, msg: string }

interface RedisGateway {
  readonly gw: RunningGateway
  readonly redis: TestRedis
  readonly logs: LogLine[]
  readonly get: (path: string, headers?: Record<string, string>) => Promise<Reply & { ms: number }>
  readonly upstreamHits: () => number
  readonly store: () => RedisCounterStore
}

/** A gateway whose routes `/<name>/*` are limited as given, on one test Redis. */
async function redisGateway (t: TestContext, limits: Record<string, RateLimit>): Promise<RedisGateway> {
  const redis = await startRedis(t)
  const origin = await startOrigin(t, 'blue')
  const logs: LogLine[] = []
  const gw = await startGateway(t, {
    redis: { url: redis.url },
    upstreams: { blue: { targets: [origin.address] } },
    routes: Object.entries(limits).map(([name, rateLimit]) => ({ name, match: { path: `/${name}/*` }, upstream: 'blue', rateLimit: { store: 'redis', ...rateLimit } }))
  }, { logLevel: 'info', logTo: line => logs.push(JSON.parse(line) as LogLine) })
  const send = client(t)
  return {
    gw,
    redis,
    logs,
    get: async (path, headers = {}) => {
      const started = performance.now()
      const reply = await within(send(`${gw.url}${path}`, { headers }), 10_000, `GET ${path} was not answered`)
      return { ...reply, ms: performance.now() - started }
    },
    upstreamHits: () => origin.received.length,
    store: () => {
      const store = gw.gateway.counterStores.redis
      assert.ok(store !== null, 'the gateway has a Redis store')
      return store
    }
  }
}

const outageLogs = (logs: readonly LogLine[]): LogLine[] => logs.filter(l => l.level === 40 && l.msg.startsWith('redis is unreachable'))
const recoveryLogs = (logs: readonly LogLine[]): LogLine[] => logs.filter(l => l.level === 30 && l.msg.startsWith('redis answers again'))

test('store redis, onStoreError open: with Redis killed, requests pass at once; the outage is logged once, each uncounted request counted, and counting resumes by itself', async (t) => {
  const { get, redis, logs, store, upstreamHits } = await redisGateway(t, { open: { limit: 100, window: '1m', key: 'route', onStoreError: 'open' } })
  assert.deepEqual([(await get('/open/x')).headers['ratelimit-remaining'], (await get('/open/x')).headers['ratelimit-remaining']], ['99', '98'])

  await redis.kill()
  for (let i = 0; i < 20; i++) {
    const res = await get('/open/x')
    assert.equal(res.status, 200, 'served while Redis is away')
    assert.ok(res.ms < OUTAGE_ANSWER_MS, `answered after ${res.ms.toFixed(0)} ms`)
    assert.equal(res.headers['ratelimit-limit'], '100')
  }
  assert.equal(upstreamHits(), 22)
  assert.equal(outageLogs(logs).length, 1, 'one warning for the outage, not one per request')
  assert.equal(store().failures, 20, 'every request that passed uncounted is counted')

  await redis.start()
  // The restarted Redis is empty: the first counted request leaves 99.
  await pollUntil(async () => (await get('/open/x')).headers['ratelimit-remaining'] === '99', 50, 10_000, 'counting never resumed after Redis came back')
  assert.equal((await get('/open/x')).headers['ratelimit-remaining'], '98')
  assert.equal(recoveryLogs(logs).length, 1)
  assert.equal(outageLogs(logs).length, 1)

  await redis.kill()
  for (let i = 0; i < 3; i++) assert.equal((await get('/open/x')).status, 200)
  assert.equal(outageLogs(logs).length, 2, 'a second outage is logged once more')
})

test('store redis, onStoreError closed: with Redis killed, requests get 503 NO_HEALTHY_UPSTREAM at once, and pass again when it is back', async (t) => {
  const { get, redis, upstreamHits } = await redisGateway(t, { closed: { limit: 100, window: '1m', onStoreError: 'closed' } })
  assert.equal((await get('/closed/x')).status, 200)

  await redis.kill()
  for (let i = 0; i < 3; i++) {
    const res = await get('/closed/x')
    assert.equal(res.status, 503)
    assert.ok(res.ms < OUTAGE_ANSWER_MS, `answered after ${res.ms.toFixed(0)} ms`)
    const body = res.json<ErrorBody>()
    assert.equal(body.error.code, 'NO_HEALTHY_UPSTREAM')
    assert.equal(body.error.status, 503)
    assert.equal(body.error.message, 'the rate limit store is unavailable')
    assert.equal(body.error.requestId, res.headers['x-request-id'])
    assert.equal(res.headers['retry-after'], '1')
    assert.equal(res.headers['ratelimit-limit'], '100')
    assert.equal(res.headers['ratelimit-remaining'], '0')
    assert.equal(res.headers['ratelimit-reset'], '1')
  }
  assert.equal(upstreamHits(), 1, 'refused requests never reach the upstream')

  await redis.start()
  await pollUntil(async () => (await get('/closed/x')).status === 200, 50, 10_000, 'the route kept refusing after Redis came back')
})

test('store redis: a Redis that stops answering (frozen) delays a request by the command timeout, not more', async (t) => {
  const { get, redis } = await redisGateway(t, {
    open: { limit: 100, window: '1m', onStoreError: 'open' },
    closed: { limit: 100, window: '1m', onStoreError: 'closed' }
  })
  assert.equal((await get('/open/x')).status, 200)
  redis.freeze()
  t.after(() => redis.thaw())
  const open = await get('/open/x')
  const closed = await get('/closed/x')
  redis.thaw()
  assert.equal(open.status, 200)
  assert.equal(closed.status, 503)
  assert.ok(open.ms < OUTAGE_ANSWER_MS, `the open route answered after ${open.ms.toFixed(0)} ms`)
  assert.ok(closed.ms < OUTAGE_ANSWER_MS, `the closed route answered after ${closed.ms.toFixed(0)} ms`)
  await pollUntil(async () => (await get('/closed/x')).status === 200, 50, 10_000, 'the closed route kept refusing after Redis thawed')
})

test('store redis, key header: an 8 kB header value is counted under a short key', async (t) => {
  const { get, redis } = await redisGateway(t, { keyed: { limit: 1, window: '1m', key: 'header:x-api-key' } })
  const huge = 'k'.repeat(8 * 1024)
  assert.equal((await get('/keyed/x', { 'x-api-key': huge })).status, 200)
  assert.equal((await get('/keyed/x', { 'x-api-key': huge })).status, 429, 'the same value shares its count')
  assert.equal((await get('/keyed/x', { 'x-api-key': huge.slice(1) + 'j' })).status, 200, 'another value of the same length has its own')
  const keys = await redis.client().keys('tollgate:rl:*')
  assert.equal(keys.length, 2)
  for (const key of keys) assert.ok(key.length < 128, `a key of ${key.length} characters: ${key.slice(0, 80)}…`)
})

test('store redis: a reload keeps the counts and the connection; closing the gateway closes the connection', async (t) => {
  const { gw, get, redis } = await redisGateway(t, { kept: { limit: 2, window: '1m' } })
  const connections = async (): Promise<number> => {
    const list = await redis.client().client('LIST') as string
    return list.split('\n').filter(line => line.includes('name=tollgate ')).length
  }
  assert.equal((await get('/kept/x')).status, 200)
  assert.equal((await get('/kept/x')).status, 200)
  const config = gw.gateway.config
  assert.ok(config !== null)
  await gw.gateway.apply(config)
  assert.equal((await get('/kept/x')).status, 429)
  assert.equal(await connections(), 1)
  await gw.gateway.close(0)
  await pollUntil(async () => await connections() === 0, 25, 5000, 'the gateway left its Redis connection open')
})
