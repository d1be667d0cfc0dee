import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { startOrigin } from '../helpers/origin.js'
import { refusedPort } from '../helpers/ports.js'
import { makePki } from '../helpers/certs.js'
import { startGateway } from '../helpers/gateway.js'
import { client } from '../helpers/client.js'

test('tls.verify: false accepts an upstream certificate from an unknown CA', async (t) => {
  const pki = makePki(t, ['localhost'])
  const secure = await startOrigin(t, 'secure', { tls: { key: pki.serverKey, cert: pki.serverCert } })
  const gw = await startGateway(t, { upstreams: { s: { targets: [secure.address], tls: { verify: false } } }, routes: [{ name: 'r', upstream: 's' }] })
  assert.equal((await client(t)(`${gw.url}/`)).text, 'Response from SECURE')
})

test('pool.connections caps the connections to a target', async (t) => {
  let release!: () => void
  const held = new Promise<void>(resolve => { release = resolve })
  const up = await startOrigin(t, 'up', { handler: (req, res) => { if (req.url === '/hold') void held.then(() => res.end('held')); else res.end('quick') } })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address], pool: { connections: 1 } } }, routes: [{ name: 'r', upstream: 'up' }] })
  const get = client(t)
  const first = get(`${gw.url}/hold`)
  await once(up.server, 'request')
  const second = get(`${gw.url}/quick`)
  release()
  assert.equal((await first).text, 'held')
  assert.equal((await second).text, 'quick')
  assert.equal(up.received[0]?.remotePort, up.received[1]?.remotePort, 'a second connection was opened')
})

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
  await get(`${gw.url}/missing`)
  const access = lines.filter(l => l.msg === 'request')
  assert.equal(access.length, 2)
  assert.equal(access[0]?.requestId, res.headers['x-request-id'])
  assert.deepEqual({ ...access[0], time: 0, pid: 0, hostname: '', ms: 0, requestId: '' }, {
    level: 30, time: 0, pid: 0, hostname: '', requestId: '', method: 'GET', url: '/ok?x=1', status: 200,
    route: 'r', upstream: 'up', target: up.address, tries: 1, ms: 0, msg: 'request'
  })
  assert.equal(access[1]?.status, 404)
})
