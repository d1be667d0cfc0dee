import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, request } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { ADMIN_TOKEN, startAdminGateway } from '../helpers/admin.js'
import type { ErrorBody } from '../helpers/client.js'
import type { GatewayConfig } from '../../src/index.js'
import { pollUntil } from '../helpers/deadline.js'

/** True when a new connection to `url` is refused (a fresh agent: no kept-alive socket). */
async function refused (url: string): Promise<boolean> {
  const agent = new Agent()
  try {
    const res = await request(url, { dispatcher: agent })
    await res.body.dump()
    return false
  } catch (err) {
    return (err as { code?: string }).code === 'ECONNREFUSED'
  } finally {
    await agent.close()
  }
}

function base (address: string): GatewayConfig {
  return {
    upstreams: { app: { targets: [address] } },
    routes: [{ name: 'r', upstream: 'app' }]
  }
}

function assertContractError (body: ErrorBody, status: number, code: string): void {
  assert.equal(body.error.status, status)
  assert.equal(body.error.code, code)
  assert.equal(typeof body.error.message, 'string')
  assert.ok(body.error.message.length > 0)
  assert.equal(typeof body.error.requestId, 'string')
}

test('GET /health answers {"status":"ok"} as JSON on the admin listener, apart from the proxy listener', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, base(blue.address))
  assert.notEqual(gw.adminUrl, gw.url)
  const res = await gw.admin('/health')
  assert.equal(res.status, 200)
  assert.match(String(res.headers['content-type']), /^application\/json/)
  assert.deepEqual(res.json(), { status: 'ok' })
  // The proxy listener does not serve the admin API: /health there goes upstream.
  assert.equal((await gw.get('/health')).text, 'Response from BLUE')
})

test('a request without the token, or with a wrong one, gets 401 JSON with WWW-Authenticate', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, base(blue.address))
  for (const token of [null, 'wrong-token', `${ADMIN_TOKEN}x`, ADMIN_TOKEN.slice(0, -1)]) {
    const res = await gw.admin('/upstreams', { token })
    assert.equal(res.status, 401, String(token))
    assertContractError(res.json<ErrorBody>(), 401, 'UNAUTHORIZED')
    assert.match(String(res.headers['www-authenticate']), /^Bearer /)
  }
  const basic = await gw.admin('/upstreams', { token: null, headers: { authorization: `Basic ${ADMIN_TOKEN}` } })
  assert.equal(basic.status, 401, 'only the Bearer scheme carries the token')
  // Unknown paths are not told apart from known ones without the token.
  assert.equal((await gw.admin('/no-such-thing', { token: null })).status, 401)
  assert.equal((await gw.admin('/health', { token: null, headers: { authorization: `bearer ${ADMIN_TOKEN}` } })).status, 200, 'the scheme is case-insensitive')
})

test('unknown admin paths get 404 JSON in the contract shape', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, base(blue.address))
  const res = await gw.admin('/nope')
  assert.equal(res.status, 404)
  assertContractError(res.json<ErrorBody>(), 404, 'NOT_FOUND')
  assert.equal(res.json<ErrorBody>().error.requestId, res.headers['x-request-id'])
  assert.equal((await gw.admin('/health', { method: 'DELETE' })).status, 404)
})

test('bodies over 1 MB get 413, other content types 415, JSON that is not an object 400', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, base(blue.address))
  const big = await gw.admin('/config/validate', { body: JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }), headers: { 'content-type': 'application/json' } })
  assert.equal(big.status, 413)
  assertContractError(big.json<ErrorBody>(), 413, 'PAYLOAD_TOO_LARGE')
  const text = await gw.admin('/config/validate', { body: '{}', headers: { 'content-type': 'text/plain' } })
  assert.equal(text.status, 415)
  assertContractError(text.json<ErrorBody>(), 415, 'BAD_REQUEST')
  for (const json of [[], 'a string', 42, null]) {
    const res = await gw.admin('/config/validate', { json })
    assert.equal(res.status, 400, JSON.stringify(json))
    assertContractError(res.json<ErrorBody>(), 400, 'BAD_REQUEST')
  }
  const broken = await gw.admin('/config/validate', { body: '{"server":', headers: { 'content-type': 'application/json' } })
  assert.equal(broken.status, 400)
  assertContractError(broken.json<ErrorBody>(), 400, 'BAD_REQUEST')
})

