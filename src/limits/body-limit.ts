/**
 * Size limits on request bodies. A declared Content-Length is checked before any byte is
 * read (Node's parser then ensures no more than that arrives); a body that declares no
 * length (chunked) is counted as it streams and fails with PAYLOAD_TOO_LARGE at the
 * first byte over (see DeferredBody).
 */
import { PayloadTooLarge, type GatewayError } from '../errors.js'

/** True when a declared Content-Length is over `limit` bytes. */
export function exceedsLimit (contentLength: string | undefined, limit: number): boolean {
  return contentLength !== undefined && Number(contentLength) > limit
}

export function payloadTooLarge (limit: number): GatewayError {
  return new PayloadTooLarge(`${limit} bytes`) as GatewayError
}
