/** `GET /health`: the admin listener answers, so the process is up. */
import type { FastifyInstance } from 'fastify'

export default async function adminHealth (app: FastifyInstance): Promise<void> {
  app.get('/health', async () => ({ status: 'ok' }))
}
