/**
 * When each target of an upstream is probed. Every target has its own beat, `interval`
 * apart, so the probes of one upstream run side by side and a slow target never delays
 * another. The beats are offset from one another (one slot of a few milliseconds per
 * target, a random point within it), so 100 targets are not hit in the same millisecond
 * and gateways that check the same targets drift apart instead of hitting them in step.
 * A probe that is still running when its next beat comes is not started again.
 */

/** The widest slot per target: spreads the probes without delaying the first results. */
export const MAX_SLOT_MS = 10

/**
 * When each of `count` targets is first probed, in milliseconds after the start: target
 * `i` in its own slot `[i × slot, (i + 1) × slot)`, where the slot is `interval / count`
 * at most MAX_SLOT_MS and at least 1 ms. Later probes keep the offset: probe k of target
 * i is due at `offsets[i] + k × interval`.
 */
export function probeOffsets (count: number, intervalMs: number, random: () => number = Math.random): number[] {
  const slot = Math.max(1, Math.floor(Math.min(MAX_SLOT_MS, intervalMs / Math.max(1, count))))
  const offsets: number[] = []
  for (let i = 0; i < count; i++) offsets.push(i * slot + Math.min(slot - 1, Math.floor(random() * slot)))
  return offsets
}

export interface ProbeSchedulerOptions {
  readonly count: number
  readonly intervalMs: number
  /** Runs the probe of target `index`; the next one of that target waits until it settles. */
  readonly probe: (index: number) => Promise<void>
  /** A beat came while target `index`'s probe was still running: it was not started again. */
  readonly skipped: (index: number) => void
  readonly random?: () => number
}

export class ProbeScheduler {
  private readonly options: ProbeSchedulerOptions
  private readonly timers: (NodeJS.Timeout | null)[]
  /** When each target's next probe is due (performance.now() time). */
  private readonly due: number[]
  private readonly running: boolean[]
  private stopped = true

  constructor (options: ProbeSchedulerOptions) {
    this.options = options
    this.timers = new Array<NodeJS.Timeout | null>(options.count).fill(null)
    this.due = new Array<number>(options.count).fill(0)
    this.running = new Array<boolean>(options.count).fill(false)
  }

  start (): void {
    if (!this.stopped) return
    this.stopped = false
    const now = performance.now()
    const offsets = probeOffsets(this.options.count, this.options.intervalMs, this.options.random)
    for (let i = 0; i < this.options.count; i++) {
      this.due[i] = now + (offsets[i] as number)
      this.arm(i, now)
    }
  }

  /** Clears every timer; probes in flight finish (their results are the caller's to drop). */
  stop (): void {
    this.stopped = true
    for (let i = 0; i < this.timers.length; i++) {
      const timer = this.timers[i]
      if (timer !== null && timer !== undefined) clearTimeout(timer)
      this.timers[i] = null
    }
  }

  /** Timers currently armed (one per target while running; none once stopped). */
  get armed (): number {
    return this.timers.filter(timer => timer !== null).length
  }

  /** Target `index`'s probe is running now. */
  isRunning (index: number): boolean {
    return this.running[index] === true
  }

  private arm (index: number, now: number): void {
    // Timers never keep the process alive: a gateway is kept alive by its listeners.
    this.timers[index] = setTimeout(onBeat, Math.max(0, (this.due[index] as number) - now), this, index).unref()
  }

  /** @internal called by the timer of target `index`. */
  beat (index: number): void {
    this.timers[index] = null
    if (this.stopped) return
    const now = performance.now()
    const interval = this.options.intervalMs
    let due = (this.due[index] as number) + interval
    // Beats missed while the event loop was blocked are dropped, not run back to back.
    if (due <= now) due += Math.ceil((now - due) / interval) * interval
    this.due[index] = due
    this.arm(index, now)
    if (this.running[index] === true) {
      this.options.skipped(index)
      return
    }
    this.running[index] = true
    this.options.probe(index).then(() => { this.running[index] = false }, () => { this.running[index] = false })
  }
}

function onBeat (scheduler: ProbeScheduler, index: number): void {
  scheduler.beat(index)
}
