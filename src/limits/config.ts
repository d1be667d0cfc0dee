/**
 * A route's traffic-control keys compiled at load: CIDR lists parsed, durations and sizes
 * in numbers, inspection patterns compiled (and refused when they could backtrack
 * exponentially), limit keys parsed. The request path only reads these.
 */
import type { ConcurrencyConfig, InspectConfig, IpFilterConfig, RateLimitConfig } from '../config/schema.js'
import { IssueList, joinPath } from '../config/errors.js'
import { parseDuration, parseSize } from '../config/units.js'
import { parseCidr, type Cidr } from '../net/cidr.js'
import { refuseSlowRegex } from '../routing/matcher.js'
import { headerNameProblem } from '../config/http-names.js'

export interface CompiledIpFilter {
  /** Only these pass; null: everyone not denied. */
  readonly allow: readonly Cidr[] | null
  readonly deny: readonly Cidr[]
}

/** Who shares a limit: everyone on the route, one client address, one header value… */
export type LimitKey =
  | { readonly from: 'ip' | 'route' | 'principal' }
  | { readonly from: 'header', readonly name: string }
  | { readonly from: 'claim', readonly name: string }

export interface CompiledRateLimit {
  readonly limit: number
  readonly windowMs: number
  readonly algorithm: 'fixed-window' | 'sliding-window'
  readonly key: LimitKey
  readonly store: 'memory' | 'redis'
  readonly onStoreError: 'open' | 'closed'
}

export interface CompiledConcurrency {
  readonly limit: number
  readonly key: 'route' | 'ip'
}

/** A blocked word: a substring (bytes, compared as latin1) or a regular expression. */
export type BlockedPattern =
  | { readonly kind: 'text', readonly text: string }
  | { readonly kind: 'regex', readonly regex: RegExp }

export interface CompiledInspect {
  readonly patterns: readonly BlockedPattern[]
  /** The most body bytes inspected; what comes after passes unread. */
  readonly maxBytes: number
}

export const DEFAULT_INSPECT_MAX_BYTES = 1024 * 1024

export function compileIpFilter (spec: IpFilterConfig, path: string, issues: IssueList): CompiledIpFilter {
  const parse = (list: readonly string[], key: string): Cidr[] => list.flatMap((text, i) => issues.attempt(joinPath(joinPath(path, key), i), () => parseCidr(text)) ?? [])
  return {
    allow: spec.allow === undefined ? null : parse(spec.allow, 'allow'),
    deny: parse(spec.deny ?? [], 'deny')
  }
}

export function parseLimitKey (key: string): LimitKey {
  if (key === 'ip' || key === 'route' || key === 'principal') return { from: key }
  const colon = key.indexOf(':')
  const from = key.slice(0, colon)
  const name = key.slice(colon + 1)
  if (from === 'header') return { from, name: name.toLowerCase() }
  if (from === 'claim') return { from, name }
  throw new Error(`"${key}" is not ip, route, principal, header:<name> or claim:<name>`)
}

export function compileRateLimit (spec: RateLimitConfig, path: string, issues: IssueList): CompiledRateLimit {
  return {
    limit: spec.limit,
    windowMs: issues.attempt(joinPath(path, 'window'), () => {
      const ms = parseDuration(spec.window)
      if (ms < 1) throw new Error('must be at least 1ms')
      return ms
    }) ?? 1000,
    algorithm: spec.algorithm ?? 'fixed-window',
    key: issues.attempt(joinPath(path, 'key'), () => {
      const key = parseLimitKey(spec.key ?? 'ip')
      if (key.from === 'header') {
        const problem = headerNameProblem(key.name)
        if (problem !== null) throw new Error(`${JSON.stringify(key.name)} ${problem}`)
      }
      return key
    }) ?? { from: 'ip' },
    store: spec.store ?? 'memory',
    onStoreError: spec.onStoreError ?? 'open'
  }
}

export function compileConcurrency (spec: ConcurrencyConfig): CompiledConcurrency {
  return { limit: spec.limit, key: spec.key ?? 'route' }
}

/** `"/union\\s+select/i"` is a regex; anything else a substring. */
export function compileInspect (spec: InspectConfig, path: string, issues: IssueList): CompiledInspect {
  const patterns: BlockedPattern[] = []
  spec.block.forEach((text, i) => {
    const at = joinPath(joinPath(path, 'block'), i)
    const regex = /^\/(.+)\/([a-z]*)$/s.exec(text)
    if (regex === null) {
      patterns.push({ kind: 'text', text })
      return
    }
    const compiled = issues.attempt(at, () => {
      const [, source = '', flags = ''] = regex
      if (/[gy]/.test(flags)) throw new Error(`flag ${flags.includes('g') ? 'g' : 'y'} makes no sense for a blocked pattern`)
      let built: RegExp
      try {
        built = new RegExp(source, flags)
      } catch (err) {
        throw new Error(`invalid regex "${source}": ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`)
      }
      // A body is attacker-chosen input matched on the event loop, as paths are.
      refuseSlowRegex(source)
      return built
    })
    if (compiled !== undefined) patterns.push({ kind: 'regex', regex: compiled })
  })
  const maxBytes = spec.maxBytes === undefined
    ? DEFAULT_INSPECT_MAX_BYTES
    : (issues.attempt(joinPath(path, 'maxBytes'), () => {
        const bytes = parseSize(spec.maxBytes as string | number)
        if (bytes < 1) throw new Error('must be at least 1b')
        return bytes
      }) ?? DEFAULT_INSPECT_MAX_BYTES)
  return { patterns, maxBytes }
}
