/** The request id every response carries and every upstream request is sent. */
import type { IncomingMessage } from 'node:http'
import { randomUUID } from 'node:crypto'

/**
 * The client's x-request-id when it is short and plain (1-128 visible ASCII characters: no
 * spaces, so duplicates Node joined with ", " fail too), else a new UUID. The id goes into
 * logs and upstream headers: a client must not be able to put 10 KB, tabs or bytes from
 * another charset there.
 */
export function requestIdOf (req: IncomingMessage): string {
  const given = req.headers['x-request-id']
  return typeof given === 'string' && isPlainId(given) ? given : randomUUID()
}

function isPlainId (id: string): boolean {
  if (id.length === 0 || id.length > 128) return false
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i)
    if (c < 0x21 || c > 0x7e) return false
  }
  return true
}
