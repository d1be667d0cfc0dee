import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, request } from 'undici'
import { startOrigin, answerWithName } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client } from '../helpers/client.js'
import { refusedPort } from '../helpers/ports.js'
import { pollUntil, within } from '../helpers/deadline.js'
import { metricsText, promtoolCheck, sample, samples, scrape, typeOf } from '../helpers/metrics.js'
import type { GatewayConfig } from '../../src/index.js'
import type { Gateway } from '../../src/gateway.js'

const METRICS = { listen: { host: '127.0.0.1', port: 0 } }

/** An origin whose /slow answers after `slowMs`, and whose /held waits for `release()`. */
async function pacedOrigin (t: TestContext, slowMs: number): Promise<{ address: string, release: () => void, held: Promise<void> }> {
  let release: () => void = () => undefined
  let markHeld: () => void = () => undefined
  const held = new Promise<void>(resolve => { markHeld = resolve })
  const released = new Promise<void>(resolve => { release = resolve })
  const origin = await startOrigin(t, 'paced', {
    handler: (req, res) => {
      if (req.url === '/slow') {
        setTimeout(() => res.end('slow'), slowMs)
      } else if (req.url === '/held') {
        markHeld()
        released.then(() => res.end('held'), () => undefined)
      } else {
        res.end('fast')
      }
    }
  })
  return { address: origin.address, release, held }
}

/** A gateway with metrics whose one route `r` goes to a paced origin (upstream `app`). */
async function pacedGateway (t: TestContext, slowMs: number): Promise<{ paced: Awaited<ReturnType<typeof pacedOrigin>>, gateway: Gateway, url: string }> {
  const paced = await pacedOrigin(t, slowMs)
  const { gateway, url } = await startGateway(t, {
    metrics: METRICS,
    upstreams: { app: { targets: [paced.address] } },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  return { paced, gateway, url }
}

test('the metrics listener serves every contract family with its type, in text promtool accepts', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const { gateway, url } = await startGateway(t, {
    metrics: METRICS,
    upstreams: { blue: { targets: [blue.address] } },
    routes: [{ name: 'api', upstream: 'blue', rateLimit: { limit: 100, window: '1m' }, concurrency: { limit: 10 } }]
  })
  const get = client(t)
  assert.equal((await get(`${url}/x`)).status, 200)
  const res = await scrape(gateway)
  assert.equal(res.status, 200)
  assert.match(res.contentType, /^text\/plain; version=0\.0\.4/)
  const text = res.text
  const families: Record<string, string> = {
    tollgate_requests_total: 'counter',
    tollgate_request_duration_seconds: 'histogram',
    tollgate_upstream_requests_total: 'counter',
    tollgate_upstream_duration_seconds: 'histogram',
    tollgate_upstream_target_healthy: 'gauge',
    tollgate_upstream_connections_total: 'counter',
    tollgate_cache_requests_total: 'counter',
    tollgate_rate_limited_total: 'counter',
    tollgate_inflight_requests: 'gauge'
  }
  for (const [name, type] of Object.entries(families)) assert.equal(typeOf(text, name), type, name)
  assert.equal(sample(text, 'tollgate_requests_total', { route: 'api', method: 'GET', status: '200' }), 1)
  assert.equal(sample(text, 'tollgate_request_duration_seconds_count', { route: 'api' }), 1)
  assert.equal(sample(text, 'tollgate_upstream_requests_total', { upstream: 'blue', target: blue.address, status: '200' }), 1)
  assert.equal(sample(text, 'tollgate_upstream_duration_seconds_count', { upstream: 'blue' }), 1)
  assert.equal(sample(text, 'tollgate_upstream_target_healthy', { upstream: 'blue', target: blue.address }), 1)
  assert.equal(sample(text, 'tollgate_rate_limited_total', { route: 'api', reason: 'rate' }), 0)
  assert.equal(sample(text, 'tollgate_rate_limited_total', { route: 'api', reason: 'concurrency' }), 0)
  // The scrape ran after the request closed: nothing is in flight.
  assert.equal(sample(text, 'tollgate_inflight_requests', { route: 'api' }), 0)
  // prom-client's process and Node.js defaults.
  assert.equal(typeOf(text, 'process_cpu_user_seconds_total'), 'counter')
  assert.equal(typeOf(text, 'nodejs_eventloop_lag_seconds'), 'gauge')
  // The whole text parses; the only lint findings are about names prom-client gives three
  // of its Node.js gauges (nodejs_active_*_total), which are not ours to change.
  const whole = await promtoolCheck(text)
  assert.doesNotMatch(whole.output, /error while linting/, whole.output)
  for (const line of whole.output.split('\n').filter(l => l.trim() !== '')) assert.match(line, /^nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/, line)
  // The gateway's own families pass promtool without a finding.
  const own = text.split('\n\n').filter(family => family.includes('# TYPE tollgate_')).join('\n\n') + '\n'
  assert.equal(own.split('# TYPE ').length - 1, Object.keys(families).length)
  const checked = await promtoolCheck(own)
  assert.equal(checked.code, 0, checked.output)
  assert.equal(checked.output.trim(), '', checked.output)
})

test('durations land in their buckets: two fast requests and one slow one', async (t) => {
  const { paced, gateway, url } = await pacedGateway(t, 600)
  const get = client(t)
  assert.equal((await get(`${url}/fast`)).text, 'fast')
  assert.equal((await get(`${url}/fast`)).text, 'fast')
  assert.equal((await get(`${url}/slow`)).text, 'slow')
  const text = await metricsText(gateway)
  for (const [family, labels] of [['tollgate_request_duration_seconds', { route: 'r' }], ['tollgate_upstream_duration_seconds', { upstream: 'app' }]] as const) {
    assert.equal(sample(text, `${family}_bucket`, { ...labels, le: '0.5' }), 2, family)
    assert.equal(sample(text, `${family}_bucket`, { ...labels, le: '1' }), 3, family)
    assert.equal(sample(text, `${family}_bucket`, { ...labels, le: '+Inf' }), 3, family)
    assert.equal(sample(text, `${family}_count`, labels), 3, family)
    const sum = sample(text, `${family}_sum`, labels) ?? 0
    assert.ok(sum >= 0.6 && sum < 1.5, `${family}_sum ${sum}`)
  }
  assert.equal(sample(text, 'tollgate_requests_total', { route: 'r', method: 'GET', status: '200' }), 3)
  assert.equal(sample(text, 'tollgate_upstream_requests_total', { upstream: 'app', target: paced.address, status: '200' }), 3)
})

test('two sequential requests to one target: the first opens a connection, the second reuses it', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const { gateway, url } = await startGateway(t, {
    metrics: METRICS,
    upstreams: { blue: { targets: [blue.address] } },
    routes: [{ name: 'r', upstream: 'blue' }]
  })
  const get = client(t)
  let text = await metricsText(gateway)
  assert.equal(sample(text, 'tollgate_upstream_connections_total', { upstream: 'blue', reused: 'false' }), 0)
  assert.equal(sample(text, 'tollgate_upstream_connections_total', { upstream: 'blue', reused: 'true' }), 0)
  await get(`${url}/one`)
  await get(`${url}/two`)
  text = await metricsText(gateway)
  assert.equal(sample(text, 'tollgate_upstream_connections_total', { upstream: 'blue', reused: 'false' }), 1)
  assert.equal(sample(text, 'tollgate_upstream_connections_total', { upstream: 'blue', reused: 'true' }), 1)
  // The origin saw both on one connection.
  assert.equal(blue.received[0]?.remotePort, blue.received[1]?.remotePort)
})

