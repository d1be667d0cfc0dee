// A process that runs a gateway with every health feature busy (probes in flight, one to a
// target that never answers, a custom check that never settles, a passive ejection of an
// hour, a webhook delivery that is never answered), closes it and its servers, and then
// reports what of the health code is still alive: timers (unref'd ones included) and
// sockets. It then closes its servers, prints one JSON line and must exit by itself,
// with nothing left to keep it alive: the test runs it with a deadline.
import { createHook } from 'node:async_hooks'
import { createServer, type Server } from 'node:http'
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
import { once } from 'node:events'
import pino from 'pino'
import { Gateway } from '../../src/gateway.js'
import { defineHealthCheck } from '../../src/index.js'

/** Resources created by the health code, by async id: what they are and where they were made. */
const live = new Map<number, { type: string, stack: string }>()
const WATCHED = new Set(['Timeout', 'TCPWRAP', 'TCPCONNECTWRAP', 'HTTPCLIENTREQUEST', 'TLSWRAP'])
Error.stackTraceLimit = 40
createHook({
  init (id, type) {
    if (!WATCHED.has(type)) return
    const stack = new Error().stack ?? ''
    if (stack.includes('/src/health/')) live.set(id, { type, stack })
  },
  destroy (id) { live.delete(id) }
}).enable()

async function listen (server: Server | NetServer): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return (server.address() as { port: number }).port
}

const sockets = new Set<Socket>()
const track = (server: Server | NetServer): void => { server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)) }) }

let failing = false
const origin = createServer((req, res) => {
  res.statusCode = req.url === '/health' || !failing ? 200 : 503
  res.end('ok')
})
const silent = createNetServer(() => undefined)
let webhookCalled!: () => void
const webhookReached = new Promise<void>(resolve => { webhookCalled = resolve })
const webhook = createServer(() => webhookCalled())
for (const server of [origin, silent, webhook]) track(server)
const [originPort, silentPort, webhookPort] = await Promise.all([listen(origin), listen(silent), listen(webhook)])

const gateway = new Gateway({ logger: pino({ level: 'silent' }) })
const hanging = defineHealthCheck('hangs', () => new Promise<boolean>(() => undefined))
await gateway.apply({
  server: { listen: [{ host: '127.0.0.1', port: 0 }], logLevel: 'silent', accessLog: false },
  upstreams: {
    app: {
      targets: [`127.0.0.1:${originPort}`, `127.0.0.1:${silentPort}`],
      // Long enough for the origin's checks to pass on a loaded machine; the silent target's
      // fail by this timeout.
      healthCheck: { type: 'http', path: '/health', interval: '1s', timeout: '300ms' },
      passive: { consecutiveFailures: 1, ejectFor: '1h', on: [503] },
      notify: { webhook: `http://127.0.0.1:${webhookPort}/` }
    },
    custom: {
      targets: [`127.0.0.1:${originPort}`],
      healthCheck: { type: 'custom', name: 'hangs', interval: '50ms', timeout: '40ms' }
    }
  },
  routes: [{ name: 'r', upstream: 'app' }]
}, { healthChecks: [hanging] })
const port = gateway.addresses()[0]?.port as number

// The silent target's first check timed out: the webhook was told, and never answers.
await webhookReached
failing = true
const res = await fetch(`http://127.0.0.1:${port}/`)
const body = await res.text()
const ejected = gateway.liveUpstreams.get('app')?.targets[0]?.ejectedUntil !== 0

await gateway.close(0)
// Let destroyed handles report their end, then look: the servers are still up, so a
// probe or a webhook delivery the close missed would still be there.
await new Promise(resolve => setImmediate(resolve))
await new Promise(resolve => setTimeout(resolve, 20))
const left = [...live.values()].map(({ type, stack }) => `${type} made at\n${stack.split('\n').filter(l => l.includes('/src/')).slice(0, 4).join('\n')}`)

for (const socket of sockets) socket.destroy()
await Promise.all([origin, silent, webhook].map(async server => await new Promise(resolve => server.close(resolve))))
process.stdout.write(JSON.stringify({ ejected, status: res.status, body, left }) + '\n')
