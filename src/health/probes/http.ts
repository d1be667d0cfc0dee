/**
 * `healthCheck.type: http`: a GET of `path` on a fresh connection (TLS with the
 * upstream's settings when it has `tls`), which passes when the status is expected and,
 * with `expectBody`, when the first MAX_BODY_BYTES of the body hold the substring or
 * match the regex. The timeout covers everything: connecting, the response head and the
 * body read, so a target that accepts connections and then never answers (a frozen
 * process: the kernel still accepts) fails by it.
 *
 * A fresh connection per check, closed after it, as nginx does: a pooled connection could
 * hide a target that no longer accepts new ones, and keeps nothing open between checks.
 * Behind a CONNECT proxy, that connection is a fresh tunnel, with TLS inside it as for
 * traffic: the check sees the target the way requests do.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2'
import { connect as netConnect, isIP, type Socket } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import type { Readable } from 'node:stream'
import type { CompiledUpstreamTls } from '../../config/compile.js'
import { bodyMatches, type BodyMatch } from '../body-match.js'
import type { Target } from '../../upstream/target.js'
import { formatDuration } from '../../config/units.js'
import { formatHostPort } from '../../net/address.js'
import { describeError, settleOnce, type Probe, type ProbeResult } from './probe.js'
import type { CompiledProxy } from '../../upstream/forward-proxy.js'
import { openTunnel } from '../../upstream/tunnel.js'

/** How much of a body is read for `expectBody`: enough for any status page, bounded. */
export const MAX_BODY_BYTES = 64 * 1024

const USER_AGENT = 'tollgate-health-check'

export interface HttpProbeOptions {
  readonly path: string
  /** The Host header; null: the TLS server name, else the target's address. */
  readonly host: string | null
  /** null: any 2xx or 3xx. */
  readonly expectStatus: readonly number[] | null
  readonly expectBody: BodyMatch | null
  readonly timeoutMs: number
  readonly tls: CompiledUpstreamTls | null
  /** The CONNECT proxy the target is reached through, or null (HTTP/1.1 checks only). */
  readonly proxy?: CompiledProxy | null
  /** h2 / h2c: the check is an HTTP/2 request, as the upstream's traffic is. Default http1. */
  readonly protocol?: 'http1' | 'h2' | 'h2c'
}

export class HttpProbe implements Probe {
  private readonly options: HttpProbeOptions
  private readonly expected: string

  constructor (options: HttpProbeOptions) {
    this.options = options
    this.expected = options.expectStatus === null ? '2xx or 3xx' : options.expectStatus.join(', ')
  }

  async run (target: Target, signal: AbortSignal): Promise<ProbeResult> {
    if ((this.options.protocol ?? 'http1') !== 'http1') return await this.runH2(target, signal)
    const { timeoutMs, tls } = this.options
    return await new Promise<ProbeResult>(resolve => {
      let req: ClientRequest | null = null
      let tunnel: Socket | null = null
      /** How far the exchange got, for the reason of a timeout. */
      let stage = 'no connection'
      const settle = settleOnce(resolve, signal, timeoutMs, () => `${stage} within ${formatDuration(timeoutMs)}`, () => {
        req?.destroy()
        tunnel?.destroy()
      })
      if (settle === null) return
      const proxy = this.options.proxy ?? null
      if (proxy !== null && target.address.kind === 'unix') {
        settle(false, 'a Unix socket target cannot be reached through a proxy')
        return
      }
      const connected = (): void => { stage = 'connected, but no response' }
      const options = this.requestOptions(target)
      if (proxy !== null && target.address.kind === 'tcp') {
        const address = target.address
        // Without an agent, http.request asks createConnection for its socket, and waits
        // for the callback when nothing is returned.
        const createConnection = (_options: unknown, created: (err: Error | null, socket: Socket | null) => void): undefined => {
          tunnel = openTunnel(proxy, address, timeoutMs, (err, socket) => {
            if (err !== null || socket === null) {
              created(err, null)
              return
            }
            if (tls === null) {
              connected()
              // The tunnel comes paused, and node:http's client only listens for 'data'.
              created(null, socket.resume())
              return
            }
            const secure = tlsConnect({ ...tlsOptionsOf(options), socket })
            secure.once('secureConnect', connected)
            created(null, secure)
          })
          return undefined
        }
        delete options.agent
        options.createConnection = createConnection as unknown as RequestOptions['createConnection']
      }
      try {
        req = (tls === null ? httpRequest : httpsRequest)(options)
      } catch (err) {
        settle(false, `request failed: ${describeError(err)}`)
        return
      }
      if (proxy === null) {
        req.on('socket', (socket: Socket) => {
          socket.once(tls === null ? 'connect' : 'secureConnect', connected)
        })
      }
      req.on('error', (err) => settle(false, `request failed: ${describeError(err)}`))
      req.on('response', (res: IncomingMessage) => {
        res.on('error', () => undefined)
        this.judge(res.statusCode ?? 0, res, settle, (next) => { stage = next })
      })
      req.end()
    })
  }

