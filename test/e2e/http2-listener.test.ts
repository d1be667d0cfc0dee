import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { Agent, request } from 'undici'
import { startOrigin, type OriginOptions } from '../helpers/origin.js'
import { makePki, type TestPki } from '../helpers/certs.js'
import { startGateway, type RunningGateway } from '../helpers/gateway.js'
import { within } from '../helpers/deadline.js'
import { tempFolder } from '../helpers/files.js'
import { metricsText, sample } from '../helpers/metrics.js'
import { defineRoute, type GatewayConfig } from '../../src/index.js'

const run = promisify(execFile)

function h2Listen (pki: TestPki, extra: Partial<{ certs: { cert: string, key: string }[] }> = {}): NonNullable<NonNullable<GatewayConfig['server']>['listen']> {
  return [{ host: '127.0.0.1', port: 0, http2: true, tls: { certs: extra.certs ?? [{ cert: pki.files.serverCert, key: pki.files.serverKey }] } }]
}

async function h2Gateway (t: TestContext, pki: TestPki, options: { origin?: OriginOptions, server?: NonNullable<GatewayConfig['server']>, routes?: GatewayConfig['routes'], metrics?: boolean } = {}): Promise<{ gw: RunningGateway, origin: Awaited<ReturnType<typeof startOrigin>> }> {
  const origin = await startOrigin(t, 'blue', options.origin)
  const gw = await startGateway(t, {
    server: { listen: h2Listen(pki), ...options.server },
    upstreams: { blue: { targets: [origin.address] } },
    routes: options.routes ?? [{ name: 'blue', upstream: 'blue' }],
    ...(options.metrics === true ? { metrics: { listen: { host: '127.0.0.1', port: 0 } } } : {})
  })
  return { gw, origin }
}

async function session (t: TestContext, port: number, ca: Buffer): Promise<ClientHttp2Session> {
  const client = connect(`https://localhost:${port}`, { ca })
  t.after(() => client.destroy())
  await within(new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject) }), 5000, 'the h2 session did not open')
  return client
}

interface H2Reply { status: number, headers: IncomingHttpHeaders, body: string }

async function h2Request (client: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string): Promise<H2Reply> {
  const stream = client.request(headers, { endStream: body === undefined })
  if (body !== undefined) stream.end(body)
  return await within(new Promise<H2Reply>((resolve, reject) => {
    let head: IncomingHttpHeaders = {}
    const chunks: Buffer[] = []
    stream.on('response', h => { head = h })
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks).toString() }))
    stream.on('error', reject)
  }), 5000, 'the h2 request got no answer')
}

async function curl (args: string[]): Promise<string> {
  return (await run('curl', ['-s', '--max-time', '10', ...args])).stdout
}

test('curl negotiates h2 by ALPN on an http2 listener', async (t) => {
  const pki = makePki(t)
  const { gw } = await h2Gateway(t, pki)
  const out = await curl(['--http2', '--cacert', pki.files.ca, '-w', '\n%{http_version}', `https://localhost:${gw.port}/`])
  assert.equal(out, 'Response from BLUE\n2')
})

test('a client that offers only HTTP/1.1 is served HTTP/1.1 on the same port', async (t) => {
  const pki = makePki(t)
  const { gw } = await h2Gateway(t, pki)
  const out = await curl(['--http1.1', '--cacert', pki.files.ca, '-w', '\n%{http_version}', `https://localhost:${gw.port}/`])
  assert.equal(out, 'Response from BLUE\n1.1')
})

test('h2 is negotiated with a certificate chosen by SNI too', async (t) => {
  const first = makePki(t, ['a.test'])
  const second = makePki(t, ['*.b.test'])
  const { gw } = await h2Gateway(t, first, {
    server: { listen: h2Listen(first, { certs: [{ cert: first.files.serverCert, key: first.files.serverKey }, { cert: second.files.serverCert, key: second.files.serverKey }] }) }
  })
  const out = await curl(['--http2', '--cacert', second.files.ca, '--resolve', `shop.b.test:${gw.port}:127.0.0.1`, '-w', '\n%{http_version}', `https://shop.b.test:${gw.port}/`])
  assert.equal(out, 'Response from BLUE\n2')
})

