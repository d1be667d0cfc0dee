/**
 * An upstream: its targets (primaries and backups), a balancer over them, and one
 * keep-alive pool per target. It outlives app rebuilds: a reload that leaves an upstream's
 * config unchanged keeps this object, its connections and its targets' state.
 */
import type { Dispatcher } from 'undici'
import type { CompiledUpstream } from '../config/compile.js'
import { Target, type TargetSnapshot, type TargetSource, type TargetSpec } from './target.js'
import type { Balancer, BalancerInput } from './balancer/index.js'
import { createBalancer } from './balancer/create.js'
import { UpstreamAttempt } from './attempt.js'
import { createTargetPool, originOf, sniOf, type ConnectionEvents } from './dispatcher.js'
import { H2Dispatcher } from './h2-dispatcher.js'
import { requestSentOn } from '../metrics/connection-reuse.js'
import { UpstreamHealth, type HealthLog } from '../health/upstream-health.js'
import { DiscoveryRunner } from '../discovery/source.js'
import { createDiscoverySource } from '../discovery/index.js'
import type { UpstreamSeries } from '../metrics/upstream-series.js'

interface TargetSlot {
  /** An undici Pool (http1), or the target's HTTP/2 sessions (h2, h2c). */
  readonly pool: Dispatcher
  /** The URL origin reply-from is given for this target. */
  readonly origin: string
  /** SNI pinned per request on TLS pools, so a changing Host never resets a connection. */
  readonly servername: string | null
}

/** An upstream as the admin API shows it: plain data, a copy taken at one moment. */
export interface UpstreamSnapshot {
  readonly name: string
  /** Some target is healthy (disabled ones included: health is apart from rotation). */
  readonly healthy: boolean
  /** The active check's type, or null without active checks. */
  readonly healthCheck: 'tcp' | 'http' | 'custom' | null
  readonly targets: readonly TargetSnapshot[]
}

/** What `replaceTargets` did: the ids added, kept and removed, or why nothing changed. */
export type TargetSetChange =
  | { readonly applied: true, readonly added: readonly string[], readonly kept: readonly string[], readonly removed: readonly string[] }
  | { readonly applied: false, readonly reason: string }

export class Upstream {
  readonly name: string
  /** Active checks, passive ejection and health notifications of the targets. */
  readonly health: UpstreamHealth
  /** The discovery source's runner; null without `discovery`. Started with `start()`. */
  readonly discovery: DiscoveryRunner | null
  private compiled: CompiledUpstream
  private targetList: readonly Target[]
  private balancer: Balancer
  private readonly slots = new Map<Target, TargetSlot>()
  /** The last set each source gave; the target list is their union, static first. */
  /** Pools of removed targets, closing once their in-flight requests are done. */
  private readonly closing = new Map<Dispatcher, Promise<void>>()
  private readonly specs = new Map<TargetSource, readonly TargetSpec[]>()
  /** Each target's weight when the balancer was built, in `targetList` order. */
  private weights: readonly number[] = []
  private readonly events: ConnectionEvents
  /** Where this upstream's attempts are counted, while metrics are on. */
  private series: UpstreamSeries | null = null

  constructor (config: CompiledUpstream, events: ConnectionEvents, log: HealthLog) {
    this.name = config.name
    this.compiled = config
    this.events = events
    this.targetList = config.targets.map(spec => new Target(spec))
    this.specs.set('static', config.targets)
    this.weights = this.targetList.map(target => target.weight)
    for (const target of this.targetList) this.slots.set(target, this.slotFor(target))
    this.balancer = createBalancer(config.balancer, this.targetList)
    this.health = new UpstreamHealth(config.name, this.targetList, config.tls, config.health, log, config.proxy)
    this.discovery = config.discovery === null
      ? null
      : new DiscoveryRunner(config.name, createDiscoverySource(config.discovery, config.tls === null ? 80 : 443), config.discovery.intervalMs,
        (specs) => this.replaceTargets(specs, 'discovery'), log)
  }

