/**
 * The Gateway: long-lived listeners, the live upstreams, and the current app version.
 * `apply` is build-then-swap: the next config gets its own Fastify app (and any new or
 * changed upstreams) built beside the running one; only when it is ready do the listeners
 * start calling it. Requests in flight finish on the version they started on, which is
 * closed once they have. A config that fails to load or build changes nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { dirname, resolve } from 'node:path'
import type { Logger } from 'pino'
import { createLogger } from './log/create-logger.js'
import type { Agent } from 'undici'
import { buildApp, type AppVersion } from './app.js'
import type { CompiledAdmin, CompiledGateway, CompiledListener, CompiledRoute } from './config/compile.js'
import { loadConfigFile, loadConfigObject, type LoadOptions } from './config/load.js'
import { ConfigError } from './config/errors.js'
import { UpstreamRegistry } from './upstream/registry.js'
import { createTransparentAgent } from './upstream/dispatcher.js'
import { Listener, type GatewayResponse } from './server/listener.js'
import type { Target } from './upstream/target.js'
import { kRequestContext, type RequestContext } from './context.js'
import { CounterStores, type CounterStoreChange } from './stores/counter-stores.js'
import { HttpCache, type CacheStoreChange } from './cache/http-cache.js'
import type { CacheStatus } from './cache/route-cache.js'
import type { HealthCheckDefinition } from './health/define.js'
import { defineAuth, type AuthDefinition } from './auth/custom.js'
import { defineHealthCheck } from './health/define.js'
import { AdminServer } from './admin/server.js'
import type { AdminApi } from './admin/api.js'
import { applyTargetChange, type AdminChange as AdminApiChange } from './admin/changes.js'
import { ConfigSync } from './sync/config-sync.js'
import { withInstanceKeys } from './sync/instance-keys.js'
import type { SharedConfig } from './sync/redis-config-channel.js'
import { ConfigStoreUnavailable, type GatewayError } from './errors.js'
import { GatewayMetrics } from './metrics/gateway-metrics.js'
import { MetricsServer } from './metrics/server.js'
import type { RouteSeries } from './metrics/route-series.js'
import { tagConnection } from './metrics/connection-reuse.js'
import { methodIndex } from './metrics/labels.js'
import { kRouteMatch, type RawWithMatch } from '../plugins/request-context.js'
import { WebSocketTunnels } from './websocket/tunnels.js'

export interface ApplyOptions {
  /** The custom auth hooks (`defineAuth`) the config's routes name. */
  readonly auth?: Iterable<AuthDefinition>
  /** The custom health checks (`defineHealthCheck`) the config's upstreams name. */
  readonly healthChecks?: Iterable<HealthCheckDefinition>
}

export interface GatewayOptions {
  /** pino logger; default: JSON to stdout at the config's logLevel. */
  readonly logger?: Logger
  /** The file `reload()` re-reads (SIGHUP). */
  readonly configFile?: string
  readonly loadOptions?: LoadOptions
  /**
   * Told of every change made through this gateway's admin API once it is applied here: a
   * target change, and a config when no `redis` shares it already. Several workers pass it
   * on to each other (`applyAdminChange`).
   */
  readonly onAdminChange?: (change: AdminApiChange) => void
  /**
   * false: count as `metrics` says, but open no metrics listener: a worker of several,
   * whose primary serves the sum of all workers' metrics. Default true.
   */
  readonly metricsListener?: boolean
  /** The clock the HTTP cache reads freshness from, in ms since the epoch (default Date.now). */
  readonly cacheClock?: () => number
}

interface LiveVersion extends AppVersion {
  inflight: number
  /** Each route's metrics series, when metrics are on; else null. */
  readonly series: ReadonlyMap<CompiledRoute, RouteSeries> | null
  readonly unmatched: RouteSeries | null
  retired: boolean
  readonly drained: Promise<void>
  readonly markDrained: () => void
}