test('the test clients of the h2 pass (undici, allowH2) really speak h2', async (t) => {
  const pki = makePki(t)
  const { gw } = await h2Gateway(t, pki)
  const protocols: unknown[] = []
  // The gateway's own upstream connections (undici too, in this process) are not counted.
  const onConnected = (message: unknown): void => {
    const socket = (message as { socket: TLSSocket }).socket
    if (socket.remotePort === gw.port) protocols.push(socket.alpnProtocol)
  }
  subscribe('undici:client:connected', onConnected)
  t.after(() => unsubscribe('undici:client:connected', onConnected))
  const agent = new Agent({ allowH2: true, connect: { ca: pki.ca } })
  t.after(() => agent.close())
  const res = await request(`https://localhost:${gw.port}/`, { dispatcher: agent })
  assert.equal(await res.body.text(), 'Response from BLUE')
  assert.deepEqual(protocols, ['h2'])
})

test('an upstream\'s connection-specific response headers are dropped on h2 and the response arrives whole', async (t) => {
  const pki = makePki(t)
  const { gw } = await h2Gateway(t, pki, {
    origin: {
      handler: (_req, res) => {
        res.writeHead(200, { connection: 'keep-alive, x-hop', 'keep-alive': 'timeout=5', 'x-hop': '1', 'x-kept': 'yes', 'transfer-encoding': 'chunked' })
        res.end('hop-by-hop body')
      }
    }
  })
  const reply = await h2Request(await session(t, gw.port, pki.ca), { ':path': '/' })
  assert.deepEqual({ status: reply.status, body: reply.body, kept: reply.headers['x-kept'], hop: reply.headers['x-hop'], keepAlive: reply.headers['keep-alive'] },
    { status: 200, body: 'hop-by-hop body', kept: 'yes', hop: undefined, keepAlive: undefined })
})

test('connection-specific headers a hook sets are dropped on h2, where Node would refuse them', async (t) => {
  const pki = makePki(t)
  const { gw } = await h2Gateway(t, pki, {
    routes: [defineRoute({
      name: 'hooked',
      upstream: 'blue',
      hooks: { upstreamResponse (_request, reply) { reply.header('keep-alive', 'timeout=5').header('upgrade', 'h2c').header('x-kept', 'yes') } }
    })]
  })
  const reply = await h2Request(await session(t, gw.port, pki.ca), { ':path': '/' })
  assert.deepEqual({ status: reply.status, body: reply.body, kept: reply.headers['x-kept'], keepAlive: reply.headers['keep-alive'], upgrade: reply.headers.upgrade },
    { status: 200, body: 'Response from BLUE', kept: 'yes', keepAlive: undefined, upgrade: undefined })
})

test('an error answered before the request body was read (413) reaches an h2 client as the JSON error', async (t) => {
  const pki = makePki(t)
  const { gw, origin } = await h2Gateway(t, pki, { server: { limits: { bodyLimit: 100 } } })
  const client = await session(t, gw.port, pki.ca)
  const stream = client.request({ ':method': 'POST', ':path': '/', 'content-length': '1000' }, { endStream: false })
  const reply = await within(new Promise<H2Reply>((resolve, reject) => {
    let head: IncomingHttpHeaders = {}
    const chunks: Buffer[] = []
    stream.on('response', h => { head = h })
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks).toString() }))
    stream.on('error', reject)
  }), 5000, 'no answer to the oversized POST')
  assert.equal(reply.status, 413)
  assert.equal((JSON.parse(reply.body) as { error: { code: string } }).error.code, 'PAYLOAD_TOO_LARGE')
  assert.equal(origin.received.length, 0)
})

test(':authority routes like Host, and the upstream gets it as Host and no pseudo-header', async (t) => {
  const pki = makePki(t)
  const other = await startOrigin(t, 'green')
  const origin = await startOrigin(t, 'blue')
  const gw = await startGateway(t, {
    server: { listen: h2Listen(pki) },
    upstreams: { blue: { targets: [origin.address] }, green: { targets: [other.address] } },
    routes: [{ name: 'shop', match: { host: 'shop.test' }, upstream: 'green' }, { name: 'rest', upstream: 'blue' }]
  })
  const reply = await h2Request(await session(t, gw.port, pki.ca), { ':path': '/x?y=1', ':authority': 'shop.test' })
  assert.equal(reply.body, 'Response from GREEN')
  const received = other.received[0]
  assert.equal(received?.headers.host, 'shop.test')
  assert.equal(received?.url, '/x?y=1')
  assert.deepEqual(Object.keys(received?.headers ?? {}).filter(name => name.startsWith(':')), [])
})

