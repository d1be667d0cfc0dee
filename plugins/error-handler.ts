/**
 * fail_to_proxy: one error handler and one not-found handler write every error the
 * gateway answers as the contract's JSON body, `{"error":{"status","code","message",
 * "requestId"}}`, whoever raised it (a route phase, reply-from, Fastify itself).
 */
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { BadRequest, InternalError, PayloadTooLarge, RouteNotFound, isGatewayError, type GatewayError } from '../src/errors.js'
import { kRouteMatch, type RawWithMatch } from './request-context.js'

async function errorHandler (app: FastifyInstance): Promise<void> {
  app.setNotFoundHandler((request, reply) => {
    const match = (request.raw as RawWithMatch)[kRouteMatch]
    const error = match === 'bad-path'
      ? new BadRequest('the request path cannot be normalised safely')
      : new RouteNotFound(request.method, request.url.length > 200 ? request.url.slice(0, 200) + '…' : request.url)
    sendError(request, reply, error as GatewayError)
  })
  app.setErrorHandler((error: FastifyError, request, reply) => {
    sendError(request, reply, toContractError(error))
  })
}

/** Errors that are not the gateway's own get the closest contract code. */
export function toContractError (error: FastifyError | Error): GatewayError {
  if (isGatewayError(error)) return error
  const status = (error as FastifyError).statusCode
  if (status === 413) return new PayloadTooLarge('the limit', { cause: error }) as GatewayError
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const bad = new BadRequest(error.message, { cause: error }) as GatewayError & { statusCode: number }
    bad.statusCode = status
    return bad
  }
  return new InternalError(error.message, { cause: error }) as GatewayError
}

export function sendError (request: FastifyRequest, reply: FastifyReply, error: GatewayError): void {
  const status = error.statusCode
  if (status >= 500) request.log.warn({ err: error, route: request.tollgate?.route.name }, error.message)
  if (reply.sent || reply.raw.headersSent) {
    // The response had begun: the only honest signal left is a broken connection.
    reply.raw.destroy(error)
    return
  }
  const body = JSON.stringify({ error: { status, code: error.code, message: error.message, requestId: request.id } })
  reply.code(status).header('content-type', 'application/json; charset=utf-8').header('x-request-id', request.id)
  if (error.headers !== undefined) reply.headers(error.headers)
  reply.send(body)
}

export default fp(errorHandler, { name: 'tollgate-error-handler', fastify: '5.x' })
