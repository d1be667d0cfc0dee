/**
 * The admin API's plugins, in order: errors first (every later refusal has the contract's
 * shape), then the token check (before any route or body), then ETags and 304s (their hooks
 * must be in place before the endpoints' routes are), then the endpoints.
 */
import type { FastifyInstance } from 'fastify'
import adminErrors from './errors.js'
import adminAuth from './auth.js'
import adminEtag from './etag.js'
import adminHealth from './health.js'
import adminConfig from './config.js'
import adminUpstreams from './upstreams.js'
import adminCache from './cache.js'
import type { AdminPluginOptions } from './options.js'

export const ADMIN_PLUGINS = [adminErrors, adminAuth, adminEtag, adminHealth, adminConfig, adminUpstreams, adminCache] as const

export async function registerAdminPlugins (app: FastifyInstance, options: AdminPluginOptions): Promise<void> {
  for (const plugin of ADMIN_PLUGINS) await app.register(plugin, options)
}

export type { AdminPluginOptions }
