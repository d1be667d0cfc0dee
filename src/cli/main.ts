#!/usr/bin/env node
/**
 * The `tollgate` command: start | validate | reload | stop | hash-password, and the
 * process lifecycle of a running gateway (pid file, daemon mode, signals).
 */
import { spawn } from 'node:child_process'
import { mkdirSync, openSync, realpathSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pino, { type Logger } from 'pino'
import { parseCommand, UsageError, USAGE, type Command } from './args.js'
import { isRunning, readPidFile, removePidFile, writePidFile } from './pid-file.js'
import { hashPassword } from './hash-password.js'
import { loadConfigFile } from '../config/load.js'
import { ConfigError, formatIssues } from '../config/errors.js'
import { Gateway } from '../gateway.js'

/** Set in the environment of the process a `--daemon` start forks. */
const DAEMON_CHILD = 'TOLLGATE_DAEMON_CHILD'
const STOP_WAIT_MS = 120_000

export async function main (argv: readonly string[]): Promise<number> {
  let command: Command
  try {
    command = parseCommand(argv)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`tollgate: ${err.message}\n${USAGE}\n`)
      return 2
    }
    throw err
  }
  switch (command.name) {
    case 'help':
      process.stdout.write(`${USAGE}\n`)
      return 0
    case 'validate':
      return await validate(command.config, command.routes)
    case 'start':
      return await start(command)
    case 'reload':
      return signal(command.pidFile, 'SIGHUP')
    case 'stop':
      return await stop(command.pidFile, command.fast)
    case 'hash-password':
      process.stdout.write(`${await hashPassword(await readStdin())}\n`)
      return 0
  }
}

async function validate (config: string, routesDir: string | undefined): Promise<number> {
  try {
    await loadConfigFile(config, routesDir !== undefined ? { routesDir: resolve(routesDir) } : {})
    process.stdout.write('config OK\n')
    return 0
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stdout.write(`${formatIssues(err.issues)}\n`)
    return 1
  }
}

async function start (command: Extract<Command, { name: 'start' }>): Promise<number> {
  const routesDir = command.routes !== undefined ? resolve(command.routes) : undefined
  const loadOptions = routesDir !== undefined ? { routesDir } : {}
  let server
  try {
    server = (await loadConfigFile(command.config, loadOptions)).compiled.server
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`tollgate: the config is invalid:\n${formatIssues(err.issues)}\n`)
    return 1
  }
  const pidFile = command.pidFile ?? server.pidFile
  const logFile = command.logFile ?? server.logFile
  const daemon = command.daemon || server.daemon
  if (daemon && process.env[DAEMON_CHILD] === undefined) {
    if (logFile === null) {
      process.stderr.write('tollgate: --daemon needs a log file (--log-file or server.logFile)\n')
      return 1
    }
    return await daemonize(logFile)
  }
  const workers = command.workers ?? server.workers
  const logger = createLogger(server.logLevel, logFile)
  if (workers !== 1) logger.warn({ workers }, 'several workers are not supported yet: running one process')

  const gateway = new Gateway({ logger, configFile: resolve(command.config), loadOptions })
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'))
  process.on('uncaughtException', (err) => logger.fatal({ err }, 'uncaught exception'))
  try {
    await gateway.reload()
  } catch (err) {
    logger.fatal({ err }, 'the gateway could not start')
    await gateway.close(0).catch(() => undefined)
    logger.flush()
    return 1
  }
  if (pidFile !== null) writePidFile(pidFile)
  for (const address of gateway.addresses()) {
    logger.info({ address: `${address.tls ? 'https' : 'http'}://${address.host}:${address.port}` }, 'listening')
  }
  // The daemon's parent reads the log file once told we are ready: nothing may be pending.
  await new Promise<void>(resolve => logger.flush(() => resolve()))
  process.send?.({ tollgate: 'ready', pid: process.pid })
  if (process.channel !== undefined) process.disconnect()

  let stopping = false
  const exit = (code: number): void => {
    if (pidFile !== null) removePidFile(pidFile)
    logger.flush()
    process.exit(code)
  }
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading the config')
    gateway.reload().catch(() => undefined)
  })
  process.on('SIGTERM', () => {
    if (stopping) return
    stopping = true
    logger.info('SIGTERM: draining in-flight requests')
    gateway.close().then(() => exit(0), (err: unknown) => {
      logger.error({ err }, 'graceful shutdown failed')
      exit(1)
    })
  })
  process.on('SIGINT', () => {
    logger.info('SIGINT: exiting now')
    exit(0)
  })
  return -1
}

function createLogger (level: string, logFile: string | null): Logger {
  if (logFile === null) return pino({ level })
  // Synchronous writes: a line is in the file when the call returns, so the daemon's
  // parent finds the startup lines when told the gateway is ready, and a crash loses none.
  // (An async destination's flush() reports done before its write lands.)
  mkdirSync(dirname(resolve(logFile)), { recursive: true })
  return pino({ level }, pino.destination({ dest: openSync(logFile, 'a'), sync: true }))
}

/**
 * Runs the same command again as a detached process with its output in the log file, and
 * returns once that process reports it is listening (or has failed).
 */
async function daemonize (logFile: string): Promise<number> {
  const out = openSync(logFile, 'a')
  const entry = fileURLToPath(import.meta.url)
  const child = spawn(process.execPath, [...process.execArgv, entry, ...process.argv.slice(2)], {
    detached: true,
    stdio: ['ignore', out, out, 'ipc'],
    env: { ...process.env, [DAEMON_CHILD]: '1' }
  })
  const outcome = await new Promise<{ ok: true, pid: number } | { ok: false, code: number | null }>((resolve) => {
    child.once('message', (message: { tollgate?: string, pid?: number }) => {
      if (message.tollgate === 'ready') resolve({ ok: true, pid: message.pid ?? child.pid ?? 0 })
    })
    child.once('exit', (code) => resolve({ ok: false, code }))
  })
  if (!outcome.ok) {
    process.stderr.write(`tollgate: the daemon exited during start (code ${String(outcome.code)}); see ${logFile}\n`)
    return 1
  }
  child.unref()
  child.disconnect?.()
  process.stdout.write(`tollgate running as a daemon, pid ${outcome.pid}, logging to ${logFile}\n`)
  return 0
}

function signal (pidFile: string, name: NodeJS.Signals): number {
  try {
    const pid = readPidFile(pidFile)
    process.kill(pid, name)
    process.stdout.write(`sent ${name} to ${pid}\n`)
    return 0
  } catch (err) {
    process.stderr.write(`tollgate: ${(err as Error).message}\n`)
    return 1
  }
}

async function stop (pidFile: string, fast: boolean): Promise<number> {
  let pid: number
  try {
    pid = readPidFile(pidFile)
    process.kill(pid, fast ? 'SIGINT' : 'SIGTERM')
  } catch (err) {
    process.stderr.write(`tollgate: ${(err as Error).message}\n`)
    return 1
  }
  const deadline = Date.now() + STOP_WAIT_MS
  while (isRunning(pid)) {
    if (Date.now() > deadline) {
      process.stderr.write(`tollgate: ${pid} is still running after ${STOP_WAIT_MS / 1000} s\n`)
      return 1
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  process.stdout.write(`stopped ${pid}\n`)
  return 0
}

async function readStdin (): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exitCode = code
  }, (err: unknown) => {
    process.stderr.write(`tollgate: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exitCode = 1
  })
}
