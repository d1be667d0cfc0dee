/**
 * One instance's side of the shared config: the channel to Redis (open while the config
 * has `redis`), and which stored version this instance runs. The Gateway asks it what to
 * apply and tells it what it applied; it never applies anything itself.
 *
 * The model, for operators (docs/operations.md): with `redis`, a config applied through
 * any instance's admin API is stored in Redis and applied by every instance sharing that
 * Redis (URL and database). An instance starting, or reloading on SIGHUP, runs the stored
 * config when there is one, with the instance keys of its own file; the file alone when
 * there is none.
 */
import type { Logger } from 'pino'
import type { CompiledRedis } from '../config/compile.js'
import { REDIS_CONNECT_TIMEOUT_MS } from '../stores/redis-connection.js'
import { RedisConfigChannel, type SharedConfig } from './redis-config-channel.js'

export class ConfigSync {
  private channel: RedisConfigChannel | null = null
  private readonly closing = new Set<Promise<void>>()
  /** The stored config last applied here (or published from here), or null. */
  private applied: SharedConfig | null = null
  /** The last one read, for a reload while Redis is away. */
  private lastRead: SharedConfig | null = null
  /** Reading failed last time: logged once per failure streak. */
  private failing = false
  private readonly logger: Logger
  private readonly onChange: () => void

  /** `onChange`: another instance may have stored a config (see `newer`). */
  constructor (logger: Logger, onChange: () => void) {
    this.logger = logger
    this.onChange = onChange
  }

  /** True while the config has `redis`: applied configs are shared. */
  get active (): boolean {
    return this.channel !== null
  }

  /** Resolves true when a config can be published, waiting up to a connection timeout. */
  async reachable (): Promise<boolean> {
    return await (this.channel?.connected(REDIS_CONNECT_TIMEOUT_MS) ?? false)
  }

  /** The version this instance runs, or 0. */
  get version (): number {
    return this.applied?.version ?? 0
  }

  /** Where Redis is, without credentials, for messages; null when inactive. */
  get address (): string | null {
    return this.channel?.address ?? null
  }

  /** Follows the config's `redis`: a new URL opens a new channel, none closes it. */
  use (redis: CompiledRedis | null): void {
    if (this.channel?.url === redis?.url) return
    const previous = this.channel
    this.channel = redis === null ? null : new RedisConfigChannel(redis.url, this.logger, this.onChange)
    this.applied = null
    this.lastRead = null
    if (previous !== null) this.track(previous.close())
  }

  /**
   * The stored config, for a start or a reload: read now (waiting up to a connection
   * timeout for Redis), or the last one read when Redis does not answer. null: none.
   */
  async latest (): Promise<SharedConfig | null> {
    const channel = this.channel
    if (channel === null) return null
    if (!await channel.connected(REDIS_CONNECT_TIMEOUT_MS)) {
      this.failed(new Error('not connected'), 'redis is not reachable: this instance runs its own config until it is, then the shared one')
      return this.lastRead
    }
    return await this.read(channel) ?? this.lastRead
  }

  /** The stored config when it is not the one this instance runs; null otherwise. */
  async newer (): Promise<SharedConfig | null> {
    const channel = this.channel
    if (channel === null || !channel.reachable) return null
    const stored = await this.read(channel)
    // Not "a higher version": a Redis that lost its data and was written again may hold a
    // lower one, and it is still what the cluster runs now.
    return stored === null || same(stored, this.applied) ? null : stored
  }

  /** This instance now runs `shared` (or has refused it: it is not offered again). */
  markApplied (shared: SharedConfig): void {
    this.applied = shared
  }

  /** Stores and announces `config` as the cluster's; throws when Redis fails. */
  async publish (config: Record<string, unknown>): Promise<SharedConfig> {
    const channel = this.channel
    if (channel === null) throw new Error('no redis configured')
    const shared = await channel.publish(config, this.version)
    // Its own announcement then finds it applied already.
    this.applied = shared
    this.lastRead = shared
    return shared
  }

  async close (): Promise<void> {
    const channel = this.channel
    this.channel = null
    if (channel !== null) this.track(channel.close())
    await Promise.all(this.closing)
  }

  private async read (channel: RedisConfigChannel): Promise<SharedConfig | null> {
    try {
      const stored = await channel.read()
      if (this.failing) {
        this.failing = false
        this.logger.info({ redis: channel.address }, 'the shared config can be read again')
      }
      if (stored !== null) this.lastRead = stored
      return stored
    } catch (err) {
      this.failed(err, 'the shared config could not be read from redis; this instance keeps the config it runs')
      return null
    }
  }

  private failed (err: unknown, message: string): void {
    if (this.failing) return
    this.failing = true
    this.logger.warn({ err, redis: this.channel?.address }, message)
  }

  private track (closing: Promise<void>): void {
    const done = closing
      .catch(err => this.logger.debug({ err }, 'closing a shared config channel failed'))
      .finally(() => this.closing.delete(done))
    this.closing.add(done)
  }
}

/** The same stored config: its version, who stored it, and when. */
function same (stored: SharedConfig, applied: SharedConfig | null): boolean {
  return applied !== null && stored.version === applied.version && stored.origin === applied.origin && stored.appliedAt === applied.appliedAt
}
