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

/**
 * One probe's single outcome, whichever comes first: what the target did (`settle`), the
 * timeout (`timedOut()` gives its reason), or `signal` (checking stopped). Each ending
 * disarms the others and calls `release`, which frees what the probe holds (its socket).
 * Returns `settle`, or null when `signal` had already aborted (the probe then has its
 * result and must start nothing).
 */
export function settleOnce (
  resolve: (result: ProbeResult) => void,
  signal: AbortSignal,
  timeoutMs: number,
  timedOut: () => string,
  release: () => void
): ((ok: boolean, reason: string) => void) | null {
  let settled = false
  const settle = (ok: boolean, reason: string): void => {
    if (settled) return
    settled = true
    disarm()
    signal.removeEventListener('abort', onAbort)
    release()
    resolve({ ok, reason })
  }
  const onAbort = (): void => settle(false, 'checking stopped')
  const disarm = probeTimeout(timeoutMs, () => settle(false, timedOut()))
  if (signal.aborted) {
    onAbort()
    return null
  }
  signal.addEventListener('abort', onAbort)
  return settle
}

/** A low-level error in a few words: its code and message, on one line. */
export function describeError (err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const code = (err as NodeJS.ErrnoException).code
  const message = err.message.split('\n')[0] ?? ''
  return typeof code === 'string' && !message.includes(code) ? `${code} ${message}`.trim() : message
}
