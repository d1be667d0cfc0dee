/**
 * Reading the caching headers: Cache-Control and CDN-Cache-Control directives (RFC 9111
 * §5.2, RFC 9213), Age (§5.1), HTTP dates (Expires, Date, Last-Modified) and entity tags.
 * What a malformed value means is decided here, once, so that the policy reads plain numbers.
 */

/**
 * The greatest delta-seconds a cache keeps: larger values, and calculations that would
 * overflow, are held at 2^31 (RFC 9111 §1.2.2).
 */
export const MAX_DELTA_SECONDS = 2147483648

export interface Directives {
  /** Seconds; an invalid value counts as 0 (stale at once). null: absent. */
  readonly maxAge: number | null
  readonly sMaxage: number | null
  readonly noStore: boolean
  /** Unqualified `no-cache`: every use is revalidated. */
  readonly noCache: boolean
  /** `no-cache="a, b"`: those fields are not stored. */
  readonly noCacheFields: readonly string[]
  /** Unqualified `private`: a shared cache does not store it. */
  readonly private: boolean
  /** `private="a, b"`: stored without those fields. */
  readonly privateFields: readonly string[]
  readonly public: boolean
  readonly mustRevalidate: boolean
  readonly proxyRevalidate: boolean
  /** Seconds (RFC 5861); null: absent or invalid. */
  readonly staleWhileRevalidate: number | null
  readonly staleIfError: number | null
  /** Request side. */
  readonly onlyIfCached: boolean
  readonly minFresh: number | null
  /** How many directives were read: 0 for an absent or empty header. */
  readonly count: number
  /** A value did not parse (a delta-seconds that is not digits, an unclosed quote). */
  readonly malformed: boolean
}

const NONE: Directives = Object.freeze({
  maxAge: null,
  sMaxage: null,
  noStore: false,
  noCache: false,
  noCacheFields: [],
  private: false,
  privateFields: [],
  public: false,
  mustRevalidate: false,
  proxyRevalidate: false,
  staleWhileRevalidate: null,
  staleIfError: null,
  onlyIfCached: false,
  minFresh: null,
  count: 0,
  malformed: false
})

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * Directives of a Cache-Control-like header (several lines are one list). Names are
 * case-insensitive; a directive given twice keeps its first value (RFC 9111 §4.2.1).
 */
export function parseDirectives (value: string | readonly string[] | number | undefined): Directives {
  if (value === undefined) return NONE
  const text = Array.isArray(value) ? value.join(',') : String(value)
  if (text.trim() === '') return NONE
  const out: Mutable<Directives> = { ...NONE, noCacheFields: [], privateFields: [] }
  const seen = new Set<string>()
  for (const [name, argument] of directiveList(text)) {
    if (seen.has(name)) continue
    seen.add(name)
    out.count++
    if (argument === UNCLOSED) {
      out.malformed = true
      continue
    }
    switch (name) {
      case 'max-age': out.maxAge = seconds(argument, out) ?? 0; break
      case 's-maxage': out.sMaxage = seconds(argument, out) ?? 0; break
      case 'no-store': out.noStore = true; break
      case 'no-cache':
        if (argument === null) out.noCache = true
        else out.noCacheFields = fieldNames(argument)
        break
      case 'private':
        if (argument === null) out.private = true
        else out.privateFields = fieldNames(argument)
        break
      case 'public': out.public = true; break
      case 'must-revalidate': out.mustRevalidate = true; break
      case 'proxy-revalidate': out.proxyRevalidate = true; break
      case 'stale-while-revalidate': out.staleWhileRevalidate = seconds(argument, out); break
      case 'stale-if-error': out.staleIfError = seconds(argument, out); break
      case 'only-if-cached': out.onlyIfCached = true; break
      case 'min-fresh': out.minFresh = deltaSeconds(argument); break
      default: out.count-- // an extension directive this cache does not act on
    }
  }
  return out
}

/** What an unclosed quoted value reads as: the directive is malformed. */
const UNCLOSED = '\u0000unclosed'

