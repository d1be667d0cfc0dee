/**
 * How a Redis-backed store lives through an outage: the first failed call logs that Redis
 * is unreachable (once per outage) and the first call that succeeds again logs its end
 * (once); every failed call is counted. While Redis is away at most one call at a time
 * waits on it (a probe); the others fail at once, so no request queues behind a dead
 * connection.
 */
import type { Logger } from 'pino'

export interface OutageMessages {
  /** Logged at warn when an outage begins. */
  readonly down: string
  /** Logged at info when it ends. */
  readonly up: string
}

export class RedisOutage {
  /** Calls that failed (Redis failed, timed out or was unreachable). */
  failures = 0
  private readonly logger: Logger
  private readonly address: () => string
  private readonly messages: OutageMessages
  /** The last call failed: an outage, until a call succeeds. */
  private down = false
  /** During an outage, a call is in flight to find out whether it is over. */
  private probing = false

  constructor (logger: Logger, address: () => string, messages: OutageMessages) {
    this.logger = logger
    this.address = address
    this.messages = messages
  }

  async run<T> (command: () => Promise<T>): Promise<T> {
    if (this.down && this.probing) {
      this.failures++
      throw new Error('redis is unreachable (a probe is in flight)')
    }
    const probe = this.down
    if (probe) this.probing = true
    try {
      const result = await command()
      if (this.down) {
        this.down = false
        this.logger.info({ redis: this.address(), failures: this.failures }, this.messages.up)
      }
      return result
    } catch (err) {
      this.failures++
      if (!this.down) {
        this.down = true
        this.logger.warn({ err, redis: this.address() }, this.messages.down)
      }
      throw err
    } finally {
      if (probe) this.probing = false
    }
  }
}
