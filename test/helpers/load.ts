/**
 * Steady load for tests that change something under traffic: lanes of back-to-back
 * requests, each lane on its own dispatcher (an undici Client is one connection), counting
 * answers and failures per lane. Bounded by a deadline; `answered(n)` lets a test act
 * only once n more requests were answered, so each change happens under load.
 */
import { request, type Dispatcher } from 'undici'

export interface Lane {
  readonly dispatcher: Dispatcher
  ok: number
  readonly failures: string[]
}

export class Load {
  readonly lanes: Lane[]
  private running = true
  private readonly loops: Promise<void>[]
  private waiter: { until: number, resolve: () => void } | null = null

  /** `expect`: what makes an answer a success (default: status 200). */
  constructor (url: string, dispatchers: readonly Dispatcher[], options: { deadlineMs?: number, expect?: (status: number) => boolean } = {}) {
    const deadline = performance.now() + (options.deadlineMs ?? 60_000)
    const expect = options.expect ?? ((status: number) => status === 200)
    this.lanes = dispatchers.map(dispatcher => ({ dispatcher, ok: 0, failures: [] }))
    this.loops = this.lanes.map(async lane => {
      while (this.running && performance.now() < deadline) {
        try {
          const res = await request(url, { dispatcher: lane.dispatcher })
          await res.body.text()
          if (expect(res.statusCode)) lane.ok++
          else lane.failures.push(`status ${res.statusCode}`)
        } catch (err) {
          lane.failures.push((err as Error).message)
        }
        if (this.waiter !== null && this.total() >= this.waiter.until) {
          this.waiter.resolve()
          this.waiter = null
        }
      }
    })
    // Past the deadline nothing more is answered: a test waiting for answers goes on (and fails).
    void Promise.all(this.loops).then(() => { this.waiter?.resolve() })
  }

  /** Requests answered or failed so far, over all lanes. */
  total (): number {
    return this.lanes.reduce((sum, lane) => sum + lane.ok + lane.failures.length, 0)
  }

  /** Resolves once `count` more requests have been answered (or failed). */
  async answered (count: number): Promise<void> {
    await new Promise<void>(resolve => { this.waiter = { until: this.total() + count, resolve } })
  }

  async stop (): Promise<void> {
    this.running = false
    this.waiter?.resolve()
    await Promise.all(this.loops)
  }
}
