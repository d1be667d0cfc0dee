import type { Target } from '../target.js'
import type { Balancer } from './index.js'
import { CandidateIterator } from './iterate.js'

/**
 * SmoothWeightedRoundRobin (upstream_peer): nginx's smooth weighted round robin. On each
 * turn every available primary's score grows by its weight, the highest score wins and
 * gives back the total. Chosen because it is deterministic and smooth: weights 3:1 give
 * A A B A, so the heavy target's turns are spread out instead of coming in bursts, and any
 * 4 aligned picks hold exactly 3 + 1.
 *
 * The iterator yields the winner of this turn; each fallback is a further turn among the
 * available primaries not yet yielded (as nginx does for its tried peers, so retries count
 * in the rotation), then the available backups. Unavailable targets take no part in a turn:
 * their score is left as it was, so the others keep their rhythm.
 */
export class SmoothWeightedRoundRobin implements Balancer {
  private readonly targets: readonly Target[]
  private readonly primaries: readonly Target[]
  /** nginx's current_weight, one per primary, in `primaries` order. */
  private readonly current: Float64Array

  constructor (targets: readonly Target[]) {
    this.targets = targets
    this.primaries = targets.filter(t => !t.backup)
    this.current = new Float64Array(this.primaries.length)
  }

  pick (): Iterator<Target> {
    return new RoundRobinIterator(this.targets, this)
  }

  /**
   * Plays one turn among the available primaries that `iteration` has not yielded yet and
   * returns its winner, or null when none is left. Public for StickyCookie, which uses the
   * rotation for requests without a usable cookie.
   */
  turn (iteration: CandidateIterator): Target | null {
    const primaries = this.primaries
    const current = this.current
    let total = 0
    let best = -1
    let bestScore = 0
    for (let i = 0; i < primaries.length; i++) {
      const target = primaries[i] as Target
      if (!target.available || iteration.wasYielded(target)) continue
      const score = (current[i] as number) + target.weight
      current[i] = score
      total += target.weight
      // Strictly greater: ties go to the earlier target, which gives A B A B for equal weights.
      if (best < 0 || score > bestScore) {
        best = i
        bestScore = score
      }
    }
    if (best < 0) return null
    current[best] = bestScore - total
    return primaries[best] as Target
  }
}

class RoundRobinIterator extends CandidateIterator {
  private readonly rotation: SmoothWeightedRoundRobin

  constructor (targets: readonly Target[], rotation: SmoothWeightedRoundRobin) {
    super(targets)
    this.rotation = rotation
  }

  protected nextPrimary (): Target | null {
    return this.rotation.turn(this)
  }
}
