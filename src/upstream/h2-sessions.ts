/**
 * HTTP/2 sessions to one target (`protocol: h2` over TLS with ALPN, or `h2c` by prior
 * knowledge): the HTTP/2 counterpart of an undici Pool. Many streams share one session;
 * another session opens only when every open one is at the peer's stream limit (and
 * `pool.connections` allows it).
 *
 * A session that receives GOAWAY, fails or closes is evicted at once and never handed out
 * again: requests already on it finish there (those GOAWAY refused are sent again by the
 * dispatcher), new ones get a fresh session. An idle session closes after `keepAliveMs`.
 */
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2'
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { errors as undiciErrors } from 'undici'
import type { TargetAddress } from './target.js'
import { H2SessionClosedError } from './errors.js'

/** Response header blocks larger than this are refused (a hostile upstream's memory cost). */
export const MAX_RESPONSE_HEADER_LIST = 64 * 1024

/** Streams assumed allowed on a session before the peer's SETTINGS arrive (RFC 9113 §6.5.2 suggests ≥ 100). */
const ASSUMED_STREAM_LIMIT = 100

export interface H2SessionOptions {
  readonly address: TargetAddress
  /** null: h2c (cleartext, prior knowledge). */
  readonly tls: {
    readonly servername: string | null
    readonly ca: string | Buffer | null
    readonly cert: string | Buffer | null
    readonly key: string | Buffer | null
    readonly verify: boolean
  } | null
  readonly connectMs: number
  readonly keepAliveMs: number
  /** Most sessions at once; null: as many as the streams need. */
  readonly maxSessions: number | null
  /** A new session's socket is up (for connection metrics). */
  readonly onConnection: (socket: Socket) => void
}

/** One session and what the pool knows of it. */
export class H2Session {
  readonly session: ClientHttp2Session
  readonly socket: Socket
  /** Streams opened on it and not closed yet, plus requests waiting for it to connect. */
  active = 0
  /** Connected (SETTINGS exchanged on our side); requests may open streams. */
  ready = false
  /** Still handed out: false once GOAWAY, an error or close evicted it. */
  usable = true
  /** Why it closed before connecting, or failed. */
  failure: Error | null = null
  private readonly waiters: ((err: Error | null) => void)[] = []
  private idleTimer: NodeJS.Timeout | null = null
  private readonly keepAliveMs: number

  constructor (session: ClientHttp2Session, socket: Socket, keepAliveMs: number) {
    this.session = session
    this.socket = socket
    this.keepAliveMs = keepAliveMs
  }

  get streamLimit (): number {
    return this.ready ? (this.session.remoteSettings.maxConcurrentStreams ?? ASSUMED_STREAM_LIMIT) : ASSUMED_STREAM_LIMIT
  }

  /** Calls `done` once the session is connected (null) or failed to (the error). */
  whenReady (done: (err: Error | null) => void): void {
    if (this.ready) done(null)
    else if (!this.usable) done(this.failure ?? new H2SessionClosedError('the HTTP/2 session closed'))
    else this.waiters.push(done)
  }

  settle (err: Error | null): void {
    const waiters = this.waiters.splice(0)
    for (const done of waiters) done(err)
  }

  take (): void {
    this.active++
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer)
      this.idleTimer = null
    }
  }

  release (): void {
    this.active--
    if (this.active === 0 && this.usable) {
      this.idleTimer = setTimeout(closeIdle, this.keepAliveMs, this)
      this.idleTimer.unref()
    }
  }

  clearIdle (): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer)
    this.idleTimer = null
  }
}

function closeIdle (entry: H2Session): void {
  entry.usable = false
  entry.session.close()
}

export class H2SessionPool {
  private readonly options: H2SessionOptions
  private readonly authority: string
  private sessions: H2Session[] = []
  private closed = false

  constructor (authority: string, options: H2SessionOptions) {
    this.authority = authority
    this.options = options
  }

