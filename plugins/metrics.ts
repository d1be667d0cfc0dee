/**
 * The metrics endpoint, on the metrics listener (src/metrics/server.ts): GET (and HEAD)
 * of the configured path answers the registry's Prometheus text; any other path is 404.
 * One catch-all route reads the path at each request, so a reload that changes `path`
 * needs no new Fastify instance.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { RouteNotFound, type GatewayError } from '../src/errors.js'
import { sendError } from './error-handler.js'
import type { MetricsSource } from '../src/metrics/source.js'

export interface MetricsEndpointOptions {
  readonly metrics: MetricsSource
  /** The path served now. */
  readonly path: () => string
}

async function metricsEndpoint (app: FastifyInstance, options: MetricsEndpointOptions): Promise<void> {
  const { metrics } = options
  const notHere = (request: FastifyRequest, reply: FastifyReply): void => {
    sendError(request, reply, new RouteNotFound(request.method, `${request.url.length > 200 ? request.url.slice(0, 200) + '…' : request.url} (metrics are served at GET ${options.path()})`) as GatewayError)
  }
  // Any other method or path: the gateway's error shape, as everywhere else.
  app.setNotFoundHandler(notHere)
  app.route({
    method: ['GET', 'HEAD'],
    url: '/*',
    handler: async (request, reply) => {
      const url = request.url
      const q = url.indexOf('?')
      if ((q < 0 ? url : url.slice(0, q)) !== options.path()) {
        notHere(request, reply)
        return reply
      }
      const text = await metrics.scrape()
      return await reply.type(metrics.contentType).send(text)
    }
  })
}

export default fp(metricsEndpoint, { name: 'tollgate-metrics-endpoint', fastify: '5.x' })
