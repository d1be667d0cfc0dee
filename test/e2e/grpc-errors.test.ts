/**
 * A gRPC request (content-type application/grpc) that the gateway refuses or cannot carry
 * gets a gRPC error — HTTP 200 with `grpc-status` and `grpc-message`, no body — not the
 * JSON error body a gRPC client could not read.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway } from '../helpers/gateway.js'
import { client } from '../helpers/client.js'
import { startBlackhole } from '../helpers/blackhole.js'
import { refusedPort } from '../helpers/ports.js'
import { request } from 'undici'
import { startGrpcOrigin } from '../helpers/grpc.js'
import { eventually } from '../helpers/deadline.js'
import { createServer as createHttp2Server, type ServerHttp2Stream } from 'node:http2'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'

const GRPC = { 'content-type': 'application/grpc', te: 'trailers' }

test('a gRPC request whose upstream refuses connections gets grpc-status 14 (UNAVAILABLE), HTTP 200, no body', async (t) => {
  const closed = await refusedPort(t)
  const gw = await startGateway(t, { upstreams: { dead: { targets: [`127.0.0.1:${closed}`] } }, routes: [{ name: 'grpc', upstream: 'dead' }] })
  const res = await client(t)(`${gw.url}/pkg.Svc/Call`, { method: 'POST', headers: GRPC, body: Buffer.alloc(5) })
  assert.equal(res.status, 200)
  assert.equal(res.headers['content-type'], 'application/grpc')
  assert.equal(res.headers['grpc-status'], '14')
  assert.match(String(res.headers['grpc-message']), /upstream/)
  assert.equal(res.text, '')
})

test('a gRPC request past the connect timeout gets grpc-status 4 (DEADLINE_EXCEEDED); one without a route gets 12 (UNIMPLEMENTED)', async (t) => {
  const hole = await startBlackhole(t)
  const gw = await startGateway(t, {
    upstreams: { slow: { targets: [hole.address], timeouts: { connect: '100ms' } } },
    routes: [{ name: 'grpc', match: { path: '/pkg.Svc/*' }, upstream: 'slow' }]
  })
  const send = client(t)
  const timedOut = await send(`${gw.url}/pkg.Svc/Call`, { method: 'POST', headers: GRPC, body: Buffer.alloc(5) })
  assert.deepEqual([timedOut.status, timedOut.headers['grpc-status']], [200, '4'])
  const unrouted = await send(`${gw.url}/other.Svc/Call`, { method: 'POST', headers: GRPC, body: Buffer.alloc(5) })
  assert.deepEqual([unrouted.status, unrouted.headers['grpc-status']], [200, '12'])
})

test('a gRPC request refused by the route\'s checks keeps the error\'s headers: Retry-After past a rate limit, WWW-Authenticate without a token', async (t) => {
  const closed = await refusedPort(t)
  const gw = await startGateway(t, {
    upstreams: { dead: { targets: [`127.0.0.1:${closed}`] } },
    routes: [
      { name: 'limited', match: { path: '/limited.Svc/*' }, upstream: 'dead', rateLimit: { limit: 1, window: '1m' } },
      { name: 'guarded', match: { path: '/guarded.Svc/*' }, upstream: 'dead', auth: { type: 'bearer', tokens: ['secret-token'] } }
    ]
  })
  const send = client(t)
  await send(`${gw.url}/limited.Svc/Call`, { method: 'POST', headers: GRPC, body: Buffer.alloc(5) })
  const limited = await send(`${gw.url}/limited.Svc/Call`, { method: 'POST', headers: GRPC, body: Buffer.alloc(5) })
  assert.deepEqual([limited.status, limited.headers['grpc-status']], [200, '14'])
  assert.match(String(limited.headers['retry-after']), /^\d+$/)
  const unauthenticated = await send(`${gw.url}/guarded.Svc/Call`, { method: 'POST', headers: GRPC, body: Buffer.alloc(5) })
  assert.deepEqual([unauthenticated.status, unauthenticated.headers['grpc-status']], [200, '16'])
  assert.match(String(unauthenticated.headers['www-authenticate']), /^Bearer/)
})

test('other requests still get the JSON error', async (t) => {
  const closed = await refusedPort(t)
  const gw = await startGateway(t, { upstreams: { dead: { targets: [`127.0.0.1:${closed}`] } }, routes: [{ name: 'r', upstream: 'dead' }] })
  const res = await client(t)(`${gw.url}/x`)
  assert.equal(res.status, 502)
  assert.equal(res.json<{ error: { code: string } }>().error.code, 'UPSTREAM_UNAVAILABLE')
})

/** One gRPC message frame (uncompressed) around protobuf `bytes`. */
function frame (bytes: number[]): Buffer {
  const out = Buffer.alloc(5 + bytes.length)
  out.writeUInt32BE(bytes.length, 1)
  Buffer.from(bytes).copy(out, 5)
  return out
}

