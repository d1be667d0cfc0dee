import { test } from 'node:test'
import assert from 'node:assert/strict'
import { JwtAuthenticator, type JwtOptions } from '../../../src/auth/jwt.js'
import { HMAC_ALGORITHMS } from '../../../src/auth/config.js'
import { base64url, handMade, hs256, keyPair, nowSeconds, sign } from '../../helpers/jwt.js'
import { allowed, refused, requestWith } from './helpers.js'

const SECRET = 'a-test-secret-of-some-length-0123456789'
const rsa = keyPair('rsa')

function jwt (options: Partial<JwtOptions>): JwtAuthenticator {
  return new JwtAuthenticator({
    realm: 'api',
    secret: null,
    publicKey: null,
    jwksUrl: null,
    algorithms: HMAC_ALGORITHMS,
    issuer: null,
    audience: null,
    clockToleranceMs: 0,
    forwardClaims: {},
    timeoutMs: 1000,
    ...options
  })
}

const withSecret = (options: Partial<JwtOptions> = {}): JwtAuthenticator => jwt({ secret: SECRET, ...options })
const bearer = (token: string): ReturnType<typeof requestWith> => requestWith(`Bearer ${token}`)

async function refusal (authenticator: JwtAuthenticator, token: string): Promise<{ status: number, code: string, message: string, challenge: string | undefined }> {
  const error = await refused(authenticator, bearer(token))
  return { status: error.statusCode, code: error.code, message: error.message, challenge: error.headers?.['www-authenticate'] }
}

test('jwt: an HS256 token signed with the secret is allowed; its claims are the principal', async () => {
  const ctx = await allowed(withSecret(), bearer(sign({ sub: 'u1', role: 'admin' }, SECRET, 'HS256')))
  assert.equal(ctx.principal?.sub, 'u1')
  assert.equal(ctx.principal?.role, 'admin')
})

test('jwt: HS384 and HS512 are accepted by default with a secret', async () => {
  for (const alg of ['HS384', 'HS512']) {
    assert.equal((await allowed(withSecret(), bearer(sign({ sub: alg }, SECRET, alg)))).principal?.sub, alg)
  }
})

test('jwt: no token is 401 with a Bearer challenge', async () => {
  const error = await refused(withSecret(), requestWith())
  assert.equal(error.code, 'UNAUTHORIZED')
  assert.equal(error.headers?.['www-authenticate'], 'Bearer realm="api"')
})

test('jwt: a token signed with another secret is 401 invalid_token', async () => {
  const r = await refusal(withSecret(), sign({ sub: 'u1' }, 'another-secret', 'HS256'))
  assert.deepEqual(r, { status: 401, code: 'UNAUTHORIZED', message: 'the token\'s signature is not valid', challenge: 'Bearer realm="api", error="invalid_token"' })
})

test('jwt: a token with a tampered payload is 401', async () => {
  const [h, , s] = sign({ sub: 'u1' }, SECRET, 'HS256').split('.')
  const forged = `${h}.${base64url(JSON.stringify({ sub: 'admin' }))}.${s}`
  assert.equal((await refusal(withSecret(), forged)).message, 'the token\'s signature is not valid')
})

test('jwt: an expired token is 401', async () => {
  const r = await refusal(withSecret(), sign({ sub: 'u1', exp: nowSeconds() - 60 }, SECRET, 'HS256'))
  assert.equal(r.status, 401)
  assert.equal(r.message, 'the token has expired')
})

test('jwt: a token expired by less than clockTolerance is still allowed', async () => {
  const token = sign({ sub: 'u1', exp: nowSeconds() - 2 }, SECRET, 'HS256')
  assert.equal((await refusal(withSecret(), token)).message, 'the token has expired')
  assert.equal((await allowed(withSecret({ clockToleranceMs: 30_000 }), bearer(token))).principal?.sub, 'u1')
})

test('jwt: a token before its nbf is 401; within clockTolerance of it, allowed', async () => {
  const soon = sign({ sub: 'u1', nbf: nowSeconds() + 5 }, SECRET, 'HS256')
  assert.equal((await refusal(withSecret(), soon)).message, 'the token is not valid yet')
  assert.equal((await allowed(withSecret({ clockToleranceMs: 30_000 }), bearer(soon))).principal?.sub, 'u1')
  const later = sign({ sub: 'u1', nbf: nowSeconds() + 3600 }, SECRET, 'HS256')
  assert.equal((await refusal(withSecret({ clockToleranceMs: 30_000 }), later)).message, 'the token is not valid yet')
})

