/**
 * A gateway with its admin API on 127.0.0.1:0, and a client for it that sends the token
 * (unless told otherwise) and JSON bodies.
 */
import type { TestContext } from 'node:test'
import { startGateway, type RunningGateway, type StartOptions } from './gateway.js'
import { client, type Reply, type RequestInit } from './client.js'
import type { GatewayConfig } from '../../src/index.js'

export const ADMIN_TOKEN = 'admin-test-token-0123456789'

export interface AdminGateway extends RunningGateway {
  readonly adminUrl: string
  /** A request to the admin API; `json` is sent as the body with its content type. */
  admin (path: string, init?: AdminRequest): Promise<Reply>
  /** A request through the proxy listener. */
  get (path: string, init?: RequestInit): Promise<Reply>
}

export interface AdminRequest extends RequestInit {
  json?: unknown
  /** Default: the gateway's token. null: no Authorization header. */
  token?: string | null
}

/** `config.admin` defaults to loopback, port 0 and ADMIN_TOKEN. */
export async function startAdminGateway (t: TestContext, config: GatewayConfig, options: StartOptions = {}): Promise<AdminGateway> {
  const withAdmin: GatewayConfig = { ...config, admin: config.admin ?? { listen: { host: '127.0.0.1', port: 0 }, token: ADMIN_TOKEN } }
  const gw = await startGateway(t, withAdmin, options)
  const address = gw.gateway.adminAddress()
  if (address === null) throw new Error('the gateway has no admin listener')
  const adminUrl = `http://127.0.0.1:${address.port}`
  const send = client(t)
  const token = withAdmin.admin?.token ?? null
  return {
    ...gw,
    adminUrl,
    admin: async (path, init = {}) => {
      const headers: Record<string, string> = { ...init.headers }
      const bearer = init.token === undefined ? token : init.token
      if (bearer !== null) headers.authorization = `Bearer ${bearer}`
      let body = init.body
      if (init.json !== undefined) {
        headers['content-type'] ??= 'application/json'
        body = JSON.stringify(init.json)
      }
      return await send(`${adminUrl}${path}`, {
        method: init.method ?? (body === undefined ? 'GET' : 'POST'),
        headers,
        ...(body === undefined ? {} : { body })
      })
    },
    get: async (path, init) => await send(`${gw.url}${path}`, init)
  }
}
