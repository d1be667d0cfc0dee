/**
 * The metrics endpoint's own listener: a Fastify instance apart from the proxy's app
 * versions, like the admin API's, so that a reload never rebuilds it and no proxy route
 * can shadow it. The Gateway opens it when the config has `metrics`, keeps it across
 * reloads (a new `path` is served at once), and replaces it only when its address changes.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { CompiledMetrics } from '../config/compile.js'
import metricsEndpoint from '../../plugins/metrics.js'
import type { MetricsSource } from './source.js'
import { SideListener, type ListenAddress } from '../server/side-listener.js'

/** A scrape is one short GET: a client taking longer holds the listener's close open. */
const SCRAPE_REQUEST_TIMEOUT_MS = 10_000

export class MetricsServer {
  private path: string
  private readonly listener: SideListener
  private readonly metrics: MetricsSource
  private readonly logger: Logger

  constructor (spec: CompiledMetrics, metrics: MetricsSource, logger: Logger) {
    this.path = spec.path
    this.listener = new SideListener(spec)
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
    await app.register(metricsEndpoint, { metrics: this.metrics, path: () => this.path })
    await this.listener.listen(app)
    this.logger.info({ metrics: this.address(), path: this.path }, 'metrics listening')
  }

  /** Where it is bound (the real port when the config said 0). */
  address (): ListenAddress {
    return this.listener.address()
  }

  /** True when `spec` names this listener's address (port 0 matches any bound port). */
  serves (spec: CompiledMetrics): boolean {
    return this.listener.serves(spec)
  }

  /** A reload kept this listener: serve its (perhaps new) path from now on. */
  update (spec: CompiledMetrics): void {
    this.path = spec.path
  }

  /** Stops accepting; scrapes in flight finish first. */
  async close (): Promise<void> {
    await this.listener.close()
  }
}