test('tollgate_inflight_requests rises while a slow request is in flight and falls once it is done', async (t) => {
  const { paced, gateway, url } = await pacedGateway(t, 0)
  const get = client(t)
  assert.equal(sample(await metricsText(gateway), 'tollgate_inflight_requests', { route: 'r' }), 0)
  const pending = get(`${url}/held`)
  await within(paced.held, 5000, 'the request did not reach the origin')
  assert.equal(sample(await metricsText(gateway), 'tollgate_inflight_requests', { route: 'r' }), 1)
  paced.release()
  assert.equal((await pending).text, 'held')
  // The client has the whole response; the gateway's side closes right after.
  await pollUntil(async () => sample(await metricsText(gateway), 'tollgate_inflight_requests', { route: 'r' }) === 0, 20, 5000, 'in-flight count did not fall back to 0')
})

test('a request whose client leaves before any response counts with status 499 and leaves the in-flight count', async (t) => {
  const { paced, gateway, url } = await pacedGateway(t, 0)
  t.after(() => paced.release())
  const abort = new AbortController()
  const agent = new Agent()
  t.after(() => agent.close())
  const pending = request(`${url}/held`, { dispatcher: agent, signal: abort.signal })
  await within(paced.held, 5000, 'the request did not reach the origin')
  abort.abort()
  await assert.rejects(pending)
  await pollUntil(async () => sample(await metricsText(gateway), 'tollgate_inflight_requests', { route: 'r' }) === 0, 20, 5000, 'in-flight count did not fall back to 0')
  assert.equal(sample(await metricsText(gateway), 'tollgate_requests_total', { route: 'r', method: 'GET', status: '499' }), 1)
})

