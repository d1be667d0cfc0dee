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

/** An upstream status outside 100-599: not HTTP the gateway can pass on. */
export class InvalidStatusError extends Error {
  readonly code = 'TOLLGATE_INVALID_STATUS'
  constructor (statusCode: number) {
    super(`upstream answered with status ${statusCode}`)
  }
}

/** An HTTP/2 session to the upstream closed (or failed) before the stream could finish. */
export class H2SessionClosedError extends Error {
  readonly code = 'TOLLGATE_H2_SESSION_CLOSED'
}

/**
 * The upstream (or nghttp2, for a frame it refused) reset an HTTP/2 stream. `rstCode` is
 * the RST_STREAM error code (RFC 9113 §7), which a gRPC status can be derived from.
 */
export class H2StreamResetError extends Error {
  readonly code: 'TOLLGATE_H2_STREAM_RESET' | 'TOLLGATE_H2_PROTOCOL'
  readonly rstCode: number
  constructor (rstCode: number, options?: { cause?: unknown }) {
    super(`the upstream's HTTP/2 stream was reset (${H2_ERROR_NAMES[rstCode] ?? `error code ${rstCode}`})`, options)
    this.rstCode = rstCode
    this.code = H2_PROTOCOL_ERRORS.has(rstCode) ? 'TOLLGATE_H2_PROTOCOL' : 'TOLLGATE_H2_STREAM_RESET'
  }
}

/** An upstream's response header block (or trailers) over the gateway's limit. */
export class HeadersTooLargeError extends Error {
  readonly code = 'TOLLGATE_HEADERS_TOO_LARGE'
  constructor (size: number, limit: number) {
    super(`the upstream's header block is ${size} bytes, over the limit of ${limit}`)
  }
}

/** RFC 9113 §7 error codes. */
const H2_ERROR_NAMES: readonly string[] = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED',
  'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED'
]

/** Resets that mean the upstream spoke HTTP/2 wrongly (or sent what the gateway refuses, as an oversized header block). */
const H2_PROTOCOL_ERRORS: ReadonlySet<number> = new Set([1, 3, 6, 9])

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
  'ERR_SOCKET_CLOSED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER', 'EPROTO',
  'TOLLGATE_PROXY_TUNNEL'
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
  if (code === 'TOLLGATE_H2_PROTOCOL' || code === 'TOLLGATE_HEADERS_TOO_LARGE') return 'protocol'
  // A session that failed or closed, or a stream reset before the response began, is the
  // HTTP/2 form of a reset connection.
  if (code === 'TOLLGATE_H2_STREAM_RESET' || code === 'TOLLGATE_H2_SESSION_CLOSED' || code.startsWith('ERR_HTTP2_')) return 'connect'
  if (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'TOLLGATE_INVALID_STATUS') return 'protocol'
  // OpenSSL verification failures carry their own codes (CERT_HAS_EXPIRED, SELF_SIGNED_CERT_IN_CHAIN…).
  if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || /CERT|SIGNATURE|ISSUER/.test(code)) return 'connect'
  return 'other'
}

export interface FailureContext {
  readonly upstream: string
  /** The target tried last, or null when none was. */
  readonly target: string | null
  readonly connectMs: number
  readonly responseMs: number
}

/**
 * The contract error for a failed attempt, with the original error as `cause`. Its message
 * says what failed in general terms; names, addresses and the low-level error go into
 * `detail`, which is logged with the request id and never sent.
 */
export function toGatewayError (err: unknown, kind: FailureKind, context: FailureContext): GatewayError {
  const cause = { cause: err }
  let error: GatewayError
  let limit = ''
  switch (kind) {
    case 'connect-timeout':
      error = new UpstreamTimeout('accept the connection', cause) as GatewayError
      limit = ` (connect timeout ${formatDuration(context.connectMs)})`
      break
    case 'response-timeout':
      error = new UpstreamTimeout('respond', cause) as GatewayError
      limit = ` (response timeout ${formatDuration(context.responseMs)})`
      break
    case 'body-timeout':
      error = new UpstreamTimeout('send the rest of its response', cause) as GatewayError
      limit = ` (response timeout ${formatDuration(context.responseMs)} between reads)`
      break
    default:
      error = new UpstreamUnavailable(whatFailed(err, kind), cause) as GatewayError
  }
  error.detail = `upstream ${context.upstream}, target ${context.target ?? 'none'}: ${describe(err)}${limit}`
  error.source = kind === 'aborted' ? 'downstream' : 'upstream'
  error.retryable = kind === 'connect' || kind === 'connect-timeout' || kind === 'response-timeout'
  return error
}

export function noAvailableTarget (upstream: string): GatewayError {
  const error = new NoHealthyUpstream() as GatewayError
  error.detail = `upstream ${upstream}: no target is enabled, healthy and untried`
  error.source = 'upstream'
  return error
}

/** In general terms, for the client: "the upstream server …". */
function whatFailed (err: unknown, kind: FailureKind): string {
  if (kind === 'protocol') return 'sent an invalid response'
  switch (errorCode(err)) {
    case 'ECONNREFUSED':
      return 'refused the connection'
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'ERR_SOCKET_CLOSED':
    case 'TOLLGATE_H2_STREAM_RESET':
    case 'TOLLGATE_H2_SESSION_CLOSED':
      return 'closed the connection before answering'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'could not be found'
    case 'TOLLGATE_PROXY_TUNNEL':
      return 'could not be reached through the proxy'
  }
  const code = errorCode(err) ?? ''
  if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code === 'EPROTO' || /CERT|SIGNATURE|ISSUER/.test(code)) {
    return 'failed the TLS handshake'
  }
  return 'could not be reached'
}

function describe (err: unknown): string {
  const code = errorCode(err)
  let inner: unknown = err
  while (inner instanceof Error && (inner as { cause?: unknown }).cause instanceof Error) inner = (inner as { cause: unknown }).cause
  const message = inner instanceof Error ? inner.message : String(inner)
  return code !== undefined && !message.includes(code) ? `${code} ${message}` : message
}