  /** Starts discovery and health checks: call once the upstream is to be used. */
  start (): void {
    this.discovery?.start()
    this.health.start()
  }

  /**
   * Resolves once the first discovered set (if any) is in place and every target has its
   * first health check result: before this, the upstream may not know where to send traffic.
   */
  async ready (): Promise<void> {
    await this.discovery?.ready
    await this.health.ready
  }

  /** Stops discovery and health checks at once; the pools stay open until `close`. */
  stop (): void {
    this.discovery?.stop()
    this.health.stop()
  }

  /** The compiled config this upstream runs with (the latest, after a reload that kept it). */
  get config (): CompiledUpstream {
    return this.compiled
  }

  /**
   * A reload compiled this upstream again with the same connection settings (equal
   * fingerprints): the new config is taken as it is, and the health checks adopt theirs.
   */
  adopt (config: CompiledUpstream): void {
    if (config.fingerprint !== this.compiled.fingerprint) throw new Error(`upstream ${this.name}: a changed upstream is rebuilt, not adopted`)
    this.compiled = config
    this.health.adopt(config.health)
  }

  /**
   * Metrics on (`series`: this upstream's) or off (null): every target counts its
   * attempts there from now on, and the series of targets no longer here go.
   */
  measure (series: UpstreamSeries | null): void {
    this.series = series
    for (const target of this.targetList) target.series = series?.target(target.id) ?? null
    series?.retainTargets(new Set(this.targetList.map(target => target.id)))
  }

  snapshot (): UpstreamSnapshot {
    const targets = this.targetList.map(target => target.snapshot())
    return {
      name: this.name,
      healthy: targets.some(target => target.healthy),
      healthCheck: this.compiled.health.check?.type ?? null,
      targets
    }
  }

  get targets (): readonly Target[] {
    return this.targetList
  }

  /**
   * An operator's primary targets (`PUT /upstreams/:name/targets`) in place of the
   * config's, in one step like any other new set: the config's backups and the discovered
   * targets stay. Lasts until a reload changes the upstream.
   */
  replacePrimaries (specs: readonly TargetSpec[]): TargetSetChange {
    const backups = (this.specs.get('static') ?? []).filter(spec => spec.backup)
    return this.replaceTargets([...specs, ...backups], 'static')
  }

  /** The port of a target given without one: 443 for a TLS upstream, else 80. */
  get defaultPort (): number {
    return this.compiled.tls === null ? 80 : 443
  }

  /**
   * Replaces the targets `source` gives with `specs`, in one step as far as requests can
   * tell: a target that stays (same id) keeps its object, so its health, in-flight count
   * and pooled connections; a new one gets a pool and, when configured, health checks; a
   * removed one leaves rotation at once (even for retries of requests already under way)
   * and its pool closes once its in-flight requests are done. The balancer is rebuilt over
   * the new list and swapped in. An empty set is refused: a source that suddenly finds
   * nothing is far more often broken than right, and keeping the last good set keeps
   * traffic flowing.
   */
  replaceTargets (specs: readonly TargetSpec[], source: TargetSource): TargetSetChange {
    if (specs.length === 0) return { applied: false, reason: `${source} gave an empty target set` }
    const next = new Map(this.specs)
    next.set(source, specs)
    const byId = new Map(this.targetList.map(target => [target.id, target]))
    const list: Target[] = []
    const seen = new Set<string>()
    const added: string[] = []
    const kept: string[] = []
    for (const from of ['static', 'discovery'] as const) {
      for (const spec of next.get(from) ?? []) {
        const id = spec.address.id
        if (seen.has(id)) continue
        seen.add(id)
        let target = byId.get(id)
        if (target !== undefined && target.backup === spec.backup) {
          target.weight = spec.weight
          kept.push(id)
        } else {
          target = new Target(spec)
          added.push(id)
        }
        target.source = from
        list.push(target)
      }
    }
    const stay = new Set(list)
    const removed = this.targetList.filter(target => !stay.has(target))
    this.specs.set(source, specs)
    // Sources repeat their answer every interval: the same set must not restart the health
    // checks' schedule or the balancer's rotation each time.
    const weightsBefore = this.weights
    this.weights = list.map(target => target.weight)
    if (added.length === 0 && removed.length === 0 && list.length === this.targetList.length &&
      list.every((target, i) => target === this.targetList[i] && target.weight === weightsBefore[i])) {
      return { applied: true, added, kept, removed: [] }
    }
    for (const target of list) if (!this.slots.has(target)) this.slots.set(target, this.slotFor(target))
    this.targetList = list
    if (this.series !== null) this.measure(this.series)
    this.balancer = createBalancer(this.compiled.balancer, list)
    for (const target of removed) target.retired = true
    this.health.resync(list)
    for (const target of removed) {
      const slot = this.slots.get(target)
      this.slots.delete(target)
      // undici's close waits for the requests already queued or running on the pool.
      if (slot === undefined) continue
      const pool = slot.pool
      this.closing.set(pool, pool.close().catch(() => undefined).finally(() => this.closing.delete(pool)))
    }
    return { applied: true, added, kept, removed: removed.map(target => target.id) }
  }

