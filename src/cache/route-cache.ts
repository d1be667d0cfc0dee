/**
 * One cached route's side of Pingora's cache phases: request_cache_filter (may this request
 * use the cache at all), cache_key_callback (Host + routed URL), the lookup, serving fresh
 * and stale copies, the cache lock, PURGE, and the background refresh. The fetches go
 * through the route proxy like any request; CacheFill (cache-fill.ts), the tap on their
 * upstream attempts, is response_cache_filter and the store write.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { CompiledRoute } from '../config/compile.js'
import type { RequestContext } from '../context.js'
import { CacheStoreUnavailable, Forbidden, NotCached, type GatewayError } from '../errors.js'
import type { TrustCheck } from '../net/trust.js'
import { IpFilter } from '../limits/ip-filter.js'
import type { ResponseTap } from '../upstream/attempt.js'
import type { HeaderMap } from '../routing/header-rules.js'
import type { CompiledRouteCache } from './config.js'
import type { HttpCache } from './http-cache.js'
import { waitForFill, type FillLock } from './fill-locks.js'
import { ageHeader, ageMs, freshnessOf, notModifiedFor, requestDirectives, variantMatches, type Freshness, type RequestDirectives } from './policy.js'
import type { CacheKey, StoredResponse } from './stored-response.js'
import { CacheFill, Invalidation } from './cache-fill.js'

export type CacheStatus = 'HIT' | 'MISS' | 'EXPIRED' | 'STALE' | 'UPDATING' | 'REVALIDATED' | 'BYPASS'

/** What a cached request's fetch hands the route proxy: the tap, and its say on headers and errors. */
export interface CacheExchange extends ResponseTap {
  /** upstream_request_filter for the cache: drop the client's validators, add the cache's. */
  editUpstreamHeaders (headers: HeaderMap): void
  /** fail_to_proxy: true when the cache answered instead of the error (stale-if-error). */
  insteadOfError (error: GatewayError): boolean
  /** The client left before its response was complete: true when the fetch should go on for others. */
  continuesWithoutClient (): boolean
  /** The client's response closed; `detached`: the fetch goes on without it. */
  clientClosed (detached: boolean): void
}

/** Sends a GET for the cache alone (a background refresh): one attempt, its response to `exchange`. */
export interface DetachedFetcher {
  refresh (request: FastifyRequest, ctx: RequestContext, exchange: CacheExchange): void
}

/**
 * What one request looks up: the URL's key in the store, its scope among the URL's stored
 * responses (the route that matched and the scheme the client used: two routes on one URL,
 * told apart by a header, never answer with each other's responses), and the string the
 * lock and the background refreshes are keyed by.
 */
export interface Lookup {
  readonly key: CacheKey
  /** The prefix of the `variant` of every response stored in this scope. */
  readonly scope: string
  readonly id: string
}

/** Methods that change nothing (RFC 9110 §9.2.1): their success invalidates nothing. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/** Headers of a stored response a hit never repeats: the cache writes its own. */
const REWRITTEN: ReadonlySet<string> = new Set(['content-length', 'age', 'x-cache-status'])

export class RouteCache {
  readonly route: CompiledRoute
  readonly settings: CompiledRouteCache
  readonly cache: HttpCache
  private readonly purgeFilter: IpFilter
  private readonly trust: TrustCheck
  private fetcher: DetachedFetcher | null = null
  /** Each stored response's freshness, read from its headers once (memory hits return the same objects). */
  private readonly freshness = new WeakMap<StoredResponse, Freshness>()
  /** Each stored response's headers as this route answers them, flat, built once. */
  private readonly answers = new WeakMap<StoredResponse, readonly string[]>()

  constructor (route: CompiledRoute, settings: CompiledRouteCache, cache: HttpCache, trust: TrustCheck) {
    this.route = route
    this.settings = settings
    this.cache = cache
    this.trust = trust
    this.purgeFilter = new IpFilter({ allow: settings.purgeAllow, deny: [] })
  }

  /** The route proxy, which also makes the background refreshes. */
  attach (fetcher: DetachedFetcher): void {
    this.fetcher = fetcher
  }

  /** request_cache_filter, the lookup and what follows: answers, or calls `proceed` to fetch. */
  handle (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext, proceed: () => void): void {
    const method = request.method
    if (method === 'PURGE') {
      this.purge(request, reply, ctx)
      return
    }
    if (method !== 'GET' && method !== 'HEAD') {
      mark(reply, ctx, 'BYPASS')
      if (!SAFE_METHODS.has(method)) ctx.cacheExchange = new Invalidation(this, this.lookupOf(request, ctx).key)
      proceed()
      return
    }
    const headers = request.headers
    const directives = requestDirectives(headers)
    if (directives.noStore || headers.range !== undefined) {
      mark(reply, ctx, 'BYPASS')
      proceed()
      return
    }
    const lookup = this.lookupOf(request, ctx)
    let found: ReturnType<HttpCache['store']['get']>
    try {
      found = this.cache.store.get(lookup.key)
    } catch (err) {
      request.log.warn({ err }, 'cache lookup failed; proxied uncached')
      found = []
    }
    if (!(found instanceof Promise)) {
      this.decide(request, reply, ctx, proceed, lookup, directives, found)
      return
    }
    // The store answers later (Redis); one that fails is a miss (it logs the outage itself).
    found.then(
      entries => { this.decide(request, reply, ctx, proceed, lookup, directives, entries) },
      () => { this.decide(request, reply, ctx, proceed, lookup, directives, []) })
  }

