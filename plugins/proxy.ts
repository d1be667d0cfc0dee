/**
 * upstream_peer and everything after it: one Fastify route per config route, whose handler
 * is that route's RouteProxy. Registered last, so every plugin's onRoute hook sees the
 * routes. Request bodies are not parsed: they stream through to the upstream.
 */
import type { FastifyInstance, HTTPMethods } from 'fastify'
import replyFrom from '@fastify/reply-from'
import type { GatewayPluginOptions } from './options.js'
import { RouteProxy } from '../src/proxy/route-proxy.js'
import { ReplyFromEngine } from '../src/proxy/reply-from-engine.js'
import { UndiciEngine } from '../src/proxy/undici-engine.js'
import { AttemptDispatcher } from '../src/upstream/dispatcher.js'
import { compileTrust } from '../src/net/trust.js'
import { contextOf } from './request-context.js'
import { METHODS as httpMethods } from 'node:http'

/** The router constraint that holds the config route a request matched (see app.ts). */
export const ROUTE_CONSTRAINT = 'tollgateRoute'

/** Every method Node's parser accepts except CONNECT, which never reaches 'request'. */
const METHODS = httpMethods.filter(m => m !== 'CONNECT') as HTTPMethods[]

const dispatcher = new AttemptDispatcher()

export default async function proxy (app: FastifyInstance, options: GatewayPluginOptions): Promise<void> {
  // Fastify parses no body here: every method is declared bodyless, so requests reach the
  // route proxy untouched, which streams the client's body upstream as it arrives (and
  // checks it against server.limits.bodyLimit). Fastify would otherwise refuse bodies a
  // gateway must pass on: a Content-Type it cannot parse (415), QUERY without one (400).
  // Every method Node's parser accepts reaches the routes that allow it (WebDAV, SEARCH,
  // PURGE, QUERY…).
  for (const method of METHODS) app.addHttpMethod(method, { hasBody: false, overrideExisting: true })
  const engine = options.config.server.engine
  if (engine === 'reply-from') {
    await app.register(replyFrom, {
      undici: dispatcher as unknown as { request: import('undici').Dispatcher['request'] },
      disableRequestLogging: true
    })
  }
  const trust = compileTrust(options.config.server.trustProxy)
  for (const route of options.config.routes) {
    const upstream = route.upstream === null ? null : (options.upstreams.get(route.upstream) ?? null)
    const routeProxy = new RouteProxy({
      route,
      upstream,
      transparentDispatcher: options.transparentDispatcher,
      trust,
      underscoresInHeaders: options.config.server.underscoresInHeaders,
      bodyLimit: route.bodyLimit,
      createEngine: (observer) => engine === 'reply-from'
        ? new ReplyFromEngine(observer, route.hooks)
        : new UndiciEngine(observer, route.hooks, {
          editsResponseHeaders: route.responseHeaders !== null || (upstream?.addsResponseHeaders ?? false) || route.cache?.consumeCdnHeader === true
        })
    })
    options.caches.get(route)?.attach(routeProxy)
    app.route({
      method: METHODS,
      url: '/*',
      constraints: { [ROUTE_CONSTRAINT]: route.name },
      config: { tollgate: route, upstream },
      handler: (request, reply) => {
        routeProxy.handle(request, reply, contextOf(request, reply, route, upstream))
      }
    })
  }
}
