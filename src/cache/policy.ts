/**
 * RFC 9111 for a shared cache, as plain functions of headers and times: whether a response
 * may be stored, for how long it is fresh, how old it is, which stored variant a request may
 * use, how a 304 updates a stored response, and whether a client's conditional request is
 * answered 304. No I/O and no clock of its own: the caller passes the times.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { HeaderMap } from '../routing/header-rules.js'
import { HOP_BY_HOP } from '../routing/header-rules.js'
import type { StoredResponse } from './stored-response.js'
import { MAX_DELTA_SECONDS, entityTags, firstValue, opaqueTag, parseAge, parseDirectives, parseHttpDate, type Directives } from './directives.js'

/** What a route's `cache` settings add to the origin's headers. */
export interface RoutePolicy {
  /** Freshness when the origin gives none; 0: none. */
  readonly ttlMs: number
  readonly staleWhileRevalidateMs: number
  readonly staleIfErrorMs: number
}

/** Statuses a cache may store without being told it may (RFC 9110 §15.1), 206 aside (no ranges here). */
export const HEURISTICALLY_CACHEABLE: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501])

/** Statuses that a stale copy replaces inside the stale-if-error window. */
export const STALE_IF_ERROR_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504])

/** How long past going stale a response with a validator is kept, to be revalidated later. */
export const REVALIDATION_KEEP_MS = 24 * 60 * 60 * 1000

/** Headers a 304 never changes in the stored response (RFC 9111 §3.2): they describe the stored body. */
const KEPT_ON_304: ReadonlySet<string> = new Set(['content-length', 'content-encoding', 'content-range', 'transfer-encoding', 'trailer'])

/** The directives that govern a response: CDN-Cache-Control when it has any (RFC 9213 §2.1), else Cache-Control. */
export function responseDirectives (headers: HeaderMap): { readonly directives: Directives, readonly targeted: boolean } {
  const cdn = headers['cdn-cache-control']
  if (cdn !== undefined) {
    const directives = parseDirectives(cdn as string | string[])
    // An empty or unreadable targeted field is ignored, as if absent (RFC 9213 §2.1).
    if (directives.count > 0 && !directives.malformed) return { directives, targeted: true }
  }
  return { directives: parseDirectives(headers['cache-control'] as string | string[] | undefined), targeted: false }
}

/** What a stored response allows, computed once per stored response and route. */
export interface Freshness {
  /** How long it is fresh, counted from its age 0. */
  readonly lifetimeMs: number
  /** Its corrected initial age (RFC 9111 §4.2.3) when it was received. */
  readonly initialAgeMs: number
  readonly responseTime: number
  /** A stale copy is never served (must-revalidate, proxy-revalidate, s-maxage). */
  readonly mustRevalidate: boolean
  /** Every use is revalidated first. */
  readonly noCache: boolean
  readonly staleWhileRevalidateMs: number
  readonly staleIfErrorMs: number
  /** It may answer a request that carries Authorization (RFC 9111 §3.5). */
  readonly sharedWithAuthorization: boolean
  readonly etag: string | undefined
  readonly lastModified: string | undefined
}

export function freshnessOf (headers: HeaderMap, requestTime: number, responseTime: number, route: RoutePolicy): Freshness {
  const { directives, targeted } = responseDirectives(headers)
  const date = parseHttpDate(headers.date as string | undefined)
  let lifetimeMs: number
  if (directives.sMaxage !== null) lifetimeMs = directives.sMaxage * 1000
  else if (directives.maxAge !== null) lifetimeMs = directives.maxAge * 1000
  else if (!targeted && headers.expires !== undefined) {
    // A malformed Expires (or `0`) means already expired (RFC 9111 §5.3).
    const expires = parseHttpDate(headers.expires as string)
    lifetimeMs = Number.isNaN(expires) ? 0 : Math.max(0, expires - (Number.isNaN(date) ? responseTime : date))
  } else lifetimeMs = route.ttlMs
  const ageValue = parseAge(headers.age as string | string[] | undefined) ?? 0
  const apparentAge = Number.isNaN(date) ? 0 : Math.max(0, responseTime - date)
  const responseDelay = Math.max(0, responseTime - requestTime)
  const initialAgeMs = Math.min(Math.max(apparentAge, ageValue * 1000 + responseDelay), MAX_DELTA_SECONDS * 1000)
  const mustRevalidate = directives.mustRevalidate || directives.proxyRevalidate || directives.sMaxage !== null
  return {
    lifetimeMs,
    initialAgeMs,
    responseTime,
    mustRevalidate,
    noCache: directives.noCache,
    staleWhileRevalidateMs: mustRevalidate ? 0 : (directives.staleWhileRevalidate ?? -1) >= 0 ? (directives.staleWhileRevalidate as number) * 1000 : route.staleWhileRevalidateMs,
    staleIfErrorMs: mustRevalidate ? 0 : (directives.staleIfError ?? -1) >= 0 ? (directives.staleIfError as number) * 1000 : route.staleIfErrorMs,
    sharedWithAuthorization: directives.sMaxage !== null || directives.public || directives.mustRevalidate,
    etag: firstValue(headers.etag as string | undefined),
    lastModified: firstValue(headers['last-modified'] as string | undefined)
  }
}

