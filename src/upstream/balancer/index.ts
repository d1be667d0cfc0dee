import type { Target } from '../target.js'

/** What a balancer may look at to choose a target for one request. */
export interface BalancerInput {
  /** Client IP (after trustProxy). */
  readonly ip: string
  /** Request path, normalised, without the query. */
  readonly path: string
  /** Raw query string without the leading `?` ('' when none). */
  readonly query: string
  /** Request headers, lower-cased names (Node's IncomingHttpHeaders). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

/**
 * upstream_peer (Pingora): chooses the targets for one request.
 *
 * `pick` returns an iterator: its first item is the balancer's choice, the next items are
 * fallbacks used by retries. It never yields a target that is not `available`, never yields
 * the same target twice, and yields backup targets only after every available primary has
 * been yielded (so backups carry traffic only when no primary is left). An empty iteration
 * means no target can take the request (503 NO_HEALTHY_UPSTREAM).
 */
export interface Balancer {
  pick (input: BalancerInput): Iterator<Target>
  /**
   * Called when a response from `target` is about to be sent; lets a balancer add headers
   * (the sticky cookie). Most balancers do nothing.
   */
  onResponse? (input: BalancerInput, target: Target, setHeader: (name: string, value: string) => void): void
}

export type BalancerKind = 'round-robin' | 'random' | 'least-connections' | 'consistent-hash' | 'sticky-cookie'

/** The consistent-hash key source: ip | path | query | url | header:<name> | cookie:<name>. */
export type HashKey =
  | { readonly from: 'ip' | 'path' | 'query' | 'url' }
  | { readonly from: 'header' | 'cookie'; readonly name: string }

export interface BalancerOptions {
  readonly kind: BalancerKind
  readonly hashKey: HashKey
  readonly sticky: { readonly cookie: string; readonly ttlMs: number }
}
