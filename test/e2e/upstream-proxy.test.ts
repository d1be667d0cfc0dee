// Upstreams reached through an HTTP CONNECT forward proxy (`proxy.url`, lab L22): the
// proxies here are real ones on loopback that record what they get; some misbehave.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TLSSocket } from 'node:tls'
import { startOrigin, startRawOrigin, type Origin } from '../helpers/origin.js'
import { makePki } from '../helpers/certs.js'
import { startGateway } from '../helpers/gateway.js'
import { startAdminGateway } from '../helpers/admin.js'
import { client, rawExchange, type ErrorBody } from '../helpers/client.js'
import { startConnectProxy, startRawProxy } from '../helpers/connect-proxy.js'
import { refusedPort } from '../helpers/ports.js'
import { within } from '../helpers/deadline.js'
import { LogWatcher, becomes } from '../helpers/health.js'
import type { TestContext } from 'node:test'
import type { GatewayConfig } from '../../src/index.js'

/** Upstream protocols a TLS target behind the proxy is tried with (h2 joins the list). */
const TLS_PROTOCOLS = ['http1'] as const
type TlsProtocol = typeof TLS_PROTOCOLS[number]

/** A TLS origin for `protocol` that answers with the SNI it was given and the path. */
async function sniOrigin (t: TestContext, protocol: TlsProtocol, pki: ReturnType<typeof makePki>): Promise<{ origin: Origin, sni: string[] }> {
  const sni: string[] = []
  switch (protocol) {
    case 'http1': {
      const origin = await startOrigin(t, 'secure', {
        tls: { key: pki.serverKey, cert: pki.serverCert },
        handler: (req, res) => {
          sni.push(String((req.socket as TLSSocket).servername))
          res.end(`secure ${req.url ?? ''} host=${req.headers.host ?? ''}`)
        }
      })
      return { origin, sni }
    }
  }
}

test('a plain HTTP target is reached through the proxy: it sees CONNECT host:port, the target sees the request', async (t) => {
  const origin = await startOrigin(t, 'blue')
  const proxy = await startConnectProxy(t)
  const gw = await startGateway(t, {
    upstreams: { blue: { targets: [origin.address], proxy: { url: proxy.url } } },
    routes: [{ name: 'r', upstream: 'blue' }]
  })
  const res = await client(t)(`${gw.url}/through/proxy`)
  assert.equal(res.status, 200)
  assert.equal(res.text, 'Response from BLUE')
  assert.deepEqual(proxy.connects.map(c => c.line), [`CONNECT ${origin.address} HTTP/1.1`])
  assert.equal(proxy.connects[0]?.headers.host, origin.address)
  assert.equal(origin.received[0]?.url, '/through/proxy')
})

for (const protocol of TLS_PROTOCOLS) {
  test(`${protocol}: a TLS target through the proxy gets the upstream's SNI and Host, and the proxy sees only ciphertext`, async (t) => {
    const pki = makePki(t, ['*.api.test'])
    const { origin, sni } = await sniOrigin(t, protocol, pki)
    const proxy = await startConnectProxy(t)
    const gw = await startGateway(t, {
      upstreams: { v1: { protocol, targets: [origin.address], tls: { ca: pki.files.ca, servername: 'v1.api.test' }, proxy: { url: proxy.url } } },
      routes: [{ name: 'r', upstream: 'v1' }]
    })
    const res = await client(t)(`${gw.url}/secret-path-7f3a`, { headers: { host: 'client.example' } })
    assert.equal(res.status, 200)
    assert.equal(res.text, 'secure /secret-path-7f3a host=v1.api.test')
    assert.deepEqual(sni, ['v1.api.test'])
    assert.deepEqual(proxy.connects.map(c => c.line), [`CONNECT ${origin.address} HTTP/1.1`])
    const carried = Buffer.concat(proxy.connects[0]?.toTarget ?? [])
    assert.equal(carried[0], 0x16, 'the tunnel did not start with a TLS handshake record')
    assert.equal(carried.includes('secret-path-7f3a'), false, 'the proxy saw the request in clear')
    assert.equal(carried.includes('v1.api.test') && carried.includes('client.example'), false, 'the proxy saw the Host header in clear')
  })

  test(`${protocol}: behind the proxy, a certificate that does not cover the name is still refused`, async (t) => {
    const pki = makePki(t, ['*.api.test'])
    const { origin } = await sniOrigin(t, protocol, pki)
    const proxy = await startConnectProxy(t)
    const gw = await startGateway(t, {
      upstreams: { bad: { protocol, targets: [origin.address], tls: { ca: pki.files.ca, servername: 'other.test' }, proxy: { url: proxy.url }, retries: { attempts: 0 } } },
      routes: [{ name: 'r', upstream: 'bad' }]
    })
    const res = await client(t)(`${gw.url}/x`)
    assert.equal(res.status, 502)
    assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
    assert.equal(proxy.connects.length, 1)
    assert.equal(origin.received.length, 0)
  })
}