export class Gateway {
  readonly logger: Logger
  private readonly configFile: string | null
  private readonly loadOptions: LoadOptions
  private readonly onAdminChange: (change: AdminApiChange) => void
  private readonly upstreams: UpstreamRegistry
  private readonly transparent: Agent
  /** Rate-limit counts and the Redis connection: they outlive app versions. */
  readonly counterStores: CounterStores
  /** The HTTP cache's store, locks and refreshes: they outlive app versions too. */
  readonly httpCache: HttpCache
  private readonly listeners = new Map<string, Listener>()
  /** Upgraded WebSocket connections: outside app versions, so reloads leave them open. */
  private readonly tunnels = new WebSocketTunnels()
  /** The admin API listener: outside app versions, replaced only when its address changes. */
  private admin: AdminServer | null = null
  /** Admin and metrics listeners being closed after a change of address; awaited by close(). */
  private readonly sideClosing = new Set<Promise<void>>()
  /**
   * The metrics registry and its series: beside the counter stores, outside app versions,
   * so reloads keep counting. Exists without `metrics` too (nothing is counted then).
   */
  readonly metrics: GatewayMetrics
  /** The metrics listener: like the admin one, replaced only when its address changes. */
  private metricsServer: MetricsServer | null = null
  private readonly metricsListener: boolean
  /** With `redis`: the config shared by every instance on that Redis. */
  private readonly sync: ConfigSync
  private catchUpQueued = false
  private current: LiveVersion | null = null
  private applying: Promise<unknown> = Promise.resolve()
  private closed = false

  constructor (options: GatewayOptions = {}) {
    // The default keeps credentials out of the log as the CLI's does.
    this.logger = options.logger ?? createLogger({ level: 'info', format: 'json' })
    this.configFile = options.configFile ?? null
    this.loadOptions = options.loadOptions ?? {}
    this.onAdminChange = options.onAdminChange ?? (() => undefined)
    this.metricsListener = options.metricsListener ?? true
    this.upstreams = new UpstreamRegistry({
      onConnection: (target: Target, socket) => {
        if (target.series !== null) tagConnection(socket, target.series.upstream)
        this.logger.debug({ target: target.id, localPort: socket.localPort, connections: target.connectionsOpened }, 'upstream connection opened')
      }
    }, this.logger)
    this.transparent = createTransparentAgent(5_000, 30_000)
    this.counterStores = new CounterStores(this.logger)
    this.httpCache = new HttpCache({
      logger: this.logger,
      ...(options.cacheClock === undefined ? {} : { now: options.cacheClock }),
      // Each worker has its own memory store: a purge made in one is passed to the others.
      onPurge: (selector) => { this.onAdminChange({ kind: 'cache-purge', selector }) }
    })
    this.metrics = new GatewayMetrics(() => this.upstreams.all)
    this.sync = new ConfigSync(this.logger, () => { this.catchUp() })
  }

  /** Loads `file`, starts listening, and returns the running gateway. */
  static async start (file: string, options: Omit<GatewayOptions, 'configFile'> = {}): Promise<Gateway> {
    const gateway = new Gateway({ ...options, configFile: file })
    await gateway.reload()
    return gateway
  }

  /** The config currently served, or null before the first apply. */
  get config (): CompiledGateway | null {
    return this.current?.config ?? null
  }

  /** Where each listener is bound (the real port when the config said 0). */
  addresses (): { host: string, port: number, tls: boolean }[] {
    return [...this.listeners.values()].map(l => ({ ...l.address(), tls: l.spec.tls !== null }))
  }

  /** Client connections the current listeners hold open now. */
  async openConnections (): Promise<number> {
    const counts = await Promise.all([...this.listeners.values()].map(async l => await l.openConnections()))
    return counts.reduce((sum, n) => sum + n, 0)
  }

  /** Client connections accepted by the current listeners since they opened. */
  acceptedConnections (): number {
    let sum = 0
    for (const listener of this.listeners.values()) sum += listener.acceptedConnections
    return sum
  }

  /** Where the admin API listens, or null without one. */
  adminAddress (): { host: string, port: number } | null {
    return this.admin?.address() ?? null
  }

  /** Where the metrics endpoint listens, or null without one. */
  metricsAddress (): { host: string, port: number } | null {
    return this.metricsServer?.address() ?? null
  }

