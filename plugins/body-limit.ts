/**
 * request_body_filter: a route's body checks. Its size limit (`bodyLimit`, or
 * server.limits.bodyLimit) needs no hook: the route proxy refuses a declared length over
 * it before reading a byte, and counts a chunked body as it streams (DeferredBody). Its
 * `inspect` needs one: the first `maxBytes` of the body are held back and searched before
 * the request is proxied, so a blocked body never reaches the upstream (403
 * REQUEST_BLOCKED). Last of the gateway's checks: the body is read only once every other
 * check has passed. Routes without `inspect` get no hook.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify'
import { BodyInspector } from '../src/limits/inspect.js'
import { exceedsLimit, payloadTooLarge } from '../src/limits/body-limit.js'
import { expectsContinue, holdBack, requestBody } from '../src/proxy/body.js'
import { BadRequest, RequestBlocked, type GatewayError } from '../src/errors.js'
import { append, contextOf } from './request-context.js'

async function bodyLimit (app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (routeOptions) => {
    const route = routeOptions.config?.tollgate
    if (route?.inspect == null) return
    const upstream = routeOptions.config?.upstream ?? null
    const inspector = new BodyInspector(route.inspect)
    const limit = route.bodyLimit
    const inspect: preHandlerAsyncHookHandler = async (request, reply) => {
      const raw = request.raw
      const body = requestBody(raw)
      if (body === null) return
      if (exceedsLimit(raw.headers['content-length'], limit)) throw payloadTooLarge(limit)
      const ctx = contextOf(request, reply, route, upstream)
      if (expectsContinue(raw)) {
        reply.raw.writeContinue()
        ctx.continued = true
      }
      let held: Buffer
      try {
        // One byte past the limit is enough to know a chunked body is too large.
        held = await holdBack(body, Math.min(inspector.maxBytes, limit + 1))
      } catch (err) {
        throw new BadRequest('the request body could not be read', { cause: err }) as GatewayError
      }
      if (held.length > limit) throw payloadTooLarge(limit)
      if (inspector.blocks(held)) throw new RequestBlocked()
      ctx.bodyPrefix = held
    }
    routeOptions.preHandler = append(inspect, routeOptions.preHandler)
  })
}

export default fp(bodyLimit, { name: 'tollgate-body-limit', fastify: '5.x', dependencies: ['tollgate-request-context'] })
