/**
 * Passive health checking (Envoy's outlier detection, nginx's max_fails): real traffic is
 * watched, and `consecutiveFailures` failed attempts in a row on a target eject it for
 * `ejectFor`. Then it gets traffic again with a fresh count, and is ejected again if it
 * keeps failing. An answer whose status `on` does not list resets the count.
 *
 * What counts as a failure is chosen by `on`: `connect-error` (refused, reset, TLS
 * failure, connection broken before the response began, an answer that is not HTTP, and
 * connect timeouts), `timeout` (connect, response and body timeouts) and statuses. A
 * request the client abandoned, or that the gateway itself refused, counts for nothing.
 *
 * One instance per target, installed as its `outcomes` listener: the attempt calls it as
 * it ends, with values it holds anyway. A success is a set lookup and a counter reset;
 * only a failure reads its error (through `classifyFailure`, where error codes are read).
 */
import type { AttemptOutcomeListener, Target } from '../upstream/target.js'
import { RetryableStatusError } from '../upstream/attempt.js'
import { classifyFailure } from '../upstream/errors.js'
import { formatDuration } from '../config/units.js'
import { describeError } from './probes/probe.js'

/** What passive checking watches for, compiled from `passive`. */
export interface CompiledPassive {
  readonly consecutiveFailures: number
  readonly ejectForMs: number
  /** Count refused, reset or broken connections (and connect timeouts). */
  readonly onConnectError: boolean
  /** Count connect, response and body timeouts. */
  readonly onTimeout: boolean
  /** Count responses with these statuses. */
  readonly statuses: ReadonlySet<number>
}

export interface EjectionEvents {
  /** `target` was just ejected (its `ejectedUntil` is set). */
  ejected (target: Target, reason: string): void
  /** `target`'s ejection is over (its `ejectedUntil` is 0 again). */
  returned (target: Target, reason: string): void
}

export class PassiveEjection implements AttemptOutcomeListener {
  private readonly target: Target
  private readonly settings: CompiledPassive
  private readonly events: EjectionEvents
  private failures = 0
  /** The last failure counted: its status, or the error (for the reason of an ejection). */
  private lastStatus = 0
  private lastError: Error | null = null
  private timer: NodeJS.Timeout | null = null

  constructor (target: Target, settings: CompiledPassive, events: EjectionEvents) {
    this.target = target
    this.settings = settings
    this.events = events
  }

  /** Takes over an ejection begun before a reload: it ends when it was due to. */
  resume (now: number): void {
    const until = this.target.ejectedUntil
    if (until === 0) return
    this.arm(Math.max(0, until - now))
  }

  attemptEnded (statusCode: number, failure: Error | null): void {
    // Attempts that were under way when the target was ejected say nothing new.
    if (this.target.ejectedUntil !== 0) return
    const settings = this.settings
    if (failure === null) {
      if (!settings.statuses.has(statusCode)) {
        this.failures = 0
        return
      }
      this.lastStatus = statusCode
      this.lastError = null
    } else if (failure instanceof RetryableStatusError) {
      if (!settings.statuses.has(failure.statusCode)) {
        this.failures = 0
        return
      }
      this.lastStatus = failure.statusCode
      this.lastError = null
    } else {
      if (!this.counts(classifyFailure(failure))) return
      this.lastStatus = 0
      this.lastError = failure
    }
    if (++this.failures >= settings.consecutiveFailures) this.eject()
  }

  /** Clears the ejection timer; the target's state is left as it is. */
  stop (): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }

  private counts (kind: ReturnType<typeof classifyFailure>): boolean {
    switch (kind) {
      case 'connect':
      case 'protocol':
        return this.settings.onConnectError
      case 'connect-timeout':
        return this.settings.onConnectError || this.settings.onTimeout
      case 'response-timeout':
      case 'body-timeout':
        return this.settings.onTimeout
      default:
        // The client left, or the gateway refused the request: not the target's doing.
        return false
    }
  }

  private eject (): void {
    const { consecutiveFailures, ejectForMs } = this.settings
    const last = this.lastError === null ? `status ${this.lastStatus}` : describeError(this.lastError)
    this.failures = 0
    this.target.ejectedUntil = Date.now() + ejectForMs
    this.arm(ejectForMs)
    this.events.ejected(this.target, `ejected for ${formatDuration(ejectForMs)} after ${consecutiveFailures} failed ${consecutiveFailures === 1 ? 'request' : 'requests in a row'} (last: ${last})`)
  }

  private arm (ms: number): void {
    this.stop()
    this.timer = setTimeout(() => {
      this.timer = null
      this.target.ejectedUntil = 0
      this.events.returned(this.target, 'ejection over: taking traffic again')
    }, ms).unref()
  }
}
