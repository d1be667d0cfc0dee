/**
 * A socket the gateway listens on (`server.listen[]`): an http, https or (`http2: true`)
 * HTTP/2-with-HTTP/1.1 secure server, created once and kept across reloads (a reload with the same host and port keeps the socket and
 * its keep-alive connections). It calls whatever request handler the gateway currently
 * points it at. Malformed requests never reach Fastify: Node's parser refuses them here,
 * and they get the contract's JSON error.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerOptions, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest } from 'node:http2'
import { randomUUID } from 'node:crypto'
import type { Duplex } from 'node:stream'
import type { AddressInfo, Socket } from 'node:net'
import type { CompiledLimits, CompiledListener } from '../config/compile.js'
import type { RequestHandler } from '../app.js'
import { buildCertificateSelector, TLS_MIN_VERSION, type CertificateSelector } from './tls.js'
import { checkH2RequestHead, checkRequestHead, CONNECT_REFUSED, declaresBody, upgradeRequested, UPGRADE_REFUSED, UPGRADE_WITH_BODY, type HeadProblem } from './request-head.js'
import { Http1GatewayResponse, Http2GatewayResponse } from './gateway-response.js'
import { H2Sessions } from './h2-sessions.js'
import { requestIdOf } from './request-id.js'
import { markUpgrade, type PendingUpgrade } from '../websocket/upgrade.js'

export type { GatewayResponse } from './gateway-response.js'

/** How often a draining listener closes the connections whose responses have finished. */
const DRAIN_SWEEP_MS = 100

/** Longer than the usual 60 s idle timeout of load balancers in front of a gateway. */
const DOWNSTREAM_KEEP_ALIVE_MS = 65_000


export class Listener {
  readonly spec: CompiledListener
  /** The socket's server; an `http2: true` listener's is an Http2SecureServer with HTTP/1.1 fallback. */
  private readonly server: HttpServer
  /** The HTTP/2 sessions, on an `http2: true` listener; else null. */
  private readonly h2: H2Sessions | null = null
  private certificates: CertificateSelector | null
  private maxHeaders: number
  private maxHeaderSize: number
  private requestTimeoutMs: number
  private readonly handler: RequestHandler
  private accepted = 0

  constructor (spec: CompiledListener, limits: CompiledLimits, handler: RequestHandler) {
    this.spec = spec
    this.handler = handler
    this.maxHeaders = limits.maxHeaders
    this.maxHeaderSize = limits.maxHeaderSize
    this.requestTimeoutMs = limits.requestTimeoutMs
    const options: ServerOptions = {
      ServerResponse: Http1GatewayResponse as unknown as typeof ServerResponse,
      maxHeaderSize: limits.maxHeaderSize,
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: DOWNSTREAM_KEEP_ALIVE_MS,
      // How often Node checks header and request deadlines, for connections that never
      // sent a byte too; its default (30 s) would let a slow or silent client hold a socket
      // long past `headersTimeout`.
      connectionsCheckingInterval: checkingInterval(limits),
      // A request without Host gets the contract's JSON 400 from checkRequestHead.
      requireHostHeader: false
    }
    if (spec.tls === null) {
      this.certificates = null
      this.server = createHttpServer(options, this.onRequest)
      this.server.on('connection', this.countConnection)
    } else {
      this.certificates = buildCertificateSelector(spec.tls.certs)
      const selector = (): CertificateSelector => this.certificates as CertificateSelector
      const first = spec.tls.certs[0]
      const tlsOptions = {
        ...(first !== undefined ? { cert: first.cert, key: first.key } : {}),
        minVersion: TLS_MIN_VERSION,
        // A client that connects and never completes the handshake is cut like a silent one.
        handshakeTimeout: limits.headersTimeoutMs,
        SNICallback: (servername: string, callback: (err: Error | null, context: ReturnType<CertificateSelector['select']>) => void) => callback(null, selector().select(servername))
      }
      if (spec.http2) {
        // The compat request and response stand in for IncomingMessage and ServerResponse
        // everywhere the gateway reads them; what differs is handled in the response class
        // and in checkH2RequestHead.
        const server = createSecureServer({
          ...tlsOptions,
          allowHTTP1: true,
          Http1ServerResponse: Http1GatewayResponse as unknown as typeof ServerResponse,
          Http2ServerResponse: Http2GatewayResponse,
          settings: h2Settings(limits),
          // Pseudo-header fields count too; one more than allowed lets checkH2RequestHead
          // see the excess and answer 431 rather than Node resetting the stream.
          maxHeaderListPairs: limits.maxHeaders + 1 + H2_PSEUDO_HEADERS
        }, this.onRequest as unknown as (req: Http2ServerRequest, res: Http2GatewayResponse) => void)
        this.h2 = new H2Sessions(server as unknown as Http2SecureServer, limits.headersTimeoutMs, DOWNSTREAM_KEEP_ALIVE_MS)
        this.server = server as unknown as HttpServer
        // Node's HTTP/1.1 code serves the fallback connections and reads these off the server.
        Object.assign(this.server, http1Settings(limits), { keepAliveTimeout: DOWNSTREAM_KEEP_ALIVE_MS, connectionsCheckingInterval: checkingInterval(limits), requireHostHeader: false })
      } else {
        this.server = createHttpsServer({ ...options, ...tlsOptions }, this.onRequest) as unknown as HttpServer
      }
      this.server.on('secureConnection', this.countConnection)
    }
    this.server.maxConnections = limits.maxConnections
    this.server.maxHeadersCount = limits.maxHeaders + 1
    // Node answers `Expect: 100-continue` itself unless someone listens: the route proxy
    // sends the 100 once the route's checks have passed.
    this.server.on('checkContinue', this.onRequest)
    this.server.on('upgrade', this.onUpgrade)
    this.server.on('connect', this.onConnect)
    this.server.on('clientError', onClientError)
  }

