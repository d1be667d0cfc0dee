/**
 * Header rules (`requestHeaders` / `responseHeaders` of a route) compiled into one
 * function, and the hop-by-hop headers a proxy must not pass on (RFC 9110 §7.6.1).
 */

export interface HeaderRulesSpec {
  readonly set?: Readonly<Record<string, string>>
  readonly remove?: readonly string[]
  readonly copy?: Readonly<Record<string, string>>
}

export type HeaderMap = Record<string, string | string[] | number | undefined>

/** null when the rules are empty. Applies copy (from the incoming values), then remove, then set. */
export function compileHeaderRules (spec: HeaderRulesSpec | undefined): ((headers: HeaderMap) => void) | null {
  const copy = Object.entries(spec?.copy ?? {}).map(([from, to]) => [from.toLowerCase(), to.toLowerCase()] as const)
  const remove = (spec?.remove ?? []).map(name => name.toLowerCase())
  const set = Object.entries(spec?.set ?? {}).map(([name, value]) => [name.toLowerCase(), value] as const)
  if (copy.length === 0 && remove.length === 0 && set.length === 0) return null
  return (headers) => {
    for (const [from, to] of copy) {
      const value = headers[from]
      if (value !== undefined) headers[to] = value
    }
    for (const name of remove) delete headers[name]
    for (const [name, value] of set) headers[name] = value
  }
}

export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade'
])

/** Removes hop-by-hop headers in place, including those the Connection header names. */
export function stripHopByHop (headers: HeaderMap): void {
  const connection = headers.connection
  if (connection !== undefined) {
    // Almost always just "keep-alive" or "close": no list to take apart then.
    if (connection !== 'keep-alive' && connection !== 'close') {
      for (const name of String(connection).split(',')) {
        const trimmed = name.trim().toLowerCase()
        if (trimmed !== '') delete headers[trimmed]
      }
    }
    delete headers.connection
  }
  if (headers['keep-alive'] !== undefined) delete headers['keep-alive']
  if (headers['proxy-connection'] !== undefined) delete headers['proxy-connection']
  if (headers['proxy-authenticate'] !== undefined) delete headers['proxy-authenticate']
  if (headers['proxy-authorization'] !== undefined) delete headers['proxy-authorization']
  if (headers.te !== undefined && headers.te !== 'trailers') delete headers.te
  if (headers.trailer !== undefined) delete headers.trailer
  if (headers['transfer-encoding'] !== undefined) delete headers['transfer-encoding']
  if (headers.upgrade !== undefined) delete headers.upgrade
}

/**
 * The same as stripHopByHop, for response headers, returned as a new object when anything
 * has to go. Upstream responses nearly always carry `connection` and `keep-alive`;
 * deleting them would turn the headers object into a slow dictionary for everything that
 * reads it afterwards, while a fresh copy stays a fast object.
 */
export function withoutHopByHop (headers: HeaderMap): HeaderMap {
  const connection = headers.connection
  let listed: string[] | null = null
  if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') {
    listed = String(connection).split(',').map(name => name.trim().toLowerCase())
  }
  let found = false
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || (listed !== null && listed.includes(name))) {
      found = true
      break
    }
  }
  if (!found) return headers
  const kept: HeaderMap = {}
  for (const name in headers) {
    if (HOP_BY_HOP.has(name)) {
      if (name === 'te' && headers.te === 'trailers') kept.te = 'trailers'
      continue
    }
    if (listed !== null && listed.includes(name)) continue
    kept[name] = headers[name]
  }
  return kept
}
