/**
 * `auth.type: jwt`: a JSON Web Token as a bearer token, verified with an HMAC `secret`, a
 * `publicKey` read at load, or the keys of a `jwksUrl`.
 *
 * Built on fast-jwt, the engine of @fastify/jwt, used directly: @fastify/jwt is a plugin
 * that decorates the request once per registration (several keys mean one `namespace`
 * registration each, a decorator name per route, and its own error replies to translate),
 * whereas a route here only needs a verifier function of its own, built once with the
 * route's key, algorithms, issuer and audience. It also keeps this file free of Fastify,
 * so it is tested without a server.
 *
 * What is refused, each with 401 and `WWW-Authenticate: Bearer realm="…",
 * error="invalid_token"`: a token that is not three base64url parts of JSON, a signature
 * that does not verify, an algorithm not in the route's list (`none` never is, and an
 * HMAC algorithm never is on a route verified by a public key: an HS256 token "signed"
 * with the public key as its secret is refused as an algorithm, before any signature is
 * checked), `exp` passed or `nbf` not reached (give or take `clockTolerance`), an `iss` or
 * `aud` not listed, or missing when the route lists some.
 */
import { createVerifier, TokenError } from 'fast-jwt'
import { AuthUnavailable, isGatewayError, type GatewayError } from '../errors.js'
import { MALFORMED, MISSING, credentialsOf, quoted, unauthorized, withTimeout, type AuthTarget, type Authenticator, type HeadersOnly } from './authenticator.js'
import { VerifiedTokens, rememberedKey } from './verified-tokens.js'
import type { CompiledJwtAuth } from './config.js'
import { JwksKeySource, SigningKeysUnavailable, UnknownSigningKey, type JwksOptions } from './jwks.js'

/**
 * What a JWT route is checked with: its compiled `auth` (`timeoutMs` bounds the wait for
 * the JWKS), and JWKS tuning and clock for tests.
 */
export type JwtOptions = Omit<CompiledJwtAuth, 'type' | 'forward'> & {
  readonly jwks?: Omit<JwksOptions, 'timeoutMs'>
}

type Claims = Record<string, unknown>

export class JwtAuthenticator implements Authenticator {
  private readonly verifySync: ((token: string) => Claims) | null
  private readonly verifyAsync: ((token: string) => Promise<Claims>) | null
  private readonly keys: JwksKeySource | null
  private readonly timeoutMs: number
  private readonly forwarded: readonly (readonly [claim: string, header: string])[]
  private readonly challenge: string
  private readonly invalidChallenge: string
  private readonly verified: VerifiedTokens<Claims>

  constructor (options: JwtOptions) {
    this.timeoutMs = options.timeoutMs
    this.forwarded = Object.entries(options.forwardClaims)
    this.verified = new VerifiedTokens(options.clockToleranceMs)
    this.challenge = `Bearer realm=${quoted(options.realm)}`
    this.invalidChallenge = `${this.challenge}, error="invalid_token"`
    const algorithms = [...options.algorithms]
    if (algorithms.length === 0 || algorithms.includes('none')) throw new Error('a jwt route needs algorithms, and never "none"')
    const required = [...(options.issuer === null ? [] : ['iss']), ...(options.audience === null ? [] : ['aud'])]
    const common = {
      algorithms: algorithms as never,
      ...(options.issuer === null ? {} : { allowedIss: [...options.issuer] }),
      ...(options.audience === null ? {} : { allowedAud: [...options.audience] }),
      // fast-jwt checks iss and aud only when present: listing them makes them required.
      ...(required.length === 0 ? {} : { requiredClaims: required }),
      clockTolerance: options.clockToleranceMs,
      // Verified tokens are remembered by VerifiedTokens (it says why not here).
      cache: false
    }
    if (options.jwksUrl !== null) {
      const keys = new JwksKeySource(options.jwksUrl, { ...options.jwks, timeoutMs: options.timeoutMs })
      this.keys = keys
      const accepted = new Set(algorithms)
      this.verifySync = null
      this.verifyAsync = createVerifier({
        ...common,
        key: async ({ header }: { header: Record<string, unknown> }) => {
          // Checked before anything is fetched: a token naming another algorithm, or
          // none, costs no request to the key server.
          const alg = header.alg
          const kid = header.kid
          if (typeof alg !== 'string' || !accepted.has(alg)) throw new TokenError(TokenError.codes.invalidAlgorithm, 'The token algorithm is invalid.')
          if (kid !== undefined && typeof kid !== 'string') throw new TokenError(TokenError.codes.malformed, 'The token kid is not a string.')
          return await keys.key(alg, kid)
        }
      }) as unknown as (token: string) => Promise<Claims>
    } else {
      this.keys = null
      this.verifyAsync = null
      this.verifySync = createVerifier({ ...common, key: (options.secret ?? options.publicKey) as string }) as unknown as (token: string) => Claims
    }
  }

