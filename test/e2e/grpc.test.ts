/**
 * gRPC through the gateway with @grpc/grpc-js at both ends: the client speaks h2 over TLS
 * to an `http2: true` listener, the gateway speaks h2c or TLS h2 to the gRPC server. Every
 * kind of call, metadata and trailers, error statuses, a dead upstream, a deadline.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway } from '../helpers/gateway.js'
import { makePki, type TestPki } from '../helpers/certs.js'
import { echoClient, grpc, startGrpcOrigin, unary, type EchoClient, type EchoMessage, type GrpcOrigin } from '../helpers/grpc.js'
import { refusedPort } from '../helpers/ports.js'
import { within } from '../helpers/deadline.js'

type Upstream = 'h2c' | 'h2'

/** A gateway on TLS + HTTP/2 in front of a gRPC origin reached over `upstream`; a client of it. */
async function throughGateway (t: TestContext, upstream: Upstream, target?: string): Promise<{ client: EchoClient, origin: GrpcOrigin | null, pki: TestPki }> {
  const pki = makePki(t)
  const origin = target === undefined ? await startGrpcOrigin(t, upstream === 'h2' ? { tls: { key: pki.serverKey, cert: pki.serverCert } } : {}) : null
  const gw = await startGateway(t, {
    server: { listen: [{ host: '127.0.0.1', port: 0, http2: true, tls: { certs: [{ cert: pki.files.serverCert, key: pki.files.serverKey }] } }] },
    upstreams: {
      grpc: {
        targets: [target ?? (origin as GrpcOrigin).address],
        protocol: upstream,
        ...(upstream === 'h2' ? { tls: { ca: pki.files.ca, servername: 'localhost' } } : {})
      }
    },
    routes: [{ name: 'grpc', match: { path: '/tollgate.test.Echo/*' }, upstream: 'grpc' }]
  })
  return { client: echoClient(t, `127.0.0.1:${gw.port}`, { ca: pki.ca }), origin, pki }
}

for (const upstream of ['h2c', 'h2'] as const) {
  test(`gRPC over ${upstream}: a unary call, its metadata and its trailers`, async (t) => {
    const { client } = await throughGateway(t, upstream)
    const metadata = new grpc.Metadata()
    metadata.set('x-echo', 'sent')
    const seen: { headers?: grpc.Metadata, trailers?: grpc.Metadata } = {}
    const reply = await within(new Promise<EchoMessage>((resolve, reject) => {
      const call = client.Unary({ text: 'hi' }, metadata, {}, (err, value) => { if (err !== null) reject(err); else resolve(value ?? {}) })
      call.on('metadata', (m: grpc.Metadata) => { seen.headers = m })
      call.on('status', (s: grpc.StatusObject) => { seen.trailers = s.metadata })
    }), 5_000, 'the unary call hung')
    assert.equal(reply.text, 'echo: hi')
    assert.deepEqual(seen.headers?.get('x-echo'), ['sent'])
    assert.deepEqual(seen.trailers?.get('x-trailer'), ['from-origin'])
  })

  test(`gRPC over ${upstream}: server streaming`, async (t) => {
    const { client } = await throughGateway(t, upstream)
    const got: string[] = []
    await within(new Promise<void>((resolve, reject) => {
      const call = client.ServerStream({ text: 'n', count: 5 })
      call.on('data', (m: EchoMessage) => got.push(m.text ?? ''))
      call.on('error', reject)
      call.on('end', resolve)
    }), 5_000, 'the stream hung')
    assert.deepEqual(got, ['n 0', 'n 1', 'n 2', 'n 3', 'n 4'])
  })

  test(`gRPC over ${upstream}: client streaming`, async (t) => {
    const { client } = await throughGateway(t, upstream)
    const reply = await within(new Promise<EchoMessage>((resolve, reject) => {
      const call = client.ClientStream(new grpc.Metadata(), {}, (err, value) => { if (err !== null) reject(err); else resolve(value ?? {}) })
      for (const text of ['a', 'b', 'c']) call.write({ text })
      call.end()
    }), 5_000, 'the call hung')
    assert.deepEqual([reply.text, reply.count], ['a,b,c', 3])
  })

  test(`gRPC over ${upstream}: bidirectional streaming, each message answered before the next is sent`, async (t) => {
    const { client } = await throughGateway(t, upstream)
    const call = client.Bidi()
    const answers: string[] = []
    for (const text of ['one', 'two', 'three']) {
      const next = new Promise<EchoMessage>(resolve => call.once('data', resolve))
      call.write({ text })
      answers.push((await within(next, 5_000, `no answer to ${text}`)).text ?? '')
    }
    const ended = new Promise<void>(resolve => call.on('end', resolve))
    call.end()
    await within(ended, 5_000, 'the call did not end')
    assert.deepEqual(answers, ['echo: one', 'echo: two', 'echo: three'])
  })

  test(`gRPC over ${upstream}: an error status passes through unchanged`, async (t) => {
    const { client } = await throughGateway(t, upstream)
    const err = await unary(cb => client.Fail({ code: grpc.status.NOT_FOUND, text: 'no such thing' }, new grpc.Metadata(), {}, cb)).then(() => null, (e: grpc.ServiceError) => e)
    assert.equal(err?.code, grpc.status.NOT_FOUND)
    assert.equal(err?.details, 'no such thing')
  })
}

test('gRPC: a dead upstream gives the client UNAVAILABLE at once, not a hang', async (t) => {
  const dead = await refusedPort(t)
  const { client } = await throughGateway(t, 'h2c', `127.0.0.1:${dead}`)
  const err = await within(unary(cb => client.Unary({ text: 'hi' }, new grpc.Metadata(), {}, cb)).then(() => null, (e: grpc.ServiceError) => e), 5_000, 'the call hung')
  assert.equal(err?.code, grpc.status.UNAVAILABLE)
})

test('gRPC: the client\'s deadline reaches the gateway as grpc-timeout and ends the call with DEADLINE_EXCEEDED', async (t) => {
  const { client, origin } = await throughGateway(t, 'h2c')
  const started = performance.now()
  const err = await within(unary(cb => client.Slow({ delay_ms: 3_000 }, new grpc.Metadata(), { deadline: Date.now() + 300 }, cb)).then(() => null, (e: grpc.ServiceError) => e), 5_000, 'the call hung')
  assert.equal(err?.code, grpc.status.DEADLINE_EXCEEDED)
  assert.ok(performance.now() - started < 2_000)
  assert.deepEqual(origin?.calls, ['Slow'])
})
