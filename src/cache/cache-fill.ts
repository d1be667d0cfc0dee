/**
 * response_cache_filter and the store write: the tap on a cached request's upstream attempt.
 * It decides from the response head whether the response may be stored, keeps the body's
 * chunks as they pass to the client (the client never waits for the store), and stores the
 * whole once it arrived. It also takes over the two responses the client must not get as
 * they are: the 304 answering the cache's own revalidation (the stored response is served,
 * updated), and an error inside the stale-if-error window (the stale copy is served).
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { RequestContext } from '../context.js'
import type { GatewayError } from '../errors.js'
import type { HeaderMap } from '../routing/header-rules.js'
import { toHeaderMap } from '../proxy/raw-headers.js'
import type { FillLock } from './fill-locks.js'
import { STALE_IF_ERROR_STATUSES, ageMs, freshnessOf, keepUntil, mergeNotModified, storeVerdict, storedHeaders, validatorsOf, variantOf, type Freshness } from './policy.js'
import type { CacheKey, StoredResponse } from './stored-response.js'
import type { CacheExchange, Lookup, RouteCache } from './route-cache.js'

/** The client's own validators: the cache asks for the whole response, to store it. */
const CLIENT_CONDITIONALS = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range'] as const

/** Errors a stale copy may stand in for: the upstream could not answer, or not in time. */
const STALE_IF_ERROR_CODES: ReadonlySet<number> = new Set([502, 503, 504])

export interface FillClient {
  readonly request: FastifyRequest
  readonly reply: FastifyReply
  readonly ctx: RequestContext
}

/**
 * Who a fill is for: a client waiting for it (holding the lock when the route locks), or
 * nobody (a background refresh, told when it ends).
 */
export type FillFor =
  | { readonly client: FillClient, readonly lock: FillLock | null }
  | { readonly requestHeaders: IncomingHttpHeaders, readonly onEnd: () => void }

/** A response being kept for the store. */
interface Pending {
  readonly status: number
  readonly headers: HeaderMap
  readonly vary: Record<string, string> | null
  readonly variant: string
  readonly freshness: Freshness
  readonly chunks: Buffer[]
  bytes: number
}

export class CacheFill implements CacheExchange {
  private readonly routeCache: RouteCache
  private readonly lookup: Lookup
  /** The request fetching; null for a background refresh (nobody waits for it). */
  private readonly client: FillClient | null
  private readonly requestHeaders: IncomingHttpHeaders
  private readonly stale: StoredResponse | null
  private readonly lock: FillLock | null
  private readonly onEnd: (() => void) | null
  private requestTime = 0
  /** The cache's validators went upstream: a 304 answers them. */
  private revalidating = false
  private notModified: HeaderMap | null = null
  private pending: Pending | null = null
  private ended = false
  /** The client left; the fetch goes on for the requests waiting on the lock. */
  private detached = false

  constructor (routeCache: RouteCache, lookup: Lookup, stale: StoredResponse | null, from: FillFor) {
    this.routeCache = routeCache
    this.lookup = lookup
    this.stale = stale
    if ('client' in from) {
      this.client = from.client
      this.requestHeaders = from.client.request.headers
      this.lock = from.lock
      this.onEnd = null
    } else {
      this.client = null
      this.requestHeaders = from.requestHeaders
      this.lock = null
      this.onEnd = from.onEnd
    }
  }

  editUpstreamHeaders (headers: HeaderMap): void {
    for (const name of CLIENT_CONDITIONALS) delete headers[name]
    this.requestTime = this.routeCache.cache.now()
    if (this.stale === null) return
    const validators = validatorsOf(this.routeCache.freshnessOf(this.stale))
    if (validators['if-none-match'] !== undefined) headers['if-none-match'] = validators['if-none-match']
    if (validators['if-modified-since'] !== undefined) headers['if-modified-since'] = validators['if-modified-since']
    this.revalidating = validators['if-none-match'] !== undefined || validators['if-modified-since'] !== undefined
  }