/** Its current age in ms (RFC 9111 §4.2.3: corrected initial age plus resident time). */
export function ageMs (freshness: Freshness, now: number): number {
  return Math.min(freshness.initialAgeMs + Math.max(0, now - freshness.responseTime), MAX_DELTA_SECONDS * 1000)
}

/** The `age` header: whole seconds. */
export function ageHeader (freshness: Freshness, now: number): string {
  return String(Math.floor(ageMs(freshness, now) / 1000))
}

export function hasValidator (freshness: Freshness): boolean {
  return freshness.etag !== undefined || freshness.lastModified !== undefined
}

/**
 * When the store may drop it: past its stale windows, and past the time it can still be
 * revalidated (REVALIDATION_KEEP_MS with a validator). One without a validator is kept as
 * long again as it was fresh, and at least EXPIRED_KEEP_MS: a request then learns it
 * expired (`EXPIRED`, not `MISS`).
 */
export function keepUntil (freshness: Freshness): number {
  const staleAt = freshness.responseTime - freshness.initialAgeMs + freshness.lifetimeMs
  const windows = Math.max(freshness.staleWhileRevalidateMs, freshness.staleIfErrorMs)
  return staleAt + Math.max(windows, hasValidator(freshness) ? REVALIDATION_KEEP_MS : Math.max(freshness.lifetimeMs, EXPIRED_KEEP_MS))
}

/** The least a stale response without a validator is kept: a request then reads `EXPIRED`, not `MISS`. */
export const EXPIRED_KEEP_MS = 60_000

/** Why a response is not stored; null when it is. */
export type StoreRefusal = 'status' | 'no-store' | 'private' | 'set-cookie' | 'vary-star' | 'authorization' | 'no-freshness'

export interface StoreVerdict {
  /** null: it may be stored. */
  readonly refusal: StoreRefusal | null
  /** The lower-case request header names its Vary lists (sorted), or null without Vary. */
  readonly varyNames: readonly string[] | null
  /** Header names to leave out of the stored copy (`private="…"`, `no-cache="…"`). */
  readonly withheld: readonly string[]
}

/**
 * Whether the response to a GET may be stored (RFC 9111 §3), for a request with or without
 * Authorization; `lifetimeMs` is its freshness lifetime (freshnessOf).
 */
export function storeVerdict (status: number, requestHeaders: IncomingHttpHeaders, headers: HeaderMap, lifetimeMs: number): StoreVerdict {
  const refuse = (refusal: StoreRefusal): StoreVerdict => ({ refusal, varyNames: null, withheld: [] })
  if (!HEURISTICALLY_CACHEABLE.has(status)) return refuse('status')
  const { directives, targeted } = responseDirectives(headers)
  if (directives.noStore || parseDirectives(requestHeaders['cache-control']).noStore) return refuse('no-store')
  if (directives.private) return refuse('private')
  if (headers['set-cookie'] !== undefined) return refuse('set-cookie')
  const varyNames = varyOf(headers.vary)
  if (varyNames === '*') return refuse('vary-star')
  if (requestHeaders.authorization !== undefined && !(directives.sMaxage !== null || directives.public || directives.mustRevalidate)) return refuse('authorization')
  const explicit = directives.sMaxage !== null || directives.maxAge !== null || (!targeted && headers.expires !== undefined)
  const validator = headers.etag !== undefined || headers['last-modified'] !== undefined
  // Storable when it stays fresh for some time, or when the origin wants every use checked
  // and gave the means to (a validator): then it is kept for revalidation.
  if (!(lifetimeMs > 0 || (validator && (explicit || directives.noCache)))) return refuse('no-freshness')
  return { refusal: null, varyNames, withheld: [...directives.privateFields, ...directives.noCacheFields] }
}

/** Vary's names, lower case and sorted; '*' for `Vary: *`; null without Vary. */
export function varyOf (value: HeaderMap[string]): readonly string[] | '*' | null {
  if (value === undefined) return null
  const text = Array.isArray(value) ? value.join(',') : String(value)
  const names = new Set<string>()
  for (const item of text.split(',')) {
    const name = item.trim().toLowerCase()
    if (name === '*') return '*'
    if (name !== '') names.add(name)
  }
  return names.size === 0 ? null : [...names].sort()
}

