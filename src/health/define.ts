/**
 * `healthCheck.type: custom`: a TypeScript function decides whether a target is healthy,
 * registered under a name with `defineHealthCheck(name, fn)` and named by upstreams as
 * `healthCheck: { type: custom, name }`.
 *
 * A definition is registered by being a named export of a module the config loads (a
 * route module in `routes/`, or a TypeScript config module), or by being handed to
 * `Gateway.apply`. The registry is made per load, so a reload, which imports the modules
 * afresh, runs the edited function, and a name no loaded module defines is refused.
 */
import type { TargetAddress } from '../upstream/target.js'
import { DefinitionRegistry } from '../config/definitions.js'

/** The target a custom check is asked about. */
export interface HealthCheckTarget {
  /** The upstream's name. */
  readonly upstream: string
  /** The target as the config and the logs name it: `host:port` or `unix:<path>`. */
  readonly address: string
  /** TCP targets: host and port; null for a Unix socket. */
  readonly host: string | null
  readonly port: number | null
  /** Unix-socket targets: the socket's path; null for TCP. */
  readonly socketPath: string | null
  readonly backup: boolean
}

/** `true` / `false`, or the verdict with a reason that goes into the log and the admin API. */
export type HealthCheckResult = boolean | { readonly healthy: boolean, readonly reason?: string }

/**
 * A custom check: says whether `target` is healthy, at once or as a promise. `signal` is
 * aborted when `healthCheck.timeout` passes (the check then counts as failed) or the
 * gateway stops checking; honour it to free what the check holds. Throwing counts as
 * unhealthy, with the error's message as the reason. A check still running after its
 * timeout is not called again for that target until it settles.
 */
export type HealthCheckFunction = (target: HealthCheckTarget, signal: AbortSignal) => HealthCheckResult | Promise<HealthCheckResult>

/** Marks what defineHealthCheck returns, whichever copy of the package made it. */
export const HEALTH_CHECK_DEFINITION: unique symbol = Symbol.for('tollgate.health-check-definition')

export interface HealthCheckDefinition {
  readonly [HEALTH_CHECK_DEFINITION]: true
  readonly name: string
  readonly check: HealthCheckFunction
}

/** What a check's name may hold: it is written in YAML and in log lines. */
export const HEALTH_CHECK_NAME_PATTERN = '^[A-Za-z0-9_.:-]+$'
const NAME = new RegExp(HEALTH_CHECK_NAME_PATTERN)

/**
 * Defines a custom health check under `name` (letters, digits, `_ . : -`). Export the
 * result from a route module or the config module:
 * `export const db = defineHealthCheck('db-ready', async (target) => …)`.
 */
export function defineHealthCheck (name: string, check: HealthCheckFunction): HealthCheckDefinition {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new TypeError(`defineHealthCheck: the name must be letters, digits or _ . : - (got ${JSON.stringify(name)})`)
  }
  if (typeof check !== 'function') throw new TypeError(`defineHealthCheck("${name}"): the check must be a function`)
  return Object.freeze({ [HEALTH_CHECK_DEFINITION]: true as const, name, check })
}

export function isHealthCheckDefinition (value: unknown): value is HealthCheckDefinition {
  return value !== null && typeof value === 'object' && (value as Partial<HealthCheckDefinition>)[HEALTH_CHECK_DEFINITION] === true
}

/** The custom checks one load of the config registered, by name. */
export class HealthCheckRegistry extends DefinitionRegistry<HealthCheckDefinition> {
  constructor () {
    super('defineHealthCheck')
  }

  get (name: string): HealthCheckFunction | undefined {
    return this.definition(name)?.check
  }
}

/** The read-only view a custom check is given, made once per target. */
export function checkTargetOf (upstream: string, address: TargetAddress, backup: boolean): HealthCheckTarget {
  return Object.freeze(address.kind === 'tcp'
    ? { upstream, address: address.id, host: address.host, port: address.port, socketPath: null, backup }
    : { upstream, address: address.id, host: null, port: null, socketPath: address.socketPath, backup })
}
