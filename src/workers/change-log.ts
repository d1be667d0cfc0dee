/**
 * What the admin APIs changed since the config file was last read, kept by the primary so
 * that a worker started later (a replacement for one that crashed) runs what the others
 * run. A config sent later replaces an earlier one; a SIGHUP re-reads the file, which then
 * wins over any config sent before, as it does with one process. Target changes are kept,
 * in order: an upstream a later config left unchanged keeps them, as it does in a running
 * worker.
 */
import type { AdminChange } from '../admin/changes.js'
import type { TargetChange } from '../admin/api.js'
import type { Replay } from './messages.js'

/** Enough for any hand-made history; the oldest target changes go first beyond it. */
const MAX_TARGET_CHANGES = 1000

export class AdminChangeLog {
  private config: Record<string, unknown> | null = null
  private targets: TargetChange[] = []

  add (change: AdminChange): void {
    if (change.kind === 'config') {
      this.config = change.config
      return
    }
    // A worker started later has an empty cache: nothing to purge there.
    if (change.kind === 'cache-purge') return
    this.targets.push(change)
    if (this.targets.length > MAX_TARGET_CHANGES) this.targets = this.targets.slice(-MAX_TARGET_CHANGES)
  }

  /** The config file was read again (SIGHUP): it replaces any config sent before. */
  fileReloaded (): void {
    this.config = null
  }

  replay (): Replay {
    return { config: this.config, targets: [...this.targets] }
  }
}
