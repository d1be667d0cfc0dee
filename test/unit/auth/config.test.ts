// A route's auth is checked at load: every problem a `path: message` line, nothing left to
// fail per request.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { loadConfigFile, loadConfigObject } from '../../../src/config/load.js'
import { ConfigError } from '../../../src/config/errors.js'
import { defineAuth } from '../../../src/index.js'
import type { CompiledAuth } from '../../../src/auth/config.js'
import { issuesOf } from '../../helpers/config.js'
import { tempFolder } from '../../helpers/files.js'
import { keyPair } from '../../helpers/jwt.js'
import { hashPassword } from '../../../src/cli/hash-password.js'

const UPSTREAMS = { a: { targets: ['127.0.0.1:1'] } }

function withAuth (auth: Record<string, unknown>, options: Parameters<typeof loadConfigObject>[1] = {}): CompiledAuth | null {
  const { compiled } = loadConfigObject({ upstreams: UPSTREAMS, routes: [{ name: 'r', upstream: 'a', auth }] }, options)
  return compiled.routes[0]?.auth ?? null
}

function authIssues (auth: Record<string, unknown>, options: Parameters<typeof loadConfigObject>[1] = {}): string[] {
  return issuesOf(() => withAuth(auth, options))
}

async function fileIssues (file: string): Promise<string[]> {
  try {
    await loadConfigFile(file)
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err))
    return err.issues.map(i => (i.path === '' ? i.message : `${i.path}: ${i.message}`))
  }
  assert.fail('the config was accepted')
}

test('auth is accepted now: a bearer route compiles with its defaults', () => {
  const auth = withAuth({ type: 'bearer', tokens: ['t'] })
  assert.deepEqual(auth, { type: 'bearer', tokens: ['t'], forward: false, timeoutMs: 5000, realm: 'tollgate' })
})

test('a key of another type is named, a required one missing too', () => {
  assert.deepEqual(authIssues({ type: 'bearer', users: { a: 'x' } }), [
    'routes[0].auth.users: is only used with type: basic',
    'routes[0].auth.tokens: is required with type: bearer'
  ])
})

test('jwt: an unknown algorithm is refused at its place in the list', () => {
  assert.deepEqual(authIssues({ type: 'jwt', secret: 's', algorithms: ['HS256', 'XS256'] }), [
    'routes[0].auth.algorithms[1]: unknown algorithm "XS256" (expected one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)'
  ])
})

test('jwt: "none" is refused as an algorithm', () => {
  assert.deepEqual(authIssues({ type: 'jwt', secret: 's', algorithms: ['none'] }), [
    'routes[0].auth.algorithms[0]: "none" is never accepted: an unsigned token proves nothing'
  ])
})

test('jwt: an algorithm the key cannot verify is refused (HMAC with a public key, RSA with a secret)', (t) => {
  const dir = tempFolder(t)
  writeFileSync(join(dir, 'rsa.pem'), keyPair('rsa').publicPem)
  assert.deepEqual(authIssues({ type: 'jwt', publicKey: 'rsa.pem', algorithms: ['RS256', 'HS256'] }, { baseDir: dir }), [
    'routes[0].auth.algorithms[1]: HS256 cannot be verified with this public key (it verifies RS256, RS384, RS512, PS256, PS384, PS512)'
  ])
  assert.deepEqual(authIssues({ type: 'jwt', secret: 's', algorithms: ['RS256'] }), [
    'routes[0].auth.algorithms[0]: RS256 cannot be verified with a secret (HMAC: HS256, HS384, HS512)'
  ])
})

test('jwt: a public key file that cannot be read is refused with its path', (t) => {
  const dir = tempFolder(t)
  assert.deepEqual(authIssues({ type: 'jwt', publicKey: 'keys/missing.pem' }, { baseDir: dir }), [
    `routes[0].auth.publicKey: cannot read ${join(dir, 'keys', 'missing.pem')}: ENOENT`
  ])
})

test('jwt: a public key file that holds no key is refused', (t) => {
  const dir = tempFolder(t)
  writeFileSync(join(dir, 'not-a-key.pem'), 'hello\n')
  assert.deepEqual(authIssues({ type: 'jwt', publicKey: 'not-a-key.pem' }, { baseDir: dir }), [
    `routes[0].auth.publicKey: ${join(dir, 'not-a-key.pem')} is not a PEM public key, certificate or private key`
  ])
})

