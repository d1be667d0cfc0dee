/**
 * How every gateway connection to Redis behaves: a command is never queued while the
 * connection is down (it fails at once) nor resent after one drops, a command Redis does
 * not answer fails after its timeout, and the connection itself reconnects forever, at
 * most REDIS_RECONNECT_MAX_MS apart. A request or an admin call thus never waits on Redis
 * longer than its command timeout.
 */
import type { Redis, RedisOptions } from 'ioredis'

/** The longest a connection attempt may take. */
export const REDIS_CONNECT_TIMEOUT_MS = 1000
/** The longest pause between reconnection attempts. */
export const REDIS_RECONNECT_MAX_MS = 500

/** `name` shows in Redis's CLIENT LIST, so an operator can tell the connections apart. */
export function boundedRedisOptions (name: string, commandTimeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    retryStrategy: (attempt: number) => Math.min(attempt * 50, REDIS_RECONNECT_MAX_MS),
    connectionName: name
  }
}

/** Where a Redis URL points, without credentials: for logs. */
export function redisAddress (url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.hostname}:${parsed.port === '' ? '6379' : parsed.port}`
  } catch {
    return 'redis'
  }
}

/** Resolves true once `client` is connected, false when that took longer than `timeoutMs`. */
export async function whenReady (client: Redis, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return true
  return await new Promise<boolean>(resolve => {
    const done = (ready: boolean): void => {
      clearTimeout(timer)
      client.off('ready', onReady)
      resolve(ready)
    }
    const onReady = (): void => done(true)
    const timer = setTimeout(() => done(false), timeoutMs)
    client.on('ready', onReady)
  })
}

/** Closes a connection: QUIT when connected (Redis has let it go when this resolves), else dropped. */
export async function closeRedis (client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit()
      return
    } catch {
      // Not answered within the command timeout: drop the connection instead.
    }
  }
  client.disconnect()
}
