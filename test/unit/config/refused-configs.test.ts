// Configs that used to pass validation and then fail at runtime (every request, the
// event loop, or the process) are refused at load, each problem as `path: message`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import pino from 'pino'
import { loadConfigFile, loadConfigObject } from '../../../src/config/load.js'
import { ConfigError } from '../../../src/config/errors.js'
import { MAX_CONFIG_DEPTH } from '../../../src/config/plain-data.js'
import { Gateway } from '../../../src/gateway.js'
import { tempFolder } from '../../helpers/files.js'
import { issuesOf } from '../../helpers/config.js'

function folder (t: TestContext): string {
  return tempFolder(t, 'tollgate-refused-')
}

async function fileIssuesOf (file: string): Promise<string[]> {
  try {
    await loadConfigFile(file)
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err instanceof Error ? err.stack : String(err)}`)
    return err.issues.map(i => (i.path === '' ? i.message : `${i.path}: ${i.message}`))
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

// ---------------------------------------------------------------- header rules and names

test('header values Node would refuse are refused, naming the key', () => {
  const issues = issuesOf(() => loadConfigObject({
    upstreams: UPSTREAM,
    routes: [route({
      requestHeaders: { set: { 'x-crlf': 'a\r\nb', 'x-lf': 'a\nSet-Cookie: x=1', 'x-nul': 'a\u0000b', 'x-bell': 'a\u0007', 'x-euro': '\u20ac', 'x-latin': 'caf\u00e9', 'x-tab': 'a\tb' } },
      responseHeaders: { set: { 'x-cr': 'a\rb' } }
    })]
  }))
  assert.deepEqual(issues, [
    'routes[0].requestHeaders.set.x-crlf: value contains a line break',
    'routes[0].requestHeaders.set.x-lf: value contains a line break',
    'routes[0].requestHeaders.set.x-nul: value contains a NUL character',
    'routes[0].requestHeaders.set.x-bell: value contains U+0007, a character not allowed in a header value',
    'routes[0].requestHeaders.set.x-euro: value contains U+20AC, a character not allowed in a header value',
    'routes[0].responseHeaders.set.x-cr: value contains a line break'
  ])
})

test('header names that are not HTTP tokens are refused in set and copy (both names), all in one pass', () => {
  const issues = issuesOf(() => loadConfigObject({
    upstreams: UPSTREAM,
    routes: [route({
      requestHeaders: { set: { 'bad name': 'v', 'x-ok': 'v' }, copy: { 'x-from': 'to:bad', 'from(bad)': 'x-to' } },
      responseHeaders: { set: { 'x-bad': 'a\nb' } }
    })]
  }))
  assert.deepEqual(issues, [
    'routes[0].requestHeaders.set["bad name"]: is not a valid header name',
    'routes[0].requestHeaders.copy.x-from: copies to "to:bad", which is not a valid header name',
    'routes[0].requestHeaders.copy["from(bad)"]: is not a valid header name',
    'routes[0].responseHeaders.set.x-bad: value contains a line break'
  ])
})

test('a header name in remove that is not an HTTP token is refused by the schema', () => {
  const issues = issuesOf(() => loadConfigObject({ upstreams: UPSTREAM, routes: [route({ responseHeaders: { remove: ['x-ok', 'bad\nname'] } })] }))
  assert.deepEqual(issues, ['routes[0].responseHeaders.remove[1]: is not a valid header name'])
})

test('header and cookie names that are Object.prototype members are refused wherever a name is given', () => {
  const issues = issuesOf(() => loadConfigObject({
    upstreams: {
      byHeader: { targets: ['127.0.0.1:1'], balancer: 'consistent-hash', hash: { key: 'header:__proto__' } },
      byCookie: { targets: ['127.0.0.1:1'], balancer: 'consistent-hash', hash: { key: 'cookie:toString' } },
      sticky: { targets: ['127.0.0.1:1'], balancer: 'sticky-cookie', sticky: { cookie: 'constructor' } }
    },
    routes: [{
      name: 'r',
      upstream: 'byHeader',
      match: { headers: { constructor: 'x' } },
      requestHeaders: { set: { valueOf: 'x' }, copy: { 'x-a': 'hasOwnProperty' }, remove: ['__proto__'] },
      responseHeaders: { copy: { TOSTRING: 'x-b' } }
    }]
  }))
  const member = 'every JavaScript object has a property of that name'
  assert.deepEqual(issues.sort(), [
    `routes[0].match.headers.constructor: cannot be a header name: ${member}`,
    `routes[0].requestHeaders.copy.x-a: copies to "hasOwnProperty", which cannot be a header name: ${member}`,
    `routes[0].requestHeaders.remove[0]: cannot be a header name: ${member}`,
    `routes[0].requestHeaders.set.valueOf: cannot be a header name: ${member}`,
    `routes[0].responseHeaders.copy.TOSTRING: cannot be a header name: ${member}`,
    `upstreams.byCookie.hash.key: "toString" cannot be a cookie name: ${member}`,
    `upstreams.byHeader.hash.key: "__proto__" cannot be a header name: ${member}`,
    `upstreams.sticky.sticky.cookie: cannot be a cookie name: ${member}`
  ])
})

test('a "__proto__" key from a JSON file is data, and refused as a header name', async (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.json'), '{"upstreams":{"a":{"targets":["127.0.0.1:1"]}},"routes":[{"name":"r","upstream":"a","requestHeaders":{"set":{"__proto__":"x"}}}]}')
  assert.deepEqual(await fileIssuesOf(join(dir, 'g.json')), ['routes[0].requestHeaders.set.__proto__: cannot be a header name: every JavaScript object has a property of that name'])
})

test('ordinary header rules and names still pass', () => {
  const { compiled } = loadConfigObject({
    upstreams: { a: { targets: ['127.0.0.1:1'], balancer: 'consistent-hash', hash: { key: 'header:X-User' } } },
    routes: [route({
      match: { headers: { 'x-version': 'v2' } },
      requestHeaders: { set: { 'x-proxy': 'tollgate', 'x-quote': 'a "b" \'c\' caf\u00e9\tz' }, copy: { 'x-a': 'x-b' }, remove: ['x-secret'] }
    })]
  })
  const headers: Record<string, string> = { 'x-a': '1', 'x-secret': 's' }
  compiled.routes[0]?.requestHeaders?.apply(headers)
  assert.deepEqual(headers, { 'x-a': '1', 'x-b': '1', 'x-proxy': 'tollgate', 'x-quote': 'a "b" \'c\' caf\u00e9\tz' })
})

// ---------------------------------------------------------------- durations

const TOO_LONG = 'is longer than 2147483647 ms (about 24.8 days), the longest a Node timer can wait'

test('every duration key above 2^31-1 ms is refused, written as a string or as milliseconds', () => {
  const config = (d: string | number): Record<string, unknown> => ({
    server: { gracefulShutdown: d, limits: { headersTimeout: d, requestTimeout: d } },
    upstreams: {
      a: {
        targets: ['127.0.0.1:1'],
        balancer: 'sticky-cookie',
        sticky: { ttl: d },
        timeouts: { connect: d, response: d, idle: d },
        pool: { keepAlive: d }
      }
    },
    routes: [route({ timeouts: { connect: d, response: d } })]
  })
  const keys = [
    'server.gracefulShutdown', 'server.limits.headersTimeout', 'server.limits.requestTimeout',
    'upstreams.a.sticky.ttl', 'upstreams.a.timeouts.connect', 'upstreams.a.timeouts.response', 'upstreams.a.timeouts.idle',
    'upstreams.a.pool.keepAlive', 'routes[0].timeouts.connect', 'routes[0].timeouts.response'
  ]
  assert.deepEqual(issuesOf(() => loadConfigObject(config('600h'))).sort(), keys.map(k => `${k}: "600h" ${TOO_LONG}`).sort())
  assert.deepEqual(issuesOf(() => loadConfigObject(config(2_147_483_648))).sort(), keys.map(k => `${k}: must be at most 2147483647 ms (about 24.8 days), the longest a Node timer can wait`).sort())
  assert.deepEqual(issuesOf(() => loadConfigObject(config('596.6h'))).length, keys.length, '596.6 h is 2147760000 ms')
})

test('durations up to the limit pass', () => {
  const { compiled } = loadConfigObject({
    server: { gracefulShutdown: 2_147_483_647 },
    upstreams: { a: { targets: ['127.0.0.1:1'], timeouts: { response: '596h' } } },
    routes: [route({})]
  })
  assert.equal(compiled.server.gracefulShutdownMs, 2_147_483_647)
  assert.equal(compiled.upstreams.get('a')?.timeouts.responseMs, 596 * 3_600_000)
})

// ---------------------------------------------------------------- server limits

test('headersTimeout 0 is refused; requestTimeout 0 (no deadline for the whole request) passes', () => {
  assert.deepEqual(issuesOf(() => loadConfigObject({ server: { limits: { headersTimeout: 0 } }, upstreams: UPSTREAM, routes: [route({})] })),
    ['server.limits.headersTimeout: must be at least 1ms (0 would let a client that never finishes its headers hold the connection forever)'])
  assert.deepEqual(issuesOf(() => loadConfigObject({ server: { limits: { headersTimeout: '0.2ms' } }, upstreams: UPSTREAM, routes: [route({})] })).length, 1)
  const { compiled } = loadConfigObject({ server: { limits: { requestTimeout: 0 } }, upstreams: UPSTREAM, routes: [route({})] })
  assert.equal(compiled.server.limits.requestTimeoutMs, 0)
  assert.equal(compiled.server.limits.headersTimeoutMs, 10_000)
  assert.deepEqual(issuesOf(() => loadConfigObject({ server: { limits: { headersTimeout: '2s', requestTimeout: '1s' } }, upstreams: UPSTREAM, routes: [route({})] })),
    ['server.limits.headersTimeout: must not exceed requestTimeout'])
})

test('maxHeaderSize must lie between 1kb and 1mb', () => {
  const message = 'server.limits.maxHeaderSize: must be from 1kb to 1mb (1024 to 1048576 bytes): every connection may buffer this much'
  for (const size of ['2mb', 1_048_577, '1gb', 9_007_199_254_740_992, '1000b', 0]) {
    assert.deepEqual(issuesOf(() => loadConfigObject({ server: { limits: { maxHeaderSize: size } }, upstreams: UPSTREAM, routes: [route({})] })), [message], String(size))
  }
  for (const size of ['1mb', '1kb', '64kb']) {
    assert.doesNotThrow(() => loadConfigObject({ server: { limits: { maxHeaderSize: size } }, upstreams: UPSTREAM, routes: [route({})] }), size)
  }
})

// ---------------------------------------------------------------- what a file or module hands over

test('a JSON config nested 100 000 levels deep is refused at the depth limit, not by a stack overflow', async (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'deep.json'), `{"routes":${'['.repeat(100_000)}${']'.repeat(100_000)}}`)
  const issues = await fileIssuesOf(join(dir, 'deep.json'))
  assert.equal(issues.length, 1)
  assert.equal(issues[0], `routes${'[0]'.repeat(MAX_CONFIG_DEPTH - 1)}: is nested more than ${MAX_CONFIG_DEPTH} levels deep`)
})

test('a YAML config nested too deep for its parser is refused in one line', async (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'deep.yaml'), `routes: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`)
  const issues = await fileIssuesOf(join(dir, 'deep.yaml'))
  assert.equal(issues.length, 1)
  assert.match(issues[0] ?? '', /^deep\.yaml:1:\d+: nested too deeply to read$/)
})

test('a YAML alias that contains itself is a loop, refused', async (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.yaml'), 'upstreams: { a: { targets: ["127.0.0.1:1"] } }\nroutes:\n  - &r\n    name: r\n    upstream: a\n    match: { headers: *r }\n')
  assert.deepEqual(await fileIssuesOf(join(dir, 'g.yaml')), ['routes[0].match.headers: refers to itself (a loop back to routes[0])'])
})

test('a TypeScript config that contains itself is refused, each loop at its path', async (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.config.ts'), `
const route: Record<string, unknown> = { name: 'r', upstream: 'a', match: {} }
;(route.match as Record<string, unknown>).back = route
const config: Record<string, unknown> = { upstreams: { a: { targets: ['127.0.0.1:1'] } }, routes: [route] }
config.self = config
export default config
`)
  assert.deepEqual(await fileIssuesOf(join(dir, 'g.config.ts')), [
    'routes[0].match.back: refers to itself (a loop back to routes[0])',
    'self: refers to itself (a loop back to the top of the config)'
  ])
})

test('an object used twice (not a loop) is fine', () => {
  const headers = { set: { 'x-a': '1' } }
  const { compiled } = loadConfigObject({ upstreams: UPSTREAM, routes: [route({ requestHeaders: headers }), { name: 'r2', upstream: 'a', requestHeaders: headers }] })
  assert.equal(compiled.routes.length, 2)
})

test('a getter that throws is refused at its path with its message; every other problem is still listed', async (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.config.ts'), `
export default {
  upstreams: { a: { targets: ['127.0.0.1:1'] } },
  routes: [{ name: 'r', upstream: 'a', get match () { throw new Error('no match today\\nsecond line') } }],
  get server () { throw 'a string' }
}
`)
  assert.deepEqual(await fileIssuesOf(join(dir, 'g.config.ts')), [
    'routes[0].match: reading it threw: no match today',
    'server: reading it threw: a string'
  ])
})

test('a default export that throws when read, and a module that throws at import, are one-line issues', async (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'getter.config.ts'), `const m = { get default () { throw new Error('not today') } }\nmodule.exports = m\n`)
  writeFileSync(join(dir, 'throws.config.ts'), `throw new Error('broken at import\\nat line two')\nexport default {}\n`)
  writeFileSync(join(dir, 'syntax.config.ts'), 'export default { routes: [ }\n')
  assert.deepEqual(await fileIssuesOf(join(dir, 'getter.config.ts')), ['getter.config.ts: reading its default export threw: not today'])
  assert.deepEqual(await fileIssuesOf(join(dir, 'throws.config.ts')), ['throws.config.ts: broken at import'])
  const syntax = await fileIssuesOf(join(dir, 'syntax.config.ts'))
  assert.equal(syntax.length, 1)
  assert.match(syntax[0] ?? '', /^syntax\.config\.ts: Transform failed with 1 error: .*syntax\.config\.ts:1:\d+: ERROR: /)
})

test('objects that are not plain data, and functions outside route hooks, are refused', () => {
  const issues = issuesOf(() => loadConfigObject({
    server: { gracefulShutdown: new Date(0) },
    upstreams: { a: { targets: [new Map()] } },
    routes: [route({ name: () => 'r', hooks: { onRequest: () => undefined } })]
  }))
  assert.deepEqual(issues, [
    'server.gracefulShutdown: is a Date, not plain data (an object, array, string, number or boolean)',
    'upstreams.a.targets[0]: is a Map, not plain data (an object, array, string, number or boolean)',
    'routes[0].name: is a function; functions are only allowed as route hooks (routes[].hooks)'
  ])
})

test('a proxy whose traps throw is refused, not a crash', () => {
  const hostile = new Proxy({}, { ownKeys () { throw new Error('no keys') } })
  const issues = issuesOf(() => loadConfigObject({ upstreams: UPSTREAM, routes: [route({ match: hostile })] }))
  assert.deepEqual(issues, ['routes[0].match: reading it threw: no keys'])
})

test('problems with the config as a whole say so, having no path to name', () => {
  assert.deepEqual(issuesOf(() => loadConfigObject(new Date(0))), [': the config is a Date, not plain data (an object, array, string, number or boolean)'])
  assert.deepEqual(issuesOf(() => loadConfigObject(new Proxy({}, { ownKeys () { throw new Error('no keys') } }))), [': reading the config threw: no keys'])
  assert.deepEqual(issuesOf(() => loadConfigObject(() => ({}))), [': the config must be an object (a mapping at the top of the file)'])
})
