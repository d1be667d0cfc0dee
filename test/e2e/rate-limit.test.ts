/**
 * Rate limits through the whole gateway: the algorithms on both stores (memory, and a
 * real redis-server on a loopback port), the keys, and the headers every response of a
 * limited route carries.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client, type ErrorBody } from '../helpers/client.js'
import { clientFrom, overfullSpans, paced } from '../helpers/rate-limit.js'
import { startRedis } from '../helpers/redis.js'
import { refusedPort } from '../helpers/ports.js'
import { sign } from '../helpers/jwt.js'
import type { GatewayConfig } from '../../src/index.js'

type RateLimit = NonNullable<NonNullable<GatewayConfig['routes']>[number]['rateLimit']>
type Store = NonNullable<RateLimit['store']>

const STORES: readonly Store[] = ['memory', 'redis']

/** `/limited/*` limited as given (on `rateLimit.store`, a test Redis for redis), anything else open. */
async function limitedGateway (t: TestContext, rateLimit: RateLimit, extra: Partial<GatewayConfig> = {}) {
  const origin = await startOrigin(t, 'blue')
  const redis = rateLimit.store === 'redis' ? { redis: { url: (await startRedis(t)).url } } : {}
  const gw = await startGateway(t, {
    ...extra,
    ...redis,
    upstreams: { blue: { targets: [origin.address] } },
    routes: [
      { name: 'limited', match: { path: '/limited/*' }, upstream: 'blue', rateLimit },
      { name: 'open', upstream: 'blue' }
    ]
  })
  return { origin, gw }
}

test('a route without rateLimit answers without ratelimit headers and is never refused', async (t) => {
  const { gw } = await limitedGateway(t, { limit: 1, window: '10s' })
  const get = client(t)
  for (let i = 0; i < 5; i++) {
    const res = await get(`${gw.url}/other`)
    assert.equal(res.status, 200)
    assert.equal(res.headers['ratelimit-limit'], undefined)
    assert.equal(res.headers['ratelimit-remaining'], undefined)
  }
})

test('gateway errors on a limited route carry the ratelimit headers too: a 502 from a refused upstream', async (t) => {
  const port = await refusedPort(t)
  const gw = await startGateway(t, {
    upstreams: { down: { targets: [`127.0.0.1:${port}`] } },
    routes: [{ name: 'limited', upstream: 'down', rateLimit: { limit: 2, window: '10s' } }]
  })
  const get = client(t)
  const replies = [await get(`${gw.url}/x`), await get(`${gw.url}/x`), await get(`${gw.url}/x`)]
  assert.deepEqual(replies.map(r => r.status), [502, 502, 429])
  assert.equal(replies[0]?.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
  assert.deepEqual(replies.map(r => r.headers['ratelimit-limit']), ['2', '2', '2'])
  assert.deepEqual(replies.map(r => r.headers['ratelimit-remaining']), ['1', '0', '0'])
  for (const reply of replies) assert.match(String(reply.headers['ratelimit-reset']), /^(10|[1-9])$/)
})

test('key ip: clients at 127.0.0.2 and 127.0.0.3 each have their own limit', async (t) => {
  const { gw } = await limitedGateway(t, { limit: 2, window: '10s', key: 'ip' })
  const two = clientFrom(t, '127.0.0.2')
  const three = clientFrom(t, '127.0.0.3')
  const statuses = async (get: typeof two): Promise<number[]> => {
    const out = []
    for (let i = 0; i < 3; i++) out.push((await get(`${gw.url}/limited/x`)).status)
    return out
  }
  assert.deepEqual(await statuses(two), [200, 200, 429])
  assert.deepEqual(await statuses(three), [200, 200, 429])
})

test('key ip behind a trusted proxy: each X-Forwarded-For client has its own limit', async (t) => {
  const { gw } = await limitedGateway(t, { limit: 1, window: '10s', key: 'ip' }, { server: { trustProxy: ['127.0.0.1/32'] } })
  const get = client(t)
  const from = async (address: string): Promise<number> => (await get(`${gw.url}/limited/x`, { headers: { 'x-forwarded-for': address } })).status
  assert.equal(await from('198.51.100.1'), 200)
  assert.equal(await from('198.51.100.2'), 200)
  assert.equal(await from('198.51.100.1'), 429)
})

test('key route: clients at different addresses share one limit', async (t) => {
  const { gw } = await limitedGateway(t, { limit: 2, window: '10s', key: 'route' })
  const two = clientFrom(t, '127.0.0.2')
  const three = clientFrom(t, '127.0.0.3')
  assert.equal((await two(`${gw.url}/limited/x`)).status, 200)
  assert.equal((await three(`${gw.url}/limited/x`)).status, 200)
  assert.equal((await two(`${gw.url}/limited/x`)).status, 429)
  assert.equal((await three(`${gw.url}/limited/x`)).status, 429)
})

test('key header: each value has its own limit, whatever the address', async (t) => {
  const { gw } = await limitedGateway(t, { limit: 1, window: '10s', key: 'header:X-Api-Key' })
  const two = clientFrom(t, '127.0.0.2')
  const three = clientFrom(t, '127.0.0.3')
  const withKey = (key: string) => ({ headers: { 'x-api-key': key } })
  assert.equal((await two(`${gw.url}/limited/x`, withKey('alpha'))).status, 200)
  assert.equal((await two(`${gw.url}/limited/x`, withKey('beta'))).status, 200)
  assert.equal((await three(`${gw.url}/limited/x`, withKey('alpha'))).status, 429)
})

test('key header: a request without the header is counted by its client address', async (t) => {
  const { gw } = await limitedGateway(t, { limit: 1, window: '10s', key: 'header:x-api-key' })
  const two = clientFrom(t, '127.0.0.2')
  const three = clientFrom(t, '127.0.0.3')
  assert.equal((await two(`${gw.url}/limited/x`)).status, 200)
  assert.equal((await three(`${gw.url}/limited/x`)).status, 200, 'clients without the header do not share one count')
  assert.equal((await two(`${gw.url}/limited/x`)).status, 429, 'leaving the header out is no way around the limit')
  assert.equal((await two(`${gw.url}/limited/x`, { headers: { 'x-api-key': '127.0.0.2' } })).status, 200, 'a header value is never an address count')
})

test('key principal behind bearer auth: each token has its own limit; a request auth refuses is not counted', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', auth: { type: 'bearer', tokens: ['token-one', 'token-two'] }, rateLimit: { limit: 1, window: '1m', key: 'principal' } }]
  })
  const get = client(t)
  const as = async (token: string | null) => await get(`${gw.url}/`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } })
  const refused = await as(null)
  assert.equal(refused.status, 401)
  assert.equal(refused.headers['ratelimit-limit'], undefined, 'auth refused it before the limit was checked')
  assert.deepEqual([(await as('token-one')).status, (await as('token-two')).status, (await as('token-one')).status], [200, 200, 429])
})

