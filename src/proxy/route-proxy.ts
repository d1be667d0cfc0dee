/**
 * The proxy for one compiled route: upstream_peer, upstream_request_filter,
 * upstream_response_filter, fail_to_connect / error_while_proxy and fail_to_proxy, in
 * Pingora's terms. Built once per route when the app is built; per request it only
 * rewrites, picks, dispatches and, on failure, walks the balancer's iterator.
 *
 * The engine that carries the bytes sits behind `ProxyEngine`, so a second engine (an
 * HTTP/2 passthrough for gRPC and h2c) can serve routes without changing this file.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import type { CompiledRoute } from '../config/compile.js'
import type { RequestContext } from '../context.js'
import { BadRequest, InternalError, UpstreamTimeout, isGatewayError, type GatewayError } from '../errors.js'
import { grpcTimeoutMs, isGrpcRequest } from './grpc.js'
import { withoutHopByHop, type HeaderMap } from '../routing/header-rules.js'
import { parseHostPort, formatHostPort } from '../net/address.js'
import type { TrustCheck } from '../net/trust.js'
import { exceedsLimit, payloadTooLarge } from '../limits/body-limit.js'
import { Target } from '../upstream/target.js'
import { UpstreamAttempt, RetryableStatusError } from '../upstream/attempt.js'
import type { CacheExchange, DetachedFetcher } from '../cache/route-cache.js'
import { classifyFailure, noAvailableTarget, toGatewayError } from '../upstream/errors.js'
import type { Upstream } from '../upstream/upstream.js'
import { DeferredBody, expectsContinue, requestBody } from './body.js'
import { UpstreamHeaders, asksForTrailers } from './upstream-headers.js'

/** Carries one attempt's request to its target. */
export interface ProxyEngine {
  /** Sends the request of `ctx.attempt` to `origin` + `ctx.upstreamPath`. */
  send (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext, origin: string): void
}

export interface RouteProxyOptions {
  readonly route: CompiledRoute
  readonly upstream: Upstream | null
  /** Dispatcher for transparent routes (any origin). */
  readonly transparentDispatcher: Dispatcher
  readonly trust: TrustCheck
  /** Forward request header names containing `_` (server.underscoresInHeaders). */
  readonly underscoresInHeaders: boolean
  /** server.limits.bodyLimit, in bytes. */
  readonly bodyLimit: number
  /** Builds the engine that carries this route's requests, reporting back to `observer`. */
  readonly createEngine: (observer: AttemptObserver) => ProxyEngine
}

/** What an engine reports back to the route proxy. */
export interface AttemptObserver {
  /** The attempt failed before its response reached the client. */
  onAttemptFailed (request: FastifyRequest, reply: FastifyReply, error: Error): void
  /** upstream_request_filter: the headers of the request about to go upstream. */
  upstreamRequestHeaders (request: FastifyRequest): HeaderMap
  /** upstream_response_filter: edit the upstream's response headers. */
  upstreamResponseHeaders (request: FastifyRequest, headers: HeaderMap): HeaderMap
}

const CONNECT_FAILURES: ReadonlySet<string> = new Set(['connect', 'connect-timeout', 'response-timeout'])

export class RouteProxy implements AttemptObserver, DetachedFetcher {
  readonly route: CompiledRoute
  readonly upstream: Upstream | null
  private readonly engine: ProxyEngine
  private readonly transparentDispatcher: Dispatcher
  private readonly headers: UpstreamHeaders
  private readonly bodyLimit: number
  private readonly balancerSetsHeaders: boolean

  constructor (options: RouteProxyOptions) {
    this.route = options.route
    this.upstream = options.upstream
    this.transparentDispatcher = options.transparentDispatcher
    this.bodyLimit = options.bodyLimit
    this.headers = new UpstreamHeaders({
      rules: options.route.requestHeaders,
      hostOverride: options.upstream?.config.tls?.servername ?? null,
      trust: options.trust,
      underscores: options.underscoresInHeaders,
      withheld: withheldHeaders(options.route)
    })
    this.balancerSetsHeaders = options.upstream?.addsResponseHeaders ?? false
    this.engine = options.createEngine(this)
  }

