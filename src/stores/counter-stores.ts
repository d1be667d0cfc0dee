/**
 * The counter stores the Gateway keeps across reloads, so that a reload neither resets
 * anyone's limit nor reconnects to Redis: one memory store for the process, and one Redis
 * connection while the config has a route with `store: redis`. A reload that keeps
 * `redis.url` keeps the connection; one that changes it connects anew (the app versions
 * still running keep the old one until they are closed); one that no longer needs Redis
 * closes it once the previous version is gone.
 */
import type { Logger } from 'pino'
import type { CompiledGateway } from '../config/compile.js'
import { MemoryCounterStore } from './memory.js'
import { RedisCounterStore } from './redis.js'
import { REDIS_CONNECT_TIMEOUT_MS } from './redis-connection.js'

/** The stores one app version uses. */
export interface CounterStoreSet {
  readonly memory: MemoryCounterStore
  /** null when no route of the config uses `store: redis`. */
  readonly redis: RedisCounterStore | null
}

export interface CounterStoreChange {
  readonly next: CounterStoreSet
  /** A connection opened for this config: closed if the config is not applied. */
  readonly created: RedisCounterStore | null
  /** The connection the config no longer uses: closed once the previous version is. */
  readonly retired: RedisCounterStore | null
}

export class CounterStores {
  readonly memory = new MemoryCounterStore()
  private redisStore: RedisCounterStore | null = null
  private readonly logger: Logger

  constructor (logger: Logger) {
    this.logger = logger
  }

  /** The Redis store in use, if any. */
  get redis (): RedisCounterStore | null {
    return this.redisStore
  }

  /**
   * The stores `config` needs. A new Redis connection is awaited for at most
   * REDIS_CONNECT_TIMEOUT_MS, so that the first requests are counted when Redis is there;
   * when it is not, the config is applied anyway and its routes act on `onStoreError`
   * until Redis answers.
   */
  async prepare (config: CompiledGateway): Promise<CounterStoreChange> {
    const redis = needsRedis(config) ? config.redis : null
    const current = this.redisStore
    if (redis === null) return { next: { memory: this.memory, redis: null }, created: null, retired: current }
    if (current !== null && current.url === redis.url && current.commandTimeoutMs === redis.commandTimeoutMs) {
      return { next: { memory: this.memory, redis: current }, created: null, retired: null }
    }
    const created = new RedisCounterStore(redis.url, { logger: this.logger, commandTimeoutMs: redis.commandTimeoutMs })
    if (!await created.connected(REDIS_CONNECT_TIMEOUT_MS)) {
      this.logger.warn({ redis: created.address }, 'redis is not reachable yet; routes with store redis act on onStoreError until it is')
    }
    return { next: { memory: this.memory, redis: created }, created, retired: current }
  }

  /** The change is applied: its stores are the ones in use. */
  commit (change: CounterStoreChange): void {
    this.redisStore = change.next.redis
  }

  async close (): Promise<void> {
    const redis = this.redisStore
    this.redisStore = null
    await redis?.close()
  }
}

function needsRedis (config: CompiledGateway): boolean {
  return config.redis !== null && config.routes.some(route => route.rateLimit?.store === 'redis')
}
