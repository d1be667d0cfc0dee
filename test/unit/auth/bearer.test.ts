import { test } from 'node:test'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { createHash } from 'node:crypto'
import { BearerAuthenticator } from '../../../src/auth/bearer.js'
import { allowed, refused, requestWith } from './helpers.js'

const bearer = (): BearerAuthenticator => new BearerAuthenticator({ realm: 'api', tokens: ['first-token', 'second-token'] })

test('bearer: a configured token is allowed, synchronously, with the token\'s place as principal', () => {
  const ctx = { principal: null, upstreamHeaders: null }
  const result = bearer().authenticate(requestWith('Bearer second-token'), ctx)
  assert.equal(result, undefined)
  assert.deepEqual(ctx.principal, { id: 'tokens[1]' })
})

test('bearer: the scheme is read in any case', async () => {
  assert.deepEqual((await allowed(bearer(), requestWith('bEaReR first-token'))).principal, { id: 'tokens[0]' })
})

test('bearer: no Authorization header is 401 with a Bearer challenge naming the realm', async () => {
  const error = await refused(bearer(), requestWith())
  assert.equal(error.code, 'UNAUTHORIZED')
  assert.equal(error.statusCode, 401)
  assert.deepEqual(error.headers, { 'www-authenticate': 'Bearer realm="api"' })
})

test('bearer: a wrong token is 401 (not 403) with error="invalid_token"', async () => {
  const error = await refused(bearer(), requestWith('Bearer first-tokem'))
  assert.equal(error.statusCode, 401)
  assert.equal(error.headers?.['www-authenticate'], 'Bearer realm="api", error="invalid_token"')
})

test('bearer: a prefix or an extension of a token is refused', async () => {
  for (const token of ['first', 'first-token-and-more', 'first-token\u0000']) {
    assert.equal((await refused(bearer(), requestWith(`Bearer ${token}`))).statusCode, 401, token)
  }
})

test('bearer: another scheme counts as no token', async () => {
  const error = await refused(bearer(), requestWith('Basic Zmlyc3QtdG9rZW4='))
  assert.equal(error.headers?.['www-authenticate'], 'Bearer realm="api"')
})

test('bearer: a malformed header (scheme alone, scheme and spaces) is 401 invalid_request', async () => {
  for (const header of ['Bearer', 'Bearer    ']) {
    const error = await refused(bearer(), requestWith(header))
    assert.equal(error.statusCode, 401, header)
    assert.equal(error.headers?.['www-authenticate'], 'Bearer realm="api", error="invalid_request"', header)
  }
})

test('bearer: a 100 KB token is refused without being compared', async () => {
  const error = await refused(bearer(), requestWith(`Bearer ${'a'.repeat(100 * 1024)}`))
  assert.equal(error.statusCode, 401)
  assert.equal(error.message, 'the Authorization header is malformed')
})

test('bearer: the error message never holds the token', async () => {
  const error = await refused(bearer(), requestWith('Bearer guessed-secret-value'))
  assert.doesNotMatch(JSON.stringify({ message: error.message, headers: error.headers }), /guessed-secret-value/)
})

test('bearer: a quote in the realm is escaped in the challenge', async () => {
  const error = await refused(new BearerAuthenticator({ realm: 'say "hi" \\o/', tokens: ['t'] }), requestWith())
  assert.equal(error.headers?.['www-authenticate'], 'Bearer realm="say \\"hi\\" \\\\o/"')
})

test('bearer: only SHA-256 digests of the tokens are kept, so the comparison is of equal-length digests, never of the tokens', () => {
  const authenticator = bearer()
  assert.doesNotMatch(inspect(authenticator, { depth: 5, showHidden: true }), /first-token|second-token/)
  const buffers = Object.values(authenticator).flat().filter((value): value is Buffer => Buffer.isBuffer(value))
  assert.deepEqual(buffers, ['first-token', 'second-token'].map(token => createHash('sha256').update(token).digest()))
})

test('bearer: two Authorization headers are 401 invalid_request, even when the first is right', async () => {
  const request = {
    headers: { authorization: 'Bearer first-token' },
    raw: { rawHeaders: ['Host', 'a', 'Authorization', 'Bearer first-token', 'authorization', 'Bearer other'] }
  }
  const error = await refused(bearer(), request as never)
  assert.equal(error.statusCode, 401)
  assert.equal(error.headers?.['www-authenticate'], 'Bearer realm="api", error="invalid_request"')
  const single = { headers: request.headers, raw: { rawHeaders: ['Host', 'a', 'Authorization', 'Bearer first-token'] } }
  assert.deepEqual((await allowed(bearer(), single as never)).principal, { id: 'tokens[0]' })
})