  private readonly countConnection = (socket: Socket): void => {
    this.accepted++
    // Asked once now, Node keeps the peer's address on the socket: a request whose client
    // has left can still name it (the access log's 499 line). Unasked, it is gone with the
    // connection.
    void socket.remoteAddress
  }

  /** Every request: head checks the parser does not make, then the current app. */
  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.httpVersionMajor === 2) {
      this.onH2Request(req, res)
      return
    }
    const problem = checkRequestHead(req, this.maxHeaders)
    if (problem !== null) {
      refuse(res, problem)
      return
    }
    if (req.headers.upgrade !== undefined) {
      const upgrade = upgradeRequested(req)
      // A WebSocket request here was not handed over as an upgrade: no socket to take.
      if (upgrade === 'refused' || upgrade === 'websocket') {
        refuse(res, UPGRADE_REFUSED)
        return
      }
      if (upgrade === 'optional') res.shouldKeepAlive = false
    }
    this.handler(req, res)
  }

  /**
   * The server-wide upgrade dispatcher: Node hands over the socket instead of a response.
   * The request still goes through the current app, on a response written to that socket,
   * so that a WebSocket request meets its route's checks (and gets their JSON errors) like
   * any other; the route's handler takes the socket over once they pass. An `h2c` upgrade
   * is served as plain HTTP/1.1.
   */
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const pending: PendingUpgrade = { socket, head, takenOver: false }
    const res = responseOnSocket(req, socket, pending)
    const problem = checkRequestHead(req, this.maxHeaders)
    if (problem !== null) {
      refuse(res, problem)
      return
    }
    const upgrade = upgradeRequested(req)
    if (upgrade === 'refused' || upgrade === 'none') {
      refuse(res, UPGRADE_REFUSED)
      return
    }
    if (declaresBody(req)) {
      refuse(res, UPGRADE_WITH_BODY)
      return
    }
    if (upgrade === 'websocket') markUpgrade(req, pending)
    this.handler(req, res)
  }

  /**
   * A CONNECT request: the gateway tunnels for nobody. Without a listener Node would close
   * an HTTP/1.1 connection without a word, and answer an HTTP/2 CONNECT stream with a bare
   * 405. Over HTTP/1.1 the second argument is the socket, over HTTP/2 the stream's response.
   */
  private readonly onConnect = (req: IncomingMessage, socketOrResponse: Duplex | ServerResponse): void => {
    const res = req.httpVersionMajor === 2
      ? socketOrResponse as ServerResponse
      : responseOnSocket(req, socketOrResponse as Duplex, { takenOver: false })
    refuse(res, CONNECT_REFUSED)
  }

  private onH2Request (req: IncomingMessage, res: ServerResponse): void {
    const problem = checkH2RequestHead(req, this.maxHeaders, this.maxHeaderSize)
    if (problem !== null) {
      refuse(res, problem)
      return
    }
    // Node's request deadline covers HTTP/1.1 only: a stream whose body never ends would
    // hold its upstream exchange open. Most requests end with their headers (no timer).
    if (!req.complete && this.requestTimeoutMs > 0) requestDeadline(req, res, this.requestTimeoutMs)
    this.handler(req, res)
  }

  async listen (): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.spec.port, this.spec.host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
  }

  /** True when `spec` names this socket: same key, or same host, TLS-ness and http2 on the port it is bound to. */
  serves (spec: CompiledListener): boolean {
    if (spec.key === this.spec.key) return true
    return spec.host === this.spec.host && (spec.tls === null) === (this.spec.tls === null) && spec.http2 === this.spec.http2 && spec.port === this.address().port
  }

  /** Applies a reload's settings that can change on a live socket. */
  update (spec: CompiledListener, limits: CompiledLimits): void {
    this.maxHeaders = limits.maxHeaders
    this.server.maxConnections = limits.maxConnections
    this.server.maxHeadersCount = limits.maxHeaders + 1
    this.server.headersTimeout = limits.headersTimeoutMs
    this.server.requestTimeout = limits.requestTimeoutMs
    ;(this.server as { maxHeaderSize?: number }).maxHeaderSize = limits.maxHeaderSize
    this.requestTimeoutMs = limits.requestTimeoutMs
    this.maxHeaderSize = limits.maxHeaderSize
    if (this.h2 !== null) {
      this.h2.setFirstStreamTimeout(limits.headersTimeoutMs)
      ;(this.server as unknown as Http2SecureServer).updateSettings(h2Settings(limits))
    }
    if (spec.tls !== null) {
      this.certificates = buildCertificateSelector(spec.tls.certs)
      // Clients that send no SNI get the server's own context, which SNICallback never sees.
      const first = spec.tls.certs[0]
      if (first !== undefined) (this.server as unknown as { setSecureContext: (options: object) => void }).setSecureContext({ cert: first.cert, key: first.key, minVersion: TLS_MIN_VERSION })
    }
  }

  /** Client connections open on this socket now. */
  async openConnections (): Promise<number> {
    return await new Promise((resolve, reject) => this.server.getConnections((err, count) => { if (err !== null) reject(err); else resolve(count) }))
  }

  /** Client connections accepted on this socket since it opened. */
  get acceptedConnections (): number {
    return this.accepted
  }

  /** The bound address (the real port when the config asked for port 0). */
  address (): { host: string, port: number } {
    const info = this.server.address() as AddressInfo | null
    return { host: this.spec.host, port: info?.port ?? this.spec.port }
  }

  /**
   * Stops accepting and drains: idle keep-alive connections close now, busy ones as soon
   * as their response is done; whatever is still open after `graceMs` is cut.
   */
  async close (graceMs: number): Promise<void> {
    const closed = new Promise<void>(resolve => this.server.close(() => resolve()))
    // A request that still arrives on a kept-alive connection is served, then the
    // connection closes (an HTTP/2 session has been sent GOAWAY instead).
    this.server.prependListener('request', (req, res) => { if (req.httpVersionMajor === 1) res.setHeader('connection', 'close') })
    this.h2?.goAway()
    this.server.closeIdleConnections()
    // Node closes idle connections only when asked: ask again while responses finish.
    const sweep = setInterval(() => this.server.closeIdleConnections(), DRAIN_SWEEP_MS)
    const deadline = setTimeout(() => this.closeAllConnections(), graceMs)
    await closed
    clearInterval(sweep)
    clearTimeout(deadline)
  }

  /** Drops every connection now. */
  destroy (): void {
    this.server.close()
    this.closeAllConnections()
  }

  private closeAllConnections (): void {
    if (this.h2 !== null) this.h2.destroyAll()
    else this.server.closeAllConnections()
  }
}

