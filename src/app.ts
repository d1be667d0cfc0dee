/**
 * One app version: a Fastify instance built for one compiled config, never listening
 * itself. Its request handler is captured through `serverFactory` and called by the
 * gateway's long-lived listeners; a reload builds the next version beside it and swaps the
 * handler (build-then-swap, DESIGN §1).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Logger } from 'pino'
import type { Dispatcher } from 'undici'
import type { CompiledGateway, CompiledRoute } from './config/compile.js'
import type { Upstream } from './upstream/upstream.js'
import type { CounterStoreSet } from './stores/counter-stores.js'
import type { HttpCache } from './cache/http-cache.js'
import { RouteCache } from './cache/route-cache.js'
import { compileTrust } from './net/trust.js'
import { RouteTable } from './routing/matcher.js'
import { registerPlugins } from '../plugins/index.js'
import { kRouteMatch, type RawWithMatch } from '../plugins/request-context.js'
import { ROUTE_CONSTRAINT } from '../plugins/proxy.js'
import { sendError, toContractError } from '../plugins/error-handler.js'
import { lazyChildLogger } from './logger.js'
import { requestIdOf } from './server/request-id.js'
import type { WebSocketTunnels } from './websocket/tunnels.js'

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void

export interface AppVersion {
  readonly app: FastifyInstance
  readonly handler: RequestHandler
  readonly config: CompiledGateway
}

export interface BuildAppOptions {
  readonly config: CompiledGateway
  readonly upstreams: ReadonlyMap<string, Upstream>
  readonly transparentDispatcher: Dispatcher
  readonly logger: Logger
  readonly counterStores: CounterStoreSet
  readonly httpCache: HttpCache
  readonly tunnels: WebSocketTunnels
}

/**
 * The route constraint that tells Fastify's router which config route won. The choice
 * itself is made before routing, by `routeRequest`; this only reads it off the request.
 */
function routeConstraint () {
  return {
    name: ROUTE_CONSTRAINT,
    mustMatchWhenDerived: true,
    storage () {
      const handlers = new Map<string, unknown>()
      return {
        get: (name: string) => handlers.get(name) ?? null,
        set: (name: string, store: unknown) => { handlers.set(name, store) }
      }
    },
    deriveConstraint (req: RawWithMatch): string | undefined {
      const match = req[kRouteMatch]
      return match === null || match === undefined || match === 'bad-path' ? undefined : match.route.name
    },
    validate () {}
  }
}

/**
 * Fastify's rewriteUrl, which runs before its router: the route table matches the request
 * here, once, on the normalised path (the match is kept on the request), and the router is
 * handed only `/` plus the query. Every config route is a `/*` route told apart by the
 * constraint above, so the router needs no path; given the real one it would percent-decode
 * it for nothing and refuse escapes that are not UTF-8 (`%E9`), which are the upstream's
 * business. The query reaches it, for `request.query`, only on routes with hooks: the
 * gateway itself reads the query from the match, so elsewhere Fastify would parse it for
 * nobody (`request.query` is then empty). `request.url` becomes the
 * routed target when the request's context is made (plugins/request-context.ts), before
 * any hook sees it; `request.originalUrl` keeps what the client sent.
 */
function routeRequest (table: RouteTable<CompiledRoute>, readsQuery: ReadonlySet<CompiledRoute>) {
  return (req: RawWithMatch): string => {
    const url = originForm(req)
    const match = req.method === 'PURGE' ? purgeMatch(table, req, url) : table.match(req.method ?? 'GET', req.headers.host, url, req.headers)
    req[kRouteMatch] = match
    if (match === null || match === 'bad-path' || !readsQuery.has(match.route)) return '/'
    const q = url.indexOf('?')
    return q < 0 ? '/' : '/' + url.slice(q)
  }
}

/**
 * `PURGE <url>` belongs to the cached route that a GET of that URL would reach, whatever
 * methods that route takes; elsewhere it is routed like any other method.
 */
