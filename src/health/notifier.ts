/**
 * `notify.webhook`: each health change is POSTed there as JSON, fire and forget. A webhook
 * that is down or slow must never hold up checks or traffic, so events go into a bounded
 * queue that one request at a time drains, each cut after WEBHOOK_TIMEOUT_MS; when the
 * queue is full the oldest event is dropped (the newest says how things are now). A
 * delivery that fails is logged and not retried.
 */
import { request as httpRequest, type ClientRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'

export const WEBHOOK_TIMEOUT_MS = 5_000
export const WEBHOOK_QUEUE_SIZE = 100

export type HealthState = 'healthy' | 'unhealthy'

/** What the webhook receives, one JSON object per POST. */
export type HealthEvent =
  /** One target changed: `reason` says what the check or the traffic saw. */
  | {
    readonly type: 'target'
    readonly upstream: string
    readonly target: string
    readonly from: HealthState
    readonly to: HealthState
    readonly reason: string
    /** ISO 8601. */
    readonly at: string
  }
  /** The upstream lost its last healthy target, or got one back. */
  | {
    readonly type: 'upstream'
    readonly upstream: string
    readonly from: HealthState
    readonly to: HealthState
    readonly healthyTargets: number
    readonly reason: string
    readonly at: string
  }

export interface NotifierLog {
  warn (fields: object, message: string): void
}

export interface NotifierOptions {
  /** How long one delivery may take. */
  readonly timeoutMs?: number
  /** Events held while deliveries are slow. */
  readonly queueSize?: number
}

export class WebhookNotifier {
  readonly url: string
  private readonly target: URL
  private readonly log: NotifierLog
  private readonly timeoutMs: number
  private readonly queueSize: number
  private readonly queue: HealthEvent[] = []
  private inflight: ClientRequest | null = null
  private timer: NodeJS.Timeout | null = null
  private dropped = 0
  private closed = false

  constructor (url: string, log: NotifierLog, options: NotifierOptions = {}) {
    this.url = url
    this.target = new URL(url)
    this.log = log
    this.timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS
    this.queueSize = options.queueSize ?? WEBHOOK_QUEUE_SIZE
  }

  /** Queues `event` and returns at once. */
  send (event: HealthEvent): void {
    if (this.closed) return
    if (this.queue.length >= this.queueSize) {
      this.queue.shift()
      // Once per backlog: a webhook that is down for long would otherwise flood the log.
      if (this.dropped++ === 0) this.log.warn({ webhook: this.url, queued: this.queueSize }, 'health webhook is not keeping up: dropping the oldest events')
    }
    this.queue.push(event)
    if (this.inflight === null) this.next()
  }

  /** Events waiting, the one being sent included. */
  get pending (): number {
    return this.queue.length + (this.inflight === null ? 0 : 1)
  }

  /** Drops what is queued and cuts the delivery in flight. */
  close (): void {
    this.closed = true
    this.queue.length = 0
    this.finish()
  }

  private next (): void {
    const event = this.queue.shift()
    if (event === undefined) this.dropped = 0
    if (event === undefined || this.closed) return
    const body = JSON.stringify(event)
    const request = this.target.protocol === 'https:' ? httpsRequest : httpRequest
    let req: ClientRequest
    try {
      req = request(this.target, {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'tollgate-health-notifier' }
      })
    } catch (err) {
      this.failed(event, err instanceof Error ? err.message : String(err))
      queueMicrotask(() => this.next())
      return
    }
    this.inflight = req
    this.timer = setTimeout(() => {
      this.failed(event, `no answer within ${this.timeoutMs} ms`)
      this.finish()
      this.next()
    }, this.timeoutMs)
    req.on('response', (res) => {
      res.resume()
      res.on('error', () => undefined)
      if (req !== this.inflight) return
      if ((res.statusCode ?? 0) >= 300) this.failed(event, `answered ${res.statusCode ?? 0}`)
      this.finish()
      this.next()
    })
    req.on('error', (err) => {
      if (req !== this.inflight) return
      this.failed(event, err.message)
      this.finish()
      this.next()
    })
    req.end(body)
  }

  /** Ends the delivery in flight, if any. */
  private finish (): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    const req = this.inflight
    this.inflight = null
    req?.destroy()
  }

  private failed (event: HealthEvent, why: string): void {
    this.log.warn({ webhook: this.url, event: event.type, upstream: event.upstream, why }, 'health webhook delivery failed')
  }
}
