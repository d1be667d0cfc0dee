/**
 * JWTs already verified, remembered so a client sending the same token on every request
 * pays one signature check per minute instead of one per request.
 *
 * Ours rather than fast-jwt's cache: fast-jwt keys its cache by a SHA-256 of every token
 * (it decodes the header to pick the hash), which costs more than the HMAC check it saves,
 * and it warns at start when given a key function of one's own. Only tokens that verified
 * are remembered: a refused token is checked again each time, so garbage tokens take no
 * room here.
 */
import { createHash } from 'node:crypto'

/** Tokens remembered at most, and for how long each (never past its own `exp`). */
export const REMEMBERED_TOKENS = 1000
export const REMEMBERED_FOR_MS = 60_000

/**
 * Tokens up to this length are their own key; longer ones are keyed by a SHA-256, so that
 * the memory held stays small (1 000 × 1 KB at most).
 */
export const RAW_KEY_MAX_LENGTH = 1024

/**
 * The key of `token`. A hashed key starts with a line feed, which no header value (so no
 * token) contains: a short token can never be taken for a long one's hash.
 */
export function rememberedKey (token: string): string {
  return token.length <= RAW_KEY_MAX_LENGTH ? token : '\n' + createHash('sha256').update(token).digest('base64')
}

interface Remembered<T> {
  readonly claims: T
  /** Epoch ms after which the entry is not used. */
  readonly until: number
}

export class VerifiedTokens<T extends Readonly<Record<string, unknown>>> {
  private readonly entries = new Map<string, Remembered<T>>()
  private readonly clockToleranceMs: number

  constructor (clockToleranceMs: number) {
    this.clockToleranceMs = clockToleranceMs
  }

  /** The claims of `key`'s token if it verified and is still good at `now`. */
  get (key: string, now: number): T | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (now < entry.until) return entry.claims
    this.entries.delete(key)
    return undefined
  }

  /**
   * Remembers a token that verified at `now`. Its `nbf` was already reached, so only `exp`
   * limits it. When full, the oldest entry goes (Map keeps insertion order).
   */
  remember (key: string, claims: T, now: number): void {
    const exp = claims.exp
    const until = typeof exp === 'number' ? Math.min(now + REMEMBERED_FOR_MS, exp * 1000 + this.clockToleranceMs) : now + REMEMBERED_FOR_MS
    if (until <= now) return
    if (this.entries.size >= REMEMBERED_TOKENS) {
      const oldest = this.entries.keys().next()
      if (oldest.done !== true) this.entries.delete(oldest.value)
    }
    this.entries.set(key, { claims, until })
  }

  get size (): number {
    return this.entries.size
  }
}
