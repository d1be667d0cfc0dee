import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AuthRegistry, CustomAuthenticator, defineAuth, isAuthDefinition, type AuthHook } from '../../../src/auth/custom.js'
import { errors } from '../../../src/index.js'
import { within } from '../../helpers/deadline.js'
import { allowed, refused, requestWith } from './helpers.js'

function custom (hook: AuthHook, timeoutMs = 1000): CustomAuthenticator {
  return new CustomAuthenticator({ name: 'api-key', hook, realm: 'api', timeoutMs })
}

test('custom: allow with a principal puts it on ctx.principal', async () => {
  const ctx = await allowed(custom(async () => ({ allow: true, principal: { id: 'svc', scopes: ['read'] } })), requestWith())
  assert.deepEqual(ctx.principal, { id: 'svc', scopes: ['read'] })
})

test('custom: a synchronous hook is applied without a promise', () => {
  const ctx = { principal: null, upstreamHeaders: null }
  const result = custom(() => ({ allow: true, principal: { id: 'sync' } })).authenticate(requestWith(), ctx)
  assert.equal(result, undefined)
  assert.deepEqual(ctx.principal, { id: 'sync' })
})

test('custom: allow without a principal gives an empty one', async () => {
  assert.deepEqual((await allowed(custom(() => ({ allow: true })), requestWith())).principal, {})
})

test('custom: the hook sees the request', async () => {
  const hook: AuthHook = (request) => request.headers['x-api-key'] === 'k' ? { allow: true, principal: { id: 'k' } } : { allow: false }
  assert.deepEqual((await allowed(custom(hook), requestWith(undefined, { 'x-api-key': 'k' }))).principal, { id: 'k' })
  assert.equal((await refused(custom(hook), requestWith(undefined, { 'x-api-key': 'nope' }))).statusCode, 401)
})

test('custom: deny is 401 by default, with its message and a challenge named after the hook', async () => {
  const error = await refused(custom(async () => ({ allow: false, message: 'missing or wrong key' })), requestWith())
  assert.equal(error.code, 'UNAUTHORIZED')
  assert.equal(error.statusCode, 401)
  assert.equal(error.message, 'missing or wrong key')
  assert.deepEqual(error.headers, { 'www-authenticate': 'api-key realm="api"' })
})

test('custom: deny with 403 is FORBIDDEN, without a challenge', async () => {
  const error = await refused(custom(async () => ({ allow: false, status: 403, message: 'read only' })), requestWith())
  assert.equal(error.code, 'FORBIDDEN')
  assert.equal(error.statusCode, 403)
  assert.equal(error.message, 'read only')
  assert.equal(error.headers, undefined)
})

test('custom: a deny\'s headers are sent; its own WWW-Authenticate replaces the default', async () => {
  const error = await refused(custom(async () => ({ allow: false, headers: { 'WWW-Authenticate': 'ApiKey realm="x"', 'x-reason': 'expired' } })), requestWith())
  assert.deepEqual(error.headers, { 'www-authenticate': 'ApiKey realm="x"', 'x-reason': 'expired' })
})

test('custom: a hook that throws is a 500 INTERNAL_ERROR whose detail names the hook', async () => {
  for (const hook of [() => { throw new Error('database is gone') }, async () => { throw new Error('database is gone') }] as AuthHook[]) {
    const error = await refused(custom(hook), requestWith())
    assert.equal(error.code, 'INTERNAL_ERROR')
    assert.equal(error.statusCode, 500)
    assert.equal(error.message, 'the authentication check failed')
    assert.equal(error.detail, 'auth hook "api-key": database is gone')
  }
})

test('custom: a gateway error the hook throws stands', async () => {
  const error = await refused(custom(async () => { throw new errors.Forbidden('not on weekends') }), requestWith())
  assert.equal(error.code, 'FORBIDDEN')
  assert.equal(error.message, 'not on weekends')
})

test('custom: a hook that never settles is cut by the timeout with 503', async () => {
  const started = performance.now()
  const error = await within(refused(custom(async () => await new Promise(() => {}), 100), requestWith()), 3000, 'the hook was not cut')
  assert.equal(error.statusCode, 503)
  assert.equal(error.code, 'NO_HEALTHY_UPSTREAM')
  assert.equal(error.message, 'the authentication check did not finish in time')
  assert.ok(performance.now() - started >= 95)
})

test('custom: a decision of the wrong shape is a 500, logged, and shows no string it was given', async () => {
  const shapes: unknown[] = [undefined, null, 'Bearer secret-token', { allow: 'yes' }, { allow: true, principal: 'secret-token' }, { allow: false, status: 500 }, { allow: false, message: 42 }, { allow: false, headers: { 'bad name': 'x' } }, { allow: false, headers: { 'x-a': 'line\nbreak' } }]
  for (const shape of shapes) {
    const error = await refused(custom(() => shape as never), requestWith())
    assert.equal(error.statusCode, 500, JSON.stringify(shape))
    assert.match(error.detail ?? '', /^auth hook "api-key": /)
    assert.doesNotMatch(error.detail ?? '', /secret-token/)
  }
})

test('defineAuth: gives a definition the loader recognises; refuses a name that is not a token or a hook that is not a function', () => {
  const definition = defineAuth('api-key', () => ({ allow: true }))
  assert.ok(isAuthDefinition(definition))
  assert.equal(definition.name, 'api-key')
  assert.ok(!isAuthDefinition({ name: 'api-key', hook: () => ({ allow: true }) }))
  assert.throws(() => defineAuth('api key', () => ({ allow: true })), TypeError)
  assert.throws(() => defineAuth('', () => ({ allow: true })), TypeError)
  assert.throws(() => defineAuth('x', 'not a function' as never), TypeError)
})

test('AuthRegistry: one definition per name; the same definition twice is fine', () => {
  const registry = new AuthRegistry()
  const a = defineAuth('a', () => ({ allow: true }))
  assert.equal(registry.add(a, 'one.ts'), null)
  assert.equal(registry.add(a, 'two.ts'), null)
  assert.match(registry.add(defineAuth('a', () => ({ allow: false })), 'three.ts') ?? '', /defineAuth\("a"\) is also exported by one\.ts/)
  assert.equal(registry.get('a'), a.hook)
  assert.equal(registry.get('b'), undefined)
})
