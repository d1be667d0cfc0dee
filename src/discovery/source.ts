/**
 * Runs one discovery source for one upstream: asks it on its interval (sooner when a DNS
 * TTL or a file change says so), hands each set it finds to the upstream, and keeps the
 * last good set when it fails or finds nothing. A failure is logged once per streak, not
 * once per attempt: a DNS server down for an hour is one warning, then one line when it
 * is back. One question is asked at a time, each cut by a deadline, so a hung source can
 * delay the next answer but never pile up requests.
 */
import type { TargetSpec } from '../upstream/target.js'
import type { TargetSetChange } from '../upstream/upstream.js'
import type { HealthLog } from '../health/upstream-health.js'

/** A set of targets a source found, and how long the answer holds (a DNS TTL), if it says. */
export interface Discovered {
  readonly targets: readonly TargetSpec[]
  readonly ttlMs: number | null
}

export interface DiscoverySource {
  /** What the source asks, for logs: `file /etc/tollgate/blue.txt`, `dns SRV _http._tcp.blue`. */
  readonly description: string
  /** Finds the current set; rejects with a readable reason. Stops early when `signal` aborts. */
  discover (signal: AbortSignal): Promise<Discovered>
  /** Calls `changed` when the answer may have changed; returns how to stop watching. */
  watch? (changed: () => void): () => void
  /** A remark worth one log line at start (a file that does not exist yet), or null. */
  startNote? (): string | null
}

/** A TTL shorter than this is taken as this: a zero TTL must not turn into a busy loop. */
const MIN_TTL_MS = 1000
/** A change announced by a watcher is read after this pause, so one save is read once. */
const SETTLE_MS = 20

export class DiscoveryRunner {
  private readonly upstream: string
  private readonly source: DiscoverySource
  private readonly intervalMs: number
  private readonly apply: (targets: readonly TargetSpec[]) => TargetSetChange
  private readonly log: HealthLog
  private timer: NodeJS.Timeout | null = null
  private controller: AbortController | null = null
  private unwatch: (() => void) | null = null
  private running = false
  /** A change was announced while a question was under way: ask again when it ends. */
  private again = false
  private stopped = false
  private started = false
  /** The reason of the failure streak under way, or null. */
  private failing: string | null = null
  private markReady: () => void = () => undefined
  private readonly readyPromise: Promise<void>
  private questions = 0

  constructor (upstream: string, source: DiscoverySource, intervalMs: number, apply: (targets: readonly TargetSpec[]) => TargetSetChange, log: HealthLog) {
    this.upstream = upstream
    this.source = source
    this.intervalMs = intervalMs
    this.apply = apply
    this.log = log
    this.readyPromise = new Promise(resolve => { this.markReady = resolve })
  }

  /** Resolves once the first question has been answered or failed (or the runner stopped). */
  get ready (): Promise<void> {
    return this.readyPromise
  }

  /** True while a timer or watcher is held: false once stopped. */
  get active (): boolean {
    return this.timer !== null || this.unwatch !== null || this.running
  }

  /** How many questions were asked so far. */
  get asked (): number {
    return this.questions
  }

  start (): void {
    if (this.started || this.stopped) return
    this.started = true
    const note = this.source.startNote?.() ?? null
    if (note !== null) this.log.warn({ upstream: this.upstream, source: this.source.description }, note)
    this.unwatch = this.source.watch?.(() => this.changed()) ?? null
    void this.ask()
  }

  stop (): void {
    if (this.stopped) return
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.controller?.abort()
    this.controller = null
    this.unwatch?.()
    this.unwatch = null
    this.markReady()
  }

  private changed (): void {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    this.arm(SETTLE_MS)
  }

  private arm (ms: number): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = null
      void this.ask()
    }, ms)
  }

  private async ask (): Promise<void> {
    if (this.stopped || this.running) return
    this.running = true
    this.again = false
    this.questions++
    const controller = new AbortController()
    this.controller = controller
    // A question may take at most one interval (at least a second, at most ten).
    const deadline = setTimeout(() => controller.abort(new Error('no answer in time')), Math.min(10_000, Math.max(1000, this.intervalMs)))
    let nextMs = this.intervalMs
    try {
      const found = await this.source.discover(controller.signal)
      if (this.stopped) return
      if (found.ttlMs !== null) nextMs = Math.min(nextMs, Math.max(MIN_TTL_MS, found.ttlMs))
      const change = this.apply(found.targets)
      if (change.applied) this.succeeded(change)
      else this.failed(`${change.reason}: the last good set is kept`)
    } catch (err) {
      if (this.stopped) return
      this.failed(`${err instanceof Error ? err.message : String(err)}: the last good set is kept`)
    } finally {
      clearTimeout(deadline)
      this.running = false
      if (this.controller === controller) this.controller = null
      if (!this.stopped) this.arm(this.again ? SETTLE_MS : nextMs)
      this.markReady()
    }
  }

  private succeeded (change: Extract<TargetSetChange, { applied: true }>): void {
    const fields = { upstream: this.upstream, source: this.source.description }
    if (this.failing !== null) {
      this.log.info(fields, 'discovery answers again')
      this.failing = null
    }
    if (change.added.length > 0 || change.removed.length > 0) {
      this.log.info({ ...fields, added: change.added, removed: change.removed, kept: change.kept.length }, 'discovered targets changed')
    }
  }

  private failed (reason: string): void {
    if (this.failing !== null) return
    this.failing = reason
    this.log.warn({ upstream: this.upstream, source: this.source.description, reason }, 'discovery failed')
  }
}
