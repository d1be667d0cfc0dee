/**
 * The metrics endpoint, on the metrics listener (src/metrics/server.ts): GET (and HEAD)
 * of the configured path answers the registry's Prometheus text; any other path is 404.
 * One catch-all route reads the path at each request, so a reload that changes `path`
 * needs no new Fastify instance.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { MetricsSource } from '../src/metrics/source.js'

export interface MetricsEndpointOptions {
  readonly metrics: MetricsSource
  /** The path served now. */
  readonly path: () => string
}

async function metricsEndpoint (app: FastifyInstance, options: MetricsEndpointOptions): Promise<void> {
  const { metrics } = options
  app.route({
    method: ['GET', 'HEAD'],
    url: '/*',
    handler: async (request, reply) => {
      const url = request.url
      const q = url.indexOf('?')
      if ((q < 0 ? url : url.slice(0, q)) !== options.path()) {
        return await reply.code(404).type('application/json; charset=utf-8').send({ error: { status: 404, code: 'ROUTE_NOT_FOUND', message: `metrics are served at ${options.path()}` } })
      }
      const text = await metrics.scrape()
      return await reply.type(metrics.contentType).send(text)
    }
  })
}

export default fp(metricsEndpoint, { name: 'tollgate-metrics-endpoint', fastify: '5.x' })
