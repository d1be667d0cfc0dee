/**
 * `POST /cache/purge`: `{"url"}` or `{"prefix"}`, optionally for one `"host"`, removed from
 * the HTTP cache's store (with several workers on the memory store, from every worker's);
 * answers how many stored responses were removed.
 */
import type { FastifyInstance } from 'fastify'
import type { PurgeSelector } from '../../src/cache/stored-response.js'
import type { AdminPluginOptions } from './options.js'

const purgeBody = {
  body: {
    type: 'object',
    additionalProperties: false,
    properties: {
      url: { type: 'string', pattern: '^/' },
      prefix: { type: 'string', pattern: '^/' },
      host: { type: 'string', minLength: 1 }
    },
    oneOf: [{ required: ['url'] }, { required: ['prefix'] }]
  }
} as const

export default async function adminCache (app: FastifyInstance, options: AdminPluginOptions): Promise<void> {
  const { api } = options
  app.post<{ Body: PurgeSelector }>('/cache/purge', { schema: purgeBody }, async (request) => {
    const body = request.body as { url?: string, prefix?: string, host?: string }
    const host = body.host === undefined ? {} : { host: body.host.toLowerCase() }
    const selector: PurgeSelector = body.url !== undefined ? { url: body.url, ...host } : { prefix: body.prefix as string, ...host }
    const purged = await api.purgeCache(selector)
    request.log.info({ ...selector, purged }, 'cache purged through the admin API')
    return { purged }
  })
}
