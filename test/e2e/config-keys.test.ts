import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import type { IncomingMessage } from 'node:http'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { within } from '../helpers/deadline.js'
import { refusedPort } from '../helpers/ports.js'
import { makePki } from '../helpers/certs.js'
import { startGateway } from '../helpers/gateway.js'
import { client, type Reply, type ErrorBody } from '../helpers/client.js'

function signal<T> (): { promise: Promise<T>, resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>(r => { resolve = r })
  return { promise, resolve }
}

test('tls.verify: false accepts an upstream certificate from an unknown CA', async (t) => {
  const pki = makePki(t, ['localhost'])
  const secure = await startOrigin(t, 'secure', { tls: { key: pki.serverKey, cert: pki.serverCert } })
  const gw = await startGateway(t, { upstreams: { s: { targets: [secure.address], tls: { verify: false } } }, routes: [{ name: 'r', upstream: 's' }] })
  assert.equal((await client(t)(`${gw.url}/`)).text, 'Response from SECURE')
})

interface PoolRun {
  /** The gateway and its upstream, with /hold held at the upstream (it has arrived there). */
  readonly url: string
  readonly origin: Origin
  /** Paths in the order they reached the upstream. */
  readonly arrivals: string[]
  /** Connections the upstream accepted. */
  connections (): number
  /** Resolves when the request for `path` reaches the upstream. */
  arrived (path: string): Promise<void>
  /** Resolves when the gateway hands the request for `path` to the target's pool. */
  dispatched (path: string): Promise<void>
  release (): void
  readonly held: Promise<Reply>
  readonly get: (url: string) => Promise<Reply>
}

/**
 * An upstream that holds /hold until released, behind a gateway with `pool` on it; route
 * /impatient/* waits at most 300 ms for a connection. Returns once /hold is held upstream.
 */
async function holdOneRequest (t: TestContext, pool: { connections?: number }): Promise<PoolRun> {
  const release = signal<void>()
  const arrivals: string[] = []
  const arrivedAt = new Map<string, ReturnType<typeof signal<void>>>()
  const dispatchedAt = new Map<string, ReturnType<typeof signal<void>>>()
  const at = (map: Map<string, ReturnType<typeof signal<void>>>, path: string): ReturnType<typeof signal<void>> => {
    let s = map.get(path)
    if (s === undefined) { s = signal<void>(); map.set(path, s) }
    return s
  }
  const origin = await startOrigin(t, 'up', {
    handler: (req, res) => {
      if (req.url === '/hold') void release.promise.then(() => res.end('held'))
      else res.end(req.url)
    }
  })
  origin.server.on('request', (req: IncomingMessage) => {
    arrivals.push(req.url ?? '')
    at(arrivedAt, req.url ?? '').resolve()
  })
  let accepted = 0
  origin.server.on('connection', () => { accepted++ })
  const hooks = { upstreamRequest: (request: { url: string }) => { at(dispatchedAt, request.url).resolve() } }
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [origin.address], pool, retries: { attempts: 0 } } },
    routes: [
      { name: 'impatient', match: { path: '/impatient/*' }, upstream: 'up', timeouts: { connect: '300ms' }, hooks },
      { name: 'patient', upstream: 'up', hooks }
    ]
  })
  const get = client(t)
  const held = get(`${gw.url}/hold`)
  t.after(() => release.resolve())
  await within(at(arrivedAt, '/hold').promise, 5000, '/hold never reached the upstream')
  return {
    url: gw.url,
    origin,
    arrivals,
    connections: () => accepted,
    arrived: async (path) => { await at(arrivedAt, path).promise },
    dispatched: async (path) => { await at(dispatchedAt, path).promise },
    release: () => release.resolve(),
    held,
    get
  }
}