test('jwt: iss must be one of the issuers, and present', async () => {
  const authenticator = withSecret({ issuer: ['https://issuer.test', 'https://other.test'] })
  assert.equal((await allowed(authenticator, bearer(sign({ iss: 'https://other.test' }, SECRET, 'HS256')))).principal?.iss, 'https://other.test')
  assert.equal((await refusal(authenticator, sign({ iss: 'https://evil.test' }, SECRET, 'HS256'))).message, 'the token\'s issuer or audience is not accepted')
  assert.equal((await refusal(authenticator, sign({ sub: 'no-iss' }, SECRET, 'HS256'))).message, 'the token lacks a required claim (iss or aud)')
})

test('jwt: aud must name the audience, and be present', async () => {
  const authenticator = withSecret({ audience: ['api'] })
  assert.ok((await allowed(authenticator, bearer(sign({ aud: ['web', 'api'] }, SECRET, 'HS256')))).principal)
  assert.equal((await refusal(authenticator, sign({ aud: 'web' }, SECRET, 'HS256'))).status, 401)
  assert.equal((await refusal(authenticator, sign({ sub: 'no-aud' }, SECRET, 'HS256'))).status, 401)
})

test('jwt: alg "none" is refused, with a signature or without', async () => {
  const unsigned = handMade({ alg: 'none', typ: 'JWT' }, { sub: 'admin' })
  assert.equal((await refusal(withSecret(), unsigned)).status, 401)
  assert.equal((await refusal(jwt({ publicKey: rsa.publicPem, algorithms: ['RS256'] }), unsigned)).status, 401)
  const noneWithSignature = handMade({ alg: 'none' }, { sub: 'admin' }, hs256(SECRET))
  assert.equal((await refusal(withSecret(), noneWithSignature)).status, 401)
})

test('jwt: an algorithm outside the route\'s list is refused', async () => {
  const r = await refusal(withSecret({ algorithms: ['HS256'] }), sign({ sub: 'u1' }, SECRET, 'HS512'))
  assert.equal(r.message, 'the token\'s algorithm is not accepted')
})

test('jwt: RS256 with the public key: a token signed by the private key is allowed', async () => {
  const authenticator = jwt({ publicKey: rsa.publicPem, algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] })
  assert.equal((await allowed(authenticator, bearer(sign({ sub: 'rs' }, rsa.privatePem, 'RS256')))).principal?.sub, 'rs')
  assert.equal((await allowed(authenticator, bearer(sign({ sub: 'ps' }, rsa.privatePem, 'PS256')))).principal?.sub, 'ps')
})

test('jwt: algorithm confusion: an HS256 token keyed with the RSA public key is refused', async () => {
  const authenticator = jwt({ publicKey: rsa.publicPem, algorithms: ['RS256'] })
  const confused = handMade({ alg: 'HS256', typ: 'JWT' }, { sub: 'admin' }, hs256(rsa.publicPem))
  const r = await refusal(authenticator, confused)
  assert.equal(r.status, 401)
  assert.equal(r.message, 'the token\'s algorithm is not accepted')
})

test('jwt: ES256 and EdDSA keys verify their own tokens, and not each other\'s', async () => {
  const ec = keyPair('ec-p256')
  const ed = keyPair('ed25519')
  const byEc = jwt({ publicKey: ec.publicPem, algorithms: ['ES256'] })
  const byEd = jwt({ publicKey: ed.publicPem, algorithms: ['EdDSA'] })
  assert.equal((await allowed(byEc, bearer(sign({ sub: 'ec' }, ec.privatePem, 'ES256')))).principal?.sub, 'ec')
  assert.equal((await allowed(byEd, bearer(sign({ sub: 'ed' }, ed.privatePem, 'EdDSA')))).principal?.sub, 'ed')
  assert.equal((await refusal(byEc, sign({ sub: 'ed' }, ed.privatePem, 'EdDSA'))).status, 401)
  assert.equal((await refusal(byEd, sign({ sub: 'other' }, keyPair('ed25519').privatePem, 'EdDSA'))).status, 401)
})

test('jwt: garbage in the segments is 401 malformed, not a crash', async () => {
  const authenticator = withSecret()
  const garbage = [
    'not-a-jwt', 'a.b', '!!!.???.***', '...', 'a b.c d.e f',
    `${base64url('{"alg":"HS256"')}.${base64url('{}')}.x`,
    `${base64url('[1,2]')}.${base64url('{}')}.x`,
    `${base64url('{"alg":"HS256"}')}.${base64url('"str"')}.x`,
    `${base64url(Buffer.from([0xff, 0xfe, 0x00, 0x80]))}.${base64url(Buffer.from([0xc3, 0x28]))}.x`
  ]
  for (const token of garbage) {
    const r = await refusal(authenticator, token)
    assert.equal(r.status, 401, token)
    assert.equal(r.code, 'UNAUTHORIZED', token)
  }
})

