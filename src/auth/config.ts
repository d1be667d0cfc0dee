/**
 * A route's `auth`, compiled: which keys each type takes (a key given to the wrong type is
 * refused by name), durations in milliseconds, the public key file read and parsed,
 * algorithms checked against the key, the JWKS URL parsed, basic-auth hashes checked, a
 * custom hook found in the load's registry. Nothing here runs per request.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import type { AuthConfig } from '../config/schema.js'
import { IssueList, joinPath } from '../config/errors.js'
import { parseDuration } from '../config/units.js'
import { headerNameProblem, headerValueProblem } from '../config/http-names.js'
import { HOP_BY_HOP } from '../routing/header-rules.js'
import { scryptHashProblem } from './basic.js'
import type { AuthHook, AuthRegistry } from './custom.js'

interface AuthCommon {
  /** Send the client's Authorization header upstream (default: removed). */
  readonly forward: boolean
  /** How long a custom hook or a JWKS fetch may take before the request gets 503. */
  readonly timeoutMs: number
  /** The realm named in the `WWW-Authenticate` challenge. */
  readonly realm: string
}

/** `auth.type: jwt`, compiled: what the JWT authenticator is built with. */
export interface CompiledJwtAuth extends AuthCommon {
  readonly type: 'jwt'
  readonly secret: string | null
  /** The public key, as SPKI PEM (read from the file `publicKey` names). */
  readonly publicKey: string | null
  readonly jwksUrl: string | null
  /** The accepted `alg` values: the configured ones, or the defaults for the key. */
  readonly algorithms: readonly string[]
  readonly issuer: readonly string[] | null
  readonly audience: readonly string[] | null
  readonly clockToleranceMs: number
  /** claim name → header sent upstream (lower case). */
  readonly forwardClaims: Readonly<Record<string, string>>
}

export type CompiledAuth =
  | AuthCommon & { readonly type: 'bearer', readonly tokens: readonly string[] }
  | AuthCommon & { readonly type: 'basic', readonly users: Readonly<Record<string, string>> }
  | CompiledJwtAuth
  | AuthCommon & { readonly type: 'custom', readonly name: string, readonly hook: AuthHook }

export const DEFAULT_AUTH_TIMEOUT_MS = 5000
export const DEFAULT_REALM = 'tollgate'

/** Keys of `auth` each type takes, besides the common ones. */
const KEYS_BY_TYPE: Readonly<Record<AuthConfig['type'], ReadonlySet<string>>> = {
  bearer: new Set(['tokens']),
  basic: new Set(['users']),
  jwt: new Set(['secret', 'publicKey', 'jwksUrl', 'algorithms', 'issuer', 'audience', 'clockTolerance', 'forwardClaims']),
  custom: new Set(['name'])
}
const COMMON_KEYS: ReadonlySet<string> = new Set(['type', 'forward', 'timeout', 'realm'])

export const HMAC_ALGORITHMS: readonly string[] = ['HS256', 'HS384', 'HS512']
const RSA_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
const EC_ALGORITHMS: Readonly<Record<string, string>> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }
/** Every algorithm a public key can verify (what a JWKS route accepts by default). */
export const PUBLIC_KEY_ALGORITHMS: readonly string[] = [...RSA_ALGORITHMS, 'ES256', 'ES384', 'ES512', 'EdDSA']
const KNOWN_ALGORITHMS: ReadonlySet<string> = new Set([...HMAC_ALGORITHMS, ...PUBLIC_KEY_ALGORITHMS])

/**
 * Headers a claim may not be forwarded as: the gateway writes them itself, or they frame
 * the request (a claim as `content-length` would let a token's issuer cut the body).
 */
const NOT_FORWARDABLE: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP, 'host', 'content-length', 'expect', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'
])

export interface CompileAuthOptions {
  /** Relative file paths (`publicKey`) are resolved from here. */
  readonly baseDir: string
  /** The custom hooks this load registered. */
  readonly registry?: AuthRegistry
}