  /** upstream_peer: the route's handler. */
  handle (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext): void {
    const route = this.route
    const body = requestBody(request.raw)
    if (body !== null) {
      const declared = request.headers['content-length']
      if (exceedsLimit(declared, this.bodyLimit)) {
        this.fail(request, reply, ctx, payloadTooLarge(this.bodyLimit))
        return
      }
      ctx.bodySource = body
      ctx.bodyLimit = declared === undefined ? this.bodyLimit : Infinity
    }
    // Every check has passed: now the client may send the body it is holding back (unless
    // inspection asked for it already).
    if (!ctx.continued && expectsContinue(request.raw)) reply.raw.writeContinue()
    ctx.upstreamPath = route.rewritePath(ctx.match)
    if (route.rewriteQuery !== null) ctx.upstreamQuery = route.rewriteQuery(ctx.match.query)
    const grpcTimeout = request.headers['grpc-timeout']
    if (grpcTimeout !== undefined && isGrpcRequest(request.headers)) this.keepDeadline(request, reply, ctx, grpcTimeoutMs(grpcTimeout))
    if (this.upstream === null) {
      this.sendTransparent(request, reply, ctx)
      return
    }
    ctx.candidates = this.upstream.pick(ctx)
    this.tryNext(request, reply, ctx)
  }

  /**
   * A gRPC call's deadline (`grpc-timeout`, also passed upstream as it is): when it passes
   * before the response began, the attempt is cancelled and the client gets
   * DEADLINE_EXCEEDED; after, the stream is reset (the status can no longer be sent as a
   * status). Retries and the route's own timeouts stay as they are within it.
   */
  private keepDeadline (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext, ms: number | null): void {
    if (ms === null) return
    const res = reply.raw
    const timer = setTimeout(() => {
      if (res.writableFinished || res.destroyed) return
      ctx.deadlinePassed = true
      ctx.attempt?.cancel()
      if (res.headersSent) {
        res.destroy()
        return
      }
      this.fail(request, reply, ctx, new UpstreamTimeout('respond within the call\'s grpc-timeout') as GatewayError)
    }, ms)
    res.once('close', () => { clearTimeout(timer) })
  }

  private tryNext (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext): void {
    const upstream = this.upstream as Upstream
    let target = ctx.reserved
    ctx.reserved = null
    if (target === null) {
      const next = (ctx.candidates as Iterator<Target>).next()
      target = next.done === true ? null : next.value
    }
    if (target === null) {
      this.fail(request, reply, ctx, noAvailableTarget(upstream.name))
      return
    }
    const attempt = upstream.attempt(target, this.route.timeouts.connectMs, this.route.timeouts.responseMs)
    if (this.route.retries.statuses.size > 0) {
      attempt.retryStatus = (status) => this.route.retries.statuses.has(status) && this.mayRetry(request, reply, ctx)
    }
    this.start(request, reply, ctx, attempt, upstream.originOf(target))
  }

  private sendTransparent (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext): void {
    let address
    try {
      address = parseHostPort(request.headers.host ?? '', 80)
    } catch {
      this.fail(request, reply, ctx, new BadRequest('a transparent route needs a valid Host header') as GatewayError)
      return
    }
    const id = formatHostPort(address.host, address.port)
    const target = new Target({ address: { kind: 'tcp', host: address.host, port: address.port, id }, weight: 1, backup: false })
    const attempt = new UpstreamAttempt(target, this.transparentDispatcher, null, this.route.timeouts.connectMs, this.route.timeouts.responseMs)
    this.start(request, reply, ctx, attempt, `http://${id}`)
  }

