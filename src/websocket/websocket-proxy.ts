/**
 * A route's WebSocket proxy (`websocket: true`): upstream_peer and the handshake, in
 * Pingora's terms. By the time it runs, the route's request_filter checks (IP filter, auth,
 * rate limit, concurrency, user hooks) have passed on the upgrade request like on any
 * other. It picks a target with the route's balancer, connects (TLS with the upstream's
 * settings), sends the upgrade with the route's header rules and the forwarding headers,
 * and waits for the upstream's answer:
 *
 * - 101: relayed with the upstream's headers (Sec-WebSocket-Accept, -Protocol,
 *   -Extensions), then the two sockets become a WebSocketTunnel;
 * - any other response: relayed as it is, and the connection closed;
 * - no connection, garbage, or nothing within the route's timeouts: the contract's 502 or
 *   504, never a 101 followed by a close.
 *
 * A connection that cannot be made is tried on the balancer's next target, as the route's
 * retry policy allows (`connect-error`); once the upgrade was sent, never.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { CompiledRoute, CompiledUpstream } from '../config/compile.js'
import type { RequestContext } from '../context.js'
import { BadRequest, type GatewayError } from '../errors.js'
import type { HeaderMap } from '../routing/header-rules.js'
import { withoutHopByHop } from '../routing/header-rules.js'
import { formatHostPort, parseHostPort } from '../net/address.js'
import { Target } from '../upstream/target.js'
import type { Upstream } from '../upstream/upstream.js'
import { sniOf } from '../upstream/dispatcher.js'
import { classifyFailure, noAvailableTarget, toGatewayError, type FailureKind } from '../upstream/errors.js'
import type { PendingUpgrade } from './upgrade.js'
import { WaitingClient } from './waiting-client.js'
import { WebSocketTunnel } from './tunnel.js'
import type { WebSocketTunnels } from './tunnels.js'

export interface WebSocketProxyOptions {
  readonly route: CompiledRoute
  readonly upstream: Upstream | null
  /** upstream_request_filter: the headers the route sends upstream (as for HTTP requests). */
  readonly requestHeaders: (request: FastifyRequest) => HeaderMap
  readonly tunnels: WebSocketTunnels
}

/** A Sec-WebSocket-Key is 16 random bytes in base64 (RFC 6455 §4.1). */
const WEBSOCKET_KEY = /^[A-Za-z0-9+/]{22}==$/

/** Kept off the 101 the client gets: they frame a body, which a 101 has none of. */
const NOT_ON_101: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'keep-alive', 'proxy-connection', 'trailer', 'te'])

/** One try of the handshake against one target. */
interface Handshake {
  readonly target: Target
  readonly request: ClientRequest
  startedAt: number
  /** The connection is up, and the upgrade on its way: no other target is tried after this. */
  connected: boolean
  settled: boolean
  timer: NodeJS.Timeout | null
}

export class WebSocketProxy {
  private readonly route: CompiledRoute
  private readonly upstream: Upstream | null
  private readonly requestHeaders: (request: FastifyRequest) => HeaderMap
  private readonly tunnels: WebSocketTunnels

  constructor (options: WebSocketProxyOptions) {
    this.route = options.route
    this.upstream = options.upstream
    this.requestHeaders = options.requestHeaders
    this.tunnels = options.tunnels
  }

  /** upstream_peer for an upgrade request whose checks have passed. */
  handle (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext, pending: PendingUpgrade): void {
    const problem = handshakeProblem(request)
    if (problem !== null) {
      this.fail(reply, ctx, new BadRequest(problem) as GatewayError)
      return
    }
    const client = new WaitingClient(pending)
    const route = this.route
    ctx.upstreamPath = route.rewritePath(ctx.match)
    if (route.rewriteQuery !== null) ctx.upstreamQuery = route.rewriteQuery(ctx.match.query)
    if (this.upstream === null) {
      let address
      try {
        address = parseHostPort(request.headers.host ?? '', 80)
      } catch {
        client.release()
        this.fail(reply, ctx, new BadRequest('a transparent route needs a valid Host header') as GatewayError)
        return
      }
      const id = formatHostPort(address.host, address.port)
      this.connect(request, reply, ctx, client, new Target({ address: { kind: 'tcp', host: address.host, port: address.port, id }, weight: 1, backup: false }))
      return
    }
    ctx.candidates = this.upstream.pick(ctx)
    this.tryNext(request, reply, ctx, client)
  }

