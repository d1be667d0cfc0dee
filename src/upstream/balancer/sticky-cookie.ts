/**
 * StickyCookie (upstream_peer): the first response carries a cookie naming its target; a
 * request that brings it back goes to that target on any path, as long as it is available,
 * and otherwise gets a new target and a new cookie. The cookie holds an opaque token (the
 * crc32 of the target id), the same in every process, so it survives reloads and works
 * across gateway instances without revealing addresses. Without a cookie: round robin.
 */
import { crc32 } from 'node:zlib'
import type { Target } from '../target.js'
import type { Balancer, BalancerInput } from './index.js'
import { CandidateIterator, type FallbackOrder } from './iterate.js'
import { SmoothWeightedRoundRobin } from './round-robin.js'
import { readCookie } from './cookie.js'

export function stickyToken (target: Target): string {
  return crc32(target.id).toString(36)
}

export class StickyCookie implements Balancer, FallbackOrder {
  private readonly targets: readonly Target[]
  private readonly byToken: ReadonlyMap<string, Target>
  private readonly tokens: ReadonlyMap<Target, string>
  private readonly rotation: SmoothWeightedRoundRobin
  private readonly cookie: string
  private readonly attributes: string

  constructor (targets: readonly Target[], cookie: string, ttlMs: number) {
    this.targets = targets
    this.cookie = cookie
    this.attributes = `; Path=/; Max-Age=${Math.floor(ttlMs / 1000)}; HttpOnly; SameSite=Lax`
    this.tokens = new Map(targets.filter(t => !t.backup).map(t => [t, stickyToken(t)]))
    this.byToken = new Map([...this.tokens].map(([t, token]) => [token, t]))
    this.rotation = new SmoothWeightedRoundRobin(targets)
  }

  pick (input: BalancerInput): Iterator<Target> {
    const token = readCookie(input.headers.cookie, this.cookie)
    const pinned = token === null ? undefined : this.byToken.get(token)
    const first = pinned !== undefined && pinned.available ? pinned : this.rotation.choose()
    return new CandidateIterator(first, this.targets, this)
  }

  fallbackOrder (first: Target | null): readonly Target[] {
    return this.rotation.fallbackOrder(first)
  }

  onResponse (input: BalancerInput, target: Target, setHeader: (name: string, value: string) => void): void {
    const token = this.tokens.get(target)
    if (token === undefined) return
    if (readCookie(input.headers.cookie, this.cookie) === token) return
    setHeader('set-cookie', `${this.cookie}=${token}${this.attributes}`)
  }
}