  /** Live upstreams, by name (admin API, tests). */
  get liveUpstreams (): ReadonlyMap<string, import('./upstream/upstream.js').Upstream> {
    return this.upstreams.all
  }

  /**
   * Re-reads the config file and applies it (SIGHUP). Throws ConfigError; nothing changes
   * then. With `redis`, the shared config stored there (if any) is applied instead, with
   * this file's instance keys.
   */
  async reload (): Promise<void> {
    if (this.configFile === null) throw new Error('this gateway was not started from a file')
    const file = this.configFile
    await this.serialised(async () => {
      const { compiled } = await loadConfigFile(file, this.loadOptions)
      await this.swapOwn(compiled)
    })
  }

  /**
   * Applies a config: a compiled one, or a plain object in the config file's shape. An
   * invalid config is logged, throws ConfigError, and leaves the running one in place.
   * `auth` and `healthChecks`: the `defineAuth` hooks and `defineHealthCheck` checks the
   * config names.
   */
  async apply (config: CompiledGateway | Record<string, unknown>, options: ApplyOptions = {}): Promise<void> {
    await this.serialised(async () => {
      const compiled = isCompiled(config)
        ? config
        : loadConfigObject(config, {
          baseDir: process.cwd(),
          ...(options.auth === undefined ? {} : { auth: options.auth }),
          ...(options.healthChecks === undefined ? {} : { healthChecks: options.healthChecks })
        }).compiled
      await this.swapOwn(compiled)
    })
  }

  /**
   * Applies a change made through another worker's admin API, as if it had been made here,
   * without passing it on. A config is compiled like one sent to this admin API (paths from
   * the config file's folder, the custom hooks of the running config, or of the file before
   * the first apply); a config or target this gateway cannot take throws, and nothing changes.
   */
  async applyAdminChange (change: AdminApiChange): Promise<void> {
    if (change.kind === 'cache-purge') {
      await this.httpCache.purge(change.selector, false)
      return
    }
    if (change.kind !== 'config') {
      // As through this admin API: on the live upstreams, no config swap involved.
      applyTargetChange(this.upstreams.all, change)
      return
    }
    await this.serialised(async () => {
      const running = this.current?.config ?? (this.configFile === null ? undefined : (await loadConfigFile(this.configFile, this.loadOptions)).compiled)
      await this.swap(this.compileObject(change.config, running))
    })
  }

  /**
   * Applies this instance's own config (its file, or `apply`): as it is, or, when its
   * `redis` holds a shared config, that one with `own`'s instance keys. A shared config
   * this instance cannot run (a `${NAME}` unset here) is logged, and `own` runs.
   */
  private async swapOwn (own: CompiledGateway): Promise<void> {
    // The shared config's connections may log before the first swap sets the level.
    if (this.current === null) this.logger.level = own.server.logLevel
    this.sync.use(own.redis)
    const shared = await this.sync.latest()
    if (shared === null) {
      await this.swap(own)
      return
    }
    const compiled = this.compileShared(shared, own)
    if (compiled === null) {
      await this.swap(own)
      // Refused here: not offered again until another version is stored.
      this.sync.markApplied(shared)
      return
    }
    await this.swap(compiled)
    this.sync.markApplied(shared)
    this.logger.info({ version: shared.version, origin: shared.origin, appliedAt: shared.appliedAt }, 'running the shared config from redis, with the instance keys of this config')
  }

  /**
   * Another instance may have shared a config: apply it when it is not the one running.
   * One that cannot run here is logged and not offered again; a later version is.
   */
  private catchUp (): void {
    // Announcements arriving while a read waits its turn are answered by that read.
    if (this.catchUpQueued) return
    this.catchUpQueued = true
    this.serialised(async () => {
      this.catchUpQueued = false
      const running = this.current?.config
      if (running === undefined || this.closed) return
      const shared = await this.sync.newer()
      if (shared === null) return
      const compiled = this.compileShared(shared, running)
      this.sync.markApplied(shared)
      if (compiled === null) return
      await this.swap(compiled)
      const lagMs = Date.now() - Date.parse(shared.appliedAt)
      this.logger.info({ version: shared.version, origin: shared.origin, lagMs }, 'shared config applied')
    }).catch(() => undefined)
  }

