/**
 * The primary of `server.workers: N`: it forks the workers (node:cluster, which shares the
 * listeners among them), and serves nothing itself. It starts them and waits until every
 * one serves; passes SIGHUP, SIGTERM and SIGINT on; starts a worker again when one exits
 * unexpectedly (after a growing wait when it keeps crashing); and passes a change made
 * through one worker's admin API to the others.
 */
import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'
import { ConfigError } from '../config/errors.js'
import type { AdminChange } from '../admin/changes.js'
import { RestartBackoff, RESTART_BACKOFF, type BackoffOptions } from './backoff.js'
import { AdminChangeLog } from './change-log.js'
import { isWorkerMessage, type PrimaryMessage, type WorkerMessage } from './messages.js'

/**
 * Something the primary runs beside its workers, opened once they serve and closed when
 * they have all exited: the place for a listener that must answer for all workers at once
 * (a metrics endpoint summing theirs).
 */
export interface PrimaryService {
  start (): Promise<void>
  close (): Promise<void>
}

export interface PrimaryOptions {
  readonly workers: number
  readonly logger: Logger
  /** Reads the config file again, throwing ConfigError when it is invalid (SIGHUP). */
  readonly validate: () => Promise<void>
  /** The config's gracefulShutdown: how long a worker may drain after SIGTERM. */
  readonly gracefulShutdownMs: number
  readonly backoff?: BackoffOptions
  readonly services?: readonly PrimaryService[]
}

/** Past the drain, a worker gets this long to exit by itself before it is killed. */
const EXIT_GRACE_MS = 5000

interface Slot {
  readonly index: number
  readonly backoff: RestartBackoff
  worker: Worker | null
  /** It asked for the replay: changes from now on are sent to it. */
  linked: boolean
  readyAt: number | null
  /** A SIGHUP came while it was starting: it reloads once it serves. */
  reloadPending: boolean
  restartTimer: NodeJS.Timeout | null
}

export class Primary {
  private readonly options: PrimaryOptions
  private readonly logger: Logger
  private readonly slots: Slot[]
  private readonly changes = new AdminChangeLog()
  private starting: { resolve: () => void, reject: (err: Error) => void } | null = null
  /** Set by the first stop(); `settled` once every worker has exited. */
  private stopping: { failed: boolean, settled: boolean } | null = null
  private readonly stopped: Promise<number>
  private readonly resolveStopped: (code: number) => void

  constructor (options: PrimaryOptions) {
    this.options = options
    this.logger = options.logger
    this.slots = Array.from({ length: options.workers }, (_, index) => ({
      index,
      backoff: new RestartBackoff(options.backoff ?? RESTART_BACKOFF),
      worker: null,
      linked: false,
      readyAt: null,
      reloadPending: false,
      restartTimer: null
    }))
    let resolveStopped: (code: number) => void = () => undefined
    this.stopped = new Promise(resolve => { resolveStopped = resolve })
    this.resolveStopped = resolveStopped
  }

  /** Process ids of the workers running now. */
  pids (): number[] {
    return this.slots.flatMap(slot => slot.worker?.process.pid ?? [])
  }

  /**
   * Forks every worker; resolves when all serve. When one exits before it serves, the
   * others are stopped and this rejects: a config that cannot start fails the start, as
   * with one process, instead of being retried forever.
   */
  async start (): Promise<void> {
    const started = new Promise<void>((resolve, reject) => { this.starting = { resolve, reject } })
    for (const slot of this.slots) this.fork(slot)
    try {
      await started
    } catch (err) {
      await this.stop('SIGKILL')
      throw err
    }
    this.logger.info({ workers: this.slots.length, pids: this.pids() }, 'workers ready')
    try {
      for (const service of this.options.services ?? []) await service.start()
    } catch (err) {
      // A metrics port in use: the start fails as a taken proxy port does.
      await this.stop('SIGKILL')
      throw err
    }
  }

  /** SIGHUP: a valid file is reloaded by every worker; an invalid one by none (logged). */
  async reload (): Promise<void> {
    try {
      await this.options.validate()
    } catch (err) {
      if (err instanceof ConfigError) this.logger.error({ issues: err.issues }, 'config refused; the running config stays')
      else this.logger.error({ err }, 'config could not be read; the running config stays')
      return
    }
    this.changes.fileReloaded()
    for (const slot of this.slots) {
      if (slot.worker === null) continue
      if (slot.readyAt === null) slot.reloadPending = true
      else slot.worker.process.kill('SIGHUP')
    }
  }

