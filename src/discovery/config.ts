/**
 * An upstream's `discovery` settings, compiled: which keys each source type takes, what
 * each must have, and the defaults. Settings that cannot work (no host to resolve, a
 * Docker source without a socket, an interval of 0) are refused at load with
 * `path: message`; a file that does not exist yet is not (it is logged when the source
 * starts, and picked up once written).
 */
import { isIP } from 'node:net'
import { isAbsolute, resolve } from 'node:path'
import type { Static } from '@sinclair/typebox'
import type { DiscoverySchema } from '../config/schema.js'
import { joinPath, type IssueList } from '../config/errors.js'
import { parseDuration } from '../config/units.js'
import { parseHostPort } from '../net/address.js'

export type DiscoveryConfig = Static<typeof DiscoverySchema>

export const DISCOVERY_DEFAULTS = Object.freeze({
  intervalMs: 10_000,
  record: 'A' as const,
  dnsPort: 53
})

/** Asking a source more often than this only loads it: a DNS server, a disk, the Docker daemon. */
export const MIN_DISCOVERY_INTERVAL_MS = 100

export type CompiledDiscovery =
  | { readonly type: 'file', readonly path: string, readonly intervalMs: number }
  | {
    readonly type: 'dns'
    readonly host: string
    readonly record: 'A' | 'AAAA' | 'SRV'
    /** A and AAAA: the targets' port; SRV records carry their own. */
    readonly port: number | null
    /** `ip:port` resolvers, or null for the system's. */
    readonly servers: readonly string[] | null
    readonly intervalMs: number
  }
  | {
    readonly type: 'docker'
    readonly socketPath: string
    readonly labels: Readonly<Record<string, string>>
    /** Used when a container has no `tollgate.port` label. */
    readonly port: number | null
    /** The network whose address is used; null = the container's only network. */
    readonly network: string | null
    readonly intervalMs: number
  }

const KEYS_BY_TYPE: Readonly<Record<CompiledDiscovery['type'], ReadonlySet<string>>> = {
  dns: new Set(['host', 'record', 'port', 'servers']),
  file: new Set(['path']),
  docker: new Set(['socketPath', 'labels', 'port', 'network'])
}
const COMMON_KEYS: ReadonlySet<string> = new Set(['type', 'interval'])

export function compileDiscovery (spec: DiscoveryConfig, path: string, baseDir: string, issues: IssueList): CompiledDiscovery | null {
  const type = spec.type
  for (const key of Object.keys(spec)) {
    if (COMMON_KEYS.has(key) || KEYS_BY_TYPE[type].has(key)) continue
    const owners = (Object.keys(KEYS_BY_TYPE) as CompiledDiscovery['type'][]).filter(t => KEYS_BY_TYPE[t].has(key))
    issues.add(joinPath(path, key), owners.length === 0 ? 'unknown key' : `is only used with type: ${owners.join(' or ')}`)
  }
  let intervalMs: number = DISCOVERY_DEFAULTS.intervalMs
  if (spec.interval !== undefined) {
    const parsed = issues.attempt(joinPath(path, 'interval'), () => parseDuration(spec.interval as string | number))
    if (parsed !== undefined && parsed < MIN_DISCOVERY_INTERVAL_MS) issues.add(joinPath(path, 'interval'), `must be at least ${MIN_DISCOVERY_INTERVAL_MS}ms`)
    else if (parsed !== undefined) intervalMs = parsed
  }
  const required = (key: 'host' | 'path' | 'socketPath', value: string | undefined): string => {
    if (value === undefined) issues.add(joinPath(path, key), `is required with type: ${type}`)
    return value ?? ''
  }
  switch (type) {
    case 'file': {
      const file = required('path', spec.path)
      return { type, path: isAbsolute(file) ? file : resolve(baseDir, file), intervalMs }
    }
    case 'dns': {
      const host = required('host', spec.host)
      const record = spec.record ?? DISCOVERY_DEFAULTS.record
      if (record !== 'SRV' && spec.port === undefined) issues.add(joinPath(path, 'port'), `is required with record: ${record} (only SRV records carry a port)`)
      if (record === 'SRV' && spec.port !== undefined) issues.add(joinPath(path, 'port'), 'is not used with record: SRV (each record carries its port)')
      const servers = spec.servers === undefined ? null : compileServers(spec.servers, joinPath(path, 'servers'), issues)
      return { type, host, record, port: spec.port ?? null, servers, intervalMs }
    }
    case 'docker': {
      const socketPath = required('socketPath', spec.socketPath)
      if (spec.labels === undefined || Object.keys(spec.labels).length === 0) {
        issues.add(joinPath(path, 'labels'), 'must name at least one label (without, every container would be a target)')
      }
      return { type, socketPath: isAbsolute(socketPath) ? socketPath : resolve(baseDir, socketPath), labels: { ...spec.labels }, port: spec.port ?? null, network: spec.network ?? null, intervalMs }
    }
  }
}

/** node:dns takes resolvers by IP address only, with an optional port. */
function compileServers (servers: readonly string[], path: string, issues: IssueList): string[] {
  const out: string[] = []
  servers.forEach((server, i) => {
    const at = joinPath(path, i)
    // A bare IPv6 address is unambiguous here (there is no port to tell apart): take it.
    const text = isIP(server.trim()) === 6 ? `[${server.trim()}]` : server
    const parsed = issues.attempt(at, () => parseHostPort(text, DISCOVERY_DEFAULTS.dnsPort))
    if (parsed === undefined) return
    const family = isIP(parsed.host)
    if (family === 0) {
      issues.add(at, `"${server}" must be an IP address (a resolver cannot be found by name)`)
      return
    }
    out.push(family === 6 ? `[${parsed.host}]:${parsed.port}` : `${parsed.host}:${parsed.port}`)
  })
  return out
}
