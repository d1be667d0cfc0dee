/**
 * A change made through the admin API, in a form another process can apply: with several
 * workers, the one whose admin listener took the request passes it to the others, so that
 * every worker runs the same config and the same targets.
 */
import type { TargetConfig } from '../config/schema.js'
import type { LiveUpstreams, TargetChange } from './api.js'
import type { PurgeSelector } from '../cache/stored-response.js'
import { replaceTargets, setTargetEnabled } from './targets.js'

export type AdminChange =
  /** `PUT /config`: a whole config, as sent. */
  | { readonly kind: 'config', readonly config: Record<string, unknown> }
  /** `POST /upstreams/:name/targets/:address/disable|enable`. */
  | { readonly kind: 'target-enabled', readonly upstream: string, readonly address: string, readonly enabled: boolean }
  /** `PUT /upstreams/:name/targets`. */
  | { readonly kind: 'targets', readonly upstream: string, readonly targets: readonly TargetConfig[] }
  /** `POST /cache/purge` or `PURGE`, on the memory store: each worker has its own. */
  | { readonly kind: 'cache-purge', readonly selector: PurgeSelector }

/**
 * Applies a target change to `upstreams`. Throws NotFound or BadRequest as the admin API
 * would: a worker may run a config that no longer has the upstream.
 */
export function applyTargetChange (upstreams: LiveUpstreams, change: TargetChange): void {
  if (change.kind === 'target-enabled') setTargetEnabled(upstreams, change.upstream, change.address, change.enabled)
  else replaceTargets(upstreams, change.upstream, change.targets)
}
