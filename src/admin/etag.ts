/**
 * ETags and conditional GETs for the admin API's replies. The tag is a hash of the body
 * the client would receive, so it changes exactly when the reply does (a config applied,
 * a target disabled), and it belongs to that body alone: another URL's tag, or this URL's
 * tag from before a change, never matches.
 */
import { createHash } from 'node:crypto'

/** What to do with a reply: send it with `etag`, or answer 304 in its place. */
export interface Revalidation {
  readonly etag: string
  readonly notModified: boolean
}

/** A strong entity tag (quoted) for `body`. */
export function entityTag (body: string | Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`
}

/**
 * True when an If-None-Match field value matches `etag`: `*`, or a list holding a tag
 * equal to it under the weak comparison (RFC 9110 §8.8.3.2, as §13.1.2 asks: `W/` ignored
 * on both sides). Anything in the list that is not a quoted tag is skipped.
 */
export function ifNoneMatchMatches (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  if (ifNoneMatch.trim() === '*') return true
  const wanted = opaqueTag(etag)
  for (const match of ifNoneMatch.matchAll(/(?:W\/)?("[^"]*")/g)) {
    if (match[1] === wanted) return true
  }
  return false
}

/**
 * The ETag of a reply and whether the request already holds it; null when the reply gets
 * none: only a 200 to GET or HEAD is a representation a client can revalidate (an error
 * or a POST's result is not), and only a body already serialized can be hashed.
 */
export function revalidate (method: string, statusCode: number, body: unknown, ifNoneMatch: string | undefined): Revalidation | null {
  if ((method !== 'GET' && method !== 'HEAD') || statusCode !== 200) return null
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) return null
  const etag = entityTag(body)
  return { etag, notModified: ifNoneMatchMatches(ifNoneMatch, etag) }
}

function opaqueTag (etag: string): string {
  return etag.startsWith('W/') ? etag.slice(2) : etag
}
