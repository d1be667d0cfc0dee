/**
 * WebSocket routes (`websocket: true`) through a real gateway, with `ws` as the origin and
 * the client: frames both ways, the handshake's negotiation end to end, and the route's
 * checks answering before any 101.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway } from '../helpers/gateway.js'
import { makePki } from '../helpers/certs.js'
import { refusedPort } from '../helpers/ports.js'
import type { ErrorBody } from '../helpers/client.js'
import { closeOf, connectWebSocket, nextMessage, openWebSocket, refusedWebSocket, startWebSocketOrigin, WebSocket, type WebSocketOrigin } from '../helpers/websocket.js'
import { defineRoute, errors, type GatewayConfig } from '../../src/index.js'
import { eventually, pollUntil, within } from '../helpers/deadline.js'
import type { IncomingHttpHeaders } from 'node:http'

type Route = NonNullable<GatewayConfig['routes']>[number]

/** A gateway with one WebSocket route `ws` to `origin`, the route given `extra`. */
async function wsGateway (t: TestContext, origin: WebSocketOrigin, extra: Partial<Route> = {}, upstream: Record<string, unknown> = {}) {
  return await startGateway(t, {
    upstreams: { up: { targets: [origin.address], ...upstream } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true, ...extra }]
  })
}

function wsUrl (port: number, path = '/chat'): string {
  return `ws://127.0.0.1:${port}${path}`
}

test('a text message goes to the origin and its echo comes back', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await wsGateway(t, origin)
  const socket = await connectWebSocket(t, wsUrl(gw.port))
  socket.send('hello through the gateway')
  const echo = await nextMessage(socket)
  assert.equal(echo.isBinary, false)
  assert.equal(echo.data.toString(), 'hello through the gateway')
})

test('a binary message of 1 MB passes both ways unchanged', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await wsGateway(t, origin)
  const socket = await connectWebSocket(t, wsUrl(gw.port))
  const payload = Buffer.alloc(1024 * 1024)
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff
  socket.send(payload)
  const echo = await nextMessage(socket)
  assert.equal(echo.isBinary, true)
  assert.ok(echo.data.equals(payload))
})

test('a ping from the client is answered with a pong carrying its data', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await wsGateway(t, origin)
  const socket = await connectWebSocket(t, wsUrl(gw.port))
  const pong = new Promise<Buffer>(resolve => socket.once('pong', resolve))
  socket.ping('are you there')
  assert.equal((await within(pong, 5000, 'no pong')).toString(), 'are you there')
})

test('a ping from the origin reaches the client, whose pong reaches the origin', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await wsGateway(t, origin)
  const socket = await connectWebSocket(t, wsUrl(gw.port))
  const server = [...origin.sockets][0]
  assert.ok(server !== undefined)
  const pinged = new Promise<Buffer>(resolve => socket.once('ping', resolve))
  const ponged = new Promise<Buffer>(resolve => server.once('pong', resolve))
  server.ping('from the origin')
  assert.equal((await within(pinged, 5000, 'no ping at the client')).toString(), 'from the origin')
  assert.equal((await within(ponged, 5000, 'no pong at the origin')).toString(), 'from the origin')
})

test('a close from the client reaches the origin with its code and reason', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await wsGateway(t, origin)
  const socket = await connectWebSocket(t, wsUrl(gw.port))
  const server = [...origin.sockets][0]
  assert.ok(server !== undefined)
  const atOrigin = closeOf(server)
  socket.close(4000, 'client says bye')
  assert.deepEqual(await atOrigin, { code: 4000, reason: 'client says bye' })
  assert.deepEqual(await closeOf(socket), { code: 4000, reason: 'client says bye' })
})

test('a close from the origin reaches the client with its code and reason', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await wsGateway(t, origin)
  const socket = await connectWebSocket(t, wsUrl(gw.port))
  const server = [...origin.sockets][0]
  assert.ok(server !== undefined)
  const atClient = closeOf(socket)
  server.close(4001, 'origin says bye')
  assert.deepEqual(await atClient, { code: 4001, reason: 'origin says bye' })
})

