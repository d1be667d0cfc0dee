/**
 * The live upstreams, by name, diffed on every config apply: an upstream whose compiled
 * fingerprint did not change is kept as it is (connections, balancer position, target
 * state, health checks, discovery; a change of its health settings restarts its probes
 * only); a new or changed one is built, its discovery and health checks started so their
 * first results can be awaited before it takes traffic; the ones replaced or removed are returned so the caller can close
 * them once the old app version has drained (their checks stop at once).
 */
import type { CompiledUpstream } from '../config/compile.js'
import { Upstream } from './upstream.js'
import type { ConnectionEvents } from './dispatcher.js'
import type { HealthLog } from '../health/upstream-health.js'

export interface UpstreamChange {
  /** The set to run with after the swap. */
  readonly next: ReadonlyMap<string, Upstream>
  /** Upstreams no longer used after the swap: close them when in-flight work is done. */
  readonly retired: readonly Upstream[]
  /** Upstreams built for this change: close them if the change is abandoned. */
  readonly created: readonly Upstream[]
  /** Upstreams kept, with the config each adopts when the change is committed. */
  readonly kept: readonly { readonly upstream: Upstream, readonly config: CompiledUpstream }[]
}

export class UpstreamRegistry {
  private current: ReadonlyMap<string, Upstream> = new Map()
  /** Upstreams `close` took out of use, whose pools may still be closing. */
  private readonly closed: Upstream[] = []
  private readonly events: ConnectionEvents
  private readonly log: HealthLog

  constructor (events: ConnectionEvents, log: HealthLog) {
    this.events = events
    this.log = log
  }

  get (name: string): Upstream | undefined {
    return this.current.get(name)
  }

  get all (): ReadonlyMap<string, Upstream> {
    return this.current
  }

  /**
   * Builds the next set without touching the current one. The upstreams it creates start
   * discovering and checking their targets at once (see `Upstream.ready`).
   */
  prepare (configs: ReadonlyMap<string, CompiledUpstream>): UpstreamChange {
    const next = new Map<string, Upstream>()
    const created: Upstream[] = []
    const kept: { upstream: Upstream, config: CompiledUpstream }[] = []
    for (const [name, config] of configs) {
      const existing = this.current.get(name)
      if (existing !== undefined && existing.config.fingerprint === config.fingerprint) {
        next.set(name, existing)
        kept.push({ upstream: existing, config })
      } else {
        const upstream = new Upstream(config, this.events, this.log)
        upstream.start()
        created.push(upstream)
        next.set(name, upstream)
      }
    }
    const stay = new Set(next.values())
    const retired = [...this.current.values()].filter(u => !stay.has(u))
    return { next, retired, created, kept }
  }

  /** Makes a prepared change the current set. */
  commit (change: UpstreamChange): void {
    this.current = change.next
    for (const { upstream, config } of change.kept) upstream.adopt(config)
    for (const upstream of change.retired) upstream.stop()
  }

  async close (): Promise<void> {
    const all = [...this.current.values()]
    this.current = new Map()
    this.closed.push(...all)
    await Promise.all(all.map(u => u.close()))
  }

  /** Cuts the pools of every upstream `close` is still waiting on. */
  async destroy (): Promise<void> {
    await Promise.all(this.closed.map(u => u.destroy()))
  }
}
