/**
 * The HTTP/2 client of one target, in the shape of an undici Dispatcher: `dispatch(options,
 * handler)` sends the request as a stream on one of the target's sessions and drives the
 * handler as undici's core does (onConnect with an abort function, onHeaders with a resume
 * function, onData returning false to pause, onComplete with the raw trailers, onError).
 * So the UpstreamAttempt — deadlines, in-flight counts, passive health, retries, metrics,
 * the cache's tap — and the engine's response writer work unchanged over HTTP/2.
 *
 * Why not undici's own h2 client: it calls onComplete before the stream's trailers arrive
 * (they are lost, and gRPC needs them), and it has no h2c without a separate client class
 * per origin (research §2d, §2e).
 */
import { constants as h2, type ClientHttp2Stream, type IncomingHttpHeaders, type IncomingHttpStatusHeader, type OutgoingHttpHeaders } from 'node:http2'
import { Readable } from 'node:stream'
import { Dispatcher, errors as undiciErrors } from 'undici'
import { H2SessionPool, MAX_RESPONSE_HEADER_LIST, type H2Session, type H2SessionOptions } from './h2-sessions.js'
import { H2SessionClosedError, H2StreamResetError, HeadersTooLargeError } from './errors.js'

/**
 * Connection-specific headers (RFC 9113 §8.2.2): an HTTP/2 request carrying one is
 * malformed. `host` becomes `:authority`; `te` may only say `trailers`.
 */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host', 'te'
])

/** How often one request is sent again after GOAWAY refused it (each time on a newer session). */
const MAX_REFUSED_RETRIES = 3

type Abort = (reason?: Error) => void

/** The legacy handler interface UpstreamAttempt implements (and undici's core calls). */
interface LegacyHandler {
  onConnect?: (abort: Abort, context?: unknown) => void
  onHeaders?: (statusCode: number, headers: Buffer[], resume: () => void, statusText: string) => boolean
  onData?: (chunk: Buffer) => boolean
  onComplete?: (trailers: string[] | null) => void
  onError?: (err: Error) => void
}

export class H2Dispatcher extends Dispatcher {
  readonly sessions: H2SessionPool
  /** The `:authority` sent when a request has no Host header. */
  private readonly defaultAuthority: string
  private readonly scheme: 'http' | 'https'
  /** Tells each new stream's socket to the connection-reuse metrics. */
  private readonly onStream: (socket: import('node:net').Socket) => void

  constructor (origin: string, options: H2SessionOptions & { readonly onStream: (socket: import('node:net').Socket) => void }) {
    super()
    this.sessions = new H2SessionPool(origin, options)
    const url = new URL(origin)
    this.defaultAuthority = url.host
    this.scheme = url.protocol === 'https:' ? 'https' : 'http'
    this.onStream = options.onStream
  }

  override dispatch (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const exchange = new H2Exchange(this, options, handler as LegacyHandler)
    exchange.start()
    return true
  }

  override async close (): Promise<void> {
    await this.sessions.close()
  }

  override async destroy (): Promise<void> {
    this.sessions.destroy()
  }

  /** The request head as HTTP/2 headers: pseudo-headers first, connection-specific ones left out. */
  requestHeaders (options: Dispatcher.DispatchOptions): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = {
      ':method': options.method,
      ':scheme': this.scheme,
      ':authority': this.defaultAuthority,
      ':path': options.path
    }
    const headers = options.headers
    if (headers == null) return out
    const add = (rawName: string, value: unknown): void => {
      const name = rawName.toLowerCase()
      if (value === undefined || value === null) return
      if (name === 'host') {
        out[':authority'] = String(value)
        return
      }
      if (name === 'te') {
        // gRPC requires `te: trailers` end to end; nothing else may pass (RFC 9113 §8.2.2).
        if (String(value).toLowerCase().split(',').some(item => item.split(';', 1)[0]?.trim() === 'trailers')) out.te = 'trailers'
        return
      }
      if (CONNECTION_SPECIFIC.has(name) || name.startsWith(':')) return
      const existing = out[name]
      const values = Array.isArray(value) ? value.map(String) : [String(value)]
      if (existing === undefined) out[name] = values.length === 1 ? values[0] : values
      else out[name] = [...(Array.isArray(existing) ? existing.map(String) : [String(existing)]), ...values]
    }
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) add(String(headers[i]), headers[i + 1])
    } else {
      // Own string keys only: a symbol key (the attempt riding with reply-from) is never sent.
      for (const name of Object.keys(headers)) add(name, (headers as Record<string, unknown>)[name])
    }
    return out
  }

  /** Counts a stream on `socket` for the connection-reuse metrics. */
  streamOpened (socket: import('node:net').Socket): void {
    this.onStream(socket)
  }
}

