/**
 * jwt routes through a real gateway: a secret, a public key file and a JWKS server of the
 * test's own on 127.0.0.1 (stopped, or never answering, to see the gateway stay bounded);
 * what is refused, and which claims reach the upstream as headers.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client, type ErrorBody } from '../helpers/client.js'
import { within } from '../helpers/deadline.js'
import { tempFolder } from '../helpers/files.js'
import { handMade, hs256, jwkOf, keyPair, nowSeconds, sign, startJwksServer } from '../helpers/jwt.js'

const SECRET = 'an-e2e-secret-0123456789abcdef'
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

test('jwt secret: a valid token passes, its claims go upstream as headers, the client\'s own copies of them never do', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', auth: { type: 'jwt', secret: SECRET, algorithms: ['HS256'], forwardClaims: { sub: 'x-user-id', tier: 'X-Tier' } } }]
  })
  const get = client(t)
  const forged = { 'x-user-id': 'admin', 'x-tier': 'gold' }
  const ok = await get(`${gw.url}/`, { headers: { ...forged, ...bearer(sign({ sub: 'u-42', tier: 'free' }, SECRET, 'HS256')) } })
  assert.equal(ok.status, 200)
  const first = up.received[0]?.headers
  assert.equal(first?.['x-user-id'], 'u-42')
  assert.equal(first?.['x-tier'], 'free')
  assert.equal(first?.authorization, undefined)
  // A token without the claims: the forged headers are still removed, not passed through.
  assert.equal((await get(`${gw.url}/`, { headers: { ...forged, ...bearer(sign({ other: 1 }, SECRET, 'HS256')) } })).status, 200)
  const second = up.received[1]?.headers
  assert.equal(second?.['x-user-id'], undefined)
  assert.equal(second?.['x-tier'], undefined)
})

test('jwt secret: expired, not yet valid, badly signed, alg none and a wrong issuer or audience are 401 with invalid_token', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', auth: { type: 'jwt', secret: SECRET, issuer: 'https://issuer.test', audience: 'api', clockTolerance: '5s', realm: 'api' } }]
  })
  const get = client(t)
  const good = { iss: 'https://issuer.test', aud: 'api', sub: 'u1' }
  const now = nowSeconds()
  const refused: [string, string][] = [
    ['expired', sign({ ...good, exp: now - 60 }, SECRET, 'HS256')],
    ['not yet valid', sign({ ...good, nbf: now + 60 }, SECRET, 'HS256')],
    ['another secret', sign(good, 'not-the-secret', 'HS256')],
    ['alg none', handMade({ alg: 'none', typ: 'JWT' }, good)],
    ['alg none, signed anyway', handMade({ alg: 'none', typ: 'JWT' }, good, hs256(SECRET))],
    ['wrong issuer', sign({ ...good, iss: 'https://evil.test' }, SECRET, 'HS256')],
    ['no issuer', sign({ aud: 'api' }, SECRET, 'HS256')],
    ['wrong audience', sign({ ...good, aud: 'web' }, SECRET, 'HS256')]
  ]
  for (const [what, token] of refused) {
    const res = await get(`${gw.url}/`, { headers: bearer(token) })
    assert.equal(res.status, 401, what)
    assert.equal(res.json<ErrorBody>().error.code, 'UNAUTHORIZED', what)
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="api", error="invalid_token"', what)
  }
  assert.equal(up.received.length, 0)
  // Within clockTolerance of exp and nbf: still valid.
  for (const claims of [{ ...good, exp: now - 2 }, { ...good, nbf: now + 2 }]) {
    assert.equal((await get(`${gw.url}/`, { headers: bearer(sign(claims, SECRET, 'HS256')) })).status, 200, JSON.stringify(claims))
  }
})

test('jwt publicKey: RS256, ES256 and EdDSA keys from files verify their tokens; an HS256 token keyed with the public key is refused', async (t) => {
  const up = await startOrigin(t, 'up')
  const dir = tempFolder(t, 'tollgate-jwt-keys-')
  const rsa = keyPair('rsa')
  const ec = keyPair('ec-p256')
  const ed = keyPair('ed25519')
  writeFileSync(join(dir, 'rsa.pem'), rsa.publicPem)
  writeFileSync(join(dir, 'ec.pem'), ec.publicPem)
  writeFileSync(join(dir, 'ed.pem'), ed.publicPem)
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [
      { name: 'rsa', match: { path: '/rsa' }, upstream: 'up', auth: { type: 'jwt', publicKey: join(dir, 'rsa.pem') } },
      { name: 'ec', match: { path: '/ec' }, upstream: 'up', auth: { type: 'jwt', publicKey: join(dir, 'ec.pem') } },
      { name: 'ed', match: { path: '/ed' }, upstream: 'up', auth: { type: 'jwt', publicKey: join(dir, 'ed.pem'), algorithms: ['EdDSA'] } }
    ]
  })
  const get = client(t)
  assert.equal((await get(`${gw.url}/rsa`, { headers: bearer(sign({ sub: 'r' }, rsa.privatePem, 'RS256')) })).status, 200)
  assert.equal((await get(`${gw.url}/ec`, { headers: bearer(sign({ sub: 'e' }, ec.privatePem, 'ES256')) })).status, 200)
  assert.equal((await get(`${gw.url}/ed`, { headers: bearer(sign({ sub: 'd' }, ed.privatePem, 'EdDSA')) })).status, 200)
  const confused = handMade({ alg: 'HS256', typ: 'JWT' }, { sub: 'admin' }, hs256(rsa.publicPem))
  const refused = await get(`${gw.url}/rsa`, { headers: bearer(confused) })
  assert.equal(refused.status, 401)
  assert.equal(refused.json<ErrorBody>().error.message, 'the token\'s algorithm is not accepted')
  // Another key pair's token, on each route.
  assert.equal((await get(`${gw.url}/rsa`, { headers: bearer(sign({ sub: 'x' }, keyPair('rsa').privatePem, 'RS256')) })).status, 401)
  assert.equal((await get(`${gw.url}/ed`, { headers: bearer(sign({ sub: 'x' }, ec.privatePem, 'ES256')) })).status, 401)
  assert.equal(up.received.length, 3)
})

test('jwt jwksUrl: keys are fetched once and cached, a rotated-in kid is fetched, an unknown kid is 401', async (t) => {
  const up = await startOrigin(t, 'up')
  const first = keyPair('rsa')
  const second = keyPair('ec-p256')
  const jwks = await startJwksServer(t, [jwkOf(first, 'k1', 'RS256')])
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', auth: { type: 'jwt', jwksUrl: jwks.url, forwardClaims: { sub: 'x-user-id' } } }]
  })
  const get = client(t)
  for (const sub of ['a', 'b', 'c']) {
    assert.equal((await get(`${gw.url}/`, { headers: bearer(sign({ sub }, first.privatePem, 'RS256', { kid: 'k1' })) })).status, 200, sub)
  }
  assert.equal(jwks.hits(), 1, 'the key set was fetched for every token')
  assert.deepEqual(up.received.map(r => r.headers['x-user-id']), ['a', 'b', 'c'])
  jwks.setKeys([jwkOf(first, 'k1', 'RS256'), jwkOf(second, 'k2', 'ES256')])
  assert.equal((await get(`${gw.url}/`, { headers: bearer(sign({ sub: 'd' }, second.privatePem, 'ES256', { kid: 'k2' })) })).status, 200)
  assert.equal(jwks.hits(), 2)
  const unknown = await get(`${gw.url}/`, { headers: bearer(sign({ sub: 'e' }, second.privatePem, 'ES256', { kid: 'k9' })) })
  assert.equal(unknown.status, 401)
  assert.equal(unknown.json<ErrorBody>().error.message, 'the token\'s signing key is unknown')
  // Fetched keys stay usable while the key server is down.
  await jwks.stop()
  assert.equal((await get(`${gw.url}/`, { headers: bearer(sign({ sub: 'f' }, first.privatePem, 'RS256', { kid: 'k1' })) })).status, 200)
})

test('jwt jwksUrl: a key server that is down gives 503 JSON at once, and the gateway keeps serving', async (t) => {
  const up = await startOrigin(t, 'up')
  const pair = keyPair('rsa')
  const jwks = await startJwksServer(t, [jwkOf(pair, 'k1', 'RS256')])
  await jwks.stop()
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [
      { name: 'guarded', match: { path: '/guarded' }, upstream: 'up', auth: { type: 'jwt', jwksUrl: jwks.url, timeout: '2s' } },
      { name: 'open', match: { path: '/open' }, upstream: 'up' }
    ]
  })
  const get = client(t)
  const token = sign({ sub: 'a' }, pair.privatePem, 'RS256', { kid: 'k1' })
  for (let i = 0; i < 2; i++) {
    const started = performance.now()
    const res = await within(get(`${gw.url}/guarded`, { headers: bearer(token) }), 5000, 'the request hung on a key server that is down')
    assert.equal(res.status, 503)
    assert.deepEqual(res.json<ErrorBody>().error, {
      status: 503, code: 'NO_HEALTHY_UPSTREAM', message: 'the signing keys could not be fetched', requestId: res.headers['x-request-id']
    })
    assert.ok(performance.now() - started < 1500, 'a refused connection waited for the timeout')
  }
  assert.equal((await get(`${gw.url}/open`)).status, 200)
  assert.equal(up.received.length, 1)
})

test('jwt jwksUrl: a key server that never answers gives 503 once auth.timeout has passed, never a hang', async (t) => {
  const up = await startOrigin(t, 'up')
  const pair = keyPair('rsa')
  const jwks = await startJwksServer(t, [jwkOf(pair, 'k1', 'RS256')])
  jwks.setMode('hang')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', auth: { type: 'jwt', jwksUrl: jwks.url, timeout: '300ms' } }]
  })
  const started = performance.now()
  const res = await within(client(t)(`${gw.url}/`, { headers: bearer(sign({ sub: 'a' }, pair.privatePem, 'RS256', { kid: 'k1' })) }), 5000, 'the request hung on a key server that never answers')
  const elapsed = performance.now() - started
  assert.equal(res.status, 503)
  assert.equal(res.json<ErrorBody>().error.code, 'NO_HEALTHY_UPSTREAM')
  assert.equal(res.json<ErrorBody>().error.message, 'the signing keys could not be fetched in time')
  assert.ok(elapsed >= 290 && elapsed < 3000, `answered after ${Math.round(elapsed)} ms`)
  assert.ok(jwks.hits() >= 1, 'the key server was never asked')
  assert.equal(up.received.length, 0)
})
