/**
 * undici dispatchers: one keep-alive Pool per target (TLS profile, SNI, Unix socket,
 * pool size and keep-alive from the upstream's config), and the single dispatcher handed
 * to @fastify/reply-from, which sends each request to the pool of the target its attempt
 * chose. reply-from has no per-call dispatcher option; the attempt travels with the request
 * headers under a symbol key, which undici's header serialisation never sees.
 */
import { Dispatcher, Pool, Agent, buildConnector, errors as undiciErrors } from 'undici'
import type { CompiledUpstream } from '../config/compile.js'
import type { Target, TargetAddress } from './target.js'
import type { UpstreamAttempt } from './attempt.js'
import { skipUnsolicitedContinue } from './informational.js'
import { tunnelConnector } from './tunnel-connector.js'
import { isIP } from 'node:net'

/** The request-header key under which the proxy hands its attempt to the dispatcher. */
export const kAttempt = Symbol('tollgate.attempt')

export interface ConnectionEvents {
  /** A new connection to `target` is up (a reused one triggers nothing). */
  onConnection (target: Target, socket: import('node:net').Socket | import('node:tls').TLSSocket): void
}

/**
 * The origin reply-from builds URLs from. For Unix sockets the host is a placeholder: the
 * pool's connector ignores it and dials the socket path.
 */
export function originOf (address: TargetAddress, tls: boolean): string {
  const scheme = tls ? 'https' : 'http'
  if (address.kind === 'unix') return `${scheme}://localhost`
  return `${scheme}://${isIP(address.host) === 6 ? `[${address.host}]` : address.host}:${address.port}`
}

/**
 * The name sent as SNI and checked against the upstream's certificate: `tls.servername`
 * when set, else the target's host name; never an IP address (RFC 6066).
 */
export function sniOf (address: TargetAddress, upstream: CompiledUpstream): string | null {
  if (upstream.tls?.servername != null) return upstream.tls.servername
  if (address.kind === 'tcp' && isIP(address.host) === 0) return address.host
  return null
}

/** A keep-alive pool to one target, configured from its upstream. */
export function createTargetPool (target: Target, upstream: CompiledUpstream, events: ConnectionEvents): Pool {
  const tls = upstream.tls
  const address = target.address
  const servername = sniOf(address, upstream)
  const baseConnect = buildConnector({
    timeout: upstream.timeouts.connectMs,
    ...(address.kind === 'unix' ? { socketPath: address.socketPath } : {}),
    ...(tls === null
      ? {}
      : {
          rejectUnauthorized: tls.verify,
          ...(tls.ca !== null ? { ca: tls.ca } : {}),
          ...(tls.cert !== null ? { cert: tls.cert } : {}),
          ...(tls.key !== null ? { key: tls.key } : {}),
          ...(servername !== null ? { servername } : {})
        })
  })
  const dial = upstream.proxy === null ? baseConnect : tunnelConnector(upstream.proxy, address, tls !== null, upstream.timeouts.connectMs, baseConnect)
  // Pins SNI to the upstream's name whatever Host the client sent (undici would otherwise
  // derive it from the Host header), and counts new connections for reuse metrics.
  const connect: buildConnector.connector = (options, callback) => {
    const pinned = { ...options, servername: servername ?? undefined } as buildConnector.Options
    dial(pinned, (err: Error | null, socket: import('node:net').Socket | null) => {
      if (err === null && socket !== null) {
        target.connectionsOpened++
        events.onConnection(target, socket)
      }
      ;(callback as (err: Error | null, socket: import('node:net').Socket | null) => void)(err, socket)
      if (err === null && socket != null) prepareSocket(socket)
    })
  }
  return new Pool(originOf(address, tls !== null), {
    connect,
    connections: upstream.pool.connections,
    keepAliveTimeout: upstream.pool.keepAliveMs,
    keepAliveMaxTimeout: upstream.pool.keepAliveMs,
    // The attempt keeps the contract's deadlines (more precisely); undici's own timers
    // would only cost a timer refresh per request and per chunk.
    headersTimeout: 0,
    bodyTimeout: 0
  })
}

/**
 * The dispatcher given to reply-from. Each request carries, under `kAttempt`, the route
 * the proxy chose for it; this sends it there.
 */
export class AttemptDispatcher extends Dispatcher {
  override dispatch (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const headers = options.headers as Record<PropertyKey, unknown> | null | undefined
    const attempt = headers?.[kAttempt] as UpstreamAttempt | undefined
    if (attempt === undefined) {
      handler.onError?.(new Error('request reached the gateway dispatcher without a target'))
      return false
    }
    return attempt.dispatch(options, handler)
  }

  override async close (): Promise<void> {}
  override async destroy (): Promise<void> {}
}

/** Dispatcher for transparent routes: any origin, pooled per origin by undici's Agent. */
export function createTransparentAgent (connectMs: number, keepAliveMs: number): Agent {
  const baseConnect = buildConnector({ timeout: connectMs })
  const connect: buildConnector.connector = (options, callback) => {
    baseConnect(options, (err: Error | null, socket: import('node:net').Socket | null) => {
      ;(callback as (err: Error | null, socket: import('node:net').Socket | null) => void)(err, socket)
      if (err === null && socket != null) prepareSocket(socket)
    })
  }
  return new Agent({ connect, keepAliveTimeout: keepAliveMs, keepAliveMaxTimeout: keepAliveMs, headersTimeout: 0, bodyTimeout: 0 })
}

/** Called with each new upstream socket once undici has attached its parser to it. */
function prepareSocket (socket: import('node:net').Socket): void {
  skipUnsolicitedContinue(socket)
  closeAbortedForGood(socket)
}

/**
 * An attempt that times out aborts its request, and undici then destroys the connection
 * with an "informational" error. undici 7 takes that error to mean the request at the head
 * of the connection may be sent again: the aborted request goes back to pending, and the
 * pool opens a fresh connection for it before noticing it was aborted — one wasted
 * connection per timeout, to an upstream that is already too slow, and the pool opens yet
 * another for the next request meanwhile. The abort's error is turned into a socket error
 * here, so undici drops the aborted request with its connection instead.
 */
function closeAbortedForGood (socket: import('node:net').Socket): void {
  const destroy = socket.destroy
  socket.destroy = function (this: import('node:net').Socket, err?: Error) {
    const aborted = err instanceof undiciErrors.InformationalError && err.message === 'aborted'
    return destroy.call(this, aborted ? new undiciErrors.SocketError('aborted by the gateway') : err)
  }
}
