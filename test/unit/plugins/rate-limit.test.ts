/**
 * The rate-limit plugin in a Fastify app of its own, with the real request-context and
 * error-handler plugins and a stand-in for auth (an earlier onRequest hook that sets
 * ctx.principal from a test header, as auth does from a token): the keys that read the
 * principal, and which routes get a hook at all.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import type { Dispatcher } from 'undici'
import requestContext, { append, contextOf, kRouteMatch, type RawWithMatch } from '../../../plugins/request-context.js'
import errorHandler from '../../../plugins/error-handler.js'
import rateLimit from '../../../plugins/rate-limit.js'
import { loadConfigObject } from '../../../src/config/load.js'
import type { CompiledGateway, CompiledRoute } from '../../../src/config/compile.js'
import { RouteTable } from '../../../src/routing/matcher.js'
import { MemoryCounterStore } from '../../../src/stores/memory.js'
import { WebSocketTunnels } from '../../../src/websocket/tunnels.js'

function compile (routes: unknown[]): CompiledGateway {
  return loadConfigObject({ upstreams: { a: { targets: ['127.0.0.1:1'] } }, routes }).compiled
}

/** Auth's place in the order: routes the request, makes its context, sets the principal. */
function standInAuth (config: CompiledGateway) {
  const table = new RouteTable(config.routes.map(route => ({ spec: route.match, route })))
  return fp(async (app: FastifyInstance) => {
    app.addHook('onRoute', (routeOptions) => {
      const route = routeOptions.config?.tollgate
      if (route === undefined) return
      routeOptions.onRequest = append(async (request: FastifyRequest, reply: FastifyReply) => {
        const match = table.match(request.method, request.headers.host, request.url, request.headers)
        ;(request.raw as RawWithMatch)[kRouteMatch] = match
        const ctx = contextOf(request, reply, route, null)
        const principal = request.headers['x-test-principal']
        if (typeof principal === 'string') ctx.principal = JSON.parse(principal) as Record<string, unknown>
      }, routeOptions.onRequest as onRequestHookHandler | onRequestHookHandler[] | undefined)
    })
  }, { name: 'stand-in-auth', dependencies: ['tollgate-request-context'] })
}

async function appFor (t: TestContext, config: CompiledGateway, hooks?: Map<string, number>): Promise<FastifyInstance> {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(requestContext)
  await app.register(errorHandler)
  await app.register(standInAuth(config))
  await app.register(rateLimit, {
    config,
    upstreams: new Map(),
    transparentDispatcher: null as unknown as Dispatcher,
    counterStores: { memory: new MemoryCounterStore(), redis: null },
    caches: new Map(),
    tunnels: new WebSocketTunnels()
  })
  app.addHook('onRoute', (routeOptions) => {
    const hooks2 = routeOptions.onRequest
    hooks?.set((routeOptions.config?.tollgate as CompiledRoute).name, Array.isArray(hooks2) ? hooks2.length : hooks2 === undefined ? 0 : 1)
  })
  for (const route of config.routes) {
    app.route({ method: 'GET', url: route.match.path ?? '/', config: { tollgate: route, upstream: null }, handler: async () => 'ok' })
  }
  await app.ready()
  return app
}

async function statuses (app: FastifyInstance, url: string, principals: (object | null)[]): Promise<number[]> {
  const out = []
  for (const principal of principals) {
    const res = await app.inject({ method: 'GET', url, headers: principal === null ? {} : { 'x-test-principal': JSON.stringify(principal) } })
    out.push(res.statusCode)
  }
  return out
}

test('key principal: each principal id has its own limit', async (t) => {
  const app = await appFor(t, compile([{ name: 'p', match: { path: '/p' }, upstream: 'a', rateLimit: { limit: 1, window: '1m', key: 'principal' } }]))
  assert.deepEqual(await statuses(app, '/p', [{ id: 'alice' }, { id: 'bob' }, { id: 'alice' }, { id: 'bob' }]), [200, 200, 429, 429])
})

test('key principal: requests without a principal are counted by client address', async (t) => {
  const app = await appFor(t, compile([{ name: 'p', match: { path: '/p' }, upstream: 'a', rateLimit: { limit: 1, window: '1m', key: 'principal' } }]))
  assert.deepEqual(await statuses(app, '/p', [null, { id: 'alice' }, null]), [200, 200, 429])
})

test('key claim: principals with the same claim value share a limit', async (t) => {
  const app = await appFor(t, compile([{ name: 'c', match: { path: '/c' }, upstream: 'a', rateLimit: { limit: 2, window: '1m', key: 'claim:tenant' } }]))
  const acme1 = { id: 'u1', tenant: 'acme' }
  const acme2 = { id: 'u2', tenant: 'acme' }
  const other = { id: 'u3', tenant: 'other' }
  assert.deepEqual(await statuses(app, '/c', [acme1, acme2, acme1, other]), [200, 200, 429, 200])
})

test('a 429 from the plugin is the contract\'s RATE_LIMITED body with Retry-After', async (t) => {
  const app = await appFor(t, compile([{ name: 'r', match: { path: '/r' }, upstream: 'a', rateLimit: { limit: 1, window: '1m' } }]))
  await app.inject({ method: 'GET', url: '/r' })
  const res = await app.inject({ method: 'GET', url: '/r' })
  assert.equal(res.statusCode, 429)
  assert.equal(res.json<{ error: { code: string } }>().error.code, 'RATE_LIMITED')
  const retryAfter = Number(res.headers['retry-after'])
  assert.ok(retryAfter >= 59 && retryAfter <= 60, String(res.headers['retry-after']))
  assert.equal(res.headers['ratelimit-remaining'], '0')
})

test('only routes with rateLimit get a hook', async (t) => {
  const hooks = new Map<string, number>()
  await appFor(t, compile([
    { name: 'limited', match: { path: '/l' }, upstream: 'a', rateLimit: { limit: 1, window: '1m' } },
    { name: 'free', match: { path: '/f' }, upstream: 'a' }
  ]), hooks)
  assert.equal(hooks.get('limited'), 2, 'the stand-in and the rate limit')
  assert.equal(hooks.get('free'), 1, 'the stand-in only')
})

test('a config without rateLimit registers nothing', async (t) => {
  const app = await appFor(t, compile([{ name: 'free', match: { path: '/f' }, upstream: 'a' }]))
  assert.equal(app.hasDecorator('rateLimit'), false)
  assert.equal(app.hasRequestDecorator('tollgate'), true)
})