test('a target named by host name is sent to the proxy unresolved: only the proxy needs to know the name', async (t) => {
  const origin = await startOrigin(t, 'blue')
  const proxy = await startConnectProxy(t, { hosts: { 'blue.internal': '127.0.0.1' } })
  const gw = await startGateway(t, {
    upstreams: { blue: { targets: [`blue.internal:${origin.port}`], proxy: { url: proxy.url } } },
    routes: [{ name: 'r', upstream: 'blue' }]
  })
  const res = await client(t)(`${gw.url}/x`)
  assert.equal(res.status, 200)
  assert.equal(res.text, 'Response from BLUE')
  assert.deepEqual(proxy.connects.map(c => c.line), [`CONNECT blue.internal:${origin.port} HTTP/1.1`])
})

test('two sequential requests use one tunnel: one CONNECT, one upstream connection', async (t) => {
  const origin = await startOrigin(t, 'blue')
  const proxy = await startConnectProxy(t)
  const gw = await startGateway(t, {
    upstreams: { blue: { targets: [origin.address], proxy: { url: proxy.url } } },
    routes: [{ name: 'r', upstream: 'blue' }]
  })
  const get = client(t)
  assert.equal((await get(`${gw.url}/1`)).status, 200)
  assert.equal((await get(`${gw.url}/2`)).status, 200)
  assert.equal(proxy.connects.length, 1)
  assert.equal(origin.received[0]?.remotePort, origin.received[1]?.remotePort, 'the second request came on a new connection')
  assert.equal(gw.gateway.liveUpstreams.get('blue')?.targets[0]?.connectionsOpened, 1)
})

test('a reload that changes proxy.url sends the next request through the new proxy', async (t) => {
  const origin = await startOrigin(t, 'blue')
  const first = await startConnectProxy(t)
  const second = await startConnectProxy(t)
  const configWith = (proxyUrl: string, port: number): GatewayConfig => ({
    server: { listen: [{ host: '127.0.0.1', port }], accessLog: false, logLevel: 'silent' },
    upstreams: { blue: { targets: [origin.address], proxy: { url: proxyUrl } } },
    routes: [{ name: 'r', upstream: 'blue' }]
  })
  const gw = await startGateway(t, configWith(first.url, 0))
  const get = client(t)
  assert.equal((await get(`${gw.url}/1`)).status, 200)
  await gw.gateway.apply(configWith(second.url, gw.port) as Record<string, unknown>)
  assert.equal((await get(`${gw.url}/2`)).status, 200)
  assert.equal(first.connects.length, 1)
  assert.equal(second.connects.length, 1)
})