test('a Host header naming another host than :authority is refused with 400', async (t) => {
  const pki = makePki(t)
  const { gw, origin } = await h2Gateway(t, pki)
  const reply = await h2Request(await session(t, gw.port, pki.ca), { ':path': '/', ':authority': 'a.test', host: 'b.test' })
  assert.equal(reply.status, 400)
  assert.equal((JSON.parse(reply.body) as { error: { code: string } }).error.code, 'BAD_REQUEST')
  assert.equal(origin.received.length, 0)
})

test('an :authority with a port past 65535 is refused with 400', async (t) => {
  const pki = makePki(t)
  const { gw, origin } = await h2Gateway(t, pki)
  const reply = await h2Request(await session(t, gw.port, pki.ca), { ':path': '/', ':authority': 'a.test:99999' })
  assert.equal(reply.status, 400)
  assert.equal(origin.received.length, 0)
})

test('an :authority with characters a host cannot have never reaches the upstream', async (t) => {
  const pki = makePki(t)
  const { gw, origin } = await h2Gateway(t, pki)
  const client = await session(t, gw.port, pki.ca)
  // Node's HTTP/2 layer may reset such a stream itself; either way it goes no further.
  const outcome = await h2Request(client, { ':path': '/', ':authority': 'evil.test/@other' }).then(reply => reply.status, () => 'reset')
  assert.ok(outcome === 400 || outcome === 'reset', `answered ${String(outcome)}`)
  assert.equal(origin.received.length, 0)
})

test('an h2 request body without Content-Length reaches the upstream whole', async (t) => {
  const pki = makePki(t)
  const { gw, origin } = await h2Gateway(t, pki)
  const client = await session(t, gw.port, pki.ca)
  const stream = client.request({ ':method': 'POST', ':path': '/' }, { endStream: false })
  stream.write('first half, ')
  const reply = await h2Request(client, { ':path': '/other' }) // another stream interleaved
  assert.equal(reply.status, 200)
  stream.end('second half')
  await within(new Promise<void>(resolve => { stream.on('response', () => undefined); stream.resume(); stream.on('end', () => resolve()) }), 5000, 'no answer to the POST')
  const post = origin.received.find(r => r.method === 'POST')
  assert.equal(post?.body, 'first half, second half')
})

test('an h2 GET whose HEADERS end the stream is sent upstream without a body', async (t) => {
  const pki = makePki(t)
  const { gw, origin } = await h2Gateway(t, pki)
  await h2Request(await session(t, gw.port, pki.ca), { ':path': '/' })
  const received = origin.received[0]
  assert.equal(received?.headers['transfer-encoding'], undefined)
  assert.equal(received?.body, '')
})

test('more request headers than maxHeaders over h2 get 431', async (t) => {
  const pki = makePki(t)
  const { gw, origin } = await h2Gateway(t, pki, { server: { limits: { maxHeaders: 10 } } })
  const headers: OutgoingHttpHeaders = { ':path': '/' }
  for (let i = 0; i < 11; i++) headers[`x-h${i}`] = 'v'
  const client = await session(t, gw.port, pki.ca)
  assert.equal((await h2Request(client, headers)).status, 431)
  delete headers['x-h10']
  assert.equal((await h2Request(client, headers)).status, 200)
  assert.equal(origin.received.length, 1)
})

test('an h2 request body that never ends gets 408 after requestTimeout', async (t) => {
  const pki = makePki(t)
  const { gw } = await h2Gateway(t, pki, { server: { limits: { requestTimeout: '300ms', headersTimeout: '300ms' } } })
  const client = await session(t, gw.port, pki.ca)
  const stream = client.request({ ':method': 'POST', ':path': '/' }, { endStream: false })
  stream.write('part of a body')
  const started = performance.now()
  const status = await within(new Promise<number>(resolve => stream.on('response', h => resolve(Number(h[':status'])))), 3000, 'no answer to the unfinished body')
  assert.equal(status, 408)
  assert.ok(performance.now() - started >= 250, 'answered before the deadline')
})

