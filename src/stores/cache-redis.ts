/**
 * The Redis cache store (`cache.store: redis`): responses shared by every gateway on the
 * same Redis, so that a purge on one is seen by all at once. One hash per URL, under
 * `tollgate:cache:<url>\n<host>` (the url first, so that a prefix purge is one SCAN MATCH
 * pattern; neither part can contain `\n`); its fields are the variants, each one binary
 * value: a 4-byte big-endian length, the response's JSON meta, then the body's bytes as they
 * are. The hash expires in Redis when its last variant can no longer be used.
 *
 * Every call is bounded (see redis-connection.ts), and rejects while Redis is unreachable
 * or slow: the cache then proxies uncached. At most one call at a time waits on Redis
 * during an outage (a probe); the others fail at once until a probe succeeds. An outage is
 * logged once, and its end once; every failed call is counted in `failures`.
 */
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { CacheKey, PurgeSelector, StoredResponse } from '../cache/stored-response.js'
import { MAX_VARIANTS_PER_URL, type CacheStore } from './cache-store.js'
import { RedisOutage } from './redis-outage.js'
import { boundedRedisOptions, closeRedis, redisAddress, REDIS_CONNECT_TIMEOUT_MS, whenReady } from './redis-connection.js'
import { REDIS_COMMAND_TIMEOUT_MS } from './redis.js'

/** Every cache key the gateway writes starts with this. */
export const REDIS_CACHE_PREFIX = 'tollgate:cache:'
/** Keys asked for per SCAN step, and removed per script call, by a purge. */
const PURGE_BATCH = 500

/**
 * Stores one variant and makes the hash expire at the latest keepUntil of its variants.
 * The expiry only ever moves later: recomputing it would mean reading every variant back,
 * bodies included; a hash kept a little longer than its longest-lived variant costs only
 * memory until then (a get ignores, and removes, variants past their keepUntil).
 * The current expiry is read on Redis's clock (TIME + PTTL), the one PEXPIREAT uses.
 * A new variant past the most a URL keeps (ARGV[4]) replaces one at random: a hash has no
 * order to find the oldest by.
 * KEYS[1] the URL's hash; ARGV[1] variant, ARGV[2] value, ARGV[3] keepUntil (ms), ARGV[4] the most variants.
 */
const PUT = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then
  redis.call('HDEL', KEYS[1], redis.call('HRANDFIELD', KEYS[1]))
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local keep = tonumber(ARGV[3])
local ttl = redis.call('PTTL', KEYS[1])
if ttl >= 0 then
  local time = redis.call('TIME')
  local expires = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) + ttl
  if expires >= keep then return 0 end
end
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
`

/** Removes whole hashes; returns how many variants they held. KEYS: the hashes. */
const DELETE = `
local removed = 0
for _, key in ipairs(KEYS) do
  removed = removed + redis.call('HLEN', key)
  redis.call('DEL', key)
