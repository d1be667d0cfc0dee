/**
 * What an accepted WebSocket upgrade leaves in the access log and the metrics of a real
 * gateway: one request with status 101, no longer in flight once the 101 is sent.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway } from '../helpers/gateway.js'
import { metricsText, sample } from '../helpers/metrics.js'
import { eventually } from '../helpers/deadline.js'
import { closeOf, connectWebSocket, nextMessage, startWebSocketOrigin } from '../helpers/websocket.js'

test('an accepted upgrade is logged once with status 101, route and target', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const lines: Record<string, unknown>[] = []
  const gw = await startGateway(t, {
    server: { accessLog: true },
    upstreams: { up: { targets: [origin.address] } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true }]
  }, { logLevel: 'info', logTo: (text) => { lines.push(JSON.parse(text) as Record<string, unknown>) } })
  const socket = await connectWebSocket(t, `ws://127.0.0.1:${gw.port}/live`)
  socket.send('x')
  await nextMessage(socket)
  await eventually(() => lines.some(l => l.msg === 'request'), 3000, 'no access-log line')
  const logged = lines.filter(l => l.msg === 'request')
  assert.equal(logged.length, 1)
  assert.equal(logged[0]?.status, 101)
  assert.equal(logged[0]?.route, 'ws')
  assert.equal(logged[0]?.target, origin.address)
  assert.equal(logged[0]?.url, '/live')
})

test('a WebSocket that closes adds no second access-log line (no 499 for a finished upgrade)', async (t) => {
  const origin = await startWebSocketOrigin(t)
  origin.server.on('request', (_req, res) => { res.end('a page') })
  const lines: Record<string, unknown>[] = []
  const gw = await startGateway(t, {
    server: { accessLog: true },
    upstreams: { up: { targets: [origin.address] } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true }]
  }, { logLevel: 'info', logTo: (text) => { lines.push(JSON.parse(text) as Record<string, unknown>) } })
  const socket = await connectWebSocket(t, `ws://127.0.0.1:${gw.port}/live`)
  await eventually(() => lines.some(l => l.msg === 'request'), 3000, 'no access-log line')
  socket.close()
  await closeOf(socket)
  const target = gw.gateway.liveUpstreams.get('up')?.targets[0]
  // The tunnel's end is seen by the gateway once both sockets closed: the target's count drops then.
  await eventually(() => target?.inflight === 0, 3000, 'the tunnel did not end')
  // One more plain request, logged after anything the tunnel's end could have logged.
  await fetch(`${gw.url}/after`).then(async r => await r.text())
  await eventually(() => lines.filter(l => l.msg === 'request').length >= 2, 3000, 'the plain request was not logged')
  assert.deepEqual(lines.filter(l => l.msg === 'request').map(l => [l.url, l.status]), [['/live', 101], ['/after', 200]])
})

test('an accepted upgrade counts as one request with status 101 and leaves nothing in flight while open', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await startGateway(t, {
    metrics: { listen: { host: '127.0.0.1', port: 0 } },
    upstreams: { up: { targets: [origin.address] } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true }]
  })
  const socket = await connectWebSocket(t, `ws://127.0.0.1:${gw.port}/`)
  socket.send('x')
  await nextMessage(socket)
  const text = await metricsText(gw.gateway)
  assert.equal(sample(text, 'tollgate_requests_total', { route: 'ws', method: 'GET', status: '101' }), 1)
  assert.equal(sample(text, 'tollgate_inflight_requests', { route: 'ws' }), 0)
})
