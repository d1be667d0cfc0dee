#!/usr/bin/env node
/**
 * The `tollgate` command: start | validate | reload | stop | hash-password, and the
 * process lifecycle of a running gateway (pid file, daemon mode, signals).
 */
import { spawn } from 'node:child_process'
import cluster from 'node:cluster'
import { openSync, realpathSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pino, { type Logger } from 'pino'
import { createLogger } from '../log/create-logger.js'
import { MetricsServer } from '../metrics/server.js'
import { ClusterMetrics, answerPrimaryWith } from '../metrics/cluster-metrics.js'
import { parseCommand, UsageError, USAGE, type Command } from './args.js'
import { isRunning, readPidFile, removePidFile, writePidFile } from './pid-file.js'
import { hashPassword } from './hash-password.js'
import { loadConfigFile } from '../config/load.js'
import { ConfigError, formatIssues, messageOf } from '../config/errors.js'
import { formatHostPort } from '../net/address.js'
import type { AdminChange } from '../admin/changes.js'
import { Gateway } from '../gateway.js'
import type { CompiledMetrics, CompiledServer } from '../config/compile.js'
import type { LoadOptions } from '../config/load.js'
import { workerCount } from '../workers/count.js'
import { Primary } from '../workers/primary.js'
import { PrimaryLink } from '../workers/primary-link.js'

/** Set in the environment of the process a `--daemon` start forks. */
const DAEMON_CHILD = 'TOLLGATE_DAEMON_CHILD'
/** `TOLLGATE_DEBUG=1`: print and log the stacks of errors that stop the command. */
const DEBUG = process.env.TOLLGATE_DEBUG === '1'
/** Until the gateway first serves, a failure is told in one line, in the log as on stderr. */
let starting = true
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
    if (!(err instanceof ConfigError)) return failed(err)
    process.stdout.write(`${formatIssues(err.issues)}\n`)
    return 1
  }
}

/** An error nobody planned for: one line on stderr (the stack too with TOLLGATE_DEBUG=1), exit 1. */
function failed (err: unknown, what = ''): number {
  process.stderr.write(`tollgate: ${what}${describeFailure(err)}\n`)
  if (DEBUG && err instanceof Error && err.stack !== undefined) process.stderr.write(`${err.stack}\n`)
  return 1
}

const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available'
}

/** Node's listen() error: code, address and port, no use for a stack (it is Node's own). */
function listenError (err: unknown): (NodeJS.ErrnoException & { address?: string, port?: number }) | null {
  // A worker of several gets the primary's bind failure, named `bind` rather than `listen`.
  const syscall = err instanceof Error ? (err as NodeJS.ErrnoException).syscall : undefined
  return syscall === 'listen' || syscall === 'bind' ? err as NodeJS.ErrnoException : null
}

function describeFailure (err: unknown): string {
  const listen = listenError(err)
  if (listen === null) return messageOf(err)
  const where = listen.address === undefined ? 'the configured address' : formatHostPort(listen.address, listen.port ?? 0)
  return `cannot listen on ${where}: ${LISTEN_ERRORS[listen.code ?? ''] ?? listen.code ?? messageOf(err)}`
}

