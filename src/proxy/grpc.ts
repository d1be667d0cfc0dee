/**
 * What the gateway owes a gRPC client (a request with `content-type: application/grpc`):
 * its errors as gRPC statuses rather than JSON bodies, since a gRPC client reads only
 * `grpc-status` and `grpc-message` (gRPC over HTTP/2: an error is HTTP 200 with the status
 * in the headers of a response that has no body, "Trailers-Only"), and its deadline
 * (`grpc-timeout`) read as a duration.
 */
import type { IncomingHttpHeaders } from 'node:http'

/** The gRPC status codes the gateway answers with. */
export const GrpcStatus = Object.freeze({
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16
})

/** The gateway's error codes (contract §5) as gRPC statuses. */
const BY_CODE: Readonly<Record<string, number>> = {
  ROUTE_NOT_FOUND: GrpcStatus.UNIMPLEMENTED,
  UPSTREAM_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  NO_HEALTHY_UPSTREAM: GrpcStatus.UNAVAILABLE,
  // gRPC's own mapping of HTTP 504 (doc/http-grpc-status-mapping.md): the call may be retried.
  UPSTREAM_TIMEOUT: GrpcStatus.UNAVAILABLE,
  DEADLINE_EXCEEDED: GrpcStatus.DEADLINE_EXCEEDED,
  RATE_LIMITED: GrpcStatus.RESOURCE_EXHAUSTED,
  TOO_MANY_CONCURRENT: GrpcStatus.RESOURCE_EXHAUSTED,
  PAYLOAD_TOO_LARGE: GrpcStatus.RESOURCE_EXHAUSTED,
  REQUEST_BLOCKED: GrpcStatus.PERMISSION_DENIED,
  IP_FORBIDDEN: GrpcStatus.PERMISSION_DENIED,
  FORBIDDEN: GrpcStatus.PERMISSION_DENIED,
  UNAUTHORIZED: GrpcStatus.UNAUTHENTICATED,
  BAD_REQUEST: GrpcStatus.INVALID_ARGUMENT
}

export function isGrpcRequest (headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type']
  return type !== undefined && type.startsWith('application/grpc')
}

export function grpcStatusOf (code: string): number {
  return BY_CODE[code] ?? GrpcStatus.INTERNAL
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