test('jwt: a JSON bomb in the header (deep nesting, many keys) is 401 and costs little', async () => {
  const authenticator = withSecret()
  const deep = handMade('{"alg":"HS256","x":' + '['.repeat(5000) + ']'.repeat(5000) + '}', { sub: 'u1' }, hs256('wrong'))
  const wide = handMade(Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i])), { sub: 'u1' }, hs256('wrong'))
  for (const token of [deep, wide]) {
    const started = performance.now()
    assert.equal((await refusal(authenticator, token)).status, 401)
    assert.ok(performance.now() - started < 1000, 'took over a second')
  }
})

test('jwt: a 100 KB token is refused before it is decoded', async () => {
  const huge = handMade({ alg: 'HS256' }, { pad: 'x'.repeat(100 * 1024) }, hs256(SECRET))
  const r = await refusal(withSecret(), huge)
  assert.equal(r.status, 401)
  assert.equal(r.message, 'the Authorization header is malformed')
})

test('jwt: forwardClaims become upstream headers: text as is, numbers as text, objects as JSON', async () => {
  const authenticator = withSecret({ forwardClaims: { sub: 'x-user-id', level: 'x-level', roles: 'x-roles', missing: 'x-missing' } })
  const ctx = await allowed(authenticator, bearer(sign({ sub: 'u1', level: 3, roles: ['a', 'b'] }, SECRET, 'HS256')))
  assert.deepEqual(ctx.upstreamHeaders, { 'x-user-id': 'u1', 'x-level': '3', 'x-roles': '["a","b"]' })
})

test('jwt: a claim that cannot be a header value (a line break) is not forwarded', async () => {
  const authenticator = withSecret({ forwardClaims: { sub: 'x-user-id', name: 'x-name' } })
  const ctx = await allowed(authenticator, bearer(sign({ sub: 'u1', name: 'a\r\nx-admin: yes' }, SECRET, 'HS256')))
  assert.deepEqual(ctx.upstreamHeaders, { 'x-user-id': 'u1' })
})

test('jwt: the principal is frozen: one token\'s claims cannot be edited for its later requests', async () => {
  const authenticator = withSecret()
  const token = sign({ sub: 'u1', nested: { a: 1 } }, SECRET, 'HS256')
  const first = await allowed(authenticator, bearer(token))
  assert.ok(Object.isFrozen(first.principal))
  assert.throws(() => { (first.principal as Record<string, unknown>).sub = 'admin' })
  assert.equal((await allowed(authenticator, bearer(token))).principal?.sub, 'u1')
})

test('jwt: a verifier never accepts "none" among its algorithms', () => {
  assert.throws(() => withSecret({ algorithms: ['HS256', 'none'] }), /never "none"/)
})

test('jwt: a remembered token is remembered by all of it: the same token with another signature is still refused', async () => {
  const authenticator = withSecret()
  for (const claims of [{ sub: 'u1' }, { sub: 'u1', pad: 'x'.repeat(2000) }]) {
    const token = sign(claims, SECRET, 'HS256')
    assert.equal((await allowed(authenticator, bearer(token))).principal?.sub, 'u1')
    assert.equal((await allowed(authenticator, bearer(token))).principal?.sub, 'u1', 'verified again, from memory')
    const [h, p] = token.split('.')
    const forged = `${h}.${p}.${sign(claims, 'another-secret', 'HS256').split('.')[2]}`
    assert.equal((await refusal(authenticator, forged)).status, 401, `a forged signature on a ${token.length}-character token`)
  }
})

test('jwt: a remembered token still expires at its exp', async () => {
  const authenticator = withSecret()
  const token = sign({ sub: 'u1', exp: nowSeconds() + 1 }, SECRET, 'HS256')
  assert.equal((await allowed(authenticator, bearer(token))).principal?.sub, 'u1')
  // exp is in whole seconds: within 2 s the token has expired; checked without sleeping past it by more than a tick.
  const expiresAt = (nowSeconds() + 1) * 1000
  await new Promise(resolve => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 5))
  assert.equal((await refusal(authenticator, token)).message.includes('expired'), true)
})
