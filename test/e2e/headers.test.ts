import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client, rawExchange } from '../helpers/client.js'
import { within } from '../helpers/deadline.js'
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { once } from 'node:events'

function deferred<T> (): { promise: Promise<T>, resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>(r => { resolve = r })
  return { promise, resolve }
}

test('request headers are set and removed, response headers set, removed and copied', async (t) => {
  const up = await startOrigin(t, 'up', {
    handler: (_req, res) => {
      res.setHeader('x-app-version', '1.2.3')
      res.setHeader('date', 'Tue, 24 Nov 2026 10:00:00 GMT')
      res.end('ok')
    }
  })
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{
      name: 'r',
      upstream: 'up',
      requestHeaders: { set: { 'x-proxy': 'tollgate' }, remove: ['user-agent'] },
      responseHeaders: { set: { 'x-content-type-options': 'nosniff' }, remove: ['x-app-version'], copy: { date: 'x-legacy-date' } }
    }]
  })
  const res = await client(t)(`${gw.url}/`, { headers: { 'user-agent': 'curl/8' } })
  const seen = up.received.at(-1)?.headers ?? {}
  assert.equal(seen['x-proxy'], 'tollgate')
  assert.equal(seen['user-agent'], undefined)
  assert.equal(res.headers['x-content-type-options'], 'nosniff')
  assert.equal(res.headers['x-app-version'], undefined)
  assert.equal(res.headers['x-legacy-date'], 'Tue, 24 Nov 2026 10:00:00 GMT')
})

test('Host passes through unchanged and x-forwarded-* and x-request-id are sent upstream', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const get = client(t)
  const res = await get(`${gw.url}/p`, { headers: { host: 'shop.example.com', 'x-forwarded-for': '6.6.6.6' } })
  const seen = up.received.at(-1)?.headers ?? {}
  assert.equal(seen.host, 'shop.example.com')
  assert.equal(seen['x-forwarded-for'], '127.0.0.1', 'an untrusted client cannot forge its address')
  assert.equal(seen['x-forwarded-proto'], 'http')
  assert.equal(seen['x-forwarded-host'], 'shop.example.com')
  assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/)
  assert.equal(seen['x-request-id'], res.headers['x-request-id'])
  const kept = await get(`${gw.url}/p`, { headers: { 'x-request-id': 'abc-123' } })
  assert.equal(kept.headers['x-request-id'], 'abc-123')
  assert.equal(up.received.at(-1)?.headers['x-request-id'], 'abc-123')
})