export function compileAuth (spec: AuthConfig, path: string, options: CompileAuthOptions, issues: IssueList): CompiledAuth | null {
  const own = KEYS_BY_TYPE[spec.type]
  for (const key of Object.keys(spec)) {
    if (COMMON_KEYS.has(key) || own.has(key)) continue
    const owner = (Object.keys(KEYS_BY_TYPE) as AuthConfig['type'][]).find(type => KEYS_BY_TYPE[type].has(key))
    issues.add(joinPath(path, key), owner === undefined ? 'unknown key' : `is only used with type: ${owner}`)
  }
  const realm = spec.realm ?? DEFAULT_REALM
  const realmProblem = headerValueProblem(realm)
  if (realmProblem !== null) issues.add(joinPath(path, 'realm'), realmProblem)
  let timeoutMs = DEFAULT_AUTH_TIMEOUT_MS
  if (spec.timeout !== undefined) {
    timeoutMs = issues.attempt(joinPath(path, 'timeout'), () => parseDuration(spec.timeout as string | number)) ?? DEFAULT_AUTH_TIMEOUT_MS
    // 0 would answer every request with 503 at once; "no bound" is what the timeout prevents.
    if (timeoutMs < 1) issues.add(joinPath(path, 'timeout'), 'must be at least 1ms')
  }
  const common: AuthCommon = { forward: spec.forward ?? false, timeoutMs, realm }
  const required = (key: keyof AuthConfig): boolean => {
    if (spec[key] !== undefined) return true
    issues.add(joinPath(path, key), `is required with type: ${spec.type}`)
    return false
  }
  switch (spec.type) {
    case 'bearer':
      return required('tokens') ? { ...common, type: 'bearer', tokens: spec.tokens ?? [] } : null
    case 'basic': {
      if (!required('users')) return null
      const users = spec.users ?? {}
      for (const [user, hash] of Object.entries(users)) {
        const at = joinPath(joinPath(path, 'users'), user)
        if (user.includes(':')) issues.add(at, 'a user name cannot contain ":" (Basic credentials are user:password)')
        const problem = scryptHashProblem(hash)
        if (problem !== null) issues.add(at, problem)
      }
      return { ...common, type: 'basic', users }
    }
    case 'custom': {
      if (!required('name')) return null
      const name = spec.name ?? ''
      const hook = options.registry?.get(name)
      if (hook === undefined) {
        const known = options.registry?.names ?? []
        issues.add(joinPath(path, 'name'), `no auth hook named "${name}" is registered (export defineAuth("${name}", …) from a module in routes/ or from the config module)${known.length > 0 ? `; registered: ${known.join(', ')}` : ''}`)
        return null
      }
      return { ...common, type: 'custom', name, hook }
    }
    case 'jwt':
      return compileJwt(spec, path, common, options.baseDir, issues)
  }
}