test('keys claim and principal behind jwt auth: a claim shared by two subjects is one count; principal counts each subject', async (t) => {
  const up = await startOrigin(t, 'up')
  const secret = 'a-rate-limit-secret-0123456789'
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [
      { name: 'tenant', match: { path: '/tenant' }, upstream: 'up', auth: { type: 'jwt', secret }, rateLimit: { limit: 2, window: '1m', key: 'claim:tenant' } },
      { name: 'subject', match: { path: '/subject' }, upstream: 'up', auth: { type: 'jwt', secret }, rateLimit: { limit: 1, window: '1m', key: 'principal' } }
    ]
  })
  const get = client(t)
  const token = (sub: string, tenant: string): string => sign({ sub, tenant }, secret, 'HS256')
  const [u1, u2, u3] = [token('u1', 'acme'), token('u2', 'acme'), token('u3', 'globex')]
  const send = async (path: string, jwt: string): Promise<number> => (await get(`${gw.url}${path}`, { headers: { authorization: `Bearer ${jwt}` } })).status
  assert.deepEqual([await send('/tenant', u1), await send('/tenant', u2), await send('/tenant', u1), await send('/tenant', u3)], [200, 200, 429, 200])
  assert.deepEqual([await send('/subject', u1), await send('/subject', u2), await send('/subject', u1)], [200, 200, 429])
})

test('a reload keeps the counts of the memory store', async (t) => {
  const { gw } = await limitedGateway(t, { limit: 2, window: '1m' })
  const get = client(t)
  assert.equal((await get(`${gw.url}/limited/x`)).status, 200)
  assert.equal((await get(`${gw.url}/limited/x`)).status, 200)
  const config = gw.gateway.config
  assert.ok(config !== null)
  await gw.gateway.apply(config)
  assert.equal((await get(`${gw.url}/limited/x`)).status, 429)
})

