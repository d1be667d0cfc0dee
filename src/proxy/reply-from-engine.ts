/**
 * The HTTP/1.1 engine: @fastify/reply-from over undici, with the gateway's dispatcher (so
 * each attempt reaches its own target's pool). reply-from's options are built once per
 * route; per request they only call back into the route proxy.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyReplyFromHooks } from '@fastify/reply-from'
import type { RequestContext } from '../context.js'
import { InternalError } from '../errors.js'
import type { HeaderMap } from '../routing/header-rules.js'
import { kAttempt } from '../upstream/dispatcher.js'
import type { AttemptObserver, ProxyEngine } from './route-proxy.js'
import type { RouteHooks } from '../hooks.js'

/** reply-from's own retries resend to the same URL; the route proxy retries instead. */
const neverRetry = (): null => null
const noQuery = (): string => ''

/** Drops an upstream body nobody will read (its abort error is expected, not a fault). */
function discard (stream: { on: (event: 'error', listener: () => void) => unknown, destroy: () => void }): void {
  stream.on('error', () => undefined)
  stream.destroy()
}

export class ReplyFromEngine implements ProxyEngine {
  private readonly options: FastifyReplyFromHooks

  constructor (observer: AttemptObserver, hooks: Readonly<RouteHooks>) {
    const upstreamResponse = hooks.upstreamResponse
    this.options = {
      retryDelay: neverRetry,
      queryString: noQuery,
      // The attempt rides with the headers, under a symbol undici never sends: reply-from
      // has no per-call dispatcher, and the gateway's dispatcher needs to know the target.
      rewriteRequestHeaders: (request) => {
        const headers = observer.upstreamRequestHeaders(request as FastifyRequest)
        ;(headers as Record<PropertyKey, unknown>)[kAttempt] = (request.tollgate as RequestContext).attempt
        return headers as Record<string, string>
      },
      rewriteHeaders: (headers, request) => observer.upstreamResponseHeaders(request as FastifyRequest, headers as HeaderMap) as typeof headers,
      onError: (reply, { error }) => observer.onAttemptFailed(reply.request as FastifyRequest, reply as FastifyReply, error),
      ...(upstreamResponse === undefined
        ? {}
        : {
            // response_filter: the user's hook sees status and headers before the body goes out.
            onResponse: (request, reply, res) => {
              Promise.resolve()
                .then(() => upstreamResponse(request as FastifyRequest, reply as FastifyReply, request.tollgate as RequestContext))
                .then(() => {
                  // The hook answered itself: the upstream's body is not wanted.
                  if (reply.sent) discard(res.stream)
                  else reply.send(res.stream)
                }, (err: unknown) => {
                  discard(res.stream)
                  request.log.error({ err }, 'upstreamResponse hook threw')
                  if (!reply.sent) reply.send(new InternalError('upstreamResponse hook failed', { cause: err }))
                })
            }
          })
    }
  }

  /**
   * reply-from is given neither the path nor the body: the gateway's dispatcher hands
   * undici the attempt's own (see AttemptDispatcher). reply-from's URL handling refuses
   * legitimate paths (`/a/...b`), and it refuses a body on GET; request.body is never set
   * (Fastify parses no body here), so reply-from sends none of its own.
   */
  send (_request: FastifyRequest, reply: FastifyReply, _ctx: RequestContext, origin: string): void {
    reply.from(origin + '/', this.options)
  }
}
