/**
 * Whose forwarding headers are believed (`server.trustProxy`): compiled once into a
 * BlockList lookup. An untrusted peer's X-Forwarded-* are replaced, not extended, so a
 * client cannot forge its address to upstreams.
 */
import { BlockList, isIPv4 } from 'node:net'
import { parseCidr } from './cidr.js'

export type TrustCheck = (address: string | undefined) => boolean

const trustNone: TrustCheck = () => false
const trustAll: TrustCheck = () => true

export function compileTrust (trustProxy: boolean | readonly string[]): TrustCheck {
  if (trustProxy === true) return trustAll
  if (trustProxy === false || trustProxy.length === 0) return trustNone
  const list = new BlockList()
  for (const entry of trustProxy) {
    const cidr = parseCidr(entry)
    list.addSubnet(cidr.address, cidr.prefix, cidr.family)
  }
  return (address) => {
    if (address === undefined) return false
    if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) return list.check(address.slice(7), 'ipv4')
    return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6')
  }
}
