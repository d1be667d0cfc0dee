/**
 * WebSocket close frames (RFC 6455 §5.5.1) the gateway writes itself, when it ends a
 * tunnel (idle timeout, shutdown): unmasked towards the client, masked towards the
 * upstream, as each side expects of its peer.
 */
import { randomBytes } from 'node:crypto'

/** 1001: the endpoint is going away (server shutting down, connection idle too long). */
export const GOING_AWAY = 1001

/** A close frame as a server sends it (to the client): never masked. */
export function serverCloseFrame (code: number, reason: string): Buffer {
  const payload = closePayload(code, reason)
  return Buffer.concat([Buffer.from([0x88, payload.length]), payload])
}

/** A close frame as a client sends it (to the upstream): always masked. */
export function clientCloseFrame (code: number, reason: string): Buffer {
  const payload = closePayload(code, reason)
  const mask = randomBytes(4)
  const masked = Buffer.allocUnsafe(payload.length)
  for (let i = 0; i < payload.length; i++) masked[i] = (payload[i] as number) ^ (mask[i & 3] as number)
  return Buffer.concat([Buffer.from([0x88, 0x80 | payload.length]), mask, masked])
}

/** Control frames carry at most 125 bytes: the code and a reason cut to 123 bytes. */
function closePayload (code: number, reason: string): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, 123)
  const payload = Buffer.allocUnsafe(2 + text.length)
  payload.writeUInt16BE(code, 0)
  text.copy(payload, 2)
  return payload
}