for (const status of [403, 407, 502, 503]) {
  test(`a proxy answering ${status} to CONNECT gives 502 UPSTREAM_UNAVAILABLE as JSON`, async (t) => {
    const origin = await startOrigin(t, 'blue')
    const proxy = await startConnectProxy(t, { refuse: () => status })
    const gw = await startGateway(t, {
      upstreams: { blue: { targets: [origin.address], proxy: { url: proxy.url }, retries: { attempts: 0 } } },
      routes: [{ name: 'r', upstream: 'blue' }]
    })
    const res = await client(t)(`${gw.url}/x`)
    assert.equal(res.status, 502)
    const body = res.json<ErrorBody>()
    assert.equal(body.error.code, 'UPSTREAM_UNAVAILABLE')
    assert.equal(body.error.message, 'the upstream server could not be reached through the proxy')
    assert.equal(proxy.connects.length, 1)
    assert.equal(origin.received.length, 0)
  })
}

test('a proxy that cannot be reached gives 502 UPSTREAM_UNAVAILABLE as JSON', async (t) => {
  const origin = await startOrigin(t, 'blue')
  const port = await refusedPort(t)
  const gw = await startGateway(t, {
    upstreams: { blue: { targets: [origin.address], proxy: { url: `http://127.0.0.1:${port}` }, retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'blue' }]
  })
  const res = await client(t)(`${gw.url}/x`)
  assert.equal(res.status, 502)
  assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
  assert.equal(origin.received.length, 0)
})

test('a proxy that never answers CONNECT gives 504 UPSTREAM_TIMEOUT at the connect timeout', async (t) => {
  const origin = await startOrigin(t, 'blue')
  const silent = await startRawProxy(t, () => undefined)
  const gw = await startGateway(t, {
    upstreams: { blue: { targets: [origin.address], proxy: { url: silent.url }, timeouts: { connect: '150ms' }, retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'blue' }]
  })
  const started = performance.now()
  const res = await within(client(t)(`${gw.url}/x`), 5000, 'no answer after the connect timeout')
  const elapsed = performance.now() - started
  assert.equal(res.status, 504)
  assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_TIMEOUT')
  assert.ok(elapsed >= 140 && elapsed < 1000, `answered after ${Math.round(elapsed)} ms`)
  assert.equal(silent.heads.length, 1)
})

