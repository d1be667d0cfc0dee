/**
 * The gateway's root logger: pino, JSON lines by default (what log shippers read), or
 * readable lines through pino-pretty (`server.logFormat: pretty`, for a terminal). Either
 * way header credentials are redacted (src/log/redact.ts).
 */
import { mkdirSync, openSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, resolve } from 'node:path'
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino'
import { LOG_REDACTED, REDACTED_LOG_PATHS } from './redact.js'

export type LogFormat = 'json' | 'pretty'

export interface LoggerSpec {
  readonly level: string
  readonly format: LogFormat
  /** Append to this file instead of writing to stdout. */
  readonly file?: string | null
  /** Where JSON lines go instead of stdout or the file (tests read them here). */
  readonly destination?: DestinationStream
  readonly serializers?: LoggerOptions['serializers']
}

export function createLogger (spec: LoggerSpec): Logger {
  const options: LoggerOptions = {
    level: spec.level,
    redact: { paths: [...REDACTED_LOG_PATHS], censor: LOG_REDACTED },
    ...(spec.serializers === undefined ? {} : { serializers: spec.serializers })
  }
  const file = spec.file ?? null
  if (spec.format === 'pretty') return pino(options, prettyStream(file, spec.destination))
  if (spec.destination !== undefined) return pino(options, spec.destination)
  if (file === null) return pino(options)
  // Synchronous writes: a line is in the file when the call returns, so the daemon's
  // parent finds the startup lines when told the gateway is ready, and a crash loses none.
  // (An async destination's flush() reports done before its write lands.)
  mkdirSync(dirname(resolve(file)), { recursive: true })
  return pino(options, pino.destination({ dest: openSync(file, 'a'), sync: true }))
}

/**
 * pino-pretty in this thread (not a worker transport): a line is printed before the call
 * returns, like the JSON destination, so nothing is lost when the process exits right
 * after logging. Colours only on a terminal.
 */
function prettyStream (file: string | null, destination: DestinationStream | undefined): DestinationStream {
  // Loaded only when asked for: it takes longer to load than pino, and every command
  // (validate too) would pay for it.
  const PinoPretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty')
  const common = { sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }
  if (destination !== undefined) return PinoPretty({ ...common, colorize: false, destination })
  if (file !== null) return PinoPretty({ ...common, colorize: false, destination: resolve(file), mkdir: true, append: true })
  return PinoPretty({ ...common, destination: 1 })
}
