// The auth plugin's wiring: which routes get a hook, and where it sits among the others.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify, { type RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import requestContext from '../../plugins/request-context.js'
import auth from '../../plugins/auth.js'
import { PLUGINS } from '../../plugins/index.js'
import ipFilter from '../../plugins/ip-filter.js'
import concurrency from '../../plugins/concurrency.js'
import bodyLimit from '../../plugins/body-limit.js'
import userHooks from '../../plugins/user-hooks.js'
import { loadConfigObject } from '../../src/config/load.js'

test('a route without auth gets no hook from the auth plugin; a route with auth gets exactly one', async (t) => {
  const { compiled } = loadConfigObject({
    upstreams: { up: { targets: ['127.0.0.1:1'] } },
    routes: [
      { name: 'open', upstream: 'up' },
      { name: 'guarded', upstream: 'up', auth: { type: 'bearer', tokens: ['t'] } }
    ]
  })
  const app = Fastify()
  t.after(() => app.close())
  const seen = new Map<string, unknown>()
  await app.register(requestContext)
  await app.register(auth)
  await app.register(fp(async (instance) => {
    instance.addHook('onRoute', (routeOptions: RouteOptions) => { seen.set(routeOptions.url, routeOptions.onRequest) })
  }))
  for (const route of compiled.routes) {
    app.route({ method: 'GET', url: `/${route.name}`, config: { tollgate: route, upstream: null }, handler: async () => 'ok' })
  }
  await app.ready()
  assert.equal(seen.get('/open'), undefined)
  const hooks = seen.get('/guarded')
  assert.ok(Array.isArray(hooks) && hooks.length === 1, `the guarded route has ${JSON.stringify(hooks)}`)
})

test('the plugins run in the order a request meets them: IP filter, auth, concurrency, body checks, user hooks', () => {
  const order = [ipFilter, auth, concurrency, bodyLimit, userHooks].map(plugin => PLUGINS.indexOf(plugin as never))
  assert.ok(order.every(index => index >= 0), `missing from PLUGINS: ${JSON.stringify(order)}`)
  assert.deepEqual([...order].sort((a, b) => a - b), order)
})
