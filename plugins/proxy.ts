/**
 * upstream_peer and everything after it: one Fastify route per config route, whose handler
 * is that route's RouteProxy. Registered last, so every plugin's onRoute hook sees the
 * routes. Request bodies are not parsed: they stream through to the upstream.
 */
import type { FastifyInstance, HTTPMethods } from 'fastify'
import replyFrom from '@fastify/reply-from'
import type { GatewayPluginOptions } from './options.js'
import { RouteProxy } from '../src/proxy/route-proxy.js'
import { ReplyFromEngine } from '../src/proxy/reply-from-engine.js'
import { AttemptDispatcher } from '../src/upstream/dispatcher.js'
import { compileTrust } from '../src/net/trust.js'
import { contextOf } from './request-context.js'
import { PayloadTooLarge } from '../src/errors.js'

/** The router constraint that holds the config route a request matched (see app.ts). */
export const ROUTE_CONSTRAINT = 'tollgateRoute'

/** Every method Node's parser accepts except CONNECT, which never reaches 'request'. */
const METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'PROPFIND', 'PROPPATCH',
  'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH', 'REPORT', 'MKCALENDAR', 'QUERY'] as HTTPMethods[]

const dispatcher = new AttemptDispatcher()

export default async function proxy (app: FastifyInstance, options: GatewayPluginOptions): Promise<void> {
  const bodyLimit = options.config.server.limits.bodyLimit
  const tooLarge = `${bodyLimit} bytes`
  app.removeAllContentTypeParsers()
  // Bodies are not parsed: the client's stream goes upstream as it arrives. A declared
  // length over server.limits.bodyLimit is refused before a byte is read.
  app.addContentTypeParser('*', (request, payload, done) => {
    const length = request.headers['content-length']
    if (length !== undefined && Number(length) > bodyLimit) done(new PayloadTooLarge(tooLarge), undefined)
    else done(null, payload)
  })
  await app.register(replyFrom, {
    undici: dispatcher as unknown as { request: import('undici').Dispatcher['request'] },
    disableRequestLogging: true
  })
  const trust = compileTrust(options.config.server.trustProxy)
  const methods = METHODS.filter(m => app.supportedMethods.includes(m))
  for (const route of options.config.routes) {
    const upstream = route.upstream === null ? null : (options.upstreams.get(route.upstream) ?? null)
    const routeProxy = new RouteProxy({
      route,
      upstream,
      transparentDispatcher: options.transparentDispatcher,
      trust,
      createEngine: (observer) => new ReplyFromEngine(observer, route.hooks)
    })
    app.route({
      method: methods,
      url: '/*',
      constraints: { [ROUTE_CONSTRAINT]: route.name },
      config: { tollgate: route, upstream },
      handler: (request, reply) => {
        routeProxy.handle(request, reply, contextOf(request, reply, route, upstream))
      }
    })
  }
}
