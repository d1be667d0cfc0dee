/**
 * The in-process counter store (`store: memory`, the default): one map from key to its
 * window state. It answers synchronously and keeps no timer at all: a key's state says
 * when it expires, and an expired state is simply started afresh by its next hit. The map
 * is bounded: when it is full, a sweep drops every expired key, and if that frees less
 * than a tenth of it, the keys whose windows began longest ago go too (their clients start
 * a new window: the price of a bound). A sweep frees at least a tenth of the map, so it
 * runs at most once per `maxKeys / 10` new keys.
 */
import { FixedWindowCounter, SlidingWindowLog, type WindowCount } from '../limits/windows.js'
import type { CounterStore } from './counter-store.js'

/** Keys kept by default: about 100 bytes each plus the key (a few tens of MB at most). */
export const DEFAULT_MAX_KEYS = 100_000

export interface MemoryCounterStoreOptions {
  readonly maxKeys?: number
  /** Milliseconds from a clock that never goes back (default: performance.now). */
  readonly now?: () => number
}

type State = FixedWindowCounter | SlidingWindowLog

export class MemoryCounterStore implements CounterStore {
  readonly kind = 'memory'
  readonly maxKeys: number
  /** In eviction order: a key moves to the back when its window restarts. */
  private readonly states = new Map<string, State>()
  private readonly now: () => number

  constructor (options: MemoryCounterStoreOptions = {}) {
    this.maxKeys = Math.max(1, options.maxKeys ?? DEFAULT_MAX_KEYS)
    this.now = options.now ?? (() => performance.now())
  }

  /** Keys held now, expired ones included until a sweep or their next hit. */
  get size (): number {
    return this.states.size
  }

  fixedWindow (key: string, windowMs: number): WindowCount {
    const now = this.now()
    let state = this.states.get(key) as FixedWindowCounter | undefined
    if (state === undefined) {
      state = new FixedWindowCounter()
      this.insert(key, state, now)
    } else if (now >= state.expiresAt) {
      this.moveToBack(key, state)
    }
    return state.hit(now, windowMs)
  }

  slidingWindow (key: string, windowMs: number, limit: number): WindowCount {
    const now = this.now()
    let state = this.states.get(key) as SlidingWindowLog | undefined
    if (state === undefined) {
      state = new SlidingWindowLog(limit)
      this.insert(key, state, now)
    } else if (now >= state.expiresAt) {
      this.moveToBack(key, state)
    }
    return state.hit(now, windowMs, limit)
  }

  private moveToBack (key: string, state: State): void {
    this.states.delete(key)
    this.states.set(key, state)
  }

  private insert (key: string, state: State, now: number): void {
    if (this.states.size >= this.maxKeys) this.sweep(now)
    this.states.set(key, state)
  }

  /** Drops expired keys, then the oldest ones until a tenth of the map is free. */
  private sweep (now: number): void {
    for (const [key, state] of this.states) {
      if (state.expiresAt <= now) this.states.delete(key)
    }
    const keep = this.maxKeys - Math.max(1, Math.ceil(this.maxKeys / 10))
    if (this.states.size <= keep) return
    for (const key of this.states.keys()) {
      this.states.delete(key)
      if (this.states.size <= keep) break
    }
  }
}
