/**
 * The admin token check, an app-wide onRequest hook: it runs before routing's 404s and
 * before any body is read, so a client without the token learns nothing of the API and
 * cannot make the gateway parse a megabyte.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Unauthorized, type GatewayError } from '../../src/errors.js'
import type { AdminPluginOptions } from './options.js'

async function adminAuth (app: FastifyInstance, options: AdminPluginOptions): Promise<void> {
  app.addHook('onRequest', async (request) => {
    const token = options.token()
    if (token === null || token.accepts(request.headers.authorization)) return
    const error = new Unauthorized(request.headers.authorization === undefined ? 'the admin API needs a bearer token' : 'wrong admin token') as GatewayError
    error.headers = { 'www-authenticate': 'Bearer realm="tollgate-admin"' }
    throw error
  })
}

export default fp(adminAuth, { name: 'tollgate-admin-auth', fastify: '5.x', dependencies: ['tollgate-admin-errors'] })
