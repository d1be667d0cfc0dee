import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http'
import { once } from 'node:events'
import { startOrigin } from '../helpers/origin.js'
import { refusedPort } from '../helpers/ports.js'
import { startGateway } from '../helpers/gateway.js'
import { client } from '../helpers/client.js'
import { eventually } from '../helpers/deadline.js'
import type { GatewayConfig } from '../../src/index.js'

type Line = Record<string, unknown>

async function loggedGateway (t: TestContext, config: GatewayConfig): Promise<{ url: string, requests: () => Line[] }> {
  const lines: Line[] = []
  const gw = await startGateway(t, { ...config, server: { accessLog: true, ...config.server } }, { logLevel: 'info', logTo: (text) => { lines.push(JSON.parse(text) as Line) } })
  return { url: gw.url, requests: () => lines.filter(line => line.msg === 'request') }
}

test('the access log has one JSON line per request with id, client, route, target, status, bytes, times and retries', async (t) => {
  const origin = await startOrigin(t, 'blue', { handler: (_req, res) => { res.end('0123456789') } })
  const refused = await refusedPort(t)
  const { url, requests } = await loggedGateway(t, {
    upstreams: { app: { targets: [`127.0.0.1:${refused}`, origin.address], retries: { attempts: 1 } } },
    routes: [{ name: 'api', match: { path: '/api/*' }, upstream: 'app' }]
  })
  const reply = await client(t)(`${url}/api/orders?page=2`, { method: 'PUT', body: 'x'.repeat(300), headers: { 'x-request-id': 'req-42' } })
  assert.equal(reply.status, 200)
  await eventually(() => requests().length === 1, 5000, 'no access-log line')
  const line = requests()[0] as Line
  assert.equal(line.requestId, 'req-42')
  assert.equal(line.ip, '127.0.0.1')
  assert.equal(line.method, 'PUT')
  assert.equal(line.url, '/api/orders?page=2')
  assert.equal(line.route, 'api')
  assert.equal(line.upstream, 'app')
  assert.equal(line.target, origin.address, 'the target that answered, not the one refused first')
  assert.equal(line.status, 200)
  assert.equal(line.retries, 1)
  // Head and body both ways: more than the bodies, less than a few kB of headers.
  assert.ok(typeof line.bytesIn === 'number' && line.bytesIn > 300 && line.bytesIn < 1000, `bytesIn ${String(line.bytesIn)}`)
  assert.ok(typeof line.bytesOut === 'number' && line.bytesOut > 10 && line.bytesOut < 1000, `bytesOut ${String(line.bytesOut)}`)
  assert.ok(typeof line.ms === 'number' && typeof line.upstreamMs === 'number')
  assert.ok(line.upstreamMs <= line.ms, 'the upstream time is part of the total')
  assert.equal(line.level, 30)
})

test('bytes are counted per request on a kept-alive connection', async (t) => {
  const origin = await startOrigin(t, 'blue', { handler: (req, res) => { res.end(req.url === '/big' ? 'y'.repeat(5000) : 'ok') } })
  const { url, requests } = await loggedGateway(t, { upstreams: { app: { targets: [origin.address] } }, routes: [{ name: 'r', upstream: 'app' }] })
  // One socket for all three, so that each line must count its own share of it.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.after(() => agent.destroy())
  const ports = new Set<number>()
  const send = async (path: string, body = ''): Promise<void> => {
    const req = httpRequest(`${url}${path}`, { agent, method: body === '' ? 'GET' : 'PUT' })
    req.end(body)
    const [res] = await once(req, 'response') as [IncomingMessage]
    ports.add(res.socket.localPort ?? 0)
    for await (const _chunk of res) { /* read to the end */ }
  }
  await send('/big', 'z'.repeat(3000))
  await send('/small', 'z'.repeat(3000))
  await send('/small')
  assert.equal(ports.size, 1, 'one connection')
  await eventually(() => requests().length === 3, 5000, 'expected three access-log lines')
  const [big, , small] = requests() as [Line, Line, Line]
  assert.ok((big.bytesOut as number) > 5000 && (big.bytesIn as number) > 3000)
  assert.ok((small.bytesIn as number) < 1000, `the second request on the connection counts only its own bytes in (${String(small.bytesIn)})`)
  assert.ok((small.bytesOut as number) < 1000, `the second request on the connection counts only its own bytes out (${String(small.bytesOut)})`)
  assert.equal(big.retries, 0)
})

test('requests no route serves and requests the gateway refuses are logged too, without upstream time', async (t) => {
  const refused = await refusedPort(t)
  const { url, requests } = await loggedGateway(t, {
    upstreams: { down: { targets: [`127.0.0.1:${refused}`], retries: { attempts: 0 } } },
    routes: [
      { name: 'down', match: { path: '/down' }, upstream: 'down' },
      { name: 'locked', match: { path: '/locked' }, upstream: 'down', auth: { type: 'bearer', tokens: ['a-token-of-enough-length'] } }
    ]
  })
  const get = client(t)
  assert.equal((await get(`${url}/nowhere`)).status, 404)
  assert.equal((await get(`${url}/down`)).status, 502)
  assert.equal((await get(`${url}/locked`)).status, 401)
  await eventually(() => requests().length === 3, 5000, 'expected three access-log lines')
  const [missing, failed, refusedLine] = requests() as [Line, Line, Line]
  assert.equal(missing.status, 404)
  assert.equal(missing.error, 'ROUTE_NOT_FOUND')
  assert.equal(refusedLine.error, 'UNAUTHORIZED')
  assert.equal(missing.route, undefined)
  assert.equal(missing.upstreamMs, undefined)
  assert.equal(failed.status, 502)
  assert.equal(failed.route, 'down')
  assert.equal(failed.error, 'UPSTREAM_UNAVAILABLE')
  assert.equal(typeof failed.upstreamMs, 'number')
})

test('server.accessLog: false writes no line per request', async (t) => {
  const origin = await startOrigin(t, 'blue')
  const lines: Line[] = []
  const gw = await startGateway(t, {
    server: { accessLog: false },
    upstreams: { app: { targets: [origin.address] } },
    routes: [{ name: 'r', upstream: 'app' }]
  }, { logLevel: 'trace', logTo: (text) => { lines.push(JSON.parse(text) as Line) } })
  const get = client(t)
  for (let i = 0; i < 3; i++) assert.equal((await get(`${gw.url}/x`)).status, 200)
  assert.equal(origin.received.length, 3)
  // The response is complete before the client sees it end; a line would be written by now.
  assert.deepEqual(lines.filter(line => line.msg === 'request'), [])
})

test('a client that leaves before its response is logged once, as 499, with the upstream time until it left', async (t) => {
  let arrived!: () => void
  const reached = new Promise<void>(resolve => { arrived = resolve })
  const origin = await startOrigin(t, 'slow', { handler: (_req, res) => { arrived(); t.after(() => res.end()) } })
  const { url, requests } = await loggedGateway(t, { upstreams: { app: { targets: [origin.address] } }, routes: [{ name: 'slow', upstream: 'app' }] })
  const req = httpRequest(`${url}/slow?token=abc`)
  req.on('error', () => {})
  req.end()
  await reached
  req.destroy()
  await eventually(() => requests().length === 1, 5000, 'no access-log line for the request the client left')
  const line = requests()[0] as Line
  assert.equal(line.status, 499)
  assert.equal(line.url, '/slow?token=***')
  assert.equal(line.route, 'slow')
  assert.equal(line.bytesOut, 0)
  assert.equal(typeof line.upstreamMs, 'number')
})
