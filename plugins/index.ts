/**
 * THE ORDER. Plugins register in this order, which is the order of Pingora's phases: a
 * plugin's onRequest hooks run before those of every plugin after it, and each plugin's
 * onRoute hook must be in place before the proxy registers the routes.
 */
import type { FastifyInstance } from 'fastify'
import requestContext from './request-context.js'
import errorHandler from './error-handler.js'
import accessLog from './access-log.js'
import ipFilter from './ip-filter.js'
import auth from './auth.js'
import rateLimit from './rate-limit.js'
import concurrency from './concurrency.js'
import bodyLimit from './body-limit.js'
import userHooks from './user-hooks.js'
import cache from './cache.js'
import proxy from './proxy.js'
import type { GatewayPluginOptions } from './options.js'

export const PLUGINS = [
  // new_ctx: the context and request id every later phase reads.
  requestContext,
  // fail_to_proxy: before any route, so every error has the contract's shape.
  errorHandler,
  // logging: an app-wide onResponse, so 404s and early answers are logged too.
  accessLog,
  // request_filter, first: a refused address costs nothing more (no auth, no counters).
  ipFilter,
  // request_filter, identity: after the IP filter (a refused address costs no hash or key fetch), before rate limits (which may key on the principal).
  auth,
  // request_filter, after auth (a key may be the principal), before concurrency (a refused request takes no slot).
  rateLimit,
  // request_filter, after the rate limit: a request it refuses holds no slot.
  concurrency,
  // request_body_filter: the body is read (for inspection) only once every check passed.
  bodyLimit,
  // request_filter for user code: after the gateway's own checks (ip filter, auth, limits).
  userHooks,
  // request_cache_filter and the lookup: after every check (a refused request is never
  // answered from the cache), before the proxy (a hit never reaches it).
  cache,
  // upstream_peer onwards: last, so the onRoute hooks above see its routes.
  proxy
] as const

export async function registerPlugins (app: FastifyInstance, options: GatewayPluginOptions): Promise<void> {
  for (const plugin of PLUGINS) await app.register(plugin, options)
}

export type { GatewayPluginOptions }
