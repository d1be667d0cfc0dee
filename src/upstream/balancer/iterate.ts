/**
 * The iteration every balancer shares: the balancer's own order over its available
 * primaries, then the available backups in config order, never a target twice.
 */
import type { Target } from '../target.js'

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined })

/**
 * An upstream_peer iterator. Subclasses supply `nextPrimary`; this class records what was
 * yielded and appends the backups once no primary is left. The next choice is made only
 * when asked for, so a fallback reflects health and load at the time of the retry.
 */
export abstract class CandidateIterator implements Iterator<Target> {
  private readonly targets: readonly Target[]
  /**
   * The first primary yielded is kept apart from the rest so that a request that never
   * retries (almost all of them) allocates no list.
   */
  private yieldedFirst: Target | null = null
  private yieldedLater: Target[] | null = null
  /** -1 while primaries are yielded; then the scan position over `targets` for backups. */
  private backupAt = -1

  /** `targets`: the upstream's primaries and backups, in config order. */
  constructor (targets: readonly Target[]) {
    this.targets = targets
  }

  /**
   * The balancer's next choice: an available primary for which `wasYielded` is false, or
   * null when there is none.
   */
  protected abstract nextPrimary (): Target | null

  wasYielded (target: Target): boolean {
    return target === this.yieldedFirst || (this.yieldedLater !== null && this.yieldedLater.includes(target))
  }

  next (): IteratorResult<Target> {
    if (this.backupAt < 0) {
      const target = this.nextPrimary()
      if (target !== null) {
        if (this.yieldedFirst === null) this.yieldedFirst = target
        else (this.yieldedLater ??= []).push(target)
        return { done: false, value: target }
      }
      this.backupAt = 0
    }
    const targets = this.targets
    while (this.backupAt < targets.length) {
      const target = targets[this.backupAt++] as Target
      if (target.backup && target.available) return { done: false, value: target }
    }
    return DONE
  }
}
