/**
 * The per-request logger. Fastify gives every request a child of the app logger bound to
 * its request id; building a pino child costs more than most requests ever log (with the
 * access log off, nothing). This stands in for it and builds the real child on first use.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { Bindings, ChildLoggerOptions } from 'pino'

type Method = (...args: unknown[]) => void

class LazyRequestLogger {
  private readonly parent: FastifyBaseLogger
  private readonly bindings: Bindings
  private readonly options: ChildLoggerOptions
  private real: FastifyBaseLogger | null = null

  constructor (parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.parent = parent
    this.bindings = bindings
    this.options = options
  }

  private get logger (): FastifyBaseLogger {
    this.real ??= this.parent.child(this.bindings, this.options)
    return this.real
  }

  get level (): string {
    return this.real?.level ?? this.parent.level
  }

  set level (level: string) {
    this.logger.level = level
  }

  fatal (...args: unknown[]): void { (this.logger.fatal as Method)(...args) }
  error (...args: unknown[]): void { (this.logger.error as Method)(...args) }
  warn (...args: unknown[]): void { (this.logger.warn as Method)(...args) }
  info (...args: unknown[]): void { (this.logger.info as Method)(...args) }
  debug (...args: unknown[]): void { (this.logger.debug as Method)(...args) }
  trace (...args: unknown[]): void { (this.logger.trace as Method)(...args) }
  silent (): void {}

  child (bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options)
  }
}

/** Fastify's childLoggerFactory: a lazy child per request. */
export function lazyChildLogger (logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyRequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger
}
