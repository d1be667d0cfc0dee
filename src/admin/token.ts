/**
 * The admin token check. Both sides are hashed before the comparison so that
 * `timingSafeEqual` compares equal lengths: neither the token's content nor its length
 * leaks through how long a refusal takes.
 */
import { createHash, timingSafeEqual } from 'node:crypto'

export class AdminToken {
  private readonly digest: Buffer

  constructor (token: string) {
    this.digest = sha256(token)
  }

  /** True when `authorization` is `Bearer <the token>` (the scheme in any case, RFC 9110 §11.1). */
  accepts (authorization: string | undefined): boolean {
    if (authorization === undefined) return false
    const space = authorization.indexOf(' ')
    if (space < 0 || authorization.slice(0, space).toLowerCase() !== 'bearer') return false
    return timingSafeEqual(sha256(authorization.slice(space + 1).trim()), this.digest)
  }
}

function sha256 (text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}
