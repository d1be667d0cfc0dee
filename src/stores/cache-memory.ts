/**
 * The in-process cache store (`cache.store: memory`, the default): the URLs in one map kept
 * in least-recently-used order, each with its variants. It answers synchronously, so a hit
 * costs no promise, and it hands out the stored objects themselves: a hit writes the stored
 * body without copying it.
 *
 * It holds at most `maxSize` bytes as it counts them: each response's body, its headers,
 * its key and variant, plus ENTRY_OVERHEAD for the objects that hold them, so that many tiny
 * entries are bounded as well as a few large ones. Beyond that, whole URLs go, least
 * recently used first (a URL's variants are used together, and dropping the URL frees
 * its map entry too); only when the URL just stored is alone too large do its own older
 * variants go. A get that finds something makes its URL the most recent.
 */
import type { CacheKey, PurgeSelector, StoredResponse } from '../cache/stored-response.js'
import { MAX_VARIANTS_PER_URL, type CacheStore } from './cache-store.js'

/**
 * Bytes counted for each stored response on top of its strings and body: what V8 spends on
 * the objects around them. Measured on Node 20 by storing 100 000 responses of a 1-byte
 * body and 6 short headers, one per URL, and reading heapUsed + external after a full GC:
 * 806 bytes per entry, of which the strings and body counted above are 140. The rest, 666,
 * is about half the response's own objects (the response, its headers object, the Buffer
 * and its ArrayBuffer, the boxed times) and half the store's (the key string, the map slot,
 * the URL entry and its variants array). Rounded up to 700.
 */
export const ENTRY_OVERHEAD = 700

export interface MemoryCacheStoreOptions {
  /** The most bytes held (see ENTRY_OVERHEAD for how they are counted). */
  readonly maxSize: number
  /** Milliseconds since the epoch, the clock `keepUntil` is read against (default: Date.now). */
  readonly now?: () => number
}

interface UrlEntry {
  /**
   * Replaced, never changed in place: a get hands this very array out, and whoever holds
   * it (across a revalidation, say) keeps seeing what the get found.
   */
  variants: readonly StoredResponse[]
  /** The sum of its variants' sizes. */
  size: number
}

/** The map key: neither a request target nor a header value can contain `\n`. */
function keyOf (key: CacheKey): string {
  return `${key.url}\n${key.host}`
}

function stringsSize (record: Readonly<Record<string, unknown>>): number {
  let size = 0
  for (const name in record) {
    const value = record[name]
    size += name.length
    if (typeof value === 'string') size += value.length
    else if (Array.isArray(value)) for (const item of value as unknown[]) size += String(item).length
    else if (value !== undefined) size += String(value).length
  }
  return size
}

/** What one response counts for under `key`. */
export function responseSize (key: string, response: StoredResponse): number {
  return ENTRY_OVERHEAD + key.length + response.variant.length + response.body.length +
    stringsSize(response.headers) + (response.vary === null ? 0 : stringsSize(response.vary))
}

/**
 * A small body is often a slice of a shared pool (Buffer.concat and Buffer.from take one
 * below 4 KB): keeping the slice would keep the whole pool alive, bytes the bound cannot
 * see. Such a body is copied once, when stored, into a buffer of its own.
 */
function owned (response: StoredResponse): StoredResponse {
  const body = response.body
  if (body.byteOffset === 0 && body.byteLength === body.buffer.byteLength) return response
  const copy = Buffer.allocUnsafeSlow(body.length)
  body.copy(copy)
  return { ...response, body: copy }
}

