/**
 * `GET /config`, `PUT /config`, `POST /config/validate`. A body must be a JSON object; it
 * is then checked by the config's own schema and compiler (the ones a file goes through),
 * so a refusal lists the same `path: message` problems `tollgate validate` prints.
 */
import type { FastifyInstance } from 'fastify'
import { ConfigError, IssueList, messageOf } from '../../src/config/errors.js'
import { ConfigStoreUnavailable, InternalError, type GatewayError } from '../../src/errors.js'
import { redactConfig, redactedPlaceholders, REDACTED } from '../../src/admin/redact.js'
import type { AdminPluginOptions } from './options.js'

// Only the outer shape: the config schema itself runs in the handler, with the config's
// Ajv (Fastify's would coerce types and strip unknown keys, the opposite of refusing them).
const configBody = { body: { type: 'object' } } as const

export default async function adminConfig (app: FastifyInstance, options: AdminPluginOptions): Promise<void> {
  const { api } = options

  app.get('/config', async () => redactConfig(api.runningConfig() ?? {}))

  app.put<{ Body: Record<string, unknown> }>('/config', { schema: configBody }, async (request) => {
    refusePlaceholders(request.body)
    let version: number | null
    try {
      ({ version } = await api.apply(request.body))
    } catch (err) {
      if (err instanceof ConfigError || err instanceof ConfigStoreUnavailable) throw err
      // Valid, yet it could not be applied (a port in use): the operator needs the reason.
      throw new InternalError(`the config could not be applied: ${messageOf(err)}`, { cause: err }) as GatewayError
    }
    if (version === null) {
      request.log.info('config applied through the admin API')
      return { applied: true }
    }
    request.log.info({ version }, 'config applied through the admin API and shared with the other instances')
    return { applied: true, version }
  })

  app.post<{ Body: Record<string, unknown> }>('/config/validate', { schema: configBody }, async (request) => {
    refusePlaceholders(request.body)
    api.validate(request.body)
    return { valid: true }
  })
}

/**
 * A config edited from GET /config still holds "***" where its secrets were: applied, the
 * admin token or a JWT secret would become "***". Refused, naming each place.
 */
function refusePlaceholders (config: Record<string, unknown>): void {
  const issues = new IssueList()
  for (const path of redactedPlaceholders(config)) issues.add(path, `is "${REDACTED}", what GET /config shows in place of a secret: send the real value`)
  issues.throwIfAny()
}
