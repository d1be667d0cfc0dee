/**
 * Taking a target out of rotation and back (`POST /upstreams/:name/targets/:address/
 * disable|enable`). Only `enabled` changes: balancers stop handing the target out, requests
 * already on it finish, and its health (active checks, passive ejection) goes on as before.
 */
import { BadRequest, NotFound, type GatewayError } from '../errors.js'
import type { UpstreamSnapshot } from '../upstream/upstream.js'
import type { TargetConfig } from '../config/schema.js'
import { compileTarget } from '../config/compile.js'
import type { TargetSpec } from '../upstream/target.js'
import type { Target, TargetSnapshot } from '../upstream/target.js'
import type { LiveUpstreams } from './api.js'

/** `GET /upstreams`: every upstream with its targets, in config order. */
export function listUpstreams (upstreams: LiveUpstreams): { upstreams: UpstreamSnapshot[] } {
  return { upstreams: [...upstreams.values()].map(upstream => upstream.snapshot()) }
}

/**
 * Sets whether `address` of upstream `name` takes new requests; returns the target as it
 * is now. Throws NotFound when either is unknown. `address` is the target as the admin API
 * lists it: `host:port`, `[v6]:port` or `unix:/path`.
 */
export function setTargetEnabled (upstreams: LiveUpstreams, name: string, address: string, enabled: boolean): TargetSnapshot {
  const target = findTarget(upstreams, name, address)
  target.enabled = enabled
  return target.snapshot()
}

function findTarget (upstreams: LiveUpstreams, name: string, address: string): Target {
  const upstream = upstreams.get(name)
  if (upstream === undefined) throw new NotFound(`no upstream named "${name}"`) as GatewayError
  const target = upstream.targets.find(t => t.id === address)
  if (target === undefined) throw new NotFound(`upstream "${name}" has no target ${address}`) as GatewayError
  return target
}

/**
 * `PUT /upstreams/:name/targets`: `targets` (the config's `targets` shape) become the
 * upstream's primary targets at once (L35: traffic follows the next request). A target
 * that stays keeps its health, load and connections; one that goes finishes its requests.
 * Returns the upstream as it is now. Throws NotFound for an unknown upstream, BadRequest
 * for an address that cannot be parsed or an empty list.
 */
export function replaceTargets (upstreams: LiveUpstreams, name: string, targets: readonly TargetConfig[]): UpstreamSnapshot {
  const upstream = upstreams.get(name)
  if (upstream === undefined) throw new NotFound(`no upstream named "${name}"`) as GatewayError
  const specs: TargetSpec[] = []
  targets.forEach((target, i) => {
    try {
      specs.push(compileTarget(target, upstream.defaultPort, false))
    } catch (err) {
      throw new BadRequest(`targets[${i}]: ${err instanceof Error ? err.message : String(err)}`) as GatewayError
    }
  })
  const change = upstream.replacePrimaries(specs)
  if (!change.applied) throw new BadRequest(change.reason) as GatewayError
  return upstream.snapshot()
}
