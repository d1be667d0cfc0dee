/**
 * logging: one access-log line per finished request (`server.accessLog`), from Fastify's
 * onResponse, which also runs for early answers, errors and 404s. Off, it costs nothing:
 * the hook is not added.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { GatewayPluginOptions } from './options.js'

async function accessLog (app: FastifyInstance, options: GatewayPluginOptions): Promise<void> {
  if (!options.config.server.accessLog) return
  app.addHook('onResponse', (request, reply, done) => {
    const ctx = request.tollgate
    request.log.info({
      method: request.method,
      // What the client sent (nginx's $request_uri); the route saw its normalised form.
      url: request.originalUrl,
      status: reply.statusCode,
      route: ctx?.route.name,
      upstream: ctx?.upstream?.name,
      target: ctx?.target?.id,
      tries: ctx?.tries,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      ...(ctx?.error != null ? { error: ctx.error.code } : {})
    }, 'request')
    done()
  })
}

export default fp(accessLog, { name: 'tollgate-access-log', fastify: '5.x' })
