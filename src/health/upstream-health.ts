/**
 * The health of one upstream's targets: active checks on their schedule, passive
 * ejection from real traffic, and what follows when a target's health changes. Each
 * target's `healthy` (what balancers read) is true unless its checks say unhealthy or it
 * is ejected; every change of it is logged once (upstream, target, old → new state and
 * why), kept on the target for the admin API and POSTed to `notify.webhook`, and so is an
 * upstream losing its last healthy target or getting one back.
 *
 * It lives as long as its upstream: a reload that leaves the health settings alone keeps
 * it as it is; one that changes them restarts the probes and keeps each target's state,
 * which the new checks then confirm or change by their own thresholds.
 */
import type { CompiledUpstreamTls } from '../config/compile.js'
import type { Target } from '../upstream/target.js'
import type { CompiledHealth, CompiledHealthCheck } from './config.js'
import { ConsecutiveResults } from './state.js'
import { ProbeScheduler } from './schedule.js'
import type { CompiledProxy } from '../upstream/forward-proxy.js'
import { PassiveEjection, type EjectionEvents } from './passive.js'
import { WebhookNotifier, type HealthState } from './notifier.js'
import type { Probe, ProbeResult } from './probes/probe.js'
import { TcpProbe } from './probes/tcp.js'
import { HttpProbe } from './probes/http.js'
import { CustomProbe } from './probes/custom.js'

/** What health changes are logged to (a pino logger fits). */
export interface HealthLog {
  info (fields: object, message: string): void
  warn (fields: object, message: string): void
  error (fields: object, message: string): void
}

export class UpstreamHealth implements EjectionEvents {
  readonly upstream: string
  private targets: readonly Target[]
  private readonly tls: CompiledUpstreamTls | null
  private readonly proxy: CompiledProxy | null
  private readonly log: HealthLog
  private current: CompiledHealth
  private scheduler: ProbeScheduler | null = null
  private probe: Probe | null = null
  private results: ConsecutiveResults[] = []
  /** Aborts the probes in flight of the current run. */
  private controller: AbortController | null = null
  private passives: PassiveEjection[] = []
  private notifier: WebhookNotifier | null = null
  /** Whether any target was healthy at the last change. */
  private anyHealthy = true
  /** Targets whose checks have given no result yet. */
  private undecided = 0
  private markReady: () => void = () => undefined
  private readyPromise: Promise<void> = Promise.resolve()
  private stopped = false
  private runs = 0

  constructor (upstream: string, targets: readonly Target[], tls: CompiledUpstreamTls | null, settings: CompiledHealth, log: HealthLog, proxy: CompiledProxy | null = null) {
    this.upstream = upstream
    this.targets = targets
    this.tls = tls
    this.proxy = proxy
    this.current = settings
    this.log = log
  }

  get settings (): CompiledHealth {
    return this.current
  }

  /** How many times the probes were started: a reload that keeps them leaves it alone. */
  get generation (): number {
    return this.runs
  }

  /**
   * Resolves once every target has had its first check result (at once without active
   * checks). Each probe is cut by its timeout, so this takes at most the spread of the
   * first probes plus one timeout. Never rejects; resolves too when checking stops.
   */
  get ready (): Promise<void> {
    return this.readyPromise
  }

  /** Probe timers armed now (none once stopped). */
  get armedTimers (): number {
    return this.scheduler?.armed ?? 0
  }

  start (): void {
    if (this.stopped || this.runs > 0) return
    this.startChecks()
    this.startPassive()
    if (this.current.webhook !== null) this.notifier = new WebhookNotifier(this.current.webhook, this.log)
  }

  /**
   * A reload compiled this upstream again: unchanged health settings keep everything
   * running (a custom check picks up the function the reload imported); changed ones
   * restart the probes and passive checks, keeping each target's state.
   */
  adopt (settings: CompiledHealth): void {
    const previous = this.current
    this.current = settings
    if (this.stopped) return
    if (settings.fingerprint === previous.fingerprint) {
      if (settings.check?.type === 'custom' && this.probe instanceof CustomProbe) this.probe.replace(settings.check.check)
      return
    }
    this.stopChecks()
    this.stopPassive()
    if (settings.webhook !== this.notifier?.url) {
      this.notifier?.close()
      this.notifier = settings.webhook === null ? null : new WebhookNotifier(settings.webhook, this.log)
    }
    if (settings.check === null) {
      for (const target of this.targets) {
        target.check = null
        this.update(target, 'active health checks removed')
      }
    }
    if (settings.passive === null) {
      for (const target of this.targets) {
        if (target.ejectedUntil === 0) continue
        target.ejectedUntil = 0
        this.update(target, 'passive health checks removed: ejection over')
      }
    }
    this.startChecks()
    this.startPassive()
  }

  /**
   * The upstream's target set changed (discovery, or an operator): check the new set from
   * now on. Targets that stay keep their verdict, streak and any ejection under way; new
   * ones start `unknown` and get their first probe within one interval.
   */
  resync (targets: readonly Target[]): void {
    const kept = new Map<Target, ConsecutiveResults>()
    this.targets.forEach((target, i) => {
      const results = this.results[i]
      if (results !== undefined) kept.set(target, results)
    })
    if (this.stopped || this.runs === 0) {
      this.targets = targets
      return
    }
    this.stopChecks()
    this.stopPassive()
    this.targets = targets
    this.startChecks(kept)
    this.startPassive()
    this.updateUpstream(null, Date.now())
  }

  /** Stops every probe, timer and webhook delivery; the targets keep their last state. */
  stop (): void {
    if (this.stopped) return
    this.stopped = true
    this.stopChecks()
    this.stopPassive()
    this.notifier?.close()
    this.notifier = null
  }

