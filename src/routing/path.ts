/**
 * Request path normalisation, done before routing so that what a route's prefix allows is
 * what the upstream receives: `/public/%2e%2e/admin` is `/admin`, and is routed as such.
 */

/**
 * Returns the normalised path, or null when it cannot be made safe (the caller answers
 * 400). `%2e` is decoded (it only ever spells a dot segment in an attack); `.` and `..`
 * segments are resolved, never above the root; repeated slashes collapse. An encoded
 * slash, backslash or NUL (`%2f`, `%5c`, `%00`), a raw backslash and a malformed escape are
 * refused: each means different things to different servers. Every other byte and escape
 * is kept as it was, so the upstream sees the client's own encoding.
 */
export function normalizePath (rawPath: string): string | null {
  if (rawPath.charCodeAt(0) !== 47 /* / */) return null
  if (!needsWork(rawPath)) return rawPath
  let path = rawPath
  if (path.includes('%')) {
    path = decodeDots(path)
    if (path === '') return null
  }
  if (path.includes('\\')) return null
  const trailingSlash = path.length > 1 && path.endsWith('/')
  const out: string[] = []
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') out.pop()
    else out.push(segment)
  }
  let result = '/' + out.join('/')
  if (trailingSlash && result !== '/') result += '/'
  else if (trailingSlash && out.length === 0) result = '/'
  return result
}

function needsWork (path: string): boolean {
  return path.includes('/.') || path.includes('//') || path.includes('%') || path.includes('\\')
}

/** Decodes `%2e`, checks every other escape is well formed and not a forbidden byte. '' = refuse. */
function decodeDots (path: string): string {
  let out = ''
  let last = 0
  for (let i = path.indexOf('%'); i >= 0; i = path.indexOf('%', i + 1)) {
    const hi = hexValue(path.charCodeAt(i + 1))
    const lo = hexValue(path.charCodeAt(i + 2))
    if (hi < 0 || lo < 0) return ''
    const byte = hi * 16 + lo
    if (byte === 0x2f || byte === 0x5c || byte === 0x00) return ''
    if (byte === 0x2e) {
      out += path.slice(last, i) + '.'
      last = i + 3
    }
    i += 2
  }
  return out + path.slice(last)
}

function hexValue (code: number): number {
  if (code >= 48 && code <= 57) return code - 48
  if (code >= 65 && code <= 70) return code - 55
  if (code >= 97 && code <= 102) return code - 87
  return -1
}