  onResponseHead (statusCode: number, raw: Buffer[]): boolean {
    const now = this.routeCache.cache.now()
    const stale = this.stale
    if (statusCode === 304 && this.revalidating && stale !== null) {
      this.notModified = toHeaderMap(raw)
      return true
    }
    if (stale !== null && STALE_IF_ERROR_STATUSES.has(statusCode) && this.staleMayStandIn(now)) {
      this.release(null)
      if (this.client !== null) this.routeCache.serve(this.client.request, this.client.reply, this.client.ctx, stale, 'STALE', now)
      else this.end()
      return true
    }
    const headers = toHeaderMap(raw)
    const settings = this.routeCache.settings
    const freshness = freshnessOf(headers, this.requestTime, now, settings)
    const verdict = storeVerdict(statusCode, this.requestHeaders, headers, freshness.lifetimeMs)
    if (verdict.refusal !== null) {
      // The origin no longer lets this be kept: the copy it replaces goes too.
      if (stale !== null && (verdict.refusal === 'no-store' || verdict.refusal === 'private')) this.forget()
      this.release(null)
      return false
    }
    const declared = Number(headers['content-length'])
    if (declared > settings.maxObjectSize) {
      this.release(null)
      return false
    }
    const { vary, variant } = variantOf(verdict.varyNames, this.requestHeaders)
    this.pending = { status: statusCode, headers: storedHeaders(headers, verdict.withheld), vary, variant: this.lookup.scope + variant, freshness, chunks: [], bytes: 0 }
    return false
  }

  onResponseData (chunk: Buffer): void {
    const pending = this.pending
    if (pending === null) return
    pending.bytes += chunk.length
    if (pending.bytes > this.routeCache.settings.maxObjectSize) {
      // Too large to keep: it goes on to the client alone.
      this.pending = null
      this.release(null)
      return
    }
    pending.chunks.push(chunk)
  }

  onResponseEnd (): void {
    const now = this.routeCache.cache.now()
    if (this.notModified !== null && this.stale !== null) {
      const updated = this.revalidated(this.stale, this.notModified, now)
      if (this.client !== null) this.routeCache.serve(this.client.request, this.client.reply, this.client.ctx, updated, 'REVALIDATED', now)
      this.end()
      return
    }
    const pending = this.pending
    this.pending = null
    if (pending === null) {
      this.release(null)
      this.end()
      return
    }
    const response: StoredResponse = {
      status: pending.status,
      headers: pending.headers,
      // One copy, when stored; every hit then writes this buffer as it is.
      body: pending.chunks.length === 1 ? pending.chunks[0] as Buffer : Buffer.concat(pending.chunks, pending.bytes),
      requestTime: this.requestTime,
      responseTime: pending.freshness.responseTime,
      vary: pending.vary,
      variant: pending.variant,
      keepUntil: keepUntil(pending.freshness)
    }
    this.store(response)
    this.release(response)
    this.end()
  }

  onResponseError (): void {
    // A retry may follow (the route proxy decides): only the kept copy is dropped here.
    this.pending = null
    this.notModified = null
    if (this.client === null || this.detached) {
      this.release(null)
      this.end()
    }
  }

  insteadOfError (error: GatewayError): boolean {
    this.release(null)
    const stale = this.stale
    const now = this.routeCache.cache.now()
    if (this.client === null || stale === null || !STALE_IF_ERROR_CODES.has(error.statusCode) || !this.staleMayStandIn(now)) return false
    this.routeCache.serve(this.client.request, this.client.reply, this.client.ctx, stale, 'STALE', now)
    return true
  }

  continuesWithoutClient (): boolean {
    // A client leaving is no reason for the others on the lock to ask the upstream again.
    return this.lock !== null && !this.ended
  }

  clientClosed (detached: boolean): void {
    if (detached) this.detached = true
    // Whatever happened to the fetch (a hook answered, it failed), nobody waits on it now.
    else this.release(null)
  }

