/**
 * The verdict of one target's active checks, from consecutive results: `unhealthyThreshold`
 * failures in a row make a healthy target unhealthy, `healthyThreshold` successes in a row
 * bring it back. A result that goes the other way starts the count again, so a target that
 * alternates never flips.
 *
 * Until its first result the verdict is `unknown`, and that first result decides on its own
 * (as Envoy does at startup): a target is not held unhealthy for `healthyThreshold`
 * intervals after a start, nor left in rotation for `unhealthyThreshold` intervals when it
 * is down from the outset.
 */
import type { CheckVerdict } from '../upstream/target.js'

export class ConsecutiveResults {
  private current: CheckVerdict
  private readonly healthyThreshold: number
  private readonly unhealthyThreshold: number
  /** Results in a row that go against the current verdict. */
  private streak = 0

  constructor (healthyThreshold: number, unhealthyThreshold: number, initial: CheckVerdict = 'unknown') {
    if (!(healthyThreshold >= 1 && unhealthyThreshold >= 1)) throw new RangeError('thresholds must be at least 1')
    this.healthyThreshold = healthyThreshold
    this.unhealthyThreshold = unhealthyThreshold
    this.current = initial
  }

  get verdict (): CheckVerdict {
    return this.current
  }

  /** How many results in a row went against the verdict so far. */
  get against (): number {
    return this.streak
  }

  /** Adds one result; returns true when it changed the verdict. */
  record (ok: boolean): boolean {
    const wanted: CheckVerdict = ok ? 'healthy' : 'unhealthy'
    if (this.current === wanted) {
      this.streak = 0
      return false
    }
    if (this.current !== 'unknown') {
      this.streak++
      if (this.streak < (ok ? this.healthyThreshold : this.unhealthyThreshold)) return false
    }
    this.current = wanted
    this.streak = 0
    return true
  }
}
