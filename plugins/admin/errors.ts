/**
 * The admin API's errors, in the contract's shape (`{"error":{"status","code","message",
 * "requestId"}}`), written by the same `sendError` as the proxy's. A refused config also
 * lists its problems, `{"errors":[{"path","message"}]}`, beside the error.
 */
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { BadRequest, NotFound, PayloadTooLarge, type GatewayError } from '../../src/errors.js'
import { ConfigError } from '../../src/config/errors.js'
import { sendError, toContractError } from '../error-handler.js'
import { ADMIN_BODY_LIMIT_TEXT } from '../../src/admin/limits.js'

async function adminErrors (app: FastifyInstance): Promise<void> {
  app.setNotFoundHandler((request, reply) => {
    const target = request.url.length > 200 ? request.url.slice(0, 200) + '…' : request.url
    sendError(request, reply, new NotFound(`the admin API has no ${request.method} ${target}`) as GatewayError)
  })
  app.setErrorHandler((error: FastifyError | ConfigError, request, reply) => {
    if (error instanceof ConfigError) {
      const refused = new BadRequest(`the config is invalid (${error.issues.length} ${error.issues.length === 1 ? 'problem' : 'problems'})`) as GatewayError
      sendErrorWithIssues(request, reply, refused, error)
      return
    }
    if ((error as FastifyError).statusCode === 413) {
      sendError(request, reply, new PayloadTooLarge(ADMIN_BODY_LIMIT_TEXT, { cause: error }) as GatewayError)
      return
    }
    sendError(request, reply, toContractError(error))
  })
}

function sendErrorWithIssues (request: FastifyRequest, reply: FastifyReply, error: GatewayError, refused: ConfigError): void {
  const body = {
    error: { status: error.statusCode, code: error.code, message: error.message, requestId: request.id },
    errors: refused.issues.map(issue => ({ path: issue.path, message: issue.message }))
  }
  reply.code(error.statusCode).header('content-type', 'application/json; charset=utf-8').header('x-request-id', request.id)
  reply.send(JSON.stringify(body))
}

export default fp(adminErrors, { name: 'tollgate-admin-errors', fastify: '5.x' })
