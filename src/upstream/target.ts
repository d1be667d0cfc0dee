/**
 * Where a target lives: a TCP address or a Unix domain socket. Compiled from the config's
 * `targets` / `backup` entries; `id` is stable across reloads and processes (it names the
 * target in logs, sticky cookies and the admin API).
 */
export type TargetAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly id: string }
  | { readonly kind: 'unix'; readonly socketPath: string; readonly id: string }

export interface TargetSpec {
  readonly address: TargetAddress
  readonly weight: number
  readonly backup: boolean
}

/**
 * One member of an upstream: its address and weight (from config) plus the live state
 * that balancers read and the proxy updates. Health and `enabled` are changed by health
 * checks and the admin API; `inflight` by each attempt that starts and ends on it.
 */
export class Target {
  readonly id: string
  readonly address: TargetAddress
  readonly weight: number
  readonly backup: boolean
  /** Taken out of rotation by an operator; health is kept apart. */
  enabled = true
  /** Set by health checks (active or passive); true until a check says otherwise. */
  healthy = true
  /** Requests currently being sent to or answered by this target. */
  inflight = 0
  /** Connections opened to this target since it was created. */
  connectionsOpened = 0
  lastError: string | null = null

  constructor (spec: TargetSpec) {
    this.id = spec.address.id
    this.address = spec.address
    this.weight = spec.weight
    this.backup = spec.backup
  }

  /** True when a balancer may hand this target out. */
  get available (): boolean {
    return this.enabled && this.healthy
  }

  toString (): string {
    return this.id
  }
}