/**
 * A response written straight to a socket Node handed over (an upgrade or a CONNECT): the
 * socket is the server's no more, so the response closes it once written, unless a tunnel
 * took it over.
 */
function responseOnSocket (req: IncomingMessage, socket: Duplex, tunnel: { takenOver: boolean }): Http1GatewayResponse {
  const res = new Http1GatewayResponse(req)
  res.shouldKeepAlive = false
  res.assignSocket(socket as import('node:net').Socket)
  res.once('finish', () => { if (!tunnel.takenOver) socket.end() })
  // The listener's sockets allow half-open connections: a client that never closes its
  // side would hold the socket open after our answer.
  socket.once('finish', () => { if (!tunnel.takenOver) socket.destroy() })
  socket.on('error', () => socket.destroy())
  return res
}

/** `:method`, `:scheme`, `:authority`, `:path`. */
const H2_PSEUDO_HEADERS = 4

function checkingInterval (limits: CompiledLimits): number {
  return Math.min(1000, Math.max(50, Math.floor(limits.headersTimeoutMs / 4)))
}

function http1Settings (limits: CompiledLimits): Record<string, number> {
  return { maxHeaderSize: limits.maxHeaderSize, headersTimeout: limits.headersTimeoutMs, requestTimeout: limits.requestTimeoutMs }
}

