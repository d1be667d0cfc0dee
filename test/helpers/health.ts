/**
 * Waiting on health: the log lines a gateway writes when a target or an upstream changes
 * health (awaited as they are written, never by sleeping), and a bounded poll for states
 * no event announces.
 */

export interface LogLine extends Record<string, unknown> {
  readonly msg?: string
}

interface Waiter {
  readonly match: (line: LogLine) => boolean
  readonly resolve: (line: LogLine) => void
}

/** Collects a gateway's JSON log lines (give `write` to startGateway's `logTo`). */
export class LogWatcher {
  readonly lines: LogLine[] = []
  private readonly waiters = new Set<Waiter>()

  readonly write = (text: string): void => {
    let line: LogLine
    try {
      line = JSON.parse(text) as LogLine
    } catch {
      return
    }
    this.lines.push(line)
    for (const waiter of [...this.waiters]) {
      if (!waiter.match(line)) continue
      this.waiters.delete(waiter)
      waiter.resolve(line)
    }
  }

  /**
   * The first line from now on that `match` accepts; rejects after `ms` with `message`.
   * Lines already written do not count: call it before causing what it waits for.
   */
  async next (match: (line: LogLine) => boolean, ms: number, message: string): Promise<LogLine> {
    let timer: NodeJS.Timeout | undefined
    let waiter: Waiter | undefined
    try {
      return await new Promise<LogLine>((resolve, reject) => {
        waiter = { match, resolve }
        this.waiters.add(waiter)
        timer = setTimeout(() => reject(new Error(`${message} (waited ${ms} ms)\nlog so far:\n${this.lines.slice(-15).map(l => JSON.stringify(l)).join('\n')}`)), ms)
      })
    } finally {
      clearTimeout(timer)
      if (waiter !== undefined) this.waiters.delete(waiter)
    }
  }

  /** The health changes of `target` so far, as "from→to". */
  flips (target: string): string[] {
    return this.lines.filter(l => l.msg === 'target health changed' && l.target === target).map(l => `${String(l.from)}→${String(l.to)}`)
  }
}

/** A line saying `target` became `to`. */
export const becomes = (target: string, to: 'healthy' | 'unhealthy') => (line: LogLine): boolean =>
  line.msg === 'target health changed' && line.target === target && line.to === to

/**
 * Resolves once `condition()` holds, checking every `everyMs`; rejects with `message`
 * after `ms`. Bounded: the checks stop when it settles either way.
 */
export async function waitUntil (condition: () => boolean, ms: number, message: string | (() => string), everyMs = 10): Promise<void> {
  const deadline = performance.now() + ms
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${typeof message === 'string' ? message : message()} (waited ${ms} ms)`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}
