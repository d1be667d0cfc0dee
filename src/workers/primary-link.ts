/**
 * A worker's side of the channel to the primary: it asks what the admin APIs changed before
 * it started, says when it serves, sends the changes made through its own admin API, and
 * applies, one at a time and in order, those made through the others'.
 */
import type { Logger } from 'pino'
import type { AdminChange } from '../admin/changes.js'
import { messageOf } from '../config/errors.js'
import { isPrimaryMessage, type Replay, type WorkerMessage } from './messages.js'

export class PrimaryLink {
  private readonly logger: Logger
  private replayed: ((replay: Replay) => void) | null = null
  /** Changes that arrived before `follow`: applied first, in order. */
  private readonly early: AdminChange[] = []
  private apply: ((change: AdminChange) => Promise<void>) | null = null
  private applying: Promise<void> = Promise.resolve()

  constructor (logger: Logger) {
    this.logger = logger
    process.on('message', (message: unknown) => {
      if (!isPrimaryMessage(message)) return
      if (message.tollgate === 'replay') {
        this.replayed?.(message.replay)
        this.replayed = null
      } else if (this.apply === null) {
        this.early.push(message.change)
      } else {
        this.enqueue(message.change)
      }
    })
  }

  /** What to apply at start, so that this worker runs what the others run. */
  async replay (): Promise<Replay> {
    const answer = new Promise<Replay>(resolve => { this.replayed = resolve })
    send({ tollgate: 'hello' })
    return await answer
  }

  /** From now on, changes made through the other workers' admin APIs go to `apply`. */
  follow (apply: (change: AdminChange) => Promise<void>): void {
    this.apply = apply
    for (const change of this.early.splice(0)) this.enqueue(change)
  }

  ready (): void {
    send({ tollgate: 'ready' })
  }

  /** A change made through this worker's admin API, for the others. */
  changed (change: AdminChange): void {
    send({ tollgate: 'admin-change', change })
  }

  private enqueue (change: AdminChange): void {
    const apply = this.apply
    if (apply === null) return
    this.applying = this.applying.then(async () => {
      try {
        await apply(change)
        this.logger.info({ change: change.kind }, 'admin change made through another worker applied')
      } catch (err) {
        // The gateway logged why; a worker that cannot take it keeps what it runs.
        this.logger.warn({ change: change.kind, reason: messageOf(err) }, 'admin change made through another worker refused here')
      }
    })
  }
}

function send (message: WorkerMessage): void {
  process.send?.(message)
}