test('the listener advertises a bound on concurrent streams per connection', async (t) => {
  const pki = makePki(t)
  const { gw } = await h2Gateway(t, pki)
  const client = connect(`https://localhost:${gw.port}`, { ca: pki.ca })
  t.after(() => client.destroy())
  const settings = await within(new Promise<{ maxConcurrentStreams?: number }>(resolve => client.once('remoteSettings', resolve)), 5000, 'no SETTINGS from the gateway')
  assert.equal(settings.maxConcurrentStreams, 128)
})

test('a session that opens no stream is closed after headersTimeout', async (t) => {
  const pki = makePki(t)
  const { gw } = await h2Gateway(t, pki, { server: { limits: { headersTimeout: '300ms' } } })
  const client = await session(t, gw.port, pki.ca)
  await within(new Promise<void>(resolve => client.once('close', () => resolve())), 3000, 'the silent session was not closed')
})

test('closing the gateway sends GOAWAY and lets an h2 request in flight finish', async (t) => {
  const pki = makePki(t)
  let release!: () => void
  const released = new Promise<void>(resolve => { release = resolve })
  let arrived!: () => void
  const arrival = new Promise<void>(resolve => { arrived = resolve })
  const { gw } = await h2Gateway(t, pki, { origin: { handler: (_req, res) => { arrived(); void released.then(() => res.end('finished')) } } })
  const client = await session(t, gw.port, pki.ca)
  const goaway = new Promise<number>(resolve => client.once('goaway', (code: number) => resolve(code)))
  const pending = h2Request(client, { ':path': '/' })
  await within(arrival, 5000, 'the request did not reach the upstream')
  const closing = gw.gateway.close(5000)
  assert.equal(await within(goaway, 3000, 'no GOAWAY'), constants.NGHTTP2_NO_ERROR)
  release()
  const reply = await pending
  assert.deepEqual({ status: reply.status, body: reply.body }, { status: 200, body: 'finished' })
  await within(closing, 5000, 'the gateway did not finish closing')
})

test('an h2 CONNECT stream gets the JSON 400 BAD_REQUEST, and nothing reaches the upstream', async (t) => {
  const pki = makePki(t)
  const { gw, origin } = await h2Gateway(t, pki)
  const client = await session(t, gw.port, pki.ca)
  const reply = await h2Request(client, { ':method': 'CONNECT', ':authority': 'elsewhere.test:443' })
  assert.equal(reply.status, 400)
  assert.equal((JSON.parse(reply.body) as { error: { code: string } }).error.code, 'BAD_REQUEST')
  assert.equal(typeof reply.headers['x-request-id'], 'string')
  assert.equal(origin.received.length, 0)
})

test('hooks over h2 see the pseudo-header fields and a host; the upstreamRequest hook\'s headers hold no pseudo-header', async (t) => {
  const pki = makePki(t)
  const seen: Record<string, unknown> = {}
  const { gw } = await h2Gateway(t, pki, {
    routes: [{
      name: 'blue',
      upstream: 'blue',
      hooks: {
        onRequest (request) {
          Object.assign(seen, { version: request.raw.httpVersion, method: request.headers[':method'], path: request.headers[':path'], authority: request.headers[':authority'], host: request.headers.host })
        },
        upstreamRequest (_request, headers) {
          seen.pseudo = Object.keys(headers).filter(name => name.startsWith(':'))
        }
      }
    }]
  })
  const client = await session(t, gw.port, pki.ca)
  assert.equal((await h2Request(client, { ':path': '/seen?x=1' })).status, 200)
  assert.deepEqual(seen, { version: '2.0', method: 'GET', path: '/seen?x=1', authority: `localhost:${gw.port}`, host: `localhost:${gw.port}`, pseudo: [] })
})

