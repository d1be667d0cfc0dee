/**
 * request_cache_filter onwards: on routes with `cache`, a preHandler looks the request up
 * (src/cache/route-cache.ts) before the proxy handler runs. A hit, a stale copy, a PURGE or
 * an only-if-cached miss is answered there and the handler never runs; anything else goes
 * on to the proxy with the cache's tap on its upstream attempt. Routes without `cache` get
 * no hook and pay nothing.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, preHandlerHookHandler } from 'fastify'
import type { GatewayPluginOptions } from './options.js'
import { append, contextOf } from './request-context.js'
import { upgradeOf } from '../src/websocket/upgrade.js'

async function cache (app: FastifyInstance, options: GatewayPluginOptions): Promise<void> {
  if (options.caches.size === 0) return
  app.addHook('onRoute', (routeOptions) => {
    const route = routeOptions.config?.tollgate
    if (route === undefined) return
    const routeCache = options.caches.get(route)
    if (routeCache === undefined) return
    const upstream = routeOptions.config?.upstream ?? null
    const lookup: preHandlerHookHandler = (request, reply, done) => {
      // A WebSocket upgrade is a GET no stored response may answer.
      if (upgradeOf(request.raw) !== null) {
        done()
        return
      }
      routeCache.handle(request, reply, contextOf(request, reply, route, upstream), () => { done() })
    }
    routeOptions.preHandler = append(lookup, routeOptions.preHandler)
  })
}

export default fp(cache, { name: 'tollgate-cache', fastify: '5.x', dependencies: ['tollgate-request-context'] })