test('jwt: the public key is read relative to the config folder; algorithms default to what it verifies', (t) => {
  const dir = tempFolder(t)
  const ec = keyPair('ec-p256')
  const ed = keyPair('ed25519')
  writeFileSync(join(dir, 'ec.pem'), ec.publicPem)
  writeFileSync(join(dir, 'ed.pem'), ed.publicPem)
  const byEc = withAuth({ type: 'jwt', publicKey: 'ec.pem' }, { baseDir: dir })
  const byEd = withAuth({ type: 'jwt', publicKey: join(dir, 'ed.pem') }, { baseDir: '/' })
  assert.ok(byEc?.type === 'jwt' && byEd?.type === 'jwt')
  assert.deepEqual(byEc.algorithms, ['ES256'])
  assert.equal(byEc.publicKey, ec.publicPem)
  assert.deepEqual(byEd.algorithms, ['EdDSA'])
  const bySecret = withAuth({ type: 'jwt', secret: 's' })
  assert.ok(bySecret?.type === 'jwt')
  assert.deepEqual(bySecret.algorithms, ['HS256', 'HS384', 'HS512'])
})

test('jwt: exactly one key source', () => {
  assert.deepEqual(authIssues({ type: 'jwt' }), ['routes[0].auth: a jwt route needs exactly one of secret, publicKey or jwksUrl'])
  assert.deepEqual(authIssues({ type: 'jwt', secret: 's', jwksUrl: 'http://127.0.0.1:1/k' }), ['routes[0].auth: a jwt route needs exactly one of secret, publicKey or jwksUrl'])
})

test('jwt: jwksUrl must be an http(s) URL without credentials', () => {
  assert.deepEqual(authIssues({ type: 'jwt', jwksUrl: 'not a url' }), ['routes[0].auth.jwksUrl: "not a url" is not a URL'])
  assert.deepEqual(authIssues({ type: 'jwt', jwksUrl: 'file:///etc/keys.json' }), ['routes[0].auth.jwksUrl: must be an http: or https: URL, not file:'])
  assert.deepEqual(authIssues({ type: 'jwt', jwksUrl: 'https://u:p@idp.test/jwks' }), ['routes[0].auth.jwksUrl: must not hold credentials'])
})

test('jwt: a claim cannot be forwarded as a header the gateway sets or that frames the request', () => {
  assert.deepEqual(authIssues({ type: 'jwt', secret: 's', forwardClaims: { sub: 'x-user-id', size: 'Content-Length', h: 'host', c: 'connection' } }), [
    'routes[0].auth.forwardClaims.size: "Content-Length" is a header the gateway sets or that frames the request; forward the claim as another header',
    'routes[0].auth.forwardClaims.h: "host" is a header the gateway sets or that frames the request; forward the claim as another header',
    'routes[0].auth.forwardClaims.c: "connection" is a header the gateway sets or that frames the request; forward the claim as another header'
  ])
})

test('jwt: forwardClaims header names are kept lower case; durations in milliseconds', () => {
  const auth = withAuth({ type: 'jwt', secret: 's', forwardClaims: { sub: 'X-User-Id' }, clockTolerance: '5s', timeout: '250ms', issuer: 'https://i.test', audience: ['a', 'b'] })
  assert.ok(auth?.type === 'jwt')
  assert.deepEqual(auth.forwardClaims, { sub: 'x-user-id' })
  assert.equal(auth.clockToleranceMs, 5000)
  assert.equal(auth.timeoutMs, 250)
  assert.deepEqual(auth.issuer, ['https://i.test'])
  assert.deepEqual(auth.audience, ['a', 'b'])
})

test('a timeout of 0 is refused: it would answer every request with 503', () => {
  assert.deepEqual(authIssues({ type: 'custom', name: 'x', timeout: 0 }, { auth: [defineAuth('x', () => ({ allow: true }))] }), ['routes[0].auth.timeout: must be at least 1ms'])
})

test('a realm that cannot be a header value is refused', () => {
  assert.deepEqual(authIssues({ type: 'bearer', tokens: ['t'], realm: 'a\nb' }), ['routes[0].auth.realm: value contains a line break'])
})

test('basic: a user whose hash is not from hash-password is refused by name', async () => {
  const good = await hashPassword('pw')
  assert.deepEqual(authIssues({ type: 'basic', users: { alice: good, bob: 'hunter2', 'c:d': good } }), [
    'routes[0].auth.users.bob: is not a scrypt hash from `tollgate hash-password` (scrypt$N$r$p$salt$hash)',
    'routes[0].auth.users["c:d"]: a user name cannot contain ":" (Basic credentials are user:password)'
  ])
})

test('custom: a name no module registered is refused at routes[N].auth.name', () => {
  const issues = issuesOf(() => loadConfigObject({
    upstreams: UPSTREAMS,
    routes: [{ name: 'open', upstream: 'a' }, { name: 'r', upstream: 'a', auth: { type: 'custom', name: 'api-key' } }]
  }, { auth: [defineAuth('other', () => ({ allow: true }))] }))
  assert.deepEqual(issues, ['routes[1].auth.name: no auth hook named "api-key" is registered (export defineAuth("api-key", …) from a module in routes/ or from the config module); registered: other'])
})