test('a session dropped with streams in flight, in the route\'s hooks and upstream, leaves no upstream exchange behind', async (t) => {
  const pki = makePki(t)
  const IN_FLIGHT = 10
  let originReleased!: () => void
  const originRelease = new Promise<void>(resolve => { originReleased = resolve })
  let hookReleased!: () => void
  const hookRelease = new Promise<void>(resolve => { hookReleased = resolve })
  let counted = 0
  let bothHeld!: () => void
  const held = new Promise<void>(resolve => { bothHeld = resolve })
  const hold = (): void => { if (++counted === 2 * IN_FLIGHT) bothHeld() }
  let closes = 0
  let allClosed!: () => void
  const closed = new Promise<void>(resolve => { allClosed = resolve })
  const origin = await startOrigin(t, 'blue', {
    handler: (req, res) => {
      if (req.url === '/upstream') {
        hold()
        void originRelease.then(() => res.end('late'))
      } else res.end('ok')
    }
  })
  const gw = await startGateway(t, {
    server: { listen: h2Listen(pki), accessLog: true },
    upstreams: { blue: { targets: [origin.address] } },
    routes: [{
      name: 'blue',
      upstream: 'blue',
      hooks: {
        async onRequest (request) {
          if (request.url !== '/hook') return
          hold()
          await hookRelease
        }
      }
    }]
  }, { logLevel: 'info', logTo: (line) => { if ((JSON.parse(line) as { status?: number }).status === 499 && ++closes === 2 * IN_FLIGHT) allClosed() } })
  const client = await session(t, gw.port, pki.ca)
  for (let i = 0; i < IN_FLIGHT; i++) {
    for (const path of ['/upstream', '/hook']) client.request({ ':path': path }).on('error', () => {})
  }
  await within(held, 5000, 'the requests did not all reach the upstream and the hook')
  client.destroy()
  await within(closed, 5000, 'the gateway did not see every stream close')
  hookReleased()
  originReleased()
  const after = await session(t, gw.port, pki.ca)
  assert.equal((await h2Request(after, { ':path': '/after' })).status, 200)
  assert.equal(origin.received.filter(r => r.url === '/hook').length, 0, 'requests whose client left in the hooks went upstream')
  assert.equal(gw.gateway.liveUpstreams.get('blue')?.targets[0]?.inflight, 0)
  after.destroy()
  await within(gw.gateway.close(10_000), 3000, 'closing waited on an upstream exchange nobody reads')
})

test('an h2 session opened before a reload keeps being served, by the new config', async (t) => {
  const pki = makePki(t)
  const { gw, origin } = await h2Gateway(t, pki)
  const client = await session(t, gw.port, pki.ca)
  assert.equal((await h2Request(client, { ':path': '/' })).status, 200)
  await gw.gateway.apply({
    server: { accessLog: false, logLevel: 'silent', listen: h2Listen(pki) as unknown as Record<string, unknown>[] },
    upstreams: { blue: { targets: [origin.address] } },
    routes: [{ name: 'blue', upstream: 'blue', responseHeaders: { set: { 'x-config': 'two' } } }]
  })
  const after = await h2Request(client, { ':path': '/' })
  assert.deepEqual({ status: after.status, config: after.headers['x-config'], closed: client.closed }, { status: 200, config: 'two', closed: false })
})

test('HTTP/1.1 on an http2 listener gets the listener\'s header limits (431)', async (t) => {
  const pki = makePki(t)
  const { gw, origin } = await h2Gateway(t, pki, { server: { limits: { maxHeaderSize: '1kb' } } })
  const out = await curl(['--http1.1', '--cacert', pki.files.ca, '-H', `x-big: ${'a'.repeat(2000)}`, '-w', '\n%{http_code} %{http_version}', `https://localhost:${gw.port}/`])
  assert.match(out, /\n431 1\.1$/)
  assert.equal(origin.received.length, 0)
})

test('bytes that are not HTTP/2 after ALPN chose h2 close that connection; the listener keeps serving', async (t) => {
  const pki = makePki(t)
  const { gw } = await h2Gateway(t, pki)
  const socket = tlsConnect({ host: '127.0.0.1', port: gw.port, ca: pki.ca, servername: 'localhost', ALPNProtocols: ['h2'] })
  t.after(() => socket.destroy())
  await within(new Promise<void>(resolve => socket.once('secureConnect', () => resolve())), 5000, 'no handshake')
  assert.equal(socket.alpnProtocol, 'h2')
  socket.resume()
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n' + 'x'.repeat(100))
  await within(new Promise<void>(resolve => socket.once('close', () => resolve())), 5000, 'the connection stayed open')
  const reply = await h2Request(await session(t, gw.port, pki.ca), { ':path': '/' })
  assert.equal(reply.status, 200)
})

