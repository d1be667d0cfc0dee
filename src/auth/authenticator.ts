/**
 * What every auth scheme is to the auth plugin: one Authenticator per route, built when an
 * app version is built, whose `authenticate` runs in request_filter. It sets who the client
 * is on the request's context, or throws (or rejects with) a typed error: UNAUTHORIZED 401
 * with a `WWW-Authenticate` challenge when credentials are missing or invalid, FORBIDDEN
 * 403 when they are valid but refused, 503 when the check itself could not be made.
 *
 * Credentials never appear in an error message, a log line or a thrown error's detail.
 */
import type { FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import { Unauthorized, type GatewayError } from '../errors.js'

/** The fields of the RequestContext that authentication fills. */
export interface AuthTarget {
  principal: Record<string, unknown> | null
  upstreamHeaders: Record<string, string> | null
}

/** What bearer, basic and jwt read of a request: its headers. Custom hooks get the request. */
export interface HeadersOnly {
  readonly headers: IncomingHttpHeaders
  /** The header lines as received: Node keeps only the first of several Authorization headers. */
  readonly raw?: { readonly rawHeaders: readonly string[] }
}

export interface Authenticator {
  /**
   * request_filter: who the client is. Sets `ctx.principal` (and `ctx.upstreamHeaders`
   * when something is forwarded) and returns, or resolves; otherwise throws or rejects
   * with a GatewayError. Synchronous where it can be (static tokens, a JWT verified with a
   * key in memory): no promise is made on their hot path.
   */
  authenticate (request: FastifyRequest, ctx: AuthTarget): void | Promise<void>
  /** Releases what it holds (connections to a JWKS endpoint). */
  close (): Promise<void>
}

/**
 * The longest credentials looked at: a JWT is rarely over 2 KB, a Basic pair far less.
 * Longer ones are refused before any decoding or hashing, whatever
 * `server.limits.maxHeaderSize` lets through.
 */
export const MAX_CREDENTIALS_LENGTH = 16 * 1024

/** No credentials of the scheme: no Authorization header, or one of another scheme. */
export const MISSING: unique symbol = Symbol('missing credentials')
/** The scheme is right but what follows cannot be credentials (empty, or too long). */
export const MALFORMED: unique symbol = Symbol('malformed credentials')

/**
 * The credentials of `scheme` (lower case: `bearer`, `basic`) in the request's Authorization
 * header: `<scheme> 1*SP <credentials>` (RFC 9110 §11.6.2), the scheme in any case.
 * Several Authorization headers are malformed, not "the first one": a proxy in front that
 * read another of them would disagree with the gateway on who the client is.
 */
export function credentialsOf (request: HeadersOnly, scheme: string): string | typeof MISSING | typeof MALFORMED {
  const header = request.headers.authorization
  if (header === undefined) return MISSING
  if (request.raw !== undefined && repeated(request.raw.rawHeaders, 'authorization')) return MALFORMED
  if (header === '') return MISSING
  if (header.length > MAX_CREDENTIALS_LENGTH) return MALFORMED
  const space = header.indexOf(' ')
  const name = space < 0 ? header : header.slice(0, space)
  if (name.length !== scheme.length || name.toLowerCase() !== scheme) return MISSING
  const credentials = space < 0 ? '' : header.slice(space + 1).trim()
  return credentials === '' ? MALFORMED : credentials
}

/** True when the header `name` (lower case) appears more than once among `rawHeaders`. */
function repeated (rawHeaders: readonly string[], name: string): boolean {
  let seen = false
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const header = rawHeaders[i] as string
    if (header.length !== name.length || header.toLowerCase() !== name) continue
    if (seen) return true
    seen = true
  }
  return false
}

/** `realm="…"` with `"` and `\` escaped (RFC 9110 §5.6.4 quoted-string). */
export function quoted (value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`
}

/** A 401 carrying its challenge. */
export function unauthorized (message: string, challenge: string): GatewayError {
  const error = new Unauthorized(message) as GatewayError
  error.headers = { 'www-authenticate': challenge }
  return error
}

/**
 * Settles like `promise`, or rejects with `onTimeout()` once `ms` have passed: the bound on
 * everything auth waits for (a custom hook, a JWKS fetch), so a request never hangs on it.
 */
export async function withTimeout<T> (promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms)
    promise.then(
      value => { clearTimeout(timer); resolve(value) },
      (err: unknown) => { clearTimeout(timer); reject(err) }
    )
  })
}
