/**
 * The admin API's own listener: a Fastify instance apart from the proxy's app versions,
 * so that a reload never rebuilds it and proxy routes can never shadow it. The Gateway
 * opens it when the config has `admin`, keeps it across reloads (a new token is picked up
 * at once), and replaces it only when its address changes.
 */
import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import { Ajv } from 'ajv'
import type { Logger } from 'pino'
import type { CompiledAdmin } from '../config/compile.js'
import { registerAdminPlugins } from '../../plugins/admin/index.js'
import type { AdminApi } from './api.js'
import { AdminToken } from './token.js'
import { ADMIN_BODY_LIMIT, ADMIN_REQUEST_TIMEOUT_MS } from './limits.js'
import { SideListener } from '../server/side-listener.js'

export class AdminServer {
  private spec: CompiledAdmin
  private token: AdminToken | null
  private readonly listener: SideListener
  private readonly api: AdminApi
  private readonly logger: Logger

  constructor (spec: CompiledAdmin, api: AdminApi, logger: Logger) {
    this.spec = spec
    this.token = spec.token === null ? null : new AdminToken(spec.token)
    this.api = api
    this.logger = logger
    this.listener = new SideListener(spec)
  }

  async listen (): Promise<void> {
    await this.listener.listen(await buildAdminApp(this.api, () => this.token, this.logger))
    this.logger.info({ admin: this.address() }, 'admin API listening')
  }

  /** Where it is bound (the real port when the config said 0). */
  address (): { host: string, port: number } {
    return this.listener.address()
  }

  /** True when `spec` names this listener's address (port 0 matches any bound port). */
  serves (spec: CompiledAdmin): boolean {
    return this.listener.serves(spec)
  }

  /** A reload kept this listener: take its token (set, changed or removed) from now on. */
  update (spec: CompiledAdmin): void {
    this.spec = { ...spec, port: this.address().port }
    this.token = spec.token === null ? null : new AdminToken(spec.token)
  }

  /** Stops accepting; requests in flight finish first. */
  async close (): Promise<void> {
    await this.listener.close()
  }
}

async function buildAdminApp (api: AdminApi, token: () => AdminToken | null, logger: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger.child({ component: 'admin' }),
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    // A client that never finishes its request would otherwise hold the listener's close
    // (a move, or the gateway's shutdown) open for as long as it likes.
    requestTimeout: ADMIN_REQUEST_TIMEOUT_MS,
    genReqId: () => randomUUID(),
    bodyLimit: ADMIN_BODY_LIMIT,
    // While a moved listener closes, a request still arriving on a kept-alive connection is
    // served as usual: Fastify's own 503 would not have the contract's error shape.
    return503OnClosing: false
  }) as unknown as FastifyInstance
  // Bodies are JSON objects only: a text/plain body gets 415 rather than a string.
  app.removeContentTypeParser('text/plain')
  // Fastify's default Ajv coerces types and removes unknown keys; request bodies here are
  // checked as they were sent.
  // strictRequired off: a oneOf branch may require a property declared beside it.
  const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false })
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema))
  // On the root instance: its error and not-found handlers then cover every request.
  await registerAdminPlugins(app, { api, token })
  return app
}