/** One request's life on the target's sessions. */
class H2Exchange {
  private readonly client: H2Dispatcher
  private readonly options: Dispatcher.DispatchOptions
  private readonly handler: LegacyHandler
  private readonly body: Readable | Buffer | string | null
  private entry: H2Session | null = null
  private stream: ClientHttp2Stream | null = null
  /** The handler heard its last event (complete or error): nothing more reaches it. */
  private done = false
  private connected = false
  private responded = false
  private refusedRetries = 0
  private streamError: Error | null = null
  private trailers: string[] | null = null

  constructor (client: H2Dispatcher, options: Dispatcher.DispatchOptions, handler: LegacyHandler) {
    this.client = client
    this.options = options
    this.handler = handler
    const body = options.body
    this.body = body == null ? null : (body instanceof Readable || Buffer.isBuffer(body) || typeof body === 'string') ? body : Buffer.from(body as Uint8Array)
  }

  start (): void {
    let entry: H2Session
    try {
      entry = this.client.sessions.acquire()
    } catch (err) {
      this.fail(err as Error)
      return
    }
    this.entry = entry
    entry.whenReady((err) => {
      if (err !== null) {
        this.release()
        this.fail(err)
        return
      }
      this.open(entry)
    })
  }

  /** undici's abort: the attempt gave up (a deadline, the client left). */
  private readonly abort: Abort = (reason) => {
    if (this.done) return
    this.cancel(reason ?? new undiciErrors.RequestAbortedError())
  }

  private open (entry: H2Session): void {
    if (this.done) {
      this.release()
      return
    }
    if (!this.connected) {
      this.connected = true
      this.handler.onConnect?.(this.abort)
      // The attempt's deadline passed while the session was connecting: it aborts at once.
      if (this.done) {
        this.release()
        return
      }
    }
    const headers = this.client.requestHeaders(this.options)
    const body = this.body
    let stream: ClientHttp2Stream
    try {
      stream = entry.session.request(headers, { endStream: body === null })
    } catch (err) {
      this.release()
      // The session went away between acquire and now (GOAWAY just arrived): another one.
      if (!entry.usable && this.refusedRetries++ < MAX_REFUSED_RETRIES) {
        this.start()
        return
      }
      this.fail(err as Error)
      return
    }
    this.stream = stream
    this.client.streamOpened(entry.socket)
    stream.on('response', this.onResponse)
    stream.on('data', this.onData)
    stream.on('trailers', this.onTrailers)
    stream.once('end', this.onEnd)
    stream.on('error', this.onStreamError)
    stream.once('close', this.onClose)
    if (body === null) return
    if (body instanceof Readable) {
      body.on('error', this.onBodyError)
      body.pipe(stream)
    } else {
      stream.end(body)
    }
  }

  private readonly onResponse = (headers: IncomingHttpHeaders & IncomingHttpStatusHeader): void => {
    if (this.done) return
    this.responded = true
    const status = Number(headers[':status'])
    const raw: Buffer[] = []
    // Sized as SETTINGS_MAX_HEADER_LIST_SIZE counts (RFC 9113 §6.5.2): node:http2 advertises
    // the limit but does not hold the peer to it.
    let size = 0
    for (const name of Object.keys(headers)) {
      const value = headers[name]
      if (value === undefined) continue
      for (const item of Array.isArray(value) ? value : [String(value)]) {
        size += name.length + item.length + 32
        if (!name.startsWith(':')) raw.push(Buffer.from(name, 'latin1'), Buffer.from(item, 'latin1'))
      }
    }
    if (size > MAX_RESPONSE_HEADER_LIST) {
      this.cancel(new HeadersTooLargeError(size, MAX_RESPONSE_HEADER_LIST))
      return
    }
    let more: boolean
    try {
      more = this.handler.onHeaders?.(status, raw, this.resume, '') ?? true
    } catch (err) {
      // As undici's core does: a handler that throws ends the exchange, never the process
      // (this runs inside a stream event).
      this.cancel(err as Error)
      return
    }
    if (more === false && !this.done) this.stream?.pause()
  }

