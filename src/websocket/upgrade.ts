/**
 * A WebSocket upgrade request on its way through the app: Node hands the listener the
 * client's socket (and any bytes the client sent after the request head) instead of a
 * response; the listener leaves them on the request under `kUpgrade`, so that the route
 * handler can take the socket over once the route's checks have passed.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'

export const kUpgrade = Symbol('tollgate.upgrade')

export interface PendingUpgrade {
  readonly socket: Duplex
  /** Bytes the client sent after the request head, before any answer (early frames). */
  readonly head: Buffer
  /** Set once a tunnel owns the socket: the listener no longer closes it after the answer. */
  takenOver: boolean
}

type WithUpgrade = IncomingMessage & { [kUpgrade]?: PendingUpgrade }

export function markUpgrade (req: IncomingMessage, upgrade: PendingUpgrade): void {
  (req as WithUpgrade)[kUpgrade] = upgrade
}

/** The pending WebSocket upgrade of `req`, or null for a plain HTTP request. */
export function upgradeOf (req: IncomingMessage): PendingUpgrade | null {
  return (req as WithUpgrade)[kUpgrade] ?? null
}