  private decide (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext, proceed: () => void, lookup: Lookup, directives: RequestDirectives, entries: readonly StoredResponse[]): void {
    if (reply.raw.destroyed) return
    const now = this.cache.now()
    const stored = this.usable(entries, request.headers, lookup.scope, now)
    if (stored === null) {
      if (directives.onlyIfCached) {
        mark(reply, ctx, 'MISS')
        reply.send(new NotCached('only-if-cached, and no stored response can answer'))
        return
      }
      this.fetch(request, reply, ctx, proceed, lookup, 'MISS', null)
      return
    }
    const freshness = this.freshnessOf(stored)
    const age = ageMs(freshness, now)
    if (age < freshness.lifetimeMs && !freshness.noCache && !directives.revalidate &&
      (directives.maxAgeMs === null || age <= directives.maxAgeMs) && freshness.lifetimeMs - age >= directives.minFreshMs) {
      this.serve(request, reply, ctx, stored, 'HIT', now)
      return
    }
    if (directives.onlyIfCached) {
      mark(reply, ctx, 'MISS')
      reply.send(new NotCached('only-if-cached, and the stored response is not fresh'))
      return
    }
    const staleFor = age - freshness.lifetimeMs
    if (staleFor >= 0 && staleFor < freshness.staleWhileRevalidateMs && !freshness.noCache && !directives.revalidate) {
      if (this.cache.refreshing.has(lookup.id)) {
        this.serve(request, reply, ctx, stored, 'UPDATING', now)
        return
      }
      // Started before the answer: the refresh reads the client's request (its address,
      // headers), which is gone once the answer is written.
      this.refresh(request, ctx, lookup, stored)
      this.serve(request, reply, ctx, stored, 'STALE', now)
      return
    }
    this.fetch(request, reply, ctx, proceed, lookup, 'EXPIRED', stored)
  }

  /** A miss (or a stale copy to replace): one fetch per key at a time when the route locks. */
  private fetch (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext, proceed: () => void, lookup: Lookup, status: 'MISS' | 'EXPIRED', stale: StoredResponse | null): void {
    if (request.method === 'HEAD') {
      // A HEAD's response has no body to store: it goes upstream as it is.
      mark(reply, ctx, status)
      proceed()
      return
    }
    if (!this.settings.lock) {
      this.fill(request, reply, ctx, proceed, lookup, status, stale, null)
      return
    }
    const held = this.cache.locks.current(lookup.id)
    if (held === undefined) {
      this.fill(request, reply, ctx, proceed, lookup, status, stale, this.cache.locks.take(lookup.id))
      return
    }
    waitForFill(held, this.route.timeouts.responseMs).then(response => {
      if (reply.raw.destroyed) return
      if (response !== null && this.mayAnswer(response, request.headers, lookup.scope)) {
        this.serve(request, reply, ctx, response, 'HIT', this.cache.now())
        return
      }
      // Nothing shareable came of it: fetch for this request alone.
      this.fill(request, reply, ctx, proceed, lookup, status, stale, null)
    }, () => { this.fill(request, reply, ctx, proceed, lookup, status, stale, null) })
  }

  private fill (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext, proceed: () => void, lookup: Lookup, status: 'MISS' | 'EXPIRED', stale: StoredResponse | null, lock: FillLock | null): void {
    mark(reply, ctx, status)
    ctx.cacheExchange = new CacheFill(this, lookup, stale, { client: { request, reply, ctx }, lock })
    proceed()
  }

  /** stale-while-revalidate: one background fetch per key; its result replaces the stored copy. */
  private refresh (request: FastifyRequest, ctx: RequestContext, lookup: Lookup, stale: StoredResponse): void {
    if (this.fetcher === null) return
    this.cache.refreshing.add(lookup.id)
    const fill = new CacheFill(this, lookup, stale, { requestHeaders: request.headers, onEnd: () => { this.cache.refreshing.delete(lookup.id) } })
    try {
      this.fetcher.refresh(request, ctx, fill)
    } catch (err) {
      this.cache.refreshing.delete(lookup.id)
      request.log.warn({ err }, 'cache refresh could not start')
    }
  }

