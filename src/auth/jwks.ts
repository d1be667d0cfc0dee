/**
 * The signing keys behind a `jwksUrl`, fetched with get-jwks: each key is cached (by
 * algorithm and `kid`) for `ttlMs`, an unknown `kid` makes it fetch the set again (a key
 * rotated in is found without a reload), and a key whose refetch fails is still served
 * from its stale copy.
 *
 * What get-jwks leaves open, and is closed here:
 * - It asks global `fetch` for a `timeout` it does not support, so a JWKS server that
 *   accepts and never answers would hold the fetch (and every request for that key, which
 *   shares it) for undici's default 300 s. Fetches go through an undici Agent of our own
 *   whose connect, headers and body timeouts are `auth.timeout`; the request waiting for
 *   them is bounded by the same timeout on its own (jwt.ts).
 * - Every token naming an unknown `kid` would fetch the whole set again: a client sending
 *   random `kid`s would make the gateway flood the JWKS server. After a `kid` was not
 *   found, `kid`s never found before are refused without a fetch for `cooldownMs` (a key
 *   rotated in during that window is found once it has passed); keys found before are
 *   fetched again as usual.
 */
import buildGetJwks from 'get-jwks'
import { Agent } from 'undici'

export interface JwksOptions {
  /** Bound on connecting to, and on each wait for, the JWKS server. */
  readonly timeoutMs: number
  /** How long a fetched key is used before it is fetched again. */
  readonly ttlMs?: number
  /** After an unknown `kid`, how long other unknown ones are refused without a fetch. */
  readonly cooldownMs?: number
  /** The clock, in milliseconds; default Date.now. */
  readonly now?: () => number
}

export const DEFAULT_JWKS_TTL_MS = 60_000
export const DEFAULT_UNKNOWN_KID_COOLDOWN_MS = 10_000
const MAX_FOUND_KEYS = 1000

/** The token names a key the JWKS does not have (a 401: the token is the problem). */
export class UnknownSigningKey extends Error {
  constructor () {
    super('no key of the JWKS matches the token\'s kid and alg')
    this.name = 'UnknownSigningKey'
  }
}

/** The JWKS could not be fetched or read (a 503: the key server is the problem). */
export class SigningKeysUnavailable extends Error {
  constructor (cause: unknown) {
    super(`the JWKS could not be fetched: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
    this.name = 'SigningKeysUnavailable'
  }
}

export class JwksKeySource {
  readonly url: string
  private readonly domain: string
  private readonly jwks: ReturnType<typeof buildGetJwks>
  private readonly agent: Agent
  private readonly cooldownMs: number
  private readonly now: () => number
  private lastUnknownAt = -Infinity
  /** Keys (alg, kid) found before: never refused by the cooldown, even once their cache entry is gone. */
  private readonly found = new Set<string>()

  constructor (url: string, options: JwksOptions) {
    const parsed = new URL(url)
    this.url = url
    this.domain = `${parsed.origin}/`
    this.cooldownMs = options.cooldownMs ?? DEFAULT_UNKNOWN_KID_COOLDOWN_MS
    this.now = options.now ?? Date.now
    this.agent = new Agent({
      connect: { timeout: options.timeoutMs },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      keepAliveTimeout: 10_000
    })
    this.jwks = buildGetJwks({
      ttl: options.ttlMs ?? DEFAULT_JWKS_TTL_MS,
      // The path and query of the URL; get-jwks puts it after the origin.
      jwksPath: `${parsed.pathname}${parsed.search}`,
      fetchOptions: { dispatcher: this.agent, redirect: 'error' } as unknown as NonNullable<Parameters<typeof buildGetJwks>[0]>['fetchOptions']
    })
  }

  /**
   * The public key (PEM) for a token's `alg` and `kid`. Rejects with UnknownSigningKey
   * when the set has no such key, SigningKeysUnavailable when the set cannot be had.
   */
  async key (alg: string, kid: string | undefined): Promise<string> {
    const jwks = this.jwks
    const cacheKey = jwks.generateCacheKey(alg, kid as string, this.domain)
    // get-jwks's own caches cannot tell: a failed lookup leaves its rejected promise in the stale cache.
    if (!this.found.has(cacheKey) && this.now() - this.lastUnknownAt < this.cooldownMs) throw new UnknownSigningKey()
    try {
      const key = await jwks.getPublicKey({ domain: this.domain, alg, kid: kid as string })
      if (this.found.size >= MAX_FOUND_KEYS) this.found.clear()
      this.found.add(cacheKey)
      return key
    } catch (err) {
      if ((err as { code?: unknown }).code === 'JWK_NOT_FOUND') {
        this.lastUnknownAt = this.now()
        throw new UnknownSigningKey()
      }
      throw new SigningKeysUnavailable(err)
    }
  }

  async close (): Promise<void> {
    await this.agent.close()
  }
}
