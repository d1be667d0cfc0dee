/**
 * The route table: host, path, methods and headers of every route, compiled once at load,
 * matched in config order (first match wins) against a normalised path.
 */
import safeRegex from 'safe-regex2'
import { normalizePath } from './path.js'

export interface RouteMatchSpec {
  readonly host?: string | readonly string[]
  readonly path?: string
  readonly methods?: readonly string[]
  readonly headers?: Readonly<Record<string, string>>
}

export type PathPattern =
  | { readonly kind: 'any' }
  | { readonly kind: 'exact', readonly path: string }
  | { readonly kind: 'prefix', readonly prefix: string, readonly prefixSlash: string }
  | { readonly kind: 'regex', readonly regex: RegExp, readonly source: string }

/** What a request matched. */
export class RouteMatch<T> {
  readonly route: T
  /** The normalised path, without the query. */
  readonly path: string
  /** The raw query, without `?` ('' when none). */
  readonly query: string
  /** The request target as routed: the normalised path and the raw query. */
  readonly url: string
  /** Regex groups: `captures[0]` is group 1. null for non-regex paths. */
  readonly captures: readonly string[] | null
  /** Named regex groups, or null. */
  readonly named: Readonly<Record<string, string>> | null
  /** Where `rest` starts in `path`: cut only if someone reads it. */
  private readonly restStart: number

  constructor (route: T, path: string, query: string, url: string, restStart: number, captures: readonly string[] | null, named: Readonly<Record<string, string>> | null) {
    this.route = route
    this.path = path
    this.query = query
    this.url = url
    this.restStart = restStart
    this.captures = captures
    this.named = named
  }

  /** What a prefix pattern's `*` matched, without its leading slash ('' for an exact match). */
  get rest (): string {
    return this.restStart >= this.path.length ? '' : this.path.slice(this.restStart)
  }
}

/**
 * `/x` exact, `/x/*` prefix (matches `/x` and `/x/...`, not `/xy`), `/*` or absent: any,
 * `~ <regex>` a regular expression on the normalised path. Throws a readable Error.
 */
export function compilePathPattern (path: string | undefined): PathPattern {
  if (path === undefined || path === '/*' || path === '*') return { kind: 'any' }
  if (path.startsWith('~')) {
    const source = path.slice(1).trim()
    if (source === '') throw new Error('the regex is empty')
    let regex: RegExp
    try {
      regex = new RegExp(source)
    } catch (err) {
      throw new Error(`invalid regex "${source}": ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`)
    }
    refuseSlowRegex(source)
    return { kind: 'regex', regex, source }
  }
  if (!path.startsWith('/')) throw new Error(`"${path}" must start with "/" (or "~" for a regex)`)
  if (path.endsWith('/*')) return { kind: 'prefix', prefix: path.slice(0, -2), prefixSlash: path.slice(0, -1) }
  if (path.includes('*')) throw new Error(`"${path}": "*" is only allowed at the end, as "/x/*"`)
  return { kind: 'exact', path }
}

/** safe-regex2's default, and find-my-way's: more quantifiers than this in one regex is refused. */
const MAX_REGEX_REPETITIONS = 25

/**
 * Every request's path is matched against the route regexes on the event loop: one regex
 * that backtracks exponentially (`^/p/([a-z0-9]+-?)*$` and 31 bytes of path take seconds)
 * stalls every request of the process. Refused at load the way Fastify's router refuses
 * its own: safe-regex2 reports a quantifier inside a repeated group (star height > 1), and
 * more than 25 quantifiers in one regex. Its check is conservative: `?` counts as a
 * repetition, so `(/.*)?` is refused too (`(/.*|)` says the same and passes).
 */
