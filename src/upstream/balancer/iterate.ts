/**
 * The iteration order every balancer shares: its own order over the available primaries,
 * then the available backups, never a target twice.
 */
import type { Target } from '../target.js'

/** The balancer's order for fallbacks, asked only when a retry wants a second target. */
export interface FallbackOrder {
  fallbackOrder (first: Target | null): readonly Target[]
}

/** Yields `first` (if any), then the rest of `order()`'s primaries, then backups. */
export class CandidateIterator implements Iterator<Target> {
  /** Created only when a retry asks for a second target: most requests never do. */
  private yielded: Set<Target> | null = null
  private phase: 'first' | 'primaries' | 'backups' | 'done'
  private index = 0
  private readonly first: Target | null
  private readonly targets: readonly Target[]
  private readonly order: FallbackOrder
  private fallbacks: readonly Target[] | null = null

  /**
   * `first`: the balancer's choice (null when no primary is available); `order` gives the
   * fallbacks, lazily.
   */
  constructor (first: Target | null, targets: readonly Target[], order: FallbackOrder) {
    this.first = first
    this.targets = targets
    this.order = order
    this.phase = first === null ? 'primaries' : 'first'
  }

  next (): IteratorResult<Target> {
    for (;;) {
      switch (this.phase) {
        case 'first':
          this.phase = 'primaries'
          return { done: false, value: this.first as Target }
        case 'primaries': {
          this.fallbacks ??= this.order.fallbackOrder(this.first)
          this.yielded ??= new Set(this.first === null ? [] : [this.first])
          while (this.index < this.fallbacks.length) {
            const t = this.fallbacks[this.index++] as Target
            if (!t.backup && t.available && !this.yielded.has(t)) {
              this.yielded.add(t)
              return { done: false, value: t }
            }
          }
          this.phase = 'backups'
          this.index = 0
          break
        }
        case 'backups':
          this.yielded ??= new Set()
          while (this.index < this.targets.length) {
            const t = this.targets[this.index++] as Target
            if (t.backup && t.available && !this.yielded.has(t)) {
              this.yielded.add(t)
              return { done: false, value: t }
            }
          }
          this.phase = 'done'
          break
        case 'done':
          return { done: true, value: undefined }
      }
    }
  }
}
