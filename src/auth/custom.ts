/**
 * `auth.type: custom`: a TypeScript function decides, registered under a name with
 * `defineAuth(name, fn)` and named by routes as `auth: { type: custom, name }`.
 *
 * A `defineAuth` is registered by being a named export of a module the config loads (a
 * route module in `routes/`, or a TypeScript config module). The registry is made per
 * load and handed to that load's compiled config, so a reload, which imports the modules
 * afresh, runs the edited hooks, and a name no loaded module defines is refused at load.
 */
import type { FastifyRequest } from 'fastify'
import { Forbidden, InternalError, Unauthorized, AuthUnavailable, isGatewayError, type GatewayError } from '../errors.js'
import { headerNameProblem, headerValueProblem } from '../config/http-names.js'
import { TOKEN_PATTERN } from '../config/schema.js'
import { quoted, withTimeout, type AuthTarget, type Authenticator } from './authenticator.js'
import { DefinitionRegistry } from '../config/definitions.js'

/** What an auth hook decides. */
export type AuthDecision =
  /** Let the request through; `principal` becomes `ctx.principal` (default `{}`). */
  | { readonly allow: true, readonly principal?: Record<string, unknown> }
  /**
   * Refuse it: 401 UNAUTHORIZED (the default: missing or wrong credentials) or 403
   * FORBIDDEN (valid but not allowed here), with `message` in the error body and
   * `headers` on the response. A 401 without `www-authenticate` among the headers gets
   * `WWW-Authenticate: <name> realm="<auth.realm>"`.
   */
  | { readonly allow: false, readonly status?: 401 | 403, readonly message?: string, readonly headers?: Readonly<Record<string, string>> }

/**
 * An auth hook: runs in request_filter, may be async. Throwing a gateway error
 * (`errors.Forbidden`…) ends the request with it; anything else it throws is a 500
 * INTERNAL_ERROR, logged. One that does not settle within `auth.timeout` gets 503.
 */
export type AuthHook = (request: FastifyRequest) => AuthDecision | Promise<AuthDecision>

/** Marks what defineAuth returns, whichever copy of the package made it. */
export const AUTH_DEFINITION: unique symbol = Symbol.for('tollgate.auth-definition')

export interface AuthDefinition {
  readonly [AUTH_DEFINITION]: true
  readonly name: string
  readonly hook: AuthHook
}

const TOKEN = new RegExp(TOKEN_PATTERN)

/**
 * Defines a custom auth hook under `name` (an HTTP token: letters, digits, `-`…, since it
 * is also the scheme of its default challenge). Export the result from a route module or
 * the config module: `export const apiKey = defineAuth('api-key', async (request) => …)`.
 */
export function defineAuth (name: string, hook: AuthHook): AuthDefinition {
  if (typeof name !== 'string' || !TOKEN.test(name)) {
    throw new TypeError(`defineAuth: the name must be letters, digits or !#$%&'*+.^_\`|~- (got ${JSON.stringify(name)})`)
  }
  if (typeof hook !== 'function') throw new TypeError(`defineAuth("${name}"): the hook must be a function`)
  return Object.freeze({ [AUTH_DEFINITION]: true as const, name, hook })
}

export function isAuthDefinition (value: unknown): value is AuthDefinition {
  return value !== null && typeof value === 'object' && (value as Partial<AuthDefinition>)[AUTH_DEFINITION] === true
}

/** The auth hooks one load of the config registered, by name. */
export class AuthRegistry extends DefinitionRegistry<AuthDefinition> {
  constructor () {
    super('defineAuth')
  }

  get (name: string): AuthHook | undefined {
    return this.definition(name)?.hook
  }
}

export interface CustomOptions {
  readonly name: string
  readonly hook: AuthHook
  readonly realm: string
  readonly timeoutMs: number
}

export class CustomAuthenticator implements Authenticator {
  private readonly name: string
  private readonly hook: AuthHook
  private readonly timeoutMs: number
  private readonly challenge: string