  /** `shared` with the instance keys of `own`, compiled; null (logged) when it is invalid here. */
  private compileShared (shared: SharedConfig, own: CompiledGateway): CompiledGateway | null {
    try {
      return this.compileObject(withInstanceKeys(shared.config, own.source as Record<string, unknown>))
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      this.logger.error({ version: shared.version, origin: shared.origin, issues: err.issues }, 'the shared config from redis is refused here; this instance keeps the config it runs')
      return null
    }
  }

  private async serialised (work: () => Promise<void>): Promise<void> {
    const run = this.applying.then(work, work)
    this.applying = run.catch(() => undefined)
    try {
      await run
    } catch (err) {
      if (err instanceof ConfigError) {
        this.logger.error({ issues: err.issues }, 'config refused; the running config stays')
      } else {
        this.logger.error({ err }, 'config could not be applied; the running config stays')
      }
      throw err
    }
  }

  private async swap (config: CompiledGateway): Promise<void> {
    if (this.closed) throw new Error('the gateway is closed')
    if (this.current === null) this.logger.level = config.server.logLevel
    const change = this.upstreams.prepare(config.upstreams)
    let stores: CounterStoreChange | undefined
    let cacheStore: CacheStoreChange | undefined
    // A new upstream takes traffic once its first discovered set is in and its targets have
    // had their first check result: one that is down from the outset is never sent a
    // request. Each question and probe is cut by its timeout, so this waits at most that
    // long, while the app is being built.
    const checked = Promise.all(change.created.map(async u => await u.ready()))
    let next: LiveVersion
    let builtApp: AppVersion | undefined
    let admin: SideChange<AdminServer> | undefined
    let metrics: SideChange<MetricsServer> | undefined
    try {
      stores = await this.counterStores.prepare(config)
      cacheStore = await this.httpCache.prepare(config)
      builtApp = await buildApp({
        config,
        upstreams: change.next,
        transparentDispatcher: this.transparent,
        logger: this.logger,
        counterStores: stores.next,
        httpCache: this.httpCache,
        tunnels: this.tunnels
      })
      await checked
      next = live(builtApp, config.metrics === null ? null : this.metrics)
      admin = await prepareSide(this.admin, config.admin, spec => new AdminServer(spec, this.adminApi, this.logger))
      metrics = await prepareSide(this.metricsServer, this.metricsListener ? config.metrics : null, spec => new MetricsServer(spec, this.metrics, this.logger))
      await this.syncListeners(config)
    } catch (err) {
      this.retainSeries(this.current?.config ?? null)
      await admin?.created?.close().catch(() => undefined)
      await metrics?.created?.close().catch(() => undefined)
      await Promise.all(change.created.map(u => u.close()))
      await stores?.created?.close()
      await cacheStore?.created?.close()
      // Built but never used: close it (the variable is unset when the build itself failed).
      await closeQuietly(builtApp)
      throw err
    }
    const previous = this.current
    this.current = next
    this.upstreams.commit(change)
    this.counterStores.commit(stores)
    this.httpCache.commit(cacheStore as CacheStoreChange, config)
    this.commitAdmin(admin, config.admin)
    this.commitMetrics(metrics, config)
    this.logger.level = config.server.logLevel
    this.logger.info({ routes: config.routes.length, upstreams: config.upstreams.size }, previous === null ? 'config applied' : 'config reloaded')
    if (previous !== null) {
      this.retire(previous).then(() => Promise.all([...change.retired.map(u => u.close()), stores.retired?.close(), cacheStore?.retired?.close()]))
        .catch(err => this.logger.warn({ err }, 'closing the previous app version failed'))
    }
  }

  private commitAdmin (change: SideChange<AdminServer>, spec: CompiledAdmin | null): void {
    this.admin = change.next
    if (spec !== null && change.created === null) change.next?.update(spec)
    // The request that asked for this change (PUT /config) is in flight on the retired one.
    this.closeRetired(change, 'admin')
  }

