/**
 * One typed error per error code of the contract (§5). Everything that answers a request
 * with an error throws or sends one of these; the error handler plugin turns it into
 * `{"error":{"status","code","message","requestId"}}`. Tests assert `body.error.code`.
 */
import createError from '@fastify/error'

/** Who caused an error, as Pingora's ErrorSource: it decides logging and retries. */
export type ErrorSource = 'upstream' | 'downstream' | 'internal'

export interface GatewayError extends Error {
  readonly code: string
  readonly statusCode: number
  /** The upstream failed before its response began: the next target may be tried. */
  retryable?: boolean
  source?: ErrorSource
  /** Extra response headers the error carries (Retry-After, WWW-Authenticate). */
  headers?: Record<string, string>
  /**
   * What failed, for the log only (upstream, target, the low-level error): the client's
   * body says what failed in general terms and never names addresses, sockets or hosts.
   */
  detail?: string
}

/** Format arguments, then optionally `{ cause }` (kept as the error's cause). */
type ErrorArgs = [unknown?, unknown?, unknown?, { cause?: unknown }?]

function define (code: string, status: number, message: string) {
  return createError<string, number, ErrorArgs>(code, message, status)
}

export const RouteNotFound = define('ROUTE_NOT_FOUND', 404, 'no route matches %s %s')
/** Connection refused or reset, garbage answer, TLS failure: the upstream could not answer. */
export const UpstreamUnavailable = define('UPSTREAM_UNAVAILABLE', 502, 'the upstream server %s')
export const NoHealthyUpstream = define('NO_HEALTHY_UPSTREAM', 503, 'no upstream server is available')
export const UpstreamTimeout = define('UPSTREAM_TIMEOUT', 504, 'the upstream server did not %s in time')
export const RateLimited = define('RATE_LIMITED', 429, 'rate limit exceeded')
export const TooManyConcurrent = define('TOO_MANY_CONCURRENT', 429, 'too many concurrent requests')
export const PayloadTooLarge = define('PAYLOAD_TOO_LARGE', 413, 'request body is larger than %s')
export const RequestBlocked = define('REQUEST_BLOCKED', 403, 'request blocked')
export const IpForbidden = define('IP_FORBIDDEN', 403, 'address %s is not allowed')
export const Unauthorized = define('UNAUTHORIZED', 401, '%s')
export const Forbidden = define('FORBIDDEN', 403, '%s')
/**
 * Authentication could not decide in time, or at all: a custom auth hook past
 * `auth.timeout`, a JWKS endpoint that is down. The contract has no code of its own for
 * this; NO_HEALTHY_UPSTREAM is its 503 ("the service that answers is unavailable"), and a
 * client should retry as it would then. The message says which service it was.
 */
export const AuthUnavailable = define('NO_HEALTHY_UPSTREAM', 503, '%s')
/**
 * A rate limit could not be counted: its store (Redis) failed or did not answer, and the
 * route says `onStoreError: closed`. As for AuthUnavailable, the contract's 503 code.
 */
export const RateLimitStoreUnavailable = define('NO_HEALTHY_UPSTREAM', 503, 'the rate limit store is unavailable')
export const BadRequest = define('BAD_REQUEST', 400, '%s')
/** Admin API: the upstream or target a path names does not exist. */
export const NotFound = define('NOT_FOUND', 404, '%s')
/**
 * Admin API: the config could not be shared, because Redis (where instances share it) did
 * not answer; nothing was changed anywhere.
 */
export const ConfigStoreUnavailable = define('CONFIG_STORE_UNAVAILABLE', 503, '%s')
/** The request said `Cache-Control: only-if-cached` and nothing usable is stored (RFC 9111 §5.2.1.7). */
export const NotCached = define('NOT_CACHED', 504, '%s')
/** PURGE or `POST /cache/purge` while the cache's store (Redis) does not answer. */
export const CacheStoreUnavailable = define('CACHE_STORE_UNAVAILABLE', 503, '%s')
/** A fault of the gateway itself (a bug, or a user hook that threw). */
export const InternalError = define('INTERNAL_ERROR', 500, '%s')

/** True for errors raised by the gateway's own classes above. */
export function isGatewayError (err: unknown): err is GatewayError {
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined
  return typeof code === 'string' && GATEWAY_CODES.has(code)
}

const GATEWAY_CODES: ReadonlySet<string> = new Set([
  'ROUTE_NOT_FOUND', 'UPSTREAM_UNAVAILABLE', 'NO_HEALTHY_UPSTREAM', 'UPSTREAM_TIMEOUT', 'RATE_LIMITED',
  'TOO_MANY_CONCURRENT', 'PAYLOAD_TOO_LARGE', 'REQUEST_BLOCKED', 'IP_FORBIDDEN', 'UNAUTHORIZED',
  'FORBIDDEN', 'BAD_REQUEST', 'NOT_FOUND', 'CONFIG_STORE_UNAVAILABLE', 'NOT_CACHED', 'CACHE_STORE_UNAVAILABLE', 'INTERNAL_ERROR'
])
