/**
 * The Redis counter store (`store: redis`): counts shared by every gateway using the same
 * Redis, each hit one Lua script (atomic on the server: two gateways' hits can never both
 * read 99 and both write 100). The sliding window reads Redis's own clock, so gateways
 * whose clocks differ still agree on what the window holds.
 *
 * Every call is bounded (see redis-connection.ts). While Redis is unreachable at most one
 * request at a time waits on it (a probe); the others fail at once, until a probe
 * succeeds. A failure is logged once per outage (and its end once), and
 * every hit that could not be counted is counted in `failures`; whether the request then
 * passes or gets 503 is the route's `onStoreError`.
 */
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { WindowCount } from '../limits/windows.js'
import type { CounterStore } from './counter-store.js'
import { RedisOutage } from './redis-outage.js'
import { boundedRedisOptions, closeRedis, redisAddress, REDIS_CONNECT_TIMEOUT_MS, whenReady } from './redis-connection.js'

/**
 * The longest a request waits for Redis unless `redis.commandTimeout` says otherwise: Redis
 * answers in about a millisecond when it is well.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 250
/** Every rate-limit key the gateway writes starts with this. */
export const REDIS_KEY_PREFIX = 'tollgate:rl:'

/**
 * Fixed window: INCR, and the window's expiry set by its first hit. A key found without
 * an expiry (left by something else) gets one, so it cannot block forever.
 * KEYS[1] key; ARGV[1] window ms. Returns { count, ms until the window ends }.
 */
const FIXED_WINDOW = `
local current = redis.call('INCR', KEYS[1])
local ttl = -1
if current > 1 then ttl = redis.call('PTTL', KEYS[1]) end
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
if ttl < 1 then ttl = 1 end
return { current, ttl }
`

/**
 * Sliding window: a list of the times (microseconds, Redis's clock) of the hits let through
 * in the window, oldest first. Hits that left the window are popped; a hit passes when
 * fewer than the limit remain, and only then is it recorded (refused hits are not).
 * KEYS[1] key; ARGV[1] window ms; ARGV[2] limit. Returns { count (limit + 1: refused),
 * ms until the oldest recorded hit leaves the window }.
 */
const SLIDING_WINDOW = `
local key = KEYS[1]
local window = tonumber(ARGV[1]) * 1000
local limit = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local edge = now - window
while true do
  local oldest = redis.call('LINDEX', key, 0)
  if not oldest or tonumber(oldest) > edge then break end
  redis.call('LPOP', key)
end
local count = redis.call('LLEN', key)
local current = limit + 1
if count < limit then
  redis.call('RPUSH', key, string.format('%.0f', now))
  redis.call('PEXPIRE', key, ARGV[1])
  current = count + 1
end
local oldest = tonumber(redis.call('LINDEX', key, 0))
local ttl = math.ceil((oldest + window - now) / 1000)
if ttl < 1 then ttl = 1 end
return { current, ttl }
`

interface CounterCommands {
  tollgateFixedWindow (key: string, windowMs: number): Promise<[number, number]>
  tollgateSlidingWindow (key: string, windowMs: number, limit: number): Promise<[number, number]>
}

export interface RedisCounterStoreOptions {
  readonly logger: Logger
  /** Default REDIS_COMMAND_TIMEOUT_MS. */
  readonly commandTimeoutMs?: number
}

export class RedisCounterStore implements CounterStore {
  readonly kind = 'redis'
  readonly url: string
  /** How long a command may take before it counts as failed (`redis.commandTimeout`). */
  readonly commandTimeoutMs: number
  private readonly client: Redis & CounterCommands
  private readonly logger: Logger
  private readonly outage: RedisOutage

  constructor (url: string, options: RedisCounterStoreOptions) {
    this.url = url
    this.commandTimeoutMs = options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS
    this.logger = options.logger
    this.outage = new RedisOutage(options.logger, () => this.address, {
      down: 'redis is unreachable: routes with store redis pass requests uncounted (onStoreError: open) or refuse them with 503 (closed) until it answers',
      up: 'redis answers again: rate limits on store redis are counted again'
    })
    this.client = new Redis(url, {
      ...boundedRedisOptions('tollgate', this.commandTimeoutMs),
      scripts: {
        tollgateFixedWindow: { numberOfKeys: 1, lua: FIXED_WINDOW },
        tollgateSlidingWindow: { numberOfKeys: 1, lua: SLIDING_WINDOW }
      }
    }) as Redis & CounterCommands
    // Connection errors are retried by the client; what they cost requests is logged by
    // `call`, once per outage. Without a listener, ioredis prints each one.
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

  async fixedWindow (key: string, windowMs: number): Promise<WindowCount> {
    return await this.call(() => this.client.tollgateFixedWindow(REDIS_KEY_PREFIX + key, windowMs))
  }

  async slidingWindow (key: string, windowMs: number, limit: number): Promise<WindowCount> {
    return await this.call(() => this.client.tollgateSlidingWindow(REDIS_KEY_PREFIX + key, windowMs, limit))
  }

  /** Closes the connection (QUIT when connected, so Redis has let it go when this resolves). */
  async close (): Promise<void> {
    await closeRedis(this.client)
  }

  private async call (command: () => Promise<[number, number]>): Promise<WindowCount> {
    const [current, ttl] = await this.outage.run(command)
    return { current, ttl }
  }

}
