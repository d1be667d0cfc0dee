import type { TargetSeries } from '../metrics/upstream-series.js'

/**
 * Where a target lives: a TCP address or a Unix domain socket. Compiled from the config's
 * `targets` / `backup` entries; `id` is stable across reloads and processes (it names the
 * target in logs, sticky cookies and the admin API).
 */
export type TargetAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly id: string }
  | { readonly kind: 'unix'; readonly socketPath: string; readonly id: string }

/** What the active checks last concluded: `unknown` until the first result. */
export type CheckVerdict = 'unknown' | 'healthy' | 'unhealthy'

/**
 * Told how each attempt on a target ended, the moment it ends: passive health checking
 * listens here. Called on every way out of an attempt, with plain values only, so that a
 * target nobody listens to pays one null check per attempt.
 */
export interface AttemptOutcomeListener {
  /**
   * `statusCode`: the status of the response whose headers arrived (0 when none did);
   * `failure`: what the attempt failed with, or null when it completed.
   */
  attemptEnded (statusCode: number, failure: Error | null): void
}

/** A target as the admin API shows it: plain data, a copy taken at one moment. */
export interface TargetSnapshot {
  readonly address: string
  readonly weight: number
  readonly backup: boolean
  readonly source: TargetSource
  readonly enabled: boolean
  /** What balancers go by: false while active checks or passive ejection rule it out. */
  readonly healthy: boolean
  readonly inflight: number
  readonly lastError: string | null
  /** The active checks' verdict; null when the upstream has none. */
  readonly check: CheckVerdict | null
  /** When the last active check ended (ISO 8601), or null. */
  readonly checkedAt: string | null
  /** Passive ejection: until when (ISO 8601), or null when not ejected. */
  readonly ejectedUntil: string | null
  /** The last change of `healthy`: when, and why. */
  readonly lastChange: { readonly at: string, readonly healthy: boolean, readonly reason: string } | null
}

/** Where a target came from: the config's lists, or a discovery source. */
export type TargetSource = 'static' | 'discovery'

export interface TargetSpec {
  readonly address: TargetAddress
  readonly weight: number
  readonly backup: boolean
}

/**
 * One member of an upstream: its address and weight (from config) plus the live state
 * that balancers read and the proxy updates. Health and `enabled` are changed by health
 * checks and the admin API; `inflight` by each attempt that starts and ends on it.
 */
export class Target {
  readonly id: string
  readonly address: TargetAddress
  /** Changed in place when a new target set keeps this target with another weight. */
  weight: number
  readonly backup: boolean
  /** Which list holds it; a target listed by both counts as static (the config wins). */
  source: TargetSource = 'static'
  /**
   * Dropped from its upstream's set: never handed out again, even by an iterator begun
   * before the set changed; its connections close once its in-flight requests are done.
   */
  retired = false
  /** Taken out of rotation by an operator; health is kept apart. */
  enabled = true
  /** Set by health checks (active or passive); true until a check says otherwise. */
  healthy = true
  /** Requests currently being sent to or answered by this target. */
  inflight = 0
  /** Connections opened to this target since it was created. */
  connectionsOpened = 0
  lastError: string | null = null
  /** The active checks' verdict, written by them; null when the upstream has none. */
  check: CheckVerdict | null = null
  /** When the last active check ended (epoch ms); 0 = never. */
  checkedAt = 0
  /** Passive ejection: until when (epoch ms); 0 when not ejected. */
  ejectedUntil = 0
  /** The last change of `healthy` (epoch ms, new value, why); null while it never changed. */
  lastChange: { readonly at: number, readonly healthy: boolean, readonly reason: string } | null = null
  /** Passive health checking, when the upstream has it. */
  outcomes: AttemptOutcomeListener | null = null
  /** Where attempts on this target are counted, while metrics are on; else null. */
  series: TargetSeries | null = null

  constructor (spec: TargetSpec) {
    this.id = spec.address.id
    this.address = spec.address
    this.weight = spec.weight
    this.backup = spec.backup
  }

  /** True when a balancer may hand this target out. */
  get available (): boolean {
    return this.enabled && this.healthy && !this.retired
  }

  snapshot (): TargetSnapshot {
    const change = this.lastChange
    return {
      address: this.id,
      weight: this.weight,
      backup: this.backup,
      source: this.source,
      enabled: this.enabled,
      healthy: this.healthy,
      inflight: this.inflight,
      lastError: this.lastError,
      check: this.check,
      checkedAt: this.checkedAt === 0 ? null : new Date(this.checkedAt).toISOString(),
      ejectedUntil: this.ejectedUntil === 0 ? null : new Date(this.ejectedUntil).toISOString(),
      lastChange: change === null ? null : { at: new Date(change.at).toISOString(), healthy: change.healthy, reason: change.reason }
    }
  }

  toString (): string {
    return this.id
  }
}
