/**
 * A socket the gateway listens on (`server.listen[]`): an http or https server created
 * once and kept across reloads (a reload with the same host and port keeps the socket and
 * its keep-alive connections). It calls whatever request handler the gateway currently
 * points it at. Malformed requests never reach Fastify: Node's parser refuses them here,
 * and they get the contract's JSON error.
 */
import { createServer as createHttpServer, ServerResponse, type IncomingMessage, type Server as HttpServer, type ServerOptions } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { randomUUID } from 'node:crypto'
import type { Duplex } from 'node:stream'
import type { AddressInfo } from 'node:net'
import type { CompiledLimits, CompiledListener } from '../config/compile.js'
import type { RequestHandler } from '../app.js'
import { buildCertificateSelector, type CertificateSelector } from './tls.js'
import { checkRequestHead, declaresBody, upgradeRequested, UPGRADE_REFUSED, UPGRADE_WITH_BODY, type HeadProblem } from './request-head.js'
import { markUpgrade, type PendingUpgrade } from '../websocket/upgrade.js'
import type { RouteSeries } from '../metrics/route-series.js'

/**
 * The listeners' response class: it reports its own 'close' to whoever the gateway named,
 * which counts in-flight requests per app version and cancels the upstream exchange when a
 * client leaves early, without adding an event listener (and its closures) per request.
 */
export class GatewayResponse extends ServerResponse<IncomingMessage> {
  onClose: ((res: GatewayResponse) => void) | null = null
  /** Opaque to the listener: the gateway's bookkeeping for this response. */
  owner: unknown = null
  /** The route series this request counts in, when metrics are on; else null. */
  measured: RouteSeries | null = null
  /** performance.now() when the request reached the gateway (metrics on only). */
  startedAt = 0
  /**
   * The contract's error code it answered with, for the access log: also for requests that
   * never had a route (404) or were refused before one was chosen.
   */
  errorCode: string | null = null

  override emit (event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'close' && this.onClose !== null) this.onClose(this)
    return super.emit(event, ...args)
  }
}

/** How often a draining listener closes the connections whose responses have finished. */
const DRAIN_SWEEP_MS = 100

/** Longer than the usual 60 s idle timeout of load balancers in front of a gateway. */
const DOWNSTREAM_KEEP_ALIVE_MS = 65_000


export class Listener {
  readonly spec: CompiledListener
  readonly server: HttpServer
  private certificates: CertificateSelector | null
  private maxHeaders: number
  private readonly handler: RequestHandler
  private accepted = 0

  constructor (spec: CompiledListener, limits: CompiledLimits, handler: RequestHandler) {
    this.spec = spec
    this.handler = handler
    this.maxHeaders = limits.maxHeaders
    const options: ServerOptions = {
      ServerResponse: GatewayResponse as unknown as typeof ServerResponse,
      maxHeaderSize: limits.maxHeaderSize,
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: DOWNSTREAM_KEEP_ALIVE_MS,
      // How often Node checks header and request deadlines, for connections that never
      // sent a byte too; its default (30 s) would let a slow or silent client hold a socket
      // long past `headersTimeout`.
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(limits.headersTimeoutMs / 4))),
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
      this.server = createHttpsServer({
        ...options,
        ...(first !== undefined ? { cert: first.cert, key: first.key } : {}),
        // A client that connects and never completes the handshake is cut like a silent one.
        handshakeTimeout: limits.headersTimeoutMs,
        SNICallback: (servername, callback) => callback(null, selector().select(servername))
      }, this.onRequest) as unknown as HttpServer
      this.server.on('secureConnection', this.countConnection)
    }
    this.server.maxConnections = limits.maxConnections
    this.server.maxHeadersCount = limits.maxHeaders + 1
    // Node answers `Expect: 100-continue` itself unless someone listens: the route proxy
    // sends the 100 once the route's checks have passed.
    this.server.on('checkContinue', this.onRequest)
    this.server.on('upgrade', this.onUpgrade)
    this.server.on('clientError', onClientError)
  }

  private readonly countConnection = (): void => {
    this.accepted++
  }

  /** Every request: head checks the parser does not make, then the current app. */
  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
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
    const res = new GatewayResponse(req)
    // The socket is the server's no more: the response closes it once written, unless a
    // tunnel took it over.
    res.shouldKeepAlive = false
    res.assignSocket(socket as import('node:net').Socket)
    const pending: PendingUpgrade = { socket, head, takenOver: false }
    res.once('finish', () => { if (!pending.takenOver) socket.end() })
    // The listener's sockets allow half-open connections: a client that never closes its
    // side would hold the socket open after our answer.
    socket.once('finish', () => { if (!pending.takenOver) socket.destroy() })
    socket.on('error', () => socket.destroy())
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

  async listen (): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.spec.port, this.spec.host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
  }

  /** True when `spec` names this socket: same key, or same host and TLS-ness on the port it is bound to. */
  serves (spec: CompiledListener): boolean {
    if (spec.key === this.spec.key) return true
    return spec.host === this.spec.host && (spec.tls === null) === (this.spec.tls === null) && spec.port === this.address().port
  }

  /** Applies a reload's settings that can change on a live socket. */
  update (spec: CompiledListener, limits: CompiledLimits): void {
    this.maxHeaders = limits.maxHeaders
    this.server.maxConnections = limits.maxConnections
    this.server.maxHeadersCount = limits.maxHeaders + 1
    this.server.headersTimeout = limits.headersTimeoutMs
    this.server.requestTimeout = limits.requestTimeoutMs
    ;(this.server as { maxHeaderSize?: number }).maxHeaderSize = limits.maxHeaderSize
    if (spec.tls !== null) this.certificates = buildCertificateSelector(spec.tls.certs)
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
    // connection closes.
    this.server.prependListener('request', (_req, res) => { res.setHeader('connection', 'close') })
    this.server.closeIdleConnections()
    // Node closes idle connections only when asked: ask again while responses finish.
    const sweep = setInterval(() => this.server.closeIdleConnections(), DRAIN_SWEEP_MS)
    const deadline = setTimeout(() => this.server.closeAllConnections(), graceMs)
    await closed
    clearInterval(sweep)
    clearTimeout(deadline)
  }

  /** Drops every connection now. */
  destroy (): void {
    this.server.close()
    this.server.closeAllConnections()
  }
}

const REASONS: Readonly<Record<number, string>> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }

/** A request refused before routing: the contract's JSON error, and the connection closed. */
function refuse (res: ServerResponse, problem: HeadProblem): void {
  const requestId = randomUUID()
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
  const body = JSON.stringify({ error: { status, code: 'BAD_REQUEST', message, requestId: null } })
  socket.end(`HTTP/1.1 ${status} ${REASONS[status] ?? 'Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
  // The listener's sockets allow half-open connections: after end() the socket would stay
  // open until the client closes its side, which a hostile client never does.
  socket.once('finish', () => socket.destroy())
}
