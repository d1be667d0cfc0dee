/**
 * CIDR blocks (`10.0.0.0/8`, `::1/128`, or a bare address meaning a single host), checked
 * at config load so that a typo is refused with a message instead of silently matching
 * nothing at run time.
 */
import { isIP } from 'node:net'

export interface Cidr {
  readonly address: string
  readonly prefix: number
  readonly family: 'ipv4' | 'ipv6'
}

export function parseCidr (text: string): Cidr {
  const slash = text.indexOf('/')
  const address = (slash < 0 ? text : text.slice(0, slash)).trim()
  const version = isIP(address)
  if (version === 0) throw new Error(`"${text}" is not an IP address or CIDR block`)
  const max = version === 4 ? 32 : 128
  let prefix = max
  if (slash >= 0) {
    const bits = text.slice(slash + 1).trim()
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) {
      throw new Error(`"${text}": prefix length must be 0-${max}`)
    }
    prefix = Number(bits)
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' }
}