test('requests no route matched count under route="", methods outside the standard set as "other"', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const { gateway, url } = await startGateway(t, {
    metrics: METRICS,
    upstreams: { blue: { targets: [blue.address] } },
    routes: [{ name: 'only', upstream: 'blue', match: { path: '/only/*' } }]
  })
  const get = client(t)
  assert.equal((await get(`${url}/elsewhere/${'x'.repeat(20)}`)).status, 404)
  assert.equal((await get(`${url}/only/a`, { method: 'PROPFIND' as 'GET' })).status, 200)
  const text = await metricsText(gateway)
  assert.equal(sample(text, 'tollgate_requests_total', { route: '', method: 'GET', status: '404' }), 1)
  assert.equal(sample(text, 'tollgate_requests_total', { route: 'only', method: 'other', status: '200' }), 1)
  // No series carries the client's path.
  assert.equal(text.includes('xxxxxxxxxx'), false)
})

test('refusals by a rate limit and by a concurrency limit are counted by reason', async (t) => {
  const paced = await pacedOrigin(t, 0)
  const { gateway, url } = await startGateway(t, {
    metrics: METRICS,
    upstreams: { app: { targets: [paced.address] } },
    routes: [
      { name: 'limited', upstream: 'app', match: { path: '/fast' }, rateLimit: { limit: 1, window: '1m' } },
      { name: 'narrow', upstream: 'app', match: { path: '/held' }, concurrency: { limit: 1 } }
    ]
  })
  const get = client(t)
  assert.equal((await get(`${url}/fast`)).status, 200)
  assert.equal((await get(`${url}/fast`)).status, 429)
  const pending = get(`${url}/held`)
  await within(paced.held, 5000, 'the request did not reach the origin')
  assert.equal((await get(`${url}/held`)).status, 429)
  paced.release()
  assert.equal((await pending).status, 200)
  const text = await metricsText(gateway)
  assert.equal(sample(text, 'tollgate_rate_limited_total', { route: 'limited', reason: 'rate' }), 1)
  assert.equal(sample(text, 'tollgate_rate_limited_total', { route: 'narrow', reason: 'concurrency' }), 1)
  assert.equal(sample(text, 'tollgate_rate_limited_total', { route: 'limited', reason: 'concurrency' }), undefined)
  assert.equal(sample(text, 'tollgate_requests_total', { route: 'limited', method: 'GET', status: '429' }), 1)
})

