/**
 * The listeners' response classes, one per protocol: each reports its own 'close' to
 * whoever the gateway named, which counts in-flight requests per app version and cancels
 * the upstream exchange when a client leaves early, without adding an event listener (and
 * its closures) per request.
 */
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http'
import { Http2ServerResponse } from 'node:http2'
import type { RouteSeries } from '../metrics/route-series.js'

/** What the gateway keeps on a response, whatever its protocol. */
interface Tracked {
  onClose: ((res: GatewayResponse) => void) | null
  /** Opaque to the listener: the gateway's bookkeeping for this response. */
  owner: unknown
  /** The route series this request counts in, when metrics are on; else null. */
  measured: RouteSeries | null
  /** performance.now() when the request reached the gateway (metrics on only). */
  startedAt: number
  /**
   * The contract's error code it answered with, for the access log: also for requests that
   * never had a route (404) or were refused before one was chosen.
   */
  errorCode: string | null
}

export class Http1GatewayResponse extends ServerResponse<IncomingMessage> implements Tracked {
  onClose: ((res: GatewayResponse) => void) | null = null
  owner: unknown = null
  measured: RouteSeries | null = null
  startedAt = 0
  errorCode: string | null = null

  override emit (event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'close' && this.onClose !== null) this.onClose(this)
    return super.emit(event, ...args)
  }
}

/**
 * HTTP/2 forbids connection-specific header fields (RFC 9113 §8.2.2), and Node throws on
 * them. The gateway and the user's hooks write HTTP/1.1 habits (`connection: close` on an
 * error, an upstream's `keep-alive`…): on h2 they mean nothing and are left out here, the
 * one place every response header passes, rather than at each writer.
 */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'te'
])

function allowedOnH2 (name: string): boolean {
  return !CONNECTION_SPECIFIC.has(name.toLowerCase())
}

export class Http2GatewayResponse extends Http2ServerResponse implements Tracked {
  onClose: ((res: GatewayResponse) => void) | null = null
  owner: unknown = null
  measured: RouteSeries | null = null
  startedAt = 0
  errorCode: string | null = null

  override emit (event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'close' && this.onClose !== null) this.onClose(this)
    return super.emit(event, ...args)
  }

  override setHeader (name: string, value: number | string | readonly string[]): this {
    if (allowedOnH2(name)) super.setHeader(name, value)
    return this
  }

  override appendHeader (name: string, value: string | string[]): this {
    if (allowedOnH2(name)) super.appendHeader(name, value)
    return this
  }

  override writeHead (statusCode: number, headers?: OutgoingHttpHeaders | readonly OutgoingHttpHeader[]): this
  override writeHead (statusCode: number, statusMessage: string, headers?: OutgoingHttpHeaders | readonly OutgoingHttpHeader[]): this
  override writeHead (statusCode: number, messageOrHeaders?: string | OutgoingHttpHeaders | readonly OutgoingHttpHeader[], maybeHeaders?: OutgoingHttpHeaders | readonly OutgoingHttpHeader[]): this {
    // HTTP/2 has no reason phrase: Node only warns about one, and there is nothing to send.
    const headers = typeof messageOrHeaders === 'string' ? maybeHeaders : messageOrHeaders
    return headers === undefined ? super.writeHead(statusCode) : super.writeHead(statusCode, withoutConnectionHeaders(headers) as OutgoingHttpHeaders)
  }
}

/**
 * `destroyed`, as an HTTP/1.1 response has it: true once the stream was reset or has
 * closed. Node's compatibility response has no such property (its types say it has), and
 * every check of `res.destroyed` would read `undefined`: a response to a client that left
 * would be written to, and waited on, as if the client were still there.
 */
Object.defineProperty(Http2GatewayResponse.prototype, 'destroyed', {
  get (this: Http2ServerResponse): boolean {
    const stream = this.stream as Http2ServerResponse['stream'] | undefined
    return stream === undefined || stream.destroyed
  }
})

/** `headers` (flat list or object) without connection-specific fields; the same object when it has none. */
function withoutConnectionHeaders (headers: OutgoingHttpHeaders | readonly OutgoingHttpHeader[]): OutgoingHttpHeaders | OutgoingHttpHeader[] {
  if (isFlatList(headers)) {
    let clean = true
    for (let i = 0; i < headers.length; i += 2) if (!allowedOnH2(String(headers[i]))) { clean = false; break }
    if (clean) return headers as OutgoingHttpHeader[]
    const kept: OutgoingHttpHeader[] = []
    for (let i = 0; i < headers.length; i += 2) {
      if (allowedOnH2(String(headers[i]))) kept.push(headers[i] as OutgoingHttpHeader, headers[i + 1] as OutgoingHttpHeader)
    }
    return kept
  }
  let out: OutgoingHttpHeaders | null = null
  for (const name in headers) {
    if (allowedOnH2(name)) continue
    out ??= { ...headers }
    delete out[name]
  }
  return out ?? headers
}

function isFlatList (headers: OutgoingHttpHeaders | readonly OutgoingHttpHeader[]): headers is readonly OutgoingHttpHeader[] {
  return Array.isArray(headers)
}

/** A response of one of the gateway's listeners. */
export type GatewayResponse = Http1GatewayResponse | Http2GatewayResponse
