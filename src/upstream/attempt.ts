/**
 * One try of a request against one target: an undici dispatch handler that sits between
 * the pool and reply-from's own handler. It exists for three things undici does not do the
 * way the contract needs:
 *
 * - precise deadlines: undici's timers tick about once a second, so a 100 ms connect
 *   timeout would fire after ~1 s. Our own timer covers the wait for a connection, then the
 *   wait for response headers, then each gap between body chunks (`timeouts.response`);
 * - the target's in-flight count (least-connections), kept exact on every way out, and
 *   how each attempt ended, for passive health checking;
 * - knowing how far the exchange got, so retries happen only before the response began.
 */
import type { ServerResponse } from 'node:http'
import type { ServerHttp2Stream } from 'node:http2'
import { HOP_BY_HOP } from '../routing/header-rules.js'
import type { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { errors as undiciErrors } from 'undici'
import type { Target } from './target.js'
import { InvalidStatusError, errorCode } from './errors.js'

type Abort = (reason?: Error) => void

/** Where an attempt is. Retrying is only safe before `'response'`. */
export type AttemptPhase = 'connecting' | 'sent' | 'response' | 'done'

/** Raised instead of passing on a response whose status the retry policy retries. */
export class RetryableStatusError extends Error {
  readonly code = 'TOLLGATE_RETRYABLE_STATUS'
  readonly statusCode: number
  constructor (statusCode: number) {
    super(`upstream answered ${statusCode}`)
    this.statusCode = statusCode
  }
}

/**
 * Sees an attempt's response beside the engine's handler, and may take it over (the HTTP
 * cache: it keeps a copy of what passes, and answers itself when a 304 or an error should
 * not reach the client as it is).
 */
export interface ResponseTap {
  /**
   * The final response's head. true: the tap takes the response over; the engine's handler
   * is told the attempt ended (ResponseTakenOver) and hears nothing more of it.
   */
  onResponseHead (statusCode: number, headers: Buffer[]): boolean
  onResponseData (chunk: Buffer): void
  onResponseEnd (): void
  /** The attempt failed, before or during its response. */
  onResponseError (err: Error): void
}

/** What the engine's handler is told when a tap took the response over: not a failure. */
export class ResponseTakenOver extends Error {
  readonly code = 'TOLLGATE_RESPONSE_TAKEN_OVER'
  constructor () {
    super('the response was taken over by the cache')
  }
}

export class UpstreamAttempt implements Dispatcher.DispatchHandler {
  readonly target: Target
  phase: AttemptPhase = 'connecting'
  /** The error this attempt ended with, when it failed. */
  failure: Error | null = null
  /**
   * Asked when response headers arrive: true turns the response into a
   * RetryableStatusError so the next target is tried. null: every status passes.
   */
  retryStatus: ((statusCode: number) => boolean) | null = null
  /** Path and query sent upstream, set by the route proxy; null keeps the request's own. */
  path: string | null = null
  /** The request body for this attempt, or null for none. */
  body: Readable | null = null
  /** Where the upstream's trailers go: the client's response, when it sent `TE: trailers`. */
  trailersTo: ServerResponse | null = null
  /** The status of the upstream's final response, once its headers arrived (0 before). */
  statusCode = 0
  /** Sees the response too (a cached route's), or null. */
  tap: ResponseTap | null = null
  /** The tap took the response over: the engine's handler was told it ended, and it is no failure. */
  takenOver = false
  private inner: Dispatcher.DispatchHandler | null = null
  private abortUpstream: Abort | null = null
  private resumeUpstream: (() => void) | null = null
  private timer: NodeJS.Timeout | null = null
  /** When the pending timer fires (performance.now() time). */
  private timerAt = 0
  /** When the current phase's deadline passes (connecting, sent), checked lazily. */
  private deadline = 0
  /** Response phase: body bytes arrived since the timer was last armed. */
  private progressed = false
  /** Response phase: the client is reading slower than the upstream sends (backpressure). */
  private paused = false
  /** performance.now() at dispatch while undici is still inside it, else -1. */
  private dispatchedAt = -1
  /** performance.now() at dispatch, for the attempt's duration. */
  private startedAt = 0
  private readonly dispatcher: Dispatcher
  /** SNI pinned on TLS pools so that a changing Host never resets a pooled connection. */
  private readonly servername: string | null
  private readonly connectMs: number
  private readonly responseMs: number

  constructor (target: Target, dispatcher: Dispatcher, servername: string | null, connectMs: number, responseMs: number) {
    this.target = target
    this.dispatcher = dispatcher
    this.servername = servername
    this.connectMs = connectMs
    this.responseMs = responseMs
  }

  /** Sends the request to this attempt's pool, watching it. */
  dispatch (options: Dispatcher.DispatchOptions, inner: Dispatcher.DispatchHandler): boolean {
    this.inner = inner
    this.target.inflight++
    const now = performance.now()
    this.arm(now + this.connectMs, now)
    this.startedAt = now
    if (this.servername !== null) (options as { servername?: string }).servername = this.servername
    if (this.path !== null) options.path = this.path
    if (this.body !== null) options.body = this.body
    // A pooled connection that is free takes the request at once, inside this call: its
    // onConnect then uses this clock reading instead of taking another.
    this.dispatchedAt = now
    try {
      return this.dispatcher.dispatch(options, this)
    } finally {
      this.dispatchedAt = -1
    }
  }

  /**
   * The client went away, but the response is still wanted (the cache stores it for the
   * requests waiting on it): the engine's handler is let go, the tap reads on. False when
   * there is nothing left to read (the attempt ended, or has no tap).
   */
  detach (): boolean {
    if (this.phase === 'done' || this.tap === null) return false
    this.takenOver = true
    this.trailersTo = null
    const inner = this.inner
    this.inner = null
    inner?.onError?.(new ResponseTakenOver())
    // Held back for a client that is gone: read on.
    if (this.paused) this.onResume()
    return true
  }

  /** The client went away: stop the upstream exchange too. */
  cancel (): void {
    if (this.phase === 'done') return
    this.fail(new undiciErrors.RequestAbortedError())
  }

  /**
   * Moves the deadline. One timer serves every phase: it is only re-created when the new
   * deadline comes before the pending timer fires; a later deadline is picked up when the
   * timer fires (see expire). Most attempts thus cost a single setTimeout.
   */
  private arm (deadline: number, now: number): void {
    this.deadline = deadline
    if (this.timer !== null && deadline >= this.timerAt) return
    if (this.timer !== null) clearTimeout(this.timer)
    this.timerAt = deadline
    this.timer = setTimeout(onDeadline, Math.max(1, deadline - now), this)
  }

  /**
   * Called by the timer; which deadline passed depends on the phase. Once the response
   * began, the timer checks every `responseMs` that body bytes came in meanwhile (a flag
   * set per chunk, not a clock read): a gap between reads is cut after one to two times
   * `responseMs`. While the client holds the upstream back, no gap is the upstream's.
   */
  expire (): void {
    this.timer = null
    if (this.phase === 'done') return
    const now = performance.now()
    if (this.phase === 'response') {
      if (this.progressed || this.paused) {
        this.progressed = false
        this.arm(now + this.responseMs, now)
        return
      }
      this.fail(new undiciErrors.BodyTimeoutError())
      return
    }
    const left = this.deadline - now
    if (left > 1) {
      this.timerAt = this.deadline
      this.timer = setTimeout(onDeadline, left, this)
      return
    }
    switch (this.phase) {
      case 'connecting':
        this.fail(new undiciErrors.ConnectTimeoutError(`no connection within ${this.connectMs} ms`))
        break
      case 'sent':
        this.fail(new undiciErrors.HeadersTimeoutError())
        break
    }
  }

  private fail (err: Error): void {
    this.failure = err
    if (this.abortUpstream !== null) {
      // undici calls onError with this error, which ends the attempt there.
      this.abortUpstream(err)
      return
    }
    // Still waiting for a connection: answer now. The queued request is aborted as soon
    // as undici hands it a socket (onConnect), or errored when its connect fails.
    this.finish()
    this.tap?.onResponseError(err)
    this.inner?.onError?.(err)
  }

  private finish (): void {
    if (this.phase === 'done') return
    this.phase = 'done'
    const target = this.target
    target.inflight--
    if (this.timer !== null) {
      clearTimeout(this.timer)
      this.timer = null
    }
    // Every way out passes here once, `failure` already set when the attempt failed.
    if (target.outcomes !== null) target.outcomes.attemptEnded(this.statusCode, this.failure)
    if (target.series !== null) target.series.attemptEnded(this.statusCode, this.failure, (performance.now() - this.startedAt) / 1000)
  }

  // ---- the undici handler interface (legacy form, which the core calls directly)

  onConnect (abort: Abort, context?: unknown): void {
    if (this.phase === 'done') {
      abort(this.failure ?? new undiciErrors.RequestAbortedError())
      return
    }
    this.abortUpstream = abort
    this.phase = 'sent'
    const now = this.dispatchedAt >= 0 ? this.dispatchedAt : performance.now()
    this.arm(now + this.responseMs, now)
    ;(this.inner?.onConnect as ((abort: Abort, context?: unknown) => void) | undefined)?.(abort, context)
  }

  onResponseStarted (): void {
    this.inner?.onResponseStarted?.()
  }

  onHeaders (statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.phase === 'done') return false
    // An informational response the gateway did not ask for (RFC 9110 §15.2): wait for the
    // final one. (A 100 is skipped inside undici, see informational.ts.)
    if (statusCode < 200) return true
    if (statusCode > 599) {
      // Fastify cannot send it, and the connection may not be reused with a body unread:
      // fail now, which closes the connection, instead of holding it until the deadline.
      this.fail(new InvalidStatusError(statusCode))
      return false
    }
    if (this.retryStatus !== null && this.retryStatus(statusCode)) {
      this.fail(new RetryableStatusError(statusCode))
      return false
    }
    // The pending timer (the response deadline) now checks for body progress instead.
    this.phase = 'response'
    this.progressed = true
    this.statusCode = statusCode
    this.resumeUpstream = resume
    if (this.trailersTo !== null && respondTrailersOnly(this.trailersTo, statusCode, headers)) {
      // Sent whole, in one frame: what follows from the upstream is its empty end.
      this.takenOver = true
      const inner = this.inner
      this.inner = null
      inner?.onError?.(new ResponseTakenOver())
      return true
    }
    if (this.tap !== null && this.tap.onResponseHead(statusCode, headers)) {
      this.takenOver = true
      const inner = this.inner
      this.inner = null
      inner?.onError?.(new ResponseTakenOver())
      return true
    }
    const more = this.inner?.onHeaders?.(statusCode, headers, this.onResume, statusText) ?? true
    if (more === false) this.paused = true
    return more
  }

  onData (chunk: Buffer): boolean {
    this.progressed = true
    this.tap?.onResponseData(chunk)
    const more = this.inner?.onData?.(chunk) ?? true
    if (more === false) this.paused = true
    return more
  }

  /** What the handler calls to take more of the body: the upstream is read again. */
  private readonly onResume = (): void => {
    this.paused = false
    this.progressed = true
    this.resumeUpstream?.()
  }

  onComplete (trailers: string[] | null): void {
    this.finish()
    if (this.trailersTo !== null && trailers !== null && trailers.length > 0) forwardTrailers(trailers, this.trailersTo)
    this.inner?.onComplete?.(trailers)
    // After the client's copy: the store never holds the client back.
    this.tap?.onResponseEnd()
  }

  onError (err: Error): void {
    if (this.phase === 'done') return
    if (this.phase === 'response' && hasNoBody(this.statusCode) && errorCode(err) === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
      // A 204 or 304 may carry Content-Length (RFC 9110 §8.6) and never a body; undici
      // counts the missing body as a mismatch and drops the connection. The response is
      // complete as it is.
      this.onComplete([])
      return
    }
    this.failure ??= err
    this.finish()
    this.tap?.onResponseError(this.failure)
    this.inner?.onError?.(this.failure)
  }

  onUpgrade (statusCode: number, headers: Buffer[] | string[] | null, socket: import('node:stream').Duplex): void {
    this.finish()
    this.inner?.onUpgrade?.(statusCode, headers, socket)
  }

  onBodySent (chunkSize: number, totalBytesSent: number): void {
    this.inner?.onBodySent?.(chunkSize, totalBytesSent)
  }
}

