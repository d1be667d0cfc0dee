/**
 * Adapts the hooks of TypeScript routes (`defineRoute({ hooks })`) to Fastify's phases:
 * `onRequest` runs after the gateway's own request_filter checks (so a user hook never
 * sees a request the gateway refused), `onResponse` after the response is sent. The
 * upstream-side hooks are wired by the proxy engine. Routes without hooks get nothing.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { append, contextOf } from './request-context.js'

async function userHooks (app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (routeOptions) => {
    const route = routeOptions.config?.tollgate
    if (route === undefined) return
    const upstream = routeOptions.config?.upstream ?? null
    const { onRequest, onResponse } = route.hooks
    if (onRequest !== undefined) {
      routeOptions.onRequest = append(async (request: FastifyRequest, reply: FastifyReply) => {
        await onRequest(request, reply, contextOf(request, reply, route, upstream))
      }, routeOptions.onRequest)
    }
    if (onResponse !== undefined) {
      routeOptions.onResponse = append(async (request: FastifyRequest, reply: FastifyReply) => {
        try {
          await onResponse(request, reply, contextOf(request, reply, route, upstream))
        } catch (err) {
          request.log.error({ err, route: request.tollgate?.route.name }, 'onResponse hook threw')
        }
      }, routeOptions.onResponse)
    }
  })
}

export default fp(userHooks, { name: 'tollgate-user-hooks', fastify: '5.x', dependencies: ['tollgate-request-context'] })