  /**
   * request_filter: no token → 401 (`Bearer realm="…"`), an invalid one → 401 with
   * `error="invalid_token"`, keys that cannot be fetched within `auth.timeout` → 503.
   * `ctx.principal` is the verified claims (frozen: one verified token's claims are shared
   * by its requests); `forwardClaims` become `ctx.upstreamHeaders`.
   */
  authenticate (request: HeadersOnly, ctx: AuthTarget): void | Promise<void> {
    const token = credentialsOf(request, 'bearer')
    if (token === MISSING) throw unauthorized('a bearer token is required', this.challenge)
    if (token === MALFORMED) throw unauthorized('the Authorization header is malformed', `${this.challenge}, error="invalid_request"`)
    const key = rememberedKey(token)
    const remembered = this.verified.get(key, Date.now())
    if (remembered !== undefined) {
      this.accept(remembered, ctx)
      return
    }
    const verifySync = this.verifySync
    if (verifySync !== null) {
      let claims: Claims
      try {
        claims = verifySync(token)
      } catch (err) {
        throw this.refusal(err)
      }
      this.verified.remember(key, this.accept(claims, ctx), Date.now())
      return
    }
    const verifying = (this.verifyAsync as (token: string) => Promise<Claims>)(token)
    return withTimeout(verifying, this.timeoutMs, () => keysTimedOut(this.keys as JwksKeySource, this.timeoutMs)).then(
      claims => { this.verified.remember(key, this.accept(claims, ctx), Date.now()) },
      (err: unknown) => { throw this.refusal(err) }
    )
  }

  /** Sets the principal and forwarded claims; returns the claims, frozen (to be remembered). */
  private accept (claims: Claims, ctx: AuthTarget): Claims {
    const principal = Object.isFrozen(claims) ? claims : deepFreeze(claims)
    ctx.principal = principal
    const forwarded = this.forwarded
    if (forwarded.length === 0) return principal
    let headers: Record<string, string> | null = null
    for (const [claim, header] of forwarded) {
      const value = headerValueOf(claims[claim])
      if (value === null) continue
      headers ??= {}
      headers[header] = value
    }
    ctx.upstreamHeaders = headers
    return principal
  }

  /** The error a failed verification answers with. */
  private refusal (err: unknown): GatewayError {
    if (isGatewayError(err)) return err
    // What the key function threw, wrapped by fast-jwt as "cannot fetch key".
    const fetching = err instanceof TokenError && err.code === TokenError.codes.keyFetchingError
      ? (err as TokenError & { originalError?: unknown }).originalError
      : undefined
    if (fetching instanceof SigningKeysUnavailable) {
      const unavailable = new AuthUnavailable('the signing keys could not be fetched', { cause: fetching }) as GatewayError
      unavailable.detail = `jwks ${(this.keys as JwksKeySource).url}: ${fetching.message}`
      return unavailable
    }
    if (fetching instanceof UnknownSigningKey) return unauthorized('the token\'s signing key is unknown', this.invalidChallenge)
    return unauthorized(messageFor(err), this.invalidChallenge)
  }

  async close (): Promise<void> {
    await this.keys?.close()
  }
}

function keysTimedOut (keys: JwksKeySource, ms: number): GatewayError {
  const error = new AuthUnavailable('the signing keys could not be fetched in time') as GatewayError
  error.detail = `jwks ${keys.url}: no answer within ${ms} ms`
  return error
}

const MESSAGES: Readonly<Record<string, string>> = {
  [TokenError.codes.expired]: 'the token has expired',
  [TokenError.codes.inactive]: 'the token is not valid yet',
  [TokenError.codes.invalidAlgorithm]: 'the token\'s algorithm is not accepted',
  [TokenError.codes.invalidSignature]: 'the token\'s signature is not valid',
  [TokenError.codes.missingSignature]: 'the token is not signed',
  [TokenError.codes.invalidKey]: 'the token\'s algorithm is not accepted',
  [TokenError.codes.missingRequiredClaim]: 'the token lacks a required claim (iss or aud)',
  [TokenError.codes.invalidClaimValue]: 'the token\'s issuer or audience is not accepted',
  [TokenError.codes.invalidClaimType]: 'the token has a claim of the wrong type',
  [TokenError.codes.malformed]: 'the token is malformed',
  [TokenError.codes.invalidPayload]: 'the token is malformed',
  [TokenError.codes.invalidType]: 'the token is malformed',
  [TokenError.codes.invalidCritHeader]: 'the token has a critical header that is not supported'
}

/** What the client is told; fast-jwt's own messages may quote the token's values. */
function messageFor (err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  return (typeof code === 'string' ? MESSAGES[code] : undefined) ?? 'the token is not valid'
}

/** Node's rule for header values (as config/http-names.ts). */
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/

/**
 * A claim as a header value: strings as they are, numbers and booleans as text, anything
 * else as JSON. null when absent, or when it holds what a header cannot (a line break, a
 * character beyond U+00FF): such a claim is not forwarded, and the client's own copy of
 * the header is not either.
 */
function headerValueOf (value: unknown): string | null {
  if (value === undefined || value === null) return null
  const text = typeof value === 'string' ? value : (typeof value === 'number' || typeof value === 'boolean') ? String(value) : JSON.stringify(value)
  return INVALID_VALUE_CHAR.test(text) ? null : text
}

function deepFreeze<T> (value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  return Object.freeze(value)
}
