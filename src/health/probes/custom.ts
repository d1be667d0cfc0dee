/**
 * `healthCheck.type: custom`: the function registered with `defineHealthCheck` decides.
 * It may answer at once or with a promise; the timeout cuts the wait (the check fails and
 * its signal is aborted), and a call still running after that is not repeated for the
 * same target until it settles, so checks that hang never pile up.
 */
import type { Target } from '../../upstream/target.js'
import { formatDuration } from '../../config/units.js'
import { checkTargetOf, type HealthCheckFunction, type HealthCheckTarget } from '../define.js'
import { describeError, probeTimeout, type Probe, type ProbeResult } from './probe.js'

export class CustomProbe implements Probe {
  private readonly upstream: string
  private readonly name: string
  private readonly timeoutMs: number
  private check: HealthCheckFunction
  /** The view each target's check is given, made once. */
  private readonly views = new WeakMap<Target, HealthCheckTarget>()
  /** Targets whose last call outlived its timeout and has not settled yet. */
  private readonly unsettled = new Set<Target>()

  constructor (upstream: string, name: string, check: HealthCheckFunction, timeoutMs: number) {
    this.upstream = upstream
    this.name = name
    this.check = check
    this.timeoutMs = timeoutMs
  }

  /** A reload imported the module again: later checks call its new function. */
  replace (check: HealthCheckFunction): void {
    this.check = check
  }

  async run (target: Target, signal: AbortSignal): Promise<ProbeResult> {
    if (this.unsettled.has(target)) {
      return { ok: false, reason: `check "${this.name}" is still running from an earlier call that timed out` }
    }
    if (signal.aborted) return { ok: false, reason: 'checking stopped' }
    const controller = new AbortController()
    const stop = (): void => controller.abort(signal.reason)
    signal.addEventListener('abort', stop)
    let answer: unknown
    try {
      answer = this.check(this.viewOf(target), controller.signal)
    } catch (err) {
      signal.removeEventListener('abort', stop)
      return this.threw(err)
    }
    if (!isThenable(answer)) {
      signal.removeEventListener('abort', stop)
      return this.verdictOf(answer)
    }
    this.unsettled.add(target)
    const settled = Promise.resolve(answer).then(
      (value) => this.verdictOf(value),
      (err: unknown) => this.threw(err)
    ).finally(() => {
      this.unsettled.delete(target)
      signal.removeEventListener('abort', stop)
    })
    return await new Promise<ProbeResult>(resolve => {
      const disarm = probeTimeout(this.timeoutMs, () => {
        controller.abort(new Error(`health check "${this.name}" timed out`))
        resolve({ ok: false, reason: `check "${this.name}" did not answer within ${formatDuration(this.timeoutMs)}` })
      })
      const onStop = (): void => {
        disarm()
        resolve({ ok: false, reason: 'checking stopped' })
      }
      signal.addEventListener('abort', onStop, { once: true })
      void settled.then(result => {
        disarm()
        signal.removeEventListener('abort', onStop)
        resolve(result)
      })
    })
  }

  private viewOf (target: Target): HealthCheckTarget {
    let view = this.views.get(target)
    if (view === undefined) {
      view = checkTargetOf(this.upstream, target.address, target.backup)
      this.views.set(target, view)
    }
    return view
  }

  private verdictOf (value: unknown): ProbeResult {
    if (value === true) return { ok: true, reason: `check "${this.name}" passed` }
    if (value === false) return { ok: false, reason: `check "${this.name}" failed` }
    if (value !== null && typeof value === 'object' && typeof (value as { healthy?: unknown }).healthy === 'boolean') {
      const { healthy, reason } = value as { healthy: boolean, reason?: unknown }
      const said = typeof reason === 'string' && reason !== '' ? `: ${reason.split('\n')[0] ?? ''}` : ''
      return { ok: healthy, reason: `check "${this.name}" ${healthy ? 'passed' : 'failed'}${said}` }
    }
    return { ok: false, reason: `check "${this.name}" returned ${describeValue(value)}, not true, false or { healthy }` }
  }

  private threw (err: unknown): ProbeResult {
    return { ok: false, reason: `check "${this.name}" threw: ${describeError(err)}` }
  }
}

function isThenable (value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function'
}

function describeValue (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  return typeof value === 'string' ? 'a string' : String(value)
}
