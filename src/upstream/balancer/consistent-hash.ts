/**
 * ConsistentHash (upstream_peer): a ketama ring, 160 points per unit of weight, so one key
 * (client ip, path, a header, a cookie…) keeps reaching the same target, and removing one of
 * N targets moves only about 1/N of the keys. Built once in the constructor; a lookup is
 * one crc32 and a binary search. A key whose target is unavailable walks on clockwise.
 */
import { crc32 } from 'node:zlib'
import type { Target } from '../target.js'
import type { Balancer, BalancerInput, HashKey } from './index.js'
import { CandidateIterator } from './iterate.js'
import { readCookie } from './cookie.js'

const POINTS_PER_WEIGHT = 160

export class ConsistentHash implements Balancer {
  private readonly targets: readonly Target[]
  private readonly points: Uint32Array
  private readonly owners: Uint32Array
  private readonly primaries: readonly Target[]
  private readonly key: (input: BalancerInput) => string

  constructor (targets: readonly Target[], key: HashKey) {
    this.targets = targets
    this.primaries = targets.filter(t => !t.backup)
    const ring: [number, number][] = []
    this.primaries.forEach((t, owner) => {
      for (let i = 0; i < POINTS_PER_WEIGHT * t.weight; i++) ring.push([crc32(`${t.id}-${i}`), owner])
    })
    ring.sort((a, b) => a[0] - b[0])
    this.points = Uint32Array.from(ring, r => r[0])
    this.owners = Uint32Array.from(ring, r => r[1])
    this.key = keyReader(key)
  }

  pick (input: BalancerInput): Iterator<Target> {
    const order = this.walk(crc32(this.key(input)))
    return new CandidateIterator(order.find(t => t.available) ?? null, this.targets, { fallbackOrder: () => order })
  }

  /** Distinct primaries clockwise from the first point at or after `hash`. */
  private walk (hash: number): Target[] {
    const points = this.points
    let lo = 0
    let hi = points.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((points[mid] as number) < hash) lo = mid + 1
      else hi = mid
    }
    const order: Target[] = []
    const seen = new Set<number>()
    for (let k = 0; k < points.length && order.length < this.primaries.length; k++) {
      const owner = this.owners[(lo + k) % points.length] as number
      if (seen.has(owner)) continue
      seen.add(owner)
      order.push(this.primaries[owner] as Target)
    }
    return order
  }
}

function keyReader (key: HashKey): (input: BalancerInput) => string {
  switch (key.from) {
    case 'ip': return (input) => input.ip
    case 'path': return (input) => input.path
    case 'query': return (input) => input.query
    case 'url': return (input) => (input.query === '' ? input.path : `${input.path}?${input.query}`)
    case 'header': {
      const name = key.name
      return (input) => {
        const value = input.headers[name]
        return (Array.isArray(value) ? value[0] : value) ?? ''
      }
    }
    case 'cookie': {
      const name = key.name
      return (input) => readCookie(input.headers.cookie, name) ?? ''
    }
  }
}
