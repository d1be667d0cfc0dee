/**
 * What the primary and its workers tell each other over the cluster's IPC channel. Every
 * message carries a `tollgate` field naming it, so that messages of other libraries on the
 * same channel (prom-client's cluster metrics, for one) are told apart and left alone.
 */
import type { AdminChange } from '../admin/changes.js'
import type { TargetChange } from '../admin/api.js'

/** What a worker starting now must apply to run what the others run. */
export interface Replay {
  /** The last config applied through an admin API since the file was (re)read, or null. */
  readonly config: Record<string, unknown> | null
  /** Target changes made through admin APIs, oldest first. */
  readonly targets: readonly TargetChange[]
}

export type WorkerMessage =
  /** Asks for the replay; the answer comes before any `admin-change` sent after it. */
  | { readonly tollgate: 'hello' }
  /** Serving: its listeners are open and its config applied. */
  | { readonly tollgate: 'ready' }
  /** Made through this worker's admin API: for the others. */
  | { readonly tollgate: 'admin-change', readonly change: AdminChange }

export type PrimaryMessage =
  | { readonly tollgate: 'replay', readonly replay: Replay }
  /** Made through another worker's admin API: apply it. */
  | { readonly tollgate: 'admin-change', readonly change: AdminChange }

export function isWorkerMessage (message: unknown): message is WorkerMessage {
  return hasName(message, ['hello', 'ready', 'admin-change'])
}

export function isPrimaryMessage (message: unknown): message is PrimaryMessage {
  return hasName(message, ['replay', 'admin-change'])
}

function hasName (message: unknown, names: readonly string[]): boolean {
  if (message === null || typeof message !== 'object') return false
  const name = (message as { tollgate?: unknown }).tollgate
  return typeof name === 'string' && names.includes(name)
}
