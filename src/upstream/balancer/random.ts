/**
 * WeightedRandom (upstream_peer): a target drawn with probability proportional to its
 * weight; no shared state, so it spreads load evenly across many gateway processes without
 * coordination. Fallbacks are the remaining primaries in weighted random order.
 */
import type { Target } from '../target.js'
import type { Balancer } from './index.js'
import { CandidateIterator, type FallbackOrder } from './iterate.js'

export class WeightedRandom implements Balancer, FallbackOrder {
  private readonly targets: readonly Target[]
  private readonly primaries: readonly Target[]

  constructor (targets: readonly Target[]) {
    this.targets = targets
    this.primaries = targets.filter(t => !t.backup)
  }

  pick (): Iterator<Target> {
    const first = draw(this.primaries, null)
    return new CandidateIterator(first, this.targets, this)
  }

  fallbackOrder (first: Target | null): readonly Target[] {
    return shuffleByWeight(this.primaries, first)
  }
}

function draw (targets: readonly Target[], skip: ReadonlySet<Target> | null): Target | null {
  let total = 0
  for (const t of targets) if (t.available && skip?.has(t) !== true) total += t.weight
  if (total === 0) return null
  let point = Math.random() * total
  for (const t of targets) {
    if (!t.available || skip?.has(t) === true) continue
    point -= t.weight
    if (point < 0) return t
  }
  return null
}

function shuffleByWeight (targets: readonly Target[], first: Target | null): Target[] {
  const taken = new Set<Target>(first === null ? [] : [first])
  const order: Target[] = []
  for (let t = draw(targets, taken); t !== null; t = draw(targets, taken)) {
    taken.add(t)
    order.push(t)
  }
  return order
}
