/**
 * An undici connector that reaches one target through a CONNECT proxy: the tunnel first,
 * then (for a TLS upstream) the upstream's own TLS connector over it, so SNI, the CA, the
 * client certificate and verification are exactly those of a direct connection. The pool
 * above keeps the tunnel like any connection: reused while kept alive, counted when new.
 */
import type { Socket } from 'node:net'
import type { buildConnector } from 'undici'
import type { TargetAddress } from './target.js'
import type { CompiledProxy } from './forward-proxy.js'
import { ProxyTunnelError, openTunnel } from './tunnel.js'

type Callback = (err: Error | null, socket: Socket | null) => void

export function tunnelConnector (proxy: CompiledProxy, address: TargetAddress, tls: boolean, timeoutMs: number, direct: buildConnector.connector): buildConnector.connector {
  return (options, callback) => {
    const done = callback as Callback
    if (address.kind === 'unix') {
      // Refused by the config for static targets; a discovered one lands here.
      queueMicrotask(() => done(new ProxyTunnelError(`target ${address.id} is a Unix socket, which a proxy cannot reach`), null))
      return
    }
    openTunnel(proxy, address, timeoutMs, (err, tunnel) => {
      if (err !== null || tunnel === null) {
        done(err, null)
        return
      }
      if (!tls) {
        done(null, tunnel)
        return
      }
      direct({ ...options, httpSocket: tunnel }, ((tlsErr: Error | null, socket: Socket | null) => {
        if (tlsErr !== null) tunnel.destroy()
        done(tlsErr, socket)
      }) as buildConnector.Callback)
    })
  }
}