test('an HTTP/1.1 client on an http2 listener that sends its headers too slowly gets 408', async (t) => {
  const pki = makePki(t)
  const { gw } = await h2Gateway(t, pki, { server: { limits: { headersTimeout: '300ms', requestTimeout: '20s' } } })
  const socket = tlsConnect({ host: '127.0.0.1', port: gw.port, ca: pki.ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] })
  t.after(() => socket.destroy())
  await within(new Promise<void>(resolve => socket.once('secureConnect', () => resolve())), 5000, 'no handshake')
  let text = ''
  socket.on('data', (c: Buffer) => { text += c.toString('latin1') })
  socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n')
  await within(new Promise<void>(resolve => socket.once('close', () => resolve())), 3000, 'the slow client was not cut')
  assert.match(text, /^HTTP\/1\.1 408 /)
})

test('h2 requests are counted in the metrics, and leave the in-flight gauge when they end', async (t) => {
  const pki = makePki(t)
  const { gw } = await h2Gateway(t, pki, { metrics: true })
  const client = await session(t, gw.port, pki.ca)
  for (let i = 0; i < 3; i++) assert.equal((await h2Request(client, { ':path': '/' })).status, 200)
  const text = await metricsText(gw.gateway)
  assert.equal(sample(text, 'tollgate_requests_total', { route: 'blue', method: 'GET', status: '200' }), 3)
  assert.equal(sample(text, 'tollgate_inflight_requests', { route: 'blue' }), 0)
})

test('h2 request headers larger than maxHeaderSize get 431 and never reach the upstream', async (t) => {
  const pki = makePki(t)
  const { gw, origin } = await h2Gateway(t, pki, { server: { limits: { maxHeaderSize: '1kb' } } })
  const client = await session(t, gw.port, pki.ca)
  assert.equal((await h2Request(client, { ':path': '/', 'x-big': 'a'.repeat(4000) })).status, 431)
  assert.equal(origin.received.length, 0)
  const fresh = await session(t, gw.port, pki.ca)
  assert.equal((await h2Request(fresh, { ':path': '/' })).status, 200)
})

test('an h2 request reaches the upstream with x-forwarded-proto: https', async (t) => {
  const pki = makePki(t)
  const { gw, origin } = await h2Gateway(t, pki)
  await h2Request(await session(t, gw.port, pki.ca), { ':path': '/' })
  assert.equal(origin.received[0]?.headers['x-forwarded-proto'], 'https')
})

test('a reload reads an h2 listener\'s certificate files again; an h2 session opened before keeps its certificate', async (t) => {
  const dir = tempFolder(t)
  const one = makePki(t)
  const two = makePki(t)
  copyFileSync(one.files.serverCert, join(dir, 'server.crt'))
  copyFileSync(one.files.serverKey, join(dir, 'server.key'))
  const origin = await startOrigin(t, 'blue')
  const config = (): GatewayConfig => ({
    server: { accessLog: false, logLevel: 'silent', listen: [{ host: '127.0.0.1', port: 0, http2: true, tls: { certs: [{ cert: join(dir, 'server.crt'), key: join(dir, 'server.key') }] } }] },
    upstreams: { blue: { targets: [origin.address] } },
    routes: [{ name: 'blue', upstream: 'blue' }]
  })
  const gw = await startGateway(t, config())
  const cas = Buffer.concat([one.ca, two.ca])
  const before = await session(t, gw.port, cas)
  copyFileSync(two.files.serverCert, join(dir, 'server.crt'))
  copyFileSync(two.files.serverKey, join(dir, 'server.key'))
  const next = config()
  await gw.gateway.apply({ ...next, server: { ...next.server, listen: [{ ...(next.server?.listen?.[0] ?? { port: 0 }), port: gw.port }] } } as unknown as Record<string, unknown>)
  const after = await session(t, gw.port, cas)
  const printOf = (s: ClientHttp2Session): string | undefined => (s.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256
  assert.equal(printOf(after), new X509Certificate(two.serverCert).fingerprint256)
  assert.equal(printOf(before), new X509Certificate(one.serverCert).fingerprint256)
  assert.equal((await h2Request(before, { ':path': '/' })).status, 200)
})