  private start (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext, attempt: UpstreamAttempt, origin: string): void {
    // The client left while the route's checks and hooks ran: its leaving found no attempt
    // to cancel, and nobody would read this one's response.
    if (reply.raw.destroyed) return
    // One clock reading per request, for the access log's upstream time (retries included).
    if (ctx.tries++ === 0) ctx.upstreamStartedAt = performance.now()
    ctx.attempt = attempt
    ctx.target = attempt.target
    attempt.path = ctx.upstreamQuery === '' ? ctx.upstreamPath : `${ctx.upstreamPath}?${ctx.upstreamQuery}`
    if (ctx.bodySource !== null) {
      // A fresh wrapper per attempt: undici destroys the one it was given when it fails,
      // and the client's stream must survive that (for a retry, or for the error reply).
      ctx.body = new DeferredBody(ctx.bodySource, ctx.bodyLimit, ctx.bodyPrefix)
      attempt.body = ctx.body
    }
    if (asksForTrailers(request.headers.te)) attempt.trailersTo = reply.raw
    attempt.tap = ctx.cacheExchange
    this.engine.send(request, reply, ctx, origin)
  }

  /**
   * fail_to_connect / error_while_proxy: retry on the next target when the policy allows,
   * else fail_to_proxy.
   */
  onAttemptFailed (request: FastifyRequest, reply: FastifyReply, error: Error): void {
    const ctx = request.tollgate as RequestContext
    // The cache answers this response itself (a 304 to its revalidation, a stale copy).
    // Asked of the attempt: an engine may hand the error on wrapped (reply-from does).
    // Past a gRPC deadline the client was answered already.
    if (ctx.attempt?.takenOver === true || ctx.deadlinePassed) return
    const failure = ctx.attempt?.failure ?? error
    if (failure instanceof RetryableStatusError) {
      // retryStatus already checked the policy and reserved the next target.
      this.tryNext(request, reply, ctx)
      return
    }
    if (isGatewayError(failure)) {
      // The gateway's own verdict on the request (a body over the limit), not the upstream's.
      this.fail(request, reply, ctx, failure)
      return
    }
    const kind = classifyFailure(failure)
    if (kind === 'aborted' && (request.raw.destroyed || reply.raw.destroyed)) return
    if (ctx.target !== null) ctx.target.lastError = failure.message
    if (CONNECT_FAILURES.has(kind) && this.route.retries.onConnectError && this.upstream !== null && this.mayRetry(request, reply, ctx)) {
      this.tryNext(request, reply, ctx)
      return
    }
    const upstreamName = this.upstream?.name ?? `${ctx.target?.id ?? 'transparent'}`
    this.fail(request, reply, ctx, toGatewayError(failure, kind, {
      upstream: upstreamName,
      target: ctx.target?.id ?? null,
      connectMs: this.route.timeouts.connectMs,
      responseMs: this.route.timeouts.responseMs
    }))
  }

  /** Another attempt is allowed: tries left, retried method, body not consumed, a target left. */
  private mayRetry (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext): boolean {
    const policy = this.route.retries
    if (ctx.tries > policy.attempts || !policy.methods.has(request.method) || reply.sent) return false
    if (ctx.body !== null && ctx.body.consumed) return false
    if (ctx.reserved === null && ctx.candidates !== null) {
      const next = ctx.candidates.next()
      ctx.reserved = next.done === true ? null : next.value
    }
    return ctx.reserved !== null
  }

  /** fail_to_proxy: the user's onError hook may answer; otherwise the contract's JSON error. */
  private fail (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext, error: GatewayError): void {
    if (ctx.cacheExchange !== null && ctx.cacheExchange.insteadOfError(error)) return
    ctx.error = error
    const hook = this.route.hooks.onError
    if (hook === undefined) {
      reply.send(error)
      return
    }
    Promise.resolve()
      .then(() => hook(request, reply, error, ctx))
      .then(() => { if (!reply.sent) reply.send(error) },
        (hookError: unknown) => {
          request.log.error({ err: hookError, route: this.route.name }, 'onError hook threw')
          if (!reply.sent) reply.send(new InternalError('onError hook failed', { cause: hookError }))
        })
  }

  upstreamRequestHeaders (request: FastifyRequest): HeaderMap {
    const ctx = request.tollgate as RequestContext
    return this.requestHeadersFor(request, ctx, ctx.cacheExchange)
  }

