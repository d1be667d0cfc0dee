/**
 * A gateway with one cached route `/c/*` in front of an origin whose answer each test
 * writes (and which counts what it received), with a clock the test moves: freshness is
 * read from it, and the origin's Date follows it, so "60 s later" takes no time.
 */
import type { TestContext } from 'node:test'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { startOrigin, type Origin } from './origin.js'
import { startGateway, type RunningGateway, type StartOptions } from './gateway.js'
import { client, type Reply, type RequestInit } from './client.js'
import type { GatewayConfig } from '../../src/index.js'

type RouteConfig = NonNullable<GatewayConfig['routes']>[number]
export type RouteCacheConfig = NonNullable<RouteConfig['cache']>

export interface CacheLab {
  readonly gw: RunningGateway
  readonly origin: Origin
  /** Requests the origin received so far. */
  readonly hits: () => number
  /** Moves the cache's clock forward. */
  readonly advance: (ms: number) => void
  readonly now: () => number
  readonly send: (path: string, init?: RequestInit) => Promise<Reply>
}

export interface CacheLabOptions {
  readonly cache?: RouteCacheConfig
  readonly route?: Partial<RouteConfig>
  readonly config?: Partial<GatewayConfig>
  readonly start?: StartOptions
}

export async function cacheLab (t: TestContext, handler: (req: IncomingMessage, res: ServerResponse, body: string) => void, options: CacheLabOptions = {}): Promise<CacheLab> {
  let now = Date.now()
  // The origin's Date follows the same clock (a handler may still set its own).
  const origin = await startOrigin(t, 'origin', {
    handler: (req, res, body) => {
      res.setHeader('date', new Date(now).toUTCString())
      handler(req, res, body)
    }
  })
  const gw = await startGateway(t, {
    ...options.config,
    upstreams: { origin: { targets: [origin.address] } },
    // The config's own routes first, then the lab's cached `/c/*`.
    routes: [...options.config?.routes ?? [], { name: 'cached', match: { path: '/c/*' }, upstream: 'origin', cache: options.cache ?? {}, ...options.route }]
  }, { ...options.start, cacheClock: () => now })
  const request = client(t)
  return {
    gw,
    origin,
    hits: () => origin.received.length,
    advance: (ms) => { now += ms },
    now: () => now,
    send: async (path, init) => await request(`${gw.url}${path}`, init)
  }
}

/** An origin answer: `body` with `headers`, status 200 unless given. */
export function answer (headers: Record<string, string | string[]>, body = 'hello', status = 200) {
  return (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(status, headers)
    res.end(body)
  }
}
