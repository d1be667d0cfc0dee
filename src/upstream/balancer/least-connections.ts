/**
 * LeastConnections (upstream_peer): the available primary with the fewest in-flight
 * requests per unit of weight, so a slow target stops receiving new work while it is busy.
 * Ties go to the heavier target, then rotate, so equal idle targets share the load.
 */
import type { Target } from '../target.js'
import type { Balancer } from './index.js'
import { CandidateIterator, type FallbackOrder } from './iterate.js'

export class LeastConnections implements Balancer, FallbackOrder {
  private readonly targets: readonly Target[]
  private readonly primaries: readonly Target[]
  private offset = 0

  constructor (targets: readonly Target[]) {
    this.targets = targets
    this.primaries = targets.filter(t => !t.backup)
  }

  pick (): Iterator<Target> {
    const n = this.primaries.length
    const start = n === 0 ? 0 : this.offset++ % n
    let best: Target | null = null
    for (let k = 0; k < n; k++) {
      const t = this.primaries[(start + k) % n] as Target
      if (!t.available) continue
      if (best === null || better(t, best)) best = t
    }
    return new CandidateIterator(best, this.targets, this)
  }

  fallbackOrder (): readonly Target[] {
    return [...this.primaries].sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0))
  }
}

function better (a: Target, b: Target): boolean {
  const la = a.inflight / a.weight
  const lb = b.inflight / b.weight
  return la < lb || (la === lb && a.weight > b.weight)
}
