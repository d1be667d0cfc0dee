/**
 * Header rules (`requestHeaders` / `responseHeaders` of a route), compiled once, and the
 * hop-by-hop headers a proxy must not pass on (RFC 9110 §7.6.1).
 */

export interface HeaderRulesSpec {
  readonly set?: Readonly<Record<string, string>>
  readonly remove?: readonly string[]
  readonly copy?: Readonly<Record<string, string>>
}

export type HeaderMap = Record<string, string | string[] | number | undefined>

/**
 * A route's header rules, names lower-cased. `apply` edits a header object in place: copy
 * (from the incoming values), then remove, then set. The request side reads the lists
 * directly (see src/proxy/upstream-headers.ts) to build its headers in one pass.
 */
export interface HeaderRules {
  readonly set: ReadonlyMap<string, string>
  readonly remove: ReadonlySet<string>
  /** [from, to] pairs. */
  readonly copy: readonly (readonly [string, string])[]
  apply (headers: HeaderMap): void
}

/** null when the rules are empty. */
export function compileHeaderRules (spec: HeaderRulesSpec | undefined): HeaderRules | null {
  const copy = Object.entries(spec?.copy ?? {}).map(([from, to]) => [from.toLowerCase(), to.toLowerCase()] as const)
  const remove = new Set((spec?.remove ?? []).map(name => name.toLowerCase()))
  const set = new Map(Object.entries(spec?.set ?? {}).map(([name, value]) => [name.toLowerCase(), value] as const))
  if (copy.length === 0 && remove.size === 0 && set.size === 0) return null
  return {
    set,
    remove,
    copy,
    apply (headers) {
      for (const [from, to] of copy) {
        const value = headers[from]
        if (value !== undefined) headers[to] = value
      }
      for (const name of remove) delete headers[name]
      for (const [name, value] of set) headers[name] = value
    }
  }
}

export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade'
])

/**
 * Response headers without the hop-by-hop ones (and those the Connection header names),
 * returned as a new object when anything has to go. Upstream responses nearly always
 * carry `connection` and `keep-alive`; deleting them would turn the headers object into a
 * slow dictionary for everything that reads it afterwards, while a fresh copy stays fast.
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
