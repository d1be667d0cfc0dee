/**
 * A WebSocket client between its upgrade request and the upstream's answer. Node leaves
 * an upgraded socket unread; this reads it, so that a client leaving (a FIN, on the
 * listener's half-open sockets) is noticed, and holds what it sends (early frames) for the
 * upstream, up to a bound.
 */
import type { Duplex } from 'node:stream'
import type { PendingUpgrade } from './upgrade.js'

/** Bytes a client may send before its 101 (early frames); more is taken for a flood. */
const EARLY_BYTES_LIMIT = 64 * 1024

/**
 * The client while the upstream's answer is awaited. Its socket is read (so that leaving,
 * a FIN on a half-open socket, is seen at all) and what it sends is held for the upstream.
 */
export class WaitingClient {
  readonly pending: PendingUpgrade
  readonly socket: Duplex
  private readonly chunks: Buffer[]
  private bytes: number
  private released = false
  private onGone: (() => void) | null = null

  constructor (pending: PendingUpgrade) {
    this.pending = pending
    this.socket = pending.socket
    this.chunks = pending.head.length > 0 ? [pending.head] : []
    this.bytes = pending.head.length
    this.socket.on('data', this.hold)
    this.socket.once('end', this.gone)
    this.socket.once('close', this.gone)
  }

  /** Called once if the client leaves before `release`. */
  whenGone (callback: () => void): void {
    this.onGone = callback
  }

  /** Stops watching; returns what the client sent meanwhile. */
  release (): Buffer {
    this.released = true
    this.socket.off('data', this.hold)
    this.socket.off('end', this.gone)
    this.socket.off('close', this.gone)
    this.socket.pause()
    return Buffer.concat(this.chunks)
  }

  private readonly hold = (chunk: Buffer): void => {
    this.bytes += chunk.length
    if (this.bytes > EARLY_BYTES_LIMIT) {
      this.socket.destroy()
      return
    }
    this.chunks.push(chunk)
  }

  private readonly gone = (): void => {
    if (this.released) return
    this.release()
    this.socket.destroy()
    const callback = this.onGone
    this.onGone = null
    callback?.()
  }
}
