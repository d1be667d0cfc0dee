// Config and route modules that live outside the package (a container mounts them in
// /etc/tollgate) import Tollgate by name, and get the very package the gateway runs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, parse } from 'node:path'
import type { TestContext } from 'node:test'
import { request } from 'undici'
import { runCli, startCli, listeningPort } from '../helpers/cli.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { loadConfigFile } from '../../src/config/load.js'
import { defineGateway, defineRoute } from '../../src/index.js'
import { tempFolder } from '../helpers/files.js'

function folder (t: TestContext): string {
  return tempFolder(t, 'tollgate-outside-')
}

/** A folder with no package.json in it or above it: Node and tsx treat its .ts as CommonJS. */
function assertNoPackageJsonAbove (dir: string): void {
  for (let at = dir; ; at = dirname(at)) {
    assert.equal(existsSync(join(at, 'package.json')), false, `${at}/package.json makes this test meaningless`)
    if (at === parse(at).root) return
  }
}

const gatewayYaml = (origin: Origin): string => `
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  accessLog: false
upstreams:
  orders: { targets: ["${origin.address}"] }
`

/**
 * A route whose hook tells the upstream whether the RequestContext it is handed is an
 * instance of the RequestContext class it imported: true only when 'tollgate' resolved to
 * the package instance the gateway runs.
 */
const routeModule = (name: string, path: string): string => `
import { defineRoute, RequestContext } from 'tollgate'

export default defineRoute({
  name: '${name}',
  match: { path: '${path}' },
  upstream: 'orders',
  hooks: {
    upstreamRequest (_request, headers, ctx) {
      headers['x-same-tollgate'] = String(ctx instanceof RequestContext)
    }
  }
})
`

async function startAndGet (t: TestContext, config: string, paths: readonly string[], origin: Origin): Promise<void> {
  const cli = startCli(t, ['start', '-c', config])
  const port = await listeningPort(cli)
  for (const path of paths) {
    const res = await request(`http://127.0.0.1:${port}${path}`)
    const text = await res.body.text()
    assert.equal(res.statusCode, 200, `${path}: ${text}`)
    assert.equal(text, 'Response from ORDERS')
  }
  assert.deepEqual(origin.received.map(r => [r.url, r.headers['x-same-tollgate']]), paths.map(path => [path, 'true']))
  cli.child.kill('SIGTERM')
  assert.equal((await cli.exited).code, 0)
}

test('routes outside the package, as CommonJS .ts and as .mts, import tollgate: validate and start', async (t) => {
  const dir = folder(t)
  assertNoPackageJsonAbove(dir)
  const origin = await startOrigin(t, 'orders')
  writeFileSync(join(dir, 'gateway.yaml'), gatewayYaml(origin))
  mkdirSync(join(dir, 'routes'))
  writeFileSync(join(dir, 'routes', 'orders.ts'), routeModule('orders', '/orders/*'))
  writeFileSync(join(dir, 'routes', 'invoices.mts'), routeModule('invoices', '/invoices/*'))

  const validate = runCli(['validate', '-c', join(dir, 'gateway.yaml')])
  assert.equal(validate.stdout, 'config OK\n', validate.stdout + validate.stderr)
  assert.equal(validate.status, 0)
  await startAndGet(t, join(dir, 'gateway.yaml'), ['/invoices/7', '/orders/1'], origin)
})

test('a route outside the package in a "type": "module" folder imports tollgate: validate and start', async (t) => {
  const dir = folder(t)
  const origin = await startOrigin(t, 'orders')
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n')
  writeFileSync(join(dir, 'gateway.yaml'), gatewayYaml(origin))
  mkdirSync(join(dir, 'routes'))
  writeFileSync(join(dir, 'routes', 'orders.ts'), routeModule('orders', '/orders/*'))

  const validate = runCli(['validate', '-c', join(dir, 'gateway.yaml')])
  assert.equal(validate.stdout, 'config OK\n', validate.stdout + validate.stderr)
  await startAndGet(t, join(dir, 'gateway.yaml'), ['/orders/2'], origin)
})

test('a gateway.config.ts outside the package imports defineGateway from tollgate', async (t) => {
  const dir = folder(t)
  assertNoPackageJsonAbove(dir)
  const origin = await startOrigin(t, 'orders')
  writeFileSync(join(dir, 'gateway.config.ts'), `
import { defineGateway, defineRoute, RequestContext } from 'tollgate'

export default defineGateway({
  server: { listen: [{ host: '127.0.0.1', port: 0 }], accessLog: false },
  upstreams: { orders: { targets: ['${origin.address}'] } },
  routes: [defineRoute({
    name: 'orders',
    upstream: 'orders',
    hooks: { upstreamRequest (_request, headers, ctx) { headers['x-same-tollgate'] = String(ctx instanceof RequestContext) } }
  })]
})
`)
  const validate = runCli(['validate', '-c', join(dir, 'gateway.config.ts')])
  assert.equal(validate.stdout, 'config OK\n', validate.stdout + validate.stderr)
  await startAndGet(t, join(dir, 'gateway.config.ts'), ['/anything'], origin)
})

test('tollgate in a module outside the package is the same instance as the gateway\'s own exports', async (t) => {
  const dir = folder(t)
  assertNoPackageJsonAbove(dir)
  const mine = { defineRoute, defineGateway }
  const key = Symbol.for('tollgate test: the exports the gateway was loaded with')
  ;(globalThis as Record<symbol, unknown>)[key] = mine
  t.after(() => { delete (globalThis as Record<symbol, unknown>)[key] })
  // Each module names its route after what it sees, so the loaded config tells.
  const compare = (name: string): string => `
import { defineRoute, defineGateway } from 'tollgate'
const mine = (globalThis as Record<symbol, { defineRoute: unknown, defineGateway: unknown }>)[Symbol.for(${JSON.stringify(key.description)})]
const same = defineRoute === mine?.defineRoute && defineGateway === mine?.defineGateway
export default defineRoute({ name: '${name}-' + (same ? 'same' : 'different'), upstream: 'a' })
`
  writeFileSync(join(dir, 'g.yaml'), 'upstreams: { a: { targets: ["127.0.0.1:1"] } }\n')
  mkdirSync(join(dir, 'routes'))
  writeFileSync(join(dir, 'routes', 'a-commonjs.ts'), compare('commonjs'))
  writeFileSync(join(dir, 'routes', 'b-esm.mts'), compare('esm'))
  writeFileSync(join(dir, 'routes', 'c-require.cjs'), `
const { defineRoute } = require('tollgate')
const { name } = require('tollgate/package.json')
const mine = globalThis[Symbol.for(${JSON.stringify(key.description)})]
module.exports = defineRoute({ name: 'require-' + name + '-' + (defineRoute === mine.defineRoute ? 'same' : 'different'), upstream: 'a' })
`)
  const first = await loadConfigFile(join(dir, 'g.yaml'))
  assert.deepEqual(first.compiled.routes.map(r => r.name), ['commonjs-same', 'esm-same', 'require-tollgate-same'])
  // A reload imports the modules afresh: still the same package.
  const again = await loadConfigFile(join(dir, 'g.yaml'))
  assert.deepEqual(again.compiled.routes.map(r => r.name), ['commonjs-same', 'esm-same', 'require-tollgate-same'])
})
