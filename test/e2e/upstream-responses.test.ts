/**
 * What an upstream may answer, tried with raw upstream sockets: bodiless responses that
 * carry Content-Length, informational responses nobody asked for, statuses outside HTTP,
 * trailers, slow answers; and what the client is (not) told when it fails.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { Readable } from 'node:stream'
import { request } from 'undici'
import { startOrigin, startRawOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client, rawExchange, type ErrorBody } from '../helpers/client.js'
import { closed, within } from '../helpers/deadline.js'

/** An upstream that answers every request on a connection with `answer`, keeping it alive. */
async function scriptedOrigin (t: import('node:test').TestContext, answer: (head: string) => string) {
  const sockets: Socket[] = []
  const origin = await startRawOrigin(t, (socket) => {
    sockets.push(socket)
    let pending = ''
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1')
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, end)
        pending = pending.slice(end + 4)
        socket.write(answer(head))
      }
    })
  })
  return { ...origin, sockets }
}

test('304, 204 and HEAD responses with Content-Length pass through unchanged', async (t) => {
  const up = await scriptedOrigin(t, (head) => {
    if (head.startsWith('GET /304')) return 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1234\r\n\r\n'
    if (head.startsWith('GET /204')) return 'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n'
    return 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4321\r\n\r\n'
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const notModified = await rawExchange(gw.port, 'GET /304 HTTP/1.1\r\nHost: x\r\nIf-None-Match: "v1"\r\nConnection: close\r\n\r\n')
  assert.match(notModified.data, /^HTTP\/1\.1 304 /)
  assert.match(notModified.data, /^content-length: 1234\r$/mi)
  assert.match(notModified.data, /^etag: "v1"\r$/mi)
  const noContent = await rawExchange(gw.port, 'GET /204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  assert.match(noContent.data, /^HTTP\/1\.1 204 /)
  const head = await rawExchange(gw.port, 'HEAD /file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  assert.match(head.data, /^HTTP\/1\.1 200 /)
  assert.match(head.data, /^content-length: 4321\r$/mi)
  assert.ok(head.data.endsWith('\r\n\r\n'), 'a HEAD response has no body')
})

test('an unsolicited 100 Continue, and other 1xx, before the real response are skipped', async (t) => {
  const up = await scriptedOrigin(t, (head) => {
    const early = head.startsWith('POST') ? 'HTTP/1.1 100 Continue\r\n\r\n' : 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n'
    return `${early}HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal`
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const send = client(t)
  for (let i = 0; i < 3; i++) {
    const posted = await send(`${gw.url}/upload`, { method: 'POST', body: 'payload' })
    assert.equal(posted.status, 200)
    assert.equal(posted.text, 'final')
    const got = await send(`${gw.url}/page`)
    assert.equal(got.status, 200)
    assert.equal(got.text, 'final')
    assert.equal(got.headers.link, undefined, 'the 103\'s headers are not merged into the response')
  }
  assert.equal(up.sockets.length, 1, 'the upstream connection survives the 1xx responses and is reused')
})

test('an informational response is not the response: timeouts.response runs until the final headers', async (t) => {
  // 103 Early Hints at once, then nothing: the response timeout still applies.
  const up = await startRawOrigin(t, (socket) => { socket.once('data', () => socket.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n')) })
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address], timeouts: { response: '400ms' }, retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const started = performance.now()
  const res = await client(t)(`${gw.url}/`)
  const elapsed = performance.now() - started
  assert.equal(res.status, 504)
  assert.equal(res.json<ErrorBody>().error.message, 'the upstream server did not respond in time')
  // Counted from the 103, the deadline would pass after 800 ms or more.
  assert.ok(elapsed >= 380 && elapsed < 750, `answered after ${elapsed.toFixed(0)} ms`)
})

test('a status of 600 or more answers 502 at once and closes the upstream connection', async (t) => {
  const up = await scriptedOrigin(t, () => 'HTTP/1.1 600 Strange\r\nContent-Length: 5\r\n\r\nhello')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address], timeouts: { response: '10s' }, retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const started = performance.now()
  const res = await client(t)(`${gw.url}/`)
  const elapsed = performance.now() - started
  assert.equal(res.status, 502)
  assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
  assert.ok(elapsed < 1000, `answered after ${elapsed.toFixed(0)} ms`)
  assert.equal(res.json<ErrorBody>().error.message, 'the upstream server sent an invalid response')
  // Held, the connection would stay until the response timeout (10 s here).
  const socket = up.sockets[0] as Socket
  await within(closed(socket), 1000, () => 'the upstream connection was held after a status over 599')
  assert.equal(gw.gateway.liveUpstreams.get('up')?.targets[0]?.inflight, 0)
})

test('response trailers reach a client that sent TE: trailers, and only such a client', async (t) => {
  const up = await startOrigin(t, 'up', {
    handler: (req, res) => {
      res.setHeader('trailer', 'x-checksum')
      res.setHeader('x-saw-te', String(req.headers.te))
      res.write('part one;')
      res.addTrailers({ 'x-checksum': 'abc123' })
      res.end('part two')
    }
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const asked = await rawExchange(gw.port, 'GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n')
  assert.match(asked.data, /^transfer-encoding: chunked\r$/mi)
  assert.match(asked.data, /^x-saw-te: trailers\r$/mi)
  assert.match(asked.data, /^trailer: x-checksum\r$/mi)
  assert.match(asked.data, /\r\n0\r\nx-checksum: abc123\r\n\r\n$/i)
  const plain = await rawExchange(gw.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  assert.match(plain.data, /part one;\r\n8\r\npart two\r\n0\r\n\r\n$/)
  assert.doesNotMatch(plain.data, /x-checksum/i)
})

test('an error body says what failed in general terms; the details go to the log with the request id', async (t) => {
  const lines: Record<string, unknown>[] = []
  const refusing = await startRawOrigin(t, (socket) => { socket.resetAndDestroy() })
  const gw = await startGateway(t, {
    upstreams: { secret: { targets: [refusing.address], retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'secret' }]
  }, { logLevel: 'warn', logTo: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) })
  const res = await client(t)(`${gw.url}/`)
  assert.equal(res.status, 502)
  const body = res.json<ErrorBody>()
  assert.equal(body.error.code, 'UPSTREAM_UNAVAILABLE')
  assert.doesNotMatch(res.text, new RegExp(`127\\.0\\.0\\.1|${refusing.port}|secret|ECONN|UND_ERR`), res.text)
  const logged = lines.find(l => l.requestId === body.error.requestId && typeof l.detail === 'string')
  assert.ok(logged !== undefined, 'no log line carries the failure\'s detail and request id')
  assert.match(String(logged.detail), new RegExp(`secret.*127\\.0\\.0\\.1:${refusing.port}`))
})

test('a timed-out connection is closed at once, and each timed-out try costs one connection at most', async (t) => {
  const requests = 20
  let closedCount = 0
  let allClosed!: () => void
  const everyConnectionClosed = new Promise<void>(resolve => { allClosed = resolve })
  const silent = await startRawOrigin(t, (socket) => {
    socket.resume()
    socket.on('close', () => { if (++closedCount === requests) allClosed() })
  })
  const gw = await startGateway(t, {
    upstreams: { slow: { targets: [silent.address], timeouts: { response: '100ms' }, retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'slow' }]
  })
  const send = client(t)
  for (let i = 0; i < requests; i++) assert.equal((await send(`${gw.url}/`)).status, 504)
  // The last timed-out connection closes without waiting for anything else to happen.
  await within(everyConnectionClosed, 1000, () => `only ${closedCount} of ${requests} timed-out connections were closed within 1 s`)
  assert.equal(silent.connections, requests, `${silent.connections} connections for ${requests} timed-out tries`)
})

test('a slow client slows the upstream down: the response is not read ahead into memory', async (t) => {
  const total = 64 * 1024 * 1024
  let produced = 0
  const up = await startOrigin(t, 'up', {
    handler: (_req, res) => {
      res.setHeader('content-length', String(total))
      // Pull-based: the next chunk is made only when the gateway has taken the last one.
      const body = new Readable({
        read () {
          const size = Math.min(64 * 1024, total - produced)
          produced += size
          this.push(size === 0 ? null : Buffer.alloc(size, 120))
        }
      })
      body.pipe(res)
    }
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const socket = connect(gw.port, '127.0.0.1')
  t.after(() => socket.destroy())
  let received = 0
  let ended!: () => void
  const allReceived = new Promise<void>(resolve => { ended = resolve })
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length
    if (received >= total) ended()
  })
  socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  socket.pause()
  // The upstream is pulled as long as buffers on the way have room; it must then stop.
  // No event says "nothing more happens": its count is read until it stays still.
  let still = 0
  let last = -1
  for (let polls = 0; polls < 200 && still < 5; polls++) {
    await new Promise(resolve => setTimeout(resolve, 50))
    still = produced === last ? still + 1 : 0
    last = produced
  }
  assert.equal(still, 5, 'the upstream kept being read while the client read nothing')
  assert.ok(produced < total / 4, `${(produced / 1024 / 1024).toFixed(1)} MB of the upstream's 64 MB were read while the client read nothing`)
  socket.resume()
  await within(allReceived, 30_000, () => `the client received ${received} of ${total} bytes`)
  assert.equal(produced, total)
})

test('timeouts.response cuts an upstream that stalls mid-body, but not a client that reads slowly', async (t) => {
  const stalling = await startRawOrigin(t, (socket) => {
    socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial'))
  })
  const up = await startOrigin(t, 'up', { handler: (_req, res) => res.end(Buffer.alloc(8 * 1024 * 1024, 97)) })
  const gw = await startGateway(t, {
    upstreams: {
      stalling: { targets: [stalling.address], timeouts: { response: '300ms' }, retries: { attempts: 0 } },
      big: { targets: [up.address], timeouts: { response: '300ms' } }
    },
    routes: [{ name: 'stall', match: { path: '/stall' }, upstream: 'stalling' }, { name: 'big', upstream: 'big' }]
  })
  const started = performance.now()
  const cut = await rawExchange(gw.port, 'GET /stall HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 5000 })
  const elapsed = performance.now() - started
  assert.match(cut.data, /^HTTP\/1\.1 200 /)
  assert.ok(cut.closedByServer || cut.data.length < 200, 'the stalled response was not cut')
  assert.ok(elapsed >= 280 && elapsed < 1500, `the stalled response was cut after ${elapsed.toFixed(0)} ms`)

  // A client that stops reading for three times the response timeout still gets everything.
  const socket = connect(gw.port, '127.0.0.1')
  t.after(() => socket.destroy())
  let received = 0
  let done!: () => void
  const finished = new Promise<void>(resolve => { done = resolve })
  socket.on('data', (chunk: Buffer) => { received += chunk.length })
  socket.on('end', () => done())
  socket.write('GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  socket.pause()
  await new Promise(resolve => setTimeout(resolve, 900))
  socket.resume()
  await within(finished, 10_000, () => `the slow client got ${received} bytes`)
  assert.ok(received > 8 * 1024 * 1024, `the slow client got ${received} bytes of a ${8 * 1024 * 1024}-byte body`)
})
