/**
 * Label values that come from requests, kept to fixed sets: a series is made per value,
 * so a client must not be able to mint them (a method of its own, a path).
 */

/** The methods of RFC 9110 §9 and PATCH (RFC 5789); any other is counted as `other`. */
const STANDARD_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const

/** `method` label values, by method index. */
export const METHOD_LABELS: readonly string[] = [...STANDARD_METHODS, 'other']

/** How many method indexes there are (the key space of a route's request cells). */
export const METHOD_COUNT = METHOD_LABELS.length

const OTHER_METHOD = STANDARD_METHODS.length
const methodIndexes = new Map<string, number>(STANDARD_METHODS.map((method, i) => [method, i]))

/** The method's index in METHOD_LABELS: a map lookup, no string built. */
export function methodIndex (method: string | undefined): number {
  return method === undefined ? OTHER_METHOD : methodIndexes.get(method) ?? OTHER_METHOD
}

/**
 * The `route` label of requests no route matched (404s, paths that cannot be normalised).
 * Route names are never empty (the schema asks for at least one character), so this
 * value cannot be mistaken for a route.
 */
export const UNMATCHED_ROUTE = ''

/** The `status` label of an upstream attempt that got no response: refused, reset, timed out. */
export const NO_RESPONSE_STATUS = 'error'