  /**
   * Closes the listener a change retired, in the background: closing waits for the
   * requests in flight on it. close() awaits it.
   */
  private closeRetired (change: SideChange<{ close (): Promise<void> }>, what: string): void {
    const retired = change.retired
    if (retired === null) return
    const closing = retired.close()
      .catch(err => this.logger.warn({ err }, `closing the previous ${what} listener failed`))
      .finally(() => this.sideClosing.delete(closing))
    this.sideClosing.add(closing)
  }

  /**
   * Series follow the config now served: routes and upstreams that stay keep theirs,
   * removed ones lose them; every live upstream counts into its own (or nothing, with
   * metrics off).
   */
  private commitMetrics (change: SideChange<MetricsServer>, config: CompiledGateway): void {
    const on = config.metrics !== null
    this.retainSeries(config)
    for (const [name, upstream] of this.upstreams.all) upstream.measure(on ? this.metrics.upstream(name) : null)
    if (on) this.metrics.start()
    else this.metrics.stop()
    this.metricsServer = change.next
    if (config.metrics !== null && change.created === null) change.next?.update(config.metrics)
    this.closeRetired(change, 'metrics')
  }

  /** Keeps the series of `config` (none when it has no `metrics`), drops the others. */
  private retainSeries (config: CompiledGateway | null): void {
    this.metrics.retain(config?.metrics == null ? EMPTY_CONFIG : config)
  }

  /** What the admin API acts on. */
  private readonly adminApi: AdminApi = {
    runningConfig: () => this.current?.config.source ?? null,
    upstreams: () => this.upstreams.all,
    apply: async (raw) => {
      let version: number | null = null
      await this.serialised(async () => {
        const compiled = this.compileObject(raw)
        if (!this.sync.active) {
          await this.swap(compiled)
          this.onAdminChange({ kind: 'config', config: raw })
          return
        }
        if (!await this.sync.reachable()) throw configStoreUnavailable(this.sync.address)
        const previous = this.current?.config
        await this.swap(compiled)
        try {
          version = (await this.sync.publish(raw)).version
        } catch (err) {
          // Applied here, but the others will not hear of it: undone here too.
          if (previous !== undefined) await this.swap(previous).catch(undo => this.logger.error({ err: undo }, 'the previous config could not be restored'))
          throw configStoreUnavailable(this.sync.address, err)
        }
        this.sync.use(compiled.redis)
      })
      return { version }
    },
    validate: (raw) => {
      this.compileObject(raw)
    },
    targetsChanged: (change) => { this.onAdminChange(change) },
    purgeCache: async (selector) => await this.httpCache.purge(selector)
  }

  /**
   * Compiles a config sent to the admin API: relative paths resolve as in the config file,
   * and the custom auth hooks and health checks the running config uses stay available to it.
   */
  private compileObject (raw: Record<string, unknown>, running = this.current?.config): CompiledGateway {
    const baseDir = this.configFile === null ? process.cwd() : dirname(resolve(this.configFile))
    return loadConfigObject(raw, { baseDir, ...(running === undefined ? {} : definitionsOf(running)) }).compiled
  }

  /** Opens listeners the config added, updates kept ones, drains the ones it removed. */
  private async syncListeners (config: CompiledGateway): Promise<void> {
    // A listener that asked for port 0 is the same listener as one naming its bound port.
    const keyOf = (spec: CompiledListener): string => {
      for (const [key, listener] of this.listeners) if (listener.serves(spec)) return key
      return spec.key
    }
    const wanted = new Map(config.server.listeners.map(l => [keyOf(l), l]))
    const opened: Listener[] = []
    try {
      for (const [key, spec] of wanted) {
        const existing = this.listeners.get(key)
        if (existing !== undefined) continue
        const listener = new Listener(spec, config.server.limits, this.handle)
        await listener.listen()
        opened.push(listener)
      }
    } catch (err) {
      for (const listener of opened) listener.destroy()
      throw err
    }
    for (const listener of opened) this.listeners.set(listener.spec.key, listener)
    for (const [key, listener] of this.listeners) {
      const spec = wanted.get(key)
      if (spec === undefined) {
        this.listeners.delete(key)
        listener.close(config.server.gracefulShutdownMs).catch(() => undefined)
      } else if (!opened.includes(listener)) {
        listener.update(spec, config.server.limits)
      }
    }
  }

