/**
 * The value of cookie `name` in a Cookie request header, or null when it is absent. Scans
 * the header pair by pair with indexOf, building no map of the other cookies: the hot path
 * wants one cookie and headers often carry dozens.
 */
export function readCookie (header: string | string[] | undefined, name: string): string | null {
  if (header === undefined) return null
  // Node joins repeated Cookie headers into one string; the array form is only in the types.
  const text = typeof header === 'string' ? header : header.join('; ')
  const length = text.length
  let start = 0
  while (start < length) {
    while (start < length && (text.charCodeAt(start) === 0x20 || text.charCodeAt(start) === 0x09)) start++
    let end = text.indexOf(';', start)
    if (end < 0) end = length
    const equals = start + name.length
    if (equals < end && text.charCodeAt(equals) === 0x3d && text.startsWith(name, start)) {
      return text.slice(equals + 1, end).trim()
    }
    start = end + 1
  }
  return null
}
