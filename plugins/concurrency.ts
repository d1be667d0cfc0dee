/**
 * request_filter, after the rate limit: a route's `concurrency` lets at most `limit` of its
 * requests be in flight at once (for the route, or per client address); the next gets 429
 * TOO_MANY_CONCURRENT at once. The slot is given back when the response closes, however
 * the request ends (see RequestContext.onClose). Routes without a concurrency limit get
 * no hook.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import { ConcurrencyLimiter } from '../src/limits/concurrency.js'
import { TooManyConcurrent, type GatewayError } from '../src/errors.js'
import { append, contextOf } from './request-context.js'

async function concurrency (app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (routeOptions) => {
    const route = routeOptions.config?.tollgate
    if (route?.concurrency == null) return
    const upstream = routeOptions.config?.upstream ?? null
    const limiter = new ConcurrencyLimiter(route.concurrency.limit)
    const perClient = route.concurrency.key === 'ip'
    const check: onRequestHookHandler = (request, reply, done) => {
      const ctx = contextOf(request, reply, route, upstream)
      const key = perClient ? ctx.ip : ''
      if (!limiter.tryAcquire(key)) {
        const refused = new TooManyConcurrent() as GatewayError
        // What the request failed with: the access log and the metrics read it.
        ctx.error = refused
        done(refused)
        return
      }
      ctx.onClose = () => limiter.release(key)
      done()
    }
    routeOptions.onRequest = append(check, routeOptions.onRequest)
  })
}

export default fp(concurrency, { name: 'tollgate-concurrency', fastify: '5.x', dependencies: ['tollgate-request-context'] })