async function start (command: Extract<Command, { name: 'start' }>): Promise<number> {
  const routesDir = command.routes !== undefined ? resolve(command.routes) : undefined
  const loadOptions = routesDir !== undefined ? { routesDir } : {}
  let server
  let metrics
  try {
    ({ server, metrics } = (await loadConfigFile(command.config, loadOptions)).compiled)
  } catch (err) {
    if (!(err instanceof ConfigError)) return failed(err)
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
  const logger = createLogger({ level: server.logLevel, format: server.logFormat, file: logFile, serializers: { err: serializeError } })
  const configFile = resolve(command.config)
  // Workers run this same command (cluster forks argv again) and land in serve().
  if (cluster.isPrimary && workerCount(command.workers ?? server.workers) > 1) {
    return await supervise(workerCount(command.workers ?? server.workers), { server, metrics, logger, pidFile, configFile, loadOptions })
  }
  return await serve({ server, logger, pidFile, configFile, loadOptions })
}

interface Started {
  readonly server: CompiledServer
  /** The config's `metrics` at start: with workers, the primary serves them. */
  readonly metrics?: CompiledMetrics | null
  readonly logger: Logger
  readonly pidFile: string | null
  readonly configFile: string
  readonly loadOptions: LoadOptions
}

/**
 * One process serving: the whole gateway with `workers: 1`, or one worker of several. A
 * worker leaves the pid file and the daemon's parent to the primary, and is linked to it
 * for the changes made through the admin APIs.
 */
async function serve ({ logger, pidFile: ownPidFile, configFile, loadOptions }: Started): Promise<number> {
  const link = cluster.isWorker ? new PrimaryLink(logger) : null
  const pidFile = link === null ? ownPidFile : null
  const gateway = new Gateway({
    logger,
    configFile,
    loadOptions,
    ...(link === null ? {} : { onAdminChange: (change: AdminChange) => { link.changed(change) }, metricsListener: false })
  })
  if (link !== null) answerPrimaryWith(gateway.metrics.registry)
  logUnexpectedErrors(logger)
  try {
    if (link === null) {
      await gateway.reload()
    } else {
      const replay = await link.replay()
      if (replay.config === null) await gateway.reload()
      else await gateway.applyAdminChange({ kind: 'config', config: replay.config })
      for (const change of replay.targets) {
        // A target of an upstream the config no longer has: the others refused it too.
        await gateway.applyAdminChange(change).catch((err: unknown) => logger.warn({ change: change.kind, reason: messageOf(err) }, 'admin change made before this worker started refused here'))
      }
    }
  } catch (err) {
    // Said once on stderr, where whoever started it looks, and once in the log.
    const listen = listenError(err)
    if (listen !== null) {
      process.stderr.write(`tollgate: ${describeFailure(err)}\n`)
      logger.fatal({ code: listen.code, address: listen.address, port: listen.port }, describeFailure(err))
    } else if (err instanceof ConfigError) {
      process.stderr.write(`tollgate: the config is invalid:\n${formatIssues(err.issues)}\n`)
    } else {
      failed(err, 'the gateway could not start: ')
      logger.fatal({ err }, `the gateway could not start: ${messageOf(err)}`)
    }
    await gateway.close(0).catch(() => undefined)
    logger.flush()
    return 1
  }
  starting = false
  if (pidFile !== null) writePidFile(pidFile)
  for (const address of gateway.addresses()) {
    logger.info({ address: `${address.tls ? 'https' : 'http'}://${address.host}:${address.port}` }, 'listening')
  }
  if (link !== null) {
    link.follow(async change => { await gateway.applyAdminChange(change) })
    link.ready()
  } else {
    await tellDaemonParent(logger)
  }

  let stopping = false
  const exit = exitRemoving(pidFile, logger)
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

/** `workers` > 1: the primary starts and watches the workers, and serves nothing itself. */
async function supervise (workers: number, { server, metrics, logger, pidFile, configFile, loadOptions }: Started): Promise<number> {
  // The workers count; the primary answers scrapes with their sum. Its address is the one
  // at start: a reload that moves it takes a restart, as a change of `workers` does.
  const metricsServer = metrics == null ? null : new MetricsServer(metrics, new ClusterMetrics(), logger)
  const primary = new Primary({
    workers,
    logger,
    gracefulShutdownMs: server.gracefulShutdownMs,
    services: metricsServer === null ? [] : [{ start: async () => { await metricsServer.listen() }, close: async () => { await metricsServer.close() } }],
    validate: async () => { await loadConfigFile(configFile, loadOptions) }
  })
  logUnexpectedErrors(logger)
  // Until the workers serve, a signal stops them all: there is nothing to drain yet.
  const stopEarly = (): void => {
    primary.stop('SIGKILL').then(() => { logger.flush(); process.exit(0) }, () => process.exit(1))
  }
  process.once('SIGTERM', stopEarly)
  process.once('SIGINT', stopEarly)
  try {
    await primary.start()
  } catch (err) {
    // The worker said why on stderr and in the log, as one process does.
    logger.fatal({ reason: messageOf(err) }, 'the gateway could not start')
    logger.flush()
    return 1
  }
  process.off('SIGTERM', stopEarly)
  process.off('SIGINT', stopEarly)
  starting = false
  if (pidFile !== null) writePidFile(pidFile)
  await tellDaemonParent(logger)

  const exit = exitRemoving(pidFile, logger)
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading the config in every worker')
    primary.reload().catch(() => undefined)
  })
  process.on('SIGTERM', () => {
    logger.info('SIGTERM: the workers drain their in-flight requests')
    primary.stop('SIGTERM').then(exit, () => exit(1))
  })
  process.on('SIGINT', () => {
    logger.info('SIGINT: exiting now')
    primary.stop('SIGINT').catch(() => undefined)
    exit(0)
  })
  return -1
}

/** Exits with a code, after removing the pid file and writing out the log. */
function exitRemoving (pidFile: string | null, logger: Logger): (code: number) => void {
  return (code) => {
    if (pidFile !== null) removePidFile(pidFile)
    logger.flush()
    process.exit(code)
  }
}

/** An error nothing caught is logged, and the process goes on serving. */
function logUnexpectedErrors (logger: Logger): void {
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'))
  process.on('uncaughtException', (err) => logger.fatal({ err }, 'uncaught exception'))
}

/** The daemon's parent waits to be told the gateway serves (it then reads the log file). */
async function tellDaemonParent (logger: Logger): Promise<void> {
  // Nothing may be pending in the log when the parent reads it.
  await new Promise<void>(resolve => logger.flush(() => resolve()))
  process.send?.({ tollgate: 'ready', pid: process.pid })
  if (process.channel !== undefined) process.disconnect()
}

/**
 * pino's own error serializer, without the stack for an error that stops the start (the
 * gateway logs a failed apply with its error; the start reports it in one line) and for
 * a listen error at any time (its stack shows only Node's internals): the line keeps what
 * says what happened. TOLLGATE_DEBUG=1 keeps every stack.
 */
function serializeError (err: unknown): unknown {
  if (!(err instanceof Error)) return err
  const serialized = pino.stdSerializers.err(err)
  if (DEBUG || (!starting && listenError(err) === null)) return serialized
  const { stack: _stack, ...withoutStack } = serialized
  return withoutStack
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
    if (code < 0) return
    process.exitCode = code
    // A worker's channel to the primary would keep it alive.
    if (cluster.isWorker) process.exit(code)
  }, (err: unknown) => {
    process.exitCode = failed(err)
    if (cluster.isWorker) process.exit(process.exitCode)
  })
}
