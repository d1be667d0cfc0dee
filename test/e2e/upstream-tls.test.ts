// TLS to upstreams, per upstream protocol: SNI chosen per route (lab L20) against one
// origin whose wildcard certificate covers every name, and mTLS (lab L21) against an origin
// that wants a client certificate. Each test runs once per protocol in PROTOCOLS; a new
// upstream protocol is one more entry there and one more case in `tlsOrigin`.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { TLSSocket } from 'node:tls'
import { startOrigin } from '../helpers/origin.js'
import { makePki } from '../helpers/certs.js'
import { startGateway } from '../helpers/gateway.js'
import { client, type ErrorBody } from '../helpers/client.js'
import { createSecureServer } from 'node:http2'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'

const PROTOCOLS = ['http1', 'h2'] as const
type Protocol = typeof PROTOCOLS[number]

/** What a TLS origin saw of one request. */
interface Seen {
  readonly url: string
  readonly host: string
  /** The SNI the client sent. */
  readonly sni: string
  /** A client certificate signed by the origin's CA was presented. */
  readonly authorized: boolean
  readonly clientCn: string | null
}

interface OriginTls {
  readonly key: Buffer
  readonly cert: Buffer
  readonly ca?: Buffer
  readonly requestCert?: boolean
  /** false: a request without a valid client certificate still reaches `answer`. */
  readonly rejectUnauthorized?: boolean
}

type Answer = (seen: Seen) => { status: number, body: string }

/** A TLS origin speaking `protocol` that records what it saw and answers with `answer`. */
async function tlsOrigin (t: TestContext, protocol: Protocol, tls: OriginTls, answer: Answer): Promise<{ address: string, seen: Seen[] }> {
  const seen: Seen[] = []
  const record = (url: string, host: string, socket: TLSSocket): Seen => {
    const peer = socket.getPeerCertificate()
    return {
      url,
      host,
      sni: String(socket.servername),
      authorized: socket.authorized,
      clientCn: typeof peer.subject?.CN === 'string' ? peer.subject.CN : null
    }
  }
  switch (protocol) {
    case 'h2': {
      const server = createSecureServer({ ...tls, allowHTTP1: false }, (req, res) => {
        const one = record(req.url, String(req.headers[':authority'] ?? req.headers.host ?? ''), req.socket as unknown as TLSSocket)
        seen.push(one)
        const { status, body } = answer(one)
        res.statusCode = status
        res.end(body)
      })
      server.listen(0, '127.0.0.1')
      await once(server, 'listening')
      t.after(() => { server.close() })
      return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
    }
    case 'http1': {
      const origin = await startOrigin(t, 'secure', {
        tls,
        handler: (req, res) => {
          const socket = req.socket as TLSSocket
          const peer = socket.getPeerCertificate()
          const record: Seen = {
            url: req.url ?? '',
            host: req.headers.host ?? '',
            sni: String(socket.servername),
            authorized: socket.authorized,
            clientCn: typeof peer.subject?.CN === 'string' ? peer.subject.CN : null
          }
          seen.push(record)
          const { status, body } = answer(record)
          res.statusCode = status
          res.end(body)
        }
      })
      return { address: origin.address, seen }
    }
  }
}

const echoSniAndHost: Answer = (seen) => ({ status: 200, body: `sni=${seen.sni} host=${seen.host}` })

