/**
 * A route's `concurrency`: how many of its requests may be in flight at once, for the
 * whole route or per client address. A slot is taken when the request passes its checks
 * and given back when its response closes, however it ends (answered, failed, timed out,
 * retried, or the client gone): the release is tied to the response's close, which every
 * request has exactly once.
 */
export class ConcurrencyLimiter {
  private readonly limit: number
  /** In-flight requests per key; a key leaves the map when its count is back to 0. */
  private readonly inflight = new Map<string, number>()

  constructor (limit: number) {
    this.limit = limit
  }

  /** Takes a slot for `key`; false when all are taken (nothing is taken then). */
  tryAcquire (key: string): boolean {
    const count = this.inflight.get(key) ?? 0
    if (count >= this.limit) return false
    this.inflight.set(key, count + 1)
    return true
  }

  release (key: string): void {
    const count = this.inflight.get(key)
    if (count === undefined) return
    if (count <= 1) this.inflight.delete(key)
    else this.inflight.set(key, count - 1)
  }

  /** Requests in flight for `key` now. */
  count (key: string): number {
    return this.inflight.get(key) ?? 0
  }
}