  /**
   * SIGTERM (each worker drains, as one process does), SIGINT (each exits now) or SIGKILL.
   * Resolves with 0 once every worker has exited, 1 when one of them did not exit cleanly.
   */
  async stop (signal: 'SIGTERM' | 'SIGINT' | 'SIGKILL'): Promise<number> {
    if (this.stopping === null) {
      this.stopping = { failed: false, settled: false }
      for (const slot of this.slots) {
        if (slot.restartTimer !== null) clearTimeout(slot.restartTimer)
        slot.restartTimer = null
      }
      // A worker still draining after its gracefulShutdown is stuck: it goes.
      setTimeout(() => {
        for (const slot of this.slots) slot.worker?.process.kill('SIGKILL')
      }, this.options.gracefulShutdownMs + EXIT_GRACE_MS).unref()
    }
    for (const slot of this.slots) slot.worker?.process.kill(signal)
    this.settleStop()
    return await this.stopped
  }

  private fork (slot: Slot): void {
    slot.restartTimer = null
    slot.linked = false
    slot.readyAt = null
    slot.reloadPending = false
    const worker = cluster.fork()
    slot.worker = worker
    const startedAt = Date.now()
    this.logger.info({ worker: slot.index, workerPid: worker.process.pid }, 'worker started')
    worker.on('message', (message: unknown) => {
      if (isWorkerMessage(message)) this.received(slot, worker, message)
    })
    worker.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      this.exited(slot, worker, code, signal, startedAt)
    })
  }

  private received (slot: Slot, worker: Worker, message: WorkerMessage): void {
    switch (message.tollgate) {
      case 'hello':
        slot.linked = true
        send(worker, { tollgate: 'replay', replay: this.changes.replay() })
        return
      case 'ready':
        slot.readyAt = Date.now()
        this.logger.info({ worker: slot.index, workerPid: worker.process.pid }, 'worker ready')
        if (slot.reloadPending) {
          slot.reloadPending = false
          worker.process.kill('SIGHUP')
        }
        if (this.starting !== null && this.slots.every(s => s.readyAt !== null)) {
          this.starting.resolve()
          this.starting = null
        }
        return
      case 'admin-change':
        this.relay(slot, message.change)
    }
  }

  /** A worker applied a change through its admin API: every other worker applies it too. */
  private relay (from: Slot, change: AdminChange): void {
    this.changes.add(change)
    for (const slot of this.slots) {
      // A worker not linked yet gets it with its replay.
      if (slot === from || slot.worker === null || !slot.linked) continue
      send(slot.worker, { tollgate: 'admin-change', change })
    }
  }

  private exited (slot: Slot, worker: Worker, code: number | null, signal: NodeJS.Signals | null, startedAt: number): void {
    if (slot.worker !== worker) return
    const servedMs = slot.readyAt === null ? 0 : Date.now() - slot.readyAt
    const ranMs = Date.now() - startedAt
    slot.worker = null
    slot.linked = false
    slot.readyAt = null
    const pid = worker.process.pid
    if (this.stopping !== null) {
      if (code !== 0 && signal !== 'SIGINT' && signal !== 'SIGTERM') this.stopping.failed = true
      this.logger.info({ worker: slot.index, workerPid: pid, code, signal }, 'worker exited')
      this.settleStop()
      return
    }
    if (this.starting !== null) {
      const starting = this.starting
      this.starting = null
      this.logger.error({ worker: slot.index, workerPid: pid, code, signal }, 'a worker exited before it served: stopping')
      starting.reject(new Error(`worker ${pid ?? '?'} exited during start (code ${String(code)}, signal ${String(signal)})`))
      return
    }
    const delay = slot.backoff.next(servedMs)
    this.logger.error({ worker: slot.index, workerPid: pid, code, signal, ranMs, restartInMs: delay, crashes: slot.backoff.crashes }, 'worker exited unexpectedly; restarting it')
    slot.restartTimer = setTimeout(() => { this.fork(slot) }, delay)
  }

  private settleStop (): void {
    const stopping = this.stopping
    if (stopping === null || stopping.settled || this.slots.some(slot => slot.worker !== null)) return
    stopping.settled = true
    this.logger.info('all workers have exited')
    Promise.all((this.options.services ?? []).map(async service => { await service.close() }))
      .then(() => this.resolveStopped(stopping.failed ? 1 : 0), (err: unknown) => {
        this.logger.error({ err }, 'closing a service of the primary failed')
        this.resolveStopped(1)
      })
  }
}

function send (worker: Worker, message: PrimaryMessage): void {
  // A worker that just exited has no channel: what it would have been told no longer matters.
  if (worker.isConnected()) worker.send(message)
}
