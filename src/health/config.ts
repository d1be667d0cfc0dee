/**
 * An upstream's `healthCheck`, `passive` and `notify`, compiled: durations in
 * milliseconds, the expected body as a substring or a checked regex, the custom check
 * looked up by name. Settings that cannot work are refused as `path: message` issues: a
 * timeout longer than the interval, a key the check's type does not use, a custom
 * check nobody registered. Nothing here runs per request.
 */
import { createHash } from 'node:crypto'
import type { UpstreamConfig } from '../config/schema.js'
import { IssueList, joinPath } from '../config/errors.js'
import { formatDuration, parseDuration } from '../config/units.js'
import { headerValueProblem } from '../config/http-names.js'
import { parseHostPort } from '../net/address.js'
import type { HealthCheckFunction, HealthCheckRegistry } from './define.js'
import { compileBodyMatch, type BodyMatch } from './body-match.js'
import type { CompiledPassive } from './passive.js'

interface CheckCommon {
  readonly intervalMs: number
  readonly timeoutMs: number
  readonly healthyThreshold: number
  readonly unhealthyThreshold: number
}

export type CompiledHealthCheck =
  | CheckCommon & { readonly type: 'tcp' }
  | CheckCommon & {
    readonly type: 'http'
    readonly path: string
    /** The Host header; null: the upstream's tls.servername, else the target's address. */
    readonly host: string | null
    /** Statuses that pass; null: any 2xx or 3xx. */
    readonly expectStatus: readonly number[] | null
    readonly expectBody: BodyMatch | null
    /** The upstream's protocol: the check speaks it, so it checks what traffic will use. */
    readonly protocol: 'http1' | 'h2' | 'h2c'
  }
  | CheckCommon & { readonly type: 'custom', readonly name: string, readonly check: HealthCheckFunction }

export interface CompiledHealth {
  readonly check: CompiledHealthCheck | null
  readonly passive: CompiledPassive | null
  /** Where health changes are POSTed, or null. */
  readonly webhook: string | null
  /**
   * Equal fingerprints mean unchanged health settings: a reload keeps the probes running.
   * A change restarts the probes only (the upstream keeps its connections).
   */
  readonly fingerprint: string
}

export const HEALTH_DEFAULTS = Object.freeze({
  // nginx's `health_check` (an HTTP GET of `/` every 5 s, 2xx and 3xx pass, one result
  // flips the state both ways); Pingora's checks give up after 1 s.
  type: 'http' as const,
  path: '/',
  intervalMs: 5_000,
  timeoutMs: 1_000,
  healthyThreshold: 1,
  unhealthyThreshold: 1,
  // Envoy's outlier detection: 5 consecutive failures eject a host for 30 s.
  consecutiveFailures: 5,
  ejectForMs: 30_000,
  passiveOn: Object.freeze(['connect-error', 'timeout', 502, 503, 504] as const)
})

/** Checks more often than this are load, not checking. */
export const MIN_INTERVAL_MS = 10

/** Keys of `healthCheck` each type takes, besides type and the timing keys. */
const KEYS_BY_TYPE: Readonly<Record<CompiledHealthCheck['type'], ReadonlySet<string>>> = {
  tcp: new Set(),
  http: new Set(['path', 'host', 'expectStatus', 'expectBody']),
  custom: new Set(['name'])
}
const COMMON_KEYS: ReadonlySet<string> = new Set(['type', 'interval', 'timeout', 'healthyThreshold', 'unhealthyThreshold'])

type HealthKeys = Pick<UpstreamConfig, 'healthCheck' | 'passive' | 'notify' | 'protocol'>

export function compileHealth (upstream: HealthKeys, path: string, registry: HealthCheckRegistry | undefined, issues: IssueList): CompiledHealth {
  const { healthCheck, passive, notify } = upstream
  return {
    check: healthCheck === undefined ? null : compileCheck(healthCheck, joinPath(path, 'healthCheck'), registry, issues, upstream.protocol ?? 'http1'),
    passive: passive === undefined ? null : compilePassive(passive, joinPath(path, 'passive'), issues),
    webhook: notify === undefined ? null : compileWebhook(notify.webhook, joinPath(joinPath(path, 'notify'), 'webhook'), issues),
    fingerprint: createHash('sha256').update(JSON.stringify([healthCheck ?? null, passive ?? null, notify ?? null])).digest('base64url')
  }
}