test('the subprotocol the origin picks is the one the client gets, from every one the client offered', async (t) => {
  const origin = await startWebSocketOrigin(t, { ws: { handleProtocols: (offered) => offered.has('chat.v2') ? 'chat.v2' : false } })
  const gw = await wsGateway(t, origin)
  const socket = await connectWebSocket(t, wsUrl(gw.port), ['chat.v1', 'chat.v2'])
  assert.equal(socket.protocol, 'chat.v2')
  assert.equal(origin.upgrades[0]?.headers['sec-websocket-protocol'], 'chat.v1,chat.v2')
})

test('permessage-deflate is negotiated end to end and compressed messages pass', async (t) => {
  const origin = await startWebSocketOrigin(t, { ws: { perMessageDeflate: { threshold: 0 } } })
  const gw = await wsGateway(t, origin)
  const socket = await connectWebSocket(t, wsUrl(gw.port), [], { perMessageDeflate: { threshold: 0 } })
  assert.match(socket.extensions, /permessage-deflate/)
  assert.match(String(origin.upgrades[0]?.headers['sec-websocket-extensions']), /permessage-deflate/)
  socket.send('a'.repeat(10_000))
  assert.equal((await nextMessage(socket)).data.toString(), 'a'.repeat(10_000))
})

test('the upgrade sent upstream carries the route\'s header rules, the forwarding headers and the rewritten path', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await wsGateway(t, origin, {
    match: { path: '/live/*' },
    rewrite: { stripPrefix: '/live' },
    requestHeaders: { set: { 'x-proxy': 'tollgate' }, remove: ['x-private'] }
  })
  await connectWebSocket(t, wsUrl(gw.port, '/live/feed?room=7'), [], { headers: { 'x-private': 'secret', 'x-request-id': 'ws-req-1' } })
  const seen = origin.upgrades[0]
  assert.ok(seen !== undefined)
  assert.equal(seen.url, '/feed?room=7')
  assert.equal(seen.headers['x-proxy'], 'tollgate')
  assert.equal(seen.headers['x-private'], undefined)
  assert.equal(seen.headers['x-request-id'], 'ws-req-1')
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1')
  assert.equal(seen.headers['x-forwarded-proto'], 'http')
  assert.equal(seen.headers['x-forwarded-host'], `127.0.0.1:${gw.port}`)
})

test('the 101 carries x-request-id and the route\'s response headers', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await wsGateway(t, origin, { responseHeaders: { set: { 'x-content-type-options': 'nosniff' } } })
  const socket = new WebSocket(wsUrl(gw.port), { headers: { 'x-request-id': 'ws-req-3' } })
  t.after(() => socket.terminate())
  const headers = await within(new Promise<IncomingHttpHeaders>(resolve => socket.once('upgrade', (res) => resolve(res.headers))), 5000, 'no 101')
  assert.equal(headers['x-request-id'], 'ws-req-3')
  assert.equal(headers['x-content-type-options'], 'nosniff')
})

test('a TLS upstream is reached with the upstream\'s CA and SNI, and messages pass', async (t) => {
  const pki = makePki(t, ['ws.internal'])
  const origin = await startWebSocketOrigin(t, { tls: { cert: pki.serverCert, key: pki.serverKey } })
  const gw = await wsGateway(t, origin, {}, { tls: { ca: pki.files.ca, servername: 'ws.internal' } })
  const socket = await connectWebSocket(t, wsUrl(gw.port))
  socket.send('over tls')
  assert.equal((await nextMessage(socket)).data.toString(), 'over tls')
  assert.equal(origin.upgrades[0]?.headers.host, 'ws.internal')
})

