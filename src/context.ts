/**
 * RequestContext: Pingora's CTX. One per request, created in the first onRequest hook with
 * every field set in the constructor (a fixed shape keeps property access monomorphic),
 * and handed to every phase and user hook of that request. It is also what balancers read
 * (BalancerInput), so choosing a target allocates nothing more.
 */
import type { FastifyRequest } from 'fastify'
import type { CompiledRoute } from './config/compile.js'
import type { RouteMatch } from './routing/matcher.js'
import type { Upstream } from './upstream/upstream.js'
import type { Target } from './upstream/target.js'
import type { UpstreamAttempt } from './upstream/attempt.js'
import type { BalancerInput } from './upstream/balancer/index.js'
import type { GatewayError } from './errors.js'
import type { DeferredBody } from './proxy/body.js'
import type { Readable } from 'node:stream'
import type { CacheExchange, CacheStatus } from './cache/route-cache.js'

/** Where the context is also kept on the raw request, for code outside Fastify (the listener). */
export const kRequestContext = Symbol('tollgate.requestContext')

export class RequestContext implements BalancerInput {
  readonly route: CompiledRoute
  /** The match: normalised path, query, the prefix's `rest`, regex captures. */
  readonly match: RouteMatch<CompiledRoute>
  readonly requestId: string
  /** The upstream serving this route, or null for transparent routes. */
  readonly upstream: Upstream | null
  /** Path sent upstream, after rewrites. */
  upstreamPath: string
  /** Query sent upstream (without `?`), after rewrites. */
  upstreamQuery: string
  /** The balancer's remaining choices for retries. */
  candidates: Iterator<Target> | null = null
  /** A fallback already taken from `candidates` (to know a retry is possible). */
  reserved: Target | null = null
  /** The target of the current (or last) attempt. */
  target: Target | null = null
  /** The attempt in flight, to cancel it when the client goes away. */
  attempt: UpstreamAttempt | null = null
  /** The client's body stream, kept while a retry could still resend it. */
  bodySource: Readable | null = null
  /** The first bytes of the body, read (and inspected) before the handler; sent first. */
  bodyPrefix: Buffer | null = null
  /** `100 Continue` was sent already (inspection needed the body before the handler ran). */
  continued = false
  /** Bytes the body may have when it declared no length (counted as read), else Infinity. */
  bodyLimit = Infinity
  /** The wrapper handed to the current attempt (see DeferredBody). */
  body: DeferredBody | null = null
  /** How many attempts were made. */
  tries = 0
  /** performance.now() when the first attempt was handed to its upstream, else -1. */
  upstreamStartedAt = -1
  /** The error the request failed with, if it did. */
  error: GatewayError | null = null
  /** A gRPC call's deadline passed: the client was answered, the attempt's end is moot. */
  deadlinePassed = false
  /** On a cached route: what the cache did (`x-cache-status`); null elsewhere. */
  cacheStatus: CacheStatus | null = null
  /** On a cached route: the cache's part in this request's upstream exchange, if any. */
  cacheExchange: CacheExchange | null = null
  /**
   * Who the client is, once auth has run: a custom hook's principal, the JWT's claims, or
   * `{ id: <user name> }` for basic auth. null before auth, and on routes without it.
   */
  principal: Record<string, unknown> | null = null
  /** Headers the gateway adds upstream for this request (forwarded JWT claims…). */
  upstreamHeaders: Record<string, string> | null = null
  /**
   * Called once when the response closes, however it ends (sent, failed, client gone):
   * where a request gives back what it holds (a concurrency slot). Set by request_filter
   * plugins; null when nothing is held.
   */
  onClose: (() => void) | null = null
  private readonly request: FastifyRequest
  private userState: Record<string, unknown> | null = null
  private clientIp: string | null = null

  constructor (request: FastifyRequest, route: CompiledRoute, match: RouteMatch<CompiledRoute>, upstream: Upstream | null) {
    this.request = request
    this.route = route
    this.match = match
    this.requestId = request.id
    this.upstream = upstream
    this.upstreamPath = match.path
    this.upstreamQuery = match.query
  }

  /** Free-form values user hooks share across the phases of this request. */
  get state (): Record<string, unknown> {
    if (this.userState === null) this.userState = {}
    return this.userState
  }

  // ---- BalancerInput

  /**
   * The client's address: the socket's peer, or, when that peer is in server.trustProxy,
   * the right-most X-Forwarded-For entry that is not. An IPv4 address in IPv6 form
   * (`::ffff:127.0.0.2`) is given as IPv4, so that one address has one spelling for every
   * list and limit. Computed once per request.
   */
  get ip (): string {
    if (this.clientIp === null) this.clientIp = plainAddress(this.request.ip)
    return this.clientIp
  }

  get path (): string {
    return this.match.path
  }

  get query (): string {
    return this.match.query
  }

  get headers (): FastifyRequest['headers'] {
    return this.request.headers
  }
}

/**
 * `::ffff:a.b.c.d` → `a.b.c.d`; any other address unchanged. Node has no address for a
 * socket that closed before anyone asked for it: '' then.
 */
export function plainAddress (address: string | undefined): string {
  if (address === undefined) return ''
  return address.startsWith('::ffff:') && address.indexOf('.', 7) > 0 ? address.slice(7) : address
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The gateway's per-request context; null on requests no route matched. */
    tollgate: RequestContext | null
  }
  interface FastifyContextConfig {
    /** The compiled route a Fastify route serves (set on proxy routes only). */
    tollgate?: CompiledRoute
    /** Its upstream, or null for transparent routes. */
    upstream?: Upstream | null
  }
}
