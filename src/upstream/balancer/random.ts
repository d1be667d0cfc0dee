import type { Target } from '../target.js'
import type { Balancer } from './index.js'
import { CandidateIterator } from './iterate.js'

/**
 * WeightedRandom (upstream_peer): each available primary is drawn with probability
 * proportional to its weight. Chosen for having no shared state at all: many gateway
 * processes (or cluster workers) spread load evenly without coordinating, and no rotation
 * can fall into step with a client's request pattern.
 *
 * The iterator yields one weighted draw among the available primaries; each fallback is a
 * further draw among those not yet yielded (weighted random order), then the available
 * backups.
 */
export class WeightedRandom implements Balancer {
  private readonly targets: readonly Target[]
  private readonly primaries: readonly Target[]

  constructor (targets: readonly Target[]) {
    this.targets = targets
    this.primaries = targets.filter(t => !t.backup)
  }

  pick (): Iterator<Target> {
    return new RandomIterator(this.targets, this.primaries)
  }
}

class RandomIterator extends CandidateIterator {
  private readonly primaries: readonly Target[]

  constructor (targets: readonly Target[], primaries: readonly Target[]) {
    super(targets)
    this.primaries = primaries
  }

  protected nextPrimary (): Target | null {
    let total = 0
    for (const target of this.primaries) {
      if (target.available && !this.wasYielded(target)) total += target.weight
    }
    if (total === 0) return null
    let point = Math.random() * total
    let last: Target | null = null
    for (const target of this.primaries) {
      if (!target.available || this.wasYielded(target)) continue
      point -= target.weight
      if (point < 0) return target
      last = target
    }
    // Rounding can leave `point` a hair above zero after the last candidate.
    return last
  }
}