test('a TLS upstream whose certificate the upstream\'s CA did not sign gets 502, not 101', async (t) => {
  const pki = makePki(t, ['ws.internal'])
  const origin = await startWebSocketOrigin(t, { tls: { cert: pki.serverCert, key: pki.serverKey } })
  const gw = await wsGateway(t, origin, {}, { tls: { ca: pki.files.otherCa, servername: 'ws.internal' }, retries: { attempts: 0 } })
  const refused = await refusedWebSocket(t, wsUrl(gw.port))
  assert.equal(refused.status, 502)
  assert.equal((JSON.parse(refused.body) as ErrorBody).error.code, 'UPSTREAM_UNAVAILABLE')
  assert.equal(origin.upgrades.length, 0)
})

test('an unreachable target answers 502 UPSTREAM_UNAVAILABLE, not 101 then a close', async (t) => {
  const port = await refusedPort(t)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [`127.0.0.1:${port}`], retries: { attempts: 0 } } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true }]
  })
  const refused = await refusedWebSocket(t, wsUrl(gw.port))
  assert.equal(refused.status, 502)
  assert.equal((JSON.parse(refused.body) as ErrorBody).error.code, 'UPSTREAM_UNAVAILABLE')
})

test('an unreachable target is skipped for the next one when retries allow', async (t) => {
  const port = await refusedPort(t)
  const origin = await startWebSocketOrigin(t)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [`127.0.0.1:${port}`, origin.address], balancer: 'round-robin', retries: { attempts: 1, on: ['connect-error'] } } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true }]
  })
  for (let i = 0; i < 2; i++) {
    const socket = await connectWebSocket(t, wsUrl(gw.port))
    socket.send(`try ${i}`)
    assert.equal((await nextMessage(socket)).data.toString(), `try ${i}`)
  }
})

test('an upgrade on a route without websocket: true is refused with 400 and never reaches the upstream', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [origin.address] } },
    routes: [{ name: 'plain', upstream: 'up' }]
  })
  const refused = await refusedWebSocket(t, wsUrl(gw.port))
  assert.equal(refused.status, 400)
  assert.equal((JSON.parse(refused.body) as ErrorBody).error.code, 'BAD_REQUEST')
  assert.equal(origin.upgrades.length, 0)
})

test('the route\'s IP filter refuses an upgrade with 403 IP_FORBIDDEN before any 101', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await wsGateway(t, origin, { ipFilter: { allow: ['10.0.0.0/8'] } })
  const refused = await refusedWebSocket(t, wsUrl(gw.port))
  assert.equal(refused.status, 403)
  assert.equal((JSON.parse(refused.body) as ErrorBody).error.code, 'IP_FORBIDDEN')
  assert.equal(origin.upgrades.length, 0)
})

test('the route\'s auth refuses an upgrade without a token with 401 and a challenge', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await wsGateway(t, origin, { auth: { type: 'bearer', tokens: ['ws-token'] } })
  const refused = await refusedWebSocket(t, wsUrl(gw.port))
  assert.equal(refused.status, 401)
  assert.equal((JSON.parse(refused.body) as ErrorBody).error.code, 'UNAUTHORIZED')
  assert.match(String(refused.headers['www-authenticate']), /^Bearer/)
  assert.equal(origin.upgrades.length, 0)
})

test('an upgrade with the route\'s token opens, and the upstream never sees the token', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await wsGateway(t, origin, { auth: { type: 'bearer', tokens: ['ws-token'] } })
  const socket = await connectWebSocket(t, wsUrl(gw.port), [], { headers: { authorization: 'Bearer ws-token' } })
  socket.send('authorised')
  assert.equal((await nextMessage(socket)).data.toString(), 'authorised')
  assert.equal(origin.upgrades[0]?.headers.authorization, undefined)
})

test('the route\'s rate limit refuses the upgrade past the limit with 429 RATE_LIMITED and Retry-After', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await wsGateway(t, origin, { rateLimit: { limit: 1, window: '1m' } })
  await connectWebSocket(t, wsUrl(gw.port))
  const refused = await refusedWebSocket(t, wsUrl(gw.port))
  assert.equal(refused.status, 429)
  assert.equal((JSON.parse(refused.body) as ErrorBody).error.code, 'RATE_LIMITED')
  assert.ok(refused.headers['retry-after'] !== undefined)
  assert.equal(origin.upgrades.length, 1)
})