  ejected (target: Target, reason: string): void {
    this.update(target, reason)
  }

  returned (target: Target, reason: string): void {
    this.update(target, reason)
  }

  private startChecks (kept: ReadonlyMap<Target, ConsecutiveResults> = new Map()): void {
    const check = this.current.check
    this.runs++
    if (check === null) {
      this.markReady()
      return
    }
    const run = this.runs
    this.probe = createProbe(check, this.upstream, this.tls, this.proxy)
    this.controller = new AbortController()
    this.results = this.targets.map(target => kept.get(target) ?? new ConsecutiveResults(check.healthyThreshold, check.unhealthyThreshold, target.check ?? 'unknown'))
    this.undecided = 0
    for (const target of this.targets) {
      target.check ??= 'unknown'
      if (target.check === 'unknown') this.undecided++
    }
    this.readyPromise = this.undecided === 0 ? Promise.resolve() : new Promise(resolve => { this.markReady = resolve })
    this.scheduler = new ProbeScheduler({
      count: this.targets.length,
      intervalMs: check.intervalMs,
      probe: async (index) => await this.probeTarget(index, run),
      skipped: (index) => this.record(index, { ok: false, reason: 'the previous check is still running' })
    })
    this.scheduler.start()
  }

  private stopChecks (): void {
    this.scheduler?.stop()
    this.scheduler = null
    this.controller?.abort()
    this.controller = null
    this.probe = null
    this.markReady()
  }

  private startPassive (): void {
    const passive = this.current.passive
    if (passive === null) return
    const now = Date.now()
    this.passives = this.targets.map(target => {
      const ejection = new PassiveEjection(target, passive, this)
      target.outcomes = ejection
      ejection.resume(now)
      return ejection
    })
  }

  private stopPassive (): void {
    for (const ejection of this.passives) ejection.stop()
    for (const target of this.targets) target.outcomes = null
    this.passives = []
  }

  private async probeTarget (index: number, run: number): Promise<void> {
    const probe = this.probe
    const controller = this.controller
    const target = this.targets[index]
    if (probe === null || controller === null || target === undefined) return
    const result = await probe.run(target, controller.signal)
    // Checks restarted or stopped meanwhile: this result belongs to the old settings.
    if (run !== this.runs || this.stopped) return
    this.record(index, result)
  }

  private record (index: number, result: ProbeResult): void {
    const target = this.targets[index] as Target
    const results = this.results[index] as ConsecutiveResults
    target.checkedAt = Date.now()
    if (!result.ok) target.lastError = `health check: ${result.reason}`
    const before = results.verdict
    const streak = results.against + 1
    if (!results.record(result.ok)) return
    target.check = results.verdict
    if (before === 'unknown' && --this.undecided === 0) this.markReady()
    const what = result.ok ? 'passed' : 'failed'
    this.update(target, `health check ${what}${streak > 1 ? ` ${streak} times in a row` : ''}: ${result.reason}`)
  }

  /** Recomputes `target.healthy`; a change is logged, kept and notified. */
  private update (target: Target, reason: string): void {
    const healthy = target.check !== 'unhealthy' && target.ejectedUntil === 0
    if (target.healthy === healthy) return
    target.healthy = healthy
    const at = Date.now()
    target.lastChange = { at, healthy, reason }
    const from = stateOf(!healthy)
    const to = stateOf(healthy)
    const fields = { upstream: this.upstream, target: target.id, from, to, reason }
    if (healthy) this.log.info(fields, 'target health changed')
    else this.log.warn(fields, 'target health changed')
    this.notifier?.send({ type: 'target', upstream: this.upstream, target: target.id, from, to, reason, at: new Date(at).toISOString() })
    this.updateUpstream(target, at)
  }

  /** `changed`: the target whose change moved the upstream; null when its set was replaced. */
  private updateUpstream (changed: Target | null, at: number): void {
    let healthyTargets = 0
    for (const target of this.targets) if (target.healthy) healthyTargets++
    const anyHealthy = healthyTargets > 0
    if (anyHealthy === this.anyHealthy) return
    this.anyHealthy = anyHealthy
    const reason = changed === null
      ? (anyHealthy ? 'its new target set has a healthy target' : 'its new target set has no healthy target')
      : (anyHealthy ? `${changed.id} is healthy again` : `its last healthy target, ${changed.id}, is unhealthy`)
    const from = stateOf(!anyHealthy)
    const to = stateOf(anyHealthy)
    const fields = { upstream: this.upstream, from, to, healthyTargets, reason }
    if (anyHealthy) this.log.info(fields, 'upstream has a healthy target again')
    else this.log.error(fields, 'upstream has no healthy target')
    this.notifier?.send({ type: 'upstream', upstream: this.upstream, from, to, healthyTargets, reason, at: new Date(at).toISOString() })
  }
}

function stateOf (healthy: boolean): HealthState {
  return healthy ? 'healthy' : 'unhealthy'
}

function createProbe (check: CompiledHealthCheck, upstream: string, tls: CompiledUpstreamTls | null, proxy: CompiledProxy | null): Probe {
  switch (check.type) {
    case 'tcp':
      return new TcpProbe(check.timeoutMs, proxy)
    case 'http':
      return new HttpProbe({ path: check.path, host: check.host, expectStatus: check.expectStatus, expectBody: check.expectBody, timeoutMs: check.timeoutMs, tls, proxy, protocol: check.protocol })
    case 'custom':
      return new CustomProbe(upstream, check.name, check.check, check.timeoutMs)
  }
}
