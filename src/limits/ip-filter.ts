/**
 * A route's `ipFilter`: allow and deny lists of CIDR blocks, deny winning, built once per
 * app into Node's BlockList (a native range lookup). The client address comes in already
 * in its plain form (`ctx.ip`: an IPv4-mapped IPv6 address as IPv4).
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net'
import type { CompiledIpFilter } from './config.js'
import type { Cidr } from '../net/cidr.js'

/**
 * How many client addresses' answers a filter remembers. BlockList.check builds a native
 * SocketAddress per call (about 2 µs, more than the rest of the check), while a client on
 * a keep-alive connection asks the same question for every request. When full, the
 * memory is dropped whole: a client cycling through addresses gets BlockList's cost, never
 * unbounded memory.
 */
export const REMEMBERED_ADDRESSES = 4096

export class IpFilter {
  private readonly allow: BlockList | null
  private readonly deny: BlockList | null
  private readonly answers = new Map<string, boolean>()

  constructor (spec: CompiledIpFilter) {
    this.allow = spec.allow === null ? null : blockListOf(spec.allow)
    this.deny = spec.deny.length === 0 ? null : blockListOf(spec.deny)
  }

  /** True when `address` may pass: not denied, and allowed when there is an allow list. */
  allows (address: string): boolean {
    let answer = this.answers.get(address)
    if (answer === undefined) {
      answer = this.decide(address)
      if (this.answers.size >= REMEMBERED_ADDRESSES) this.answers.clear()
      this.answers.set(address, answer)
    }
    return answer
  }

  /** How many addresses' answers are remembered now (at most REMEMBERED_ADDRESSES). */
  get remembered (): number {
    return this.answers.size
  }

  private decide (address: string): boolean {
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null
    // Not an address at all (a unix-socket peer has none): only an open filter lets it by.
    if (family === null) return this.allow === null && this.deny === null
    if (this.deny !== null && this.deny.check(address, family)) return false
    return this.allow === null || this.allow.check(address, family)
  }
}

function blockListOf (cidrs: readonly Cidr[]): BlockList {
  const list = new BlockList()
  for (const cidr of cidrs) list.addSubnet(cidr.address, cidr.prefix, cidr.family)
  return list
}