function compileJwt (spec: AuthConfig, path: string, common: AuthCommon, baseDir: string, issues: IssueList): CompiledAuth | null {
  const sources = (['secret', 'publicKey', 'jwksUrl'] as const).filter(key => spec[key] !== undefined)
  if (sources.length !== 1) issues.add(path, 'a jwt route needs exactly one of secret, publicKey or jwksUrl')
  let publicKey: string | null = null
  /** What the key can verify: null while unknown (no key, or one that could not be read). */
  let verifiable: readonly string[] | null = null
  if (spec.secret !== undefined) {
    verifiable = HMAC_ALGORITHMS
  } else if (spec.publicKey !== undefined) {
    const key = readPublicKey(spec.publicKey, baseDir, joinPath(path, 'publicKey'), issues)
    if (key !== null) {
      publicKey = key.export({ type: 'spki', format: 'pem' }).toString()
      verifiable = algorithmsFor(key)
      if (verifiable.length === 0) issues.add(joinPath(path, 'publicKey'), `is a ${key.asymmetricKeyType ?? 'unknown'} key, which no JWT algorithm verifies`)
    }
  } else if (spec.jwksUrl !== undefined) {
    const problem = urlProblem(spec.jwksUrl)
    if (problem !== null) issues.add(joinPath(path, 'jwksUrl'), problem)
    verifiable = PUBLIC_KEY_ALGORITHMS
  }
  let algorithms: readonly string[] = verifiable ?? []
  if (spec.algorithms !== undefined) {
    algorithms = spec.algorithms
    spec.algorithms.forEach((alg, i) => {
      const at = joinPath(joinPath(path, 'algorithms'), i)
      if (alg.toLowerCase() === 'none') issues.add(at, '"none" is never accepted: an unsigned token proves nothing')
      else if (!KNOWN_ALGORITHMS.has(alg)) issues.add(at, `unknown algorithm "${alg}" (expected one of ${[...KNOWN_ALGORITHMS].join(', ')})`)
      else if (verifiable !== null && !verifiable.includes(alg)) issues.add(at, `${alg} cannot be verified with ${keyDescription(spec, verifiable)}`)
    })
  }
  const forwardClaims: Record<string, string> = {}
  for (const [claim, header] of Object.entries(spec.forwardClaims ?? {})) {
    const at = joinPath(joinPath(path, 'forwardClaims'), claim)
    const name = header.toLowerCase()
    const problem = headerNameProblem(header)
    if (problem !== null) issues.add(at, problem)
    else if (NOT_FORWARDABLE.has(name)) issues.add(at, `"${header}" is a header the gateway sets or that frames the request; forward the claim as another header`)
    forwardClaims[claim] = name
  }
  const list = (value: string | string[] | undefined): readonly string[] | null => value === undefined ? null : (typeof value === 'string' ? [value] : value)
  return {
    ...common,
    type: 'jwt',
    secret: spec.secret ?? null,
    publicKey,
    jwksUrl: spec.jwksUrl ?? null,
    algorithms,
    issuer: list(spec.issuer),
    audience: list(spec.audience),
    clockToleranceMs: spec.clockTolerance === undefined ? 0 : (issues.attempt(joinPath(path, 'clockTolerance'), () => parseDuration(spec.clockTolerance as string | number)) ?? 0),
    forwardClaims
  }
}

function readPublicKey (file: string, baseDir: string, path: string, issues: IssueList): KeyObject | null {
  const full = isAbsolute(file) ? file : resolve(baseDir, file)
  let text: Buffer
  try {
    text = readFileSync(full)
  } catch (err) {
    issues.add(path, `cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
    return null
  }
  try {
    // A certificate or a private key gives its public key too; the gateway keeps only that.
    return createPublicKey(text)
  } catch {
    issues.add(path, `${full} is not a PEM public key, certificate or private key`)
    return null
  }
}

/** The JWT algorithms a public key verifies (RFC 7518 §3, RFC 8037). */
function algorithmsFor (key: KeyObject): readonly string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa': return RSA_ALGORITHMS
    case 'rsa-pss': return ['PS256', 'PS384', 'PS512']
    case 'ec': {
      const alg = EC_ALGORITHMS[key.asymmetricKeyDetails?.namedCurve ?? '']
      return alg === undefined ? [] : [alg]
    }
    case 'ed25519':
    case 'ed448': return ['EdDSA']
    default: return []
  }
}

function keyDescription (spec: AuthConfig, verifiable: readonly string[]): string {
  if (spec.secret !== undefined) return 'a secret (HMAC: HS256, HS384, HS512)'
  if (spec.jwksUrl !== undefined) return `a JWKS (public keys: ${verifiable.join(', ')})`
  return `this public key (it verifies ${verifiable.join(', ')})`
}

function urlProblem (text: string): string | null {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return `"${text}" is not a URL`
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be an http: or https: URL, not ${url.protocol}`
  if (url.username !== '' || url.password !== '') return 'must not hold credentials'
  if (url.hash !== '') return 'must not have a #fragment'
  return null
}
