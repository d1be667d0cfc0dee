/**
 * Hostile and broken WebSocket handshakes on raw sockets, against a real gateway: bodies
 * on upgrades, bogus keys, upstreams that answer something other than 101 (or nothing),
 * and clients that send frames before the 101. None of them may get a 101 they should
 * not, reach the upstream when refused, or hang.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { startGateway } from '../helpers/gateway.js'
import { startRawOrigin } from '../helpers/origin.js'
import { startBlackhole } from '../helpers/blackhole.js'
import { rawExchange } from '../helpers/client.js'
import { closed, eventually, within } from '../helpers/deadline.js'
import { startWebSocketOrigin } from '../helpers/websocket.js'

const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='

function upgradeHead (extra = '', key = KEY, method = 'GET'): string {
  return `${method} /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n${extra}\r\n`
}

function statusOf (response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0)
}

function codeOf (response: string): string | undefined {
  return (/"code":"([A-Z_]+)"/.exec(response))?.[1]
}

async function gatewayTo (t: TestContext, address: string, timeouts: Record<string, string> = {}) {
  return await startGateway(t, {
    upstreams: { up: { targets: [address], retries: { attempts: 0 } } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true, timeouts }]
  })
}

/** A masked client text frame (RFC 6455 §5.3), as a browser would send it. */
function maskedText (text: string): Buffer {
  const payload = Buffer.from(text)
  const mask = Buffer.from([1, 2, 3, 4])
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i & 3] as number)))
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked])
}

test('an upgrade declaring a Content-Length body is refused with 400 and never reaches the upstream', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await gatewayTo(t, origin.address)
  const res = await rawExchange(gw.port, upgradeHead('Content-Length: 5\r\n') + 'hello')
  assert.equal(statusOf(res.data), 400)
  assert.equal(codeOf(res.data), 'BAD_REQUEST')
  assert.ok(res.closedByServer)
  assert.equal(origin.upgrades.length, 0)
})

test('an upgrade with a chunked body is refused with 400 and never reaches the upstream', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await gatewayTo(t, origin.address)
  const res = await rawExchange(gw.port, upgradeHead('Transfer-Encoding: chunked\r\n') + '5\r\nhello\r\n0\r\n\r\n')
  assert.equal(statusOf(res.data), 400)
  assert.equal(origin.upgrades.length, 0)
})

test('a bogus Sec-WebSocket-Key is refused with 400 by the gateway, before the upstream', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await gatewayTo(t, origin.address)
  for (const key of ['not-base64!', 'c2hvcnQ=', 'A'.repeat(4000)]) {
    const res = await rawExchange(gw.port, upgradeHead('', key))
    assert.equal(statusOf(res.data), 400, key.slice(0, 20))
    assert.equal(codeOf(res.data), 'BAD_REQUEST')
  }
  assert.equal(origin.upgrades.length, 0)
})

test('an upgrade without Sec-WebSocket-Version 13 is refused with 400', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await gatewayTo(t, origin.address)
  const res = await rawExchange(gw.port, upgradeHead().replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 8'))
  assert.equal(statusOf(res.data), 400)
  assert.equal(origin.upgrades.length, 0)
})

test('a WebSocket upgrade by POST is refused with 400', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await gatewayTo(t, origin.address)
  const res = await rawExchange(gw.port, upgradeHead('', KEY, 'POST'))
  assert.equal(statusOf(res.data), 400)
  assert.equal(origin.upgrades.length, 0)
})

test('an upgrade to a protocol other than websocket or h2c is refused with 400', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await gatewayTo(t, origin.address)
  const res = await rawExchange(gw.port, 'GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tls/1.2\r\n\r\n')
  assert.equal(statusOf(res.data), 400)
  assert.ok(res.closedByServer)
})

test('an upstream answering 200 to the upgrade: the client gets that 200, never a 101, and the connection closes', async (t) => {
  const origin = await startRawOrigin(t, (socket) => {
    socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nnot a ws!!'))
  })
  const gw = await gatewayTo(t, origin.address)
  const res = await rawExchange(gw.port, upgradeHead())
  assert.equal(statusOf(res.data), 200)
  assert.doesNotMatch(res.data, /^HTTP\/1\.1 101/m)
  assert.match(res.data, /not a ws!!$/)
  assert.ok(res.closedByServer)
})

test('an upstream answering garbage to the upgrade gets the client 502 UPSTREAM_UNAVAILABLE', async (t) => {
  const origin = await startRawOrigin(t, (socket) => {
    socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n'))
  })
  const gw = await gatewayTo(t, origin.address)
  const res = await rawExchange(gw.port, upgradeHead())
  assert.equal(statusOf(res.data), 502)
  assert.equal(codeOf(res.data), 'UPSTREAM_UNAVAILABLE')
})

test('an upstream that never answers the upgrade gets the client 504 after the route\'s response timeout', async (t) => {
  const origin = await startRawOrigin(t, () => undefined)
  const gw = await gatewayTo(t, origin.address, { response: '300ms' })
  const res = await rawExchange(gw.port, upgradeHead())
  assert.equal(statusOf(res.data), 504)
  assert.equal(codeOf(res.data), 'UPSTREAM_TIMEOUT')
  assert.ok(res.elapsedMs >= 280 && res.elapsedMs < 3000, `answered after ${Math.round(res.elapsedMs)} ms`)
})

