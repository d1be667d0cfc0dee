/**
 * What a hostile client sends, tried with raw sockets against a running gateway: encoded
 * paths and hosts that would skip a route, forged forwarding headers, junk headers,
 * Expect, Upgrade, odd methods, bodies where none are usual and bodies that never end.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client, rawExchange, type ErrorBody } from '../helpers/client.js'
import { defineRoute, errors } from '../../src/index.js'

function statusOf (response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0)
}

function bodyOf (response: string): ErrorBody {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as ErrorBody
}

/** A guarded admin route (its onRequest hook wants a token) in front of a catch-all. */
async function guardedGateway (t: import('node:test').TestContext, upstreamAddress: string) {
  return await startGateway(t, {
    upstreams: { up: { targets: [upstreamAddress] } },
    routes: [
      defineRoute({
        name: 'admin',
        match: { path: '/admin/*' },
        upstream: 'up',
        hooks: {
          onRequest (request) {
            if (request.headers['x-token'] !== 'secret') throw new errors.Unauthorized('token required')
          }
        }
      }),
      defineRoute({ name: 'admin-host', match: { host: 'admin.example.com' }, upstream: 'up', hooks: { onRequest () { throw new errors.Forbidden('admin host') } } }),
      { name: 'public', upstream: 'up' }
    ]
  })
}

test('percent-encoded unreserved characters cannot walk a request past a route and its hooks', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await guardedGateway(t, up.address)
  for (const path of ['/%61dmin/users', '/%41dmin/users'.replace('%41', '%61'), '/public/%2e%2e/%61dmin/users', '/x/..%2f..%2fadmin/users']) {
    const res = await rawExchange(gw.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    assert.ok([400, 401].includes(statusOf(res.data)), `${path} answered ${statusOf(res.data)}`)
  }
  assert.equal(up.received.length, 0, 'nothing reached the upstream without the token')
  const allowed = await rawExchange(gw.port, 'GET /%61dmin/users HTTP/1.1\r\nHost: x\r\nX-Token: secret\r\nConnection: close\r\n\r\n')
  assert.equal(statusOf(allowed.data), 200)
  assert.equal(up.received[0]?.url, '/admin/users', 'the upstream gets the same normalised path that was matched')
})

test('a Host with a trailing dot or a port still meets its host route', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await guardedGateway(t, up.address)
  for (const host of ['admin.example.com.', 'admin.example.com:80', 'admin.example.com.:80', 'ADMIN.example.COM']) {
    const res = await rawExchange(gw.port, `GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
    assert.equal(statusOf(res.data), 403, host)
  }
  assert.equal(up.received.length, 0)
})

test('legitimate paths pass as the normalised form: Latin-1 escapes, dots inside names, encoded slashes', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'all', upstream: 'up' }] })
  const cases: [string, string][] = [
    ['/caf%e9', '/caf%E9'],
    ['/a/...b', '/a/...b'],
    ['/a/..foo', '/a/..foo'],
    ['/files/dir%2Ffile.txt?x=%2F', '/files/dir%2Ffile.txt?x=%2F'],
    ['/%7Euser/a//b/./c', '/~user/a/b/c']
  ]
  for (const [sent, expected] of cases) {
    const res = await rawExchange(gw.port, `GET ${sent} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    assert.equal(statusOf(res.data), 200, `${sent}: ${res.data.slice(0, 200)}`)
    assert.equal(up.received.at(-1)?.url, expected)
  }
})

test('hooks see request.url as routed and request.originalUrl as sent', async (t) => {
  const up = await startOrigin(t, 'up')
  let seen: { url: string, originalUrl: string } | null = null
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [defineRoute({ name: 'r', upstream: 'up', hooks: { onRequest (request) { seen = { url: request.url, originalUrl: request.originalUrl } } } })]
  })
  await rawExchange(gw.port, 'GET /%61dmin//x?q=%61 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  assert.deepEqual(seen, { url: '/admin/x?q=%61', originalUrl: '/%61dmin//x?q=%61' })
})

