import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin, startRawOrigin } from '../helpers/origin.js'
import { refusedPort } from '../helpers/ports.js'
import { startBlackhole } from '../helpers/blackhole.js'
import { startGateway } from '../helpers/gateway.js'
import { client, type ErrorBody } from '../helpers/client.js'
import { within } from '../helpers/deadline.js'
import { request } from 'undici'
import { once } from 'node:events'

test('a 100 ms connect timeout to a black-holed target answers 504 within 100-250 ms', async (t) => {
  const hole = await startBlackhole(t)
  const gw = await startGateway(t, {
    upstreams: { dark: { targets: [hole.address], retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'dark', timeouts: { connect: '100ms' } }]
  })
  const get = client(t)
  const times: number[] = []
  for (let i = 0; i < 3; i++) {
    const started = performance.now()
    const res = await get(`${gw.url}/`)
    times.push(performance.now() - started)
    assert.equal(res.status, 504)
    assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_TIMEOUT')
  }
  const shown = times.map(ms => ms.toFixed(0)).join(', ')
  // Never before the timeout; the quickest within 250 ms. A loaded machine may delay one
  // answer past that, but never to the default connect timeout (5 s).
  assert.ok(times.every(ms => ms >= 95 && ms <= 1000), `answered after ${shown} ms`)
  assert.ok(Math.min(...times) <= 250, `answered after ${shown} ms`)
})

test('a response slower than timeouts.response answers 504 UPSTREAM_TIMEOUT', async (t) => {
  const slow = await startOrigin(t, 'slow', { handler: (_req, res) => { setTimeout(() => res.end('late'), 1500).unref() } })
  const gw = await startGateway(t, {
    upstreams: { slow: { targets: [slow.address], timeouts: { response: '300ms' }, retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'slow' }]
  })
  const started = performance.now()
  const res = await client(t)(`${gw.url}/`)
  const elapsed = performance.now() - started
  assert.equal(res.status, 504)
  assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_TIMEOUT')
  assert.ok(elapsed >= 290 && elapsed < 900, `answered after ${elapsed.toFixed(0)} ms`)
})

test('a refused connection answers 502 UPSTREAM_UNAVAILABLE with the contract body', async (t) => {
  const port = await refusedPort(t)
  const gw = await startGateway(t, { upstreams: { gone: { targets: [`127.0.0.1:${port}`] } }, routes: [{ name: 'r', upstream: 'gone' }] })
  const res = await client(t)(`${gw.url}/`)
  assert.equal(res.status, 502)
  const body = res.json<ErrorBody>()
  assert.equal(body.error.code, 'UPSTREAM_UNAVAILABLE')
  assert.equal(body.error.status, 502)
  assert.equal(body.error.requestId, res.headers['x-request-id'])
  assert.doesNotMatch(body.error.message, new RegExp(`127\\.0\\.0\\.1|${port}|gone`), 'the body names no address, port or upstream')
})

test('a connection reset before the response answers 502', async (t) => {
  const raw = await startRawOrigin(t, (socket) => { socket.once('data', () => socket.resetAndDestroy()) })
  const gw = await startGateway(t, { upstreams: { rst: { targets: [raw.address], retries: { attempts: 0 } } }, routes: [{ name: 'r', upstream: 'rst' }] })
  const res = await client(t)(`${gw.url}/`)
  assert.equal(res.status, 502)
  assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
})

test('an upstream that answers garbage gives 502 UPSTREAM_UNAVAILABLE', async (t) => {
  const raw = await startRawOrigin(t, (socket) => { socket.once('data', () => socket.end('this is not HTTP at all\r\n\r\n')) })
  const gw = await startGateway(t, { upstreams: { junk: { targets: [raw.address] } }, routes: [{ name: 'r', upstream: 'junk' }] })
  const res = await client(t)(`${gw.url}/`)
  assert.equal(res.status, 502)
  assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
})