test('custom: a registered name compiles to its hook', () => {
  const definition = defineAuth('api-key', () => ({ allow: true }))
  const auth = withAuth({ type: 'custom', name: 'api-key' }, { auth: [definition] })
  assert.ok(auth?.type === 'custom')
  assert.equal(auth.hook, definition.hook)
})

// ---------------------------------------------------------------- registered by modules

const yaml = (auth: string): string => `
upstreams: { a: { targets: ["127.0.0.1:1"] } }
routes:
  - { name: r, upstream: a, auth: ${auth} }
`

function moduleFolder (t: TestContext): string {
  const dir = tempFolder(t, 'tollgate-auth-modules-')
  mkdirSync(join(dir, 'routes'))
  return dir
}

test('a routes/ module holding only defineAuth exports registers them (ESM and CommonJS)', async (t) => {
  const dir = moduleFolder(t)
  writeFileSync(join(dir, 'g.yaml'), `
upstreams: { a: { targets: ["127.0.0.1:1"] } }
routes:
  - { name: esm, upstream: a, auth: { type: custom, name: from-esm } }
  - { name: cjs, upstream: a, auth: { type: custom, name: from-cjs } }
`)
  writeFileSync(join(dir, 'routes', 'a.mts'), `import { defineAuth } from 'tollgate'\nexport const esm = defineAuth('from-esm', () => ({ allow: true, principal: { id: 'esm' } }))\n`)
  writeFileSync(join(dir, 'routes', 'b.ts'), `import { defineAuth } from 'tollgate'\nexport const cjs = defineAuth('from-cjs', () => ({ allow: true, principal: { id: 'cjs' } }))\n`)
  const { compiled } = await loadConfigFile(join(dir, 'g.yaml'))
  const hooks = compiled.routes.map(r => r.auth?.type === 'custom' ? r.auth.hook : null)
  assert.deepEqual(hooks.map(hook => (hook?.({} as never) as { principal?: unknown })?.principal), [{ id: 'esm' }, { id: 'cjs' }])
})

test('a routes/ module with a route and a defineAuth export gives both', async (t) => {
  const dir = moduleFolder(t)
  writeFileSync(join(dir, 'g.yaml'), 'upstreams: { a: { targets: ["127.0.0.1:1"] } }\n')
  writeFileSync(join(dir, 'routes', 'orders.ts'), `
import { defineAuth, defineRoute } from 'tollgate'
export const key = defineAuth('orders-key', () => ({ allow: true }))
export default defineRoute({ name: 'orders', upstream: 'a', auth: { type: 'custom', name: 'orders-key' } })
`)
  const { compiled } = await loadConfigFile(join(dir, 'g.yaml'))
  assert.equal(compiled.routes[0]?.name, 'orders')
  assert.equal(compiled.routes[0]?.auth?.type, 'custom')
})

test('a TypeScript config module registers its own defineAuth exports', async (t) => {
  const dir = moduleFolder(t)
  writeFileSync(join(dir, 'gateway.config.ts'), `
import { defineAuth, defineGateway } from 'tollgate'
export const apiKey = defineAuth('api-key', () => ({ allow: true }))
export default defineGateway({
  upstreams: { a: { targets: ['127.0.0.1:1'] } },
  routes: [{ name: 'r', upstream: 'a', auth: { type: 'custom', name: 'api-key' } }]
})
`)
  const { compiled } = await loadConfigFile(join(dir, 'gateway.config.ts'))
  assert.equal(compiled.routes[0]?.auth?.type, 'custom')
})

test('one name defined by two modules is refused, naming both files', async (t) => {
  const dir = moduleFolder(t)
  writeFileSync(join(dir, 'g.yaml'), yaml('{ type: custom, name: twice }'))
  writeFileSync(join(dir, 'routes', 'a.mts'), `import { defineAuth } from 'tollgate'\nexport const x = defineAuth('twice', () => ({ allow: true }))\n`)
  writeFileSync(join(dir, 'routes', 'b.mts'), `import { defineAuth } from 'tollgate'\nexport const y = defineAuth('twice', () => ({ allow: false }))\n`)
  assert.deepEqual(await fileIssues(join(dir, 'g.yaml')), ['b.mts: defineAuth("twice") is also exported by a.mts: each name must be defined once'])
})

test('a routes/ module with neither a route nor a defineAuth is still refused', async (t) => {
  const dir = moduleFolder(t)
  writeFileSync(join(dir, 'g.yaml'), 'upstreams: { a: { targets: ["127.0.0.1:1"] } }\n')
  writeFileSync(join(dir, 'routes', 'empty.mts'), 'export const nothing = 1\n')
  assert.deepEqual(await fileIssues(join(dir, 'g.yaml')), ['empty.mts has no default export'])
})
