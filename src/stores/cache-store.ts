/**
 * A cache store: where the HTTP cache (src/cache/) keeps responses. Memory answers at once
 * (a hit then costs no promise); Redis answers with promises, and rejects while Redis is
 * unreachable (the cache then proxies uncached).
 */
import type { CacheKey, PurgeSelector, StoredResponse } from '../cache/stored-response.js'

export type MaybePromise<T> = T | Promise<T>

/**
 * The most responses one URL keeps (its variants, over routes, schemes and Vary values):
 * an origin that varies on a header the client controls would otherwise let any client
 * make one URL's lookups walk thousands of variants. Past it, the oldest goes.
 */
export const MAX_VARIANTS_PER_URL = 32

export interface CacheStore {
  readonly kind: 'memory' | 'redis'
  /** Every stored variant of the URL (the cache decides which may be used); [] for none. */
  get (key: CacheKey): MaybePromise<readonly StoredResponse[]>
  /** Stores `response`, replacing the URL's variant with the same `variant`. */
  put (key: CacheKey, response: StoredResponse): MaybePromise<void>
  /** Removes every variant of the URL; resolves to how many were removed. */
  delete (key: CacheKey): MaybePromise<number>
  /** Removes what `selector` names; resolves to how many responses were removed. */
  purge (selector: PurgeSelector): Promise<number>
  close (): Promise<void>
}
