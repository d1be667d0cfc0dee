/**
 * How long to wait before starting a worker again after it exited unexpectedly. A worker
 * that crashes at once, again and again (a bad route module, a missing file), would
 * otherwise be forked in a tight loop and take a core: each crash in a row doubles the
 * wait, up to a cap; one that had served for `stableMs` starts the count again.
 */
export interface BackoffOptions {
  /** The wait after the first crash of a streak. */
  readonly initialMs: number
  /** The longest wait. */
  readonly maxMs: number
  /** A worker that served this long before exiting was not crashing in a loop. */
  readonly stableMs: number
}

export const RESTART_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 30_000, stableMs: 30_000 }

export class RestartBackoff {
  private readonly options: BackoffOptions
  /** Crashes in a row, since the last stable run. */
  private streak = 0

  constructor (options: BackoffOptions = RESTART_BACKOFF) {
    this.options = options
  }

  /** Crashes counted in the current streak. */
  get crashes (): number {
    return this.streak
  }

  /**
   * A worker exited after serving for `servedMs` (0 when it never became ready): the wait
   * before its replacement is started.
   */
  next (servedMs: number): number {
    if (servedMs >= this.options.stableMs) this.streak = 0
    // The exponent stops growing once the cap is reached: 2 ** streak never overflows.
    const delay = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.streak, 52))
    this.streak++
    return delay
  }
}
