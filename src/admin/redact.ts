/**
 * What `GET /config` shows: the running config with every secret replaced by `"***"`.
 * The shape stays the same (a token list keeps its length, a user map its names) so an
 * operator can still see what is configured, never with what. The same walk finds
 * `"***"` sent back in a config (`PUT /config` after an edit of what GET showed): applied,
 * it would become the real secret, so it is refused instead.
 */
import { joinPath } from '../config/errors.js'

export const REDACTED = '***'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type Path = readonly (string | number)[]

/** Header names whose values are credentials, wherever a config sets or matches headers. */
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie)$|token|secret|password|passwd|api[-_]?key|session/i
/** `scheme://user:password@host`: the credentials of a Redis URL, a webhook, a proxy, a JWKS endpoint. */
const URL_CREDENTIALS = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^@/?#\s]*@/
/** Key material pasted inline instead of a file path. */
const KEY_MATERIAL = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/

/** A deep copy of `config` with its secrets replaced. */
export function redactConfig (config: unknown): Json {
  return redact(config, [], () => undefined)
}

/**
 * Where `config` holds `"***"` in place of a secret (`routes[0].auth.secret`): it was
 * copied from GET /config, and the real value is what was meant.
 */
export function redactedPlaceholders (config: unknown): string[] {
  const found: string[] = []
  redact(config, [], (path, value) => {
    if (value === REDACTED || (typeof value === 'string' && URL_CREDENTIALS.exec(value)?.[0].endsWith(`//${REDACTED}@`) === true)) {
      found.push(path.reduce<string>((text, key) => joinPath(text, key), ''))
    }
  })
  return found
}

/** `onSecret` is told of every value the copy hides, with its path. */
function redact (value: unknown, path: Path, onSecret: (path: Path, value: unknown) => void): Json {
  if (typeof value === 'string') return redactString(value, path, onSecret)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return value
  if (Array.isArray(value)) {
    // Every bearer token is a secret; the list's length is not.
    if (isAuthKey(path, 'tokens')) {
      return value.map((item, i) => { onSecret([...path, i], item); return REDACTED })
    }
    return value.map((item, i) => redact(item, [...path, i], onSecret))
  }
  if (typeof value === 'object') {
    const out: { [key: string]: Json } = {}
    const basicUsers = isAuthKey(path, 'users')
    const last = path[path.length - 1]
    const headerMap = last === 'set' || last === 'headers'
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (basicUsers || (headerMap && SECRET_HEADER.test(key))) {
        onSecret([...path, key], item)
        out[key] = REDACTED
      } else {
        out[key] = redact(item, [...path, key], onSecret)
      }
    }
    return out
  }
  // Functions and other non-JSON values never reach a loaded config; show nothing of them.
  return null
}

function redactString (value: string, path: Path, onSecret: (path: Path, value: unknown) => void): string {
  if (isAuthKey(path, 'secret') || (path.length === 2 && path[0] === 'admin' && path[1] === 'token') || KEY_MATERIAL.test(value)) {
    onSecret(path, value)
    return REDACTED
  }
  if (!URL_CREDENTIALS.test(value)) return value
  onSecret(path, value)
  return value.replace(URL_CREDENTIALS, `$1${REDACTED}@`)
}

/** `routes[i].auth.<key>` */
function isAuthKey (path: Path, key: string): boolean {
  return path.length === 4 && path[0] === 'routes' && path[2] === 'auth' && path[3] === key
}
