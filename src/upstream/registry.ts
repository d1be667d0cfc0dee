/**
 * The live upstreams, by name, diffed on every config apply: an upstream whose compiled
 * fingerprint did not change is kept as it is (connections, balancer position, target
 * state); a new or changed one is built; the ones replaced or removed are returned so the
 * caller can close them once the old app version has drained.
 */
import type { CompiledUpstream } from '../config/compile.js'
import { Upstream } from './upstream.js'
import type { ConnectionEvents } from './dispatcher.js'

export interface UpstreamChange {
  /** The set to run with after the swap. */
  readonly next: ReadonlyMap<string, Upstream>
  /** Upstreams no longer used after the swap: close them when in-flight work is done. */
  readonly retired: readonly Upstream[]
  /** Upstreams built for this change: close them if the change is abandoned. */
  readonly created: readonly Upstream[]
}

export class UpstreamRegistry {
  private current: ReadonlyMap<string, Upstream> = new Map()
  private readonly events: ConnectionEvents

  constructor (events: ConnectionEvents) {
    this.events = events
  }

  get (name: string): Upstream | undefined {
    return this.current.get(name)
  }

  get all (): ReadonlyMap<string, Upstream> {
    return this.current
  }

  /** Builds the next set without touching the current one. */
  prepare (configs: ReadonlyMap<string, CompiledUpstream>): UpstreamChange {
    const next = new Map<string, Upstream>()
    const created: Upstream[] = []
    for (const [name, config] of configs) {
      const existing = this.current.get(name)
      if (existing !== undefined && existing.config.fingerprint === config.fingerprint) {
        next.set(name, existing)
      } else {
        const upstream = new Upstream(config, this.events)
        created.push(upstream)
        next.set(name, upstream)
      }
    }
    const kept = new Set(next.values())
    const retired = [...this.current.values()].filter(u => !kept.has(u))
    return { next, retired, created }
  }

  /** Makes a prepared change the current set. */
  commit (change: UpstreamChange): void {
    this.current = change.next
  }

  async close (): Promise<void> {
    const all = [...this.current.values()]
    this.current = new Map()
    await Promise.all(all.map(u => u.close()))
  }
}