  /** upstream_request_filter: the route's rules, the cache's validators, then the user's hook. */
  private requestHeadersFor (request: FastifyRequest, ctx: RequestContext, exchange: CacheExchange | null): HeaderMap {
    const socket = request.raw.socket
    const headers = this.headers.build({
      headers: request.headers,
      peer: socket.remoteAddress ?? '',
      tls: (socket as { encrypted?: boolean }).encrypted === true,
      requestId: ctx.requestId,
      extra: ctx.upstreamHeaders
    })
    exchange?.editUpstreamHeaders(headers)
    this.route.hooks.upstreamRequest?.(request, headers as Record<string, string | string[] | undefined>, ctx)
    return headers
  }

  /**
   * A GET of the request's URL for the cache alone (a background refresh): headers built as
   * for the request itself, one target from the balancer, one attempt, no retry; its
   * response goes to `exchange`, and nothing to the client (answered already).
   */
  refresh (request: FastifyRequest, ctx: RequestContext, exchange: CacheExchange): void {
    const route = this.route
    const path = route.rewritePath(ctx.match)
    const query = route.rewriteQuery === null ? ctx.match.query : route.rewriteQuery(ctx.match.query)
    const headers = this.requestHeadersFor(request, ctx, exchange)
    let attempt: UpstreamAttempt
    let origin: string
    if (this.upstream === null) {
      let address
      try {
        address = parseHostPort(request.headers.host ?? '', 80)
      } catch (err) {
        exchange.onResponseError(err as Error)
        return
      }
      const id = formatHostPort(address.host, address.port)
      const target = new Target({ address: { kind: 'tcp', host: address.host, port: address.port, id }, weight: 1, backup: false })
      attempt = new UpstreamAttempt(target, this.transparentDispatcher, null, route.timeouts.connectMs, route.timeouts.responseMs)
      origin = `http://${id}`
    } else {
      const next = this.upstream.pick(ctx).next()
      if (next.done === true) {
        exchange.onResponseError(noAvailableTarget(this.upstream.name))
        return
      }
      attempt = this.upstream.attempt(next.value, route.timeouts.connectMs, route.timeouts.responseMs)
      origin = this.upstream.originOf(next.value)
    }
    attempt.path = query === '' ? path : `${path}?${query}`
    attempt.tap = exchange
    attempt.dispatch({ origin, path: attempt.path, method: 'GET', headers: headers as Record<string, string | string[]> }, DISCARD)
  }

  upstreamResponseHeaders (request: FastifyRequest, upstreamHeaders: HeaderMap): HeaderMap {
    const headers = withoutHopByHop(upstreamHeaders)
    // Trailers are forwarded to a client that asked for them: announce them too.
    if (upstreamHeaders.trailer !== undefined && request.tollgate?.attempt?.trailersTo != null) headers.trailer = upstreamHeaders.trailer
    this.route.responseHeaders?.apply(headers)
    const cache = this.route.cache
    if (cache !== null) {
      // An upstream that caches too says what it did under the same name: the client
      // hears what this cache did (the gateway's own header is already on the reply).
      delete headers['x-cache-status']
      if (cache.consumeCdnHeader) delete headers['cdn-cache-control']
    }
    if (this.balancerSetsHeaders) {
      const ctx = request.tollgate as RequestContext
      if (ctx.target !== null) {
        this.upstream?.onResponse(ctx, ctx.target, (name, value) => appendHeader(headers, name, value))
      }
    }
    return headers
  }
}

/** The client-side handler of a background refresh: nobody is there; the cache's tap reads the response. */
const DISCARD: Dispatcher.DispatchHandler = {
  onConnect: () => undefined,
  onHeaders: () => true,
  onData: () => true,
  onComplete: () => undefined,
  onError: () => undefined
}

function appendHeader (headers: HeaderMap, name: string, value: string): void {
  const existing = headers[name]
  if (existing === undefined) headers[name] = value
  else if (Array.isArray(existing)) existing.push(value)
  else headers[name] = [String(existing), value]
}

/**
 * Client headers a route never forwards: its credentials (unless `auth.forward`), and the
 * headers it fills from what auth found.
 */
function withheldHeaders (route: CompiledRoute): string[] {
  const auth = route.auth
  if (auth === null) return []
  const withheld = auth.forward ? [] : ['authorization']
  if (auth.type === 'jwt') withheld.push(...Object.values(auth.forwardClaims).map(name => name.toLowerCase()))
  return withheld
}