  private staleMayStandIn (now: number): boolean {
    const freshness = this.routeCache.freshnessOf(this.stale as StoredResponse)
    const staleFor = ageMs(freshness, now) - freshness.lifetimeMs
    return !freshness.noCache && staleFor < freshness.staleIfErrorMs
  }

  /**
   * The stored response with a 304's headers, fresh from now (RFC 9111 §4.3.4), stored
   * again when it still may be: a 304 can bring what makes a response unfit for a shared
   * cache (`Set-Cookie`, `private`, `no-store`, `Vary: *`), and then the stored copy goes
   * instead. The client that revalidated gets the updated response either way.
   */
  private revalidated (stale: StoredResponse, notModified: HeaderMap, now: number): StoredResponse {
    const headers = mergeNotModified(stale.headers, notModified)
    const freshness = freshnessOf(headers, this.requestTime, now, this.routeCache.settings)
    const updated: StoredResponse = { ...stale, headers, requestTime: this.requestTime, responseTime: now, keepUntil: keepUntil(freshness) }
    const verdict = storeVerdict(stale.status, this.requestHeaders, headers, freshness.lifetimeMs)
    if (verdict.refusal !== null) {
      this.forget()
      this.release(null)
      return updated
    }
    const kept = verdict.withheld.length === 0 ? updated : { ...updated, headers: storedHeaders(headers, verdict.withheld) }
    this.store(kept)
    this.release(kept)
    return updated
  }

  private store (response: StoredResponse): void {
    const log = this.client?.request.log
    try {
      const done = this.routeCache.cache.store.put(this.lookup.key, response)
      // A store that failed (Redis away) logs the outage itself; nothing else to do.
      if (done instanceof Promise) done.catch(() => undefined)
    } catch (err) {
      log?.warn({ err }, 'cache store failed')
    }
  }

  private forget (): void {
    try {
      const done = this.routeCache.cache.store.delete(this.lookup.key)
      if (done instanceof Promise) done.catch(() => undefined)
    } catch {
      // As for store: the response itself is unaffected.
    }
  }

  private release (response: StoredResponse | null): void {
    this.lock?.release(response)
  }

  private end (): void {
    if (this.ended) return
    this.ended = true
    this.onEnd?.()
  }
}

/**
 * A successful unsafe request (POST, PUT, DELETE, PATCH…) invalidates what is stored for
 * its URL, and for its Location and Content-Location on the same host (RFC 9111 §4.4).
 */
export class Invalidation implements CacheExchange {
  private readonly routeCache: RouteCache
  private readonly key: CacheKey

  constructor (routeCache: RouteCache, key: CacheKey) {
    this.routeCache = routeCache
    this.key = key
  }

  editUpstreamHeaders (): void {}

  onResponseHead (statusCode: number, raw: Buffer[]): boolean {
    if (statusCode < 200 || statusCode >= 400) return false
    this.drop(this.key)
    const headers = toHeaderMap(raw)
    for (const name of ['location', 'content-location'] as const) {
      const value = headers[name]
      if (typeof value !== 'string') continue
      const url = sameHostUrl(value, this.key.host)
      if (url !== null && url !== this.key.url) this.drop({ host: this.key.host, url })
    }
    return false
  }

  onResponseData (): void {}
  onResponseEnd (): void {}
  onResponseError (): void {}

  insteadOfError (): boolean {
    return false
  }

  continuesWithoutClient (): boolean {
    return false
  }

  clientClosed (): void {}

  private drop (key: CacheKey): void {
    try {
      const done = this.routeCache.cache.store.delete(key)
      if (done instanceof Promise) done.catch(() => undefined)
    } catch {
      // The unsafe request's own response is what matters; the store logs its outages.
    }
  }
}

/** A Location's path and query when it names the same host (or is relative); else null. */
function sameHostUrl (location: string, host: string): string | null {
  try {
    const base = `http://${host === '' ? 'localhost' : host}`
    const url = new URL(location, base + '/')
    if (url.host.toLowerCase() !== new URL(base).host.toLowerCase()) return null
    return url.pathname + url.search
  } catch {
    return null
  }
}