  /**
   * A session with room for one more stream (counted as taken: release it when the stream
   * closes or the request gives up); a connecting one counts too.
   */
  acquire (): H2Session {
    if (this.closed) throw new H2SessionClosedError('the upstream is closing')
    let best: H2Session | null = null
    for (const entry of this.sessions) {
      if (!entry.usable) continue
      if (entry.active < entry.streamLimit) {
        best = entry
        break
      }
      if (best === null || entry.active < best.active) best = entry
    }
    const max = this.options.maxSessions
    if (best === null || (best.active >= best.streamLimit && (max === null || this.sessions.length < max))) best = this.open()
    best.take()
    return best
  }

  /** Sessions open now (evicted ones still finishing their streams excluded). */
  get size (): number {
    return this.sessions.length
  }

  /** Closes every session once its streams are done. */
  async close (): Promise<void> {
    this.closed = true
    const all = this.sessions.splice(0)
    await Promise.all(all.map(async entry => {
      entry.usable = false
      entry.clearIdle()
      if (entry.session.destroyed) return
      if (entry.active === 0) {
        entry.session.destroy()
        return
      }
      await new Promise<void>(resolve => entry.session.close(resolve))
    }))
  }

  /** Ends every session now, failing their streams. */
  destroy (): void {
    this.closed = true
    for (const entry of this.sessions.splice(0)) {
      entry.usable = false
      entry.clearIdle()
      entry.session.destroy()
    }
  }

  private open (): H2Session {
    const socket = this.dial()
    const session = http2Connect(this.authority, {
      createConnection: () => socket,
      // A response header block is held in memory whole: bound its fields here (the stream
      // is reset), its bytes in the dispatcher (node:http2 only advertises that limit).
      maxHeaderListPairs: 256,
      settings: { enablePush: false, maxHeaderListSize: MAX_RESPONSE_HEADER_LIST }
    })
    const entry = new H2Session(session, socket, this.options.keepAliveMs)
    this.sessions.push(entry)
    // No connection within the upstream's connect timeout: give up on the session (each
    // request keeps its own, possibly shorter, deadline besides).
    const connectTimer = setTimeout(() => {
      evict(new undiciErrors.ConnectTimeoutError(`no HTTP/2 connection within ${this.options.connectMs} ms`))
      session.destroy()
    }, this.options.connectMs)
    const evict = (err: Error | null): void => {
      clearTimeout(connectTimer)
      entry.clearIdle()
      if (err !== null) entry.failure ??= err
      // An idle session marked itself unusable already: it leaves the list here too.
      entry.usable = false
      if (this.sessions.includes(entry)) this.sessions = this.sessions.filter(other => other !== entry)
      if (!entry.ready) entry.settle(entry.failure ?? new H2SessionClosedError('the HTTP/2 session closed before it was ready'))
    }
    session.once('connect', () => {
      clearTimeout(connectTimer)
      if (this.options.tls !== null && (socket as TLSSocket).alpnProtocol !== 'h2') {
        evict(new H2SessionClosedError(`the upstream did not agree to HTTP/2 (ALPN gave ${String((socket as TLSSocket).alpnProtocol)})`))
        session.destroy()
        return
      }
      entry.ready = true
      this.options.onConnection(socket)
      entry.settle(null)
    })
    session.on('goaway', () => evict(null))
    // The error reaches each stream too; here it only evicts (no listener would crash).
    session.on('error', (err: Error) => evict(err))
    session.on('frameError', () => undefined)
    session.once('close', () => evict(null))
    return entry
  }

  private dial (): Socket {
    const { address, tls } = this.options
    const where = address.kind === 'unix' ? { path: address.socketPath } : { host: address.host, port: address.port }
    if (tls === null) return netConnect(where)
    return tlsConnect({
      ...where,
      ALPNProtocols: ['h2'],
      rejectUnauthorized: tls.verify,
      ...(tls.servername !== null ? { servername: tls.servername } : {}),
      ...(tls.ca !== null ? { ca: tls.ca } : {}),
      ...(tls.cert !== null ? { cert: tls.cert } : {}),
      ...(tls.key !== null ? { key: tls.key } : {})
    })
  }
}

