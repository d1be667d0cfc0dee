/**
 * Where rate-limit counts live. A store runs each algorithm as one atomic step per hit, so
 * that hits arriving together (from one process, or from many gateways sharing Redis) are
 * counted exactly: no read-then-write a second hit could slip between.
 */
import type { WindowCount } from '../limits/windows.js'

export type { WindowCount }

export interface CounterStore {
  readonly kind: 'memory' | 'redis'
  /** Fixed window (see FixedWindowCounter): counts a hit on `key`. */
  fixedWindow (key: string, windowMs: number): WindowCount | Promise<WindowCount>
  /** Sliding window (see SlidingWindowLog): counts a hit on `key` against `limit` per `windowMs`. */
  slidingWindow (key: string, windowMs: number, limit: number): WindowCount | Promise<WindowCount>
}
