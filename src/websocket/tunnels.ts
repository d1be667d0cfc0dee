/**
 * The gateway's open WebSocket tunnels. They belong to no app version: a reload leaves
 * them alone, and only the gateway's close ends them, after its grace period, with a
 * close frame each way.
 */
import type { WebSocketTunnel } from './tunnel.js'

export class WebSocketTunnels {
  private readonly open = new Set<WebSocketTunnel>()
  private closing = false

  /** Tunnels open now. */
  get size (): number {
    return this.open.size
  }

  add (tunnel: WebSocketTunnel): void {
    // An upgrade that completed while the gateway was stopping does not outlive it.
    if (this.closing) {
      tunnel.goAway('server shutting down')
      return
    }
    this.open.add(tunnel)
    tunnel.ended.then(() => this.open.delete(tunnel), () => this.open.delete(tunnel))
  }

  /**
   * Shutdown: tunnels may end by themselves within `graceMs`; then the rest get a close
   * frame (1001) each way. Resolves once every tunnel is closed.
   */
  async closeAfter (graceMs: number): Promise<void> {
    this.closing = true
    if (this.open.size === 0) return
    const all = Promise.all([...this.open].map(async tunnel => await tunnel.ended))
    let timer: NodeJS.Timeout | undefined
    const graceOver = new Promise<'grace over'>(resolve => { timer = setTimeout(() => resolve('grace over'), graceMs) })
    const first = await Promise.race([all, graceOver])
    clearTimeout(timer)
    if (first === 'grace over') for (const tunnel of this.open) tunnel.goAway('server shutting down')
    await all
  }
}
