/**
 * upstream_request_filter, the gateway's own part: the headers of the request sent
 * upstream, built per attempt into a fresh object.
 *
 * The gateway's headers come first (Host, X-Forwarded-*, X-Request-Id, the route's `set`),
 * then the client's: an upstream that keeps only its first N headers (Node keeps 1000)
 * cannot be made to lose them by a client sending junk headers first. What a client sends
 * never overrides them: hop-by-hop headers and `Expect` (answered by the gateway) stay
 * behind, and so do the forwarding headers of a peer that is not a trusted proxy — every
 * `X-Forwarded-*`, `Forwarded` and `X-Real-IP` — so an upstream can believe what it gets.
 * Header names with `_` are dropped by default (nginx does the same): CGI and WSGI servers
 * read `X_Forwarded_For` as `X-Forwarded-For`.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { HOP_BY_HOP, type HeaderMap, type HeaderRules } from '../routing/header-rules.js'
import type { TrustCheck } from '../net/trust.js'

export interface UpstreamHeadersOptions {
  /** The route's `requestHeaders`, or null. */
  readonly rules: HeaderRules | null
  /** Sent as Host instead of the client's (the upstream's tls.servername), or null. */
  readonly hostOverride: string | null
  /** Whose forwarding headers are believed. */
  readonly trust: TrustCheck
  /** Forward header names containing `_`. */
  readonly underscores: boolean
  /**
   * Client headers never forwarded on this route, lower-cased: `authorization` when the
   * route authenticates without `auth.forward`, and the headers the gateway itself sets
   * from what auth found (a client must not send its own `x-user-id`).
   */
  readonly withheld?: readonly string[]
}

/** The parts of a client request the upstream headers are built from. */
export interface ClientRequestHead {
  readonly headers: IncomingHttpHeaders
  /** The peer's address (the socket's, not X-Forwarded-For). */
  readonly peer: string
  /** True when the client connection is TLS. */
  readonly tls: boolean
  readonly requestId: string
  /** Headers the gateway adds for this request (forwarded JWT claims…), or null. */
  readonly extra?: Readonly<Record<string, string>> | null
}

/** Never copied from the client: the gateway writes, answers or drops them itself. */
const GATEWAY_OWNED: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP, 'expect', 'host', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'
])

/** Dropped from peers that are not trusted proxies, besides every `x-forwarded-*`. */
const FORWARDING: ReadonlySet<string> = new Set(['forwarded', 'x-real-ip'])

export class UpstreamHeaders {
  private readonly rules: HeaderRules | null
  private readonly hostOverride: string | null
  private readonly trust: TrustCheck
  private readonly underscores: boolean
  /** Names the gateway would send that the route removes or sets itself. */
  private readonly routeOwns: ReadonlySet<string>

  constructor (options: UpstreamHeadersOptions) {
    this.rules = options.rules
    this.hostOverride = options.hostOverride
    this.trust = options.trust
    this.underscores = options.underscores
    this.routeOwns = new Set([...(options.rules?.set.keys() ?? []), ...(options.rules?.remove ?? []), ...(options.withheld ?? [])])
  }

  /** The headers for one attempt, in the order they are sent. */
  build (client: ClientRequestHead): HeaderMap {
    const incoming = client.headers
    const trusted = this.trust(client.peer)
    const headers: HeaderMap = {}
    const owns = this.routeOwns
    const host = this.hostOverride ?? incoming.host
    if (host !== undefined && !owns.has('host')) headers.host = host
    if (!owns.has('x-forwarded-for')) {
      const chain = trusted ? incoming['x-forwarded-for'] : undefined
      headers['x-forwarded-for'] = chain === undefined ? client.peer : `${chain}, ${client.peer}`
    }
    if (!owns.has('x-forwarded-proto')) {
      headers['x-forwarded-proto'] = (trusted ? incoming['x-forwarded-proto'] : undefined) ?? (client.tls ? 'https' : 'http')
    }
    if (!owns.has('x-forwarded-host')) {
      const forwardedHost = (trusted ? incoming['x-forwarded-host'] : undefined) ?? incoming.host
      if (forwardedHost !== undefined) headers['x-forwarded-host'] = forwardedHost
    }
    if (!owns.has('x-request-id')) headers['x-request-id'] = client.requestId
    if (asksForTrailers(incoming.te)) headers.te = 'trailers'
    const extra = client.extra
    if (extra != null) for (const name in extra) headers[name] = extra[name]
    const rules = this.rules
    if (rules !== null) for (const [name, value] of rules.set) headers[name] = value
    const connection = incoming.connection
    const listed = typeof connection === 'string' ? connectionListed(connection) : null
    for (const name in incoming) {
      // HTTP/2's pseudo-header fields (`:path`…) describe the client's request, not headers.
      if (GATEWAY_OWNED.has(name) || owns.has(name) || name.charCodeAt(0) === 58 /* : */) continue
      if (!this.underscores && name.includes('_')) continue
      if (!trusted && (FORWARDING.has(name) || name.startsWith('x-forwarded-'))) continue
      if (listed !== null && listed.includes(name)) continue
      headers[name] = incoming[name]
    }
    if (rules !== null) {
      for (const [from, to] of rules.copy) {
        const value = incoming[from]
        if (value !== undefined && !rules.set.has(to)) headers[to] = value
      }
    }
    return headers
  }
}

/** `TE: trailers` (RFC 9110 §10.1.4), possibly among codings with q-values. */
export function asksForTrailers (te: string | string[] | undefined): boolean {
  if (te === undefined) return false
  if (te === 'trailers') return true
  if (Array.isArray(te)) return te.some(asksForTrailers)
  for (const item of te.split(',')) {
    const coding = item.split(';', 1)[0]?.trim().toLowerCase()
    if (coding === 'trailers') return true
  }
  return false
}

/** Header names the client's Connection header lists (RFC 9110 §7.6.1), or null. */
function connectionListed (connection: string): string[] | null {
  // Almost always just "keep-alive" or "close": no list to take apart then.
  if (connection === 'keep-alive' || connection === 'close') return null
  return connection.split(',').map(name => name.trim().toLowerCase())
}