/** A request header's value as Vary compares it: repeats joined, spaces around commas dropped. */
function varyValue (value: string | string[] | undefined): string {
  if (value === undefined) return ''
  const text = Array.isArray(value) ? value.join(',') : value
  return text.split(',').map(part => part.trim()).join(',')
}

/** The variant a request selects under `names`: its values, and their identity. */
export function variantOf (names: readonly string[] | null, requestHeaders: IncomingHttpHeaders): { readonly vary: Record<string, string> | null, readonly variant: string } {
  if (names === null) return { vary: null, variant: '' }
  const vary: Record<string, string> = {}
  for (const name of names) vary[name] = varyValue(requestHeaders[name] as string | string[] | undefined)
  return { vary, variant: JSON.stringify(vary) }
}

/** The stored response was stored for a request with the same values of its Vary headers. */
export function variantMatches (stored: StoredResponse, requestHeaders: IncomingHttpHeaders): boolean {
  const vary = stored.vary
  if (vary === null) return true
  for (const name in vary) {
    if (varyValue(requestHeaders[name] as string | string[] | undefined) !== vary[name]) return false
  }
  return true
}

/** What the stored copy of a response keeps: hop-by-hop, withheld and framing headers out. */
export function storedHeaders (headers: HeaderMap, withheld: readonly string[]): HeaderMap {
  const out: HeaderMap = {}
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || name === 'content-length' || withheld.includes(name)) continue
    out[name] = headers[name]
  }
  return out
}

/** The stored headers updated by a 304 (RFC 9111 §3.2): every header of the 304 except framing ones. */
export function mergeNotModified (stored: HeaderMap, notModified: HeaderMap, withheld: readonly string[] = []): HeaderMap {
  const out: HeaderMap = { ...stored }
  for (const name in notModified) {
    if (HOP_BY_HOP.has(name) || KEPT_ON_304.has(name) || withheld.includes(name)) continue
    out[name] = notModified[name]
  }
  return out
}

/** The validators to send upstream when revalidating (RFC 9111 §4.3.1). */
export function validatorsOf (freshness: Freshness): { 'if-none-match'?: string, 'if-modified-since'?: string } {
  const out: { 'if-none-match'?: string, 'if-modified-since'?: string } = {}
  if (freshness.etag !== undefined) out['if-none-match'] = freshness.etag
  if (freshness.lastModified !== undefined) out['if-modified-since'] = freshness.lastModified
  return out
}

/**
 * The client's conditional GET/HEAD is satisfied by the stored response, so the cache
 * answers 304 (RFC 9110 §13.2.2): If-None-Match by weak comparison, else If-Modified-Since
 * against Last-Modified.
 */
export function notModifiedFor (requestHeaders: IncomingHttpHeaders, freshness: Freshness, status: number): boolean {
  if (status !== 200) return false
  const inm = requestHeaders['if-none-match']
  if (inm !== undefined) {
    if (freshness.etag === undefined) return false
    const tags = entityTags(inm)
    const mine = opaqueTag(freshness.etag)
    return tags.some(tag => tag === '*' || tag === mine)
  }
  const ims = parseHttpDate(requestHeaders['if-modified-since'])
  if (Number.isNaN(ims) || freshness.lastModified === undefined) return false
  const modified = parseHttpDate(freshness.lastModified)
  return !Number.isNaN(modified) && modified <= ims
}

/** The request's own cache directives (RFC 9111 §5.2.1). */
export interface RequestDirectives {
  /** Stored responses must be revalidated first: `no-cache`, `Pragma: no-cache`, `max-age=0`. */
  readonly revalidate: boolean
  /** Stored responses older than this (ms) are not used; null: any. */
  readonly maxAgeMs: number | null
  /** A stored response must stay fresh at least this long (ms). */
  readonly minFreshMs: number
  readonly onlyIfCached: boolean
  readonly noStore: boolean
}

const NO_REQUEST_DIRECTIVES: RequestDirectives = Object.freeze({ revalidate: false, maxAgeMs: null, minFreshMs: 0, onlyIfCached: false, noStore: false })

export function requestDirectives (headers: IncomingHttpHeaders): RequestDirectives {
  const cacheControl = headers['cache-control']
  if (cacheControl === undefined) {
    // Pragma counts only without Cache-Control (RFC 9111 §5.4).
    const pragma = headers.pragma
    return pragma !== undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(pragma) ? { ...NO_REQUEST_DIRECTIVES, revalidate: true } : NO_REQUEST_DIRECTIVES
  }
  const d = parseDirectives(cacheControl)
  return {
    revalidate: d.noCache || d.maxAge === 0,
    maxAgeMs: d.maxAge === null ? null : d.maxAge * 1000,
    minFreshMs: (d.minFresh ?? 0) * 1000,
    onlyIfCached: d.onlyIfCached,
    noStore: d.noStore
  }
}
