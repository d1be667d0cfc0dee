/**
 * The same kind of gateway as gateway.example.yaml, written in TypeScript: the editor
 * completes every key and checks every value. Run it with
 * `tollgate start -c examples/gateway.config.ts` (no build step: it is compiled on load).
 */
import { defineGateway } from 'tollgate'

export default defineGateway({
  server: {
    listen: [{ host: '127.0.0.1', port: 8080 }],
    trustProxy: ['127.0.0.1/32'],
    limits: { headersTimeout: '10s', maxHeaderSize: '16kb' }
  },
  upstreams: {
    api: {
      targets: ['127.0.0.1:3001', { address: '127.0.0.1:3002', weight: 3 }],
      backup: ['127.0.0.1:3009'],
      timeouts: { connect: '2s', response: '30s' },
      retries: { attempts: 2, on: ['connect-error', 502, 503] },
      healthCheck: { type: 'http', path: '/health', expectStatus: [200], interval: '2s', timeout: '500ms' },
      passive: { consecutiveFailures: 5, ejectFor: '30s' }
    },
    sessions: {
      targets: ['127.0.0.1:3001', '127.0.0.1:3002'],
      balancer: 'sticky-cookie',
      sticky: { cookie: 'tollgate_session', ttl: '1h' }
    }
  },
  routes: [
    {
      name: 'users',
      match: { path: '/users/*', methods: ['GET', 'POST'] },
      upstream: 'api',
      rewrite: { stripPrefix: '/users', query: { remove: ['debug', 'utm_*'] } },
      requestHeaders: { set: { 'x-proxy': 'tollgate' } },
      responseHeaders: { remove: ['x-app-version'] }
    },
    {
      name: 'app',
      match: { path: '/app/*' },
      upstream: 'sessions',
      hooks: {
        upstreamRequest (_request, headers, ctx) {
          headers['x-tollgate-try'] = String(ctx.tries)
        }
      }
    }
  ]
})
