import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { loadConfigFile, loadConfigObject } from '../../../src/config/load.js'
import { ConfigError } from '../../../src/config/errors.js'
import { tempFolder } from '../../helpers/files.js'
import { issuesOf } from '../../helpers/config.js'

/** src/index.ts, the entry the package exports as `tollgate`. */

function folder (t: TestContext): string {
  return tempFolder(t, 'tollgate-load-')
}

const YAML = `
server:
  listen: [{ host: 127.0.0.1, port: 18080 }]
  gracefulShutdown: 2s
upstreams:
  blue:
    targets: [127.0.0.1:3001, { address: 127.0.0.1:3002, weight: 3 }]
    timeouts: { connect: 100ms }
routes:
  - name: blue
    match: { path: /blue/* }
    upstream: blue
`

test('YAML, JSON and a defineGateway module compile to the same config', async (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.yaml'), YAML)
  const object = {
    server: { listen: [{ host: '127.0.0.1', port: 18080 }], gracefulShutdown: '2s' },
    upstreams: { blue: { targets: ['127.0.0.1:3001', { address: '127.0.0.1:3002', weight: 3 }], timeouts: { connect: '100ms' } } },
    routes: [{ name: 'blue', match: { path: '/blue/*' }, upstream: 'blue' }]
  }
  writeFileSync(join(dir, 'g.json'), JSON.stringify(object))
  // The module imports defineGateway from the package, as a user's config does, and exports
  // what it returns: if the helper did not hand the config back, the compiled config would differ.
  writeFileSync(join(dir, 'g.config.ts'), [
    "import { defineGateway } from 'tollgate'",
    `export default defineGateway(${JSON.stringify(object)})`,
    ''
  ].join('\n'))
  const fromYaml = (await loadConfigFile(join(dir, 'g.yaml'))).compiled
  const fromJson = (await loadConfigFile(join(dir, 'g.json'))).compiled
  const fromTs = (await loadConfigFile(join(dir, 'g.config.ts'))).compiled
  assert.deepEqual(fromJson.source, fromYaml.source)
  assert.deepEqual(fromTs.source, fromYaml.source)
  const blue = fromYaml.upstreams.get('blue')
  assert.equal(blue?.timeouts.connectMs, 100)
  assert.deepEqual(blue?.targets.map(t => [t.address.id, t.weight]), [['127.0.0.1:3001', 1], ['127.0.0.1:3002', 3]])
  assert.equal(fromYaml.server.gracefulShutdownMs, 2000)
  assert.equal(fromYaml.routes[0]?.timeouts.connectMs, 100, 'a route inherits its upstream timeouts')
})

test('the compiled config is frozen', () => {
  const { compiled } = loadConfigObject({ upstreams: { a: { targets: ['127.0.0.1:1'] } }, routes: [{ name: 'r', upstream: 'a' }] })
  assert.ok(Object.isFrozen(compiled), 'the compiled config is not frozen')
  assert.ok(Object.isFrozen(compiled.routes[0]), 'a compiled route is not frozen')
  assert.ok(Object.isFrozen(compiled.source), 'the config source is not frozen')
  assert.throws(() => { (compiled.server as { accessLog: boolean }).accessLog = false }, TypeError)
})

test('every problem is reported as path: message in one pass', () => {
  const issues = issuesOf(() => loadConfigObject({
    server: { listen: [{ port: 'eighty' }], trustProxy: ['10.0.0.0/33'], colour: 'blue' },
    upstreams: {
      empty: { targets: [] },
      typo: { targets: ['127.0.0.1:3001'], balancr: 'random' }
    },
    routes: [
      { name: 'a', upstream: 'missing' },
      { name: 'b', upstream: 'empty', match: { path: '~ ^/x/(\\d+$' } }
    ]
  }))
  assert.ok(issues.includes('server.colour: unknown key'), issues.join('\n'))
  assert.ok(issues.includes('server.listen[0].port: must be integer'), issues.join('\n'))
  assert.ok(issues.includes('upstreams.typo.balancr: unknown key (did you mean "balancer"?)'), issues.join('\n'))
  // The parts the schema accepted are checked in the same pass.
  assert.ok(issues.includes('upstreams.empty.targets: must list at least one target'), issues.join('\n'))
  assert.ok(issues.includes('routes[0].upstream: names a missing upstream "missing"'), issues.join('\n'))
  assert.ok(issues.some(issue => /^routes\[1\]\.match\.path: .*regex/i.test(issue)), issues.join('\n'))
})

test('semantic errors are reported once the shape is right', () => {
  const issues = issuesOf(() => loadConfigObject({
    server: { trustProxy: ['10.0.0.0/33', 'not-an-ip'] },
    upstreams: { empty: { targets: [] }, ok: { targets: ['127.0.0.1:3001'] } },
    routes: [
      { name: 'a', upstream: 'missing' },
      { name: 'b', upstream: 'ok', match: { path: '~ ^/x/(\\d+$' } }
    ]
  }))
  const text = issues.join('\n')
  assert.match(text, /^server\.trustProxy\[0\]: "10\.0\.0\.0\/33": prefix length must be 0-32$/m)
  assert.match(text, /^server\.trustProxy\[1\]: "not-an-ip" is not an IP address or CIDR block$/m)
  assert.match(text, /^upstreams\.empty\.targets: must list at least one target$/m)
  assert.match(text, /^routes\[0\]\.upstream: names a missing upstream "missing"$/m)
  assert.match(text, /^routes\[1\]\.match\.path: .*regex/im)
})

