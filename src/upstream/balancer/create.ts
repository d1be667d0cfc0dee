import type { Target } from '../target.js'
import type { Balancer, BalancerOptions } from './index.js'
import { SmoothWeightedRoundRobin } from './round-robin.js'
import { WeightedRandom } from './random.js'
import { LeastConnections } from './least-connections.js'
import { ConsistentHash } from './consistent-hash.js'
import { StickyCookie } from './sticky-cookie.js'

/**
 * The balancer an upstream's config names. `targets` holds its primaries and backups
 * mixed, in config order (`target.backup` tells them apart); every balancer keeps backups
 * until no primary is available.
 */
export function createBalancer (options: BalancerOptions, targets: readonly Target[]): Balancer {
  switch (options.kind) {
    case 'round-robin': return new SmoothWeightedRoundRobin(targets)
    case 'random': return new WeightedRandom(targets)
    case 'least-connections': return new LeastConnections(targets)
    case 'consistent-hash': return new ConsistentHash(targets, options.hashKey)
    case 'sticky-cookie': return new StickyCookie(targets, options.sticky.cookie, options.sticky.ttlMs)
  }
}
