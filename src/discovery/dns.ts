/**
 * Targets from DNS: the addresses of an A or AAAA record set (at the configured port), or
 * the hosts of an SRV record set with each record's port and weight. SRV records of the
 * lowest priority are the primaries and the others backups, which is what RFC 2782's
 * priority means. SRV hosts are resolved by the same resolver, so a private server given
 * in `servers` answers for the whole chain. The shortest TTL seen brings the next question
 * forward when it is shorter than the interval.
 */
import { Resolver } from 'node:dns/promises'
import type { TargetSpec } from '../upstream/target.js'
import { formatHostPort } from '../net/address.js'
import type { Discovered, DiscoverySource } from './source.js'

export interface DnsSourceOptions {
  readonly host: string
  readonly record: 'A' | 'AAAA' | 'SRV'
  readonly port: number | null
  readonly servers: readonly string[] | null
}

const MAX_WEIGHT = 1000
/** Per try; two tries: a dead resolver costs four seconds, not the system default's ~25. */
const TRY_TIMEOUT_MS = 2000

interface Found { readonly addresses: string[], readonly ttl: number | null }

export class DnsSource implements DiscoverySource {
  readonly description: string
  private readonly options: DnsSourceOptions

  constructor (options: DnsSourceOptions) {
    this.options = options
    this.description = `dns ${options.record} ${options.host}${options.servers === null ? '' : ` via ${options.servers.join(', ')}`}`
  }

  async discover (signal: AbortSignal): Promise<Discovered> {
    const resolver = new Resolver({ timeout: TRY_TIMEOUT_MS, tries: 2 })
    if (this.options.servers !== null) resolver.setServers([...this.options.servers])
    const cancel = (): void => resolver.cancel()
    signal.addEventListener('abort', cancel, { once: true })
    try {
      const { host, record, port } = this.options
      if (record !== 'SRV') {
        const found = await addresses(resolver, host, record)
        return { targets: found.addresses.map(ip => tcp(ip, port ?? 80, 1, false)), ttlMs: found.ttl === null ? null : found.ttl * 1000 }
      }
      const records = await asked(resolver.resolveSrv(host), host, 'SRV')
      const lowest = Math.min(...records.map(r => r.priority))
      const targets: TargetSpec[] = []
      const seen = new Set<string>()
      let ttl: number | null = null
      for (const r of records) {
        const found = await hostAddresses(resolver, r.name)
        if (found.ttl !== null) ttl = ttl === null ? found.ttl : Math.min(ttl, found.ttl)
        for (const ip of found.addresses) {
          // A weight of 0 means "rarely" in RFC 2782; our balancers need at least 1.
          const spec = tcp(ip, r.port, Math.min(MAX_WEIGHT, Math.max(1, r.weight)), r.priority !== lowest)
          if (seen.has(spec.address.id)) continue
          seen.add(spec.address.id)
          targets.push(spec)
        }
      }
      return { targets, ttlMs: ttl === null ? null : ttl * 1000 }
    } finally {
      signal.removeEventListener('abort', cancel)
    }
  }
}

async function addresses (resolver: Resolver, host: string, record: 'A' | 'AAAA'): Promise<Found> {
  const answers = record === 'A'
    ? await asked(resolver.resolve4(host, { ttl: true }), host, record)
    : await asked(resolver.resolve6(host, { ttl: true }), host, record)
  return { addresses: answers.map(a => a.address), ttl: answers.length === 0 ? null : Math.min(...answers.map(a => a.ttl)) }
}

/** An SRV record's host: its IPv4 addresses, or else its IPv6 ones. */
async function hostAddresses (resolver: Resolver, host: string): Promise<Found> {
  try {
    return await addresses(resolver, host, 'A')
  } catch (v4) {
    try {
      return await addresses(resolver, host, 'AAAA')
    } catch {
      throw v4
    }
  }
}

/** The answer, or an Error saying what was asked and what came back. */
async function asked<T> (answer: Promise<T>, host: string, record: string): Promise<T> {
  try {
    return await answer
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error'
    const why = code === 'ENOTFOUND' ? 'no such name (NXDOMAIN)' : code === 'ENODATA' ? 'no records' : code
    throw new Error(`${record} ${host}: ${why}`)
  }
}

function tcp (ip: string, port: number, weight: number, backup: boolean): TargetSpec {
  return { address: { kind: 'tcp', host: ip, port, id: formatHostPort(ip, port) }, weight, backup }
}
