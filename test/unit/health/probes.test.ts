// The probe runners against real servers on 127.0.0.1: what passes, what fails and why,
// and that every probe settles within its timeout whatever the target does.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer as createNetServer, type Socket } from 'node:net'
import { once } from 'node:events'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Target, type TargetSpec } from '../../../src/upstream/target.js'
import { TcpProbe } from '../../../src/health/probes/tcp.js'
import { HttpProbe, MAX_BODY_BYTES, type HttpProbeOptions } from '../../../src/health/probes/http.js'
import { CustomProbe } from '../../../src/health/probes/custom.js'
import { compileBodyMatch } from '../../../src/health/body-match.js'
import type { HealthCheckFunction, HealthCheckTarget } from '../../../src/health/define.js'
import type { ProbeResult } from '../../../src/health/probes/probe.js'
import { startOrigin } from '../../helpers/origin.js'
import { refusedPort } from '../../helpers/ports.js'
import { startBlackhole } from '../../helpers/blackhole.js'
import { makePki } from '../../helpers/certs.js'
import { tempFolder } from '../../helpers/files.js'
import { within } from '../../helpers/deadline.js'

const never = new AbortController().signal

function tcpTarget (port: number, backup = false): Target {
  const spec: TargetSpec = { address: { kind: 'tcp', host: '127.0.0.1', port, id: `127.0.0.1:${port}` }, weight: 1, backup }
  return new Target(spec)
}

function httpProbe (options: Partial<HttpProbeOptions> = {}): HttpProbe {
  return new HttpProbe({ path: '/health', host: null, expectStatus: null, expectBody: null, timeoutMs: 500, tls: null, ...options })
}

/** An origin answering every request with `handler`, recording what it was asked. */
async function healthOrigin (t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void) {
  return await startOrigin(t, 'health', { handler })
}

/** A TCP server that accepts and then never answers (what a frozen process looks like). */
async function silentServer (t: TestContext): Promise<{ port: number, accepted: () => number }> {
  const sockets = new Set<Socket>()
  const server = createNetServer(socket => { sockets.add(socket); socket.on('error', () => undefined) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise(resolve => server.close(resolve))
  })
  return { port: (server.address() as { port: number }).port, accepted: () => sockets.size }
}

// ---------------------------------------------------------------- tcp

test('tcp: a listening target passes; a refused one fails at once with the reason', async (t) => {
  const origin = await startOrigin(t, 'up')
  const probe = new TcpProbe(500)
  assert.deepEqual(await probe.run(tcpTarget(origin.port), never), { ok: true, reason: 'connected' })
  const refused = await probe.run(tcpTarget(await refusedPort(t)), never)
  assert.equal(refused.ok, false)
  assert.match(refused.reason, /^connect ECONNREFUSED 127\.0\.0\.1:\d+$/)
})

test('tcp: a target that never accepts fails by the timeout, not later', async (t) => {
  const hole = await startBlackhole(t)
  const started = performance.now()
  const result = await within(new TcpProbe(150).run(tcpTarget(hole.port), never), 5000, 'the probe was not cut by its timeout')
  const elapsed = performance.now() - started
  assert.deepEqual(result, { ok: false, reason: 'no connection within 150ms' })
  assert.ok(elapsed >= 140 && elapsed < 1000, `settled after ${Math.round(elapsed)} ms`)
})

test('tcp: a connection made while the event loop was blocked past the timeout still passes', async (t) => {
  const origin = await startOrigin(t, 'up')
  const running = new TcpProbe(50).run(tcpTarget(origin.port), never)
  // Node starts the connection on the next tick; then the loop is held well past the timeout.
  await new Promise(resolve => process.nextTick(resolve))
  const until = performance.now() + 200
  while (performance.now() < until) { /* blocked, as by a long synchronous task */ }
  assert.deepEqual(await within(running, 5000, 'the probe never settled'), { ok: true, reason: 'connected' })
})

test('tcp: a Unix socket target is connected through its path', async (t) => {
  const path = join(tempFolder(t), 'app.sock')
  await startOrigin(t, 'unix', { socketPath: path })
  const target = new Target({ address: { kind: 'unix', socketPath: path, id: `unix:${path}` }, weight: 1, backup: false })
  assert.equal((await new TcpProbe(500).run(target, never)).ok, true)
})

test('tcp: an aborted check settles at once and frees its socket', async (t) => {
  const hole = await startBlackhole(t)
  const controller = new AbortController()
  const running = new TcpProbe(5_000).run(tcpTarget(hole.port), controller.signal)
  controller.abort()
  assert.deepEqual(await within(running, 1000, 'the aborted probe did not settle'), { ok: false, reason: 'checking stopped' })
})

