// An upstream's healthCheck, passive and notify: their defaults, the settings that cannot
// work (refused as `path: message`), and custom checks registered by the modules a config
// loads.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfigFile, loadConfigObject } from '../../../src/config/load.js'
import { ConfigError } from '../../../src/config/errors.js'
import { defineHealthCheck } from '../../../src/health/define.js'
import { issuesOf } from '../../helpers/config.js'
import { tempFolder } from '../../helpers/files.js'

const upstream = (extra: Record<string, unknown>) => ({ upstreams: { u: { targets: ['127.0.0.1:1'], ...extra } } })
const healthOf = (extra: Record<string, unknown>, healthChecks = [] as ReturnType<typeof defineHealthCheck>[]) =>
  loadConfigObject(upstream(extra), { healthChecks }).compiled.upstreams.get('u')?.health

test('an empty healthCheck is what nginx does: GET / every 5s, 2xx or 3xx pass, one result flips; cut after 1s', () => {
  const health = healthOf({ healthCheck: {} })
  assert.deepEqual(health?.check, { type: 'http', path: '/', host: null, expectStatus: null, expectBody: null, protocol: 'http1', intervalMs: 5000, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 1 })
  assert.equal(health?.passive, null)
  assert.equal(health?.webhook, null)
})

test('an empty passive is Envoy\'s outlier detection: 5 failures in a row eject for 30s; connect errors, timeouts, 502-504 count', () => {
  const passive = healthOf({ passive: {} })?.passive
  assert.equal(passive?.consecutiveFailures, 5)
  assert.equal(passive?.ejectForMs, 30_000)
  assert.equal(passive?.onConnectError, true)
  assert.equal(passive?.onTimeout, true)
  assert.deepEqual([...passive?.statuses ?? []], [502, 503, 504])
})

test('every key compiles: durations, statuses, the body as substring or regex, the webhook', () => {
  const health = healthOf({
    healthCheck: { type: 'http', path: '/ready?deep=1', host: 'api.internal', expectStatus: [200, 204, 200], expectBody: '/^ok$/m', interval: '2s', timeout: 300, healthyThreshold: 2, unhealthyThreshold: 3 },
    passive: { consecutiveFailures: 2, ejectFor: '10s', on: ['timeout', 500] },
    notify: { webhook: 'http://127.0.0.1:9999/alerts' }
  })
  const check = health?.check
  assert.equal(check?.type, 'http')
  if (check?.type !== 'http') return
  assert.equal(check.path, '/ready?deep=1')
  assert.equal(check.host, 'api.internal')
  assert.deepEqual(check.expectStatus, [200, 204])
  assert.equal(check.expectBody?.kind, 'regex')
  assert.deepEqual([check.intervalMs, check.timeoutMs, check.healthyThreshold, check.unhealthyThreshold], [2000, 300, 2, 3])
  assert.deepEqual(health?.passive && { ...health.passive, statuses: [...health.passive.statuses] },
    { consecutiveFailures: 2, ejectForMs: 10_000, onConnectError: false, onTimeout: true, statuses: [500] })
  assert.equal(health?.webhook, 'http://127.0.0.1:9999/alerts')
})