  private tryNext (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext, client: WaitingClient): void {
    const next = (ctx.candidates as Iterator<Target>).next()
    if (next.done === true) {
      client.release()
      this.fail(reply, ctx, noAvailableTarget((this.upstream as Upstream).name))
      return
    }
    this.connect(request, reply, ctx, client, next.value)
  }

  private connect (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext, client: WaitingClient, target: Target): void {
    if (ctx.tries++ === 0) ctx.upstreamStartedAt = performance.now()
    ctx.target = target
    const headers = this.requestHeaders(request)
    headers.connection = 'Upgrade'
    headers.upgrade = 'websocket'
    const path = ctx.upstreamQuery === '' ? ctx.upstreamPath : `${ctx.upstreamPath}?${ctx.upstreamQuery}`
    const upstreamRequest = this.open(target, path, headers as OutgoingHttpHeaders)
    const handshake: Handshake = { target, request: upstreamRequest, startedAt: performance.now(), connected: false, settled: false, timer: null }
    target.inflight++
    const { connectMs, responseMs } = this.route.timeouts
    // Our own deadlines: Node's request has none for connecting or for the answer.
    handshake.timer = setTimeout(() => this.failed(request, reply, ctx, client, handshake, new Error('connect timeout'), 'connect-timeout'), connectMs)
    upstreamRequest.once('socket', (socket: Socket) => {
      const connected = (): void => {
        if (handshake.settled) return
        handshake.connected = true
        if (handshake.timer !== null) clearTimeout(handshake.timer)
        handshake.timer = setTimeout(() => this.failed(request, reply, ctx, client, handshake, new Error('no answer to the upgrade'), 'response-timeout'), responseMs)
      }
      socket.once(this.upstream?.config.tls != null ? 'secureConnect' : 'connect', connected)
    })
    upstreamRequest.on('error', (err) => this.failed(request, reply, ctx, client, handshake, err, null))
    upstreamRequest.once('upgrade', (response: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!this.settle(handshake, 101, null)) {
        socket.destroy()
        return
      }
      this.relayUpgrade(reply, ctx, client, response, socket, head)
    })
    upstreamRequest.once('response', (response: IncomingMessage) => {
      if (!this.settle(handshake, response.statusCode ?? 0, null)) {
        response.destroy()
        return
      }
      client.release()
      this.relayRefusal(reply, response)
    })
    // The client left during the handshake: nobody to tunnel to.
    client.whenGone(() => {
      if (this.settle(handshake, 0, new Error('client closed'))) upstreamRequest.destroy()
    })
    upstreamRequest.end()
  }

  /** The request towards `target`: plain or TLS with the upstream's settings, no pooling. */
  private open (target: Target, path: string, headers: OutgoingHttpHeaders): ClientRequest {
    const address = target.address
    const where = address.kind === 'unix' ? { socketPath: address.socketPath } : { host: address.host, port: address.port }
    const common = { ...where, method: 'GET', path, headers, agent: false, setHost: false }
    const upstream = this.upstream?.config ?? null
    const tls = upstream?.tls ?? null
    if (upstream === null || tls === null) return httpRequest(common)
    const servername = sniOf(address, upstream as CompiledUpstream)
    return httpsRequest({
      ...common,
      rejectUnauthorized: tls.verify,
      ...(tls.ca !== null ? { ca: tls.ca } : {}),
      ...(tls.cert !== null ? { cert: tls.cert } : {}),
      ...(tls.key !== null ? { key: tls.key } : {}),
      ...(servername !== null ? { servername } : {})
    })
  }

  /**
   * Ends the handshake phase once: the target's in-flight count and the attempt's outcome
   * (passive health, metrics). False when it had ended already.
   */
  private settle (handshake: Handshake, statusCode: number, failure: Error | null): boolean {
    if (handshake.settled) return false
    handshake.settled = true
    if (handshake.timer !== null) clearTimeout(handshake.timer)
    const target = handshake.target
    // An accepted upgrade stays in flight for as long as its tunnel is open, so that
    // least-connections counts open WebSockets (the tunnel gives it back).
    if (statusCode !== 101) target.inflight--
    target.outcomes?.attemptEnded(statusCode, failure)
    target.series?.attemptEnded(statusCode, failure, (performance.now() - handshake.startedAt) / 1000)
    return true
  }

  /** fail_to_connect: the next target when the policy allows and nothing was answered yet; else fail_to_proxy. */
  private failed (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext, client: WaitingClient, handshake: Handshake, err: Error, known: FailureKind | null): void {
    if (!this.settle(handshake, 0, err)) return
    handshake.request.destroy()
    if (client.socket.destroyed) return
    const kind = known ?? classifyFailure(err)
    handshake.target.lastError = err.message
    const retries = this.route.retries
    if (!handshake.connected && (kind === 'connect' || kind === 'connect-timeout') && retries.onConnectError && this.upstream !== null && ctx.tries <= retries.attempts) {
      this.tryNext(request, reply, ctx, client)
      return
    }
    client.release()
    this.fail(reply, ctx, toGatewayError(err, kind, {
      upstream: this.upstream?.name ?? handshake.target.id,
      target: handshake.target.id,
      connectMs: this.route.timeouts.connectMs,
      responseMs: this.route.timeouts.responseMs
    }))
  }

  /** The upstream accepted: its 101 goes to the client, then the bytes flow. */
  private relayUpgrade (reply: FastifyReply, ctx: RequestContext, waiting: WaitingClient, response: IncomingMessage, upstreamSocket: Duplex, upstreamHead: Buffer): void {
    const client = waiting.socket
    const early = waiting.release()
    const target = ctx.target as Target
    // Node's client lets go of the socket with the 101: until the tunnel has it, a reset
    // must not go unhandled.
    upstreamSocket.on('error', () => upstreamSocket.destroy())
    let tunnelled = false
    // The client may still vanish before the 101 is written: its upstream goes with it.
    const abandon = (): void => {
      if (tunnelled) return
      tunnelled = true
      upstreamSocket.destroy()
      target.inflight--
    }
    if (client.destroyed) {
      abandon()
      return
    }
    client.once('close', abandon)
    const headers: HeaderMap = {}
    // The reply's own headers first (x-request-id, ratelimit-*), then the upstream's.
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value as string | string[]
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined && !NOT_ON_101.has(name)) headers[name] = value
    }
    this.route.responseHeaders?.apply(headers)
    if (this.upstream !== null && ctx.target !== null) this.upstream.onResponse(ctx, ctx.target, (name, value) => appendHeader(headers, name, value))
    headers.connection = 'Upgrade'
    headers.upgrade = 'websocket'
    reply.hijack()
    const res = reply.raw
    waiting.pending.takenOver = true
    res.once('finish', () => {
      client.off('close', abandon)
      if (tunnelled || client.destroyed) {
        abandon()
        return
      }
      tunnelled = true
      res.detachSocket(client as Socket)
      // The concurrency slot is held for the tunnel's life, not the handshake's.
      const release = ctx.onClose
      ctx.onClose = null
      // The app version is done with this request: a reload need not wait for the tunnel.
      res.emit('close')
      const tunnel = new WebSocketTunnel(client, upstreamSocket, this.route.timeouts.idleMs)
      void tunnel.ended.then(() => {
        target.inflight--
        release?.()
      })
      this.tunnels.add(tunnel)
      tunnel.start(early, upstreamHead)
    })
    res.writeHead(101, headers as OutgoingHttpHeaders)
    res.end()
  }

  /** The upstream answered the upgrade with a plain response: the client gets it as it is. */
  private relayRefusal (reply: FastifyReply, response: IncomingMessage): void {
    const headers = withoutHopByHop(response.headers as HeaderMap)
    this.route.responseHeaders?.apply(headers)
    // A body that stalls is cut like any response body that stalls.
    response.socket.setTimeout(this.route.timeouts.responseMs, () => response.destroy())
    reply.code(response.statusCode ?? 502).headers(headers).send(response)
  }

  private fail (reply: FastifyReply, ctx: RequestContext, error: GatewayError): void {
    ctx.error = error
    reply.send(error)
  }
}

/** What makes an upgrade request one no WebSocket server may accept (RFC 6455 §4.2.1), or null. */
function handshakeProblem (request: FastifyRequest): string | null {
  if (request.method !== 'GET') return 'a WebSocket upgrade must be a GET request'
  if (request.headers['sec-websocket-version'] !== '13') return 'Sec-WebSocket-Version must be 13'
  const key = request.headers['sec-websocket-key']
  if (typeof key !== 'string' || !WEBSOCKET_KEY.test(key)) return 'Sec-WebSocket-Key must be 16 bytes in base64'
  return null
}

function appendHeader (headers: HeaderMap, name: string, value: string): void {
  const existing = headers[name]
  if (existing === undefined) headers[name] = value
  else if (Array.isArray(existing)) existing.push(value)
  else headers[name] = [String(existing), value]
}