  /** upstream_peer: the balancer's choice first, then fallbacks for retries. */
  pick (input: BalancerInput): Iterator<Target> {
    return this.balancer.pick(input)
  }

  /** True when the balancer adds response headers (the sticky cookie). */
  get addsResponseHeaders (): boolean {
    return this.balancer.onResponse !== undefined
  }

  /** Lets the balancer add response headers (sticky cookie). */
  onResponse (input: BalancerInput, target: Target, setHeader: (name: string, value: string) => void): void {
    this.balancer.onResponse?.(input, target, setHeader)
  }

  /** Starts an attempt on `target` with the route's deadlines. */
  attempt (target: Target, connectMs: number, responseMs: number): UpstreamAttempt {
    const slot = this.slot(target)
    return new UpstreamAttempt(target, slot.pool, slot.servername, connectMs, responseMs)
  }

  /** The origin to build the upstream URL from. */
  originOf (target: Target): string {
    return this.slot(target).origin
  }

  private slot (target: Target): TargetSlot {
    const slot = this.slots.get(target)
    if (slot === undefined) throw new Error(`target ${target.id} is not part of upstream ${this.name}`)
    return slot
  }

  /** Stops discovery and the health checks, and closes every pool once its in-flight requests are done. */
  async close (): Promise<void> {
    this.stop()
    await Promise.all([...this.slots.values()].map(slot => slot.pool.close().catch(() => undefined)))
    await Promise.all([...this.closing.values()])
  }

  /** Cuts every pool now, with whatever it still carries (a shutdown's grace period is over). */
  async destroy (): Promise<void> {
    this.stop()
    const pools = [...[...this.slots.values()].map(slot => slot.pool), ...this.closing.keys()]
    await Promise.all(pools.map(async pool => { await pool.destroy().catch(() => undefined) }))
  }

  private h2ClientFor (target: Target): H2Dispatcher {
    const config = this.config
    const tls = config.tls
    return new H2Dispatcher(originOf(target.address, tls !== null), {
      address: target.address,
      tls: tls === null ? null : { ...tls, servername: sniOf(target.address, config) },
      connectMs: config.timeouts.connectMs,
      keepAliveMs: config.pool.keepAliveMs,
      maxSessions: config.pool.connections,
      onConnection: (socket) => {
        target.connectionsOpened++
        this.events.onConnection(target, socket)
      },
      onStream: requestSentOn
    })
  }

  private slotFor (target: Target): TargetSlot {
    const tls = this.config.tls !== null
    return {
      pool: this.config.protocol === 'http1' ? createTargetPool(target, this.config, this.events) : this.h2ClientFor(target),
      origin: originOf(target.address, tls),
      servername: tls ? (sniOf(target.address, this.config) ?? target.id) : null
    }
  }
}
