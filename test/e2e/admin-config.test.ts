import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { ADMIN_TOKEN, startAdminGateway, type AdminGateway } from '../helpers/admin.js'
import type { ErrorBody } from '../helpers/client.js'
import { hashPassword } from '../../src/cli/hash-password.js'
import type { GatewayConfig } from '../../src/index.js'

interface Refusal extends ErrorBody {
  errors: { path: string, message: string }[]
}

/** A whole config as a client would PUT it: listeners and admin as the running gateway has them. */
function whole (gw: AdminGateway, upstream: string, tag: string, extra: Partial<GatewayConfig> = {}): Record<string, unknown> {
  const admin = gw.gateway.adminAddress()
  return {
    server: { listen: [{ host: '127.0.0.1', port: gw.port }], accessLog: false, logLevel: 'silent' },
    admin: { listen: { host: '127.0.0.1', port: admin?.port ?? 0 }, token: ADMIN_TOKEN },
    upstreams: { app: { targets: [upstream] } },
    routes: [{ name: 'r', upstream: 'app', responseHeaders: { set: { 'x-config': tag } } }],
    ...extra
  }
}

test('GET /config answers the running config itself, with every secret as "***"', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, {
    upstreams: { app: { targets: [blue.address] } },
    routes: [
      { name: 'jwt', match: { path: '/jwt' }, upstream: 'app', auth: { type: 'jwt', secret: 'jwt-hmac-secret', algorithms: ['HS256'] } },
      { name: 'bearer', match: { path: '/bearer' }, upstream: 'app', auth: { type: 'bearer', tokens: ['bearer-one', 'bearer-two'] } },
      { name: 'basic', match: { path: '/basic' }, upstream: 'app', auth: { type: 'basic', users: { ann: await hashPassword('pw') } } },
      { name: 'open', upstream: 'app', requestHeaders: { set: { authorization: 'Bearer upstream-key' } } }
    ]
  })
  const res = await gw.admin('/config')
  assert.equal(res.status, 200)
  const text = res.text
  for (const secret of ['jwt-hmac-secret', 'bearer-one', 'bearer-two', 'scrypt', 'upstream-key', ADMIN_TOKEN]) {
    assert.ok(!text.includes(secret), `${secret} is shown`)
  }
  const config = res.json<{ admin: { token: string, listen: unknown }, upstreams: unknown, routes: { name: string, auth?: Record<string, unknown>, requestHeaders?: unknown }[] }>()
  assert.equal(config.admin.token, '***')
  assert.deepEqual(config.upstreams, { app: { targets: [blue.address] } })
  assert.equal(config.routes[0]?.auth?.secret, '***')
  assert.deepEqual(config.routes[0]?.auth?.algorithms, ['HS256'])
  assert.deepEqual(config.routes[1]?.auth?.tokens, ['***', '***'])
  assert.deepEqual(config.routes[2]?.auth?.users, { ann: '***' })
  assert.deepEqual(config.routes[3]?.requestHeaders, { set: { authorization: '***' } })
})

test('PUT /config applies a whole config at once: traffic follows it and GET /config shows it', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const gw = await startAdminGateway(t, { upstreams: { app: { targets: [blue.address] } }, routes: [{ name: 'r', upstream: 'app' }] })
  assert.equal((await gw.get('/')).text, 'Response from BLUE')
  const res = await gw.admin('/config', { method: 'PUT', json: whole(gw, green.address, 'two') })
  assert.equal(res.status, 200, res.text)
  assert.deepEqual(res.json(), { applied: true })
  const after = await gw.get('/')
  assert.equal(after.text, 'Response from GREEN')
  assert.equal(after.headers['x-config'], 'two')
  const shown = (await gw.admin('/config')).json<{ upstreams: { app: { targets: string[] } } }>()
  assert.deepEqual(shown.upstreams.app.targets, [green.address])
})

