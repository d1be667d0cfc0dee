/**
 * One upstream's series, and its targets': attempts by target and status, the attempt
 * duration histogram, and connections by reuse. Kept by name across reloads (a rebuilt
 * upstream of the same name counts on), like RouteSeries; an attempt adds to plain fields.
 */
import { BucketCounts } from './buckets.js'
import { NO_RESPONSE_STATUS } from './labels.js'

/** One `tollgate_upstream_requests_total` series. */
export interface AttemptCell {
  readonly labels: { readonly upstream: string, readonly target: string, readonly status: string }
  value: number
}

export class UpstreamSeries {
  readonly name: string
  readonly duration = new BucketCounts()
  /** Requests sent on a connection opened for them / on one kept alive from before. */
  fresh = 0
  reused = 0
  private readonly byTarget = new Map<string, TargetSeries>()

  constructor (name: string) {
    this.name = name
  }

  /** The series of target `id`, made on first use. */
  target (id: string): TargetSeries {
    let series = this.byTarget.get(id)
    if (series === undefined) {
      series = new TargetSeries(this, id)
      this.byTarget.set(id, series)
    }
    return series
  }

  /** Drops the series of targets not in `ids` (removed from the upstream). */
  retainTargets (ids: ReadonlySet<string>): void {
    for (const id of this.byTarget.keys()) if (!ids.has(id)) this.byTarget.delete(id)
  }

  get targets (): Iterable<TargetSeries> {
    return this.byTarget.values()
  }
}

export class TargetSeries {
  readonly upstream: UpstreamSeries
  readonly id: string
  /** By status code; 0 for attempts that got no response. */
  readonly attempts = new Map<number, AttemptCell>()

  constructor (upstream: UpstreamSeries, id: string) {
    this.upstream = upstream
    this.id = id
  }

  /**
   * An attempt on this target ended: `statusCode` of the response whose headers arrived
   * (0 when none did); a status the retry policy refused arrives as `failure` with its own
   * statusCode, and counts as that status.
   */
  attemptEnded (statusCode: number, failure: Error | null, seconds: number): void {
    let status = statusCode
    if (status === 0 && failure !== null) {
      const refused = (failure as { statusCode?: unknown }).statusCode
      if (typeof refused === 'number' && refused >= 100 && refused <= 599) status = refused
    }
    let cell = this.attempts.get(status)
    if (cell === undefined) {
      cell = { labels: { upstream: this.upstream.name, target: this.id, status: status === 0 ? NO_RESPONSE_STATUS : String(status) }, value: 0 }
      this.attempts.set(status, cell)
    }
    cell.value++
    this.upstream.duration.observe(seconds)
  }
}
