/**
 * The two rate-limit algorithms, as the state of one key. Both answer a hit with a
 * `WindowCount` (@fastify/rate-limit's store result): `current` above the limit means the
 * hit is refused, and `ttl` is how many milliseconds until the key may pass again (what
 * ratelimit-reset and Retry-After say). The memory store keeps these objects; the Redis
 * store runs the same algorithms in Lua (src/stores/redis.ts).
 */

/** What a hit made of a key's window: the count, and when it next goes down. */
export interface WindowCount {
  /** Hits counted in the window, this one included; above the limit: refused. */
  readonly current: number
  /** Milliseconds until the count goes down (fixed: the window ends; sliding: the oldest hit leaves it). At least 1. */
  readonly ttl: number
}

/**
 * Fixed window: a counter that starts at a key's first hit and lasts `windowMs`; the next
 * hit after it begins a new window. Every hit counts, refused ones too (they change
 * nothing: the window is already full). Its weakness is the boundary: a client may send
 * `limit` hits at the end of one window and `limit` more at the start of the next.
 */
export class FixedWindowCounter {
  count = 0
  /** When the current window ends (the clock's milliseconds). */
  endsAt = 0

  /** Counts a hit at `now`. */
  hit (now: number, windowMs: number): WindowCount {
    if (now >= this.endsAt) {
      this.count = 0
      this.endsAt = now + windowMs
    }
    this.count++
    return { current: this.count, ttl: ttlUntil(this.endsAt - now, windowMs) }
  }

  /** When the state may be dropped: a hit after it starts afresh. */
  get expiresAt (): number {
    return this.endsAt
  }
}

/**
 * Sliding window, exact: the times of the hits it let through in the last `windowMs` (a
 * ring, grown as needed up to `limit`). A hit passes when fewer than `limit` passed in the
 * window that ends with it, so no span of `windowMs` ever holds more than `limit` passed
 * hits, wherever it starts. Refused hits are not recorded: a client that keeps retrying
 * gets through as soon as its oldest passed hit leaves the window. Memory: one number per
 * passed hit in the window, at most `limit`.
 */
export class SlidingWindowLog {
  /** When the state may be dropped: the newest passed hit leaves the window then. */
  expiresAt = 0
  private times: Float64Array
  private head = 0
  private size = 0

  constructor (limit: number) {
    this.times = new Float64Array(Math.max(1, Math.min(limit, 8)))
  }

  /** Counts a hit at `now` against `limit` hits per `windowMs`. */
  hit (now: number, windowMs: number, limit: number): WindowCount {
    const times = this.times
    const edge = now - windowMs
    // Hits at or before the edge have left the window (oldest first).
    while (this.size > 0 && (times[this.head] as number) <= edge) {
      this.head = (this.head + 1) % times.length
      this.size--
    }
    let current: number
    if (this.size < limit) {
      if (this.size === this.times.length) this.grow(limit)
      const ring = this.times
      ring[(this.head + this.size) % ring.length] = now
      this.size++
      current = this.size
      this.expiresAt = now + windowMs
    } else {
      current = limit + 1
    }
    const oldest = this.times[this.head] as number
    return { current, ttl: ttlUntil(oldest + windowMs - now, windowMs) }
  }

  /** Passed hits in the window as of the last hit (for tests and eviction). */
  get length (): number {
    return this.size
  }

  private grow (limit: number): void {
    const old = this.times
    const next = new Float64Array(Math.min(Math.max(old.length * 2, 1), Math.max(limit, old.length + 1)))
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) % old.length] as number
    this.times = next
    this.head = 0
  }
}

/**
 * Whole milliseconds until `remaining` has passed, from 1 to `windowMs`: a clock with a
 * fraction makes `start + windowMs - start` a hair more than windowMs, which rounded up
 * would announce a reset later than the window.
 */
function ttlUntil (remaining: number, windowMs: number): number {
  return Math.min(windowMs, Math.max(1, Math.ceil(remaining)))
}