test('an upstream that drops the connection mid-body breaks the client response at once', async (t) => {
  const raw = await startRawOrigin(t, (socket) => {
    socket.once('data', () => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\npartial')
      setTimeout(() => socket.destroy(), 50)
    })
  })
  const gw = await startGateway(t, { upstreams: { drop: { targets: [raw.address] } }, routes: [{ name: 'r', upstream: 'drop' }] })
  const res = await request(`${gw.url}/`)
  assert.equal(res.statusCode, 200)
  const started = performance.now()
  await assert.rejects(res.body.text())
  assert.ok(performance.now() - started < 1000, 'the client was left hanging')
})

test('a client that aborts cancels the upstream request', async (t) => {
  let upstreamClosed!: () => void
  const closed = new Promise<void>(resolve => { upstreamClosed = resolve })
  const slow = await startOrigin(t, 'slow', {
    handler: (_req, res) => {
      res.on('close', () => upstreamClosed())
      // Answered only if nothing cancels it first, long after every deadline below.
      setTimeout(() => res.end('late'), 30_000).unref()
    }
  })
  const gw = await startGateway(t, { upstreams: { slow: { targets: [slow.address] } }, routes: [{ name: 'r', upstream: 'slow' }] })
  const controller = new AbortController()
  const pending = request(`${gw.url}/`, { signal: controller.signal })
  await within(once(slow.server, 'request'), 5000, 'the request never reached the upstream')
  controller.abort()
  await within(assert.rejects(pending), 5000, 'the aborted client request did not end')
  await within(closed, 5000, 'the upstream request was not cancelled after the client aborted')
  const upstream = gw.gateway.liveUpstreams.get('slow')
  assert.equal(upstream?.targets[0]?.inflight, 0)
})

test('a client that leaves while the route\'s hooks run: its request never goes upstream, and the gateway still closes at once', async (t) => {
  const up = await startOrigin(t, 'up')
  let entered!: () => void
  const inHook = new Promise<void>(resolve => { entered = resolve })
  let release!: () => void
  const released = new Promise<void>(resolve => { release = resolve })
  let logged!: (line: { ip?: string }) => void
  const left = new Promise<{ ip?: string }>(resolve => { logged = resolve })
  const gw = await startGateway(t, {
    server: { accessLog: true },
    upstreams: { up: { targets: [up.address] } },
    routes: [{
      name: 'r',
      upstream: 'up',
      hooks: {
        async onRequest (request) {
          if (request.url !== '/held') return
          entered()
          await released
        }
      }
    }]
  }, { logLevel: 'info', logTo: (text) => {
    const line = JSON.parse(text) as { status?: number, ip?: string }
    if (line.status === 499) logged(line)
  } })
  const controller = new AbortController()
  const pending = request(`${gw.url}/held`, { signal: controller.signal })
  await within(inHook, 5000, 'the request never reached the hook')
  controller.abort()
  await assert.rejects(pending)
  // Logged as 499 with the address of a client that had gone before anything asked for it.
  assert.equal((await within(left, 5000, 'the gateway never logged the client leaving')).ip, '127.0.0.1')
  release()
  // Served after the released request went on: had it been sent, the upstream saw it first.
  assert.equal((await client(t)(`${gw.url}/after`)).status, 200)
  assert.deepEqual(up.received.map(r => r.url), ['/after'])
  await within(gw.gateway.close(10_000), 3000, 'closing waited on an upstream exchange nobody reads')
})

test('the gateway keeps serving after every kind of upstream failure', async (t) => {
  const ok = await startOrigin(t, 'ok')
  const port = await refusedPort(t)
  const gw = await startGateway(t, {
    upstreams: { ok: { targets: [ok.address] }, gone: { targets: [`127.0.0.1:${port}`] } },
    routes: [{ name: 'gone', match: { path: '/gone' }, upstream: 'gone' }, { name: 'ok', upstream: 'ok' }]
  })
  const get = client(t)
  assert.equal((await get(`${gw.url}/gone`)).status, 502)
  assert.equal((await get(`${gw.url}/fine`)).text, 'Response from OK')
})
