import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client, rawExchange } from '../helpers/client.js'

function bodyOf (response: string): { error: { status: number, code: string } } {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { error: { status: number, code: string } }
}

test('a malformed request line gets 400 with the contract body and the gateway keeps serving', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const res = await rawExchange(gw.port, 'GARBAGE\r\n\r\n')
  assert.match(res.data, /^HTTP\/1\.1 400 /)
  assert.equal(bodyOf(res.data).error.code, 'BAD_REQUEST')
  assert.equal((await client(t)(`${gw.url}/`)).status, 200)
})

test('a request refused before routing keeps the client\'s x-request-id; one the parser refused gets a new id, in the header and the body', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const noHost = await rawExchange(gw.port, 'GET / HTTP/1.1\r\nX-Request-Id: trace-42\r\n\r\n')
  assert.match(noHost.data, /^HTTP\/1\.1 400 /)
  assert.match(noHost.data, /\r\nx-request-id: trace-42\r\n/i)
  assert.equal((bodyOf(noHost.data) as unknown as { error: { requestId: string } }).error.requestId, 'trace-42')
  const garbage = await rawExchange(gw.port, 'GARBAGE\r\nX-Request-Id: trace-43\r\n\r\n')
  const id = (bodyOf(garbage.data) as unknown as { error: { requestId: string | null } }).error.requestId
  assert.match(String(id), /^[0-9a-f-]{36}$/)
  assert.match(garbage.data, new RegExp(`\r\nx-request-id: ${String(id)}\r\n`, 'i'))
})

test('request headers over limits.maxHeaderSize get 431', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    server: { limits: { maxHeaderSize: '2kb' } },
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const res = await rawExchange(gw.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4000)}\r\n\r\n`)
  assert.match(res.data, /^HTTP\/1\.1 431 /)
  assert.equal(bodyOf(res.data).error.status, 431)
  assert.equal(up.received.length, 0)
})

test('a client that never finishes its headers is cut after limits.headersTimeout', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    server: { limits: { headersTimeout: '400ms', requestTimeout: '5s' } },
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const res = await rawExchange(gw.port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1', { timeoutMs: 5000 })
  assert.ok(res.closedByServer, 'the server did not close the connection')
  assert.ok(res.elapsedMs >= 350 && res.elapsedMs < 2500, `cut after ${res.elapsedMs.toFixed(0)} ms`)
  assert.match(res.data, /^HTTP\/1\.1 408 /)
  assert.equal(up.received.length, 0)
})

test('a request with both Content-Length and Transfer-Encoding is refused, never passed on', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const smuggle = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n'
  const res = await rawExchange(gw.port, smuggle)
  assert.match(res.data, /^HTTP\/1\.1 400 /)
  assert.equal(up.received.length, 0)
})

test('an invalid percent-encoding in the path gets 400 BAD_REQUEST', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const res = await rawExchange(gw.port, 'GET /a%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  assert.match(res.data, /^HTTP\/1\.1 400 /)
  assert.equal(bodyOf(res.data).error.code, 'BAD_REQUEST')
  assert.equal(up.received.length, 0)
})

test('a CONNECT request gets 400 BAD_REQUEST as JSON with a request id, the connection closes, and nothing reaches an upstream', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  // A tunnel request, with bytes for the tunnel already behind it.
  const res = await rawExchange(gw.port, `CONNECT ${up.address} HTTP/1.1\r\nHost: ${up.address}\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n`)
  assert.match(res.data, /^HTTP\/1\.1 400 /)
  assert.ok(res.closedByServer, 'the gateway closes the connection')
  const body = bodyOf(res.data) as { error: { status: number, code: string, requestId: string } }
  assert.equal(body.error.code, 'BAD_REQUEST')
  assert.match(res.data, new RegExp(`\r\nx-request-id: ${body.error.requestId}\r\n`, 'i'))
  assert.equal(res.data.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer: the bytes after the CONNECT are not served')
  assert.equal(up.received.length, 0)
  assert.equal((await client(t)(`${gw.url}/`)).status, 200)
})

test('half-open connections do not stop the gateway from answering others', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const idle = Array.from({ length: 20 }, () => connect(gw.port, '127.0.0.1'))
  t.after(() => { for (const s of idle) s.destroy() })
  for (const s of idle) s.write('GET / HTTP/1.1\r\n')
  assert.equal((await client(t)(`${gw.url}/`)).status, 200)
})

test('a Content-Length over limits.bodyLimit gets 413 PAYLOAD_TOO_LARGE and never reaches the upstream', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    server: { limits: { bodyLimit: '1kb' } },
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const post = client(t)
  const refused = await post(`${gw.url}/`, { method: 'POST', body: 'x'.repeat(2048) })
  assert.equal(refused.status, 413)
  assert.equal(refused.json<{ error: { code: string } }>().error.code, 'PAYLOAD_TOO_LARGE')
  const accepted = await post(`${gw.url}/`, { method: 'POST', body: 'x'.repeat(1024) })
  assert.equal(accepted.status, 200)
  assert.equal(up.received.length, 1)
})
