import { test } from 'node:test'
import assert from 'node:assert/strict'
import { withInstanceKeys } from '../../../src/sync/instance-keys.js'

const shared = {
  server: { listen: [{ host: '0.0.0.0', port: 8080 }], workers: 4, pidFile: '/run/a.pid', logLevel: 'debug', trustProxy: ['10.0.0.0/8'] },
  admin: { listen: { host: '127.0.0.1', port: 9090 }, token: 'cluster-token' },
  redis: { url: 'redis://a:6379' },
  upstreams: { app: { targets: ['10.0.0.1:80'] } },
  routes: [{ name: 'r', upstream: 'app' }]
}

test('the instance keys come from the own config, every other key from the shared one', () => {
  const own = {
    server: { listen: [{ host: '127.0.0.1', port: 18080 }], logLevel: 'warn' },
    admin: { listen: { host: '127.0.0.1', port: 19090 }, token: 'own-token' },
    redis: { url: 'redis://b:6379', commandTimeout: '1s' },
    routes: []
  }
  assert.deepEqual(withInstanceKeys(shared, own), {
    // workers and pidFile: the own config leaves them out, so they take their defaults.
    server: { listen: [{ host: '127.0.0.1', port: 18080 }], logLevel: 'debug', trustProxy: ['10.0.0.0/8'] },
    admin: { listen: { host: '127.0.0.1', port: 19090 }, token: 'cluster-token' },
    redis: { url: 'redis://b:6379', commandTimeout: '1s' },
    upstreams: shared.upstreams,
    routes: shared.routes
  })
})

test('a shared config without an admin section leaves the instance without one; without a server section, the own listeners still apply', () => {
  const own = { server: { listen: [{ port: 1 }] }, admin: { listen: { port: 2 } }, redis: { url: 'redis://b' } }
  const { server: _server, admin: _admin, ...rest } = shared
  assert.deepEqual(withInstanceKeys(rest, own), { server: { listen: [{ port: 1 }] }, redis: { url: 'redis://b' }, upstreams: shared.upstreams, routes: shared.routes })
})

test('neither argument is changed, and the result shares no object with them', () => {
  const own = { server: { listen: [{ port: 1 }] }, redis: { url: 'redis://b' } }
  const before = structuredClone({ shared, own })
  const result = withInstanceKeys(shared, own) as { server: { listen: unknown[] }, routes: unknown[] }
  assert.deepEqual({ shared, own }, before)
  assert.notEqual(result.server.listen, own.server.listen)
  assert.notEqual(result.routes, shared.routes)
})

test('a server section that is not an object is left for the schema to refuse', () => {
  const result = withInstanceKeys({ server: 'nonsense' }, { server: { listen: [{ port: 1 }] } })
  assert.equal(result.server, 'nonsense')
})