export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory'
  private max: number
  private readonly now: () => number
  /** In eviction order: the least recently used URL first. */
  private readonly urls = new Map<string, UrlEntry>()
  private bytes = 0
  private responses = 0

  constructor (options: MemoryCacheStoreOptions) {
    this.max = Math.max(0, options.maxSize)
    this.now = options.now ?? Date.now
  }

  get maxSize (): number {
    return this.max
  }

  /** Bytes held, as counted against maxSize. */
  get size (): number {
    return this.bytes
  }

  /** Responses (variants) held. */
  get count (): number {
    return this.responses
  }

  /** A reload may change `cache.maxSize`: a smaller one is enforced at once. */
  resize (maxSize: number): void {
    this.max = Math.max(0, maxSize)
    this.evict(null)
  }

  get (key: CacheKey): readonly StoredResponse[] {
    const k = keyOf(key)
    const entry = this.urls.get(k)
    if (entry === undefined) return []
    const now = this.now()
    if (entry.variants.some(response => response.keepUntil < now)) {
      this.replace(k, entry, entry.variants.filter(response => response.keepUntil >= now))
      if (entry.variants.length === 0) {
        this.urls.delete(k)
        return []
      }
    }
    this.urls.delete(k)
    this.urls.set(k, entry)
    return entry.variants
  }

  put (key: CacheKey, response: StoredResponse): void {
    const k = keyOf(key)
    const entry = this.urls.get(k)
    const others = entry === undefined ? [] : entry.variants.filter(stored => stored.variant !== response.variant)
    // A response that cannot be kept still replaces its variant: what it superseded must
    // not be served after it.
    const keep = response.keepUntil >= this.now() && responseSize(k, response) <= this.max
    // The oldest variants go first past MAX_VARIANTS_PER_URL (they are kept oldest first).
    const kept = keep && others.length >= MAX_VARIANTS_PER_URL ? others.slice(others.length - MAX_VARIANTS_PER_URL + 1) : others
    const variants = keep ? [...kept, owned(response)] : others
    if (entry === undefined) {
      if (!keep) return
      const created: UrlEntry = { variants: [], size: 0 }
      this.urls.set(k, created)
      this.replace(k, created, variants)
      this.evict(created)
      return
    }
    this.replace(k, entry, variants)
    if (variants.length === 0) {
      this.urls.delete(k)
      return
    }
    this.urls.delete(k)
    this.urls.set(k, entry)
    this.evict(entry)
  }

  delete (key: CacheKey): number {
    return this.remove(keyOf(key))
  }

  async purge (selector: PurgeSelector): Promise<number> {
    if ('url' in selector) {
      if (selector.host !== undefined) return this.remove(keyOf({ url: selector.url, host: selector.host }))
      return this.removeWhere(url => url === selector.url, undefined)
    }
    return this.removeWhere(url => url.startsWith(selector.prefix), selector.host)
  }

  async close (): Promise<void> {
    this.urls.clear()
    this.bytes = 0
    this.responses = 0
  }

  /** Removes the URLs whose url matches (of `host`, or of every host); returns the responses removed. */
  private removeWhere (matches: (url: string) => boolean, host: string | undefined): number {
    let removed = 0
    // Deleting the entry being visited is safe in a Map's iteration.
    for (const k of this.urls.keys()) {
      const split = k.indexOf('\n')
      if (host !== undefined && k.slice(split + 1) !== host) continue
      if (matches(k.slice(0, split))) removed += this.remove(k)
    }
    return removed
  }

  private remove (k: string): number {
    const entry = this.urls.get(k)
    if (entry === undefined) return 0
    const removed = entry.variants.length
    this.replace(k, entry, [])
    this.urls.delete(k)
    return removed
  }

  /** Sets an entry's variants, keeping the store's totals right. */
  private replace (k: string, entry: UrlEntry, variants: readonly StoredResponse[]): void {
    let size = 0
    for (const response of variants) size += responseSize(k, response)
    this.bytes += size - entry.size
    this.responses += variants.length - entry.variants.length
    entry.size = size
    entry.variants = variants
  }

  /**
   * Drops least recently used URLs until the total fits. `current` (just stored, the most
   * recent) goes last, and then only its older variants: the response just stored fits on
   * its own, so this ends.
   */
  private evict (current: UrlEntry | null): void {
    for (const [k, entry] of this.urls) {
      if (this.bytes <= this.max) return
      if (entry !== current) {
        this.remove(k)
        continue
      }
      const variants = [...entry.variants]
      while (this.bytes - entry.size + variantsSize(k, variants) > this.max && variants.length > 1) variants.shift()
      this.replace(k, entry, variants)
      if (this.bytes > this.max) this.remove(k)
    }
  }
}

function variantsSize (k: string, variants: readonly StoredResponse[]): number {
  let size = 0
  for (const response of variants) size += responseSize(k, response)
  return size
}