function compileCheck (spec: NonNullable<HealthKeys['healthCheck']>, path: string, registry: HealthCheckRegistry | undefined, issues: IssueList, protocol: 'http1' | 'h2' | 'h2c'): CompiledHealthCheck | null {
  const type = spec.type ?? HEALTH_DEFAULTS.type
  const own = KEYS_BY_TYPE[type]
  for (const key of Object.keys(spec)) {
    if (COMMON_KEYS.has(key) || own.has(key)) continue
    const owner = (Object.keys(KEYS_BY_TYPE) as CompiledHealthCheck['type'][]).find(t => KEYS_BY_TYPE[t].has(key))
    issues.add(joinPath(path, key), owner === undefined ? 'unknown key' : `is only used with type: ${owner}`)
  }
  const intervalMs = durationAt(spec.interval, HEALTH_DEFAULTS.intervalMs, joinPath(path, 'interval'), issues)
  const timeoutMs = durationAt(spec.timeout, HEALTH_DEFAULTS.timeoutMs, joinPath(path, 'timeout'), issues)
  if (intervalMs < MIN_INTERVAL_MS) {
    issues.add(joinPath(path, 'interval'), `must be at least ${MIN_INTERVAL_MS}ms`)
  } else if (timeoutMs < 1) {
    issues.add(joinPath(path, 'timeout'), 'must be at least 1ms')
  } else if (timeoutMs > intervalMs) {
    // Each probe must end by the time the next one of its target is due: a probe still
    // running is never started again, so a longer timeout would silently skip checks.
    // Equal is allowed (the contract's own example is `interval: 1s, timeout: 1s`).
    issues.add(joinPath(path, 'timeout'), `must not be longer than interval (${formatDuration(intervalMs)}), so that each check ends by the time the next is due`)
  }
  const common: CheckCommon = {
    intervalMs,
    timeoutMs,
    healthyThreshold: spec.healthyThreshold ?? HEALTH_DEFAULTS.healthyThreshold,
    unhealthyThreshold: spec.unhealthyThreshold ?? HEALTH_DEFAULTS.unhealthyThreshold
  }
  switch (type) {
    case 'tcp':
      return { ...common, type }
    case 'http': {
      const host = spec.host ?? null
      if (host !== null) issues.attempt(joinPath(path, 'host'), () => checkHost(host))
      return {
        ...common,
        type,
        path: spec.path ?? HEALTH_DEFAULTS.path,
        host,
        expectStatus: spec.expectStatus === undefined ? null : [...new Set(spec.expectStatus)],
        expectBody: spec.expectBody === undefined ? null : (issues.attempt(joinPath(path, 'expectBody'), () => compileBodyMatch(spec.expectBody as string)) ?? null),
        protocol
      }
    }
    case 'custom': {
      const name = spec.name
      if (name === undefined) {
        issues.add(joinPath(path, 'name'), 'is required with type: custom')
        return null
      }
      const check = registry?.get(name)
      if (check === undefined) {
        const known = registry?.names ?? []
        issues.add(joinPath(path, 'name'), `no health check named "${name}" is registered (export defineHealthCheck("${name}", …) from a module in routes/ or from the config module)${known.length > 0 ? `; registered: ${known.join(', ')}` : ''}`)
        return null
      }
      return { ...common, type, name, check }
    }
  }
}

function checkHost (host: string): void {
  const problem = headerValueProblem(host)
  if (problem !== null) throw new Error(problem)
  parseHostPort(host, 80)
}

function compilePassive (spec: NonNullable<HealthKeys['passive']>, path: string, issues: IssueList): CompiledPassive {
  const ejectForMs = durationAt(spec.ejectFor, HEALTH_DEFAULTS.ejectForMs, joinPath(path, 'ejectFor'), issues)
  if (ejectForMs < 1) issues.add(joinPath(path, 'ejectFor'), 'must be at least 1ms')
  const on: readonly (string | number)[] = spec.on ?? HEALTH_DEFAULTS.passiveOn
  return {
    consecutiveFailures: spec.consecutiveFailures ?? HEALTH_DEFAULTS.consecutiveFailures,
    ejectForMs,
    onConnectError: on.includes('connect-error'),
    onTimeout: on.includes('timeout'),
    statuses: new Set(on.filter((x): x is number => typeof x === 'number'))
  }
}

function compileWebhook (url: string, path: string, issues: IssueList): string | null {
  return issues.attempt(path, () => {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new Error(`"${url}" is not a URL`)
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('must be an http:// or https:// URL')
    return parsed.href
  }) ?? null
}

function durationAt (value: string | number | undefined, fallback: number, path: string, issues: IssueList): number {
  if (value === undefined) return fallback
  return issues.attempt(path, () => parseDuration(value)) ?? fallback
}