  private readonly resume = (): void => {
    if (!this.done) this.stream?.resume()
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.done) return
    let more: boolean
    try {
      more = this.handler.onData?.(chunk) ?? true
    } catch (err) {
      this.cancel(err as Error)
      return
    }
    if (!more && !this.done) this.stream?.pause()
  }

  /** Resets the stream (CANCEL) and fails the exchange with `err`. */
  private cancel (err: Error): void {
    const stream = this.stream
    if (stream !== null && !stream.closed) stream.close(h2.NGHTTP2_CANCEL)
    this.fail(err)
  }

  /** Trailers arrive before 'end' on node:http2's stream (unlike undici's h2 client). */
  private readonly onTrailers = (headers: IncomingHttpHeaders): void => {
    if (this.done) return
    const raw: string[] = []
    let size = 0
    for (const name of Object.keys(headers)) {
      if (name.startsWith(':')) continue
      const value = headers[name]
      if (value === undefined) continue
      for (const item of Array.isArray(value) ? value : [String(value)]) {
        size += name.length + item.length + 32
        raw.push(name, item)
      }
    }
    if (size > MAX_RESPONSE_HEADER_LIST) {
      this.cancel(new HeadersTooLargeError(size, MAX_RESPONSE_HEADER_LIST))
      return
    }
    this.trailers = raw
  }

  private readonly onEnd = (): void => {
    if (this.done) return
    if (!this.responded) return
    this.done = true
    this.handler.onComplete?.(this.trailers ?? [])
  }

  private readonly onStreamError = (err: Error): void => {
    this.streamError ??= err
  }

  private readonly onBodyError = (err: Error): void => {
    this.cancel(err)
  }

  private readonly onClose = (): void => {
    const entry = this.entry
    this.release()
    if (this.done) return
    const stream = this.stream as ClientHttp2Stream
    const rstCode = stream.rstCode ?? h2.NGHTTP2_NO_ERROR
    // GOAWAY refused the stream, or the session ended before the stream began: the upstream
    // never processed it (RFC 9113 §8.7), so it is sent again on a fresh session — when its
    // body (if any) has not been read yet.
    const untouched = this.body === null || !(this.body instanceof Readable) || !this.body.readableDidRead
    const refused = rstCode === h2.NGHTTP2_REFUSED_STREAM || (entry !== null && !entry.usable && stream.id === undefined)
    if (!this.responded && refused && untouched && this.refusedRetries++ < MAX_REFUSED_RETRIES) {
      this.stream = null
      this.start()
      return
    }
    if (rstCode !== h2.NGHTTP2_NO_ERROR) {
      this.fail(new H2StreamResetError(rstCode))
      return
    }
    // Closed cleanly without its end (a session torn down), or ended without a response.
    this.fail(this.streamError ?? entry?.failure ?? new H2SessionClosedError('the HTTP/2 stream closed before the response ended'))
  }

  private release (): void {
    const entry = this.entry
    if (entry === null) return
    this.entry = null
    entry.release()
  }

  private fail (err: Error): void {
    if (this.done) return
    this.done = true
    const body = this.body
    if (body instanceof Readable) {
      body.off('error', this.onBodyError)
      if (this.stream !== null) body.unpipe(this.stream)
      // As undici does: the body it was given is destroyed; the client's stream is not (a DeferredBody wraps it).
      if (!body.destroyed) body.destroy()
    }
    this.handler.onError?.(err)
  }
}
