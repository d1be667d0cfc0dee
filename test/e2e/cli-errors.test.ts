// How `tollgate validate` and `tollgate start` end on a config they cannot use, or a
// gateway that cannot start: `path: message` lines or one plain line, exit 1, no stack.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { runCli } from '../helpers/cli.js'

function folder (t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-cli-errors-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
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

test('a duration written as too many milliseconds is refused with the limit', (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.json'), JSON.stringify({ upstreams: { a: { targets: ['127.0.0.1:1'], timeouts: { response: 2_160_000_000 } } } }))
  const result = runCli(['validate', '-c', join(dir, 'g.json')])
  assert.equal(result.status, 1)
  assert.equal(result.stdout, 'upstreams.a.timeouts.response: must be at most 2147483647 ms (about 24.8 days), the longest a Node timer can wait\n')
})
