import type { Target } from '../target.js'
import type { Balancer } from './index.js'
import { CandidateIterator } from './iterate.js'

/**
 * LeastConnections (upstream_peer): the available primary with the fewest in-flight
 * requests per unit of weight. Chosen for upstreams whose response times vary: a target
 * that is slow (or stuck) keeps its requests in flight and so stops receiving new ones,
 * where a rotation would keep feeding it.
 *
 * The iterator yields the least loaded available primary; each fallback is the least
 * loaded of those not yet yielded, measured when the retry asks; then the available
 * backups. Ties go to the heavier target, then to the first one after the previous winner,
 * so idle targets of equal weight take turns instead of the first one taking everything.
 */
export class LeastConnections implements Balancer {
  private readonly targets: readonly Target[]
  private readonly primaries: readonly Target[]
  /** Where the tie-breaking scan starts: just after the previous first choice. */
  private after = 0

  constructor (targets: readonly Target[]) {
    this.targets = targets
    this.primaries = targets.filter(t => !t.backup)
  }

  pick (): Iterator<Target> {
    return new LeastConnectionsIterator(this.targets, this)
  }

  /**
   * The least loaded available primary that `iteration` has not yielded, or null. Only an iteration's first choice moves the tie-breaking rotation:
   * retries are rare and should not skew it.
   */
  lightest (iteration: CandidateIterator, first: boolean): Target | null {
    const primaries = this.primaries
    const n = primaries.length
    let best: Target | null = null
    let bestAt = -1
    for (let k = 0; k < n; k++) {
      const at = (this.after + k) % n
      const target = primaries[at] as Target
      if (!target.available || iteration.wasYielded(target)) continue
      if (best === null || lighter(target, best)) {
        best = target
        bestAt = at
      }
    }
    if (first && bestAt >= 0) this.after = (bestAt + 1) % n
    return best
  }
}

/** inflight / weight compared by cross-multiplying: exact for integers, no division. */
function lighter (a: Target, b: Target): boolean {
  const la = a.inflight * b.weight
  const lb = b.inflight * a.weight
  return la < lb || (la === lb && a.weight > b.weight)
}

class LeastConnectionsIterator extends CandidateIterator {
  private readonly balancer: LeastConnections
  private first = true

  constructor (targets: readonly Target[], balancer: LeastConnections) {
    super(targets)
    this.balancer = balancer
  }

  protected nextPrimary (): Target | null {
    const target = this.balancer.lightest(this, this.first)
    this.first = false
    return target
  }
}