test('an untrusted client cannot forge forwarding headers, even without a Host (HTTP/1.0)', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  await rawExchange(gw.port, 'GET / HTTP/1.0\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n' +
    'Forwarded: for=6.6.6.6;host=evil.example\r\nX-Real-IP: 6.6.6.6\r\nX_Forwarded_For: 6.6.6.6\r\nX_Custom: 1\r\n\r\n')
  const seen = up.received[0]?.headers ?? {}
  assert.equal(seen['x-forwarded-for'], '127.0.0.1')
  assert.equal(seen['x-forwarded-proto'], 'http')
  assert.notEqual(seen['x-forwarded-host'], 'evil.example')
  for (const name of ['x-forwarded-port', 'forwarded', 'x-real-ip', 'x_forwarded_for', 'x_custom']) assert.equal(seen[name], undefined, name)
})

test('server.underscoresInHeaders: true forwards header names with underscores', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { server: { underscoresInHeaders: true }, upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  await rawExchange(gw.port, 'GET / HTTP/1.1\r\nHost: x\r\nX_Custom: 1\r\nConnection: close\r\n\r\n')
  assert.equal(up.received[0]?.headers.x_custom, '1')
})

test('junk headers cannot push the gateway\'s own headers out of the upstream\'s view; too many get 431', async (t) => {
  // An upstream that keeps only its first 20 headers, as Node does with its first 1000.
  const up = await startOrigin(t, 'up')
  up.server.maxHeadersCount = 20
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', requestHeaders: { set: { 'x-proxy': 'tollgate' } } }]
  })
  const junk = Array.from({ length: 98 }, (_, i) => `X-Junk-${i}: j\r\n`).join('')
  const res = await rawExchange(gw.port, `GET / HTTP/1.1\r\n${junk}Host: x\r\nConnection: close\r\n\r\n`)
  assert.equal(statusOf(res.data), 200)
  const seen = up.received[0]?.headers ?? {}
  for (const name of ['x-forwarded-for', 'x-request-id', 'x-proxy']) assert.notEqual(seen[name], undefined, `${name} was pushed out`)
  const tooMany = await rawExchange(gw.port, `GET / HTTP/1.1\r\n${junk}X-A: 1\r\nX-B: 2\r\nHost: x\r\n\r\n`)
  assert.equal(statusOf(tooMany.data), 431)
  assert.equal(bodyOf(tooMany.data).error.code, 'BAD_REQUEST')
  assert.equal(up.received.length, 1)
})

test('server.limits.maxHeaders sets how many header lines a request may carry', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { server: { limits: { maxHeaders: 5 } }, upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const lines = (n: number): string => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join('')
  assert.equal(statusOf((await rawExchange(gw.port, `GET / HTTP/1.1\r\nHost: x\r\n${lines(4)}Connection: close\r\n\r\n`)).data), 431, 'Host, 4 more and Connection are 6')
  assert.equal(statusOf((await rawExchange(gw.port, `GET / HTTP/1.1\r\nHost: x\r\n${lines(3)}Connection: close\r\n\r\n`)).data), 200)
})

test('a client\'s x-request-id is kept only when short and plain', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const send = async (lines: string): Promise<string> => {
    const res = await rawExchange(gw.port, `GET / HTTP/1.1\r\nHost: x\r\n${lines}Connection: close\r\n\r\n`)
    const id = /^x-request-id: (.*)$/mi.exec(res.data)?.[1]?.trim() ?? ''
    assert.equal(up.received.at(-1)?.headers['x-request-id'], id, 'the upstream sees the same id')
    return id
  }
  assert.equal(await send('X-Request-Id: abc-123\r\n'), 'abc-123')
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
  assert.match(await send(`X-Request-Id: ${'a'.repeat(129)}\r\n`), uuid)
  assert.match(await send('X-Request-Id: a\tb\r\n'), uuid)
  assert.match(await send('X-Request-Id: caf\xe9\r\n'), uuid)
  assert.match(await send('X-Request-Id: one\r\nX-Request-Id: two\r\n'), uuid)
})

