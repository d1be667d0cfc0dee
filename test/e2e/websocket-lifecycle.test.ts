/**
 * How long an upgraded WebSocket connection lives through a real gateway: past the HTTP
 * timeouts, until its own idle timeout, through a reload, and until shutdown's grace
 * period is over.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway } from '../helpers/gateway.js'
import { within } from '../helpers/deadline.js'
import { closeOf, connectWebSocket, nextMessage, startWebSocketOrigin } from '../helpers/websocket.js'

test('an open WebSocket outlives the listener\'s request and headers timeouts', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await startGateway(t, {
    server: { limits: { headersTimeout: '200ms', requestTimeout: '200ms' } },
    upstreams: { up: { targets: [origin.address] } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true }]
  })
  const socket = await connectWebSocket(t, `ws://127.0.0.1:${gw.port}/`)
  let closedEarly = false
  socket.once('close', () => { closedEarly = true })
  // Nothing announces that a connection was not cut: wait well past both HTTP deadlines
  // (Node checks them every 50 ms here), then show that it still carries messages.
  await new Promise(resolve => setTimeout(resolve, 1000))
  assert.equal(closedEarly, false, 'the HTTP timeouts cut an upgraded connection')
  socket.send('still here')
  assert.equal((await nextMessage(socket)).data.toString(), 'still here')
})

test('a WebSocket idle for the route\'s timeouts.idle is closed with 1001 on both sides', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [origin.address] } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true, timeouts: { idle: '300ms' } }]
  })
  const started = performance.now()
  const socket = await connectWebSocket(t, `ws://127.0.0.1:${gw.port}/`)
  const server = [...origin.sockets][0]
  assert.ok(server !== undefined)
  const atOrigin = closeOf(server, 3000)
  const atClient = await closeOf(socket, 3000)
  const elapsed = performance.now() - started
  assert.deepEqual(atClient, { code: 1001, reason: 'idle timeout' })
  assert.deepEqual(await atOrigin, { code: 1001, reason: 'idle timeout' })
  assert.ok(elapsed >= 280, `closed after ${Math.round(elapsed)} ms, before the idle timeout`)
})

test('traffic keeps a WebSocket open past its idle timeout', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [origin.address] } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true, timeouts: { idle: '300ms' } }]
  })
  const socket = await connectWebSocket(t, `ws://127.0.0.1:${gw.port}/`)
  // One message every 100 ms for 900 ms: three idle timeouts' worth, never idle for one.
  for (let i = 0; i < 9; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    socket.send(`tick ${i}`)
    assert.equal((await nextMessage(socket)).data.toString(), `tick ${i}`)
  }
})

test('a reload leaves an open WebSocket alone, and new upgrades get the new config', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const config = (tag: string) => ({
    server: { listen: [{ host: '127.0.0.1', port: gw?.port ?? 0 }], logLevel: 'silent' as const, accessLog: false },
    upstreams: { up: { targets: [origin.address] } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true, requestHeaders: { set: { 'x-config': tag } } }]
  })
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined
  gw = await startGateway(t, config('one'))
  const socket = await connectWebSocket(t, `ws://127.0.0.1:${gw.port}/`)
  let closed = false
  socket.once('close', () => { closed = true })
  await gw.gateway.apply(config('two'))
  socket.send('after the reload')
  assert.equal((await nextMessage(socket)).data.toString(), 'after the reload')
  assert.equal(closed, false)
  await connectWebSocket(t, `ws://127.0.0.1:${gw.port}/`)
  assert.deepEqual(origin.upgrades.map(u => u.headers['x-config']), ['one', 'two'])
})

test('shutdown closes an open WebSocket with 1001 once the grace period is over, not before', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [origin.address] } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true }]
  })
  const socket = await connectWebSocket(t, `ws://127.0.0.1:${gw.port}/`)
  const server = [...origin.sockets][0]
  assert.ok(server !== undefined)
  const atOrigin = closeOf(server, 5000)
  const atClient = closeOf(socket, 5000)
  const started = performance.now()
  const closing = gw.gateway.close(500)
  // Within the grace period the connection still works.
  socket.send('during the grace period')
  assert.equal((await nextMessage(socket)).data.toString(), 'during the grace period')
  assert.deepEqual(await atClient, { code: 1001, reason: 'server shutting down' })
  const elapsed = performance.now() - started
  assert.deepEqual(await atOrigin, { code: 1001, reason: 'server shutting down' })
  assert.ok(elapsed >= 480, `closed after ${Math.round(elapsed)} ms, within the grace period`)
  await within(closing, 5000, 'the gateway did not finish closing')
})

test('shutdown does not wait for the grace period when the WebSockets close by themselves', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [origin.address] } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true }]
  })
  const socket = await connectWebSocket(t, `ws://127.0.0.1:${gw.port}/`)
  const started = performance.now()
  const closing = gw.gateway.close(10_000)
  socket.close(1000, 'done')
  await closeOf(socket)
  await within(closing, 5000, 'the gateway waited for its whole grace period')
  assert.ok(performance.now() - started < 5000)
})