test('settings that cannot work are refused, every one as path: message', () => {
  const issues = issuesOf(() => loadConfigObject({
    upstreams: {
      slow: { targets: ['127.0.0.1:1'], healthCheck: { type: 'tcp', interval: '1s', timeout: '1001ms' } },
      nobody: { targets: ['127.0.0.1:1'], healthCheck: { type: 'custom', name: 'db-ready' } },
      mixed: { targets: ['127.0.0.1:1'], healthCheck: { type: 'tcp', path: '/health', name: 'x' } },
      nameless: { targets: ['127.0.0.1:1'], healthCheck: { type: 'custom' } },
      body: { targets: ['127.0.0.1:1'], healthCheck: { expectBody: '/^(a+)+$/' } },
      flags: { targets: ['127.0.0.1:1'], healthCheck: { expectBody: '/ok/g' } },
      hook: { targets: ['127.0.0.1:1'], notify: { webhook: 'ftp://127.0.0.1/x' } },
      short: { targets: ['127.0.0.1:1'], passive: { ejectFor: 0 }, healthCheck: { interval: '5ms', timeout: '1ms' } },
      host: { targets: ['127.0.0.1:1'], healthCheck: { host: 'bad host', timeout: '0ms' } }
    }
  }))
  assert.deepEqual(issues.sort(), [
    'upstreams.body.healthCheck.expectBody: the regex "^(a+)+$" may take exponential time on some paths (nested quantifiers); rewrite it without a repeated group that itself repeats',
    'upstreams.flags.healthCheck.expectBody: flag g makes no sense for a body check',
    'upstreams.hook.notify.webhook: must be an http:// or https:// URL',
    'upstreams.host.healthCheck.host: "bad host" is not a valid host name or IP address',
    'upstreams.host.healthCheck.timeout: must be at least 1ms',
    'upstreams.mixed.healthCheck.name: is only used with type: custom',
    'upstreams.mixed.healthCheck.path: is only used with type: http',
    'upstreams.nameless.healthCheck.name: is required with type: custom',
    'upstreams.nobody.healthCheck.name: no health check named "db-ready" is registered (export defineHealthCheck("db-ready", …) from a module in routes/ or from the config module)',
    'upstreams.short.healthCheck.interval: must be at least 10ms',
    'upstreams.short.passive.ejectFor: must be at least 1ms',
    'upstreams.slow.healthCheck.timeout: must not be longer than interval (1s), so that each check ends by the time the next is due'
  ])
})

test('values the schema refuses: thresholds of 0, unknown types, statuses and failure kinds, a path without "/"', () => {
  const issues = issuesOf(() => loadConfigObject({
    upstreams: {
      zero: { targets: ['127.0.0.1:1'], healthCheck: { healthyThreshold: 0, unhealthyThreshold: 0 }, passive: { consecutiveFailures: 0 } },
      values: { targets: ['127.0.0.1:1'], healthCheck: { type: 'udp', path: 'health', expectStatus: [99] }, passive: { on: ['reset', 200] } }
    }
  }))
  assert.deepEqual(issues.sort(), [
    'upstreams.values.healthCheck.expectStatus[0]: must be an HTTP status from 100 to 599',
    'upstreams.values.healthCheck.path: must start with "/" and hold no space or control character',
    'upstreams.values.healthCheck.type: must be tcp, http or custom',
    'upstreams.values.passive.on[0]: must be connect-error, timeout or an HTTP status from 400 to 599',
    'upstreams.values.passive.on[1]: must be connect-error, timeout or an HTTP status from 400 to 599',
    'upstreams.zero.healthCheck.healthyThreshold: must be a whole number from 1 to 1000',
    'upstreams.zero.healthCheck.unhealthyThreshold: must be a whole number from 1 to 1000',
    'upstreams.zero.passive.consecutiveFailures: must be a whole number from 1 to 1000'
  ])
})

test('a custom check names what is registered when the name is not', () => {
  const issues = issuesOf(() => loadConfigObject(upstream({ healthCheck: { type: 'custom', name: 'db' } }), {
    healthChecks: [defineHealthCheck('cache', () => true), defineHealthCheck('queue', () => true)]
  }))
  assert.match(issues[0] ?? '', /; registered: cache, queue$/)
})

test('changing only the health settings keeps the upstream\'s fingerprint and changes the health one', () => {
  const a = loadConfigObject(upstream({ healthCheck: { type: 'tcp' } })).compiled.upstreams.get('u')
  const b = loadConfigObject(upstream({ healthCheck: { type: 'tcp', interval: '2s' }, passive: {} })).compiled.upstreams.get('u')
  const c = loadConfigObject({ upstreams: { u: { targets: ['127.0.0.1:2'], healthCheck: { type: 'tcp' } } } }).compiled.upstreams.get('u')
  assert.equal(a?.fingerprint, b?.fingerprint)
  assert.notEqual(a?.health.fingerprint, b?.health.fingerprint)
  assert.notEqual(a?.fingerprint, c?.fingerprint)
  assert.equal(a?.health.fingerprint, c?.health.fingerprint)
})

