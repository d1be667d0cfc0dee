/**
 * A route's rate limit: who shares a count (the key), how hits are counted (fixed or
 * sliding window) and where the counts live (a CounterStore). The limit is checked in
 * request_filter, after auth, so a key may name who the client is.
 *
 * Keys: `ip` the client address (ctx.ip: the peer, or the right-most untrusted
 * X-Forwarded-For when the peer is a trusted proxy); `route` everyone on the route;
 * `header:<name>` the header's value; `claim:<name>` that claim of the principal auth
 * set; `principal` the principal's `id` (or, for a JWT's claims, `sub`). A request
 * without the value (no such header, no principal, no such claim, an empty or non-scalar
 * value) is counted by its client address instead, as `ip` would: leaving the header out
 * must not be a way around the limit, and clients without it do not all share one count.
 * The kinds never share a count: a header whose value is an address is not that
 * address's count.
 */
import { createHash } from 'node:crypto'
import type { CompiledRateLimit, LimitKey } from './config.js'
import type { CounterStore } from '../stores/counter-store.js'
import type { WindowCount } from './windows.js'
import { RateLimitStoreUnavailable, RateLimited, type GatewayError } from '../errors.js'

/** What a key is read from: the request's context (RequestContext satisfies it). */
export interface LimitSubject {
  readonly ip: string
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly principal: Readonly<Record<string, unknown>> | null
}

export type KeyOf = (subject: LimitSubject) => string

/** Values longer than this are keyed by their SHA-256, so a client cannot make keys of any size. */
export const MAX_KEY_VALUE_LENGTH = 128

function bounded (value: string): string {
  return value.length <= MAX_KEY_VALUE_LENGTH ? '=' + value : '#' + createHash('sha256').update(value).digest('base64url')
}

function scalar (value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  return null
}

const byIp: KeyOf = (subject) => 'ip:' + subject.ip

function own (principal: Readonly<Record<string, unknown>>, name: string): string | null {
  return Object.hasOwn(principal, name) ? scalar(principal[name]) : null
}

/**
 * Who the principal is: its `id` (bearer, basic and most custom hooks), else `sub` (a
 * JWT's principal is its claims, and `sub` is the claim that names the subject).
 */
function principalId (principal: Readonly<Record<string, unknown>> | null): string | null {
  return principal === null ? null : own(principal, 'id') ?? own(principal, 'sub')
}

/** The function that reads a request's key, built once per route. */
export function compileKeyOf (key: LimitKey): KeyOf {
  switch (key.from) {
    case 'ip':
      return byIp
    case 'route':
      return () => 'route'
    case 'principal':
      return (subject) => {
        const id = principalId(subject.principal)
        return id === null ? byIp(subject) : 'principal:' + bounded(id)
      }
    case 'claim': {
      const name = key.name
      return (subject) => {
        const principal = subject.principal
        const value = principal === null ? null : own(principal, name)
        return value === null ? byIp(subject) : 'claim:' + bounded(value)
      }
    }
    case 'header': {
      const name = key.name
      return (subject) => {
        const raw = subject.headers[name]
        const value = Array.isArray(raw) ? raw.join(', ') : raw
        return value === undefined || value === '' ? byIp(subject) : 'header:' + bounded(value)
      }
    }
  }
}

export class RateLimiter {
  readonly route: string
  readonly spec: CompiledRateLimit
  readonly store: CounterStore
  /** The request's key (see the module comment). */
  readonly keyOf: KeyOf
  /**
   * Each route counts apart, and so does each algorithm and window length (a reload that
   * changes them starts new counts instead of reading a state of the other shape). The
   * route name is length-prefixed: no name and key can spell another pair.
   */
  private readonly prefix: string

  constructor (route: string, spec: CompiledRateLimit, store: CounterStore) {
    this.route = route
    this.spec = spec
    this.store = store
    this.keyOf = compileKeyOf(spec.key)
    const algorithm = spec.algorithm === 'fixed-window' ? 'fixed' : 'sliding'
    this.prefix = `${algorithm}:${spec.windowMs}:${route.length}:${route}:`
  }

  /** Counts a hit on `key` (from `keyOf`): above the limit, the request is refused. */
  hit (key: string): WindowCount | Promise<WindowCount> {
    const spec = this.spec
    return spec.algorithm === 'fixed-window'
      ? this.store.fixedWindow(this.prefix + key, spec.windowMs)
      : this.store.slidingWindow(this.prefix + key, spec.windowMs, spec.limit)
  }

  /** The store key `key` is counted under (tests, operations). */
  storeKey (key: string): string {
    return this.prefix + key
  }
}

/** 429 RATE_LIMITED; the limit's headers and Retry-After are already on the reply. */
export function rateLimited (): GatewayError {
  return new RateLimited() as GatewayError
}

/**
 * 503 (`onStoreError: closed`): nothing could be counted, so the client is told to come
 * back in a second, with the limit's headers as on every response of the route.
 */
export function rateLimitStoreUnavailable (limit: number, cause: unknown): GatewayError {
  const error = new RateLimitStoreUnavailable({ cause }) as GatewayError
  error.headers = { 'retry-after': '1', 'ratelimit-limit': String(limit), 'ratelimit-remaining': '0', 'ratelimit-reset': '1' }
  error.detail = cause instanceof Error ? cause.message : String(cause)
  return error
}
