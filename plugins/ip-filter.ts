/**
 * request_filter, first check: a route's `ipFilter` refuses a client address it does not
 * allow with 403 IP_FORBIDDEN, before anything else is spent on the request. Routes
 * without an ipFilter get no hook.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import { IpFilter } from '../src/limits/ip-filter.js'
import { IpForbidden } from '../src/errors.js'
import { append, contextOf } from './request-context.js'

async function ipFilter (app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (routeOptions) => {
    const route = routeOptions.config?.tollgate
    if (route?.ipFilter == null) return
    const upstream = routeOptions.config?.upstream ?? null
    const filter = new IpFilter(route.ipFilter)
    const check: onRequestHookHandler = (request, reply, done) => {
      const ip = contextOf(request, reply, route, upstream).ip
      done(filter.allows(ip) ? undefined : new IpForbidden(ip))
    }
    routeOptions.onRequest = append(check, routeOptions.onRequest)
  })
}

export default fp(ipFilter, { name: 'tollgate-ip-filter', fastify: '5.x', dependencies: ['tollgate-request-context'] })