test('POST /cache/purge checks its body and answers how many entries it purged', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, base(blue.address))
  assert.deepEqual((await gw.admin('/cache/purge', { json: { url: '/a?b=1' } })).json(), { purged: 0 })
  assert.deepEqual((await gw.admin('/cache/purge', { json: { prefix: '/a', host: 'api.example.com' } })).json(), { purged: 0 })
  for (const json of [{}, { url: 'a' }, { url: '/a', prefix: '/b' }, { url: '/a', colour: 'red' }]) {
    const res = await gw.admin('/cache/purge', { json })
    assert.equal(res.status, 400, JSON.stringify(json))
    assertContractError(res.json<ErrorBody>(), 400, 'BAD_REQUEST')
  }
})

test('a config without admin opens no admin listener', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startGateway(t, base(blue.address))
  assert.equal(gw.gateway.adminAddress(), null)
})

test('a reload without admin closes the admin listener', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, base(blue.address))
  const address = gw.gateway.adminAddress()
  assert.ok(address !== null)
  await gw.gateway.apply({ ...base(blue.address), server: { listen: [{ host: '127.0.0.1', port: gw.port }], accessLog: false, logLevel: 'silent' } })
  assert.equal(gw.gateway.adminAddress(), null)
  await pollUntil(async () => await refused(`http://127.0.0.1:${address.port}/health`), 20, 5000, 'the admin listener still accepts connections')
  assert.equal((await gw.get('/')).text, 'Response from BLUE')
})

test('the admin listener is kept across reloads, moves when its address changes, and closes with the gateway', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, base(blue.address))
  const first = gw.gateway.adminAddress()
  assert.ok(first !== null)
  const reloaded = { ...base(blue.address), server: { listen: [{ host: '127.0.0.1', port: gw.port }], accessLog: false, logLevel: 'silent' as const } }
  // A reload naming port 0 again, or the bound port, keeps the same listener.
  await gw.gateway.apply({ ...reloaded, admin: { listen: { host: '127.0.0.1', port: 0 }, token: ADMIN_TOKEN } })
  assert.deepEqual(gw.gateway.adminAddress(), first)
  await gw.gateway.apply({ ...reloaded, admin: { listen: { host: '127.0.0.1', port: first.port }, token: 'new-token' } })
  assert.deepEqual(gw.gateway.adminAddress(), first)
  assert.equal((await gw.admin('/health')).status, 401, 'the old token is refused after the reload')
  assert.equal((await gw.admin('/health', { token: 'new-token' })).status, 200, 'the new token is taken at once')
  // A reload through the admin API that moves the listener: answered on the old one, then it closes.
  const moved = await gw.admin('/config', { method: 'PUT', token: 'new-token', json: { ...reloaded, admin: { listen: { host: '::1', port: 0 }, token: 'new-token' } } })
  assert.equal(moved.status, 200, moved.text)
  const second = gw.gateway.adminAddress()
  assert.ok(second !== null)
  assert.equal(second.host, '::1')
  const onV6 = await request(`http://[::1]:${second.port}/health`, { headers: { authorization: 'Bearer new-token' } })
  assert.equal(onV6.statusCode, 200)
  await onV6.body.dump()
  // The old listener closes once the request that moved it has been answered.
  await pollUntil(async () => await refused(`http://127.0.0.1:${first.port}/health`), 20, 5000, 'the old admin listener still accepts connections')
  await gw.gateway.close(0)
  assert.ok(await refused(`http://[::1]:${second.port}/health`), 'the admin listener is closed with the gateway')
})