test('defineHealthCheck refuses a name that cannot be written in YAML plainly, and a check that is not a function', () => {
  assert.throws(() => defineHealthCheck('db ready', () => true), /the name must be letters, digits or _ \. : -/)
  assert.throws(() => defineHealthCheck('db', 'yes' as never), /the check must be a function/)
})

// ---------------------------------------------------------------- registered by modules

const yaml = `
upstreams:
  db:
    targets: ["127.0.0.1:1"]
    healthCheck: { type: custom, name: db-ready, interval: 1s, timeout: 200ms }
`

test('a routes/ module registers its named defineHealthCheck exports; it needs no default export then', async (t) => {
  const dir = tempFolder(t, 'tollgate-health-')
  writeFileSync(join(dir, 'g.yaml'), yaml)
  mkdirSync(join(dir, 'routes'))
  writeFileSync(join(dir, 'routes', 'checks.ts'), `
import { defineHealthCheck } from 'tollgate'
export const dbReady = defineHealthCheck('db-ready', async (target) => target.port === 1)
`)
  const { compiled } = await loadConfigFile(join(dir, 'g.yaml'))
  const check = compiled.upstreams.get('db')?.health.check
  assert.equal(check?.type, 'custom')
  if (check?.type !== 'custom') return
  assert.equal(check.name, 'db-ready')
  assert.equal(await check.check({ upstream: 'db', address: '127.0.0.1:1', host: '127.0.0.1', port: 1, socketPath: null, backup: false }, new AbortController().signal), true)
})

test('a TypeScript config module registers its own named exports', async (t) => {
  const dir = tempFolder(t, 'tollgate-health-')
  writeFileSync(join(dir, 'gateway.config.ts'), `
import { defineGateway, defineHealthCheck } from 'tollgate'
export const ready = defineHealthCheck('ready', () => ({ healthy: true, reason: 'fine' }))
export default defineGateway({
  upstreams: { a: { targets: ['127.0.0.1:1'], healthCheck: { type: 'custom', name: 'ready' } } }
})
`)
  const { compiled } = await loadConfigFile(join(dir, 'gateway.config.ts'))
  assert.equal(compiled.upstreams.get('a')?.health.check?.type, 'custom')
})

test('without the module, the name is refused at load; two modules defining one name are refused', async (t) => {
  const dir = tempFolder(t, 'tollgate-health-')
  writeFileSync(join(dir, 'g.yaml'), yaml)
  await assert.rejects(loadConfigFile(join(dir, 'g.yaml')), (err: unknown) =>
    err instanceof ConfigError && err.issues.some(i => i.path === 'upstreams.db.healthCheck.name' && /no health check named "db-ready"/.test(i.message)))
  mkdirSync(join(dir, 'routes'))
  for (const file of ['a.ts', 'b.ts']) {
    writeFileSync(join(dir, 'routes', file), `import { defineHealthCheck } from 'tollgate'\nexport const c = defineHealthCheck('db-ready', () => true)\n`)
  }
  await assert.rejects(loadConfigFile(join(dir, 'g.yaml')), (err: unknown) =>
    err instanceof ConfigError && err.issues.some(i => i.message === 'b.ts: defineHealthCheck("db-ready") is also exported by a.ts: each name must be defined once'))
})

test('the contract\'s example health check is accepted: a timeout equal to the interval can work', () => {
  const compiled = loadConfigObject({
    upstreams: {
      blue: {
        targets: ['127.0.0.1:1'],
        healthCheck: { type: 'http', path: '/health', expectStatus: [200], expectBody: 'BLUE', interval: '1s', timeout: '1s', healthyThreshold: 1, unhealthyThreshold: 1 },
        passive: { consecutiveFailures: 5, ejectFor: '30s', on: ['connect-error', 'timeout', 502, 503, 504] },
        notify: { webhook: 'http://127.0.0.1:9999/alerts' }
      }
    },
    routes: [{ name: 'r', upstream: 'blue' }]
  }).compiled
  assert.equal(compiled.upstreams.get('blue')?.health?.check?.timeoutMs, 1000)
})
