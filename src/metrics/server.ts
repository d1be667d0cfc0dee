/**
 * The metrics endpoint's own listener: a Fastify instance apart from the proxy's app
 * versions, like the admin API's, so that a reload never rebuilds it and no proxy route
 * can shadow it. The Gateway opens it when the config has `metrics`, keeps it across
 * reloads (a new `path` is served at once), and replaces it only when its address changes.
 */
import type { AddressInfo } from 'node:net'
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { CompiledMetrics } from '../config/compile.js'
import metricsEndpoint from '../../plugins/metrics.js'
import type { GatewayMetrics } from './gateway-metrics.js'

/** A scrape is one short GET: a client taking longer holds the listener's close open. */
const SCRAPE_REQUEST_TIMEOUT_MS = 10_000

export class MetricsServer {
  private spec: CompiledMetrics
  private app: FastifyInstance | null = null
  private readonly metrics: GatewayMetrics
  private readonly logger: Logger

  constructor (spec: CompiledMetrics, metrics: GatewayMetrics, logger: Logger) {
    this.spec = spec
    this.metrics = metrics
    this.logger = logger
  }

  async listen (): Promise<void> {
    const app = Fastify({
      loggerInstance: this.logger.child({ component: 'metrics' }),
      logController: new LogController({ disableRequestLogging: true }),
      requestTimeout: SCRAPE_REQUEST_TIMEOUT_MS,
      return503OnClosing: false
    }) as unknown as FastifyInstance
    await app.register(metricsEndpoint, { metrics: this.metrics, path: () => this.spec.path })
    try {
      await app.listen({ host: this.spec.host, port: this.spec.port })
    } catch (err) {
      await app.close().catch(() => undefined)
      throw err
    }
    this.app = app
    this.logger.info({ metrics: this.address(), path: this.spec.path }, 'metrics listening')
  }

  /** Where it is bound (the real port when the config said 0). */
  address (): { host: string, port: number } {
    const bound = this.app?.server.address() as AddressInfo | null | undefined
    return { host: this.spec.host, port: bound?.port ?? this.spec.port }
  }

  /** True when `spec` names this listener's address (port 0 matches any bound port). */
  serves (spec: CompiledMetrics): boolean {
    return spec.host === this.spec.host && (spec.port === 0 || spec.port === this.address().port)
  }

  /** A reload kept this listener: serve its (perhaps new) path from now on. */
  update (spec: CompiledMetrics): void {
    this.spec = { ...spec, port: this.address().port }
  }

  /** Stops accepting; scrapes in flight finish first. */
  async close (): Promise<void> {
    const app = this.app
    this.app = null
    await app?.close()
  }
}
