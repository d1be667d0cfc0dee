/**
 * An upgraded WebSocket connection: the client's socket and the upstream's, piped both
 * ways as raw bytes (frames, pings, close handshakes are the two ends' business). The
 * gateway steps in only to end it: after `idleMs` without a byte either way, or when it
 * shuts down; then each side gets a close frame (1001) and its socket is ended.
 */
import type { Duplex } from 'node:stream'
import { GOING_AWAY, clientCloseFrame, serverCloseFrame } from './close-frame.js'

/** How long a side may take to close after the gateway ended it, before it is cut. */
const CLOSE_WAIT_MS = 1000

export class WebSocketTunnel {
  private readonly client: Duplex
  private readonly upstream: Duplex
  private readonly idleMs: number
  private idleTimer: NodeJS.Timeout | null = null
  private lastActivity = 0
  private goingAway = false
  /** Resolves once both sockets are closed. */
  readonly ended: Promise<void>

  constructor (client: Duplex, upstream: Duplex, idleMs: number) {
    this.client = client
    this.upstream = upstream
    this.idleMs = idleMs
    this.ended = Promise.all([closed(client), closed(upstream)]).then(() => {
      if (this.idleTimer !== null) clearTimeout(this.idleTimer)
    })
  }

  /**
   * Starts relaying. `clientHead`: bytes the client sent before the 101 (they go upstream
   * first); `upstreamHead`: bytes the upstream sent after it (they go to the client first).
   */
  start (clientHead: Buffer, upstreamHead: Buffer): void {
    const { client, upstream } = this
    for (const socket of [client, upstream]) {
      // A reset on one side ends the other at once: nothing more can be relayed.
      socket.on('error', () => { client.destroy(); upstream.destroy() })
      // One side closed: the other is ended once what was relayed to it is written.
      socket.once('close', () => this.closeOther(socket === client ? upstream : client))
    }
    if (clientHead.length > 0) upstream.write(clientHead)
    if (upstreamHead.length > 0) client.write(upstreamHead)
    client.on('data', this.touch)
    upstream.on('data', this.touch)
    client.pipe(upstream)
    upstream.pipe(client)
    // A side that closed before the relay began (an upstream that hung up while the 101
    // was being written) fires no 'close' any more.
    if (upstream.destroyed) this.closeOther(client)
    else if (client.destroyed) this.closeOther(upstream)
    this.touch()
    this.armIdle()
  }

  /** Ends the tunnel: a close frame (1001, `reason`) to each side, then their sockets end. */
  goAway (reason: string): void {
    if (this.goingAway) return
    this.goingAway = true
    const { client, upstream } = this
    client.unpipe(upstream)
    upstream.unpipe(client)
    // What either side still sends (its answering close frame) is read and dropped, so
    // that its end of the connection arrives and the socket can close.
    client.resume()
    upstream.resume()
    if (client.writable) client.end(serverCloseFrame(GOING_AWAY, reason))
    if (upstream.writable) upstream.end(clientCloseFrame(GOING_AWAY, reason))
    cutAfter(client, CLOSE_WAIT_MS)
    cutAfter(upstream, CLOSE_WAIT_MS)
  }

  private readonly touch = (): void => {
    this.lastActivity = performance.now()
  }

  /**
   * One timer for the tunnel's life, re-armed for what is left of the idle time: cheaper
   * than resetting a timer on every chunk of a busy connection.
   */
  private armIdle (): void {
    const left = this.idleMs - (performance.now() - this.lastActivity)
    if (left <= 0) {
      this.idleTimer = null
      this.goAway('idle timeout')
      return
    }
    this.idleTimer = setTimeout(() => this.armIdle(), Math.ceil(left))
    this.idleTimer.unref()
  }

  private closeOther (other: Duplex): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer)
    if (!other.destroyed) other.end()
    cutAfter(other, CLOSE_WAIT_MS)
  }
}

function closed (socket: Duplex): Promise<void> {
  if (socket.destroyed) return Promise.resolve()
  return new Promise(resolve => socket.once('close', () => resolve()))
}

/** Destroys `socket` if it is still open after `ms`: a peer that never closes cannot hold it. */
function cutAfter (socket: Duplex, ms: number): void {
  if (socket.destroyed) return
  const timer = setTimeout(() => socket.destroy(), ms)
  timer.unref()
  socket.once('close', () => clearTimeout(timer))
}
