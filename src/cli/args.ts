/**
 * argv → a command and its options, with the usage text. Unknown flags and missing values
 * are errors with the usage printed, never silently ignored.
 */
import { parseArgs } from 'node:util'

export const USAGE = `usage:
  tollgate start -c FILE [--workers N] [--daemon] [--pid-file P] [--log-file L] [--routes DIR]
  tollgate validate -c FILE [--routes DIR]
  tollgate reload --pid-file P
  tollgate stop --pid-file P [--fast]
  tollgate hash-password            (reads the password on stdin)
  tollgate help                     (this text)`

export type Command =
  | { name: 'start', config: string, workers?: number, daemon: boolean, pidFile?: string, logFile?: string, routes?: string }
  | { name: 'validate', config: string, routes?: string }
  | { name: 'reload', pidFile: string }
  | { name: 'stop', pidFile: string, fast: boolean }
  | { name: 'hash-password' }
  | { name: 'help' }

export class UsageError extends Error {}

export function parseCommand (argv: readonly string[]): Command {
  const [name, ...rest] = argv
  // Asking for help is a success; running with no command at all is a mistake (a script
  // that lost its arguments must not pass), so it fails like an unknown command.
  if (name === 'help' || name === '--help' || name === '-h') return { name: 'help' }
  if (name === undefined) throw new UsageError('no command given')
  let parsed
  try {
    parsed = parseArgs({
      args: [...rest],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
        workers: { type: 'string' },
        daemon: { type: 'boolean', default: false },
        'pid-file': { type: 'string' },
        'log-file': { type: 'string' },
        routes: { type: 'string' },
        fast: { type: 'boolean', default: false }
      }
    }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const need = (value: string | undefined, flag: string): string => {
    if (value === undefined || value === '') throw new UsageError(`${name} needs ${flag}`)
    return value
  }
  switch (name) {
    case 'start': {
      let workers: number | undefined
      if (parsed.workers !== undefined) {
        workers = parsed.workers === 'auto' ? 0 : Number(parsed.workers)
        if (!Number.isInteger(workers) || workers < 0) throw new UsageError('--workers must be a positive integer or "auto"')
      }
      return {
        name,
        config: need(parsed.config, '-c FILE'),
        daemon: parsed.daemon === true,
        ...(workers !== undefined ? { workers } : {}),
        ...(parsed['pid-file'] !== undefined ? { pidFile: parsed['pid-file'] } : {}),
        ...(parsed['log-file'] !== undefined ? { logFile: parsed['log-file'] } : {}),
        ...(parsed.routes !== undefined ? { routes: parsed.routes } : {})
      }
    }
    case 'validate':
      return { name, config: need(parsed.config, '-c FILE'), ...(parsed.routes !== undefined ? { routes: parsed.routes } : {}) }
    case 'reload':
      return { name, pidFile: need(parsed['pid-file'], '--pid-file P') }
    case 'stop':
      return { name, pidFile: need(parsed['pid-file'], '--pid-file P'), fast: parsed.fast === true }
    case 'hash-password':
      return { name }
    default:
      throw new UsageError(`unknown command "${name}"`)
  }
}