end
return removed
`

/**
 * Removes variants found past their keepUntil, unless another gateway replaced them
 * meanwhile: a field is removed only while its value still starts with the meta that was
 * read. KEYS[1] the hash; ARGV: variant, meta prefix, variant, meta prefix…
 */
const DROP_EXPIRED = `
for i = 1, #ARGV, 2 do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  if value and string.sub(value, 1, #ARGV[i + 1]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return 0
`

interface CacheCommands {
  tollgateCachePut (key: string, variant: string, value: Buffer, keepUntil: number, maxVariants: number): Promise<number>
  /** Its key count first: a purge passes a batch of keys. */
  tollgateCacheDelete (numberOfKeys: number, ...keys: Array<string | Buffer>): Promise<number>
  tollgateCacheDropExpired (key: string, ...fieldsAndMetas: Array<string | Buffer>): Promise<number>
}

/** What a value holds besides the body. */
type Meta = Omit<StoredResponse, 'body'>

export function cacheKey (key: CacheKey): string {
  return `${REDIS_CACHE_PREFIX}${key.url}\n${key.host}`
}

/** `text` as a literal inside a SCAN MATCH pattern. */
export function globLiteral (text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}

/** The SCAN MATCH pattern of what a purge names (a `{url, host}` purge needs none). */
function purgePattern (selector: PurgeSelector): string {
  const host = selector.host === undefined ? '*' : globLiteral(selector.host)
  if ('url' in selector) return `${REDIS_CACHE_PREFIX}${globLiteral(selector.url)}\n${host}`
  return `${REDIS_CACHE_PREFIX}${globLiteral(selector.prefix)}*\n${host}`
}

export function encodeResponse (response: StoredResponse): Buffer {
  const meta: Meta = {
    status: response.status,
    headers: response.headers,
    requestTime: response.requestTime,
    responseTime: response.responseTime,
    vary: response.vary,
    variant: response.variant,
    keepUntil: response.keepUntil
  }
  const json = Buffer.from(JSON.stringify(meta))
  const value = Buffer.allocUnsafe(4 + json.length + response.body.length)
  value.writeUInt32BE(json.length, 0)
  json.copy(value, 4)
  response.body.copy(value, 4 + json.length)
  return value
}

/** The response a value holds (its body a view of the value), and the value's meta bytes. */
export function decodeResponse (value: Buffer): { response: StoredResponse, metaBytes: Buffer } {
  if (value.length < 4) throw new Error('a cached value too short for its meta length')
  const end = 4 + value.readUInt32BE(0)
  if (end > value.length) throw new Error('a cached value shorter than its meta')
  const meta = JSON.parse(value.toString('utf8', 4, end)) as Meta
  return { response: { ...meta, body: value.subarray(end) }, metaBytes: value.subarray(0, end) }
}

export interface RedisCacheStoreOptions {
  readonly logger: Logger
  /** Default REDIS_COMMAND_TIMEOUT_MS. */
  readonly commandTimeoutMs?: number
  /** Milliseconds since the epoch, the clock `keepUntil` is read against (default: Date.now). */
  readonly now?: () => number
}

export class RedisCacheStore implements CacheStore {
  readonly kind = 'redis'
  readonly url: string
  /** How long a command may take before it counts as failed (`redis.commandTimeout`). */
  readonly commandTimeoutMs: number
  private readonly client: Redis & CacheCommands
  private readonly logger: Logger
  private readonly now: () => number
  private readonly outage: RedisOutage

  constructor (url: string, options: RedisCacheStoreOptions) {
    this.url = url
    this.commandTimeoutMs = options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS
    this.logger = options.logger
    this.outage = new RedisOutage(options.logger, () => this.address, {
      down: 'redis is unreachable: cached routes proxy uncached until it answers',
      up: 'redis answers again: cached routes are served from the cache again'
    })
    this.now = options.now ?? Date.now
    this.client = new Redis(url, {
      ...boundedRedisOptions('tollgate-cache', this.commandTimeoutMs),
      scripts: {
        tollgateCachePut: { numberOfKeys: 1, lua: PUT },
        tollgateCacheDelete: { lua: DELETE },
        tollgateCacheDropExpired: { numberOfKeys: 1, lua: DROP_EXPIRED }
      }
    }) as Redis & CacheCommands
    // Connection errors are retried by the client; what they cost is logged by `call`,
    // once per outage. Without a listener, ioredis prints each one.
    this.client.on('error', (err: Error) => { this.logger.debug({ err, redis: this.address }, 'redis connection error') })
  }

  /** Calls that failed (Redis failed, timed out or was unreachable). */
  get failures (): number {
    return this.outage.failures
  }

  /** Where Redis is, without credentials: for logs. */
  get address (): string {
    return redisAddress(this.url)
  }

  /** Resolves true once connected, false when that took longer than `timeoutMs`. */
  async connected (timeoutMs = REDIS_CONNECT_TIMEOUT_MS): Promise<boolean> {
    return await whenReady(this.client, timeoutMs)
  }

  async get (key: CacheKey): Promise<readonly StoredResponse[]> {
    const k = cacheKey(key)
    const fields = await this.call(async () => await this.client.hgetallBuffer(k))
    const now = this.now()
    const found: StoredResponse[] = []
    const expired: Array<string | Buffer> = []
    for (const [variant, value] of Object.entries(fields)) {
      let decoded: ReturnType<typeof decodeResponse>
      try {
        decoded = decodeResponse(value)
      } catch (err) {
        // Not written by this store (or damaged): a miss for that variant, never an error.
        this.logger.debug({ err, key: k, variant }, 'unreadable cache entry ignored')
        continue
      }
      if (decoded.response.keepUntil < now) expired.push(variant, decoded.metaBytes)
      else found.push(decoded.response)
    }
    if (expired.length > 0) {
      // Tidying only: the answer does not wait for it, and a failure changes nothing.
      this.client.tollgateCacheDropExpired(k, ...expired).catch((err: unknown) => {
        this.logger.debug({ err, key: k }, 'expired cache entries not removed')
      })
    }
    return found
  }

  async put (key: CacheKey, response: StoredResponse): Promise<void> {
    if (response.keepUntil < this.now()) return
    const value = encodeResponse(response)
    // PEXPIREAT takes whole milliseconds, and refuses what is past any date it can hold.
    const expireAt = Math.min(Math.ceil(response.keepUntil), Number.MAX_SAFE_INTEGER)
    await this.call(async () => await this.client.tollgateCachePut(cacheKey(key), response.variant, value, expireAt, MAX_VARIANTS_PER_URL))
  }

  async delete (key: CacheKey): Promise<number> {
    return await this.call(async () => await this.client.tollgateCacheDelete(1, cacheKey(key)))
  }

  async purge (selector: PurgeSelector): Promise<number> {
    if ('url' in selector && selector.host !== undefined) return await this.delete({ url: selector.url, host: selector.host })
    const pattern = purgePattern(selector)
    return await this.call(async () => {
      let removed = 0
      let cursor = '0'
      // SCAN visits every key present from start to end at least once, and ends when its
      // cursor comes back to 0; a key seen twice counts once (its second DEL finds nothing).
      do {
        const [next, keys] = await this.client.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', PURGE_BATCH)
        cursor = next.toString()
        if (keys.length > 0) removed += await this.client.tollgateCacheDelete(keys.length, ...keys)
      } while (cursor !== '0')
      return removed
    })
  }

  /** Closes the connection (QUIT when connected, so Redis has let it go when this resolves). */
  async close (): Promise<void> {
    await closeRedis(this.client)
  }

  private async call<T> (command: () => Promise<T>): Promise<T> {
    return await this.outage.run(command)
  }

}
