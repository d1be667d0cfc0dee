// Configs that used to pass validation and then fail at runtime (every request, the
// event loop, or the process) are refused at load, each problem as `path: message`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import { loadConfigObject } from '../../../src/config/load.js'
import { ConfigError } from '../../../src/config/errors.js'
import { Gateway } from '../../../src/gateway.js'

function issuesOf (fn: () => unknown): string[] {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`)
    return err.issues.map(i => `${i.path}: ${i.message}`)
  }
  assert.fail('the config was accepted')
}

const UPSTREAM = { a: { targets: ['127.0.0.1:1'] } }
const route = (extra: Record<string, unknown>): Record<string, unknown> => ({ name: 'r', upstream: 'a', ...extra })

// ---------------------------------------------------------------- slow regexes

const EXPONENTIAL = '~ ^/p/([a-z0-9]+-?)*$'

test('a route regex with nested quantifiers is refused at its path', () => {
  const issues = issuesOf(() => loadConfigObject({ upstreams: UPSTREAM, routes: [route({ match: { path: EXPONENTIAL } })] }))
  assert.deepEqual(issues, ['routes[0].match.path: the regex "^/p/([a-z0-9]+-?)*$" may take exponential time on some paths (nested quantifiers); rewrite it without a repeated group that itself repeats'])
})

test('ordinary regexes still pass, and the compiled route matches', () => {
  const { compiled } = loadConfigObject({
    upstreams: UPSTREAM,
    routes: [
      { name: 'digits', upstream: 'a', match: { path: '~ ^/x/(\\d+)$' } },
      { name: 'named', upstream: 'a', match: { path: '~ ^/(?<a>[a-z]+)/(?<b>\\d+)$' } },
      { name: 'optional-tail', upstream: 'a', match: { path: '~ ^/v(\\d+)(?:/.*|)$' } }
    ]
  })
  assert.deepEqual(compiled.routes.map(r => r.name), ['digits', 'named', 'optional-tail'])
})

test('a lookbehind, which the check cannot read, and a regex of many quantifiers are refused with their own message', () => {
  const issues = issuesOf(() => loadConfigObject({
    upstreams: UPSTREAM,
    routes: [
      { name: 'behind', upstream: 'a', match: { path: '~ ^/(?<=/)x$' } },
      { name: 'many', upstream: 'a', match: { path: `~ ^/${'a?'.repeat(26)}$` } }
    ]
  }))
  assert.match(issues[0] ?? '', /^routes\[0\]\.match\.path: the regex .* uses a lookbehind/)
  assert.match(issues[1] ?? '', /^routes\[1\]\.match\.path: the regex .* has more than 25 quantifiers/)
})

test('Gateway.apply refuses the slow regex and keeps running what it had', async (t) => {
  const gateway = new Gateway({ logger: pino({ level: 'silent' }) })
  t.after(() => gateway.close(0))
  await gateway.apply({ server: { logLevel: 'silent', listen: [{ host: '127.0.0.1', port: 0 }] }, upstreams: UPSTREAM, routes: [route({ match: { path: '/ok' } })] })
  await assert.rejects(
    gateway.apply({ server: { logLevel: 'silent', listen: [{ host: '127.0.0.1', port: 0 }] }, upstreams: UPSTREAM, routes: [route({ match: { path: EXPONENTIAL } })] }),
    (err: unknown) => err instanceof ConfigError && err.issues.some(i => i.path === 'routes[0].match.path' && /exponential time/.test(i.message))
  )
  assert.equal(gateway.config?.routes[0]?.match.path, '/ok')
})
