/**
 * HTTP/2 upstreams (`protocol: h2` over TLS with ALPN, `protocol: h2c` by prior knowledge)
 * reached by HTTP/1.1 clients: multiplexing, GOAWAY, deadlines, retries, streaming both
 * ways, trailers, and origins that misbehave on purpose.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { request } from 'undici'
import { createServer as createH2Server, type ServerHttp2Stream } from 'node:http2'
import { join } from 'node:path'
import { tempFolder } from '../helpers/files.js'
import { startH2Origin, startRawH2Origin, answerH2, h2Frame, h2HeaderFrames, h2Reset, hpackLiteral, H2_HEADERS_200 } from '../helpers/h2-origin.js'
import { startOrigin } from '../helpers/origin.js'
import { makePki } from '../helpers/certs.js'
import { startGateway } from '../helpers/gateway.js'
import { startBlackhole } from '../helpers/blackhole.js'
import { refusedPort } from '../helpers/ports.js'
import { client, rawExchange, type ErrorBody } from '../helpers/client.js'
import { eventually, pollUntil, within } from '../helpers/deadline.js'
import { metricsText, sample } from '../helpers/metrics.js'

test('an HTTP/1.1 client reaches an h2c-only origin through the gateway', async (t) => {
  const up = await startH2Origin(t, answerH2('Response from H2C'))
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address], protocol: 'h2c' } }, routes: [{ name: 'r', upstream: 'up' }] })
  const res = await client(t)(`${gw.url}/hello?x=1`, { headers: { host: 'app.local' } })
  assert.equal(res.status, 200)
  assert.equal(res.text, 'Response from H2C')
  assert.equal(up.requests[0]?.[':path'], '/hello?x=1')
  assert.equal(up.requests[0]?.[':authority'], 'app.local', 'Host becomes :authority')
  assert.equal(up.requests[0]?.['x-forwarded-host'], 'app.local')
})

test('h2c: connection-specific request headers are not sent, and TE: trailers is', async (t) => {
  const up = await startH2Origin(t, answerH2('ok'))
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address], protocol: 'h2c' } }, routes: [{ name: 'r', upstream: 'up' }] })
  // A chunked POST, Keep-Alive, Proxy-Connection, a header Connection names, TE with a coding besides trailers.
  const raw = await rawExchange(gw.port, 'POST /x HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive, x-hop\r\nKeep-Alive: timeout=5\r\n' +
    'Proxy-Connection: keep-alive\r\nX-Hop: secret\r\nTE: trailers, deflate;q=0.5\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', { timeoutMs: 2000 })
  assert.match(raw.data, /^HTTP\/1\.1 200 /)
  const seen = up.requests[0] ?? {}
  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'x-hop']) {
    assert.equal(seen[name], undefined, `${name} reached the h2 origin`)
  }
  assert.equal(seen.te, 'trailers')
  assert.equal(seen[':authority'], 'a.test')
})

test('h2c: a Unix-socket target is reached through its socket path', async (t) => {
  const socketPath = join(tempFolder(t, 'tollgate-h2sock-'), 'app.sock')
  const server = createH2Server((_req, res) => { res.end(`over ${socketPath}`) })
  const sessions: import('node:http2').ServerHttp2Session[] = []
  server.on('session', (session) => sessions.push(session))
  await new Promise<void>(resolve => server.listen(socketPath, resolve))
  t.after(async () => {
    for (const session of sessions) session.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [{ socketPath }], protocol: 'h2c' } }, routes: [{ name: 'r', upstream: 'up' }] })
  const res = await client(t)(`${gw.url}/`)
  assert.equal(res.text, `over ${socketPath}`)
})

test('h2 over TLS: one session carries many concurrent streams', async (t) => {
  const pki = makePki(t)
  const waiting: ServerHttp2Stream[] = []
  const up = await startH2Origin(t, (stream) => {
    // Nobody is answered until all twenty are open at once: only multiplexing gets there.
    waiting.push(stream)
    if (waiting.length < 20) return
    for (const s of waiting.splice(0)) {
      s.respond({ ':status': 200 })
      s.end('TLS H2')
    }
  }, { pki })
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address], protocol: 'h2', tls: { ca: pki.files.ca, servername: 'localhost' } } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const get = client(t)
  const replies = await within(Promise.all(Array.from({ length: 20 }, async (_, i) => await get(`${gw.url}/${i}`))), 5000, 'the 20 requests were not multiplexed')
  assert.deepEqual(new Set(replies.map(r => `${r.status} ${r.text}`)), new Set(['200 TLS H2']))
  assert.equal(up.sessions.length, 1, 'one session')
  assert.equal(up.maxOpen, 20, 'twenty streams open at once')
})

test('h2: a certificate the upstream CA did not sign is refused with 502', async (t) => {
  const pki = makePki(t)
  const up = await startH2Origin(t, answerH2('never'), { pki })
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address], protocol: 'h2', tls: { ca: pki.files.otherCa, servername: 'localhost' }, retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const res = await client(t)(`${gw.url}/`)
  assert.equal(res.status, 502)
  assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
  assert.equal(up.requests.length, 0)
})

test('h2: the client certificate is presented to an origin that requires one (mTLS)', async (t) => {
  const pki = makePki(t)
  const up = await startH2Origin(t, (stream) => {
    const authorized = (stream.session?.socket as import('node:tls').TLSSocket).authorized
    stream.respond({ ':status': 200 })
    stream.end(`authorized=${String(authorized)}`)
  }, { pki, requestCert: true })
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address], protocol: 'h2', tls: { ca: pki.files.ca, servername: 'localhost', cert: pki.files.clientCert, key: pki.files.clientKey } } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const res = await client(t)(`${gw.url}/`)
  assert.equal(res.text, 'authorized=true')
})

test('an origin that sends GOAWAY mid-run: no request fails, and a new session takes over', async (t) => {
  let answered = 0
  const up = await startH2Origin(t, (stream) => {
    answered++
    // The tenth request triggers GOAWAY while others are in flight: those after the last
    // stream it names are refused, the others are still answered.
    if (answered === 10) stream.session?.goaway()
    setImmediate(() => {
      if (stream.closed) return
      stream.respond({ ':status': 200 })
      stream.end('ok')
    })
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address], protocol: 'h2c', retries: { attempts: 0 } } }, routes: [{ name: 'r', upstream: 'up' }] })
  const get = client(t)
  const statuses: number[] = []
  const worker = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) statuses.push((await get(`${gw.url}/`)).status)
  }
  await within(Promise.all([worker(), worker(), worker(), worker()]), 10_000, 'the requests did not finish')
  assert.equal(statuses.length, 40)
  assert.deepEqual(statuses.filter(s => s !== 200), [], 'every request succeeded')
  assert.ok(up.sessions.length >= 2, `a new session was opened (${up.sessions.length})`)
  assert.equal(gw.gateway.liveUpstreams.get('up')?.targets[0]?.inflight, 0)
})

test('h2c: a 100 ms connect timeout to a black-holed target answers 504 within 100-250 ms', async (t) => {
  const hole = await startBlackhole(t)
  const gw = await startGateway(t, {
    upstreams: { dark: { targets: [hole.address], protocol: 'h2c', retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'dark', timeouts: { connect: '100ms' } }]
  })
  const get = client(t)
  for (let i = 0; i < 3; i++) {
    const started = performance.now()
    const res = await get(`${gw.url}/`)
    const elapsed = performance.now() - started
    assert.equal(res.status, 504)
    assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_TIMEOUT')
    assert.ok(elapsed >= 95 && elapsed <= 250, `answered after ${elapsed.toFixed(0)} ms`)
  }
})

test('h2c: a response slower than timeouts.response answers 504, and the stream is cancelled', async (t) => {
  const cancelled: number[] = []
  const up = await startH2Origin(t, (stream) => {
    stream.once('close', () => cancelled.push(stream.rstCode ?? -1))
  })
  const gw = await startGateway(t, {
    upstreams: { slow: { targets: [up.address], protocol: 'h2c', timeouts: { response: '300ms' }, retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'slow' }]
  })
  const started = performance.now()
  const res = await client(t)(`${gw.url}/`)
  const elapsed = performance.now() - started
  assert.equal(res.status, 504)
  assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_TIMEOUT')
  assert.ok(elapsed >= 290 && elapsed < 900, `answered after ${elapsed.toFixed(0)} ms`)
  await eventually(() => cancelled.length === 1, 2000, 'the upstream stream was not reset')
  assert.equal(cancelled[0], 8, 'RST_STREAM CANCEL')
  assert.equal(gw.gateway.liveUpstreams.get('slow')?.targets[0]?.inflight, 0)
})

test('h2c: a body that stalls longer than timeouts.response is cut, and the stream is cancelled', async (t) => {
  const cancelled: number[] = []
  const up = await startH2Origin(t, (stream) => {
    stream.once('close', () => cancelled.push(stream.rstCode ?? -1))
    stream.respond({ ':status': 200 })
    stream.write('first part;')
  })
  const gw = await startGateway(t, {
    upstreams: { slow: { targets: [up.address], protocol: 'h2c', timeouts: { response: '300ms' } } },
    routes: [{ name: 'r', upstream: 'slow' }]
  })
  const res = await rawExchange(gw.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 5000 })
  assert.match(res.data, /first part;/)
  assert.ok(res.closedByServer, 'the client connection was closed')
  assert.ok(res.elapsedMs >= 290 && res.elapsedMs < 1500, `cut after ${res.elapsedMs.toFixed(0)} ms`)
  assert.doesNotMatch(res.data, /\r\n0\r\n\r\n$/)
  await eventually(() => cancelled.length === 1, 2000, 'the upstream stream was not reset')
  assert.equal(cancelled[0], 8)
})

test('h2c: a refused connection is retried on the next target', async (t) => {
  const port = await refusedPort(t)
  const up = await startH2Origin(t, answerH2('second'))
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [`127.0.0.1:${port}`, up.address], protocol: 'h2c', retries: { attempts: 1 } } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const get = client(t)
  for (let i = 0; i < 4; i++) {
    const res = await get(`${gw.url}/`)
    assert.equal(res.status, 200)
    assert.equal(res.text, 'second')
  }
})

test('h2c: a refused connection without retries answers 502 UPSTREAM_UNAVAILABLE', async (t) => {
  const port = await refusedPort(t)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [`127.0.0.1:${port}`], protocol: 'h2c', retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const res = await client(t)(`${gw.url}/`)
  assert.equal(res.status, 502)
  assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
})

test('h2c: a request body is streamed up as the client sends it', async (t) => {
  let firstChunk: (() => void) | null = null
  const firstArrived = new Promise<void>(resolve => { firstChunk = resolve })
  const up = await startH2Origin(t, (stream) => {
    const hash = createHash('sha256')
    let size = 0
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length
      hash.update(chunk)
      firstChunk?.()
    })
    stream.on('end', () => {
      stream.respond({ ':status': 200 })
      stream.end(`${size} ${hash.digest('hex')}`)
    })
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address], protocol: 'h2c' } }, routes: [{ name: 'r', upstream: 'up' }] })
  const part = Buffer.alloc(1 << 20, 'a')
  const body = new Readable({ read () {} })
  const expected = createHash('sha256')
  body.push(part)
  expected.update(part)
  const pending = request(`${gw.url}/upload`, { method: 'POST', body })
  // The origin has the first megabyte while the client still holds the rest back.
  await within(firstArrived, 5000, 'the first part never reached the origin')
  for (let i = 0; i < 3; i++) {
    body.push(part)
    expected.update(part)
  }
  body.push(null)
  const res = await within(pending, 5000, 'no response')
  assert.equal(res.statusCode, 200)
  assert.equal(await res.body.text(), `${4 << 20} ${expected.digest('hex')}`)
})

test('h2c: a large response body is streamed down with backpressure', async (t) => {
  const total = 64 << 20
  const chunk = Buffer.alloc(64 << 10, 'z')
  let written = 0
  let blocked = false
  const up = await startH2Origin(t, (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' })
    const pump = (): void => {
      while (written < total) {
        written += chunk.length
        if (!stream.write(chunk)) {
          blocked = true
          stream.once('drain', () => { blocked = false; pump() })
          return
        }
      }
      stream.end()
    }
    pump()
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address], protocol: 'h2c' } }, routes: [{ name: 'r', upstream: 'up' }] })
  const res = await request(`${gw.url}/big`)
  assert.equal(res.statusCode, 200)
  // The client reads nothing yet: the origin must be held back long before the end.
  await eventually(() => blocked, 5000, 'the origin was never held back')
  // Held: no byte written for one polling interval, while waiting for 'drain'.
  let last = -1
  await pollUntil(async () => {
    const held = blocked && written === last
    last = written
    return held
  }, 50, 5000, 'the origin kept writing')
  assert.ok(written < total / 2, `the origin wrote ${written} bytes of ${total} while the client read nothing`)
  let received = 0
  for await (const part of res.body) received += (part as Buffer).length
  assert.equal(received, total)
})

test('h2c: response trailers reach a client that sent TE: trailers, and only such a client', async (t) => {
  const up = await startH2Origin(t, (stream, headers) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-saw-te': String(headers.te) }, { waitForTrailers: true })
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'fine' }))
    stream.write('part one;')
    stream.end('part two')
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address], protocol: 'h2c' } }, routes: [{ name: 'r', upstream: 'up' }] })
  const asked = await rawExchange(gw.port, 'POST /pkg.Svc/Call HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
  assert.match(asked.data, /^x-saw-te: trailers\r$/mi)
  assert.match(asked.data, /^transfer-encoding: chunked\r$/mi)
  assert.match(asked.data, /\r\n0\r\ngrpc-status: 0\r\ngrpc-message: fine\r\n\r\n$/i)
  const plain = await rawExchange(gw.port, 'POST /pkg.Svc/Call HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
  assert.match(plain.data, /part two\r\n0\r\n\r\n$/)
  assert.doesNotMatch(plain.data, /grpc-status/i)
})

test('h2c: a trailers-only response (status in the headers, no body) passes through', async (t) => {
  const up = await startH2Origin(t, (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'unimplemented' }, { endStream: true })
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address], protocol: 'h2c' } }, routes: [{ name: 'r', upstream: 'up' }] })
  const res = await client(t)(`${gw.url}/pkg.Svc/Missing`, { method: 'POST', headers: { te: 'trailers', 'content-type': 'application/grpc' }, body: '' })
  assert.equal(res.status, 200)
  assert.equal(res.headers['grpc-status'], '12')
  assert.equal(res.headers['grpc-message'], 'unimplemented')
  assert.equal(res.text, '')
})

test('h2c: an origin that resets the stream before answering gives 502, and the gateway serves on', async (t) => {
  const up = await startRawH2Origin(t, (socket, id) => socket.write(h2Reset(id, 2)))
  const good = await startH2Origin(t, answerH2('fine'))
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address], protocol: 'h2c', retries: { attempts: 0 } }, good: { targets: [good.address], protocol: 'h2c' } },
    routes: [{ name: 'bad', upstream: 'up', match: { path: '/bad' } }, { name: 'good', upstream: 'good' }]
  })
  const get = client(t)
  const res = await get(`${gw.url}/bad`)
  assert.equal(res.status, 502)
  assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
  assert.equal((await get(`${gw.url}/ok`)).text, 'fine')
  assert.equal(gw.gateway.liveUpstreams.get('up')?.targets[0]?.inflight, 0)
})

test('h2c: a stream reset before the response is retried on the next target (a connect error)', async (t) => {
  const resetting = await startRawH2Origin(t, (socket, id) => socket.write(h2Reset(id, 2)))
  const good = await startH2Origin(t, answerH2('second'))
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [resetting.address, good.address], protocol: 'h2c', retries: { attempts: 1 } } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const get = client(t)
  for (let i = 0; i < 4; i++) assert.equal((await get(`${gw.url}/`)).text, 'second')
})

test('h2c: an origin that resets the stream mid-body cuts the client off, and the gateway serves on', async (t) => {
  const up = await startRawH2Origin(t, (socket, id) => {
    socket.write(Buffer.concat([H2_HEADERS_200(id), h2Frame(0, 0, id, Buffer.alloc(1000, 'a')), h2Reset(id, 2)]))
  })
  const good = await startH2Origin(t, answerH2('fine'))
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address], protocol: 'h2c' }, good: { targets: [good.address], protocol: 'h2c' } },
    routes: [{ name: 'bad', upstream: 'up', match: { path: '/cut' } }, { name: 'good', upstream: 'good' }]
  })
  const res = await rawExchange(gw.port, 'GET /cut HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 3000 })
  assert.match(res.data, /^HTTP\/1\.1 200 /)
  assert.match(res.data, /a{1000}/, 'the part that arrived was passed on')
  assert.ok(res.closedByServer && res.elapsedMs < 2900, 'the connection was closed, not left hanging')
  assert.doesNotMatch(res.data, /\r\n0\r\n\r\n$/, 'the truncated body was not presented as complete')
  assert.equal((await client(t)(`${gw.url}/ok`)).text, 'fine')
  assert.equal(gw.gateway.liveUpstreams.get('up')?.targets[0]?.inflight, 0)
})

test('h2c: an origin that destroys its session mid-request gives 502, and the next request gets a new session', async (t) => {
  const up = await startH2Origin(t, (stream, headers) => {
    if (headers[':path'] === '/ok') {
      stream.respond({ ':status': 200 })
      stream.end('fine')
      return
    }
    stream.session?.destroy()
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address], protocol: 'h2c', retries: { attempts: 0 } } }, routes: [{ name: 'r', upstream: 'up' }] })
  const get = client(t)
  const res = await get(`${gw.url}/die`)
  assert.equal(res.status, 502)
  assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
  assert.equal((await get(`${gw.url}/ok`)).text, 'fine')
  assert.equal(up.sessions.length, 2)
})

test('h2c: a response header block over 64 KiB gives 502, and the gateway serves on', async (t) => {
  const fields: Buffer[] = [Buffer.from([0x88])]
  for (let i = 0; i < 60; i++) fields.push(hpackLiteral(`x-junk-${i}`, 'j'.repeat(1500)))
  const block = Buffer.concat(fields)
  const up = await startRawH2Origin(t, (socket, id) => socket.write(h2HeaderFrames(id, block, true)))
  const good = await startH2Origin(t, answerH2('fine'))
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address], protocol: 'h2c', retries: { attempts: 0 } }, good: { targets: [good.address], protocol: 'h2c' } },
    routes: [{ name: 'bad', upstream: 'up', match: { path: '/huge' } }, { name: 'good', upstream: 'good' }]
  })
  const get = client(t)
  const res = await within(get(`${gw.url}/huge`), 5000, 'no answer')
  assert.equal(res.status, 502)
  assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
  assert.equal((await get(`${gw.url}/ok`)).text, 'fine')
})

test('h2c: a response of more than 256 header fields gives 502', async (t) => {
  const fields: Buffer[] = [Buffer.from([0x88])]
  for (let i = 0; i < 300; i++) fields.push(hpackLiteral(`x-f${i}`, 'v'))
  const block = Buffer.concat(fields)
  const up = await startRawH2Origin(t, (socket, id) => socket.write(h2HeaderFrames(id, block, true)))
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address], protocol: 'h2c', retries: { attempts: 0 } } }, routes: [{ name: 'r', upstream: 'up' }] })
  const res = await within(client(t)(`${gw.url}/`), 5000, 'no answer')
  assert.equal(res.status, 502)
  assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
})

test('h2c: responses HTTP/2 forbids or the gateway cannot pass on give 502, and the gateway serves on', async (t) => {
  // HPACK literals with the indexed name :status (static index 8), and one connection-specific header.
  const literal = (nameIndex: number, value: string): Buffer => Buffer.concat([Buffer.from([nameIndex, value.length]), Buffer.from(value, 'latin1')])
  const blocks: Record<string, Buffer> = {
    '/letters': literal(0x08, 'abc'),
    '/nine-nine-nine': literal(0x08, '999'),
    '/switching': literal(0x08, '101'),
    '/connection': Buffer.concat([Buffer.from([0x88, 0x00, 10]), Buffer.from('connection'), Buffer.from([5]), Buffer.from('close')])
  }
  const paths = Object.keys(blocks)
  let next = 0
  const up = await startRawH2Origin(t, (socket, id) => {
    const block = blocks[paths[next++ % paths.length] as string] as Buffer
    socket.write(Buffer.concat([h2Frame(1, 0x4 | 0x1, id, block)]))
  })
  const good = await startH2Origin(t, answerH2('fine'))
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address], protocol: 'h2c', retries: { attempts: 0 } }, good: { targets: [good.address], protocol: 'h2c' } },
    routes: [{ name: 'bad', upstream: 'up', match: { path: '/bad/*' } }, { name: 'good', upstream: 'good' }]
  })
  const get = client(t)
  for (const path of paths) {
    const res = await within(get(`${gw.url}/bad${path}`), 5000, `${path}: no answer`)
    assert.equal(res.status, 502, path)
    assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE', path)
  }
  assert.equal((await get(`${gw.url}/ok`)).text, 'fine')
  assert.equal(gw.gateway.liveUpstreams.get('up')?.targets[0]?.inflight, 0)
})

test('h2c: an origin that allows no stream at all costs at most one connection per request, which times out with 504', async (t) => {
  // SETTINGS_MAX_CONCURRENT_STREAMS (0x3) = 0.
  const none = Buffer.from([0x00, 0x03, 0x00, 0x00, 0x00, 0x00])
  const up = await startRawH2Origin(t, () => undefined, none)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address], protocol: 'h2c', timeouts: { response: '300ms' }, retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const get = client(t)
  const first = await within(get(`${gw.url}/`), 3000, 'no answer')
  assert.equal(first.status, 504)
  const replies = await within(Promise.all(Array.from({ length: 10 }, async () => await get(`${gw.url}/`))), 3000, 'no answers')
  assert.deepEqual(new Set(replies.map(r => r.status)), new Set([504]))
  assert.ok(up.connections() <= 11, `${up.connections()} connections for 11 requests`)
})

test('h2c: a response header with a control character in its value never reaches the client, and the gateway serves on', async (t) => {
  // :status 200, then a literal header x-bad: "a\x01b" (new name, without indexing).
  const block = Buffer.concat([Buffer.from([0x88, 0x00, 5]), Buffer.from('x-bad'), Buffer.from([3, 0x61, 0x01, 0x62])])
  const up = await startRawH2Origin(t, (socket, id) => socket.write(h2Frame(1, 0x4 | 0x1, id, block)))
  const good = await startH2Origin(t, answerH2('fine'))
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address], protocol: 'h2c', retries: { attempts: 0 } }, good: { targets: [good.address], protocol: 'h2c' } },
    routes: [{ name: 'bad', upstream: 'up', match: { path: '/bad' } }, { name: 'good', upstream: 'good' }]
  })
  const res = await rawExchange(gw.port, 'GET /bad HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { timeoutMs: 3000 })
  // nghttp2 drops the malformed field (HTTP/1.1's parser refuses the whole response instead).
  assert.match(res.data, /^HTTP\/1\.1 200 /)
  assert.doesNotMatch(res.data, /x-bad/)
  assert.equal((await client(t)(`${gw.url}/ok`)).text, 'fine')
})

test('h2c: an HTTP/1.1-only target fails with 502, not a hang', async (t) => {
  const h1 = await startOrigin(t, 'h1')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [h1.address], protocol: 'h2c', retries: { attempts: 0 }, timeouts: { response: '5s' } } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const started = performance.now()
  const res = await client(t)(`${gw.url}/`)
  assert.equal(res.status, 502)
  assert.ok(performance.now() - started < 2000, 'answered at once')
})

test('h2c: an active HTTP health check speaks HTTP/2 and keeps the target healthy', async (t) => {
  const up = await startH2Origin(t, (stream, headers) => {
    stream.respond({ ':status': headers[':path'] === '/health' ? 200 : 404 })
    stream.end('UP')
  })
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address], protocol: 'h2c', healthCheck: { type: 'http', path: '/health', expectBody: 'UP', interval: '100ms', timeout: '100ms' } } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  await eventually(() => up.requests.filter(h => h[':path'] === '/health').length >= 2, 3000, 'no HTTP/2 health checks arrived')
  assert.equal(gw.gateway.liveUpstreams.get('up')?.targets[0]?.healthy, true)
  assert.equal((await client(t)(`${gw.url}/`)).status, 404)
})

test('h2: an active HTTP health check speaks HTTP/2 over TLS with the upstream\'s CA and SNI', async (t) => {
  const pki = makePki(t)
  const up = await startH2Origin(t, (stream, headers) => {
    stream.respond({ ':status': 200 })
    stream.end(`sni=${String((stream.session?.socket as import('node:tls').TLSSocket).servername)} path=${String(headers[':path'])}`)
  }, { pki })
  const gw = await startGateway(t, {
    upstreams: {
      up: {
        targets: [up.address], protocol: 'h2', tls: { ca: pki.files.ca, servername: 'localhost' },
        healthCheck: { type: 'http', path: '/health', expectBody: 'sni=localhost path=/health', interval: '100ms', timeout: '100ms' }
      }
    },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  await eventually(() => up.requests.filter(h => h[':path'] === '/health').length >= 2, 3000, 'no HTTP/2 health checks arrived')
  assert.equal(gw.gateway.liveUpstreams.get('up')?.targets[0]?.healthy, true)
})

test('h2c: an HTTP health check of a target that does not speak HTTP/2 marks it unhealthy', async (t) => {
  const h1 = await startOrigin(t, 'h1')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [h1.address], protocol: 'h2c', healthCheck: { type: 'http', path: '/', interval: '100ms', timeout: '100ms' } } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  await eventually(() => gw.gateway.liveUpstreams.get('up')?.targets[0]?.healthy === false, 3000, 'the target stayed healthy')
})

test('h2c: metrics count the first request on a session as a new connection, later streams on it as reused', async (t) => {
  const up = await startH2Origin(t, answerH2('ok'))
  const gw = await startGateway(t, {
    metrics: { listen: { host: '127.0.0.1', port: 0 } },
    upstreams: { up: { targets: [up.address], protocol: 'h2c' } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const get = client(t)
  for (let i = 0; i < 5; i++) assert.equal((await get(`${gw.url}/${i}`)).status, 200)
  const text = await metricsText(gw.gateway)
  assert.equal(up.sessions.length, 1)
  assert.equal(gw.gateway.liveUpstreams.get('up')?.targets[0]?.connectionsOpened, 1)
  assert.equal(sample(text, 'tollgate_upstream_connections_total', { upstream: 'up', reused: 'false' }), 1)
  assert.equal(sample(text, 'tollgate_upstream_connections_total', { upstream: 'up', reused: 'true' }), 4)
  assert.equal(sample(text, 'tollgate_upstream_requests_total', { upstream: 'up', target: up.address, status: '200' }), 5)
})
