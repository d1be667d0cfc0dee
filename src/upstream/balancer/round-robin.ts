/**
 * SmoothWeightedRoundRobin (upstream_peer): nginx's smooth weighted round robin. Each pick
 * adds every available primary's weight to its running score, takes the highest and
 * subtracts the total from it: weights 3:1 give A A B A, so every window of 4 holds exactly
 * 3 + 1, with the heavy target's turns spread rather than bunched. Unavailable targets
 * are skipped without disturbing the others' rotation. Fallbacks continue the rotation.
 */
import type { Target } from '../target.js'
import type { Balancer } from './index.js'
import { CandidateIterator, type FallbackOrder } from './iterate.js'

export class SmoothWeightedRoundRobin implements Balancer, FallbackOrder {
  private readonly targets: readonly Target[]
  private readonly primaries: readonly Target[]
  private readonly current: Float64Array

  constructor (targets: readonly Target[]) {
    this.targets = targets
    this.primaries = targets.filter(t => !t.backup)
    this.current = new Float64Array(this.primaries.length)
  }

  pick (): Iterator<Target> {
    const first = this.choose()
    return new CandidateIterator(first, this.targets, this)
  }

  /** The next target of the rotation among available primaries, or null. */
  choose (): Target | null {
    const primaries = this.primaries
    const current = this.current
    let total = 0
    let best = -1
    for (let i = 0; i < primaries.length; i++) {
      const t = primaries[i] as Target
      if (!t.available) continue
      current[i] = (current[i] as number) + t.weight
      total += t.weight
      if (best < 0 || (current[i] as number) > (current[best] as number)) best = i
    }
    if (best < 0) return null
    current[best] = (current[best] as number) - total
    return primaries[best] as Target
  }

  /** Fallback order for retries: the primaries after `first`, in list order, wrapping. */
  fallbackOrder (first: Target | null): readonly Target[] {
    const start = first === null ? 0 : this.primaries.indexOf(first) + 1
    return [...this.primaries.slice(start), ...this.primaries.slice(0, start)]
  }
}
