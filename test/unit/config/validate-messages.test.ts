import { test } from 'node:test'
import assert from 'node:assert/strict'
import { GatewayConfigSchema } from '../../../src/config/schema.js'
import { IssueList } from '../../../src/config/errors.js'
import { validateSchema } from '../../../src/config/validate.js'
import { literalsOf, type SchemaNode } from '../../../src/config/schema-text.js'
import { loadConfigObject } from '../../../src/config/load.js'
import { issuesOf } from '../../helpers/config.js'

/** Every union (anyOf) and single literal (const) of the schema, with where it sits. */
function choices (schema: SchemaNode, at: (string | number)[] = []): { at: (string | number)[], schema: SchemaNode }[] {
  const found: { at: (string | number)[], schema: SchemaNode }[] = []
  if (schema.anyOf !== undefined || schema.const !== undefined) found.push({ at, schema })
  for (const [key, child] of Object.entries(schema.properties ?? {})) found.push(...choices(child, [...at, key]))
  for (const child of Object.values(schema.patternProperties ?? {})) found.push(...choices(child, [...at, 'a']))
  if (schema.items !== undefined) found.push(...choices(schema.items, [...at, 0]))
  return found
}

/** A config holding `value` at `at`, built from nothing (missing required keys are other issues). */
function configWith (at: readonly (string | number)[], value: unknown): unknown {
  const [head, ...rest] = at
  if (head === undefined) return value
  const inner = configWith(rest, value)
  return typeof head === 'number' ? [inner] : { [head]: inner }
}

function pathOf (at: readonly (string | number)[]): string {
  return at.map((key, i) => typeof key === 'number' ? `[${key}]` : i === 0 ? key : `.${key}`).join('')
}

test('every union and literal of the schema is refused with a message naming what it takes, never "must match a schema in anyOf"', () => {
  const all = choices(GatewayConfigSchema as SchemaNode)
  assert.ok(all.length > 30, `found only ${all.length} unions`)
  for (const { at, schema } of all) {
    const issues = new IssueList()
    // An object of an unknown key fits no branch: strings, numbers, lists and closed objects alike.
    validateSchema(configWith(at, { '?': null }), issues)
    const path = pathOf(at)
    const lines = issues.items.filter(issue => issue.path === path)
    assert.equal(lines.length, 1, `${path}: not one issue at the union's own path in ${JSON.stringify(issues.items)}`)
    const message = lines[0]?.message ?? ''
    assert.doesNotMatch(message, /anyOf|must match|equal to constant/, path)
    for (const literal of literalsOf(schema) ?? []) assert.ok(message.includes(String(literal)), `${path}: "${message}" does not name ${String(literal)}`)
  }
})

test('a value outside a fixed set is told the set, as "must be one of …"', () => {
  const issues = issuesOf(() => loadConfigObject({
    server: { logLevel: 'loud' },
    upstreams: { a: { targets: ['127.0.0.1:1'], balancer: 'fastest' } }
  }))
  assert.deepEqual(issues, [
    'server.logLevel: must be one of fatal, error, warn, info, debug, trace, silent',
    'upstreams.a.balancer: must be one of round-robin, random, least-connections, consistent-hash, sticky-cookie'
  ])
})

test('a union of different kinds of value names each kind, literals quoted', () => {
  const issues = issuesOf(() => loadConfigObject({ server: { workers: 0, pidFile: 3, trustProxy: 'yes' } }))
  assert.deepEqual(issues, [
    'server.workers: must be an integer of at least 1 or "auto"',
    'server.trustProxy: must be true or false, or a list of non-empty strings',
    'server.pidFile: must be a non-empty string or null'
  ])
})

