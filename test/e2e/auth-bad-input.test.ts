/**
 * What a hostile or broken client sends an authenticated route: malformed and repeated
 * Authorization headers, oversized tokens, JWTs of garbage or JSON bombs. Each gets the
 * contract's JSON error, quickly, and the gateway keeps serving.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client, rawExchange, type ErrorBody } from '../helpers/client.js'
import { base64url, handMade, hs256, sign } from '../helpers/jwt.js'

const SECRET = 'bad-input-secret-0123456789abcdef'

interface RawReply {
  readonly status: number
  readonly headers: Record<string, string>
  readonly text: string
  readonly elapsedMs: number
  error (): ErrorBody['error']
}

/** One request on its own connection, written byte for byte; the reply parsed. */
async function raw (port: number, headerLines: string[]): Promise<RawReply> {
  const head = ['GET / HTTP/1.1', 'Host: 127.0.0.1', 'Connection: close', ...headerLines].join('\r\n')
  const { data, elapsedMs } = await rawExchange(port, `${head}\r\n\r\n`)
  const split = data.indexOf('\r\n\r\n')
  assert.ok(split > 0, `no complete response: ${JSON.stringify(data.slice(0, 200))}`)
  const [statusLine = '', ...lines] = data.slice(0, split).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  const text = data.slice(split + 4)
  return { status: Number(statusLine.split(' ')[1]), headers, text, elapsedMs, error: () => (JSON.parse(text) as ErrorBody).error }
}

test('malformed Authorization headers (wrong scheme, no space, empty, scheme alone, repeated) are 401 JSON with a challenge', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', auth: { type: 'bearer', tokens: ['good-token'] } }]
  })
  const cases: Record<string, string[]> = {
    'wrong scheme': ['Authorization: Token good-token'],
    'no space': ['Authorization: Bearergood-token'],
    empty: ['Authorization:'],
    'scheme alone': ['Authorization: Bearer'],
    'scheme and spaces': ['Authorization: Bearer    '],
    'repeated, the first right': ['Authorization: Bearer good-token', 'Authorization: Bearer other'],
    'repeated, the second right': ['Authorization: Bearer other', 'authorization: Bearer good-token'],
    'repeated, both right': ['Authorization: Bearer good-token', 'Authorization: Bearer good-token']
  }
  for (const [what, lines] of Object.entries(cases)) {
    const reply = await raw(gw.port, lines)
    assert.equal(reply.status, 401, what)
    assert.equal(reply.error().code, 'UNAUTHORIZED', what)
    assert.equal(reply.error().status, 401, what)
    assert.equal(reply.error().requestId, reply.headers['x-request-id'], what)
    assert.match(reply.headers['www-authenticate'] ?? '', /^Bearer realm="tollgate"/, what)
  }
  assert.equal(up.received.length, 0)
  const good = await raw(gw.port, ['Authorization: Bearer good-token'])
  assert.equal(good.status, 200)
  assert.equal(good.text, 'Response from UP')
})

test('a 100 KB token gets 431 under the default header limit, and 401 at once when the limit lets it through', async (t) => {
  const up = await startOrigin(t, 'up')
  const huge = `Authorization: Bearer ${'a'.repeat(100 * 1024)}`
  const jwtRoute = { name: 'r', upstream: 'up', auth: { type: 'jwt' as const, secret: SECRET } }
  const strict = await startGateway(t, { upstreams: { up: { targets: [up.address] } }, routes: [jwtRoute] })
  const tooLarge = await raw(strict.port, [huge])
  assert.equal(tooLarge.status, 431)
  assert.equal(tooLarge.error().status, 431)
  assert.ok(tooLarge.elapsedMs < 2000, `answered after ${Math.round(tooLarge.elapsedMs)} ms`)
  const roomy = await startGateway(t, { server: { limits: { maxHeaderSize: '1mb' } }, upstreams: { up: { targets: [up.address] } }, routes: [jwtRoute] })
  const bigJwt = handMade({ alg: 'HS256' }, { pad: 'x'.repeat(100 * 1024) }, hs256(SECRET))
  for (const line of [huge, `Authorization: Bearer ${bigJwt}`]) {
    const reply = await raw(roomy.port, [line])
    assert.equal(reply.status, 401)
    assert.equal(reply.error().code, 'UNAUTHORIZED')
    assert.ok(reply.elapsedMs < 2000, `answered after ${Math.round(reply.elapsedMs)} ms`)
  }
  assert.equal((await client(t)(`${roomy.url}/`, { headers: { authorization: `Bearer ${sign({ sub: 'u' }, SECRET, 'HS256')}` } })).status, 200)
})

test('a JWT of garbage base64, or with a JSON bomb in its header, is 401 JSON, quickly, and the gateway keeps serving', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    server: { limits: { maxHeaderSize: '64kb' } },
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', auth: { type: 'jwt', secret: SECRET } }]
  })
  const tokens: Record<string, string> = {
    'not base64': '!!!.@@@.###',
    'base64 of binary': `${base64url(Buffer.from([0xff, 0xfe, 0x00, 0x80]))}.${base64url(Buffer.from([0xc3, 0x28]))}.AAAA`,
    'truncated JSON': `${base64url('{"alg":"HS256"')}.${base64url('{}')}.AAAA`,
    'two segments': `${base64url('{"alg":"HS256"}')}.${base64url('{}')}`,
    'deeply nested header': handMade(`{"alg":"HS256","x":${'['.repeat(5000)}${']'.repeat(5000)}}`, { sub: 'u' }, hs256('wrong')),
    'wide header': handMade(Object.fromEntries([['alg', 'HS256'], ...Array.from({ length: 800 }, (_, i) => [`k${i}`, i])]), { sub: 'u' }, hs256('wrong')),
    'wide header, past the credentials limit': handMade(Object.fromEntries([['alg', 'HS256'], ...Array.from({ length: 3000 }, (_, i) => [`k${i}`, i])]), { sub: 'u' }, hs256('wrong')),
    'huge string claim in the header': handMade({ alg: 'HS256', kid: 'k'.repeat(12_000) }, { sub: 'u' }, hs256('wrong'))
  }
  for (const [what, token] of Object.entries(tokens)) {
    const reply = await raw(gw.port, [`Authorization: Bearer ${token}`])
    assert.equal(reply.status, 401, what)
    assert.equal(reply.error().code, 'UNAUTHORIZED', what)
    assert.ok(reply.elapsedMs < 2000, `${what}: answered after ${Math.round(reply.elapsedMs)} ms`)
  }
  assert.equal(up.received.length, 0)
  assert.equal((await client(t)(`${gw.url}/`, { headers: { authorization: `Bearer ${sign({ sub: 'u' }, SECRET, 'HS256')}` } })).status, 200)
})