  /** `PURGE <url>`: removes the URL's stored responses for this Host, from allowed addresses only. */
  private purge (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext): void {
    if (!this.purgeFilter.allows(ctx.ip)) {
      reply.send(new Forbidden('PURGE is not allowed from this address'))
      return
    }
    this.cache.purge(this.lookupOf(request, ctx).key)
      .then(purged => { reply.send({ purged }) }, (err: unknown) => {
        reply.send(new CacheStoreUnavailable('the cache store did not answer: nothing was purged', { cause: err }))
      })
  }

  /** Writes a stored response to the client (or a 304 when the client's own validator matches). */
  serve (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext, stored: StoredResponse, status: CacheStatus, now: number): void {
    ctx.cacheStatus = status
    const res = reply.raw
    if (res.headersSent || res.destroyed) return
    const freshness = this.freshnessOf(stored)
    const own = reply.getHeaders()
    const out: string[] = []
    for (const name in own) {
      if (REWRITTEN.has(name)) continue
      const value = own[name]
      if (Array.isArray(value)) for (const item of value) out.push(name, item)
      else out.push(name, String(value))
    }
    const answer = this.answerHeaders(stored)
    for (let i = 0; i < answer.length; i += 2) {
      if (!Object.hasOwn(own, answer[i] as string)) out.push(answer[i] as string, answer[i + 1] as string)
    }
    out.push('age', ageHeader(freshness, now), 'x-cache-status', status)
    if (notModifiedFor(request.headers, freshness, stored.status)) {
      res.writeHead(304, out)
      res.end()
      return
    }
    if (stored.status !== 204) out.push('content-length', String(stored.body.length))
    res.writeHead(stored.status, out)
    if (request.method === 'HEAD') res.end()
    else res.end(stored.body)
  }

  freshnessOf (stored: StoredResponse): Freshness {
    let freshness = this.freshness.get(stored)
    if (freshness === undefined) {
      freshness = freshnessOf(stored.headers, stored.requestTime, stored.responseTime, this.settings)
      this.freshness.set(stored, freshness)
    }
    return freshness
  }

  /** The first stored variant this request may be answered from. */
  private usable (entries: readonly StoredResponse[], headers: IncomingHttpHeaders, scope: string, now: number): StoredResponse | null {
    for (const stored of entries) {
      if (stored.keepUntil > now && this.mayAnswer(stored, headers, scope)) return stored
    }
    return null
  }

  /**
   * Stored in this request's scope (route and scheme), for the same variant, and to a
   * request with Authorization only what may be shared with it (RFC 9111 §3.5).
   */
  mayAnswer (stored: StoredResponse, headers: IncomingHttpHeaders, scope: string): boolean {
    return stored.variant.startsWith(scope) && variantMatches(stored, headers) &&
      (headers.authorization === undefined || this.freshnessOf(stored).sharedWithAuthorization)
  }

  /**
   * The request's key, scope and lock id. The host is the one the upstream is told of:
   * a trusted proxy's X-Forwarded-Host (server.trustProxy), else Host; the scheme likewise
   * (X-Forwarded-Proto, else the listener's). What reaches the upstream as those headers is
   * then always part of the key, so a client cannot have a response made for one host or
   * scheme stored for another.
   */
  lookupOf (request: FastifyRequest, ctx: RequestContext): Lookup {
    const headers = request.headers
    const socket = request.raw.socket
    let host = headers.host
    let scheme = (socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http'
    if ((headers['x-forwarded-host'] !== undefined || headers['x-forwarded-proto'] !== undefined) && this.trust(socket.remoteAddress ?? '')) {
      host = headers['x-forwarded-host'] as string | undefined ?? host
      scheme = headers['x-forwarded-proto'] as string | undefined ?? scheme
    }
    const match = ctx.match
    const key: CacheKey = { host: (host ?? '').toLowerCase(), url: match.query === '' ? match.path : `${match.path}?${match.query}` }
    const scope = `${this.route.name} ${scheme}\n`
    return { key, scope, id: scope + keyString(key) }
  }

  /** The stored headers as this route answers them: its responseHeaders rules applied, CDN-Cache-Control consumed. */
  private answerHeaders (stored: StoredResponse): readonly string[] {
    let flat = this.answers.get(stored)
    if (flat !== undefined) return flat
    let headers = stored.headers
    if (this.route.responseHeaders !== null) {
      headers = { ...headers }
      this.route.responseHeaders.apply(headers)
    }
    const out: string[] = []
    for (const name in headers) {
      if (REWRITTEN.has(name) || (this.settings.consumeCdnHeader && name === 'cdn-cache-control')) continue
      const value = headers[name]
      if (value === undefined) continue
      if (Array.isArray(value)) for (const item of value) out.push(name, item)
      else out.push(name, String(value))
    }
    flat = out
    this.answers.set(stored, flat)
    return flat
  }
}

/** One string per key, for the lock and refresh maps (`\n` is in neither a Host nor a URL). */
export function keyString (key: CacheKey): string {
  return `${key.url}\n${key.host}`
}

function mark (reply: FastifyReply, ctx: RequestContext, status: CacheStatus): void {
  ctx.cacheStatus = status
  reply.header('x-cache-status', status)
}
