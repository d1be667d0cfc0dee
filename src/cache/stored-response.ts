/**
 * What a cache store keeps: one response of one URL, for one variant of its request
 * headers (Vary). Stores treat it as opaque apart from `variant` (the identity of the
 * variant within a URL), `keepUntil` (when it may be dropped) and the body's size.
 */
import type { HeaderMap } from '../routing/header-rules.js'

export interface StoredResponse {
  readonly status: number
  /**
   * The response's headers as stored: lower-case names, no hop-by-hop headers, no fields
   * the origin marked `private="…"` / `no-cache="…"`. A 304 replaces this object.
   */
  readonly headers: HeaderMap
  /** The whole body, in one buffer: a hit writes it as it is. */
  readonly body: Buffer
  /** When the request that fetched it was sent (ms since the epoch): RFC 9111 request_time. */
  readonly requestTime: number
  /** When its headers arrived (ms since the epoch): RFC 9111 response_time. */
  readonly responseTime: number
  /**
   * The request header values it was stored for, by the lower-case names its `Vary`
   * lists (an absent header as ''); null when it has no `Vary`.
   */
  readonly vary: Readonly<Record<string, string>> | null
  /** Identifies the variant among the URL's: '' without Vary. Storing replaces the same one. */
  readonly variant: string
  /** Past this time (ms since the epoch) it can never be used again: a store may drop it. */
  readonly keepUntil: number
}

/** Where a response is stored: the request's Host (lower case) and its routed path with the query as sent. */
export interface CacheKey {
  readonly host: string
  /** The normalised path, plus `?` and the query when there is one. */
  readonly url: string
}

/** What `purge` removes: one URL or every URL under a prefix, of one host or all. */
export type PurgeSelector =
  | { readonly url: string, readonly host?: string }
  | { readonly prefix: string, readonly host?: string }
