/**
 * An upstream: its targets (primaries and backups), a balancer over them, and one
 * keep-alive pool per target. It outlives app rebuilds: a reload that leaves an upstream's
 * config unchanged keeps this object, its connections and its targets' state.
 */
import type { Pool } from 'undici'
import type { CompiledUpstream } from '../config/compile.js'
import { Target } from './target.js'
import type { Balancer, BalancerInput } from './balancer/index.js'
import { createBalancer } from './balancer/create.js'
import { UpstreamAttempt } from './attempt.js'
import { createTargetPool, originOf, sniOf, type ConnectionEvents } from './dispatcher.js'

interface TargetSlot {
  readonly pool: Pool
  /** The URL origin reply-from is given for this target. */
  readonly origin: string
  /** SNI pinned per request on TLS pools, so a changing Host never resets a connection. */
  readonly servername: string | null
}

export class Upstream {
  readonly name: string
  readonly config: CompiledUpstream
  private targetList: readonly Target[]
  private balancer: Balancer
  private readonly slots = new Map<Target, TargetSlot>()
  private readonly events: ConnectionEvents

  constructor (config: CompiledUpstream, events: ConnectionEvents) {
    this.name = config.name
    this.config = config
    this.events = events
    this.targetList = config.targets.map(spec => new Target(spec))
    for (const target of this.targetList) this.slots.set(target, this.slotFor(target))
    this.balancer = createBalancer(config.balancer, this.targetList)
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

  /** Closes every pool once its in-flight requests are done. */
  async close (): Promise<void> {
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
