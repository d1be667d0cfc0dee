/**
 * The gRPC status a gRPC client should get for a gateway error (a gRPC client reads
 * `grpc-status`, not the HTTP status): what a reply to a gRPC request (content-type
 * application/grpc) carries as a trailers-only response.
 *
 * The mapping follows gRPC's "HTTP to gRPC Status Code Mapping" for statuses, with two
 * refinements a gateway knows more about (as Envoy does): a gateway timeout is
 * DEADLINE_EXCEEDED, and an upstream stream reset maps by its RST_STREAM code as gRPC's
 * own transports do (REFUSED_STREAM → UNAVAILABLE, CANCEL → CANCELLED, ENHANCE_YOUR_CALM →
 * RESOURCE_EXHAUSTED, INADEQUATE_SECURITY → PERMISSION_DENIED, the rest → INTERNAL).
 */
import type { GatewayError } from '../errors.js'
import { H2StreamResetError } from '../upstream/errors.js'

/** gRPC status codes (grpc/doc/statuscodes.md). */
export const GrpcStatus = {
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16
} as const

export function grpcStatusOf (error: GatewayError): number {
  const reset = resetOf(error)
  if (reset !== null) {
    switch (reset.rstCode) {
      case 7: return GrpcStatus.UNAVAILABLE
      case 8: return GrpcStatus.CANCELLED
      case 11: return GrpcStatus.RESOURCE_EXHAUSTED
      case 12: return GrpcStatus.PERMISSION_DENIED
      default: return GrpcStatus.INTERNAL
    }
  }
  switch (error.statusCode) {
    case 400: return GrpcStatus.INTERNAL
    case 401: return GrpcStatus.UNAUTHENTICATED
    case 403: return GrpcStatus.PERMISSION_DENIED
    case 404: return GrpcStatus.UNIMPLEMENTED
    case 413: return GrpcStatus.RESOURCE_EXHAUSTED
    case 429: return GrpcStatus.UNAVAILABLE
    case 502: return GrpcStatus.UNAVAILABLE
    case 503: return GrpcStatus.UNAVAILABLE
    case 504: return GrpcStatus.DEADLINE_EXCEEDED
    default: return GrpcStatus.UNKNOWN
  }
}

function resetOf (error: Error): H2StreamResetError | null {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current instanceof H2StreamResetError) return current
    current = (current as { cause?: unknown }).cause
  }
  return null
}