export function refuseSlowRegex (source: string): void {
  if (safeRegex(source, { limit: Number.POSITIVE_INFINITY })) {
    if (safeRegex(source, { limit: MAX_REGEX_REPETITIONS })) return
    throw new Error(`the regex "${source}" has more than ${MAX_REGEX_REPETITIONS} quantifiers and may take very long on some paths; simplify it`)
  }
  // safe-regex2's parser does not know lookbehind, and then reports any regex as unsafe.
  if (/\(\?<[=!]/.test(source)) {
    throw new Error(`the regex "${source}" uses a lookbehind ((?<= or (?<!), which the check for slow regexes cannot read; rewrite it without one`)
  }
  throw new Error(`the regex "${source}" may take exponential time on some paths (nested quantifiers); rewrite it without a repeated group that itself repeats`)
}

type HostTest = (host: string) => boolean
type Headers = Readonly<Record<string, string | string[] | undefined>>

interface CompiledEntry<T> {
  readonly route: T
  readonly host: HostTest | null
  readonly path: PathPattern
  readonly methods: ReadonlySet<string> | null
  readonly headers: readonly (readonly [string, string])[] | null
}

export class RouteTable<T> {
  private readonly entries: readonly CompiledEntry<T>[]
  /** Whether any route looks at the host: if none does, the Host header is never parsed. */
  private readonly usesHost: boolean

  constructor (entries: readonly { spec: RouteMatchSpec, route: T }[]) {
    this.entries = entries.map(({ spec, route }) => ({
      route,
      host: compileHost(spec.host),
      path: compilePathPattern(spec.path),
      methods: spec.methods === undefined ? null : new Set(spec.methods.map(m => m.toUpperCase())),
      headers: spec.headers === undefined ? null : Object.entries(spec.headers).map(([k, v]) => [k.toLowerCase(), v] as const)
    }))
    this.usesHost = this.entries.some(e => e.host !== null)
  }

  /**
   * The first route matching the request; null when none; 'bad-path' when the path is
   * unsafe. TRACE only matches routes that list it in `methods`: it echoes the request,
   * credentials included, and no route gets it by default.
   */
  match (method: string, host: string | undefined, url: string, headers: Headers): RouteMatch<T> | null | 'bad-path' {
    const q = url.indexOf('?')
    const rawPath = q < 0 ? url : url.slice(0, q)
    const path = normalizePath(rawPath)
    if (path === null) return 'bad-path'
    const query = q < 0 ? '' : url.slice(q + 1)
    const target = path === rawPath ? url : (q < 0 ? path : path + url.slice(q))
    const hostname = host === undefined || !this.usesHost ? '' : bareHost(host)
    for (const entry of this.entries) {
      if (entry.methods === null ? method === 'TRACE' : !entry.methods.has(method)) continue
      if (entry.host !== null && !entry.host(hostname)) continue
      if (entry.headers !== null && !headersMatch(entry.headers, headers)) continue
      const found = matchPath(entry, path, query, target)
      if (found !== null) return found
    }
    return null
  }
}

function matchPath<T> (entry: CompiledEntry<T>, path: string, query: string, url: string): RouteMatch<T> | null {
  const pattern = entry.path
  switch (pattern.kind) {
    case 'any':
      return new RouteMatch(entry.route, path, query, url, 1, null, null)
    case 'exact':
      return path === pattern.path ? new RouteMatch(entry.route, path, query, url, path.length, null, null) : null
    case 'prefix': {
      const prefix = pattern.prefix
      if (path === prefix || path === pattern.prefixSlash) return new RouteMatch(entry.route, path, query, url, path.length, null, null)
      if (path.length > prefix.length && path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47) {
        return new RouteMatch(entry.route, path, query, url, prefix.length + 1, null, null)
      }
      return null
    }
    case 'regex': {
      const m = pattern.regex.exec(path)
      if (m === null) return null
      const captures = m.slice(1).map(c => c ?? '')
      return new RouteMatch(entry.route, path, query, url, path.length, captures, m.groups === undefined ? null : { ...m.groups } as Record<string, string>)
    }
  }
}

function headersMatch (wanted: readonly (readonly [string, string])[], headers: Headers): boolean {
  for (const [name, value] of wanted) {
    const actual = headers[name]
    if ((Array.isArray(actual) ? actual[0] : actual) !== value) return false
  }
  return true
}

function compileHost (host: string | readonly string[] | undefined): HostTest | null {
  if (host === undefined) return null
  const list = (typeof host === 'string' ? [host] : host).map(h => h.toLowerCase())
  const exact = new Set(list.filter(h => !h.startsWith('*.')))
  const suffixes = list.filter(h => h.startsWith('*.')).map(h => h.slice(1))
  if (suffixes.length === 0) return (name) => exact.has(name)
  return (name) => exact.has(name) || suffixes.some(s => name.length > s.length && name.endsWith(s))
}

/**
 * `Example.COM:8080` → `example.com`; `[::1]:8080` → `::1`. One trailing dot goes too:
 * `admin.example.com.` is the same fully qualified name as `admin.example.com`, and a
 * route on the one must not be slipped past by sending the other.
 */
export function bareHost (host: string): string {
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf(']')
    return (close < 0 ? host.slice(1) : host.slice(1, close)).toLowerCase()
  }
  const colon = host.lastIndexOf(':')
  let end = colon >= 0 ? colon : host.length
  if (end > 1 && host.charCodeAt(end - 1) === 46 /* . */) end--
  const name = end === host.length ? host : host.slice(0, end)
  return hasUpper(name) ? name.toLowerCase() : name
}

function hasUpper (text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 65 && c <= 90) return true
  }
  return false
}