test('tollgate_upstream_target_healthy is 1 for a healthy target and 0 for one its checks found down', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const down = `127.0.0.1:${await refusedPort(t)}`
  const { gateway } = await startGateway(t, {
    metrics: METRICS,
    upstreams: { app: { targets: [blue.address, down], healthCheck: { type: 'tcp', interval: '200ms', timeout: '200ms' } } },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  const text = await metricsText(gateway)
  assert.equal(sample(text, 'tollgate_upstream_target_healthy', { upstream: 'app', target: blue.address }), 1)
  assert.equal(sample(text, 'tollgate_upstream_target_healthy', { upstream: 'app', target: down }), 0)
})

test('a failed upstream attempt counts with status "error"', async (t) => {
  const down = `127.0.0.1:${await refusedPort(t)}`
  const { gateway, url } = await startGateway(t, {
    metrics: METRICS,
    upstreams: { app: { targets: [down] } },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  const get = client(t)
  assert.equal((await get(`${url}/`)).status, 502)
  const text = await metricsText(gateway)
  assert.equal(sample(text, 'tollgate_upstream_requests_total', { upstream: 'app', target: down, status: 'error' }), 1)
  assert.equal(sample(text, 'tollgate_requests_total', { route: 'r', method: 'GET', status: '502' }), 1)
})

test('a reload keeps the counts of routes and upstreams that stay and drops the series of removed ones', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const config = (routes: GatewayConfig['routes'], upstreams: GatewayConfig['upstreams']): GatewayConfig => ({
    metrics: METRICS, server: { listen: [{ host: '127.0.0.1', port: 0 }], accessLog: false, logLevel: 'silent' }, upstreams, routes
  })
  const { gateway, url } = await startGateway(t, config(
    [{ name: 'stays', upstream: 'blue', match: { path: '/s' } }, { name: 'goes', upstream: 'green', match: { path: '/g' } }],
    { blue: { targets: [blue.address, green.address] }, green: { targets: [green.address] } }))
  const metricsPort = gateway.metricsAddress()?.port
  const get = client(t)
  await get(`${url}/s`)
  await get(`${url}/s`)
  await get(`${url}/g`)
  let text = await metricsText(gateway)
  assert.equal(sample(text, 'tollgate_requests_total', { route: 'goes', method: 'GET', status: '200' }), 1)
  await gateway.apply({
    ...config([{ name: 'stays', upstream: 'blue', match: { path: '/s' } }], { blue: { targets: [blue.address] } }),
    server: { listen: [{ host: '127.0.0.1', port: gateway.addresses()[0]?.port ?? 0 }], accessLog: false, logLevel: 'silent' },
    metrics: { listen: { host: '127.0.0.1', port: metricsPort ?? 0 } }
  })
  assert.equal(gateway.metricsAddress()?.port, metricsPort, 'the metrics listener stayed where it was')
  await get(`${url}/s`)
  text = await metricsText(gateway)
  assert.equal(sample(text, 'tollgate_requests_total', { route: 'stays', method: 'GET', status: '200' }), 3)
  assert.equal(sample(text, 'tollgate_request_duration_seconds_count', { route: 'stays' }), 3)
  assert.equal(sample(text, 'tollgate_upstream_duration_seconds_count', { upstream: 'blue' }), 3)
  assert.equal(samples(text, 'tollgate_requests_total').some(s => s.labels.route === 'goes'), false)
  assert.equal(samples(text, 'tollgate_inflight_requests').some(s => s.labels.route === 'goes'), false)
  for (const name of ['tollgate_upstream_duration_seconds_count', 'tollgate_upstream_connections_total', 'tollgate_upstream_requests_total', 'tollgate_upstream_target_healthy']) {
    assert.equal(samples(text, name).some(s => s.labels.upstream === 'green'), false, name)
  }
  // blue's second target was removed: its series went, the one that stays kept counting.
  assert.equal(samples(text, 'tollgate_upstream_target_healthy').some(s => s.labels.upstream === 'blue' && s.labels.target === green.address), false)
  assert.equal(samples(text, 'tollgate_upstream_requests_total').some(s => s.labels.upstream === 'blue' && s.labels.target === green.address), false)
  assert.equal(sample(text, 'tollgate_upstream_target_healthy', { upstream: 'blue', target: blue.address }), 1)
})

test('the metrics path is configurable: other paths answer 404, and a reload moves the path on the same listener', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const base: GatewayConfig = {
    server: { listen: [{ host: '127.0.0.1', port: 0 }], accessLog: false, logLevel: 'silent' },
    upstreams: { blue: { targets: [blue.address] } },
    routes: [{ name: 'r', upstream: 'blue' }]
  }
  const { gateway } = await startGateway(t, { ...base, metrics: { ...METRICS, path: '/prom' } })
  assert.equal((await scrape(gateway, '/prom')).status, 200)
  const elsewhere = await scrape(gateway, '/metrics')
  assert.equal(elsewhere.status, 404)
  const refused = (JSON.parse(elsewhere.text) as { error: { status: number, code: string, requestId: string } }).error
  assert.deepEqual([refused.status, refused.code, typeof refused.requestId], [404, 'ROUTE_NOT_FOUND', 'string'], 'the gateway\'s error shape')
  const port = gateway.metricsAddress()?.port ?? 0
  const posted = await request(`http://127.0.0.1:${port}/prom`, { method: 'POST', body: 'x' })
  assert.equal(posted.statusCode, 404)
  assert.equal((await posted.body.json() as { error: { code: string } }).error.code, 'ROUTE_NOT_FOUND')
  await gateway.apply({ ...base, server: { ...base.server, listen: [{ host: '127.0.0.1', port: gateway.addresses()[0]?.port ?? 0 }] }, metrics: { listen: { host: '127.0.0.1', port }, path: '/stats' } } as unknown as Record<string, unknown>)
  assert.equal(gateway.metricsAddress()?.port, port)
  assert.equal((await scrape(gateway, '/stats')).status, 200)
  assert.equal((await scrape(gateway, '/prom')).status, 404)
  // Without `metrics`, the listener closes.
  await gateway.apply({ ...base, server: { ...base.server, listen: [{ host: '127.0.0.1', port: gateway.addresses()[0]?.port ?? 0 }] } } as unknown as Record<string, unknown>)
  assert.equal(gateway.metricsAddress(), null)
  const agent = new Agent()
  t.after(() => agent.close())
  await assert.rejects(request(`http://127.0.0.1:${port}/stats`, { dispatcher: agent }), { code: 'ECONNREFUSED' })
})

test('a config without metrics opens no metrics listener and counts nothing', async (t) => {
  const blue = await startOrigin(t, 'blue', { handler: answerWithName('blue') })
  const { gateway, url } = await startGateway(t, {
    upstreams: { blue: { targets: [blue.address] } },
    routes: [{ name: 'r', upstream: 'blue' }]
  })
  await client(t)(`${url}/`)
  assert.equal(gateway.metricsAddress(), null)
  const text = await gateway.metrics.scrape()
  assert.equal(samples(text, 'tollgate_requests_total').length, 0)
  assert.equal(samples(text, 'tollgate_upstream_requests_total').length, 0)
})