test('pool.connections caps the connections to a target', async (t) => {
  const run = await holdOneRequest(t, { connections: 1 })
  const second = run.get(`${run.url}/second`)
  await within(run.dispatched('/second'), 5000, 'the gateway never sent /second to the target\'s pool')
  // A request sent after /second that may wait only 300 ms for a connection gets none: the
  // one connection is busy with /hold, and no second one is opened for /second or for it.
  const impatient = await run.get(`${run.url}/impatient/probe`)
  assert.equal(impatient.status, 504, `the impatient request got a connection: ${impatient.text}`)
  assert.match(impatient.json<ErrorBody>().error.message, /did not accept the connection in time/)
  assert.deepEqual(run.arrivals, ['/hold'], 'a request reached the upstream while its only connection was busy')
  run.release()
  assert.equal((await within(run.held, 5000, '/hold was not answered once released')).text, 'held')
  assert.equal((await within(second, 5000, '/second was not answered once /hold was')).text, '/second')
  assert.deepEqual(run.arrivals, ['/hold', '/second'])
  assert.equal(run.origin.received[0]?.remotePort, run.origin.received[1]?.remotePort, '/second came on another connection')
  assert.equal(run.connections(), 1)
})

for (const pool of [{ connections: 2 }, {}]) {
  test(`with pool ${JSON.stringify(pool)} a second request reaches the target while the first is held`, async (t) => {
    const run = await holdOneRequest(t, pool)
    const second = run.get(`${run.url}/second`)
    await within(run.arrived('/second'), 5000, '/second did not reach the upstream while /hold was held')
    assert.deepEqual(run.arrivals, ['/hold', '/second'])
    assert.equal((await within(second, 5000, '/second was not answered')).text, '/second')
    run.release()
    assert.equal((await within(run.held, 5000, '/hold was not answered once released')).text, 'held')
    assert.notEqual(run.origin.received[0]?.remotePort, run.origin.received[1]?.remotePort)
    assert.equal(run.connections(), 2)
  })
}

test('a route\'s retries and timeouts override its upstream\'s', async (t) => {
  const slow = await startOrigin(t, 'slow', { handler: (_req, res) => { setTimeout(() => res.end('late'), 600).unref() } })
  const live = await startOrigin(t, 'live')
  const dead = await refusedPort(t)
  const gw = await startGateway(t, {
    upstreams: {
      pair: { targets: [`127.0.0.1:${dead}`, live.address], retries: { attempts: 0 } },
      slow: { targets: [slow.address], timeouts: { response: '5s' }, retries: { attempts: 0 } }
    },
    routes: [
      { name: 'no-retry', match: { path: '/plain' }, upstream: 'pair' },
      { name: 'retry', match: { path: '/retry' }, upstream: 'pair', retries: { attempts: 1 } },
      { name: 'impatient', match: { path: '/slow' }, upstream: 'slow', timeouts: { response: '200ms' } }
    ]
  })
  const get = client(t)
  assert.equal((await get(`${gw.url}/plain`)).status, 502)
  assert.equal((await get(`${gw.url}/retry`)).status, 200)
  assert.equal((await get(`${gw.url}/slow`)).status, 504)
})

test('requestHeaders.set.host overrides the Host sent upstream', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up', requestHeaders: { set: { host: 'internal.example' } } }] })
  await client(t)(`${gw.url}/`, { headers: { host: 'public.example' } })
  assert.equal(up.received[0]?.headers.host, 'internal.example')
  assert.equal(up.received[0]?.headers['x-forwarded-host'], 'public.example')
})

test('accessLog writes one line per request with route, upstream, target, status and timing', async (t) => {
  const up = await startOrigin(t, 'up')
  const lines: Record<string, unknown>[] = []
  const gw = await startGateway(t, {
    server: { accessLog: true, logLevel: 'info' },
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', match: { path: '/ok' }, upstream: 'up' }]
  }, { logLevel: 'info', logTo: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) })
  const get = client(t)
  const res = await get(`${gw.url}/ok?x=1`)
  await get(`${gw.url}/mis%73ing`)
  const access = lines.filter(l => l.msg === 'request')
  assert.equal(access.length, 2)
  assert.equal(access[0]?.requestId, res.headers['x-request-id'])
  assert.deepEqual({ ...access[0], time: 0, pid: 0, hostname: '', ms: 0, upstreamMs: 0, bytesIn: 0, bytesOut: 0, requestId: '' }, {
    level: 30, time: 0, pid: 0, hostname: '', requestId: '', ip: '127.0.0.1', method: 'GET', url: '/ok?x=1', status: 200,
    route: 'r', upstream: 'up', target: up.address, retries: 0, ms: 0, upstreamMs: 0, bytesIn: 0, bytesOut: 0, msg: 'request'
  })
  assert.equal(access[1]?.status, 404)
  assert.equal(access[1]?.url, '/mis%73ing', 'the log shows the target the client sent')
})
