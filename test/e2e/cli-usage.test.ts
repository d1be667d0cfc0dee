import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from '../helpers/cli.js'
import { tempFolder } from '../helpers/files.js'

test('validate names the allowed values, suggests the nearest key and reports missing upstreams in the same run', (t) => {
  const dir = tempFolder(t, 'tollgate-cli-')
  writeFileSync(join(dir, 'bad.yaml'), [
    'server: { logLevel: loud }',
    'upstreams:',
    '  a: { targets: ["127.0.0.1:1"], balancer: fastest }',
    '  b: { targets: ["127.0.0.1:1"] }',
    'routes:',
    '  - { name: r, upstream: b, timeout: 1s }',
    '  - { name: s, upstream: a }',
    '  - { name: t, upstream: nowhere }',
    ''
  ].join('\n'))
  const result = runCli(['validate', '-c', join(dir, 'bad.yaml')])
  assert.equal(result.status, 1)
  assert.deepEqual(result.stdout.trimEnd().split('\n'), [
    'server.logLevel: must be one of fatal, error, warn, info, debug, trace, silent',
    'upstreams.a.balancer: must be one of round-robin, random, least-connections, consistent-hash, sticky-cookie',
    'routes[0].timeout: unknown key (did you mean "timeouts"?)',
    // Route s names upstream a, refused for its shape: it is not also reported missing.
    'routes[2].upstream: names a missing upstream "nowhere"'
  ])
  assert.doesNotMatch(result.stdout, /anyOf/)
})

for (const args of [['--help'], ['help'], ['-h']]) {
  test(`tollgate ${args.join(' ')} prints the usage on stdout and exits 0`, () => {
    const result = runCli(args)
    assert.equal(result.status, 0, result.stderr)
    assert.match(result.stdout, /^usage:\n {2}tollgate start -c FILE/)
    assert.match(result.stdout, /tollgate validate -c FILE/)
    assert.equal(result.stderr, '')
  })
}

test('tollgate with no command prints the usage on stderr and exits 2', () => {
  const result = runCli([])
  assert.equal(result.status, 2)
  assert.match(result.stderr, /^tollgate: no command given\nusage:/)
  assert.equal(result.stdout, '')
})
