/**
 * What the gateway reads of a gRPC request (`content-type: application/grpc`) and writes
 * in its error replies: a gRPC client reads only `grpc-status` and `grpc-message` (gRPC
 * over HTTP/2: an error is HTTP 200 with the status in the headers of a response that has
 * no body, "Trailers-Only"; the status comes from grpc-status.ts), and its deadline
 * (`grpc-timeout`) read as a duration.
 */
import type { IncomingHttpHeaders } from 'node:http'

export function isGrpcRequest (headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type']
  return type !== undefined && type.startsWith('application/grpc')
}

/**
 * `grpc-message` is percent-encoded (gRPC over HTTP/2: bytes outside printable ASCII,
 * and `%` itself).
 */
export function grpcMessage (message: string): string {
  let out = ''
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 }

/**
 * `grpc-timeout` (at most 8 digits and a unit: H M S m u n) in milliseconds, rounded up;
 * null when absent or malformed (the call then has no deadline of its own).
 */
export function grpcTimeoutMs (value: string | string[] | undefined): number | null {
  if (typeof value !== 'string') return null
  const match = /^(\d{1,8})([HMSmun])$/.exec(value)
  if (match === null) return null
  return Math.ceil(Number(match[1]) * (UNIT_MS[match[2] as string] as number))
}
