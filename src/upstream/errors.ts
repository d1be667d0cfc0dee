/**
 * The one place that reads low-level error codes (undici, Node sockets, TLS, the HTTP
 * parser) and turns them into the contract's typed errors, keeping the original as
 * `cause`. Like Pingora's ErrorType, the category decides the status and whether the
 * next target may be tried.
 */
import { NoHealthyUpstream, UpstreamTimeout, UpstreamUnavailable, type GatewayError } from '../errors.js'
import { formatDuration } from '../config/units.js'

export type FailureKind =
  /** Could not connect, or the connection broke before the response began. */
  | 'connect'
  /** No connection within the connect timeout. */
  | 'connect-timeout'
  /** Connected, but no response headers within the response timeout. */
  | 'response-timeout'
  /** The response began, then stalled past the response timeout between body reads. */
  | 'body-timeout'
  /** The upstream answered something that is not HTTP. */
  | 'protocol'
  /** The client went away; nothing is sent. */
  | 'aborted'
  | 'other'

/** Walks `cause` links and returns the first error code found (a wrapper's code last). */
export function errorCode (err: unknown): string | undefined {
  const codes: string[] = []
  let current: unknown = err
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string') codes.push(code)
    current = (current as { cause?: unknown }).cause
  }
  // The innermost code is the real one: reply-from wraps undici's error in its own.
  return codes.length === 0 ? undefined : codes[codes.length - 1]
}

const CONNECT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN',
  'ENOTFOUND', 'EAI_AGAIN', 'ENOENT', 'EACCES', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED',
  'ERR_SOCKET_CLOSED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER', 'EPROTO'
])

/** Classifies an error from one attempt. */
export function classifyFailure (err: unknown): FailureKind {
  const code = errorCode(err)
  if (code === undefined) return 'other'
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'connect-timeout'
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'response-timeout'
    case 'UND_ERR_BODY_TIMEOUT':
      return 'body-timeout'
    case 'UND_ERR_ABORTED':
    case 'ABORT_ERR':
      return 'aborted'
  }
  if (CONNECT_CODES.has(code)) return 'connect'
  if (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return 'protocol'
  // OpenSSL verification failures carry their own codes (CERT_HAS_EXPIRED, SELF_SIGNED_CERT_IN_CHAIN…).
  if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || /CERT|SIGNATURE|ISSUER/.test(code)) return 'connect'
  return 'other'
}

export interface FailureContext {
  readonly upstream: string
  readonly connectMs: number
  readonly responseMs: number
}

/** The contract error for a failed attempt, with the original error as `cause`. */
export function toGatewayError (err: unknown, kind: FailureKind, context: FailureContext): GatewayError {
  const cause = { cause: err }
  const detail = describe(err)
  let error: GatewayError
  switch (kind) {
    case 'connect-timeout':
      error = new UpstreamTimeout(context.upstream, 'accept a connection', formatDuration(context.connectMs), cause) as GatewayError
      break
    case 'response-timeout':
      error = new UpstreamTimeout(context.upstream, 'respond', formatDuration(context.responseMs), cause) as GatewayError
      break
    case 'body-timeout':
      error = new UpstreamTimeout(context.upstream, 'send more of its response', formatDuration(context.responseMs), cause) as GatewayError
      break
    default:
      error = new UpstreamUnavailable(context.upstream, detail, cause) as GatewayError
  }
  error.source = kind === 'aborted' ? 'downstream' : 'upstream'
  error.retryable = kind === 'connect' || kind === 'connect-timeout' || kind === 'response-timeout'
  return error
}

export function noAvailableTarget (upstream: string): GatewayError {
  const error = new NoHealthyUpstream(upstream) as GatewayError
  error.source = 'upstream'
  return error
}

function describe (err: unknown): string {
  const code = errorCode(err)
  let inner: unknown = err
  while (inner instanceof Error && (inner as { cause?: unknown }).cause instanceof Error) inner = (inner as { cause: unknown }).cause
  const message = inner instanceof Error ? inner.message : String(inner)
  return code !== undefined && !message.includes(code) ? `${code} ${message}` : message
}
