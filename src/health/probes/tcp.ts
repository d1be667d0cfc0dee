/**
 * `healthCheck.type: tcp`: the target is healthy when a TCP connection (or a Unix socket
 * connection) opens within the timeout; it is closed at once. Nothing is sent, and no TLS
 * handshake is made even for a TLS upstream: this checks that something listens.
 *
 * Behind a CONNECT proxy the check is that the proxy opens a tunnel to the target: a proxy
 * answers 2xx only once its own connection to the target is up.
 *
 * The timeout's timer keeps the process alive while it runs, as the socket does: a check
 * always settles, and stopping the checks clears it.
 */
import { connect, type Socket } from 'node:net'
import type { Target } from '../../upstream/target.js'
import { formatDuration } from '../../config/units.js'
import { describeError, settleOnce, type Probe, type ProbeResult } from './probe.js'
import type { CompiledProxy } from '../../upstream/forward-proxy.js'
import { openTunnel } from '../../upstream/tunnel.js'

export class TcpProbe implements Probe {
  private readonly timeoutMs: number
  private readonly proxy: CompiledProxy | null

  constructor (timeoutMs: number, proxy: CompiledProxy | null = null) {
    this.timeoutMs = timeoutMs
    this.proxy = proxy
  }

  async run (target: Target, signal: AbortSignal): Promise<ProbeResult> {
    const address = target.address
    return await new Promise<ProbeResult>(resolve => {
      let socket: Socket | null = null
      const settle = settleOnce(resolve, signal, this.timeoutMs, () => `no connection within ${formatDuration(this.timeoutMs)}`, () => socket?.destroy())
      if (settle === null) return
      const proxy = this.proxy
      if (proxy !== null) {
        if (address.kind === 'unix') {
          settle(false, 'a Unix socket target cannot be reached through a proxy')
          return
        }
        socket = openTunnel(proxy, address, this.timeoutMs, (err) => {
          if (err === null) settle(true, `tunnel opened through proxy ${proxy.id}`)
          else settle(false, describeError(err))
        })
        return
      }
      socket = address.kind === 'unix' ? connect({ path: address.socketPath }) : connect({ host: address.host, port: address.port })
      socket.once('connect', () => settle(true, 'connected'))
      socket.on('error', (err) => settle(false, describeError(err)))
    })
  }
}