test('a frame the client sends before the 101 reaches the upstream after the handshake and is echoed', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await gatewayTo(t, origin.address)
  const socket = connect(gw.port, '127.0.0.1')
  t.after(() => socket.destroy())
  let received = Buffer.alloc(0)
  const echoed = new Promise<void>(resolve => {
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (received.includes(Buffer.from([0x81, 5])) && received.toString('latin1').endsWith('early')) resolve()
    })
  })
  socket.write(Buffer.concat([Buffer.from(upgradeHead()), maskedText('early')]))
  await within(echoed, 5000, () => `no echo; got ${JSON.stringify(received.toString('latin1'))}`)
  assert.match(received.toString('latin1'), /^HTTP\/1\.1 101 /)
  assert.match(received.toString('latin1'), /\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i)
})

test('a client that leaves during the handshake makes the gateway drop its upstream connection', async (t) => {
  let upstreamClosed: Promise<void> | null = null
  const origin = await startRawOrigin(t, (socket) => {
    upstreamClosed = new Promise(resolve => socket.once('close', () => resolve()))
    // Read, and never answer: the gateway's FIN is seen only by a socket that reads.
    socket.resume()
  })
  const gw = await gatewayTo(t, origin.address, { response: '30s' })
  const socket = connect(gw.port, '127.0.0.1')
  socket.write(upgradeHead())
  await eventually(() => upstreamClosed !== null, 5000, 'the upgrade never reached the upstream')
  socket.destroy()
  await within(upstreamClosed as unknown as Promise<void>, 5000, 'the upstream connection stayed open')
})

test('an upstream that accepts and closes at once ends the client\'s connection, and the gateway serves on', async (t) => {
  const origin = await startRawOrigin(t, (socket) => {
    socket.once('data', () => socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n'))
  })
  const gw = await gatewayTo(t, origin.address)
  const first = await rawExchange(gw.port, upgradeHead())
  assert.equal(statusOf(first.data), 101)
  assert.ok(first.closedByServer)
  const second = await rawExchange(gw.port, upgradeHead())
  assert.equal(statusOf(second.data), 101)
})

test('a client that floods bytes before the 101 is cut, and the gateway serves on', async (t) => {
  const origin = await startRawOrigin(t, (socket) => { socket.resume() })
  const gw = await gatewayTo(t, origin.address, { response: '30s' })
  const socket = connect(gw.port, '127.0.0.1')
  t.after(() => socket.destroy())
  let answer = ''
  socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1') })
  socket.on('error', () => undefined)
  socket.write(Buffer.concat([Buffer.from(upgradeHead()), Buffer.alloc(256 * 1024, 0x81)]))
  await within(closed(socket), 5000, 'the flooding client was not cut')
  assert.doesNotMatch(answer, /^HTTP\/1\.1 101/)
  const next = await rawExchange(gw.port, upgradeHead().replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 8'))
  assert.equal(statusOf(next.data), 400)
})

test('an upgrade no route matches gets 404 ROUTE_NOT_FOUND and the connection closes', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [origin.address] } },
    routes: [{ name: 'ws', match: { path: '/ws/*' }, upstream: 'up', websocket: true }]
  })
  const res = await rawExchange(gw.port, upgradeHead())
  assert.equal(statusOf(res.data), 404)
  assert.equal(codeOf(res.data), 'ROUTE_NOT_FOUND')
  assert.ok(res.closedByServer)
  assert.equal(origin.upgrades.length, 0)
})

test('an upstream that resets right after its 101 gets the client\'s connection ended at once, not at the idle timeout', async (t) => {
  const origin = await startRawOrigin(t, (socket) => {
    socket.once('data', () => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n', () => socket.resetAndDestroy())
    })
  })
  const gw = await gatewayTo(t, origin.address)
  const res = await rawExchange(gw.port, upgradeHead(), { timeoutMs: 10_000 })
  assert.equal(statusOf(res.data), 101)
  assert.ok(res.closedByServer, 'the gateway did not end the client\'s connection')
  assert.ok(res.elapsedMs < 5000, `ended after ${Math.round(res.elapsedMs)} ms`)
})

test('a target that resets after the upgrade was sent gets 502, and no other target is tried', async (t) => {
  const resetting = await startRawOrigin(t, (socket) => { socket.once('data', () => socket.resetAndDestroy()) })
  const origin = await startWebSocketOrigin(t)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [resetting.address, origin.address], balancer: 'round-robin', retries: { attempts: 1, on: ['connect-error'] } } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true }]
  })
  // Round robin starts with the first target; one of two upgrades meets it first.
  const answers = [await rawExchange(gw.port, upgradeHead(), { timeoutMs: 3000 }), await rawExchange(gw.port, upgradeHead(), { timeoutMs: 3000 })]
  const statuses = answers.map(a => statusOf(a.data)).sort()
  assert.deepEqual(statuses, [101, 502])
  assert.equal(origin.upgrades.length, 1)
})

test('a target that never accepts the connection gets the client 504 after the route\'s connect timeout', async (t) => {
  const blackhole = await startBlackhole(t)
  const gw = await gatewayTo(t, blackhole.address, { connect: '200ms', response: '30s' })
  const res = await rawExchange(gw.port, upgradeHead())
  assert.equal(statusOf(res.data), 504)
  assert.equal(codeOf(res.data), 'UPSTREAM_TIMEOUT')
  assert.ok(res.elapsedMs >= 180 && res.elapsedMs < 3000, `answered after ${Math.round(res.elapsedMs)} ms`)
})