function purgeMatch (table: RouteTable<CompiledRoute>, req: IncomingMessage, url: string): ReturnType<RouteTable<CompiledRoute>['match']> {
  const asGet = table.match('GET', req.headers.host, url, req.headers)
  if (typeof asGet === 'object' && asGet !== null && asGet.route.cache !== null) return asGet
  return table.match('PURGE', req.headers.host, url, req.headers)
}

/**
 * A request target in absolute form (`GET http://api.example.com/x HTTP/1.1`) is routed as
 * its origin form, with the authority as Host (RFC 9112 §3.2.2: a proxy must ignore the
 * Host header then). Origin-form targets, nearly all of them, pass after one char check.
 */
function originForm (req: IncomingMessage): string {
  const url = req.url ?? '/'
  if (url.charCodeAt(0) === 47 /* / */) return url
  const scheme = url.startsWith('http://') ? 7 : url.startsWith('https://') ? 8 : -1
  if (scheme < 0) return url
  const slash = url.indexOf('/', scheme)
  const queryAt = url.indexOf('?', scheme)
  const end = slash < 0 ? (queryAt < 0 ? url.length : queryAt) : (queryAt >= 0 && queryAt < slash ? queryAt : slash)
  const authority = url.slice(scheme, end)
  if (authority !== '' && !authority.includes('@')) req.headers.host = authority
  const rest = url.slice(end)
  return rest.startsWith('/') ? rest : `/${rest}`
}

/** The HTTP cache's side of each route with `cache`. */
function cachesOf (config: CompiledGateway, httpCache: HttpCache): Map<CompiledRoute, RouteCache> {
  const trust = compileTrust(config.server.trustProxy)
  return new Map(config.routes.flatMap(route => route.cache === null ? [] : [[route, new RouteCache(route, route.cache, httpCache, trust)] as const]))
}

type RouterConstraints = NonNullable<NonNullable<FastifyServerOptions['routerOptions']>['constraints']>

function trustProxyOption (trust: boolean | readonly string[]): boolean | string[] {
  if (typeof trust === 'boolean') return trust
  return trust.length > 0 ? [...trust] : false
}

export async function buildApp (options: BuildAppOptions): Promise<AppVersion> {
  const { config } = options
  const table = new RouteTable(config.routes.map(route => ({ spec: route.match, route })))
  const readsQuery = new Set(config.routes.filter(route => Object.keys(route.hooks).length > 0))
  let handler: RequestHandler | undefined
  const app = Fastify({
    serverFactory: (captured) => {
      handler = captured as RequestHandler
      // Never listens: the gateway's listeners call `handler` themselves.
      return createServer()
    },
    // No logger of Fastify's own: with one, Fastify adds response listeners and reads the
    // clock twice on every request, for timings only the access log (an onResponse hook,
    // which brings them back) uses. Request loggers are children of the gateway's logger.
    logger: false,
    // The access-log plugin writes one line per request; Fastify's own two lines are off.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    childLoggerFactory: (_logger, bindings, childOptions) => lazyChildLogger(options.logger, bindings, childOptions),
    requestIdHeader: false,
    genReqId: requestIdOf,
    trustProxy: trustProxyOption(config.server.trustProxy),
    bodyLimit: config.server.limits.bodyLimit,
    return503OnClosing: false,
    rewriteUrl: routeRequest(table, readsQuery),
    // Fastify answers a URL it cannot decode before any route or hook runs.
    frameworkErrors: (error, request, reply) => { sendError(request, reply, toContractError(error)) },
    exposeHeadRoutes: false,
    routerOptions: {
      constraints: { [ROUTE_CONSTRAINT]: routeConstraint() } as unknown as RouterConstraints,
      maxParamLength: 2048
    }
  })
  await registerPlugins(app as unknown as FastifyInstance, {
    config,
    upstreams: options.upstreams,
    transparentDispatcher: options.transparentDispatcher,
    counterStores: options.counterStores,
    tunnels: options.tunnels,
    caches: cachesOf(config, options.httpCache)
  })
  await app.ready()
  if (handler === undefined) throw new Error('Fastify did not hand over its request handler')
  return { app: app as unknown as FastifyInstance, handler, config }
}