  /** The request handler every listener calls: the current version's, counted. */
  private readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const version = this.current
    if (version === null) {
      res.statusCode = 503
      res.end()
      return
    }
    version.inflight++
    const tracked = res as GatewayResponse
    tracked.owner = version
    tracked.onClose = onResponseClose
    if (version.series === null) {
      version.handler(req, res)
      return
    }
    tracked.startedAt = performance.now()
    version.handler(req, res)
    // Fastify routes synchronously (app.ts's rewriteUrl leaves the match on the request),
    // so the route is known once the handler returns; the response closes later.
    const match = (req as RawWithMatch)[kRouteMatch]
    const series = (typeof match === 'object' && match !== null ? version.series.get(match.route) : undefined) ?? version.unmatched
    if (series === null) return
    series.started()
    tracked.measured = series
  }

  private async retire (version: LiveVersion): Promise<void> {
    version.retired = true
    if (version.inflight === 0) version.markDrained()
    await version.drained
    await version.app.close()
  }

  /**
   * Graceful stop (SIGTERM): stop accepting, let in-flight requests finish for at most
   * `graceMs` (default: the config's gracefulShutdown), then close everything.
   */
  async close (graceMs?: number): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.applying
    const grace = graceMs ?? this.current?.config.server.gracefulShutdownMs ?? 0
    const graceEnds = performance.now() + grace
    const listeners = [...this.listeners.values()]
    this.listeners.clear()
    const admin = this.admin
    this.admin = null
    const metricsServer = this.metricsServer
    this.metricsServer = null
    // A listener closes once its connections have, upgraded ones included: the tunnels get
    // the grace period too, then a close frame.
    await Promise.all([...listeners.map(l => l.close(grace)), this.tunnels.closeAfter(grace), admin?.close(), metricsServer?.close(), ...this.sideClosing])
    this.metrics.stop()
    const version = this.current
    this.current = null
    if (version !== null) {
      const deadline = new Promise<void>(resolve => setTimeout(resolve, grace).unref())
      version.retired = true
      if (version.inflight === 0) version.markDrained()
      await Promise.race([version.drained, deadline])
      await version.app.close()
    }
    // Pools close once their requests are done. One may still carry a request no client
    // waits on (a background cache refresh from a slow origin): once the grace period is
    // over it is cut, so that a shutdown ends in time.
    const left = Math.max(0, graceEnds - performance.now())
    if (!await settlesWithin(Promise.all([this.upstreams.close(), this.transparent.close()]), left)) {
      await Promise.all([this.upstreams.destroy(), this.transparent.destroy().catch(() => undefined)])
    }
    await this.counterStores.close()
    await this.httpCache.close()
    await this.sync.close()
  }
}

