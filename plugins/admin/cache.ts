/**
 * `POST /cache/purge`. The proxy cache is not built yet (`cache` keys are refused at load),
 * so nothing is ever stored and every purge truthfully removes nothing: `{"purged":0}`.
 * The body is still checked, so a client's mistakes show now rather than when the cache lands.
 */
import type { FastifyInstance } from 'fastify'

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

export default async function adminCache (app: FastifyInstance): Promise<void> {
  app.post('/cache/purge', { schema: purgeBody }, async () => ({ purged: 0 }))
}
