/**
 * A route's `auth`, compiled: which keys each type takes (a key given to the wrong type is
 * refused by name), durations in milliseconds, files read. Nothing here runs per request.
 */
import type { AuthConfig } from '../config/schema.js'
import { IssueList, joinPath } from '../config/errors.js'
import { parseDuration } from '../config/units.js'

interface AuthCommon {
  /** Send the client's Authorization header upstream (default: removed). */
  readonly forward: boolean
  /** How long a custom hook or a JWKS fetch may take before the request gets 503. */
  readonly timeoutMs: number
}

export type CompiledAuth =
  | AuthCommon & { readonly type: 'bearer', readonly tokens: readonly string[] }
  | AuthCommon & { readonly type: 'basic', readonly realm: string, readonly users: Readonly<Record<string, string>> }
  | AuthCommon & {
    readonly type: 'jwt'
    readonly secret: string | null
    readonly publicKey: string | null
    readonly jwksUrl: string | null
    readonly algorithms: readonly string[] | null
    readonly issuer: readonly string[] | null
    readonly audience: readonly string[] | null
    readonly clockToleranceMs: number
    /** claim name → header sent upstream. */
    readonly forwardClaims: Readonly<Record<string, string>>
  }
  | AuthCommon & { readonly type: 'custom', readonly name: string }

const DEFAULT_TIMEOUT_MS = 5000

/** Keys of `auth` each type takes, besides type, forward and timeout. */
const KEYS_BY_TYPE: Readonly<Record<AuthConfig['type'], ReadonlySet<string>>> = {
  bearer: new Set(['tokens']),
  basic: new Set(['realm', 'users']),
  jwt: new Set(['secret', 'publicKey', 'jwksUrl', 'algorithms', 'issuer', 'audience', 'clockTolerance', 'forwardClaims']),
  custom: new Set(['name'])
}
const COMMON_KEYS: ReadonlySet<string> = new Set(['type', 'forward', 'timeout'])

export function compileAuth (spec: AuthConfig, path: string, _baseDir: string, issues: IssueList): CompiledAuth | null {
  const own = KEYS_BY_TYPE[spec.type]
  for (const key of Object.keys(spec)) {
    if (COMMON_KEYS.has(key) || own.has(key)) continue
    const owner = (Object.keys(KEYS_BY_TYPE) as AuthConfig['type'][]).find(type => KEYS_BY_TYPE[type].has(key))
    issues.add(joinPath(path, key), owner === undefined ? 'unknown key' : `is only used with type: ${owner}`)
  }
  const common: AuthCommon = {
    forward: spec.forward ?? false,
    timeoutMs: spec.timeout === undefined ? DEFAULT_TIMEOUT_MS : (issues.attempt(joinPath(path, 'timeout'), () => parseDuration(spec.timeout as string | number)) ?? DEFAULT_TIMEOUT_MS)
  }
  const required = (key: keyof AuthConfig): boolean => {
    if (spec[key] !== undefined) return true
    issues.add(joinPath(path, key), `is required with type: ${spec.type}`)
    return false
  }
  switch (spec.type) {
    case 'bearer':
      return required('tokens') ? { ...common, type: 'bearer', tokens: spec.tokens ?? [] } : null
    case 'basic':
      return required('users') ? { ...common, type: 'basic', realm: spec.realm ?? 'tollgate', users: spec.users ?? {} } : null
    case 'custom':
      return required('name') ? { ...common, type: 'custom', name: spec.name ?? '' } : null
    case 'jwt': {
      const sources = (['secret', 'publicKey', 'jwksUrl'] as const).filter(key => spec[key] !== undefined)
      if (sources.length !== 1) issues.add(path, 'a jwt route needs exactly one of secret, publicKey or jwksUrl')
      const list = (value: string | string[] | undefined): readonly string[] | null => value === undefined ? null : (typeof value === 'string' ? [value] : value)
      return {
        ...common,
        type: 'jwt',
        secret: spec.secret ?? null,
        publicKey: spec.publicKey ?? null,
        jwksUrl: spec.jwksUrl ?? null,
        algorithms: spec.algorithms ?? null,
        issuer: list(spec.issuer),
        audience: list(spec.audience),
        clockToleranceMs: spec.clockTolerance === undefined ? 0 : (issues.attempt(joinPath(path, 'clockTolerance'), () => parseDuration(spec.clockTolerance as string | number)) ?? 0),
        forwardClaims: spec.forwardClaims ?? {}
      }
    }
  }
}
