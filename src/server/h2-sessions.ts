/**
 * The HTTP/2 sessions and TLS sockets of an `http2: true` listener. Node's HTTP/1.1 server
 * knows which connections are idle and can cut them all; an HTTP/2 server does neither, so
 * this keeps what a graceful drain needs: GOAWAY to every session (in-flight streams
 * finish, the client opens no new ones), then the sockets still open cut at the deadline.
 * It also closes sessions that sit idle: one that opens no stream within the headers
 * timeout (a silent client), and one with no stream open for the keep-alive time.
 */
import type { Http2SecureServer, ServerHttp2Session, ServerHttp2Stream } from 'node:http2'
import type { TLSSocket } from 'node:tls'

export class H2Sessions {
  /** Each session with the number of its streams still open. */
  private readonly sessions = new Map<ServerHttp2Session, number>()
  private readonly sockets = new Set<TLSSocket>()
  private draining = false
  private firstStreamMs: number
  private readonly idleMs: number

  constructor (server: Http2SecureServer, firstStreamMs: number, idleMs: number) {
    this.firstStreamMs = firstStreamMs
    this.idleMs = idleMs
    server.on('secureConnection', this.onSocket)
    server.on('session', this.onSession)
  }

  /** The headers timeout a new session has to open its first stream. */
  setFirstStreamTimeout (ms: number): void {
    this.firstStreamMs = ms
  }

  /** GOAWAY to every session, now and to those still being set up. */
  goAway (): void {
    this.draining = true
    for (const session of this.sessions.keys()) session.close()
  }

  /** Cuts every connection of the listener, HTTP/2 or HTTP/1.1. */
  destroyAll (): void {
    for (const socket of this.sockets) socket.destroy()
  }

  private readonly onSocket = (socket: TLSSocket): void => {
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
  }

  private readonly onSession = (session: ServerHttp2Session): void => {
    if (this.draining) {
      session.close()
      return
    }
    this.sessions.set(session, 0)
    session.once('close', () => this.sessions.delete(session))
    session.on('stream', (stream: ServerHttp2Stream) => this.onStream(session, stream))
    session.setTimeout(this.firstStreamMs, () => {
      // A session with streams in flight is busy, not idle: their own deadlines apply.
      if (this.sessions.get(session) === 0) session.close()
    })
  }

  private onStream (session: ServerHttp2Session, stream: ServerHttp2Stream): void {
    const open = this.sessions.get(session)
    if (open === undefined) return
    // From the first stream on, the session may idle for the keep-alive time.
    if (open === 0) session.setTimeout(this.idleMs)
    this.sessions.set(session, open + 1)
    stream.once('close', () => {
      const now = this.sessions.get(session)
      if (now !== undefined) this.sessions.set(session, now - 1)
    })
  }
}