// ---------------------------------------------------------------- http

test('http: any 2xx or 3xx passes by default; other statuses fail, naming what was expected', async (t) => {
  let status = 204
  const origin = await healthOrigin(t, (_req, res) => { res.statusCode = status; res.end() })
  const probe = httpProbe()
  for (const passing of [200, 204, 301, 399]) {
    status = passing
    assert.equal((await probe.run(tcpTarget(origin.port), never)).ok, true, `${passing} failed`)
  }
  status = 500
  assert.deepEqual(await probe.run(tcpTarget(origin.port), never), { ok: false, reason: 'answered 500, expected 2xx or 3xx' })
  status = 204
  assert.deepEqual(await httpProbe({ expectStatus: [200] }).run(tcpTarget(origin.port), never), { ok: false, reason: 'answered 204, expected 200' })
})

test('http: the path is asked for with GET, the Host is the target (or the one configured), on a fresh connection each time', async (t) => {
  const origin = await healthOrigin(t, (_req, res) => res.end('ok'))
  const target = tcpTarget(origin.port)
  await httpProbe().run(target, never)
  await httpProbe().run(target, never)
  await httpProbe({ path: '/ready?full=1', host: 'api.internal' }).run(target, never)
  const [first, second, third] = origin.received
  assert.equal(first?.method, 'GET')
  assert.equal(first?.url, '/health')
  assert.equal(first?.headers.host, `127.0.0.1:${origin.port}`)
  assert.equal(first?.headers['user-agent'], 'tollgate-health-check')
  assert.notEqual(first?.remotePort, second?.remotePort, 'a connection was reused')
  assert.equal(third?.url, '/ready?full=1')
  assert.equal(third?.headers.host, 'api.internal')
})

test('http: expectBody as a substring or a regex must be found in the body', async (t) => {
  const origin = await healthOrigin(t, (_req, res) => res.end('status: READY\nversion: 3'))
  const target = tcpTarget(origin.port)
  assert.equal((await httpProbe({ expectBody: compileBodyMatch('READY') }).run(target, never)).ok, true)
  assert.equal((await httpProbe({ expectBody: compileBodyMatch('/^status: ready$/mi') }).run(target, never)).ok, true)
  assert.deepEqual(await httpProbe({ expectBody: compileBodyMatch('BLUE') }).run(target, never),
    { ok: false, reason: 'answered 200, but the body does not contain "BLUE"' })
  assert.deepEqual(await httpProbe({ expectBody: compileBodyMatch('/^version: 4$/m') }).run(target, never),
    { ok: false, reason: 'answered 200, but the body does not match /^version: 4$/m' })
})

test('http: at most MAX_BODY_BYTES of a body are read: an endless body is judged on them, without waiting for its end', async (t) => {
  const chunk = Buffer.alloc(16 * 1024, 'x')
  let served = 0
  const origin = await healthOrigin(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    if (req.url === '/early') res.write('READY')
    // Writes until the client goes away: a body that never ends.
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk)) served += chunk.length
      if (!res.destroyed) res.once('drain', pump)
    }
    pump()
  })
  const target = tcpTarget(origin.port)
  const expectBody = compileBodyMatch('READY')
  assert.deepEqual(await httpProbe({ path: '/early', expectBody, timeoutMs: 5_000 }).run(target, never),
    { ok: true, reason: 'answered 200 with the expected body' })
  const late = await httpProbe({ path: '/never', expectBody, timeoutMs: 5_000 }).run(target, never)
  assert.deepEqual(late, { ok: false, reason: 'answered 200, but the body does not contain "READY"' })
  assert.ok(served < 100 * MAX_BODY_BYTES, `the origin could send ${served} bytes: the probe kept reading`)
})

test('http: a target that accepts and never answers fails by the timeout, saying it connected', async (t) => {
  const silent = await silentServer(t)
  const started = performance.now()
  const result = await within(httpProbe({ timeoutMs: 150 }).run(tcpTarget(silent.port), never), 5000, 'the probe was not cut by its timeout')
  const elapsed = performance.now() - started
  assert.deepEqual(result, { ok: false, reason: 'connected, but no response within 150ms' })
  assert.ok(elapsed < 1000, `settled after ${Math.round(elapsed)} ms`)
  assert.equal(silent.accepted(), 1)
})

test('http: a body that stalls after the head fails by the timeout', async (t) => {
  const origin = await healthOrigin(t, (_req, res) => { res.writeHead(200); res.write('partial') })
  const result = await within(httpProbe({ timeoutMs: 150, expectBody: compileBodyMatch('READY') }).run(tcpTarget(origin.port), never), 5000, 'the probe was not cut by its timeout')
  assert.deepEqual(result, { ok: false, reason: 'answered 200, but the body did not end within 150ms' })
})

