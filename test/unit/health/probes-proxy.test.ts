// The tcp and http probes of an upstream behind a CONNECT proxy, against real proxies on
// 127.0.0.1: what they report, and that they settle within their timeout and free the
// proxy connection whatever the proxy does.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer as createNetServer, type Socket } from 'node:net'
import { once } from 'node:events'
import type { TestContext } from 'node:test'
import { Target } from '../../../src/upstream/target.js'
import { TcpProbe } from '../../../src/health/probes/tcp.js'
import { HttpProbe } from '../../../src/health/probes/http.js'
import type { CompiledProxy } from '../../../src/upstream/forward-proxy.js'
import { startOrigin } from '../../helpers/origin.js'
import { startConnectProxy, startRawProxy } from '../../helpers/connect-proxy.js'
import { within, eventually } from '../../helpers/deadline.js'

const never = new AbortController().signal

function tcpTarget (port: number): Target {
  return new Target({ address: { kind: 'tcp', host: '127.0.0.1', port, id: `127.0.0.1:${port}` }, weight: 1, backup: false })
}

function proxyAt (port: number): CompiledProxy {
  return { host: '127.0.0.1', port, id: `127.0.0.1:${port}`, authorization: null }
}

/** A TCP server that accepts and never answers; counts the connections it holds. */
async function silentServer (t: TestContext): Promise<{ port: number, open: () => number }> {
  const sockets = new Set<Socket>()
  const server = createNetServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    // Reads (and drops) what comes, so that the peer's close is seen.
    socket.resume()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise(resolve => server.close(resolve))
  })
  return { port: (server.address() as { port: number }).port, open: () => sockets.size }
}

test('tcp through a proxy: passes when the proxy opens a tunnel to the target', async (t) => {
  const origin = await startOrigin(t, 'up')
  const proxy = await startConnectProxy(t)
  const result = await new TcpProbe(500, proxyAt(proxy.port)).run(tcpTarget(origin.port), never)
  assert.deepEqual(result, { ok: true, reason: `tunnel opened through proxy 127.0.0.1:${proxy.port}` })
  assert.deepEqual(proxy.connects.map(c => c.line), [`CONNECT 127.0.0.1:${origin.port} HTTP/1.1`])
})

test('tcp through a proxy that never answers: fails by its timeout and closes the proxy connection', async (t) => {
  const silent = await silentServer(t)
  const origin = await startOrigin(t, 'up')
  const result = await within(new TcpProbe(150, proxyAt(silent.port)).run(tcpTarget(origin.port), never), 5000, 'the probe was not cut by its timeout')
  assert.equal(result.ok, false)
  assert.match(result.reason, /within 150ms/)
  await eventually(() => silent.open() === 0, 5000, 'the probe left its proxy connection open')
})

test('http through a proxy: the GET goes through the tunnel', async (t) => {
  const origin = await startOrigin(t, 'up', { handler: (_req, res) => res.end('ALIVE') })
  const proxy = await startConnectProxy(t)
  const probe = new HttpProbe({ path: '/health', host: null, expectStatus: [200], expectBody: null, timeoutMs: 500, tls: null, proxy: proxyAt(proxy.port) })
  assert.deepEqual(await probe.run(tcpTarget(origin.port), never), { ok: true, reason: 'answered 200' })
  assert.equal(origin.received[0]?.url, '/health')
  assert.ok(Buffer.concat(proxy.connects[0]?.toTarget ?? []).includes('GET /health'), 'the check did not go through the tunnel')
})

test('http through a proxy whose tunnel opens to a target that never answers: "connected, but no response"', async (t) => {
  const frozen = await silentServer(t)
  const proxy = await startConnectProxy(t)
  const probe = new HttpProbe({ path: '/health', host: null, expectStatus: null, expectBody: null, timeoutMs: 200, tls: null, proxy: proxyAt(proxy.port) })
  const result = await within(probe.run(tcpTarget(frozen.port), never), 5000, 'the probe was not cut by its timeout')
  assert.deepEqual(result, { ok: false, reason: 'connected, but no response within 200ms' })
  await eventually(() => frozen.open() === 0, 5000, 'the probe left its tunnel open')
})

test('http through a proxy that refuses: fails with the proxy\'s answer', async (t) => {
  const origin = await startOrigin(t, 'up')
  const proxy = await startRawProxy(t, (socket) => socket.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n'))
  const probe = new HttpProbe({ path: '/health', host: null, expectStatus: null, expectBody: null, timeoutMs: 500, tls: null, proxy: proxyAt(proxy.port) })
  const result = await probe.run(tcpTarget(origin.port), never)
  assert.equal(result.ok, false)
  assert.match(result.reason, new RegExp(`^request failed: .*proxy 127\\.0\\.0\\.1:${proxy.port} answered 407 to CONNECT 127\\.0\\.0\\.1:${origin.port}`))
  assert.equal(origin.received.length, 0)
})
