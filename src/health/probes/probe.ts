/**
 * What every probe runner (tcp, http, custom) does: check one target once, and settle
 * within the check's timeout whatever the target does. A runner never rejects: a target
 * that cannot be reached is a result, not an error.
 */
import type { Target } from '../../upstream/target.js'

export interface ProbeResult {
  readonly ok: boolean
  /** What was seen, for the log line of a flip, `lastError` and the admin API. */
  readonly reason: string
}

export interface Probe {
  /**
   * Checks `target` once. `signal` aborts the check (the gateway stops checking): it then
   * settles at once, failed, having freed its socket.
   */
  run (target: Target, signal: AbortSignal): Promise<ProbeResult>
}

/**
 * Arms a probe's timeout; returns what disarms it. When the timer fires, the verdict waits
 * for the poll phase of the same loop turn (it is given to setImmediate): I/O that
 * completed while the event loop was busy elsewhere (a connection made, an answer come)
 * is handled first, so a loop that stalled past the timeout does not fail targets that
 * answered in time.
 */
export function probeTimeout (ms: number, expired: () => void): () => void {
  let immediate: NodeJS.Immediate | null = null
  const timer = setTimeout(() => { immediate = setImmediate(expired) }, ms)
  return () => {
    clearTimeout(timer)
    if (immediate !== null) clearImmediate(immediate)
  }
}

/** A low-level error in a few words: its code and message, on one line. */
export function describeError (err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const code = (err as NodeJS.ErrnoException).code
  const message = err.message.split('\n')[0] ?? ''
  return typeof code === 'string' && !message.includes(code) ? `${code} ${message}`.trim() : message
}