  constructor (options: CustomOptions) {
    this.name = options.name
    this.hook = options.hook
    this.timeoutMs = options.timeoutMs
    this.challenge = `${options.name} realm=${quoted(options.realm)}`
  }

  /**
   * request_filter: the hook's decision, applied. A hook that answers synchronously is
   * applied at once; a promise is given `auth.timeout` to settle (then 503).
   */
  authenticate (request: FastifyRequest, ctx: AuthTarget): void | Promise<void> {
    let decision: AuthDecision | Promise<AuthDecision>
    try {
      decision = this.hook(request)
    } catch (err) {
      throw this.fault(err)
    }
    if (!isThenable(decision)) {
      this.apply(decision, ctx)
      return
    }
    return withTimeout(Promise.resolve(decision), this.timeoutMs, () => this.timedOut()).then(
      settled => this.apply(settled, ctx),
      (err: unknown) => { throw this.fault(err) }
    )
  }

  private apply (decision: unknown, ctx: AuthTarget): void {
    if (decision === null || typeof decision !== 'object' || typeof (decision as { allow?: unknown }).allow !== 'boolean') {
      throw this.fault(new TypeError(`it returned ${describe(decision)}, not { allow: true | false, … }`))
    }
    const { allow, principal, status, message, headers } = decision as { allow: boolean, principal?: unknown, status?: unknown, message?: unknown, headers?: unknown }
    if (allow) {
      if (principal === undefined) {
        ctx.principal = {}
      } else if (principal === null || typeof principal !== 'object' || Array.isArray(principal)) {
        throw this.fault(new TypeError(`its principal is ${describe(principal)}, not an object`))
      } else {
        ctx.principal = principal as Record<string, unknown>
      }
      return
    }
    const code = status ?? 401
    if (code !== 401 && code !== 403) throw this.fault(new TypeError(`it denied with status ${describe(status)}; a denial is 401 or 403`))
    if (message !== undefined && typeof message !== 'string') throw this.fault(new TypeError(`its message is ${describe(message)}, not a string`))
    const extra = this.headersOf(headers)
    const error = (code === 401
      ? new Unauthorized(message ?? 'authentication is required')
      : new Forbidden(message ?? 'access is denied')) as GatewayError
    if (code === 401 && extra['www-authenticate'] === undefined) extra['www-authenticate'] = this.challenge
    if (Object.keys(extra).length > 0) error.headers = extra
    throw error
  }

  /** A denial's headers, lower-cased and checked the way Node would when sending them. */
  private headersOf (headers: unknown): Record<string, string> {
    const out: Record<string, string> = {}
    if (headers === undefined) return out
    if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
      throw this.fault(new TypeError(`its headers are ${describe(headers)}, not an object`))
    }
    for (const [name, value] of Object.entries(headers)) {
      const problem = headerNameProblem(name) ?? (typeof value === 'string' ? headerValueProblem(value) : 'value is not a string')
      if (problem !== null) throw this.fault(new TypeError(`its header ${JSON.stringify(name)}: ${problem}`))
      out[name.toLowerCase()] = value as string
    }
    return out
  }

  /** The hook failed: a gateway error it threw stands; anything else is a 500, logged with `detail`. */
  private fault (err: unknown): GatewayError {
    if (isGatewayError(err)) return err
    const error = new InternalError('the authentication check failed', { cause: err }) as GatewayError
    error.detail = `auth hook "${this.name}": ${err instanceof Error ? err.message : describe(err)}`
    return error
  }

  private timedOut (): GatewayError {
    const error = new AuthUnavailable('the authentication check did not finish in time') as GatewayError
    error.detail = `auth hook "${this.name}" did not settle within ${this.timeoutMs} ms`
    return error
  }

  async close (): Promise<void> {}
}

function isThenable (value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function'
}

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  // Never the text itself: it could be the credentials, and this goes to the log.
  if (typeof value === 'string') return 'a string'
  return typeof value === 'undefined' ? 'undefined' : String(value)
}
