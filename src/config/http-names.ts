/**
 * Header names, header values and cookie names given in the config, checked at load by
 * the rules Node applies when the gateway uses them: a value Node refuses would make every
 * request through the route fail (500 or 502, with a log line per request) instead of
 * refusing the config once.
 */
import { TOKEN_PATTERN } from './schema.js'

const TOKEN = new RegExp(TOKEN_PATTERN)

/** Node's rule for header values (`checkInvalidHeaderChar` in lib/_http_common.js). */
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/

/**
 * Names of Object.prototype's properties, lower-cased. Headers and cookies are looked up
 * by name in plain objects (`headers[name]`), where `constructor` or `__proto__` finds
 * the prototype's member instead of a header; no real header has such a name.
 */
const PROTOTYPE_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype).map(name => name.toLowerCase()))

/**
 * Why `name` cannot be a header name ("is not a valid header name"), or null when it can.
 * The subject is left out: the path names the key, or the caller names it.
 */
export function headerNameProblem (name: string): string | null {
  return nameProblem(name, 'header')
}

/** Why `name` cannot be a cookie name, or null when it can; as headerNameProblem. */
export function cookieNameProblem (name: string): string | null {
  return nameProblem(name, 'cookie')
}

function nameProblem (name: string, kind: 'header' | 'cookie'): string | null {
  if (!TOKEN.test(name)) return `is not a valid ${kind} name`
  if (PROTOTYPE_NAMES.has(name.toLowerCase())) return `cannot be a ${kind} name: every JavaScript object has a property of that name`
  return null
}

/** Why `value` cannot be a header value, or null when it can. */
export function headerValueProblem (value: string): string | null {
  const bad = INVALID_VALUE_CHAR.exec(value)
  if (bad === null) return null
  const char = bad[0]
  if (char === '\r' || char === '\n') return 'value contains a line break'
  if (char === '\0') return 'value contains a NUL character'
  const code = (char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')
  return `value contains U+${code}, a character not allowed in a header value`
}
