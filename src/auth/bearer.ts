/**
 * `auth.type: bearer`: static tokens (`Authorization: Bearer <token>`).
 *
 * A presented token is hashed (SHA-256) and its digest compared with every configured
 * token's digest by `timingSafeEqual`: digests have equal lengths whatever the token's,
 * and every configured token is compared, so neither a token's length, nor how much of it
 * matched, nor which one it was shows in the time taken. @fastify/bearer-auth compares
 * the same way but is registered per encapsulation context with its keys fixed at
 * registration; per-route tokens need no more than this.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { MALFORMED, MISSING, credentialsOf, quoted, unauthorized, type AuthTarget, type Authenticator, type HeadersOnly } from './authenticator.js'

export interface BearerOptions {
  readonly realm: string
  readonly tokens: readonly string[]
}

function digest (token: string): Buffer {
  return createHash('sha256').update(token).digest()
}

export class BearerAuthenticator implements Authenticator {
  private readonly digests: readonly Buffer[]
  /** `tokens[i]`: the principal of each token, by its place in the config. */
  private readonly ids: readonly string[]
  private readonly challenge: string
  private readonly invalidChallenge: string
  private readonly malformedChallenge: string

  constructor (options: BearerOptions) {
    this.digests = options.tokens.map(digest)
    this.ids = options.tokens.map((_token, i) => `tokens[${i}]`)
    this.challenge = `Bearer realm=${quoted(options.realm)}`
    this.invalidChallenge = `${this.challenge}, error="invalid_token"`
    this.malformedChallenge = `${this.challenge}, error="invalid_request"`
  }

  /**
   * request_filter: a missing token (or another scheme) and a wrong one both get 401, with
   * RFC 6750's challenge (`error="invalid_token"` when one was presented). The principal
   * is `{ id: "tokens[<n>]" }`, the matching token's place in `auth.tokens`.
   */
  authenticate (request: HeadersOnly, ctx: AuthTarget): void {
    const token = credentialsOf(request, 'bearer')
    if (token === MISSING) throw unauthorized('a bearer token is required', this.challenge)
    if (token === MALFORMED) throw unauthorized('the Authorization header is malformed', this.malformedChallenge)
    const presented = digest(token)
    const digests = this.digests
    let found = -1
    for (let i = 0; i < digests.length; i++) {
      // Every token is compared, a match or not: the time taken does not say which matched.
      if (timingSafeEqual(presented, digests[i] as Buffer) && found < 0) found = i
    }
    if (found < 0) throw unauthorized('the bearer token is not valid', this.invalidChallenge)
    ctx.principal = { id: this.ids[found] }
  }

  async close (): Promise<void> {}
}