test('a target that is not host:port is refused', () => {
  const issues = issuesOf(() => loadConfigObject({ upstreams: { a: { targets: ['127.0.0.1:99999', 'bad host:1'] } }, routes: [] }))
  assert.match(issues.join('\n'), /^upstreams\.a\.targets\[0\]: .*port/m)
  assert.match(issues.join('\n'), /^upstreams\.a\.targets\[1\]: .*not a valid host/m)
})

test('a YAML syntax error names the file', async (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'bad.yaml'), 'routes: [\n  - name: x\n')
  await assert.rejects(loadConfigFile(join(dir, 'bad.yaml')), (err: unknown) => err instanceof ConfigError && /bad\.yaml/.test(err.message))
})

test('routes/*.ts beside the config are appended after the file routes, hooks kept', async (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.yaml'), YAML)
  mkdirSync(join(dir, 'routes'))
  writeFileSync(join(dir, 'routes', 'extra.ts'), `export default [
    { name: 'extra', match: { path: '/extra' }, upstream: 'blue', hooks: { onRequest () {} } },
    { name: 'extra2', upstream: 'blue' }
  ]\n`)
  const { compiled } = await loadConfigFile(join(dir, 'g.yaml'))
  assert.deepEqual(compiled.routes.map(r => r.name), ['blue', 'extra', 'extra2'])
  assert.equal(typeof compiled.routes[1]?.hooks.onRequest, 'function')
})

test('an error in a routes/ module names that file', async (t) => {
  const dir = folder(t)
  writeFileSync(join(dir, 'g.yaml'), YAML)
  mkdirSync(join(dir, 'routes'))
  writeFileSync(join(dir, 'routes', 'orders.ts'), `export default { name: 'orders', upstream: 'nowhere' }\n`)
  await assert.rejects(loadConfigFile(join(dir, 'g.yaml')), (err: unknown) =>
    err instanceof ConfigError && err.issues.some(i => i.path === 'orders.ts: routes[1].upstream'))
})

test('a .env beside the config file fills its ${NAME} references; the process environment wins over it', async (t) => {
  const names = ['TOLLGATE_T_TARGET', 'TOLLGATE_T_PORT', 'TOLLGATE_T_CONNECT'] as const
  const saved = names.map(name => process.env[name])
  t.after(() => names.forEach((name, i) => {
    if (saved[i] === undefined) delete process.env[name]
    else process.env[name] = saved[i]
  }))
  for (const name of names) delete process.env[name]
  const text = `
server:
  listen: [{ host: 127.0.0.1, port: "\${TOLLGATE_T_PORT}" }]
upstreams:
  blue:
    targets: ["\${TOLLGATE_T_TARGET}"]
    timeouts: { connect: "\${TOLLGATE_T_CONNECT}" }
routes:
  - name: blue
    upstream: blue
`
  const withEnv = folder(t)
  writeFileSync(join(withEnv, 'g.yaml'), text)
  writeFileSync(join(withEnv, '.env'), 'TOLLGATE_T_TARGET=127.0.0.1:3101\nTOLLGATE_T_PORT=18081\nTOLLGATE_T_CONNECT=150ms\n')
  const fromFile = (await loadConfigFile(join(withEnv, 'g.yaml'))).compiled
  assert.deepEqual(fromFile.upstreams.get('blue')?.targets.map(target => target.address.id), ['127.0.0.1:3101'])
  assert.deepEqual(fromFile.source.server?.listen, [{ host: '127.0.0.1', port: 18081 }])
  assert.equal(fromFile.upstreams.get('blue')?.timeouts.connectMs, 150)

  process.env.TOLLGATE_T_CONNECT = '250ms'
  const overridden = (await loadConfigFile(join(withEnv, 'g.yaml'))).compiled
  assert.equal(overridden.upstreams.get('blue')?.timeouts.connectMs, 250, 'the .env value won over the process environment')
  assert.deepEqual(overridden.upstreams.get('blue')?.targets.map(target => target.address.id), ['127.0.0.1:3101'])

  // The same file without a .env beside it: the names are set nowhere else.
  const without = folder(t)
  writeFileSync(join(without, 'g.yaml'), text)
  const issues = await loadConfigFile(join(without, 'g.yaml')).then(
    () => assert.fail('the config loaded without its .env'),
    (err: unknown) => { assert.ok(err instanceof ConfigError, String(err)); return err.issues.map(i => `${i.path}: ${i.message}`) })
  assert.deepEqual(issues.filter(issue => issue.includes('is not set')).sort(), [
    'server.listen[0].port: environment variable TOLLGATE_T_PORT is not set',
    'upstreams.blue.targets[0]: environment variable TOLLGATE_T_TARGET is not set'
  ])
})
