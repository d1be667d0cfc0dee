/**
 * `GET /upstreams`, replacing an upstream's targets (`PUT /upstreams/:name/targets`), and
 * taking targets out of rotation and back.
 */
import type { FastifyInstance } from 'fastify'
import { listUpstreams, replaceTargets, setTargetEnabled } from '../../src/admin/targets.js'
import { TargetSchema, type TargetConfig } from '../../src/config/schema.js'
import type { AdminPluginOptions } from './options.js'

interface TargetParams { name: string, address: string }

/**
 * The config's own schema for one target, without the `errorMessage` keywords the config
 * loader's Ajv knows (ajv-errors) and the admin API's strict Ajv refuses.
 */
function plainSchema (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(plainSchema)
  if (schema === null || typeof schema !== 'object') return schema
  const plain: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(schema)) if (key !== 'errorMessage') plain[key] = plainSchema(value)
  return plain
}

export default async function adminUpstreams (app: FastifyInstance, options: AdminPluginOptions): Promise<void> {
  const { api } = options

  app.get('/upstreams', async () => listUpstreams(api.upstreams()))

  const targetsBody = {
    body: {
      type: 'object',
      additionalProperties: false,
      required: ['targets'],
      properties: { targets: { type: 'array', minItems: 1, maxItems: 10_000, items: plainSchema(TargetSchema) } }
    }
  } as const
  app.put<{ Params: { name: string }, Body: { targets: TargetConfig[] } }>('/upstreams/:name/targets', { schema: targetsBody }, async (request) => {
    const upstream = replaceTargets(api.upstreams(), request.params.name, request.body.targets)
    api.targetsChanged({ kind: 'targets', upstream: request.params.name, targets: request.body.targets })
    request.log.info({ upstream: request.params.name, targets: upstream.targets.map(t => t.address) }, 'targets replaced through the admin API')
    return upstream
  })

  for (const [action, enabled] of [['disable', false], ['enable', true]] as const) {
    app.post<{ Params: TargetParams }>(`/upstreams/:name/targets/:address/${action}`, async (request) => {
      const { name, address } = request.params
      const target = setTargetEnabled(api.upstreams(), name, address, enabled)
      api.targetsChanged({ kind: 'target-enabled', upstream: name, address, enabled })
      // An operator's change of rotation belongs in the log beside the health changes.
      request.log.info({ upstream: name, target: address }, `target ${action}d through the admin API`)
      return target
    })
  }
}
