/**
 * The default HTTP/1.1 engine: each attempt is handed to undici's `dispatch` with a
 * handler of our own, which writes the upstream's response straight to the client's
 * `ServerResponse`: status and headers once (hop-by-hop headers dropped while copying),
 * then the body chunk by chunk with backpressure. No request or response stream objects,
 * no URL building, no header objects copied from one shape to another: what @fastify/
 * reply-from does for generality is most of a proxied request's cost (see docs/design.md).
 *
 * The attempt (src/upstream/attempt.ts) sits between undici and this handler and keeps
 * the deadlines, the retry decision on a status, trailers and the skipped 1xx responses;
 * failures go back to the route proxy, which retries or answers with the contract's error.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { util as undiciUtil, type Dispatcher } from 'undici'
import type { RequestContext } from '../context.js'
import { InternalError } from '../errors.js'
import { HOP_BY_HOP, type HeaderMap } from '../routing/header-rules.js'
import type { UpstreamAttempt } from '../upstream/attempt.js'
import type { RouteHooks } from '../hooks.js'
import type { AttemptObserver, ProxyEngine } from './route-proxy.js'
import { toHeaderMap } from './raw-headers.js'

export interface UndiciEngineOptions {
  /**
   * True when the route's response headers need more than copying (header rules, a
   * balancer's cookie): they are then built as an object and handed to the route proxy.
   */
  readonly editsResponseHeaders: boolean
}

export class UndiciEngine implements ProxyEngine {
  readonly observer: AttemptObserver
  readonly upstreamResponse: RouteHooks['upstreamResponse']
  readonly editsResponseHeaders: boolean

  constructor (observer: AttemptObserver, hooks: Readonly<RouteHooks>, options: UndiciEngineOptions) {
    this.observer = observer
    this.upstreamResponse = hooks.upstreamResponse
    this.editsResponseHeaders = options.editsResponseHeaders
  }

  send (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext, origin: string): void {
    const attempt = ctx.attempt as UpstreamAttempt
    attempt.dispatch({
      origin,
      path: attempt.path ?? ctx.upstreamPath,
      method: request.method as Dispatcher.HttpMethod,
      headers: this.observer.upstreamRequestHeaders(request) as Record<string, string | string[]>,
      body: attempt.body
    }, new ResponseWriter(this, request, reply, ctx))
  }
}

/** One attempt's response, written to the client as it arrives. */
class ResponseWriter implements Dispatcher.DispatchHandler {
  private readonly engine: UndiciEngine
  private readonly request: FastifyRequest
  private readonly reply: FastifyReply
  private readonly ctx: RequestContext
  private readonly res: ServerResponse
  /** The response began: failures can no longer become an error reply. */
  private started = false
  /** The outcome is settled (a hook answered, or failed): later upstream events are ignored. */
  private settled = false
  private resume: (() => void) | null = null

  constructor (engine: UndiciEngine, request: FastifyRequest, reply: FastifyReply, ctx: RequestContext) {
    this.engine = engine
    this.request = request
    this.reply = reply
    this.ctx = ctx
    this.res = reply.raw
  }

  onConnect (): void {}

  onHeaders (statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.started = true
    this.resume = resume
    const res = this.res
    if (res.destroyed) return this.clientGone()
    const engine = this.engine
    if (engine.upstreamResponse !== undefined) {
      this.filterResponse(statusCode, rawHeaders, engine.upstreamResponse)
      return false
    }
    if (engine.editsResponseHeaders) {
      res.writeHead(statusCode, this.withOwnHeaders(engine.observer.upstreamResponseHeaders(this.request, toHeaderMap(rawHeaders))))
      return true
    }
    res.writeHead(statusCode, this.copyHeaders(rawHeaders))
    return true
  }

  onData (chunk: Buffer): boolean {
    const res = this.res
    if (res.destroyed) return this.clientGone()
    if (res.write(chunk)) return true
    // The client reads slower than the upstream sends: pause the upstream until it drains.
    res.once('drain', this.onDrain)
    return false
  }

  onComplete (): void {
    // The attempt has added the trailers the client asked for.
    if (!this.res.destroyed) this.res.end()
  }