test('gRPC over an HTTP/1.1 client and an h2c upstream: the call\'s answer and its grpc-status trailer come through', async (t) => {
  const origin = await startGrpcOrigin(t)
  const gw = await startGateway(t, { upstreams: { grpc: { targets: [origin.address], protocol: 'h2c' } }, routes: [{ name: 'grpc', upstream: 'grpc' }] })
  const res = await request(`${gw.url}/tollgate.test.Echo/Unary`, { method: 'POST', headers: GRPC, body: frame([0x0a, 0x02, 0x68, 0x69]) })
  const body = Buffer.from(await res.body.arrayBuffer())
  assert.equal(res.statusCode, 200)
  assert.equal(body.subarray(5).toString('latin1').includes('echo: hi'), true)
  assert.equal(res.trailers['grpc-status'], '0')
  assert.equal(res.trailers['x-trailer'], 'from-origin')
})

test('a gRPC deadline (grpc-timeout) is honoured by the gateway: an upstream that never answers (nor reads the deadline) ends with DEADLINE_EXCEEDED at the deadline, and its stream is cancelled', async (t) => {
  // A bare h2c server that takes the call and never answers: only the gateway keeps the deadline.
  const streams: ServerHttp2Stream[] = []
  const silent = createHttp2Server()
  silent.on('stream', stream => { streams.push(stream) })
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  t.after(() => { for (const s of streams) s.destroy(); silent.close() })
  const gw = await startGateway(t, { upstreams: { grpc: { targets: [`127.0.0.1:${(silent.address() as AddressInfo).port}`], protocol: 'h2c' } }, routes: [{ name: 'grpc', upstream: 'grpc' }] })
  const started = performance.now()
  const res = await request(`${gw.url}/tollgate.test.Echo/Slow`, { method: 'POST', headers: { ...GRPC, 'grpc-timeout': '200m' }, body: frame([0x20, 0xd0, 0x0f]) })
  await res.body.dump()
  const ms = performance.now() - started
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['grpc-status'], '4')
  assert.ok(ms >= 190 && ms < 1_500, `answered after ${ms.toFixed(0)} ms`)
  assert.equal(streams.length, 1)
  await eventually(() => streams[0]?.closed === true, 2_000, 'the upstream stream was not cancelled')
})

test('a gRPC error status from the upstream passes through unchanged', async (t) => {
  const origin = await startGrpcOrigin(t)
  const gw = await startGateway(t, { upstreams: { grpc: { targets: [origin.address], protocol: 'h2c' } }, routes: [{ name: 'grpc', upstream: 'grpc' }] })
  // Fail with code 5 (field 3) and text "nope" (field 1).
  const res = await request(`${gw.url}/tollgate.test.Echo/Fail`, { method: 'POST', headers: GRPC, body: frame([0x0a, 0x04, 0x6e, 0x6f, 0x70, 0x65, 0x18, 0x05]) })
  await res.body.dump()
  const status = res.trailers['grpc-status'] ?? res.headers['grpc-status']
  const message = res.trailers['grpc-message'] ?? res.headers['grpc-message']
  assert.equal(res.statusCode, 200)
  assert.deepEqual([status, message], ['5', 'nope'])
})
