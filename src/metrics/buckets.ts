/**
 * The counts behind one histogram series: a plain array per bucket, so that an
 * observation is a short loop and two additions. prom-client's own histograms hash the
 * label values on every observation; these are read only when scraped (histogram.ts).
 */

/** Seconds: from a cache hit (≈1 ms) to an upstream at a typical 60 s timeout. */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60])

export class BucketCounts {
  /** Upper bounds, ascending; `+Inf` is implicit (it is `count`). */
  readonly bounds: readonly number[]
  /** Observations per bucket, not cumulative: counts[i] holds bounds[i-1] < v <= bounds[i]. */
  readonly counts: number[]
  sum = 0
  count = 0

  constructor (bounds: readonly number[] = DURATION_BUCKETS) {
    this.bounds = bounds
    this.counts = new Array<number>(bounds.length).fill(0)
  }

  observe (value: number): void {
    const bounds = this.bounds
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        (this.counts[i] as number)++
        break
      }
    }
    this.sum += value
    this.count++
  }
}