/** A directive's delta-seconds; a value that is not one marks the directives malformed. */
function seconds (argument: string | null, out: Mutable<Directives>): number | null {
  const value = deltaSeconds(argument)
  if (value === null) out.malformed = true
  return value
}

/** `name[=value]` pairs of a comma list; quoted values may hold commas. */
function * directiveList (text: string): Generator<[string, string | null]> {
  let i = 0
  const n = text.length
  while (i < n) {
    while (i < n && (text[i] === ',' || text[i] === ' ' || text[i] === '\t')) i++
    const nameStart = i
    while (i < n && text[i] !== '=' && text[i] !== ',') i++
    const name = text.slice(nameStart, i).trim().toLowerCase()
    let argument: string | null = null
    if (i < n && text[i] === '=') {
      i++
      while (i < n && (text[i] === ' ' || text[i] === '\t')) i++
      if (text[i] === '"') {
        i++
        let quoted = ''
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < n) i++
          quoted += text[i]
          i++
        }
        argument = i < n ? quoted : UNCLOSED
        i++ // the closing quote
        while (i < n && text[i] !== ',') i++
      } else {
        const start = i
        while (i < n && text[i] !== ',') i++
        argument = text.slice(start, i).trim()
      }
    }
    if (name !== '') yield [name, argument]
  }
}

/** delta-seconds: digits only; null when invalid; held at 2^31. */
export function deltaSeconds (argument: string | null): number | null {
  if (argument === null || !/^\d+$/.test(argument)) return null
  const seconds = Number(argument)
  return seconds > MAX_DELTA_SECONDS ? MAX_DELTA_SECONDS : seconds
}

function fieldNames (argument: string): string[] {
  return argument.split(',').map(name => name.trim().toLowerCase()).filter(name => name !== '')
}

/**
 * Age in seconds: the first valid value (digits only) of however many the header has;
 * invalid ones (negative, fractional, words) are ignored (RFC 9111 §5.1). null: none valid.
 */
export function parseAge (value: string | readonly string[] | number | undefined): number | null {
  if (value === undefined) return null
  const items = Array.isArray(value) ? value.flatMap(line => String(line).split(',')) : String(value).split(',')
  for (const item of items) {
    const seconds = deltaSeconds(item.trim())
    if (seconds !== null) return seconds
  }
  return null
}

/** An HTTP date (IMF-fixdate, RFC 850 or asctime) in ms since the epoch; NaN when invalid. */
export function parseHttpDate (value: string | readonly string[] | number | undefined): number {
  if (value === undefined) return Number.NaN
  const text = Array.isArray(value) ? value[0] : String(value)
  if (text === undefined || !/^[A-Za-z]{3}/.test(text.trim())) return Number.NaN
  return Date.parse(text)
}

/** The first line of a header that may have been repeated. */
export function firstValue (value: string | readonly string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined
  return Array.isArray(value) ? (value[0] as string | undefined) : String(value)
}

/**
 * Entity tags of an If-None-Match list; `*` is kept as '*'. Weak tags lose their `W/`.
 * Read in one pass (no regex): the header is the client's, up to the header size limit.
 */
export function entityTags (value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return []
  const text = Array.isArray(value) ? value.join(',') : String(value)
  const tags: string[] = []
  let i = 0
  const n = text.length
  while (i < n) {
    const c = text[i]
    if (c === '*') {
      tags.push('*')
      i++
    } else if (c === '"' || (c === 'W' && text[i + 1] === '/' && text[i + 2] === '"')) {
      const open = c === '"' ? i : i + 2
      const close = text.indexOf('"', open + 1)
      if (close < 0) break
      tags.push(text.slice(open, close + 1))
      i = close + 1
    } else {
      i++
    }
  }
  return tags
}

/** An ETag header without its weakness prefix, for the weak comparison (RFC 9110 §8.8.3.2). */
export function opaqueTag (etag: string): string {
  return etag.startsWith('W/') ? etag.slice(2) : etag
}
