/**
 * Request path normalisation, done before routing so that what a route matches is what
 * the upstream receives. Most upstreams decode a path before routing it themselves; a
 * gateway that matched the raw bytes could be walked past (`/%61dmin` is `/admin` to them,
 * `/public/%2e%2e/admin` is `/admin`). The normalised form is both the one matched and
 * the one sent upstream.
 */

/**
 * Returns the normalised path, or null when it cannot be made safe (the caller answers
 * 400). Following RFC 3986 §6.2.2:
 *
 * - escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded, so `%61dmin`
 *   is `admin` and `%2e%2e` is `..`; every other escape is kept, its hex digits upper-cased
 *   (`%2f` → `%2F`, `%e9` → `%E9`): a reserved escape such as `%2F` or `%3F` is data, never
 *   a separator, and bytes that are not UTF-8 are the upstream's business;
 * - `.` and `..` segments are resolved, never above the root, and repeated slashes collapse;
 * - refused: a malformed escape; NUL (`%00`); a backslash, raw or `%5C` (some servers
 *   treat it as a separator); and a segment that would hold a `.` or `..` segment once an
 *   upstream decoded its `%2F` (`..%2F..%2Fadmin`).
 *
 * Returns the very same string when nothing changes, so the common path allocates nothing.
 */
export function normalizePath (rawPath: string): string | null {
  if (rawPath.charCodeAt(0) !== 47 /* / */) return null
  if (!needsWork(rawPath)) return rawPath
  if (rawPath.includes('\\')) return null
  let path = rawPath
  if (path.includes('%')) {
    const decoded = decodeUnreserved(path)
    if (decoded === null) return null
    path = decoded
  }
  if (!path.includes('/.') && !path.includes('//')) return hidesDotSegment(path) ? null : path
  const trailingSlash = path.length > 1 && path.endsWith('/')
  const out: string[] = []
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') out.pop()
    else out.push(segment)
  }
  let result = '/' + out.join('/')
  if (trailingSlash && result !== '/') result += '/'
  return hidesDotSegment(result) ? null : result
}

function needsWork (path: string): boolean {
  return path.includes('/.') || path.includes('//') || path.includes('%') || path.includes('\\')
}

const HEX = '0123456789ABCDEF'

/** Decodes unreserved escapes, upper-cases the others; null for a malformed or forbidden escape. */
function decodeUnreserved (path: string): string | null {
  let out = ''
  let last = 0
  for (let i = path.indexOf('%'); i >= 0; i = path.indexOf('%', i + 1)) {
    const hi = hexValue(path.charCodeAt(i + 1))
    const lo = hexValue(path.charCodeAt(i + 2))
    if (hi < 0 || lo < 0) return null
    const byte = hi * 16 + lo
    if (byte === 0x00 || byte === 0x5c) return null
    out += path.slice(last, i)
    out += isUnreserved(byte) ? String.fromCharCode(byte) : `%${HEX[hi] as string}${HEX[lo] as string}`
    last = i + 3
    i += 2
  }
  return out + path.slice(last)
}

/** ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 §2.3). */
function isUnreserved (byte: number): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) ||
    byte === 0x2d || byte === 0x2e || byte === 0x5f || byte === 0x7e
}

/** True when decoding `%2F` would reveal a `.` or `..` segment (`a/..%2F..%2Fadmin`). */
function hidesDotSegment (path: string): boolean {
  if (!path.includes('%2F')) return false
  for (const segment of path.split('/')) {
    if (!segment.includes('%2F')) continue
    for (const piece of segment.split('%2F')) if (piece === '.' || piece === '..') return true
  }
  return false
}

function hexValue (code: number): number {
  if (code >= 48 && code <= 57) return code - 48
  if (code >= 65 && code <= 70) return code - 55
  if (code >= 97 && code <= 102) return code - 87
  return -1
}