function onDeadline (attempt: UpstreamAttempt): void {
  attempt.expire()
}

function hasNoBody (statusCode: number): boolean {
  return statusCode === 204 || statusCode === 304
}

/**
 * A gRPC "Trailers-Only" response (an error with no message: `grpc-status` in the response
 * headers) to an HTTP/2 client: sent as one HEADERS frame with END_STREAM, which is how a
 * gRPC client recognises it. Node's compatibility response would end the stream with a
 * frame of its own after the headers, and the client would read a call that ended
 * without a status. False when it is not such a response, or the client is not on h2.
 */
function respondTrailersOnly (res: ServerResponse, statusCode: number, raw: Buffer[]): boolean {
  const stream = (res as { stream?: ServerHttp2Stream }).stream
  if (stream === undefined || stream.headersSent || stream.destroyed) return false
  let trailersOnly = false
  const headers: Record<string, string | string[]> = {}
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = String(raw[i]).toLowerCase()
    if (name === 'grpc-status') trailersOnly = true
    if (HOP_BY_HOP.has(name) || name.startsWith(':')) continue
    const value = String(raw[i + 1])
    const existing = headers[name]
    headers[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value]
  }
  if (!trailersOnly) return false
  const own = res.getHeader('x-request-id')
  if (typeof own === 'string') headers['x-request-id'] = own
  res.statusCode = statusCode
  stream.respond({ ':status': statusCode, ...headers }, { endStream: true })
  return true
}

/** undici's raw trailer pairs, onto the client's response (written when it ends). */
function forwardTrailers (raw: (string | Buffer)[], res: ServerResponse): void {
  if (res.writableEnded || res.destroyed) return
  const pairs: [string, string][] = []
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([String(raw[i]), String(raw[i + 1])])
  try {
    // HTTP/1.1 takes a list (repeats kept); HTTP/2's compatibility response only an object.
    if ((res as { stream?: unknown }).stream !== undefined) res.addTrailers(Object.fromEntries(pairs.map(([name, value]) => [name.toLowerCase(), value])))
    else res.addTrailers(pairs)
  } catch {
    // A trailer Node refuses to write (an invalid name or value) is dropped, not fatal.
  }
}