for (const protocol of PROTOCOLS) {
  test(`${protocol}: each route's upstream sends its own tls.servername as SNI and Host to one wildcard-certificate origin`, async (t) => {
    const pki = makePki(t, ['*.api.test'])
    const origin = await tlsOrigin(t, protocol, { key: pki.serverKey, cert: pki.serverCert }, echoSniAndHost)
    const gw = await startGateway(t, {
      upstreams: {
        v1: { protocol, targets: [origin.address], tls: { ca: pki.files.ca, servername: 'v1.api.test' } },
        v2: { protocol, targets: [origin.address], tls: { ca: pki.files.ca, servername: 'v2.api.test' } }
      },
      routes: [
        { name: 'v1', match: { path: '/v1/*' }, upstream: 'v1' },
        { name: 'v2', match: { path: '/v2/*' }, upstream: 'v2' }
      ]
    })
    const get = client(t)
    assert.equal((await get(`${gw.url}/v1/x`, { headers: { host: 'client.example' } })).text, 'sni=v1.api.test host=v1.api.test')
    assert.equal((await get(`${gw.url}/v2/x`, { headers: { host: 'client.example' } })).text, 'sni=v2.api.test host=v2.api.test')
    assert.deepEqual(origin.seen.map(s => [s.url, s.sni]), [['/v1/x', 'v1.api.test'], ['/v2/x', 'v2.api.test']])
  })

  test(`${protocol}: a tls.servername the origin's certificate does not cover gives 502 UPSTREAM_UNAVAILABLE`, async (t) => {
    const pki = makePki(t, ['*.api.test'])
    const origin = await tlsOrigin(t, protocol, { key: pki.serverKey, cert: pki.serverCert }, echoSniAndHost)
    const gw = await startGateway(t, {
      upstreams: { other: { protocol, targets: [origin.address], tls: { ca: pki.files.ca, servername: 'other.test' }, retries: { attempts: 0 } } },
      routes: [{ name: 'r', upstream: 'other' }]
    })
    const res = await client(t)(`${gw.url}/x`)
    assert.equal(res.status, 502)
    assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
    assert.equal(origin.seen.length, 0)
  })

  test(`${protocol}: mTLS: the route whose upstream presents a client certificate gets 200; the other gets the origin's rejection`, async (t) => {
    const pki = makePki(t, ['localhost'])
    // As the lab's nginx: the handshake lets anyone in, the origin answers 400 without a certificate.
    const origin = await tlsOrigin(t, protocol, { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert: true, rejectUnauthorized: false },
      (seen) => seen.authorized ? { status: 200, body: `hello ${seen.clientCn ?? ''}` } : { status: 400, body: 'no client certificate' })
    const gw = await startGateway(t, {
      upstreams: {
        withCert: { protocol, targets: [origin.address], tls: { ca: pki.files.ca, servername: 'localhost', cert: pki.files.clientCert, key: pki.files.clientKey } },
        without: { protocol, targets: [origin.address], tls: { ca: pki.files.ca, servername: 'localhost' } }
      },
      routes: [
        { name: 'with', match: { path: '/with' }, upstream: 'withCert' },
        { name: 'without', match: { path: '/without' }, upstream: 'without' }
      ]
    })
    const get = client(t)
    const ok = await get(`${gw.url}/with`)
    assert.equal(ok.status, 200)
    assert.equal(ok.text, 'hello tollgate-client')
    const refused = await get(`${gw.url}/without`)
    assert.equal(refused.status, 400)
    assert.equal(refused.text, 'no client certificate')
  })

  test(`${protocol}: mTLS: an origin that refuses the handshake without a client certificate gives 502 UPSTREAM_UNAVAILABLE; with one, 200`, async (t) => {
    const pki = makePki(t, ['localhost'])
    const origin = await tlsOrigin(t, protocol, { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert: true, rejectUnauthorized: true },
      (seen) => ({ status: 200, body: `hello ${seen.clientCn ?? ''}` }))
    const gw = await startGateway(t, {
      upstreams: {
        withCert: { protocol, targets: [origin.address], tls: { ca: pki.files.ca, servername: 'localhost', cert: pki.files.clientCert, key: pki.files.clientKey } },
        without: { protocol, targets: [origin.address], tls: { ca: pki.files.ca, servername: 'localhost' }, retries: { attempts: 0 } }
      },
      routes: [
        { name: 'with', match: { path: '/with' }, upstream: 'withCert' },
        { name: 'without', match: { path: '/without' }, upstream: 'without' }
      ]
    })
    const get = client(t)
    const refused = await get(`${gw.url}/without`)
    assert.equal(refused.status, 502)
    assert.equal(refused.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
    const ok = await get(`${gw.url}/with`)
    assert.equal(ok.status, 200)
    assert.equal(ok.text, 'hello tollgate-client')
    assert.deepEqual(origin.seen.map(s => s.url), ['/with'])
  })
}