/** True when `work` settles within `ms`; false when the time ran out first. */
async function settlesWithin (work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeUp = new Promise<boolean>(resolve => { timer = setTimeout(resolve, ms, false) })
  try {
    return await Promise.race([work.then(() => true, () => true), timeUp])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A response closed: one event, two jobs. Count the app version's in-flight requests down,
 * and when the client left before the response was complete, cancel the upstream exchange.
 */
function onResponseClose (res: GatewayResponse): void {
  const version = res.owner as LiveVersion
  res.onClose = null
  const ctx = (res.req as { [kRequestContext]?: RequestContext })[kRequestContext]
  if (ctx !== undefined) {
    const exchange = ctx.cacheExchange
    let detached = false
    if (!res.writableFinished) {
      // A cached fetch others wait on goes on without its client; any other stops.
      detached = exchange !== null && exchange.continuesWithoutClient() && ctx.attempt !== null && ctx.attempt.detach()
      if (!detached) ctx.attempt?.cancel()
    }
    exchange?.clientClosed(detached)
    if (ctx.onClose !== null) {
      const release = ctx.onClose
      ctx.onClose = null
      release()
    }
  }
  const series = res.measured
  if (series !== null) {
    res.measured = null
    const code = ctx?.error?.code
    // A client that left before any response was sent gets nginx's 499, not the 200 Node's
    // response starts with.
    series.finished(methodIndex(res.req.method), res.headersSent ? res.statusCode : CLIENT_CLOSED_REQUEST, (performance.now() - res.startedAt) / 1000,
      code === 'RATE_LIMITED' ? 'rate' : code === 'TOO_MANY_CONCURRENT' ? 'concurrency' : null, cacheLabel(ctx?.cacheStatus ?? null))
  }
  if (--version.inflight === 0 && version.retired) version.markDrained()
}

/** `x-cache-status` as the metric's label: lower case, from a fixed set (no string per request). */
function cacheLabel (status: CacheStatus | null): string | null {
  return status === null ? null : CACHE_LABELS[status]
}

const CACHE_LABELS: Readonly<Record<CacheStatus, string>> = {
  HIT: 'hit', MISS: 'miss', EXPIRED: 'expired', STALE: 'stale', UPDATING: 'updating', REVALIDATED: 'revalidated', BYPASS: 'bypass'
}

/** The status counted for a request whose client left before any response (nginx's 499). */
const CLIENT_CLOSED_REQUEST = 499

/** What the series are kept for when metrics are off: nothing. */
const EMPTY_CONFIG = { routes: [], upstreams: new Map() } as unknown as CompiledGateway

/** A listener beside the proxy (admin API, metrics endpoint), as an apply changes it. */
interface SideChange<S> {
  readonly next: S | null
  /** Opened for this change: closed again if the change is abandoned. */
  readonly created: S | null
  /** No longer wanted once the change is committed. */
  readonly retired: S | null
}

/**
 * The side listener `spec` asks for: the running one when its address is unchanged, else
 * a new one, already listening (a port in use refuses the config like any error).
 */
async function prepareSide<Spec, S extends { serves (spec: Spec): boolean, listen (): Promise<void> }> (running: S | null, spec: Spec | null, create: (spec: Spec) => S): Promise<SideChange<S>> {
  if (spec === null) return { next: null, created: null, retired: running }
  if (running?.serves(spec) === true) return { next: running, created: null, retired: null }
  const created = create(spec)
  await created.listen()
  return { next: created, created, retired: running }
}

/** The `defineAuth` hooks and `defineHealthCheck` checks a running config uses. */
function definitionsOf (config: CompiledGateway): Required<ApplyOptions> {
  const auth = new Map<string, AuthDefinition>()
  for (const route of config.routes) {
    if (route.auth?.type === 'custom') auth.set(route.auth.name, defineAuth(route.auth.name, route.auth.hook))
  }
  const healthChecks = new Map<string, HealthCheckDefinition>()
  for (const upstream of config.upstreams.values()) {
    const check = upstream.health.check
    if (check?.type === 'custom') healthChecks.set(check.name, defineHealthCheck(check.name, check.check))
  }
  return { auth: auth.values(), healthChecks: healthChecks.values() }
}

function configStoreUnavailable (redis: string | null, cause?: unknown): GatewayError {
  return new ConfigStoreUnavailable(`redis (${redis ?? 'none'}), where the instances share their config, did not answer: nothing was changed`, { cause }) as GatewayError
}

async function closeQuietly (version: AppVersion | undefined): Promise<void> {
  await version?.app.close().catch(() => undefined)
}

function live (version: AppVersion, metrics: GatewayMetrics | null): LiveVersion {
  let markDrained: () => void = () => undefined
  const drained = new Promise<void>(resolve => { markDrained = resolve })
  const series = metrics === null ? null : new Map(version.config.routes.map(route => [route, metrics.route(route.name)]))
  return { ...version, inflight: 0, retired: false, drained, markDrained, series, unmatched: metrics?.unmatched ?? null }
}

function isCompiled (config: CompiledGateway | Record<string, unknown>): config is CompiledGateway {
  return 'source' in config && Array.isArray((config as { routes?: unknown }).routes) && (config as { upstreams?: unknown }).upstreams instanceof Map
}