  /**
   * The same check over HTTP/2 (h2 with ALPN, or h2c by prior knowledge), on a session
   * opened for it and closed after it.
   */
  private async runH2 (target: Target, signal: AbortSignal): Promise<ProbeResult> {
    const { timeoutMs, tls, path } = this.options
    return await new Promise<ProbeResult>(resolve => {
      let session: ClientHttp2Session | null = null
      let stage = 'no connection'
      const settle = settleOnce(resolve, signal, timeoutMs, () => `${stage} within ${formatDuration(timeoutMs)}`, () => session?.destroy())
      if (settle === null) return
      const { host, servername, hostHeader } = this.names(target)
      const address = target.address
      const where = address.kind === 'unix' ? { path: address.socketPath } : { host: address.host, port: address.port }
      try {
        const socket = tls === null
          ? netConnect(where)
          : tlsConnect({
            ...where,
            ALPNProtocols: ['h2'],
            rejectUnauthorized: tls.verify,
            ...(servername === null ? {} : { servername }),
            ...(tls.ca !== null ? { ca: tls.ca } : {}),
            ...(tls.cert !== null ? { cert: tls.cert } : {}),
            ...(tls.key !== null ? { key: tls.key } : {})
          })
        session = http2Connect(`${tls === null ? 'http' : 'https'}://${host}`, { createConnection: () => socket })
      } catch (err) {
        settle(false, `request failed: ${describeError(err)}`)
        return
      }
      const current = session
      current.on('error', (err) => settle(false, `request failed: ${describeError(err)}`))
      current.once('connect', () => { stage = 'connected, but no response' })
      // Whatever the outcome, settling destroys the session (settleOnce's release).
      const done = settle
      const stream = current.request({ ':method': 'GET', ':path': path, ':authority': hostHeader, 'user-agent': USER_AGENT, accept: '*/*' }, { endStream: true })
      stream.on('error', (err) => done(false, `request failed: ${describeError(err)}`))
      stream.on('response', (headers) => {
        this.judge(Number(headers[':status']), stream, done, (next) => { stage = next })
      })
      stream.once('close', () => done(false, `request failed: the stream closed${stream.rstCode !== undefined && stream.rstCode !== 0 ? ` (reset, code ${stream.rstCode})` : ''}`))
    })
  }

  /** Passes or fails a response by its status and (with expectBody) its body. */
  private judge (status: number, body: Readable, settle: (healthy: boolean, reason: string) => void, stage: (text: string) => void): void {
    if (!this.statusPasses(status)) {
      settle(false, `answered ${status}, expected ${this.expected}`)
      return
    }
    const expectBody = this.options.expectBody
    if (expectBody === null) {
      settle(true, `answered ${status}`)
      return
    }
    stage(`answered ${status}, but the body did not end`)
    this.readBody(body, (text) => {
      if (bodyMatches(text, expectBody)) settle(true, `answered ${status} with the expected body`)
      else settle(false, `answered ${status}, but the body does not ${expectBody.kind === 'text' ? `contain ${JSON.stringify(expectBody.text)}` : `match ${String(expectBody.regex)}`}`)
    })
  }

  private statusPasses (status: number): boolean {
    const expected = this.options.expectStatus
    return expected === null ? status >= 200 && status < 400 : expected.includes(status)
  }

  /** Reads the body up to MAX_BODY_BYTES (the rest is never read), then calls `done`. */
  private readBody (res: Readable, done: (body: string) => void): void {
    const chunks: Buffer[] = []
    let size = 0
    let finished = false
    const finish = (): void => {
      if (finished) return
      finished = true
      done(Buffer.concat(chunks, Math.min(size, MAX_BODY_BYTES)).toString('utf8'))
    }
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.length
      if (size >= MAX_BODY_BYTES) finish()
    })
    res.on('end', finish)
  }

  /** The authority of the target's URL, the SNI name and the Host header a check sends. */
  private names (target: Target): { host: string, servername: string | null, hostHeader: string } {
    const { host, tls } = this.options
    const address = target.address
    // As the upstream's pools do: tls.servername, else the target's host name, never an IP.
    const servername = tls?.servername ?? (address.kind === 'tcp' && isIP(address.host) === 0 ? address.host : null)
    const authority = address.kind === 'tcp' ? formatHostPort(address.host, address.port) : 'localhost'
    return { host: authority, servername, hostHeader: host ?? tls?.servername ?? authority }
  }

  private requestOptions (target: Target): RequestOptions & ConnectionOptions {
    const { path, tls } = this.options
    const address = target.address
    const { servername, hostHeader } = this.names(target)
    return {
      method: 'GET',
      path,
      headers: { host: hostHeader, 'user-agent': USER_AGENT, accept: '*/*', connection: 'close' },
      // Never pooled: each check opens its own connection and closes it.
      agent: false,
      ...(address.kind === 'unix' ? { socketPath: address.socketPath } : { host: address.host, port: address.port }),
      ...(tls === null
        ? {}
        : {
            rejectUnauthorized: tls.verify,
            ...(servername === null ? {} : { servername }),
            ...(tls.ca !== null ? { ca: tls.ca } : {}),
            ...(tls.cert !== null ? { cert: tls.cert } : {}),
            ...(tls.key !== null ? { key: tls.key } : {})
          })
    }
  }
}

/** The TLS settings among a request's options, for a TLS connection made by hand. */
function tlsOptionsOf (options: RequestOptions & ConnectionOptions): ConnectionOptions {
  const { rejectUnauthorized, servername, ca, cert, key } = options
  return {
    ...(rejectUnauthorized === undefined ? {} : { rejectUnauthorized }),
    ...(servername === undefined ? {} : { servername }),
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key })
  }
}
