import { test } from 'node:test'
import assert from 'node:assert/strict'
import { redactConfig, redactedPlaceholders, REDACTED } from '../../../src/admin/redact.js'

const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n'

function routeAuth (auth: Record<string, unknown>): unknown {
  const shown = redactConfig({ routes: [{ name: 'r', upstream: 'a', auth }] }) as { routes: { auth: unknown }[] }
  return shown.routes[0]?.auth
}

test('a JWT secret is hidden; the rest of the auth settings stay readable', () => {
  assert.deepEqual(routeAuth({ type: 'jwt', secret: 'hmac-secret', algorithms: ['HS256'], issuer: 'https://issuer.example' }),
    { type: 'jwt', secret: REDACTED, algorithms: ['HS256'], issuer: 'https://issuer.example' })
})

test('every bearer token is hidden; how many there are stays visible', () => {
  assert.deepEqual(routeAuth({ type: 'bearer', tokens: ['t1', 't2'] }), { type: 'bearer', tokens: [REDACTED, REDACTED] })
})

test('basic auth password hashes are hidden; user names stay', () => {
  assert.deepEqual(routeAuth({ type: 'basic', realm: 'api', users: { ann: 'scrypt$abc', bob: 'scrypt$def' } }),
    { type: 'basic', realm: 'api', users: { ann: REDACTED, bob: REDACTED } })
})

test('credentials in a Redis URL are hidden; host, port and database stay', () => {
  assert.deepEqual(redactConfig({ redis: { url: 'redis://user:pa55@10.0.0.5:6379/2' } }), { redis: { url: `redis://${REDACTED}@10.0.0.5:6379/2` } })
  assert.deepEqual(redactConfig({ redis: { url: 'rediss://:pa55@cache.internal:6380' } }), { redis: { url: `rediss://${REDACTED}@cache.internal:6380` } })
  assert.deepEqual(redactConfig({ redis: { url: 'redis://127.0.0.1:6379' } }), { redis: { url: 'redis://127.0.0.1:6379' } })
})

test('credentials in any other URL are hidden too (a webhook, a JWKS endpoint)', () => {
  const shown = redactConfig({ upstreams: { a: { notify: { webhook: 'https://hook:s3cret@alerts.example/x' } } } })
  assert.deepEqual(shown, { upstreams: { a: { notify: { webhook: `https://${REDACTED}@alerts.example/x` } } } })
})

test('the admin token is hidden; its listen address is not', () => {
  assert.deepEqual(redactConfig({ admin: { listen: { host: '0.0.0.0', port: 9090 }, token: 'admin-secret' } }),
    { admin: { listen: { host: '0.0.0.0', port: 9090 }, token: REDACTED } })
})

test('TLS key file paths are shown; inline private key material is hidden', () => {
  const shown = redactConfig({
    server: { listen: [{ host: '0.0.0.0', port: 8443, tls: { certs: [{ cert: 'certs/a.crt', key: 'certs/a.key' }] } }] },
    upstreams: { a: { tls: { key: PEM } } }
  })
  assert.deepEqual(shown, {
    server: { listen: [{ host: '0.0.0.0', port: 8443, tls: { certs: [{ cert: 'certs/a.crt', key: 'certs/a.key' }] } }] },
    upstreams: { a: { tls: { key: REDACTED } } }
  })
})

test('credential headers the gateway sets or matches are hidden; other headers are not', () => {
  const shown = redactConfig({
    routes: [{
      name: 'r',
      upstream: 'a',
      match: { headers: { 'x-api-key': 'k1', 'x-version': 'v2' } },
      requestHeaders: { set: { authorization: 'Bearer up', 'x-proxy': 'tollgate', 'x-auth-token': 't' } }
    }]
  })
  assert.deepEqual(shown, {
    routes: [{
      name: 'r',
      upstream: 'a',
      match: { headers: { 'x-api-key': REDACTED, 'x-version': 'v2' } },
      requestHeaders: { set: { authorization: REDACTED, 'x-proxy': 'tollgate', 'x-auth-token': REDACTED } }
    }]
  })
})

test('the input is left as it was', () => {
  const config = Object.freeze({ admin: Object.freeze({ token: 'x' }) })
  redactConfig(config)
  assert.equal(config.admin.token, 'x')
})

test('"***" sent back where a secret goes is found, by path; the real values are not', () => {
  const config = {
    admin: { token: REDACTED },
    redis: { url: `redis://${REDACTED}@10.0.0.5:6379` },
    routes: [
      { name: 'a', upstream: 'u', auth: { type: 'bearer', tokens: ['real', REDACTED] } },
      { name: 'b', upstream: 'u', auth: { type: 'jwt', secret: 'real-secret' }, requestHeaders: { set: { authorization: REDACTED, 'x-tag': REDACTED } } }
    ]
  }
  assert.deepEqual(redactedPlaceholders(config), ['admin.token', 'redis.url', 'routes[0].auth.tokens[1]', 'routes[1].requestHeaders.set.authorization'])
  assert.deepEqual(redactedPlaceholders({ admin: { token: 'x' }, redis: { url: 'redis://u:p@h:1' } }), [])
})
