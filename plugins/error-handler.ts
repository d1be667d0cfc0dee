/**
 * fail_to_proxy: one error handler and one not-found handler write every error the
 * gateway answers as the contract's JSON body, `{"error":{"status","code","message",
 * "requestId"}}`, whoever raised it (a route phase, reply-from, Fastify itself).
 */
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { BadRequest, InternalError, PayloadTooLarge, RouteNotFound, isGatewayError, type GatewayError } from '../src/errors.js'
import { kRouteMatch, type RawWithMatch } from './request-context.js'
import type { GatewayResponse } from '../src/server/listener.js'
import type { ServerHttp2Stream } from 'node:http2'
import { grpcMessage, isGrpcRequest } from '../src/proxy/grpc.js'
import { grpcStatusOf } from '../src/proxy/grpc-status.js'

async function errorHandler (app: FastifyInstance): Promise<void> {
  app.setNotFoundHandler((request, reply) => {
    const match = (request.raw as RawWithMatch)[kRouteMatch]
    // Routing read the path before Fastify did (see app.ts): the client's target is originalUrl.
    const target = request.originalUrl
    let error: GatewayError
    if (match === 'bad-path') {
      error = new BadRequest('the request path cannot be normalised safely') as GatewayError
    } else if (request.method === 'TRACE') {
      error = withStatus(new BadRequest('TRACE is not allowed') as GatewayError, 405)
      reply.header('allow', 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS')
    } else {
      error = new RouteNotFound(request.method, target.length > 200 ? target.slice(0, 200) + '…' : target) as GatewayError
    }
    sendError(request, reply, error)
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
    return withStatus(new BadRequest(error.message, { cause: error }) as GatewayError, status)
  }
  // A fault's own message can name files, addresses or internals: it goes to the log only.
  const internal = new InternalError('the gateway could not handle the request', { cause: error }) as GatewayError
  internal.detail = error.message
  return internal
}

/**
 * A client error the contract has no code of its own for (405, 408, 431…): BAD_REQUEST,
 * the closest it has, with the real status.
 */
function withStatus (error: GatewayError, status: number): GatewayError {
  (error as { statusCode: number }).statusCode = status
  return error
}

export function sendError (request: FastifyRequest, reply: FastifyReply, error: GatewayError): void {
  const status = error.statusCode
  if (status >= 500) request.log.warn({ err: error, detail: error.detail, route: request.tollgate?.route.name }, error.message)
  if (reply.sent || reply.raw.headersSent) {
    // The response had begun: the only honest signal left is a broken connection.
    reply.raw.destroy(error)
    return
  }
  if (isGrpcRequest(request.headers)) {
    sendGrpcError(request, reply, error)
    return
  }
  // A body the client is still sending would have to be read to the end before the next
  // request on this connection: close it instead.
  if (!request.raw.complete) reply.header('connection', 'close')
  const body = JSON.stringify({ error: { status, code: error.code, message: error.message, requestId: request.id } })
  // A plain ServerResponse (the admin API's) just carries one more property.
  ;(reply.raw as GatewayResponse).errorCode = error.code
  reply.code(status).header('content-type', 'application/json; charset=utf-8').header('x-request-id', request.id)
  if (error.headers !== undefined) reply.headers(error.headers)
  reply.send(body)
}

/**
 * A gRPC client gets its error as gRPC does: HTTP 200, `grpc-status` and `grpc-message`,
 * no body ("Trailers-Only"). Over HTTP/2 the headers go out with END_STREAM in one frame,
 * which is how gRPC clients recognise a trailers-only response; the compatibility
 * response would send them as headers and end the stream after, which they read as a
 * call ended without a status.
 */
function sendGrpcError (request: FastifyRequest, reply: FastifyReply, error: GatewayError): void {
  ;(reply.raw as GatewayResponse).errorCode = error.code
  const headers = {
    // What the contract's error carries besides (Retry-After on 429, WWW-Authenticate on 401).
    ...error.headers,
    'content-type': 'application/grpc',
    'grpc-status': String(grpcStatusOf(error)),
    'grpc-message': grpcMessage(error.message),
    'x-request-id': request.id
  }
  const stream = (reply.raw as { stream?: ServerHttp2Stream }).stream
  if (stream !== undefined && !stream.headersSent && !stream.destroyed) {
    const res = reply.raw as unknown as { statusCode: number }
    res.statusCode = 200
    stream.respond({ ':status': 200, ...headers }, { endStream: true })
    return
  }
  reply.code(200).headers(headers).send()
}

export default fp(errorHandler, { name: 'tollgate-error-handler', fastify: '5.x' })
