/**
 * What the admin API acts on: the running gateway, seen through the few operations the
 * endpoints need. The Gateway provides it; tests may provide their own.
 */
import type { GatewayFileConfig } from '../config/schema.js'
import type { Upstream } from '../upstream/upstream.js'
import type { AdminChange } from './changes.js'
import type { PurgeSelector } from '../cache/stored-response.js'

/** The live upstreams, by name, as the gateway holds them now. */
export type LiveUpstreams = ReadonlyMap<string, Upstream>

export interface AdminApi {
  /** The running config as loaded (env substituted), or null before the first apply. */
  runningConfig (): Readonly<GatewayFileConfig> | null
  /** The live upstreams now. */
  upstreams (): LiveUpstreams
  /**
   * Validates and applies a whole config (build-then-swap), and with `redis` shares it with
   * the other instances. Throws ConfigError, or ConfigStoreUnavailable when it could not be
   * shared; nothing changes then. Resolves with the shared version, or null (not shared).
   */
  apply (config: Record<string, unknown>): Promise<{ readonly version: number | null }>
  /** Validates and compiles a config without applying it. Throws ConfigError. */
  validate (config: Record<string, unknown>): void
  /**
   * A target change was made on `upstreams()` (disable, enable, replace): told after it
   * succeeded, so that the other workers make it too.
   */
  targetsChanged (change: TargetChange): void
  /** Removes what `selector` names from the HTTP cache (every worker's); how many responses. */
  purgeCache (selector: PurgeSelector): Promise<number>
}

export type TargetChange = Exclude<AdminChange, { kind: 'config' | 'cache-purge' }>
