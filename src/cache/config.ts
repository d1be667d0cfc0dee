/**
 * The `cache` sections, compiled: the top-level store and each route's policy, with every
 * duration and size in numbers and the purge list parsed once.
 */
import type { CacheConfig, RouteCacheConfig } from '../config/schema.js'
import { joinPath, type IssueList } from '../config/errors.js'
import { parseDuration, parseSize } from '../config/units.js'
import { parseCidr, type Cidr } from '../net/cidr.js'

export const CACHE_DEFAULTS = Object.freeze({
  store: 'memory' as const,
  maxSize: 256 * 1024 * 1024,
  maxObjectSize: 1024 * 1024,
  purgeAllow: ['127.0.0.1/32', '::1/128'] as readonly string[]
})

export interface CompiledCache {
  readonly store: 'memory' | 'redis'
  /** Memory store: bytes it may hold. */
  readonly maxSize: number
}

export interface CompiledRouteCache {
  /** Freshness when the origin gives none; 0 = none. */
  readonly ttlMs: number
  readonly staleWhileRevalidateMs: number
  readonly staleIfErrorMs: number
  readonly lock: boolean
  readonly maxObjectSize: number
  /** Who may send PURGE. */
  readonly purgeAllow: readonly Cidr[]
  /** Remove CDN-Cache-Control from what the client gets. */
  readonly consumeCdnHeader: boolean
}

export function compileCache (spec: CacheConfig | undefined, issues: IssueList): CompiledCache {
  return {
    store: spec?.store ?? CACHE_DEFAULTS.store,
    maxSize: spec?.maxSize === undefined ? CACHE_DEFAULTS.maxSize : (issues.attempt('cache.maxSize', () => parseSize(spec.maxSize as string | number)) ?? CACHE_DEFAULTS.maxSize)
  }
}

export function compileRouteCache (spec: RouteCacheConfig, path: string, issues: IssueList): CompiledRouteCache {
  const ms = (value: string | number | undefined, key: string): number =>
    value === undefined ? 0 : (issues.attempt(joinPath(path, key), () => parseDuration(value)) ?? 0)
  const allow = spec.purge?.allow ?? CACHE_DEFAULTS.purgeAllow
  const allowPath = joinPath(joinPath(path, 'purge'), 'allow')
  return {
    ttlMs: ms(spec.ttl, 'ttl'),
    staleWhileRevalidateMs: ms(spec.staleWhileRevalidate, 'staleWhileRevalidate'),
    staleIfErrorMs: ms(spec.staleIfError, 'staleIfError'),
    lock: spec.lock ?? true,
    maxObjectSize: spec.maxObjectSize === undefined
      ? CACHE_DEFAULTS.maxObjectSize
      : (issues.attempt(joinPath(path, 'maxObjectSize'), () => parseSize(spec.maxObjectSize as string | number)) ?? CACHE_DEFAULTS.maxObjectSize),
    purgeAllow: allow.flatMap((text, i) => issues.attempt(joinPath(allowPath, i), () => parseCidr(text)) ?? []),
    consumeCdnHeader: spec.cdnHeader === 'consume'
  }
}