for (const store of STORES) {
  test(`store ${store}: fixed window: of 10 quick requests at 5 per second, the first 5 pass and the other 5 get 429 RATE_LIMITED`, async (t) => {
    const { origin, gw } = await limitedGateway(t, { limit: 5, window: '1s', algorithm: 'fixed-window', store })
    const get = client(t)
    const started = performance.now()
    const replies = []
    for (let i = 0; i < 10; i++) replies.push(await get(`${gw.url}/limited/x`))
    const elapsed = performance.now() - started
    assert.ok(elapsed < 1000, `the 10 requests took ${elapsed.toFixed(0)} ms, more than the window`)
    assert.deepEqual(replies.map(r => r.status), [200, 200, 200, 200, 200, 429, 429, 429, 429, 429])
    const refused = replies[5]?.json<ErrorBody>()
    assert.equal(refused?.error.code, 'RATE_LIMITED')
    assert.equal(refused?.error.status, 429)
    assert.equal(refused?.error.requestId, replies[5]?.headers['x-request-id'])
    assert.equal(origin.received.length, 5, 'refused requests never reach the upstream')
  })

  test(`store ${store}: fixed window: a refused client is served again once Retry-After has passed`, async (t) => {
    const { gw } = await limitedGateway(t, { limit: 2, window: '1s', store })
    const get = client(t)
    await get(`${gw.url}/limited/x`)
    await get(`${gw.url}/limited/x`)
    const refused = await get(`${gw.url}/limited/x`)
    assert.equal(refused.status, 429)
    assert.equal(refused.headers['retry-after'], '1')
    // What Retry-After says is all a client has to go by: no event to wait for.
    await new Promise(resolve => setTimeout(resolve, 1000))
    assert.equal((await get(`${gw.url}/limited/x`)).status, 200)
  })

  test(`store ${store}: every response of a limited route carries ratelimit-limit, -remaining and -reset; a 429 adds Retry-After`, async (t) => {
    const { gw } = await limitedGateway(t, { limit: 3, window: '10s', store })
    const get = client(t)
    const replies = []
    for (let i = 0; i < 4; i++) replies.push(await get(`${gw.url}/limited/x`))
    assert.deepEqual(replies.map(r => r.headers['ratelimit-limit']), ['3', '3', '3', '3'])
    assert.deepEqual(replies.map(r => r.headers['ratelimit-remaining']), ['2', '1', '0', '0'])
    for (const reply of replies) {
      const reset = Number(reply.headers['ratelimit-reset'])
      assert.ok(reset >= 1 && reset <= 10, `ratelimit-reset: ${String(reply.headers['ratelimit-reset'])}`)
    }
    assert.equal(replies[0]?.text, 'Response from BLUE', 'the proxied answer carries them')
    assert.equal(replies[2]?.headers['retry-after'], undefined)
    assert.equal(replies[3]?.status, 429)
    assert.equal(replies[3]?.headers['retry-after'], replies[3]?.headers['ratelimit-reset'])
  })

  test(`store ${store}: sliding window: 5 per second, sustained at 4 per second, lets every request through`, async (t) => {
    const { gw } = await limitedGateway(t, { limit: 5, window: '1s', algorithm: 'sliding-window', store })
    const get = client(t)
    const results = await paced(13, 250, async () => await get(`${gw.url}/limited/x`))
    assert.deepEqual(results.map(r => r.status), results.map(() => 200))
  })

  test(`store ${store}: sliding window: at 6.6 requests per second some get 429, and no second lets more than 5 through`, async (t) => {
    const { gw } = await limitedGateway(t, { limit: 5, window: '1s', algorithm: 'sliding-window', store })
    const get = client(t)
    const results = await paced(20, 1000 / 6.6, async () => await get(`${gw.url}/limited/x`))
    const refused = results.filter(r => r.status === 429).length
    assert.ok(refused > 0, 'no request was refused')
    assert.ok(results.every(r => r.status === 200 || r.status === 429), results.map(r => r.status).join(' '))
    assert.deepEqual(overfullSpans(results, 5, 1000), [])
  })

  test(`store ${store}: sliding window: a burst across a window boundary passes no more than 5 in any second`, async (t) => {
    // One request, then a stream from 0.9 s to 1.4 s: a fixed window restarting at 1 s would
    // pass 4 before the boundary and 5 after it, 9 within half a second.
    const { gw } = await limitedGateway(t, { limit: 5, window: '1s', algorithm: 'sliding-window', store })
    const get = client(t)
    const first = await paced(1, 0, async () => await get(`${gw.url}/limited/x`))
    const firstSent = (first[0] as { sent: number }).sent
    await new Promise(resolve => setTimeout(resolve, Math.max(0, firstSent + 900 - performance.now())))
    const stream = await paced(25, 20, async () => await get(`${gw.url}/limited/x`))
    const results = [...first, ...stream]
    assert.equal(first[0]?.status, 200)
    assert.ok(stream.some(r => r.status === 429), 'the stream was never refused')
    assert.deepEqual(overfullSpans(results, 5, 1000), [])
  })
}