test('an unknown key close to a known one of the same object is suggested', () => {
  const issues = issuesOf(() => loadConfigObject({
    upstreams: { a: { targets: ['127.0.0.1:1'], healtCheck: {} } },
    routes: [{ name: 'r', upstream: 'a', timeout: { connect: '1s' }, colour: 'red' }]
  }))
  assert.deepEqual(issues, [
    'upstreams.a.healtCheck: unknown key (did you mean "healthCheck"?)',
    'routes[0].timeout: unknown key (did you mean "timeouts"?)',
    'routes[0].colour: unknown key'
  ])
})

test('the parts of a refused config that passed the schema are checked in the same run', () => {
  const issues = issuesOf(() => loadConfigObject({
    server: { colour: 'blue' },
    upstreams: {
      ok: { targets: ['127.0.0.1:1'] },
      empty: { targets: [] },
      checked: { targets: ['127.0.0.1:1'], healthCheck: { type: 'custom', name: 'db-ready' } }
    },
    routes: [
      { name: 'a', upstream: 'ok', timeout: '1s' },
      { name: 'b', upstream: 'missing' },
      { name: 'c', upstream: 'ok', ipFilter: { allow: ['10.0.0.0/99'] } }
    ]
  }))
  assert.deepEqual(issues, [
    'server.colour: unknown key',
    'routes[0].timeout: unknown key (did you mean "timeouts"?)',
    'upstreams.empty.targets: must list at least one target',
    'upstreams.checked.healthCheck.name: no health check named "db-ready" is registered (export defineHealthCheck("db-ready", …) from a module in routes/ or from the config module)',
    'routes[1].upstream: names a missing upstream "missing"',
    'routes[2].ipFilter.allow[0]: "10.0.0.0/99": prefix length must be 0-32'
  ])
})

test('a route naming an upstream refused for its shape is not also told the upstream is missing', () => {
  const issues = issuesOf(() => loadConfigObject({
    upstreams: { a: { targets: ['127.0.0.1:1'], balancer: 'fastest', timeouts: { connect: 'soon' } } },
    routes: [{ name: 'r', upstream: 'a' }]
  }))
  assert.deepEqual(issues, [
    'upstreams.a.balancer: must be one of round-robin, random, least-connections, consistent-hash, sticky-cookie',
    'upstreams.a.timeouts.connect: must be a duration such as "500ms", "2s", "1m" or a number of milliseconds'
  ])
})

test('a route storing counts in a redis section refused for its shape is not told redis is missing', () => {
  const issues = issuesOf(() => loadConfigObject({
    redis: { url: 'redis://127.0.0.1:6379', commandTimeout: 'soon' },
    upstreams: { a: { targets: ['127.0.0.1:1'] } },
    routes: [{ name: 'r', upstream: 'a', rateLimit: { limit: 1, window: '1s', store: 'redis' } }]
  }))
  assert.deepEqual(issues, ['redis.commandTimeout: must be a duration such as "500ms", "2s", "1m" or a number of milliseconds'])
})

test('a route refused for its shape is checked no further', () => {
  const issues = issuesOf(() => loadConfigObject({
    upstreams: { a: { targets: ['127.0.0.1:1'] } },
    routes: [{ name: 'r', upstream: 'missing', match: { path: '~ ^/(x' }, bodyLimit: 'huge' }]
  }))
  assert.deepEqual(issues, ['routes[0].bodyLimit: must be a size such as "100b", "64kb", "10mb" or a number of bytes'])
})

test('a config whose upstreams cannot be read is checked no further than the schema', () => {
  const issues = issuesOf(() => loadConfigObject({ upstreams: [], routes: [{ name: 'r', upstream: 'a' }] }))
  assert.deepEqual(issues, ['upstreams: must be object'])
})

test('an upstream name outside letters, digits, _ . - is refused by name, and its content is never compiled', () => {
  const issues = issuesOf(() => loadConfigObject({ upstreams: { 'c d': { targets: 5 } }, routes: [{ name: 'r', upstream: 'c d' }] }))
  assert.deepEqual(issues, ['upstreams["c d"]: is not a valid upstream name (letters, digits, _ . - only)'])
})