test('a concurrency slot is held while the WebSocket is open and given back when it closes', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await wsGateway(t, origin, { concurrency: { limit: 1 } })
  const first = await connectWebSocket(t, wsUrl(gw.port))
  const refused = await refusedWebSocket(t, wsUrl(gw.port))
  assert.equal(refused.status, 429)
  assert.equal((JSON.parse(refused.body) as ErrorBody).error.code, 'TOO_MANY_CONCURRENT')
  first.close()
  await closeOf(first)
  // The slot comes back once both sockets of the tunnel have closed, just after the client
  // saw its close: ask until an upgrade is let through.
  await pollUntil(async () => !('status' in await openWebSocket(t, wsUrl(gw.port))), 20, 3000, 'the slot never came back')
})

test('an open WebSocket counts as in flight on its target (least-connections reads it) until it closes', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await wsGateway(t, origin, {}, { balancer: 'least-connections' })
  const target = gw.gateway.liveUpstreams.get('up')?.targets[0]
  assert.ok(target !== undefined)
  const socket = await connectWebSocket(t, wsUrl(gw.port))
  socket.send('x')
  await nextMessage(socket)
  assert.equal(target.inflight, 1)
  socket.close()
  await closeOf(socket)
  await eventually(() => target.inflight === 0, 3000, () => `inflight stayed ${target.inflight}`)
})

test('wss through the gateway\'s TLS listener reaches a plain upstream, and messages pass', async (t) => {
  const pki = makePki(t, ['127.0.0.1'])
  const origin = await startWebSocketOrigin(t)
  const gw = await startGateway(t, {
    server: { listen: [{ host: '127.0.0.1', port: 0, tls: { certs: [{ cert: pki.files.serverCert, key: pki.files.serverKey }] } }] },
    upstreams: { up: { targets: [origin.address] } },
    routes: [{ name: 'ws', upstream: 'up', websocket: true }]
  })
  const socket = await connectWebSocket(t, `wss://127.0.0.1:${gw.port}/secure`, [], { ca: pki.ca })
  socket.send('over wss')
  assert.equal((await nextMessage(socket)).data.toString(), 'over wss')
  assert.equal(origin.upgrades[0]?.headers['x-forwarded-proto'], 'https')
})

test('on a cached route, an upgrade is never answered from the cache', async (t) => {
  const origin = await startWebSocketOrigin(t)
  origin.server.on('request', (_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' })
    res.end('a page')
  })
  const gw = await wsGateway(t, origin, { cache: {} })
  const page = await fetch(`${gw.url}/chat`)
  assert.equal(await page.text(), 'a page')
  const hit = await fetch(`${gw.url}/chat`)
  assert.equal(hit.headers.get('x-cache-status'), 'HIT')
  await hit.text()
  const socket = await connectWebSocket(t, wsUrl(gw.port))
  socket.send('not from the cache')
  assert.equal((await nextMessage(socket)).data.toString(), 'not from the cache')
})

test('a route\'s onRequest hook can refuse an upgrade before any 101, and its upstreamRequest hook edits the upgrade sent', async (t) => {
  const origin = await startWebSocketOrigin(t)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [origin.address] } },
    routes: [defineRoute({
      name: 'ws',
      upstream: 'up',
      websocket: true,
      hooks: {
        onRequest (request) {
          if (request.headers['x-api-key'] !== 'k') throw new errors.Unauthorized('missing or wrong key')
        },
        upstreamRequest (_request, headers) {
          headers['x-from-hook'] = 'yes'
        }
      }
    })]
  })
  const refused = await refusedWebSocket(t, wsUrl(gw.port))
  assert.equal(refused.status, 401)
  assert.equal((JSON.parse(refused.body) as ErrorBody).error.code, 'UNAUTHORIZED')
  assert.equal(origin.upgrades.length, 0)
  await connectWebSocket(t, wsUrl(gw.port), [], { headers: { 'x-api-key': 'k' } })
  assert.equal(origin.upgrades[0]?.headers['x-from-hook'], 'yes')
})
