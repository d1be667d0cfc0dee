// Compile-time checks of the public API: `npm test` type-checks this file (tsconfig.test.json).
// Each @ts-expect-error line must fail to compile, or the check itself fails.
import {
  defineAuth, defineGateway, defineRoute, defineHealthCheck, Gateway, errors, type GatewayConfig, type RouteDefinition,
  type HealthCheckDefinition, type HealthEvent, type UpstreamSnapshot
} from '../../src/index.js'

export const config: GatewayConfig = defineGateway({
  server: { listen: [{ host: '127.0.0.1', port: 8080 }], gracefulShutdown: '30s', limits: { maxHeaderSize: '16kb' } },
  upstreams: {
    blue: {
      targets: ['127.0.0.1:3001', { address: '127.0.0.1:3002', weight: 3 }, { socketPath: '/tmp/app.sock' }],
      balancer: 'consistent-hash',
      hash: { key: 'header:x-user' },
      timeouts: { connect: '100ms', response: 30_000 },
      retries: { attempts: 2, on: ['connect-error', 503] }
    }
  },
  routes: [{ name: 'blue', match: { path: '/blue/*' }, upstream: 'blue', rewrite: { stripPrefix: '/blue' } }]
})

export const route: RouteDefinition = defineRoute({
  name: 'orders',
  upstream: 'blue',
  hooks: {
    onRequest (request, reply, ctx) {
      const id: string = ctx.requestId
      const path: string = ctx.match.path
      ctx.state.seen = `${id} ${path} ${request.method}`
      if (request.headers['x-key'] === undefined) throw new errors.Unauthorized('no key')
      void reply
    },
    upstreamRequest (_request, headers, ctx) {
      headers['x-tries'] = String(ctx.tries)
    },
    onError (_request, reply, error) {
      const code: string = error.code
      reply.header('x-error', code)
    }
  }
})

defineGateway({
  // @ts-expect-error an unknown balancer is a type error
  upstreams: { a: { targets: ['127.0.0.1:1'], balancer: 'fastest' } }
})

defineGateway({
  // @ts-expect-error an unknown key is a type error
  server: { colour: 'blue' }
})

defineRoute({
  name: 'x',
  upstream: 'a',
  // @ts-expect-error an unknown hook is a type error
  hooks: { beforeEverything () {} }
})

export const healthy: HealthCheckDefinition = defineHealthCheck('db-ready', async (target, signal) => {
  const where: string = target.socketPath ?? `${target.host ?? ''}:${target.port ?? 0}`
  return signal.aborted ? false : { healthy: where !== '', reason: target.address }
})

defineHealthCheck('sync', (target) => target.backup)

// @ts-expect-error a check answers healthy or not, not a status code
defineHealthCheck('wrong', () => 200)

defineGateway({
  upstreams: {
    a: {
      targets: ['127.0.0.1:1'],
      healthCheck: { type: 'http', path: '/health', expectStatus: [200, 204], expectBody: '/^ok$/i', interval: '1s', timeout: 500, healthyThreshold: 2 },
      passive: { consecutiveFailures: 3, ejectFor: '30s', on: ['connect-error', 'timeout', 503] },
      notify: { webhook: 'http://127.0.0.1:9999/alerts' }
    }
  }
})

defineGateway({
  // @ts-expect-error an unknown check type is a type error
  upstreams: { a: { targets: ['127.0.0.1:1'], healthCheck: { type: 'udp' } } }
})

export function describeEvent (event: HealthEvent): string {
  return event.type === 'target' ? `${event.upstream} ${event.target}: ${event.from} → ${event.to}` : `${event.upstream}: ${event.healthyTargets} healthy`
}

export async function embed (): Promise<void> {
  const gateway = new Gateway()
  await gateway.apply({ routes: [] }, { healthChecks: [healthy] })
  const snapshots: UpstreamSnapshot[] = [...gateway.liveUpstreams.values()].map(u => u.snapshot())
  void snapshots
  await gateway.close()
}

// The contract's defineAuth example, and what a decision may hold.
export const apiKey = defineAuth('api-key', async (request) =>
  request.headers['x-api-key'] === process.env.API_KEY
    ? { allow: true, principal: { id: 'svc' } }
    : { allow: false, status: 401, message: 'missing or wrong key' })

export const readOnly = defineAuth('read-only', (request) =>
  request.method === 'GET' ? { allow: true } : { allow: false, status: 403, headers: { 'x-reason': 'read only' } })

// @ts-expect-error a denial is 401 or 403, nothing else
defineAuth('teapot', () => ({ allow: false, status: 418 }))

// @ts-expect-error a hook must return a decision
defineAuth('nothing', () => 'yes')

export const guarded: RouteDefinition = defineRoute({
  name: 'guarded',
  upstream: 'blue',
  auth: { type: 'jwt', secret: 's', algorithms: ['HS256'], forwardClaims: { sub: 'x-user-id' }, clockTolerance: '5s' },
  hooks: {
    onRequest (_request, _reply, ctx) {
      const principal: Record<string, unknown> | null = ctx.principal
      void principal
    }
  }
})

defineRoute({
  name: 'bad-auth',
  upstream: 'blue',
  // @ts-expect-error an unknown auth type is a type error
  auth: { type: 'oauth' }
})
