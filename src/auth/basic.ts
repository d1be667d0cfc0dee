/**
 * `auth.type: basic`: users with scrypt hashes made by `tollgate hash-password`
 * (`Authorization: Basic base64(user:password)`, RFC 7617).
 *
 * scrypt is slow on purpose (tens of milliseconds of a libuv thread per check), which a
 * gateway cannot pay on every request of a logged-in client: a pair that verified is
 * remembered for a minute, keyed by an HMAC of it under a key made per app version (the
 * password itself is never kept), so a reload that changes the users forgets them all.
 * Failures are never remembered: each wrong guess costs its full scrypt. An unknown user
 * is checked against a made-up hash, so the time taken does not tell which users exist.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { verifyPassword } from '../cli/hash-password.js'
import { MALFORMED, MISSING, credentialsOf, quoted, unauthorized, type AuthTarget, type Authenticator, type HeadersOnly } from './authenticator.js'

export interface BasicOptions {
  readonly realm: string
  /** user name → scrypt hash (`scrypt$N$r$p$salt$hash`). */
  readonly users: Readonly<Record<string, string>>
  /** Checks a password against a hash; default `verifyPassword` (scrypt). */
  readonly verify?: (password: string, hash: string) => Promise<boolean>
  /** The clock, in milliseconds; default Date.now. */
  readonly now?: () => number
}

/** How long a verified pair is remembered, and how many are. */
export const REMEMBER_MS = 60_000
export const REMEMBER_MAX = 1024

/** A hash nobody's password matches, with hash-password's parameters: unknown users cost the same. */
const UNKNOWN_USER_HASH = `scrypt$16384$8$1$${Buffer.alloc(16, 1).toString('base64')}$${Buffer.alloc(32, 2).toString('base64')}`

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

export class BasicAuthenticator implements Authenticator {
  private readonly users: ReadonlyMap<string, string>
  private readonly verify: (password: string, hash: string) => Promise<boolean>
  private readonly now: () => number
  private readonly challenge: string
  /** HMAC of a verified `user:password` → when it stops being trusted. */
  private readonly verified = new Map<string, number>()
  private readonly rememberKey = randomBytes(32)

  constructor (options: BasicOptions) {
    this.users = new Map(Object.entries(options.users))
    this.verify = options.verify ?? verifyPassword
    this.now = options.now ?? Date.now
    this.challenge = `Basic realm=${quoted(options.realm)}, charset="UTF-8"`
  }

  /**
   * request_filter: missing, malformed or wrong credentials all get 401 with the Basic
   * challenge. The principal is `{ id: <user name> }`.
   */
  authenticate (request: HeadersOnly, ctx: AuthTarget): void | Promise<void> {
    const encoded = credentialsOf(request, 'basic')
    if (encoded === MISSING) throw unauthorized('credentials are required', this.challenge)
    if (encoded === MALFORMED || !BASE64.test(encoded)) throw unauthorized('the Authorization header is malformed', this.challenge)
    const pair = Buffer.from(encoded, 'base64').toString('utf8')
    const colon = pair.indexOf(':')
    if (colon < 0) throw unauthorized('the Authorization header is malformed', this.challenge)
    const user = pair.slice(0, colon)
    const key = createHmac('sha256', this.rememberKey).update(pair).digest('base64')
    const until = this.verified.get(key)
    if (until !== undefined) {
      if (until > this.now()) {
        ctx.principal = { id: user }
        return
      }
      this.verified.delete(key)
    }
    const hash = this.users.get(user)
    return this.verify(pair.slice(colon + 1), hash ?? UNKNOWN_USER_HASH).then(ok => {
      if (!ok || hash === undefined) throw unauthorized('the user name or password is wrong', this.challenge)
      this.remember(key)
      ctx.principal = { id: user }
    })
  }

  private remember (key: string): void {
    if (this.verified.size >= REMEMBER_MAX) {
      // The oldest first: a Map iterates in insertion order.
      const oldest = this.verified.keys().next().value
      if (oldest !== undefined) this.verified.delete(oldest)
    }
    this.verified.set(key, this.now() + REMEMBER_MS)
  }

  async close (): Promise<void> {}
}

/** The most memory one scrypt check may take (hash-password's hashes take 16 MiB). */
const MAX_SCRYPT_MEMORY = 64 * 1024 * 1024

/**
 * Why `hash` is not a hash `tollgate hash-password` makes and `verifyPassword` can check,
 * or null. A hash that cannot verify would lock its user out without a word; one with
 * huge parameters would let every login attempt take seconds and gigabytes.
 */
export function scryptHashProblem (hash: string): string | null {
  const parts = hash.split('$')
  const expected = 'is not a scrypt hash from `tollgate hash-password` (scrypt$N$r$p$salt$hash)'
  if (parts.length !== 6 || parts[0] !== 'scrypt') return expected
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  if (![n, r, p].every(x => Number.isInteger(x) && x > 0)) return expected
  if (n < 2 || (n & (n - 1)) !== 0) return 'has a scrypt N that is not a power of two'
  if (128 * n * r > MAX_SCRYPT_MEMORY || p > 16) return 'has scrypt parameters that would take more than 64 MiB or 16 passes per check'
  if (!BASE64.test(parts[4] as string) || !BASE64.test(parts[5] as string)) return expected
  if (Buffer.from(parts[5] as string, 'base64').length !== 32) return 'has a hash that is not 32 bytes long (it can never match)'
  return null
}
