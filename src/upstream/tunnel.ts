/**
 * A CONNECT tunnel through an HTTP forward proxy (RFC 9110 §9.3.6): a TCP connection to
 * the proxy, `CONNECT host:port`, and once it answers 2xx, the same socket carries bytes to
 * the target. TLS to the target (when the upstream has it) runs inside the tunnel, so the
 * proxy sees the target's address and nothing else.
 *
 * The proxy is not trusted to behave: its answer head is bounded, must be HTTP/1.x, and a
 * proxy that sends bytes of its own after its 2xx (before the gateway sent anything) is
 * refused, since those bytes would be read as the target's answer to a request not yet
 * made.
 */
import { connect, type Socket } from 'node:net'
import { errors as undiciErrors } from 'undici'
import { formatHostPort } from '../net/address.js'
import { formatDuration } from '../config/units.js'
import type { CompiledProxy } from './forward-proxy.js'

/** The longest answer head accepted from a proxy: more than any real proxy sends. */
export const MAX_PROXY_HEAD_BYTES = 16 * 1024

/** The proxy refused, failed or broke the tunnel: a connect error, as far as retries and health go. */
export class ProxyTunnelError extends Error {
  readonly code = 'TOLLGATE_PROXY_TUNNEL'
  /** The proxy's status, when it answered with one. */
  readonly statusCode: number | null
  constructor (message: string, statusCode: number | null = null) {
    super(message)
    this.statusCode = statusCode
  }
}

export interface TunnelTarget {
  readonly host: string
  readonly port: number
}

const HEAD_END = Buffer.from('\r\n\r\n')
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/
/** What a CONNECT authority may hold: a host name, an IPv4 or a bracketed IPv6 address, a port. */
const AUTHORITY = /^[A-Za-z0-9.\-_[\]:]+$/

/**
 * Opens a tunnel to `target` through `proxy`. `done` is called once: with the socket, now
 * a plain byte pipe to the target (paused, nothing read from it yet), or with the error.
 * The returned socket is the connection to the proxy: destroying it gives up.
 */
export function openTunnel (proxy: CompiledProxy, target: TunnelTarget, timeoutMs: number, done: (err: Error | null, socket: Socket | null) => void): Socket {
  const authority = formatHostPort(target.host, target.port)
  const socket = connect({ host: proxy.host, port: proxy.port })
  let settled = false
  let head: Buffer = Buffer.alloc(0)
  const finish = (err: Error | null): void => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    socket.off('data', onData)
    socket.off('error', onError)
    socket.off('close', onClose)
    if (err !== null) {
      socket.destroy()
      done(err, null)
      return
    }
    socket.pause()
    done(null, socket)
  }
  const onError = (err: Error): void => {
    finish(new ProxyTunnelError(`proxy ${proxy.id}: ${err.message}`))
  }
  const onClose = (): void => finish(new ProxyTunnelError(`proxy ${proxy.id} closed the connection before answering CONNECT ${authority}`))
  const onData = (chunk: Buffer): void => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk])
    const end = head.indexOf(HEAD_END)
    if (end < 0) {
      if (head.length > MAX_PROXY_HEAD_BYTES) finish(new ProxyTunnelError(`proxy ${proxy.id} sent an answer head over ${MAX_PROXY_HEAD_BYTES} bytes`))
      return
    }
    if (end + HEAD_END.length > MAX_PROXY_HEAD_BYTES) {
      finish(new ProxyTunnelError(`proxy ${proxy.id} sent an answer head over ${MAX_PROXY_HEAD_BYTES} bytes`))
      return
    }
    const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1')
    const match = STATUS_LINE.exec(statusLine)
    if (match === null) {
      finish(new ProxyTunnelError(`proxy ${proxy.id} answered CONNECT ${authority} with something that is not HTTP`))
      return
    }
    const status = Number(match[1])
    if (status < 200 || status > 299) {
      finish(new ProxyTunnelError(`proxy ${proxy.id} answered ${status} to CONNECT ${authority}`, status))
      return
    }
    if (head.length > end + HEAD_END.length) {
      finish(new ProxyTunnelError(`proxy ${proxy.id} sent data through the tunnel to ${authority} before any was asked for`))
      return
    }
    finish(null)
  }
  // Set before anything can fail, so that `finish` can always clear it.
  const timer = setTimeout(() => {
    finish(new undiciErrors.ConnectTimeoutError(`no tunnel through proxy ${proxy.id} to ${authority} within ${formatDuration(timeoutMs)}`))
  }, timeoutMs)
  socket.on('data', onData)
  socket.on('error', onError)
  socket.on('close', onClose)
  if (!AUTHORITY.test(authority)) {
    // Targets are checked when configured or discovered; this keeps a bad one from ever
    // writing its own lines into the request to the proxy.
    queueMicrotask(() => finish(new ProxyTunnelError(`target ${JSON.stringify(authority)} cannot be named in a CONNECT request`)))
    return socket
  }
  socket.setNoDelay(true)
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n` +
    (proxy.authorization === null ? '' : `Proxy-Authorization: ${proxy.authorization}\r\n`) +
    '\r\n')
  return socket
}
