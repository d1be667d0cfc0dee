/**
 * request_filter: a route's `rateLimit`. @fastify/rate-limit is registered once per app
 * with `global: false` (it adds nothing to routes by itself) and our stores behind it
 * (src/limits/rate-limit-store.ts says why its own cannot serve); each limited route gets
 * its own check from the package's `rateLimit(options)` and an onRequest hook that makes
 * the request's context first (the key reads the client address and auth's principal).
 * The check sets ratelimit-limit, -remaining and -reset on the reply, which every response
 * of the route carries (the proxy engines copy the reply's headers), and throws
 * RATE_LIMITED (429, with Retry-After) when the limit is reached. A route without
 * `rateLimit` gets no hook; a config without one registers nothing.
 */
import fp from 'fastify-plugin'
import fastifyRateLimit, { type RateLimitOptions } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayPluginOptions } from './options.js'
import { append, contextOf } from './request-context.js'
import { RateLimiter, rateLimited } from '../src/limits/rate-limiter.js'
import { RouteLimiterStore, type RouteLimiterStoreOptions } from '../src/limits/rate-limit-store.js'
import type { RequestContext } from '../src/context.js'

async function rateLimit (app: FastifyInstance, options: GatewayPluginOptions): Promise<void> {
  if (!options.config.routes.some(route => route.rateLimit !== null)) return
  await app.register(fastifyRateLimit, {
    global: false,
    // The contract's header names: ratelimit-limit, -remaining, -reset (and retry-after).
    enableDraftSpec: true,
    store: RouteLimiterStore,
    errorResponseBuilder: (request) => {
      const refused = rateLimited()
      // What the request failed with: the access log and the metrics read it.
      if (request.tollgate !== null) request.tollgate.error = refused
      return refused
    }
  })
  const stores = options.counterStores
  app.addHook('onRoute', (routeOptions) => {
    const route = routeOptions.config?.tollgate
    const spec = route?.rateLimit ?? null
    if (route === undefined || spec === null) return
    const upstream = routeOptions.config?.upstream ?? null
    const store = spec.store === 'redis' ? stores.redis : stores.memory
    // Refused at load: `store: redis` needs the top-level `redis`.
    if (store === null) throw new Error(`route ${route.name}: store redis without a redis connection`)
    const limiter = new RateLimiter(route.name, spec, store)
    const routeLimit: RateLimitOptions & RouteLimiterStoreOptions = {
      max: spec.limit,
      timeWindow: spec.windowMs,
      keyGenerator: (request) => limiter.keyOf(request.tollgate as RequestContext),
      skipOnError: spec.onStoreError === 'open',
      limiter
    }
    const check = app.rateLimit(routeLimit)
    routeOptions.onRequest = append(function rateLimitPhase (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      contextOf(request, reply, route, upstream)
      return check.call(this, request, reply)
    }, routeOptions.onRequest)
  })
}

export default fp(rateLimit, { name: 'tollgate-rate-limit', fastify: '5.x', dependencies: ['tollgate-request-context'] })
