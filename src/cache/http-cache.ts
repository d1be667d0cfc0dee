/**
 * The gateway's HTTP cache: the store every cached route shares (memory or Redis), the
 * locks that coalesce misses, the set of background refreshes under way, and the clock.
 * The Gateway keeps one across reloads, like its counter stores: a reload keeps every
 * stored response; one that changes `cache.store` or `redis.url` moves to the new store
 * (the old one is closed once the previous app version is gone).
 */
import type { Logger } from 'pino'
import type { CompiledGateway } from '../config/compile.js'
import type { CacheStore } from '../stores/cache-store.js'
import { MemoryCacheStore } from '../stores/cache-memory.js'
import { RedisCacheStore } from '../stores/cache-redis.js'
import { REDIS_CONNECT_TIMEOUT_MS } from '../stores/redis-connection.js'
import { CACHE_DEFAULTS } from './config.js'
import { FillLocks } from './fill-locks.js'
import type { PurgeSelector } from './stored-response.js'

export interface HttpCacheOptions {
  readonly logger: Logger
  /** The clock freshness is read from, in ms since the epoch (default Date.now). */
  readonly now?: () => number
  /** Told of each purge made while the memory store is in use (other workers have their own). */
  readonly onPurge?: (selector: PurgeSelector) => void
}

export interface CacheStoreChange {
  readonly next: CacheStore
  /** A Redis store opened for this config: closed if the config is not applied. */
  readonly created: RedisCacheStore | null
  /** The Redis store the config no longer uses: closed once the previous version is. */
  readonly retired: RedisCacheStore | null
}

export class HttpCache {
  readonly now: () => number
  readonly locks = new FillLocks()
  /** Keys whose background refresh is under way: one at a time per key. */
  readonly refreshing = new Set<string>()
  readonly memory: MemoryCacheStore
  private redisStore: RedisCacheStore | null = null
  private current: CacheStore
  private readonly logger: Logger
  private readonly onPurge: (selector: PurgeSelector) => void

  constructor (options: HttpCacheOptions) {
    this.logger = options.logger
    this.onPurge = options.onPurge ?? (() => undefined)
    this.now = options.now ?? Date.now
    this.memory = new MemoryCacheStore({ maxSize: CACHE_DEFAULTS.maxSize, now: this.now })
    this.current = this.memory
  }

  /** The store in use. */
  get store (): CacheStore {
    return this.current
  }

  /** The Redis store in use, if any. */
  get redis (): RedisCacheStore | null {
    return this.redisStore
  }

  /** The store `config` needs (a Redis connection is awaited briefly, as for counters). */
  async prepare (config: CompiledGateway): Promise<CacheStoreChange> {
    const current = this.redisStore
    const usesCache = config.routes.some(route => route.cache !== null)
    if (config.cache.store !== 'redis' || config.redis === null || !usesCache) {
      return { next: this.memory, created: null, retired: current }
    }
    const redis = config.redis
    if (current !== null && current.url === redis.url && current.commandTimeoutMs === redis.commandTimeoutMs) {
      return { next: current, created: null, retired: null }
    }
    const created = new RedisCacheStore(redis.url, { logger: this.logger, commandTimeoutMs: redis.commandTimeoutMs, now: this.now })
    if (!await created.connected(REDIS_CONNECT_TIMEOUT_MS)) {
      this.logger.warn({ redis: created.address }, 'redis is not reachable yet; cached routes proxy uncached until it is')
    }
    return { next: created, created, retired: current }
  }

  commit (change: CacheStoreChange, config: CompiledGateway): void {
    this.memory.resize(config.cache.maxSize)
    this.redisStore = change.next === this.memory ? null : change.next as RedisCacheStore
    this.current = change.next
  }

  /**
   * Removes what `selector` names from the store in use; how many responses. `share`: tell
   * the other workers too, when each has its own (memory) store.
   */
  async purge (selector: PurgeSelector, share = true): Promise<number> {
    const store = this.current
    const purged = await store.purge(selector)
    if (share && store.kind === 'memory') this.onPurge(selector)
    return purged
  }

  async close (): Promise<void> {
    const redis = this.redisStore
    this.redisStore = null
    this.current = this.memory
    await redis?.close()
  }
}
