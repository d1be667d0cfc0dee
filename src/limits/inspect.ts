/**
 * A route's `inspect`: the first `maxBytes` of a request body are held back and searched
 * for blocked words before a byte goes upstream. Substrings are searched as bytes (a word
 * split over two TCP writes is found all the same, since the held bytes are searched
 * whole); regular expressions run on the held bytes decoded as UTF-8. What comes after
 * `maxBytes` passes unread: the limit bounds what one request can make the gateway hold.
 */
import type { BlockedPattern, CompiledInspect } from './config.js'

export class BodyInspector {
  readonly maxBytes: number
  private readonly words: readonly Buffer[]
  private readonly regexes: readonly RegExp[]

  constructor (spec: CompiledInspect) {
    this.maxBytes = spec.maxBytes
    this.words = spec.patterns.filter((p): p is Extract<BlockedPattern, { kind: 'text' }> => p.kind === 'text').map(p => Buffer.from(p.text))
    this.regexes = spec.patterns.filter((p): p is Extract<BlockedPattern, { kind: 'regex' }> => p.kind === 'regex').map(p => p.regex)
  }

  /** True when `held` (the first maxBytes of a body, or all of it) contains a blocked pattern. */
  blocks (held: Buffer): boolean {
    for (const word of this.words) if (held.indexOf(word) >= 0) return true
    if (this.regexes.length === 0) return false
    const text = held.toString('utf8')
    for (const regex of this.regexes) if (regex.test(text)) return true
    return false
  }
}
