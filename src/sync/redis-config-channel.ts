/**
 * The cluster's shared config in Redis: one hash holding the config last applied through
 * an admin API, its version, who applied it and when; and a pub/sub channel announcing
 * each new version. An instance is told of a change by the announcement, and reads the
 * hash itself, so that it also catches up on what it missed (at start, after Redis was
 * away): a reader applies the stored config whenever it is not the one it runs.
 *
 * Two connections: pub/sub needs one of its own (a subscribed connection runs no other
 * command). Both follow redis-connection.ts: nothing queued while Redis is away.
 */
import { hostname } from 'node:os'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { ADMIN_BODY_LIMIT, ADMIN_BODY_LIMIT_TEXT } from '../admin/limits.js'
import { boundedRedisOptions, closeRedis, redisAddress, whenReady } from '../stores/redis-connection.js'

/** The hash: fields version, config (JSON), origin, appliedAt. */
export const SHARED_CONFIG_KEY = 'tollgate:config'
/** Announces each new version (the message is the version number). */
export const SHARED_CONFIG_CHANNEL = 'tollgate:config:changed'
/**
 * An admin call waits this long for Redis at most. Longer than a request's wait: a config
 * is up to a megabyte, and nothing is served while it waits.
 */
export const SHARED_CONFIG_TIMEOUT_MS = 5000

/**
 * Stores a config as the next version and announces it, atomically: two instances
 * publishing at once get two versions, and the hash holds the later one's config. The
 * version is above both the stored one and the publisher's own (ARGV[1]): a Redis that
 * restarted empty does not start again at 1 below what the instances have applied.
 * KEYS[1] hash; ARGV: seen version, config JSON, origin, ISO time, channel.
 */
const PUBLISH = `
local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '0') or 0
local seen = tonumber(ARGV[1]) or 0
local version = math.max(stored, seen) + 1
redis.call('HSET', KEYS[1], 'version', version, 'config', ARGV[2], 'origin', ARGV[3], 'appliedAt', ARGV[4])
redis.call('PUBLISH', ARGV[5], version)
return version
`

export interface SharedConfig {
  readonly version: number
  /** The config as it was sent to the admin API (`${NAME}` references unresolved). */
  readonly config: Record<string, unknown>
  /** `host:pid` of the instance whose admin API applied it. */
  readonly origin: string
  /** When it was applied there (ISO 8601). */
  readonly appliedAt: string
}

interface PublishCommand {
  tollgatePublishConfig (key: string, seen: number, config: string, origin: string, at: string, channel: string): Promise<number>
}

/** The hash holds something no gateway wrote: it is reported, never applied. */
export class SharedConfigUnreadable extends Error {}

/** This process, as other instances' logs name it. */
export const INSTANCE_NAME = `${hostname()}:${process.pid}`

export class RedisConfigChannel {
  readonly url: string
  private readonly commands: Redis & PublishCommand
  private readonly subscriber: Redis
  private readonly logger: Logger
  private closed = false

  /** `onChange`: a version may have been announced or missed; read the hash. */
  constructor (url: string, logger: Logger, onChange: () => void) {
    this.url = url
    this.logger = logger
    this.commands = new Redis(url, {
      ...boundedRedisOptions('tollgate-config', SHARED_CONFIG_TIMEOUT_MS),
      scripts: { tollgatePublishConfig: { numberOfKeys: 1, lua: PUBLISH } }
    }) as Redis & PublishCommand
    this.commands.on('error', (err: Error) => { this.logger.debug({ err, redis: this.address }, 'redis connection error (shared config)') })
    // Either connection may come back last after an outage: each one's return is a chance
    // to read what was missed (a read needs this one, the announcements the other).
    this.commands.on('ready', () => { if (!this.closed) onChange() })
    this.subscriber = new Redis(url, {
      ...boundedRedisOptions('tollgate-config-events', SHARED_CONFIG_TIMEOUT_MS),
      // Subscribed by hand on every (re)connection, so that the hash is read only once the
      // subscription is in place: a version announced in between is never missed.
      autoResubscribe: false
    })
    this.subscriber.on('error', (err: Error) => { this.logger.debug({ err, redis: this.address }, 'redis connection error (shared config events)') })
    this.subscriber.on('message', (channel: string) => { if (channel === SHARED_CONFIG_CHANNEL) onChange() })
    this.subscriber.on('ready', () => {
      this.subscriber.subscribe(SHARED_CONFIG_CHANNEL).then(() => {
        if (this.closed) return
        this.logger.info({ redis: this.address }, 'listening for shared config changes')
        onChange()
      }, (err: unknown) => {
        // The connection dropped again: the next 'ready' subscribes anew.
        this.logger.debug({ err, redis: this.address }, 'subscribing to shared config changes failed')
      })
    })
  }

  /** Where Redis is, without credentials. */
  get address (): string {
    return redisAddress(this.url)
  }

  /** True while commands can be sent. */
  get reachable (): boolean {
    return this.commands.status === 'ready'
  }

  /** Resolves true once connected, false after `timeoutMs`. */
  async connected (timeoutMs: number): Promise<boolean> {
    return await whenReady(this.commands, timeoutMs)
  }

  /** The stored config, or null when none was ever stored. Throws when Redis fails or holds garbage. */
  async read (): Promise<SharedConfig | null> {
    const [version, config, origin, appliedAt] = await this.commands.hmget(SHARED_CONFIG_KEY, 'version', 'config', 'origin', 'appliedAt')
    if (version === null && config === null) return null
    const number = Number(version)
    if (!Number.isSafeInteger(number) || number < 1) throw new SharedConfigUnreadable(`${SHARED_CONFIG_KEY} has version ${JSON.stringify(version)}, not a positive integer`)
    // The admin API takes at most this much; more was not written by a gateway.
    const text = config ?? ''
    if (text.length > ADMIN_BODY_LIMIT) throw new SharedConfigUnreadable(`${SHARED_CONFIG_KEY} version ${number} holds a config of ${text.length} characters, over the admin API's ${ADMIN_BODY_LIMIT_TEXT}`)
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new SharedConfigUnreadable(`${SHARED_CONFIG_KEY} version ${number} holds a config that is not JSON`)
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new SharedConfigUnreadable(`${SHARED_CONFIG_KEY} version ${number} holds a config that is not a JSON object`)
    }
    return { version: number, config: parsed as Record<string, unknown>, origin: origin ?? 'unknown', appliedAt: appliedAt ?? '' }
  }

  /** Stores `config` as the next version above `seen` and announces it; returns what was stored. */
  async publish (config: Record<string, unknown>, seen: number): Promise<SharedConfig> {
    const appliedAt = new Date().toISOString()
    const version = await this.commands.tollgatePublishConfig(
      SHARED_CONFIG_KEY, seen, JSON.stringify(config), INSTANCE_NAME, appliedAt, SHARED_CONFIG_CHANNEL
    )
    return { version, config, origin: INSTANCE_NAME, appliedAt }
  }

  async close (): Promise<void> {
    this.closed = true
    await Promise.all([closeRedis(this.commands), closeRedis(this.subscriber)])
  }
}