test('http: a refused target fails with the connect error', async (t) => {
  const result = await httpProbe().run(tcpTarget(await refusedPort(t)), never)
  assert.equal(result.ok, false)
  assert.match(result.reason, /^request failed: connect ECONNREFUSED/)
})

test('http: a TLS upstream is checked over TLS with its CA, and a certificate it does not trust fails', async (t) => {
  const pki = makePki(t)
  const origin = await startOrigin(t, 'tls', { tls: { key: pki.serverKey, cert: pki.serverCert }, handler: (_req, res) => res.end('ok') })
  const tls = { servername: 'localhost', ca: pki.ca, cert: null, key: null, verify: true }
  assert.deepEqual(await httpProbe({ tls }).run(tcpTarget(origin.port), never), { ok: true, reason: 'answered 200' })
  assert.equal(origin.received[0]?.headers.host, 'localhost', 'the Host follows tls.servername')
  const stranger = await httpProbe({ tls: { ...tls, ca: pki.otherCa } }).run(tcpTarget(origin.port), never)
  assert.equal(stranger.ok, false)
  assert.match(stranger.reason, /^request failed: /)
})

// ---------------------------------------------------------------- custom

test('custom: the function decides, sync or async, with an optional reason; what it throws or returns otherwise fails', async () => {
  const target = tcpTarget(1)
  const run = async (fn: HealthCheckFunction): Promise<ProbeResult> => await new CustomProbe('u', 'c', fn, 500).run(target, never)
  assert.deepEqual(await run(() => true), { ok: true, reason: 'check "c" passed' })
  assert.deepEqual(await run(async () => false), { ok: false, reason: 'check "c" failed' })
  assert.deepEqual(await run(async () => ({ healthy: false, reason: 'replica lag 30s' })), { ok: false, reason: 'check "c" failed: replica lag 30s' })
  assert.deepEqual(await run(() => { throw new Error('no db') }), { ok: false, reason: 'check "c" threw: no db' })
  assert.deepEqual(await run(async () => await Promise.reject(new Error('late no'))), { ok: false, reason: 'check "c" threw: late no' })
  assert.deepEqual(await run((() => 200) as never), { ok: false, reason: 'check "c" returned 200, not true, false or { healthy }' })
})

test('custom: the check is given the target, once made, and an abort signal', async () => {
  const target = tcpTarget(4321, true)
  const seen: HealthCheckTarget[] = []
  const probe = new CustomProbe('blue', 'c', (given, signal) => { seen.push(given); return !signal.aborted }, 500)
  await probe.run(target, never)
  await probe.run(target, never)
  assert.deepEqual(seen[0], { upstream: 'blue', address: '127.0.0.1:4321', host: '127.0.0.1', port: 4321, socketPath: null, backup: true })
  assert.equal(seen[0], seen[1], 'a new view was made for the same target')
  assert.ok(Object.isFrozen(seen[0]))
})

test('custom: a check that hangs is cut by the timeout, its signal aborted, and not called again until it settles', async () => {
  const target = tcpTarget(1)
  let calls = 0
  let finish!: (healthy: boolean) => void
  let aborted: AbortSignal | null = null
  const probe = new CustomProbe('u', 'slow', (_target, signal) => {
    calls++
    aborted = signal
    return new Promise<boolean>(resolve => { finish = resolve })
  }, 100)
  const started = performance.now()
  assert.deepEqual(await within(probe.run(target, never), 5000, 'the check was not cut by its timeout'), { ok: false, reason: 'check "slow" did not answer within 100ms' })
  assert.ok(performance.now() - started < 1000)
  assert.equal((aborted as AbortSignal | null)?.aborted, true)
  assert.deepEqual(await probe.run(target, never), { ok: false, reason: 'check "slow" is still running from an earlier call that timed out' })
  assert.equal(calls, 1)
  finish(true)
  await new Promise(resolve => setImmediate(resolve))
  const next = probe.run(target, never)
  finish(true)
  assert.deepEqual(await next, { ok: true, reason: 'check "slow" passed' })
  assert.equal(calls, 2)
})

test('custom: stopping the checks settles a pending check at once and aborts its signal', async () => {
  const controller = new AbortController()
  let given: AbortSignal | null = null
  const probe = new CustomProbe('u', 'held', (_target, signal) => { given = signal; return new Promise<boolean>(() => undefined) }, 10_000)
  const running = probe.run(tcpTarget(1), controller.signal)
  controller.abort()
  assert.deepEqual(await within(running, 1000, 'the stopped check did not settle'), { ok: false, reason: 'checking stopped' })
  assert.equal((given as AbortSignal | null)?.aborted, true)
})