test('a trusted proxy\'s X-Forwarded-For is extended, not replaced', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    server: { trustProxy: ['127.0.0.1/32'] },
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  await client(t)(`${gw.url}/`, { headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' } })
  const seen = up.received.at(-1)?.headers ?? {}
  assert.equal(seen['x-forwarded-for'], '203.0.113.9, 127.0.0.1')
  assert.equal(seen['x-forwarded-proto'], 'https')
})

test('hop-by-hop headers are stripped in both directions', async (t) => {
  const up = await startOrigin(t, 'up', {
    handler: (_req, res) => {
      res.setHeader('keep-alive', 'timeout=5')
      res.setHeader('x-drop-me', 'yes')
      res.setHeader('connection', 'x-drop-me')
      res.setHeader('proxy-connection', 'keep-alive')
      res.end('ok')
    }
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const res = await rawExchange(gw.port,
    'GET / HTTP/1.1\r\nHost: x\r\nConnection: close, x-secret\r\nx-secret: 1\r\nKeep-Alive: 300\r\nProxy-Authorization: Basic Zm9v\r\nTE: gzip\r\nUpgrade: foo\r\n\r\n')
  const seen = up.received.at(-1)?.headers ?? {}
  for (const name of ['x-secret', 'keep-alive', 'proxy-authorization', 'te', 'upgrade']) {
    assert.equal(seen[name], undefined, `${name} must not reach the upstream`)
  }
  const head = res.data.split('\r\n\r\n')[0]?.toLowerCase() ?? ''
  assert.doesNotMatch(head, /^keep-alive:/m)
  assert.doesNotMatch(head, /^x-drop-me:/m)
  assert.doesNotMatch(head, /^proxy-connection:/m)
  assert.match(head, /^connection: close$/m, 'the client asked to close and the gateway honours it')
})

test('request and response bodies stream through without being buffered', async (t) => {
  // Each side sends its second part only once the other end has received the first: a
  // gateway that waited for a whole body before passing it on would never deliver it.
  const upstreamGotFirst = deferred<string>()
  const clientGotFirst = deferred<string>()
  const upstreamBody = deferred<string>()
  const up = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      if (body === '') upstreamGotFirst.resolve(chunk)
      body += chunk
    })
    req.on('end', () => {
      upstreamBody.resolve(body)
      res.setHeader('content-type', 'application/octet-stream')
      res.write('response-part-1;')
      within(clientGotFirst.promise, 5000, 'the client never got the first part of the response')
        .then(() => res.end('response-part-2'), (err: Error) => res.destroy(err))
    })
  })
  up.listen(0, '127.0.0.1')
  await once(up, 'listening')
  t.after(() => { up.closeAllConnections(); up.close() })
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [`127.0.0.1:${(up.address() as AddressInfo).port}`] } },
    routes: [{ name: 'r', upstream: 'up' }]
  })

  const req = httpRequest(`${gw.url}/upload`, { method: 'POST', agent: false, headers: { 'content-type': 'application/x-weird' } })
  t.after(() => req.destroy())
  const response = new Promise<IncomingMessage>((resolve, reject) => { req.on('response', resolve); req.on('error', reject) })
  req.write('request-part-1;')
  assert.equal(await within(upstreamGotFirst.promise, 5000, 'the upstream never got the first part of the request body before the rest was sent'),
    'request-part-1;')
  req.end('request-part-2')
  assert.equal(await within(upstreamBody.promise, 5000, 'the request body never ended upstream'), 'request-part-1;request-part-2')

  const res = await within(response, 5000, 'the response did not begin while the upstream held back the end of it')
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-length'], undefined, 'a streamed response cannot have a length')
  res.setEncoding('utf8')
  let received = ''
  res.on('data', (chunk: string) => {
    if (received === '') clientGotFirst.resolve(chunk)
    received += chunk
  })
  assert.equal(await within(clientGotFirst.promise, 5000, 'the client never got the first part of the response before the rest was sent'),
    'response-part-1;')
  await within(once(res, 'end'), 5000, 'the response never ended')
  assert.equal(received, 'response-part-1;response-part-2')
})

test('a 4 MB request body reaches the upstream whole', async (t) => {
  const big = Buffer.alloc(4 * 1024 * 1024, 97)
  const up = await startOrigin(t, 'up', {
    handler: (req, res, body) => {
      res.setHeader('content-type', 'application/octet-stream')
      res.end(`${req.method} ${body.length} ${body === big.toString() ? 'intact' : 'altered'}`)
    }
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const res = await client(t)(`${gw.url}/upload`, { method: 'POST', body: big, headers: { 'content-type': 'application/x-weird' } })
  assert.equal(res.text, `POST ${big.length} intact`)
})

test('a slow chunked response reaches the client chunk by chunk', async (t) => {
  const up = await startOrigin(t, 'up', {
    handler: (_req, res) => {
      res.write('first;')
      setTimeout(() => res.end('second'), 300)
    }
  })
  const gw = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] })
  const { request } = await import('undici')
  const res = await request(`${gw.url}/`)
  const started = performance.now()
  const iterator = res.body[Symbol.asyncIterator]()
  const first = await iterator.next()
  const firstAt = performance.now() - started
  assert.equal(Buffer.from(first.value as Buffer).toString(), 'first;')
  assert.ok(firstAt < 250, `the first chunk arrived after ${firstAt} ms, so it was held back`)
  let rest = ''
  for (let r = await iterator.next(); r.done !== true; r = await iterator.next()) rest += Buffer.from(r.value as Buffer).toString()
  assert.equal(rest, 'second')
})
