/**
 * The cache lock: while one request fetches a URL for the cache, the others that miss it
 * wait for that response instead of asking the upstream too. A fetch settles its lock on
 * every way out — with the response it stored, or with null (failed, not storable, too
 * large, client gone) — and a waiter gives up after its own deadline: nobody hangs on a
 * fetch that went wrong.
 */
import type { StoredResponse } from './stored-response.js'

export class FillLock {
  readonly key: string
  private readonly locks: FillLocks
  private settled = false
  private resolve!: (response: StoredResponse | null) => void
  readonly outcome: Promise<StoredResponse | null>

  constructor (key: string, locks: FillLocks) {
    this.key = key
    this.locks = locks
    this.outcome = new Promise(resolve => { this.resolve = resolve })
  }

  /** The fetch ended: waiters get `response` (null: each fetches for itself). Idempotent. */
  release (response: StoredResponse | null): void {
    if (this.settled) return
    this.settled = true
    this.locks.forget(this)
    this.resolve(response)
  }
}

export class FillLocks {
  private readonly pending = new Map<string, FillLock>()

  /** The fetch in flight for `key`, if any. */
  current (key: string): FillLock | undefined {
    return this.pending.get(key)
  }

  /** Makes the caller the one fetching `key`. */
  take (key: string): FillLock {
    const lock = new FillLock(key, this)
    this.pending.set(key, lock)
    return lock
  }

  /** How many fetches are in flight (for tests). */
  get size (): number {
    return this.pending.size
  }

  forget (lock: FillLock): void {
    if (this.pending.get(lock.key) === lock) this.pending.delete(lock.key)
  }
}

/** `lock`'s outcome, or null after `ms` (the waiter then fetches for itself). */
export async function waitForFill (lock: FillLock, ms: number): Promise<StoredResponse | null> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<null>(resolve => { timer = setTimeout(resolve, ms, null) })
  try {
    return await Promise.race([lock.outcome, deadline])
  } finally {
    clearTimeout(timer)
  }
}
