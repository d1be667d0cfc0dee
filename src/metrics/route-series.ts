/**
 * One route's series: requests by method and status, the duration histogram, requests
 * in flight and refusals by the limits. Made once per route name and kept across reloads
 * by GatewayMetrics; a request only adds to plain fields here (no label string, no
 * hashing), and the registry reads them when scraped.
 */
import { BucketCounts } from './buckets.js'
import { METHOD_COUNT, METHOD_LABELS } from './labels.js'

/** One `tollgate_requests_total` series. */
export interface RequestCell {
  readonly labels: { readonly route: string, readonly method: string, readonly status: string }
  value: number
}

/** What a route's limits refused, by `reason`. */
export interface RefusalCounts {
  rate: number
  concurrency: number
}

export class RouteSeries {
  readonly name: string
  inflight = 0
  readonly duration = new BucketCounts()
  /** By status * METHOD_COUNT + method index: one integer key, no string. */
  readonly requests = new Map<number, RequestCell>()
  readonly refused: RefusalCounts = { rate: 0, concurrency: 0 }
  /** `tollgate_cache_requests_total` by cache status (lower case), for cached routes. */
  readonly cached = new Map<string, number>()
  /** The route has a rate limit / a concurrency limit: its refusal series show at 0. */
  limits = { rate: false, concurrency: false }

  constructor (name: string) {
    this.name = name
  }

  /** A request of this route began. */
  started (): void {
    this.inflight++
  }

  /**
   * A request of this route closed, however it ended. `refusal`: the limit that refused
   * it, or null; `cacheStatus`: what the cache did (`x-cache-status`), or null.
   */
  finished (method: number, status: number, seconds: number, refusal: keyof RefusalCounts | null, cacheStatus: string | null = null): void {
    this.inflight--
    this.duration.observe(seconds)
    const key = status * METHOD_COUNT + method
    let cell = this.requests.get(key)
    if (cell === undefined) {
      cell = { labels: { route: this.name, method: METHOD_LABELS[method] as string, status: String(status) }, value: 0 }
      this.requests.set(key, cell)
    }
    cell.value++
    if (refusal !== null) this.refused[refusal]++
    if (cacheStatus !== null) this.cached.set(cacheStatus, (this.cached.get(cacheStatus) ?? 0) + 1)
  }
}
