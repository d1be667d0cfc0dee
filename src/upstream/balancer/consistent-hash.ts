import { crc32 } from 'node:zlib'
import type { Target } from '../target.js'
import type { Balancer, BalancerInput, HashKey } from './index.js'
import { CandidateIterator } from './iterate.js'
import { readCookie } from './cookie.js'

/** Ketama's choice: enough points that each target's share of the ring stays close to its weight. */
const POINTS_PER_WEIGHT = 160

/**
 * ConsistentHash (upstream_peer): a ketama ring. Each primary owns 160 points per unit of
 * weight, placed by crc32 of `<id>-<i>`; a request's key (client ip, path, query, url, a
 * header or a cookie) is hashed with crc32 and goes to the owner of the first point at or
 * after it. Chosen so that one key keeps reaching the same target (its caches stay warm),
 * and adding or removing one of N targets moves only the keys of that target, about 1/N,
 * where `hash % N` would move nearly all of them. Point positions depend only on target
 * ids, so every process and every reload builds the same ring.
 *
 * The iterator yields the key's target if it is available, otherwise the next distinct
 * available target clockwise (so a down target's keys spread over the ring while every
 * other key stays put); fallbacks continue clockwise over distinct targets; then the
 * available backups. The ring is built once here; a lookup is one crc32 and a binary search.
 */
export class ConsistentHash implements Balancer {
  private readonly targets: readonly Target[]
  private readonly primaries: readonly Target[]
  /** Point positions, ascending. */
  private readonly points: Uint32Array
  /** For each point, the index in `primaries` of its owner. */
  private readonly owners: Uint32Array
  private readonly hashOf: (input: BalancerInput) => number

  constructor (targets: readonly Target[], key: HashKey) {
    this.targets = targets
    this.primaries = targets.filter(t => !t.backup)
    const positions: number[] = []
    const owners: number[] = []
    const ids: string[] = []
    this.primaries.forEach((target, owner) => {
      for (let i = 0; i < POINTS_PER_WEIGHT * target.weight; i++) {
        positions.push(crc32(`${target.id}-${i}`))
        owners.push(owner)
        ids.push(target.id)
      }
    })
    // Colliding points are ordered by id, not config order, so the ring is the same
    // whatever order the targets are listed in.
    const order = positions.map((_, i) => i).sort((a, b) =>
      (positions[a] as number) - (positions[b] as number) || compare(ids[a] as string, ids[b] as string))
    this.points = Uint32Array.from(order, i => positions[i] as number)
    this.owners = Uint32Array.from(order, i => owners[i] as number)
    this.hashOf = keyHasher(key)
  }

  pick (input: BalancerInput): Iterator<Target> {
    return new RingIterator(this.targets, this.primaries, this.owners, this.firstPointAtOrAfter(this.hashOf(input)))
  }

  private firstPointAtOrAfter (hash: number): number {
    const points = this.points
    let lo = 0
    let hi = points.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((points[mid] as number) < hash) lo = mid + 1
      else hi = mid
    }
    return lo === points.length ? 0 : lo
  }
}

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Chosen once per balancer so that a request pays no dispatch on the key's kind. */
function keyHasher (key: HashKey): (input: BalancerInput) => number {
  switch (key.from) {
    case 'ip': return input => crc32(input.ip)
    case 'path': return input => crc32(input.path)
    case 'query': return input => crc32(input.query)
    // crc32 chained over the parts equals crc32 of `path?query`, without building that string.
    case 'url': return input => input.query === '' ? crc32(input.path) : crc32(input.query, crc32('?', crc32(input.path)))
    case 'header': {
      const name = key.name.toLowerCase()
      return input => {
        const value = input.headers[name]
        return crc32((Array.isArray(value) ? value[0] : value) ?? '')
      }
    }
    case 'cookie': {
      const name = key.name
      return input => crc32(readCookie(input.headers.cookie, name) ?? '')
    }
  }
}

/** Walks the ring clockwise from the key's point, at most once around. */
class RingIterator extends CandidateIterator {
  private readonly primaries: readonly Target[]
  private readonly owners: Uint32Array
  private readonly start: number
  private steps = 0

  constructor (targets: readonly Target[], primaries: readonly Target[], owners: Uint32Array, start: number) {
    super(targets)
    this.primaries = primaries
    this.owners = owners
    this.start = start
  }

  protected nextPrimary (): Target | null {
    const owners = this.owners
    const length = owners.length
    while (this.steps < length) {
      let at = this.start + this.steps++
      if (at >= length) at -= length
      const target = this.primaries[owners[at] as number] as Target
      if (target.available && !this.wasYielded(target)) return target
    }
    return null
  }
}
