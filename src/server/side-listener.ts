/**
 * Where a Fastify instance that serves beside the proxy (the admin API, the metrics
 * endpoint) listens. Such an instance is kept across reloads and replaced only when its
 * address changes: this holds its address and tells whether a config names the same one.
 */
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'

export interface ListenAddress {
  readonly host: string
  readonly port: number
}

export class SideListener {
  private app: FastifyInstance | null = null
  private readonly host: string
  private readonly port: number

  constructor (address: ListenAddress) {
    this.host = address.host
    this.port = address.port
  }

  /** Binds `app`; closes it again when the address cannot be had. */
  async listen (app: FastifyInstance): Promise<void> {
    try {
      await app.listen({ host: this.host, port: this.port })
    } catch (err) {
      await app.close().catch(() => undefined)
      throw err
    }
    this.app = app
  }

  /** Where it is bound (the real port when the config said 0). */
  address (): ListenAddress {
    const bound = this.app?.server.address() as AddressInfo | null | undefined
    return { host: this.host, port: bound?.port ?? this.port }
  }

  /** True when `address` names this listener's (port 0 matches any bound port). */
  serves (address: ListenAddress): boolean {
    return address.host === this.host && (address.port === 0 || address.port === this.address().port)
  }

  /** Stops accepting; requests in flight finish first. */
  async close (): Promise<void> {
    const app = this.app
    this.app = null
    await app?.close()
  }
}