test('a repeated, missing or malformed Host gets 400 before any route sees it', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  for (const hostLines of ['Host: a\r\nHost: b\r\n', 'Host: a b\r\n', 'Host: a/b\r\n', 'Host: user@a\r\n', 'Host:\r\n', '']) {
    const res = await rawExchange(gw.port, `GET / HTTP/1.1\r\n${hostLines}Connection: close\r\n\r\n`)
    assert.equal(statusOf(res.data), 400, JSON.stringify(hostLines))
    assert.equal(bodyOf(res.data).error.code, 'BAD_REQUEST')
  }
  assert.equal(up.received.length, 0)
  assert.equal(statusOf((await rawExchange(gw.port, 'GET / HTTP/1.0\r\n\r\n')).data), 200, 'HTTP/1.0 needs no Host')
})

test('TRACE gets 405 unless a route lists it; every other method a route allows reaches it', async (t) => {
  const up = await startOrigin(t, 'up', { handler: (req, res, body) => res.end(`${req.method} ${body}`) })
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [
      { name: 'trace', match: { path: '/trace', methods: ['TRACE'] }, upstream: 'up' },
      { name: 'purge', match: { path: '/purge', methods: ['PURGE'] }, upstream: 'up' },
      { name: 'all', upstream: 'up' }
    ]
  })
  const trace = await rawExchange(gw.port, 'TRACE / HTTP/1.1\r\nHost: x\r\nCookie: secret\r\nConnection: close\r\n\r\n')
  assert.equal(statusOf(trace.data), 405)
  assert.match(trace.data, /^allow: /mi)
  assert.equal(up.received.length, 0)
  assert.equal(statusOf((await rawExchange(gw.port, 'TRACE /trace HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).data), 200)
  const send = client(t)
  for (const method of ['SEARCH', 'MKCOL', 'COPY', 'PROPFIND', 'QUERY', 'REPORT', 'PURGE']) {
    const res = await send(`${gw.url}/${method === 'PURGE' ? 'purge' : 'x'}`, { method: method as 'GET', body: 'q' })
    assert.equal(res.status, 200, method)
    assert.equal(res.text, `${method} q`)
  }
})

test('GET and HEAD request bodies are forwarded', async (t) => {
  const up = await startOrigin(t, 'up', { handler: (req, res, body) => { res.setHeader('x-body', body); res.end(body) } })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const query = '{"query":{"match_all":{}}}'
  const get = await rawExchange(gw.port, `GET /_search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${query.length}\r\nConnection: close\r\n\r\n${query}`)
  assert.equal(statusOf(get.data), 200)
  assert.equal(up.received[0]?.body, query)
  const chunked = await rawExchange(gw.port, 'GET /_search HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n0\r\n\r\n')
  assert.equal(statusOf(chunked.data), 200)
  assert.equal(up.received[1]?.body, 'abcd')
  const head = await rawExchange(gw.port, 'HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz')
  assert.equal(statusOf(head.data), 200)
  assert.equal(up.received[2]?.body, 'xyz')
})

/** A raw client that writes, then waits for what the server answers. */
async function openRaw (port: number): Promise<{ socket: Socket, read: (until: RegExp) => Promise<string>, text: () => string }> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  let data = ''
  const waiters: (() => void)[] = []
  socket.on('data', (chunk: Buffer) => {
    data += chunk.toString('latin1')
    for (const wake of waiters.splice(0)) wake()
  })
  socket.on('close', () => { for (const wake of waiters.splice(0)) wake() })
  return {
    socket,
    text: () => data,
    read: async (until) => {
      const deadline = performance.now() + 5000
      while (!until.test(data)) {
        if (socket.destroyed || performance.now() > deadline) throw new Error(`never saw ${String(until)}; got ${JSON.stringify(data)}`)
        await new Promise<void>(resolve => {
          waiters.push(resolve)
          setTimeout(resolve, 100).unref()
        })
      }
      return data
    }
  }
}

test('Expect: 100-continue is answered by the gateway after the route\'s checks, and not forwarded', async (t) => {
  const up = await startOrigin(t, 'up', { handler: (_req, res, body) => res.end(`got ${body}`) })
  const gw = await guardedGateway(t, up.address)
  const raw = await openRaw(gw.port)
  t.after(() => raw.socket.destroy())
  raw.socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n')
  await raw.read(/^HTTP\/1\.1 100 Continue\r\n\r\n/)
  raw.socket.write('hello')
  const answered = await raw.read(/got hello$/)
  assert.match(answered, /HTTP\/1\.1 200 OK/)
  assert.equal(up.received[0]?.body, 'hello')
  assert.equal(up.received[0]?.headers.expect, undefined)

  // A request the route refuses gets its final answer and no 100: the body is never sent.
  const refused = await openRaw(gw.port)
  t.after(() => refused.socket.destroy())
  refused.socket.write('POST /admin/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n')
  const text = await refused.read(/"UNAUTHORIZED"/)
  assert.doesNotMatch(text, /100 Continue/)
  assert.equal(up.received.length, 1)
})

test('a body over server.limits.bodyLimit gets 413 before any 100 Continue', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { server: { limits: { bodyLimit: '1kb' } }, upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const res = await rawExchange(gw.port, 'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n')
  assert.equal(statusOf(res.data), 413)
  assert.doesNotMatch(res.data, /100 Continue/)
  assert.equal(up.received.length, 0)
})

test('a chunked body is counted against server.limits.bodyLimit while it streams', async (t) => {
  let upstreamBytes = 0
  const up = await startOrigin(t, 'up')
  up.server.prependListener('request', (req) => { req.on('data', (c: Buffer) => { upstreamBytes += c.length }) })
  const gw = await startGateway(t, { server: { limits: { bodyLimit: '1kb' } }, upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const raw = await openRaw(gw.port)
  t.after(() => raw.socket.destroy())
  raw.socket.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')
  const chunk = `200\r\n${'x'.repeat(0x200)}\r\n`
  // Up to 4 KB, chunk by chunk, until the gateway answers; it never ends the body itself.
  for (let sent = 0; sent < 8 && !/HTTP\/1\.1 413/.test(raw.text()); sent++) {
    raw.socket.write(chunk)
    await raw.read(/HTTP\/1\.1 413|$/)
  }
  const answer = await raw.read(/PAYLOAD_TOO_LARGE/)
  assert.match(answer, /^HTTP\/1\.1 413 /)
  assert.match(answer, /^connection: close/mi, 'a connection with an unread body is closed after the error')
  assert.ok(upstreamBytes <= 1024, `the upstream received ${upstreamBytes} bytes`)
  assert.equal(up.received.length, 0, 'the upstream never saw a complete request')
  const small = await client(t)(`${gw.url}/`, { method: 'POST', body: 'x'.repeat(100) })
  assert.equal(small.status, 200)
})

test('an Upgrade no route accepts gets 400 and the connection closes; requests pipelined behind it are not lost silently', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const res = await rawExchange(gw.port,
    'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n' +
    'GET /second HTTP/1.1\r\nHost: x\r\n\r\n')
  assert.equal(statusOf(res.data), 400)
  assert.ok(res.closedByServer, 'the connection was left open in an unknown state')
  assert.equal(res.data.match(/HTTP\/1\.1 /g)?.length, 1)
  assert.equal(up.received.length, 0)
  // h2c is an optional upgrade: served over HTTP/1.1, and the connection closed after it.
  const h2c = await rawExchange(gw.port, 'GET /h HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n')
  assert.equal(statusOf(h2c.data), 200)
  assert.match(h2c.data, /^connection: close/mi)
  assert.ok(h2c.closedByServer, 'the connection stayed open after an h2c upgrade request')
  assert.equal(up.received[0]?.url, '/h')
  assert.equal(up.received[0]?.headers.upgrade, undefined)
})
