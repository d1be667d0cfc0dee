// jwt routes with a jwksUrl, against a JWKS server of the test's own on 127.0.0.1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { JwtAuthenticator } from '../../../src/auth/jwt.js'
import { PUBLIC_KEY_ALGORITHMS } from '../../../src/auth/config.js'
import { handMade, hs256, jwkOf, keyPair, sign, startJwksServer, type JwksServer } from '../../helpers/jwt.js'
import { within } from '../../helpers/deadline.js'
import { allowed, refused, requestWith } from './helpers.js'

const first = keyPair('rsa')
const second = keyPair('ec-p256')

function viaJwks (t: TestContext, jwks: JwksServer, timeoutMs = 2000, cooldownMs?: number): JwtAuthenticator {
  const authenticator = new JwtAuthenticator({
    realm: 'api',
    secret: null,
    publicKey: null,
    jwksUrl: jwks.url,
    algorithms: PUBLIC_KEY_ALGORITHMS,
    issuer: null,
    audience: null,
    clockToleranceMs: 0,
    forwardClaims: {},
    timeoutMs,
    ...(cooldownMs === undefined ? {} : { jwks: { cooldownMs } })
  })
  t.after(() => authenticator.close())
  return authenticator
}

const token = (sub: string, kid: string, pair = first, alg = 'RS256'): ReturnType<typeof requestWith> =>
  requestWith(`Bearer ${sign({ sub }, pair.privatePem, alg, { kid })}`)

test('jwks: a token whose kid is in the set is allowed; the key is fetched once for many tokens', async (t) => {
  const jwks = await startJwksServer(t, [jwkOf(first, 'k1', 'RS256')])
  const authenticator = viaJwks(t, jwks)
  assert.equal((await allowed(authenticator, token('a', 'k1'))).principal?.sub, 'a')
  assert.equal((await allowed(authenticator, token('b', 'k1'))).principal?.sub, 'b')
  assert.equal(jwks.hits(), 1)
})

test('jwks: a key rotated in is found: an unknown kid fetches the set again', async (t) => {
  const jwks = await startJwksServer(t, [jwkOf(first, 'k1')])
  const authenticator = viaJwks(t, jwks)
  await allowed(authenticator, token('a', 'k1'))
  jwks.setKeys([jwkOf(first, 'k1'), jwkOf(second, 'k2')])
  assert.equal((await allowed(authenticator, token('b', 'k2', second, 'ES256'))).principal?.sub, 'b')
  assert.equal(jwks.hits(), 2)
})

test('jwks: a kid the set does not have is 401', async (t) => {
  const jwks = await startJwksServer(t, [jwkOf(first, 'k1')])
  const error = await refused(viaJwks(t, jwks), token('a', 'nobody'))
  assert.equal(error.statusCode, 401)
  assert.equal(error.message, 'the token\'s signing key is unknown')
})

test('jwks: after an unknown kid, kids never found are refused without a fetch for the cooldown', async (t) => {
  const jwks = await startJwksServer(t, [jwkOf(first, 'k1'), jwkOf(second, 'k2')])
  const authenticator = viaJwks(t, jwks)
  await allowed(authenticator, token('a', 'k1'))
  await refused(authenticator, token('a', 'random-1'))
  assert.equal(jwks.hits(), 2)
  for (let i = 2; i <= 20; i++) {
    assert.equal((await refused(authenticator, token('a', `random-${i}`))).statusCode, 401)
    assert.equal((await refused(authenticator, token('a', 'random-1'))).statusCode, 401)
  }
  assert.equal(jwks.hits(), 2)
  // A kid found before still verifies; one never found waits for the cooldown to pass.
  assert.equal((await allowed(authenticator, token('b', 'k1'))).principal?.sub, 'b')
  assert.equal((await refused(authenticator, token('c', 'k2', second, 'ES256'))).statusCode, 401)
})

test('jwks: with no cooldown every unknown kid fetches again', async (t) => {
  const jwks = await startJwksServer(t, [jwkOf(first, 'k1')])
  const authenticator = viaJwks(t, jwks, 2000, 0)
  await refused(authenticator, token('a', 'random-1'))
  await refused(authenticator, token('a', 'random-2'))
  assert.equal(jwks.hits(), 2)
})

test('jwks: a JWKS server that is down gives 503, not a hang', async (t) => {
  const jwks = await startJwksServer(t, [jwkOf(first, 'k1')])
  await jwks.stop()
  const error = await within(refused(viaJwks(t, jwks), token('a', 'k1')), 5000, 'no answer from the authenticator')
  assert.equal(error.statusCode, 503)
  assert.equal(error.code, 'NO_HEALTHY_UPSTREAM')
  assert.match(error.detail ?? '', /^jwks http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json: /)
})

test('jwks: a JWKS server that never answers gives 503 once auth.timeout has passed', async (t) => {
  const jwks = await startJwksServer(t, [jwkOf(first, 'k1')])
  jwks.setMode('hang')
  const started = performance.now()
  const error = await within(refused(viaJwks(t, jwks, 300), token('a', 'k1')), 5000, 'no answer from the authenticator')
  const elapsed = performance.now() - started
  assert.equal(error.statusCode, 503)
  assert.equal(error.message, 'the signing keys could not be fetched in time')
  assert.ok(elapsed >= 290 && elapsed < 2000, `answered after ${Math.round(elapsed)} ms`)
})

test('jwks: a JWKS server answering 500, or not JSON, gives 503', async (t) => {
  for (const mode of ['fail', 'garbage'] as const) {
    const jwks = await startJwksServer(t, [jwkOf(first, 'k1')])
    jwks.setMode(mode)
    const error = await refused(viaJwks(t, jwks), token('a', 'k1'))
    assert.equal(error.statusCode, 503, mode)
    assert.equal(error.message, 'the signing keys could not be fetched', mode)
  }
})

test('jwks: the server answering again after a failure is used at once', async (t) => {
  const jwks = await startJwksServer(t, [jwkOf(first, 'k1')])
  jwks.setMode('fail')
  const authenticator = viaJwks(t, jwks)
  assert.equal((await refused(authenticator, token('a', 'k1'))).statusCode, 503)
  jwks.setMode('ok')
  assert.equal((await allowed(authenticator, token('a', 'k1'))).principal?.sub, 'a')
})

test('jwks: alg none and an HS256 token keyed with a public key are refused without a fetch', async (t) => {
  const jwks = await startJwksServer(t, [jwkOf(first, 'k1')])
  const authenticator = viaJwks(t, jwks)
  const none = handMade({ alg: 'none', kid: 'k1' }, { sub: 'admin' })
  const confused = handMade({ alg: 'HS256', kid: 'k1' }, { sub: 'admin' }, hs256(first.publicPem))
  for (const forged of [none, confused]) {
    const error = await refused(authenticator, requestWith(`Bearer ${forged}`))
    assert.equal(error.statusCode, 401)
  }
  assert.equal(jwks.hits(), 0)
})

test('jwks: a token signed by a key that is not the one its kid names is 401', async (t) => {
  const jwks = await startJwksServer(t, [jwkOf(first, 'k1')])
  const error = await refused(viaJwks(t, jwks), token('a', 'k1', keyPair('rsa')))
  assert.equal(error.statusCode, 401)
  assert.equal(error.message, 'the token\'s signature is not valid')
})