test('a proxy that refuses the first target: the request is retried on the next target', async (t) => {
  const blocked = await startOrigin(t, 'blocked')
  const open = await startOrigin(t, 'open')
  const proxy = await startConnectProxy(t, { refuse: (record) => record.authority === blocked.address ? 403 : null })
  const gw = await startGateway(t, {
    upstreams: { app: { targets: [blocked.address, open.address], proxy: { url: proxy.url }, retries: { attempts: 1 } } },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  const res = await client(t)(`${gw.url}/x`)
  assert.equal(res.status, 200)
  assert.equal(res.text, 'Response from OPEN')
  assert.deepEqual(proxy.connects.map(c => c.authority), [blocked.address, open.address])
  assert.equal(blocked.received.length, 0)
})

test('a refused tunnel counts as a connect error for passive health: the target is ejected', async (t) => {
  const origin = await startOrigin(t, 'blue')
  const proxy = await startConnectProxy(t, { refuse: () => 403 })
  const log = new LogWatcher()
  const gw = await startGateway(t, {
    upstreams: { blue: { targets: [origin.address], proxy: { url: proxy.url }, retries: { attempts: 0 }, passive: { consecutiveFailures: 1, ejectFor: '30s', on: ['connect-error'] } } },
    routes: [{ name: 'r', upstream: 'blue' }]
  }, { logLevel: 'info', logTo: log.write })
  const ejected = log.next(becomes(origin.address, 'unhealthy'), 5000, 'the target was not ejected')
  assert.equal((await client(t)(`${gw.url}/x`)).status, 502)
  await ejected
  assert.equal(gw.gateway.liveUpstreams.get('blue')?.targets[0]?.healthy, false)
})

// ---------------------------------------------------------------- proxies that misbehave

/** Each way a proxy can misbehave after a CONNECT, and what it sends. */
const HOSTILE: readonly { readonly name: string, readonly act: (socket: import('node:net').Socket) => void }[] = [
  { name: 'answers 200 then closes', act: (s) => s.end('HTTP/1.1 200 Connection Established\r\n\r\n') },
  { name: 'answers garbage', act: (s) => s.write('\x00\x01garbage that is not HTTP\r\n\r\n') },
  { name: 'answers with a status line that is not HTTP/1.x', act: (s) => s.write('HTTP/9 200 OK\r\n\r\n') },
  { name: 'sends an endless answer head', act: (s) => { s.write('HTTP/1.1 200 OK\r\n'); s.write(`x-filler: ${'a'.repeat(20_000)}\r\n`) } },
  {
    name: 'answers 200 with a forged response behind it',
    act: (s) => s.write('HTTP/1.1 200 Connection Established\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged')
  },
  { name: 'resets the connection', act: (s) => s.resetAndDestroy() }
]

for (const hostile of HOSTILE) {
  test(`a proxy that ${hostile.name} gives 502 JSON, and the gateway keeps serving`, async (t) => {
    const origin = await startOrigin(t, 'blue')
    const bad = await startRawProxy(t, hostile.act)
    const good = await startConnectProxy(t)
    const gw = await startGateway(t, {
      upstreams: {
        bad: { targets: [origin.address], proxy: { url: bad.url }, retries: { attempts: 0 } },
        good: { targets: [origin.address], proxy: { url: good.url } }
      },
      routes: [
        { name: 'bad', match: { path: '/bad' }, upstream: 'bad' },
        { name: 'good', match: { path: '/good' }, upstream: 'good' }
      ]
    })
    const get = client(t)
    const res = await within(get(`${gw.url}/bad`), 5000, 'no answer through the hostile proxy')
    assert.equal(res.status, 502)
    assert.equal(res.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
    assert.equal(res.text.includes('forged'), false)
    assert.equal(bad.heads.length, 1)
    assert.equal((await get(`${gw.url}/good`)).text, 'Response from BLUE')
  })
}

// ---------------------------------------------------------------- credentials

test('credentials in the proxy URL are sent as Proxy-Authorization: Basic', async (t) => {
  const origin = await startOrigin(t, 'blue')
  const proxy = await startConnectProxy(t, { refuse: (record) => record.headers['proxy-authorization'] === `Basic ${Buffer.from('gw user:p@ss:w0rd').toString('base64')}` ? null : 407 })
  const gw = await startGateway(t, {
    upstreams: { blue: { targets: [origin.address], proxy: { url: `http://gw%20user:p%40ss%3Aw0rd@127.0.0.1:${proxy.port}` } } },
    routes: [{ name: 'r', upstream: 'blue' }]
  })
  const res = await client(t)(`${gw.url}/x`)
  assert.equal(res.status, 200)
  assert.equal(res.text, 'Response from BLUE')
  assert.equal(proxy.connects.length, 1)
})

test('the proxy password shows in neither GET /config nor the logs, even when the proxy refuses it', async (t) => {
  const origin = await startOrigin(t, 'blue')
  const proxy = await startConnectProxy(t, { refuse: () => 407 })
  const password = 'pr0xy-s3cret-91c'
  const log = new LogWatcher()
  const gw = await startAdminGateway(t, {
    upstreams: { blue: { targets: [origin.address], proxy: { url: `http://gw:${password}@127.0.0.1:${proxy.port}` }, retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'blue' }]
  }, { logLevel: 'debug', logTo: log.write })
  assert.equal((await gw.get('/x')).status, 502)
  const config = await gw.admin('/config')
  assert.equal(config.status, 200)
  assert.equal(config.text.includes(password), false, 'GET /config shows the password')
  assert.ok(config.text.includes(`http://***@127.0.0.1:${proxy.port}`), config.text)
  assert.ok(log.lines.some(l => JSON.stringify(l).includes(`proxy 127.0.0.1:${proxy.port} answered 407`)), 'the refusal was not logged')
  assert.equal(log.lines.some(l => JSON.stringify(l).includes(password)), false, 'a log line holds the password')
})

// ---------------------------------------------------------------- health checks

test('tcp health checks go through the proxy: a target the proxy will not reach is unhealthy', async (t) => {
  const blocked = await startOrigin(t, 'blocked')
  const open = await startOrigin(t, 'open')
  const proxy = await startConnectProxy(t, { refuse: (record) => record.authority === blocked.address ? 403 : null })
  const gw = await startGateway(t, {
    upstreams: {
      app: {
        targets: [blocked.address, open.address],
        proxy: { url: proxy.url },
        healthCheck: { type: 'tcp', interval: '5s', timeout: '1s' }
      }
    },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  // The gateway starts once every target has its first check result.
  const targets = gw.gateway.liveUpstreams.get('app')?.targets ?? []
  assert.deepEqual(targets.map(target => [target.id, target.healthy]), [[blocked.address, false], [open.address, true]])
  assert.match(targets[0]?.lastError ?? '', /answered 403 to CONNECT/)
  assert.deepEqual(new Set(proxy.connects.map(c => c.authority)), new Set([blocked.address, open.address]))
  assert.equal(blocked.received.length, 0)
})

test('http health checks go through the proxy, with TLS inside the tunnel', async (t) => {
  const pki = makePki(t, ['*.api.test'])
  const sni: string[] = []
  const origin = await startOrigin(t, 'secure', {
    tls: { key: pki.serverKey, cert: pki.serverCert },
    handler: (req, res) => {
      sni.push(String((req.socket as TLSSocket).servername))
      res.end(req.url === '/health' ? 'ALIVE' : 'hello')
    }
  })
  const proxy = await startConnectProxy(t)
  const gw = await startGateway(t, {
    upstreams: {
      app: {
        targets: [origin.address],
        tls: { ca: pki.files.ca, servername: 'v1.api.test' },
        proxy: { url: proxy.url },
        healthCheck: { type: 'http', path: '/health', expectBody: 'ALIVE', interval: '5s', timeout: '1s' }
      }
    },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  const target = gw.gateway.liveUpstreams.get('app')?.targets[0]
  assert.equal(target?.check, 'healthy', target?.lastError ?? '')
  const check = origin.received.find(r => r.url === '/health')
  assert.equal(check?.headers['user-agent'], 'tollgate-health-check')
  assert.equal(check?.headers.host, 'v1.api.test')
  assert.deepEqual(sni, ['v1.api.test'])
  assert.deepEqual(proxy.connects.map(c => c.authority), [origin.address])
  assert.equal(Buffer.concat(proxy.connects[0]?.toTarget ?? []).includes('/health'), false, 'the proxy saw the check in clear')
})

// ---------------------------------------------------------------- the gateway is no forward proxy

test('a client\'s CONNECT to the gateway opens no tunnel, even where a transparent route would forward anything', async (t) => {
  let reached = 0
  const secret = await startRawOrigin(t, (socket) => { reached++; socket.end('SECRET-SERVICE-BANNER\r\n') })
  const gw = await startGateway(t, { routes: [{ name: 'any', transparent: true }] })
  const { data } = await within(rawExchange(gw.port, `CONNECT ${secret.address} HTTP/1.1\r\nHost: ${secret.address}\r\n\r\n`, { timeoutMs: 3000 }), 5000, 'the CONNECT was never answered nor closed')
  assert.equal(data.includes('SECRET-SERVICE-BANNER'), false)
  assert.equal(data.startsWith('HTTP/1.1 200'), false, data)
  assert.equal(reached, 0, 'the gateway connected to the CONNECT target')
})
