/**
 * Route auth through a real gateway: bearer, basic and custom hooks (jwt has its own
 * file), what reaches the upstream, where auth sits in the order of checks, and that
 * credentials never reach the log.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { Agent, request } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client, type ErrorBody } from '../helpers/client.js'
import { eventually, within } from '../helpers/deadline.js'
import { tempFolder } from '../helpers/files.js'
import { defineAuth, defineRoute, Gateway, type AuthHook } from '../../src/index.js'
import { hashPassword } from '../../src/cli/hash-password.js'

const basicHeader = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

test('bearer: no token 401 with a challenge, a wrong one 401, the right one 200; the upstream never sees the token', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', auth: { type: 'bearer', tokens: ['s3cret-token-one', 's3cret-token-two'], realm: 'api' } }]
  })
  const get = client(t)
  const missing = await get(`${gw.url}/`)
  assert.equal(missing.status, 401)
  assert.equal(missing.headers['www-authenticate'], 'Bearer realm="api"')
  assert.deepEqual(missing.json<ErrorBody>(), {
    error: { status: 401, code: 'UNAUTHORIZED', message: 'a bearer token is required', requestId: missing.headers['x-request-id'] }
  })
  const wrong = await get(`${gw.url}/`, { headers: { authorization: 'Bearer s3cret-token-on' } })
  assert.equal(wrong.status, 401)
  assert.equal(wrong.json<ErrorBody>().error.code, 'UNAUTHORIZED')
  assert.equal(wrong.headers['www-authenticate'], 'Bearer realm="api", error="invalid_token"')
  assert.equal(up.received.length, 0)
  const right = await get(`${gw.url}/`, { headers: { authorization: 'Bearer s3cret-token-two' } })
  assert.equal(right.status, 200)
  assert.equal(right.text, 'Response from UP')
  assert.equal(up.received.length, 1)
  assert.equal(up.received[0]?.headers.authorization, undefined, 'the token was sent upstream')
})

test('auth.forward: true sends the client\'s Authorization upstream; a route without auth forwards it as any header', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [
      { name: 'forwarding', match: { path: '/fwd' }, upstream: 'up', auth: { type: 'bearer', tokens: ['tok'], forward: true } },
      { name: 'open', match: { path: '/open' }, upstream: 'up' }
    ]
  })
  const get = client(t)
  assert.equal((await get(`${gw.url}/fwd`, { headers: { authorization: 'Bearer tok' } })).status, 200)
  assert.equal(up.received[0]?.headers.authorization, 'Bearer tok')
  assert.equal((await get(`${gw.url}/open`, { headers: { authorization: 'Bearer anything' } })).status, 200)
  assert.equal(up.received[1]?.headers.authorization, 'Bearer anything')
})

test('basic: no credentials 401 with WWW-Authenticate Basic realm, a wrong password or user 401, the right pair 200', async (t) => {
  const up = await startOrigin(t, 'up')
  let principal: unknown = null
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [defineRoute({
      name: 'r',
      upstream: 'up',
      auth: { type: 'basic', realm: 'Staff area', users: { alice: await hashPassword('correct horse') } },
      hooks: { onRequest (_request, _reply, ctx) { principal = ctx.principal } }
    })]
  })
  const get = client(t)
  const missing = await get(`${gw.url}/`)
  assert.equal(missing.status, 401)
  assert.equal(missing.headers['www-authenticate'], 'Basic realm="Staff area", charset="UTF-8"')
  assert.equal(missing.json<ErrorBody>().error.code, 'UNAUTHORIZED')
  for (const [user, password] of [['alice', 'wrong horse'], ['mallory', 'correct horse']] as const) {
    const wrong = await get(`${gw.url}/`, { headers: { authorization: basicHeader(user, password) } })
    assert.equal(wrong.status, 401, `${user}:${password}`)
    assert.equal(wrong.json<ErrorBody>().error.code, 'UNAUTHORIZED')
    assert.match(String(wrong.headers['www-authenticate']), /^Basic realm="Staff area"/)
  }
  assert.equal(up.received.length, 0)
  assert.equal(principal, null, 'the user hook ran for a refused request')
  const right = await get(`${gw.url}/`, { headers: { authorization: basicHeader('alice', 'correct horse') } })
  assert.equal(right.status, 200)
  assert.deepEqual(principal, { id: 'alice' })
  assert.equal(up.received[0]?.headers.authorization, undefined)
})

test('custom: a defineAuth hook allows with a principal that later hooks read, or denies with 401 or 403', async (t) => {
  const up = await startOrigin(t, 'up')
  const apiKey = defineAuth('api-key', async (request) => {
    const key = request.headers['x-api-key']
    if (key === 'reader-key') return { allow: true, principal: { id: 'svc-reader', scopes: ['read'] } }
    if (key === 'banned-key') return { allow: false, status: 403, message: 'this key is suspended', headers: { 'x-reason': 'suspended' } }
    return { allow: false, status: 401, message: 'missing or wrong key' }
  })
  const seen: unknown[] = []
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [defineRoute({
      name: 'orders',
      upstream: 'up',
      auth: { type: 'custom', name: 'api-key' },
      hooks: {
        onRequest (_request, _reply, ctx) { seen.push(ctx.principal) },
        upstreamRequest (_request, headers, ctx) { headers['x-principal'] = String(ctx.principal?.id) }
      }
    })]
  }, { auth: [apiKey] })
  const get = client(t)
  const allowed = await get(`${gw.url}/`, { headers: { 'x-api-key': 'reader-key' } })
  assert.equal(allowed.status, 200)
  assert.deepEqual(seen, [{ id: 'svc-reader', scopes: ['read'] }])
  assert.equal(up.received[0]?.headers['x-principal'], 'svc-reader')
  const unknown = await get(`${gw.url}/`, { headers: { 'x-api-key': 'nope' } })
  assert.equal(unknown.status, 401)
  assert.deepEqual(unknown.json<ErrorBody>().error, { status: 401, code: 'UNAUTHORIZED', message: 'missing or wrong key', requestId: unknown.headers['x-request-id'] })
  assert.equal(unknown.headers['www-authenticate'], 'api-key realm="tollgate"')
  const banned = await get(`${gw.url}/`, { headers: { 'x-api-key': 'banned-key' } })
  assert.equal(banned.status, 403)
  assert.deepEqual(banned.json<ErrorBody>().error, { status: 403, code: 'FORBIDDEN', message: 'this key is suspended', requestId: banned.headers['x-request-id'] })
  assert.equal(banned.headers['x-reason'], 'suspended')
  assert.equal(banned.headers['www-authenticate'], undefined)
  assert.equal(seen.length, 1, 'a user hook ran for a refused request')
  assert.equal(up.received.length, 1)
})

test('custom: a hook that throws gives 500 INTERNAL_ERROR, logged with the hook\'s name; the gateway keeps serving', async (t) => {
  const up = await startOrigin(t, 'up')
  const lines: Record<string, unknown>[] = []
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [
      { name: 'broken', match: { path: '/broken' }, upstream: 'up', auth: { type: 'custom', name: 'flaky-db' } },
      { name: 'open', match: { path: '/open' }, upstream: 'up' }
    ]
  }, {
    logLevel: 'warn',
    logTo: line => lines.push(JSON.parse(line) as Record<string, unknown>),
    auth: [defineAuth('flaky-db', async () => { throw new Error('connection to the user store was lost') })]
  })
  const get = client(t)
  const broken = await get(`${gw.url}/broken`)
  assert.equal(broken.status, 500)
  assert.equal(broken.json<ErrorBody>().error.code, 'INTERNAL_ERROR')
  assert.equal(broken.json<ErrorBody>().error.message, 'the authentication check failed')
  const logged = lines.find(line => line.detail === 'auth hook "flaky-db": connection to the user store was lost')
  assert.ok(logged !== undefined, `no log line names the failed hook:\n${lines.map(l => JSON.stringify(l)).join('\n')}`)
  assert.equal(logged.route, 'broken')
  assert.equal((await get(`${gw.url}/open`)).status, 200)
  assert.equal(up.received.length, 1)
})

test('custom: a hook that never settles is cut by auth.timeout with 503, and the upstream is never asked', async (t) => {
  const up = await startOrigin(t, 'up')
  let calls = 0
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', auth: { type: 'custom', name: 'stuck', timeout: '200ms' } }]
  }, { auth: [defineAuth('stuck', async () => { calls++; return await new Promise(() => {}) })] })
  const started = performance.now()
  const res = await within(client(t)(`${gw.url}/`), 5000, 'the request hung on the auth hook')
  const elapsed = performance.now() - started
  assert.equal(res.status, 503)
  assert.deepEqual(res.json<ErrorBody>().error, {
    status: 503, code: 'NO_HEALTHY_UPSTREAM', message: 'the authentication check did not finish in time', requestId: res.headers['x-request-id']
  })
  assert.ok(elapsed >= 190 && elapsed < 3000, `answered after ${Math.round(elapsed)} ms`)
  assert.equal(calls, 1)
  assert.equal(up.received.length, 0)
})

test('custom: defineAuth exported by a routes/ module guards a route declared in the YAML config', async (t) => {
  const up = await startOrigin(t, 'up')
  const dir = tempFolder(t, 'tollgate-auth-e2e-')
  mkdirSync(join(dir, 'routes'))
  const engine = process.env.TOLLGATE_TEST_ENGINE ?? 'undici'
  writeFileSync(join(dir, 'gateway.yaml'), `
server: { listen: [{ host: 127.0.0.1, port: 0 }], accessLog: false, logLevel: silent, engine: ${engine} }
upstreams: { up: { targets: ["${up.address}"] } }
routes:
  - { name: orders, upstream: up, auth: { type: custom, name: api-key } }
`)
  writeFileSync(join(dir, 'routes', 'auth.ts'), `
import { defineAuth } from 'tollgate'
export const apiKey = defineAuth('api-key', async (request) =>
  request.headers['x-api-key'] === 'k1'
    ? { allow: true, principal: { id: 'svc' } }
    : { allow: false, status: 401, message: 'missing or wrong key' })
`)
  const gateway = await Gateway.start(join(dir, 'gateway.yaml'), { logger: pino({ level: 'silent' }) })
  t.after(() => gateway.close(0))
  const url = `http://127.0.0.1:${gateway.addresses()[0]?.port ?? 0}`
  const get = client(t)
  const refused = await get(`${url}/`)
  assert.equal(refused.status, 401)
  assert.equal(refused.json<ErrorBody>().error.message, 'missing or wrong key')
  assert.equal((await get(`${url}/`, { headers: { 'x-api-key': 'k1' } })).status, 200)
  assert.equal(up.received.length, 1)
})

// ---------------------------------------------------------------- the order of the checks

test('order: the IP filter answers before auth; a refused address never reaches the auth hook', async (t) => {
  const up = await startOrigin(t, 'up')
  let calls = 0
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', ipFilter: { deny: ['127.0.0.3/32'] }, auth: { type: 'custom', name: 'counted' } }]
  }, { auth: [defineAuth('counted', () => { calls++; return { allow: false } })] })
  const agent = new Agent({ localAddress: '127.0.0.3' })
  t.after(() => agent.close())
  const res = await request(`${gw.url}/`, { dispatcher: agent })
  assert.equal(res.statusCode, 403)
  assert.equal((await res.body.json() as ErrorBody).error.code, 'IP_FORBIDDEN')
  assert.equal(calls, 0)
  assert.equal((await client(t)(`${gw.url}/`)).status, 401, 'an allowed address was not asked for credentials')
  assert.equal(calls, 1)
})

test('order: auth answers before the in-flight limit; a refused request takes no slot', async (t) => {
  let release!: () => void
  const released = new Promise<void>(resolve => { release = resolve })
  t.after(() => release())
  let arrived = 0
  const up = await startOrigin(t, 'up', { handler: (_req, res) => { arrived++; void released.then(() => res.end('done')) } })
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [{ name: 'r', upstream: 'up', auth: { type: 'bearer', tokens: ['tok'] }, concurrency: { limit: 1 } }]
  })
  const get = client(t)
  const held = get(`${gw.url}/`, { headers: { authorization: 'Bearer tok' } })
  await eventually(() => arrived === 1, 5000, 'the admitted request never reached the upstream')
  // The only slot is taken: without auth first, these would be 429.
  for (let i = 0; i < 3; i++) {
    const refused = await get(`${gw.url}/`)
    assert.equal(refused.status, 401)
    assert.equal(refused.json<ErrorBody>().error.code, 'UNAUTHORIZED')
  }
  const over = await get(`${gw.url}/`, { headers: { authorization: 'Bearer tok' } })
  assert.equal(over.status, 429)
  release()
  assert.equal((await within(held, 5000, 'the held request was not answered')).status, 200)
})

test('order: auth answers before the body checks; a body is neither counted nor inspected for a refused request', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [
      { name: 'limited', match: { path: '/limited' }, upstream: 'up', auth: { type: 'bearer', tokens: ['tok'] }, bodyLimit: '100b' },
      { name: 'inspected', match: { path: '/inspected' }, upstream: 'up', auth: { type: 'bearer', tokens: ['tok'] }, inspect: { block: ['rogue'] } }
    ]
  })
  const post = client(t)
  const big = 'x'.repeat(150)
  assert.equal((await post(`${gw.url}/limited`, { method: 'POST', body: big })).status, 401)
  assert.equal((await post(`${gw.url}/limited`, { method: 'POST', body: big, headers: { authorization: 'Bearer tok' } })).status, 413)
  assert.equal((await post(`${gw.url}/inspected`, { method: 'POST', body: 'a rogue body' })).status, 401)
  const blocked = await post(`${gw.url}/inspected`, { method: 'POST', body: 'a rogue body', headers: { authorization: 'Bearer tok' } })
  assert.equal(blocked.json<ErrorBody>().error.code, 'REQUEST_BLOCKED')
  assert.equal(up.received.length, 0)
})

// ---------------------------------------------------------------- credentials and the log

test('credentials never reach the log: tokens, passwords and custom-hook input, allowed or refused, with the access log on', async (t) => {
  const up = await startOrigin(t, 'up')
  const lines: string[] = []
  const hook: AuthHook = (request) => {
    if (request.headers.authorization === 'Bearer hook-secret-ok') return { allow: true }
    throw new Error('the hook failed')
  }
  const gw = await startGateway(t, {
    server: { accessLog: true },
    upstreams: { up: { targets: [up.address] } },
    routes: [
      { name: 'bearer', match: { path: '/bearer' }, upstream: 'up', auth: { type: 'bearer', tokens: ['bearer-secret-ok'] } },
      { name: 'basic', match: { path: '/basic' }, upstream: 'up', auth: { type: 'basic', users: { bob: await hashPassword('basic-secret-ok') } } },
      { name: 'custom', match: { path: '/custom' }, upstream: 'up', auth: { type: 'custom', name: 'h' } }
    ]
  }, { logLevel: 'trace', logTo: line => lines.push(line), auth: [defineAuth('h', hook)] })
  const get = client(t)
  const sent: [string, string, number][] = [
    ['/bearer', 'Bearer bearer-secret-ok', 200],
    ['/bearer', 'Bearer bearer-secret-bad', 401],
    ['/basic', basicHeader('bob', 'basic-secret-ok'), 200],
    ['/basic', basicHeader('bob', 'basic-secret-bad'), 401],
    ['/custom', 'Bearer hook-secret-ok', 200],
    ['/custom', 'Bearer hook-secret-bad', 500]
  ]
  for (const [path, authorization, status] of sent) {
    assert.equal((await get(`${gw.url}${path}`, { headers: { authorization } })).status, status, `${path} ${authorization}`)
  }
  await eventually(() => lines.filter(line => line.includes('"msg":"request"')).length >= sent.length, 5000, 'not every request was logged')
  const log = lines.join('\n')
  for (const secret of ['bearer-secret', 'basic-secret', 'hook-secret', Buffer.from('bob:basic-secret').toString('base64').slice(0, 16)]) {
    assert.ok(!log.includes(secret), `the log holds "${secret}":\n${log}`)
  }
})