test('an invalid PUT /config gets 400 listing every problem as path and message, and nothing changes', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const gw = await startAdminGateway(t, { upstreams: { app: { targets: [blue.address] } }, routes: [{ name: 'r', upstream: 'app' }] })
  const before = (await gw.admin('/config')).text
  const invalid = whole(gw, green.address, 'two', {
    routes: [{ name: 'r', upstream: 'nowhere' }, { name: 'r2', upstream: 'app', colour: 'red' } as never]
  })
  const res = await gw.admin('/config', { method: 'PUT', json: invalid })
  assert.equal(res.status, 400)
  const body = res.json<Refusal>()
  assert.equal(body.error.code, 'BAD_REQUEST')
  assert.equal(body.error.status, 400)
  assert.equal(typeof body.error.requestId, 'string')
  assert.ok(body.errors.some(e => e.path === 'routes[1].colour' && e.message === 'unknown key'), JSON.stringify(body.errors))
  const compileRefusal = await gw.admin('/config', { method: 'PUT', json: whole(gw, green.address, 'two', { routes: [{ name: 'r', upstream: 'nowhere' }] }) })
  assert.equal(compileRefusal.status, 400)
  const issues = compileRefusal.json<Refusal>().errors
  assert.ok(issues.some(e => e.path === 'routes[0].upstream' && e.message.length > 0), JSON.stringify(issues))
  // Traffic still follows the old config, and GET /config still shows it.
  const res2 = await gw.get('/')
  assert.equal(res2.text, 'Response from BLUE')
  assert.equal(res2.headers['x-config'], undefined)
  assert.equal((await gw.admin('/config')).text, before)
  assert.equal(green.received.length, 0)
})

test('a valid config whose listener cannot be opened is refused with the reason, and nothing changes', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const gw = await startAdminGateway(t, { upstreams: { app: { targets: [blue.address] } }, routes: [{ name: 'r', upstream: 'app' }] })
  // The green origin's port is taken: the gateway cannot listen there.
  const clash = whole(gw, green.address, 'two', { server: { listen: [{ host: '127.0.0.1', port: gw.port }, { host: '127.0.0.1', port: green.port }], accessLog: false, logLevel: 'silent' } })
  const res = await gw.admin('/config', { method: 'PUT', json: clash })
  assert.equal(res.status, 500)
  const body = res.json<ErrorBody>()
  assert.equal(body.error.code, 'INTERNAL_ERROR')
  assert.match(body.error.message, /EADDRINUSE/)
  assert.equal((await gw.get('/')).text, 'Response from BLUE')
})

test('POST /config/validate checks a config without applying it', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const gw = await startAdminGateway(t, { upstreams: { app: { targets: [blue.address] } }, routes: [{ name: 'r', upstream: 'app' }] })
  const ok = await gw.admin('/config/validate', { json: whole(gw, green.address, 'two') })
  assert.equal(ok.status, 200, ok.text)
  assert.deepEqual(ok.json(), { valid: true })
  const bad = await gw.admin('/config/validate', { json: { server: { listen: [{ port: 'eighty' }] } } })
  assert.equal(bad.status, 400)
  const body = bad.json<Refusal>()
  assert.equal(body.error.code, 'BAD_REQUEST')
  assert.ok(body.errors.some(e => e.path === 'server.listen[0].port'), JSON.stringify(body.errors))
  const refusedAdmin = await gw.admin('/config/validate', { json: { admin: { listen: { host: '0.0.0.0' } } } })
  assert.deepEqual(refusedAdmin.json<Refusal>().errors, [{ path: 'admin.token', message: 'is required when admin.listen.host (0.0.0.0) is not a loopback address' }])
  assert.equal((await gw.get('/')).text, 'Response from BLUE', 'validating applied nothing')
})

test('a config sent back with "***" where a secret was is refused, so no secret becomes "***"', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startAdminGateway(t, { upstreams: { app: { targets: [blue.address] } }, routes: [{ name: 'r', upstream: 'app' }] })
  const shown = (await gw.admin('/config')).json<Record<string, unknown>>()
  const res = await gw.admin('/config', { method: 'PUT', json: shown })
  assert.equal(res.status, 400)
  assert.deepEqual(res.json<Refusal>().errors.map(e => e.path), ['admin.token'])
  assert.equal((await gw.admin('/health')).status, 200, 'the token in force is still the real one')
  assert.equal((await gw.admin('/health', { token: '***' })).status, 401)
})
