import { crc32 } from 'node:zlib'
import type { Target } from '../target.js'
import type { Balancer, BalancerInput } from './index.js'
import { CandidateIterator } from './iterate.js'
import { SmoothWeightedRoundRobin } from './round-robin.js'
import { readCookie } from './cookie.js'

/**
 * The cookie value naming `target`: crc32 of its id in base 36. The id is stable across
 * reloads and processes, so the token is too, and it names the target without showing its
 * address.
 */
export function stickyToken (target: Target): string {
  return crc32(target.id).toString(36)
}

interface Pin {
  readonly token: string
  /** The whole Set-Cookie value, built once: only the target varies between responses. */
  readonly setCookie: string
}

/**
 * StickyCookie (upstream_peer): session affinity by cookie. The first response carries a
 * cookie naming its target (by `stickyToken`, never by address); a request that brings it
 * back goes to that target on any path while it is available. Chosen over hashing the
 * client ip for clients behind a shared NAT or whose address changes, and because the
 * token is the same in every gateway process and after reloads.
 *
 * The iterator yields the cookie's target when it is an available primary, otherwise the
 * next turn of an internal SmoothWeightedRoundRobin; fallbacks are further turns of that
 * rotation over the primaries not yet yielded; then the available backups. Only primaries
 * are pinned: a cookie naming a backup would keep a client on it after the primaries are
 * back.
 */
export class StickyCookie implements Balancer {
  private readonly targets: readonly Target[]
  private readonly cookie: string
  private readonly byToken: ReadonlyMap<string, Target>
  private readonly pins: ReadonlyMap<Target, Pin>
  private readonly rotation: SmoothWeightedRoundRobin

  /** `cookie`: the cookie's name; `ttlMs`: its Max-Age, rounded down to seconds. */
  constructor (targets: readonly Target[], cookie: string, ttlMs: number) {
    this.targets = targets
    this.cookie = cookie
    const attributes = `; Path=/; Max-Age=${Math.floor(ttlMs / 1000)}; HttpOnly; SameSite=Lax`
    const byToken = new Map<string, Target>()
    const pins = new Map<Target, Pin>()
    for (const target of targets) {
      if (target.backup) continue
      const token = stickyToken(target)
      byToken.set(token, target)
      pins.set(target, { token, setCookie: `${cookie}=${token}${attributes}` })
    }
    this.byToken = byToken
    this.pins = pins
    this.rotation = new SmoothWeightedRoundRobin(targets)
  }

  pick (input: BalancerInput): Iterator<Target> {
    const token = readCookie(input.headers.cookie, this.cookie)
    const pinned = token === null ? null : this.byToken.get(token) ?? null
    return new StickyIterator(this.targets, this.rotation, pinned)
  }

  /** Sets the cookie unless the request already named this very target. */
  onResponse (input: BalancerInput, target: Target, setHeader: (name: string, value: string) => void): void {
    const pin = this.pins.get(target)
    if (pin === undefined) return
    if (readCookie(input.headers.cookie, this.cookie) === pin.token) return
    setHeader('set-cookie', pin.setCookie)
  }
}

class StickyIterator extends CandidateIterator {
  private readonly rotation: SmoothWeightedRoundRobin
  /** The cookie's target until the first `next()`; a primary, not checked for health yet. */
  private pinned: Target | null

  constructor (targets: readonly Target[], rotation: SmoothWeightedRoundRobin, pinned: Target | null) {
    super(targets)
    this.rotation = rotation
    this.pinned = pinned
  }

  protected nextPrimary (): Target | null {
    const pinned = this.pinned
    if (pinned !== null) {
      this.pinned = null
      if (pinned.available) return pinned
    }
    return this.rotation.turn(this)
  }
}