/**
 * What an h2 client is told it may send. Node allows 2^32-1 concurrent streams by
 * default: one connection could then open as many upstream exchanges as it likes, past
 * the per-connection bounds HTTP/1.1 has by nature.
 */
function h2Settings (limits: CompiledLimits): { maxConcurrentStreams: number, maxHeaderListSize: number } {
  return { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS, maxHeaderListSize: limits.maxHeaderSize }
}

/** nginx's `http2_max_concurrent_streams` default. */
const H2_MAX_CONCURRENT_STREAMS = 128

/** An h2 request whose body has not arrived in `ms`: 408 when nothing was answered yet, else the stream is reset. */
function requestDeadline (req: IncomingMessage, res: ServerResponse, ms: number): void {
  const timer = setTimeout(() => {
    if (req.complete) return
    if (!res.headersSent) refuse(res, { status: 408, message: 'the request was not received in time' })
    else res.destroy()
  }, ms)
  const clear = (): void => clearTimeout(timer)
  req.once('end', clear)
  res.once('close', clear)
}

const REASONS: Readonly<Record<number, string>> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }

/** A request refused before routing: the contract's JSON error, and the connection closed. */
function refuse (res: ServerResponse, problem: HeadProblem): void {
  const requestId = requestIdOf(res.req)
  const body = JSON.stringify({ error: { status: problem.status, code: 'BAD_REQUEST', message: problem.message, requestId } })
  res.shouldKeepAlive = false
  res.writeHead(problem.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-request-id': requestId
  })
  res.end(body)
}

/**
 * Node's HTTP parser refused a request (malformed request line, headers too large,
 * Content-Length with Transfer-Encoding, headers too slow). Answer with the contract's
 * JSON error and close: the connection's framing can no longer be trusted.
 */
function onClientError (err: Error & { code?: string }, socket: Duplex): void {
  // A TLS handshake that failed or timed out has no channel to answer on: an HTTP reply
  // would wait for a handshake that never comes, holding the connection open.
  if (err.code === 'ECONNRESET' || !socket.writable || isTlsFailure(err)) {
    socket.destroy()
    return
  }
  writeRawError(socket, err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400)
}

function isTlsFailure (err: Error & { code?: string }): boolean {
  return (err.code !== undefined && /^ERR_(TLS|SSL)_/.test(err.code)) || 'library' in err
}

/** The contract's JSON error written straight to a socket whose request never parsed. */
function writeRawError (socket: Duplex, status: number): void {
  const message = status === 431
    ? 'request headers are too large'
    : status === 408 ? 'the request was not received in time' : 'malformed request'
  // Nothing of the request can be trusted, its x-request-id included: a new one.
  const requestId = randomUUID()
  const body = JSON.stringify({ error: { status, code: 'BAD_REQUEST', message, requestId } })
  socket.end(`HTTP/1.1 ${status} ${REASONS[status] ?? 'Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`)
  // The listener's sockets allow half-open connections: after end() the socket would stay
  // open until the client closes its side, which a hostile client never does.
  socket.once('finish', () => socket.destroy())
}
