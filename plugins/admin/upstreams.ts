/**
 * `GET /upstreams` and taking targets out of rotation. Replacing an upstream's target set
 * (`PUT /upstreams/:name/targets`) answers 501 until upstreams can swap their targets.
 */
import type { FastifyInstance } from 'fastify'
import { NotImplemented, type GatewayError } from '../../src/errors.js'
import { listUpstreams, setTargetEnabled } from '../../src/admin/targets.js'
import type { AdminPluginOptions } from './options.js'

interface TargetParams { name: string, address: string }

export default async function adminUpstreams (app: FastifyInstance, options: AdminPluginOptions): Promise<void> {
  const { api } = options

  app.get('/upstreams', async () => listUpstreams(api.upstreams()))

  app.put('/upstreams/:name/targets', async () => {
    throw new NotImplemented('replacing an upstream\'s targets is not supported yet; change them with PUT /config') as GatewayError
  })

  for (const [action, enabled] of [['disable', false], ['enable', true]] as const) {
    app.post<{ Params: TargetParams }>(`/upstreams/:name/targets/:address/${action}`, async (request) => {
      const { name, address } = request.params
      const target = setTargetEnabled(api.upstreams(), name, address, enabled)
      // An operator's change of rotation belongs in the log beside the health changes.
      request.log.info({ upstream: name, target: address }, `target ${action}d through the admin API`)
      return target
    })
  }
}
