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

test('other requests still get the JSON error', async (t) => {
  const closed = await refusedPort(t)
  const gw = await startGateway(t, { upstreams: { dead: { targets: [`127.0.0.1:${closed}`] } }, routes: [{ name: 'r', upstream: 'dead' }] })
  const res = await client(t)(`${gw.url}/x`)
  assert.equal(res.status, 502)
  assert.equal(res.json<{ error: { code: string } }>().error.code, 'UPSTREAM_UNAVAILABLE')
})
