// How `tollgate validate` and `tollgate start` end on a config they cannot use, or a
// gateway that cannot start: `path: message` lines or one plain line, exit 1, no stack.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { once } from 'node:events'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { tempFolder } from '../helpers/files.js'

function folder (t: TestContext): string {
  return tempFolder(t, 'tollgate-cli-errors-')
}

/** A line of a stack trace, as Node prints them (and as a JSON log line would carry them). */
const STACK_LINE = /\n\s+at |\\n\s+at |"stack"/

function assertNoStack (result: { stdout: string, stderr: string }): void {
  assert.doesNotMatch(result.stdout, STACK_LINE, `stdout has a stack:\n${result.stdout}`)
  assert.doesNotMatch(result.stderr, STACK_LINE, `stderr has a stack:\n${result.stderr}`)
}

const UPSTREAM = 'upstreams: { a: { targets: ["127.0.0.1:1"] } }\n'

test('validate refuses a route regex that may backtrack exponentially, at its path', (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.yaml'), `${UPSTREAM}routes:\n  - { name: r, upstream: a, match: { path: "~ ^/p/([a-z0-9]+-?)*$" } }\n  - { name: s, upstream: a, match: { path: "~ ^/x/(\\\\d+)$" } }\n`)
  const result = runCli(['validate', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 1)
  assert.equal(result.stdout, 'routes[0].match.path: the regex "^/p/([a-z0-9]+-?)*$" may take exponential time on some paths (nested quantifiers); rewrite it without a repeated group that itself repeats\n')
})

test('validate lists header, duration and limit problems together, one line each', (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.yaml'), `
server:
  gracefulShutdown: 600h
  limits: { headersTimeout: 0, maxHeaderSize: 2mb }
upstreams:
  a: { targets: ["127.0.0.1:1"], balancer: consistent-hash, hash: { key: "header:__proto__" } }
routes:
  - name: r
    upstream: a
    requestHeaders: { set: { x-bad: "a\\r\\nb", "bad name": v } }
`)
  const result = runCli(['validate', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 1)
  assert.deepEqual(result.stdout.trimEnd().split('\n'), [
    'server.limits.headersTimeout: must be at least 1ms (0 would let a client that never finishes its headers hold the connection forever)',
    'server.limits.maxHeaderSize: must be from 1kb to 1mb (1024 to 1048576 bytes): every connection may buffer this much',
    'server.gracefulShutdown: "600h" is longer than 2147483647 ms (about 24.8 days), the longest a Node timer can wait',
    'upstreams.a.hash.key: "__proto__" cannot be a header name: every JavaScript object has a property of that name',
    'routes[0].requestHeaders.set.x-bad: value contains a line break',
    'routes[0].requestHeaders.set["bad name"]: is not a valid header name'
  ])
})

test('validate refuses a bad rateLimit limit, window, key, algorithm or onStoreError, one line each', (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.yaml'), `${UPSTREAM}routes:
  - { name: r0, upstream: a, rateLimit: { limit: 0, window: 1s } }
  - { name: r1, upstream: a, rateLimit: { limit: 5, window: soon } }
  - { name: r2, upstream: a, rateLimit: { limit: 5, window: 1s, key: "cookie:session" } }
  - { name: r3, upstream: a, rateLimit: { limit: 5, window: 1s, algorithm: token-bucket } }
  - { name: r4, upstream: a, rateLimit: { limit: 2.5, window: 1s, onStoreError: maybe, store: disk } }
  - { name: r5, upstream: a, rateLimit: { window: 1s } }
`)
  const result = runCli(['validate', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 1)
  assert.deepEqual(result.stdout.trimEnd().split('\n'), [
    'routes[0].rateLimit.limit: must be >= 1',
    'routes[1].rateLimit.window: must be a duration such as "500ms", "2s", "1m" or a number of milliseconds',
    'routes[2].rateLimit.key: must be ip, route, principal, header:<name> or claim:<name>',
    'routes[3].rateLimit.algorithm: must be fixed-window or sliding-window',
    'routes[4].rateLimit.limit: must be integer',
    'routes[4].rateLimit.store: must be memory or redis',
    'routes[4].rateLimit.onStoreError: must be open or closed',
    'routes[5].rateLimit.limit: is required'
  ])
})

test('validate refuses a zero or too long window, a header key no request can carry, store redis without redis, and a redis.url that is not one', (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.yaml'), `${UPSTREAM}routes:
  - { name: r0, upstream: a, rateLimit: { limit: 5, window: 0 } }
  - { name: r1, upstream: a, rateLimit: { limit: 5, window: 600h } }
  - { name: r2, upstream: a, rateLimit: { limit: 5, window: 1s, key: "header:__proto__" } }
  - { name: r3, upstream: a, rateLimit: { limit: 5, window: 1s, store: redis } }
`)
  const result = runCli(['validate', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 1)
  assert.deepEqual(result.stdout.trimEnd().split('\n'), [
    'routes[0].rateLimit.window: must be at least 1ms',
    'routes[1].rateLimit.window: "600h" is longer than 2147483647 ms (about 24.8 days), the longest a Node timer can wait',
    'routes[2].rateLimit.key: "__proto__" cannot be a header name: every JavaScript object has a property of that name',
    'routes[3].rateLimit.store: redis needs the top-level redis.url'
  ])
  writeFileSync(join(dir, 'r.yaml'), `redis: { url: "http://127.0.0.1:6379" }\n${UPSTREAM}routes:\n  - { name: r, upstream: a, rateLimit: { limit: 5, window: 1s, store: redis } }\n`)
  const badUrl = runCli(['validate', '-c', join(dir, 'r.yaml')])
  assert.equal(badUrl.status, 1)
  assert.equal(badUrl.stdout, 'redis.url: "http://127.0.0.1:6379" is not a redis:// or rediss:// URL with a host\n')
  writeFileSync(join(dir, 'ok.yaml'), `redis: { url: "redis://127.0.0.1:6379" }\n${UPSTREAM}routes:\n  - { name: r, upstream: a, rateLimit: { limit: 5, window: 1s, key: "header:x-api-key", algorithm: sliding-window, store: redis, onStoreError: closed } }\n`)
  const ok = runCli(['validate', '-c', join(dir, 'ok.yaml')])
  assert.equal(ok.stdout, 'config OK\n', ok.stderr)
  assert.equal(ok.status, 0)
})

test('a duration written as too many milliseconds is refused with the limit', (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.json'), JSON.stringify({ upstreams: { a: { targets: ['127.0.0.1:1'], timeouts: { response: 2_160_000_000 } } } }))
  const result = runCli(['validate', '-c', join(dir, 'g.json')])
  assert.equal(result.status, 1)
  assert.equal(result.stdout, 'upstreams.a.timeouts.response: must be at most 2147483647 ms (about 24.8 days), the longest a Node timer can wait\n')
})

test('validate refuses jwt routes with an unknown algorithm or a key file it cannot read, and a custom hook nobody defines', (t) => {
  const dir = folder(t)
  mkdirSync(join(dir, 'keys'))
  writeFileSync(join(dir, 'keys', 'note.txt'), 'not a key\n')
  writeFileSync(join(dir, 'g.yaml'), `${UPSTREAM}routes:
  - { name: a, upstream: a, auth: { type: jwt, secret: s, algorithms: [HS256, HS257] } }
  - { name: b, upstream: a, auth: { type: jwt, publicKey: keys/missing.pem } }
  - { name: c, upstream: a, auth: { type: jwt, publicKey: keys } }
  - { name: d, upstream: a, auth: { type: jwt, publicKey: keys/note.txt } }
  - { name: e, upstream: a, auth: { type: custom, name: nobody } }
`)
  const result = runCli(['validate', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 1)
  assert.deepEqual(result.stdout.trimEnd().split('\n'), [
    'routes[0].auth.algorithms[1]: unknown algorithm "HS257" (expected one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)',
    `routes[1].auth.publicKey: cannot read ${join(dir, 'keys', 'missing.pem')}: ENOENT`,
    `routes[2].auth.publicKey: cannot read ${join(dir, 'keys')}: EISDIR`,
    `routes[3].auth.publicKey: ${join(dir, 'keys', 'note.txt')} is not a PEM public key, certificate or private key`,
    'routes[4].auth.name: no auth hook named "nobody" is registered (export defineAuth("nobody", …) from a module in routes/ or from the config module)'
  ])
  assertNoStack(result)
})

/** Configs that used to overflow the stack or throw past the loader. */
function hostileConfigs (dir: string): { file: string, lines: string[] }[] {
  writeFileSync(join(dir, 'deep.json'), `{"routes":${'['.repeat(100_000)}${']'.repeat(100_000)}}`)
  writeFileSync(join(dir, 'cyclic.config.ts'), `
const config: Record<string, unknown> = { upstreams: { a: { targets: ['127.0.0.1:1'] } } }
config.routes = [{ name: 'r', upstream: 'a', match: config }]
export default config
`)
  writeFileSync(join(dir, 'getter.config.ts'), `
export default { upstreams: { a: { targets: ['127.0.0.1:1'] } }, get routes () { throw new Error('routes are not ready') } }
`)
  writeFileSync(join(dir, 'throws.config.ts'), `
throw new TypeError('cannot read the environment\\nmore detail')
`)
  return [
    { file: 'deep.json', lines: [`routes${'[0]'.repeat(63)}: is nested more than 64 levels deep`] },
    { file: 'cyclic.config.ts', lines: ['routes[0].match: refers to itself (a loop back to the top of the config)'] },
    { file: 'getter.config.ts', lines: ['routes: reading it threw: routes are not ready'] },
    { file: 'throws.config.ts', lines: ['throws.config.ts: cannot read the environment'] }
  ]
}

test('validate ends on a deep, cyclic, throwing or failing config with path: message lines, exit 1, no stack', (t) => {
  const dir = folder(t)
  for (const { file, lines } of hostileConfigs(dir)) {
    const result = runCli(['validate', '-c', join(dir, file)])
    assert.equal(result.status, 1, `${file}: ${result.stdout}${result.stderr}`)
    assert.deepEqual(result.stdout.trimEnd().split('\n'), lines, file)
    assert.equal(result.stderr, '', file)
    assertNoStack(result)
  }
})

test('start ends on the same configs before listening, with the same lines on stderr, exit 1, no stack', (t) => {
  const dir = folder(t)
  for (const { file, lines } of hostileConfigs(dir)) {
    const result = runCli(['start', '-c', join(dir, file)])
    assert.equal(result.status, 1, `${file}: ${result.stdout}${result.stderr}`)
    assert.deepEqual(result.stderr.trimEnd().split('\n'), ['tollgate: the config is invalid:', ...lines], file)
    assert.equal(result.stdout, '', file)
    assertNoStack(result)
  }
})

test('start on a port already in use says so in one line on stderr and exits 1', async (t) => {
  const dir = folder(t)
  const holder = createServer()
  holder.listen(0, '127.0.0.1')
  await once(holder, 'listening')
  t.after(() => new Promise<void>(resolve => holder.close(() => resolve())))
  const port = (holder.address() as AddressInfo).port
  writeFileSync(join(dir, 'g.yaml'), `server: { listen: [{ host: 127.0.0.1, port: ${port} }] }\n${UPSTREAM}routes: [{ name: r, upstream: a }]\n`)
  const result = runCli(['start', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 1)
  assert.equal(result.stderr, `tollgate: cannot listen on 127.0.0.1:${port}: address already in use\n`)
  assertNoStack(result)
})

test('start on an address this host does not have says so in one line on stderr and exits 1', (t) => {
  const dir = folder(t)
  // 192.0.2.0/24 is reserved for documentation (RFC 5737): no host has it. Binding sends nothing.
  writeFileSync(join(dir, 'g.yaml'), `server: { listen: [{ host: 192.0.2.1, port: 8080 }] }\n${UPSTREAM}routes: [{ name: r, upstream: a }]\n`)
  const result = runCli(['start', '-c', join(dir, 'g.yaml')])
  assert.equal(result.status, 1)
  assert.equal(result.stderr, 'tollgate: cannot listen on 192.0.2.1:8080: address not available\n')
  assertNoStack(result)
})

