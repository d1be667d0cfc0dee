/**
 * The gateway's counters behind @fastify/rate-limit's store interface. The package runs
 * the request_filter step (key, count, the ratelimit-* headers, Retry-After, the 429); the
 * counting is ours, because what it ships cannot do it here: its stores count a fixed
 * window only, and its Redis store names a route's counts by method and URL, which every
 * gateway route shares (each is one `/*` route told apart by a router constraint), so all
 * routes would count together.
 *
 * The package builds one store from the app's options and asks it for a `child` per route
 * (given the route's options, where the plugin puts the route's RateLimiter); it calls
 * `incr(key, cb)` on the child once per request. A failure of the store is handed on as
 * the route says: `onStoreError: open` returns the failure, which the package skips
 * (`skipOnError`: the request passes); `closed` returns a 503 NO_HEALTHY_UPSTREAM ("the rate
 * limit store is unavailable"), which the package throws.
 */
import type { RateLimiter } from './rate-limiter.js'
import { rateLimitStoreUnavailable } from './rate-limiter.js'
import type { WindowCount } from './windows.js'

type IncrCallback = (error: Error | null, result?: WindowCount) => void

export interface RouteLimiterStoreOptions {
  /** The route's limiter; none on the package's app-wide store, which no route uses. */
  readonly limiter?: RateLimiter
}

export class RouteLimiterStore {
  readonly limiter: RateLimiter | null

  /** `options`: the package's options for the app (no limiter) or for a route. */
  constructor (options: object = {}) {
    this.limiter = (options as RouteLimiterStoreOptions).limiter ?? null
  }

  incr (key: string, callback: IncrCallback): void {
    const limiter = this.limiter
    if (limiter === null) {
      callback(new Error('this rate-limit store serves no route'))
      return
    }
    let counted: WindowCount | Promise<WindowCount>
    try {
      counted = limiter.hit(key)
    } catch (err) {
      this.failed(limiter, err, callback)
      return
    }
    if (counted instanceof Promise) {
      counted.then(result => callback(null, result), (err: unknown) => this.failed(limiter, err, callback))
    } else {
      callback(null, counted)
    }
  }

  child (options: object): RouteLimiterStore {
    return new RouteLimiterStore(options)
  }

  private failed (limiter: RateLimiter, err: unknown, callback: IncrCallback): void {
    if (limiter.spec.onStoreError === 'closed') callback(rateLimitStoreUnavailable(limiter.spec.limit, err))
    else callback(err instanceof Error ? err : new Error(String(err)))
  }
}
