/**
 * What logs must never show: credentials in headers, and the values of query parameters
 * that carry them (`?token=`, `?api_key=`). A log file is read by more people, and kept
 * longer, than the requests it describes.
 */

/** Shown in place of a secret, as GET /config shows redacted config values. */
export const LOG_REDACTED = '***'

/**
 * `server.redactQuery` when the config does not set it: the names APIs commonly use for
 * credentials in a URL. Matched without regard to case.
 */
export const DEFAULT_REDACTED_QUERY: readonly string[] = Object.freeze([
  'token', 'access_token', 'refresh_token', 'id_token', 'api_key', 'apikey', 'key',
  'password', 'secret', 'client_secret', 'signature', 'sig', 'code'
])

const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key']

/**
 * pino `redact` paths: headers wherever a line carries them (`headers`, `req.headers`,
 * `res.headers`). No line the gateway writes carries headers today; this keeps one that a
 * later change or a serializer adds from leaking them.
 */
export const REDACTED_LOG_PATHS: readonly string[] = Object.freeze(
  ['headers', 'req.headers', 'res.headers', 'request.headers', 'response.headers']
    .flatMap(parent => SECRET_HEADERS.map(name => `${parent}["${name}"]`))
)

/** Rewrites a request target so that the named query parameters' values read `***`. */
export type QueryRedactor = (url: string) => string

/**
 * Compiled once per config. A target without `?`, or whose query names none of the
 * parameters, is returned as it is, after one `indexOf`.
 */
export function compileQueryRedactor (names: readonly string[]): QueryRedactor {
  if (names.length === 0) return (url) => url
  const secret = new Set(names.map(name => name.toLowerCase()))
  return (url) => {
    const q = url.indexOf('?')
    if (q < 0) return url
    const hash = url.indexOf('#', q)
    const end = hash < 0 ? url.length : hash
    const pairs = url.slice(q + 1, end).split('&')
    let changed = false
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairs[i] as string
      const eq = pair.indexOf('=')
      const rawName = eq < 0 ? pair : pair.slice(0, eq)
      if (eq < 0 || !secret.has(decodeName(rawName))) continue
      pairs[i] = `${rawName}=${LOG_REDACTED}`
      changed = true
    }
    return changed ? `${url.slice(0, q + 1)}${pairs.join('&')}${url.slice(end)}` : url
  }
}

/** `api%5Fkey` and `API_KEY` name `api_key` too; a malformed escape is compared as sent. */
function decodeName (raw: string): string {
  const plus = raw.includes('+') ? raw.replaceAll('+', ' ') : raw
  if (!plus.includes('%')) return plus.toLowerCase()
  try {
    return decodeURIComponent(plus).toLowerCase()
  } catch {
    return plus.toLowerCase()
  }
}
