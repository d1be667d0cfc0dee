/**
 * An upstream: its targets (primaries and backups), a balancer over them, and one
 * keep-alive pool per target. It outlives app rebuilds: a reload that leaves an upstream's
 * config unchanged keeps this object, its connections and its targets' state.
 */
import type { Pool } from 'undici'
import type { CompiledUpstream } from '../config/compile.js'
import { Target, type TargetSnapshot } from './target.js'
import type { Balancer, BalancerInput } from './balancer/index.js'
import { createBalancer } from './balancer/create.js'
import { UpstreamAttempt } from './attempt.js'
import { createTargetPool, originOf, sniOf, type ConnectionEvents } from './dispatcher.js'
import { UpstreamHealth, type HealthLog } from '../health/upstream-health.js'

interface TargetSlot {
  readonly pool: Pool
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

export class Upstream {
  readonly name: string
  /** Active checks, passive ejection and health notifications of the targets. */
  readonly health: UpstreamHealth
  private compiled: CompiledUpstream
  private targetList: readonly Target[]
  private balancer: Balancer
  private readonly slots = new Map<Target, TargetSlot>()
  private readonly events: ConnectionEvents

  constructor (config: CompiledUpstream, events: ConnectionEvents, log: HealthLog) {
    this.name = config.name
    this.compiled = config
    this.events = events
    this.targetList = config.targets.map(spec => new Target(spec))
    for (const target of this.targetList) this.slots.set(target, this.slotFor(target))
    this.balancer = createBalancer(config.balancer, this.targetList)
    this.health = new UpstreamHealth(config.name, this.targetList, config.tls, config.health, log)
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

  /** Stops the health checks, and closes every pool once its in-flight requests are done. */
  async close (): Promise<void> {
    this.health.stop()
    await Promise.all([...this.slots.values()].map(slot => slot.pool.close().catch(() => undefined)))
  }

  private slotFor (target: Target): TargetSlot {
    const tls = this.config.tls !== null
    return {
      pool: createTargetPool(target, this.config, this.events),
      origin: originOf(target.address, tls),
      servername: tls ? (sniOf(target.address, this.config) ?? target.id) : null
    }
  }
}