  onError (err: Error): void {
    if (this.settled) return
    if (!this.started) {
      this.engine.observer.onAttemptFailed(this.request, this.reply, err)
      return
    }
    // The response began: the only honest signal left is a broken connection.
    this.res.destroy()
  }

  /**
   * The client left without its leaving cancelling this attempt (it left before the
   * attempt began): pausing would hold the upstream connection for good, so the attempt
   * is cancelled, outside undici's callback.
   */
  private clientGone (): false {
    process.nextTick(cancelAttempt, this.ctx)
    return false
  }

  private readonly onDrain = (): void => {
    this.resume?.()
  }

  /**
   * The fast path: the upstream's headers copied once into the flat list writeHead takes,
   * lower-cased names, hop-by-hop ones and those the gateway sets itself left out, the
   * gateway's own first.
   */
  private copyHeaders (raw: Buffer[]): string[] {
    const own = this.reply.getHeaders()
    const out: string[] = []
    for (const name in own) out.push(name, String(own[name]))
    const ownEnd = out.length
    const keepTrailer = this.ctx.attempt?.trailersTo != null
    let listed: string[] | null = null
    for (let i = 0; i < raw.length; i += 2) {
      const name = undiciUtil.headerNameToString(raw[i] as Buffer)
      if (HOP_BY_HOP.has(name)) {
        if (name === 'connection') listed = connectionListed(raw[i + 1] as Buffer, listed)
        if (!(name === 'trailer' && keepTrailer)) continue
      }
      if (Object.hasOwn(own, name)) continue
      out.push(name, (raw[i + 1] as Buffer).toString('latin1'))
    }
    return listed === null ? out : withoutListed(out, ownEnd, listed)
  }

  /** The gateway's own headers (x-request-id…) with the edited upstream headers. */
  private withOwnHeaders (headers: HeaderMap): HeaderMap {
    const own = this.reply.getHeaders()
    for (const name in own) headers[name] = own[name] as string
    return headers
  }

  /**
   * response_filter: the user's hook sees the upstream's status and headers on `reply`
   * and may change them; the body waits (the upstream is paused) until it is done.
   */
  private filterResponse (statusCode: number, raw: Buffer[], hook: NonNullable<RouteHooks['upstreamResponse']>): void {
    const { request, reply, ctx } = this
    reply.code(statusCode)
    reply.headers(this.engine.observer.upstreamResponseHeaders(request, toHeaderMap(raw)))
    Promise.resolve()
      .then(() => hook(request, reply, ctx))
      .then(() => {
        // The hook answered itself: the upstream's body is not wanted.
        if (reply.sent || this.res.headersSent) {
          this.settled = true
          ctx.attempt?.cancel()
          return
        }
        this.res.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders)
        this.resume?.()
      }, (err: unknown) => {
        this.settled = true
        ctx.attempt?.cancel()
        request.log.error({ err }, 'upstreamResponse hook threw')
        if (!reply.sent) reply.send(new InternalError('upstreamResponse hook failed', { cause: err }))
      })
  }
}

function cancelAttempt (ctx: RequestContext): void {
  ctx.attempt?.cancel()
}

/** Names a Connection header lists besides keep-alive and close (RFC 9110 §7.6.1). */
function connectionListed (raw: Buffer, already: string[] | null): string[] | null {
  // Nearly always exactly one of these two: nothing to take apart then.
  if (raw.length === 10 || raw.length === 5) {
    const value = raw.toString('latin1').toLowerCase()
    if (value === 'keep-alive' || value === 'close') return already
  }
  let listed = already
  for (const item of raw.toString('latin1').split(',')) {
    const name = item.trim().toLowerCase()
    if (name === '' || name === 'keep-alive' || name === 'close') continue
    listed ??= []
    listed.push(name)
  }
  return listed
}

/** `flat` without the upstream's headers (from `start` on) that `listed` names. */
function withoutListed (flat: string[], start: number, listed: readonly string[]): string[] {
  const kept = flat.slice(0, start)
  for (let i = start; i < flat.length; i += 2) {
    if (!listed.includes(flat[i] as string)) kept.push(flat[i] as string, flat[i + 1] as string)
  }
  return kept
}
