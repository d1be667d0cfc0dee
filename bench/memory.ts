/**
 * `npm run bench:memory`: what an idle keep-alive client connection costs the gateway, on
 * each engine, measured where it can be measured exactly: the gateway runs in this process
 * (started with --expose-gc), the clients in a child process; the heap and off-heap memory
 * are read after a full collection, before and after the connections open. (Read from
 * outside, as RSS, the figure drowns in what the collector returns after a load.)
 *
 * Options (environment): BENCH_IDLE (connections, default 2000).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import { Gateway } from '../src/gateway.js'

const count = Number(process.env.BENCH_IDLE ?? 2000)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

/** Opens `count` connections to `port` from a child process, each making one request, then idle. */
const CLIENTS = `
const { connect } = require('node:net')
const [port, count] = process.argv.slice(1).map(Number)
const sockets = []
let ready = 0
for (let i = 0; i < count; i++) {
  const socket = connect(port, '127.0.0.1')
  sockets.push(socket)
  socket.on('error', () => {})
  socket.once('data', () => { if (++ready === count) process.stdout.write('ready\\n') })
  socket.write('GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')
}
process.stdin.on('end', () => process.exit(0)).resume()
`

function settledMemory (): number {
  gc?.()
  gc?.()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.external
}

/** Waits (bounded) until the gateway holds exactly `n` client connections. */
async function gatewayHolds (gateway: Gateway, n: number): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    if (await gateway.openConnections() === n) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`the gateway does not settle at ${n} connections`)
}

async function openClients (port: number): Promise<ChildProcess> {
  // The clients need a file descriptor each: raise the limit as a shell would.
  const child = spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" -e "$1" "$2" "$3"', process.execPath, CLIENTS, String(port), String(count)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const [line] = await once(child.stdout as NodeJS.ReadableStream, 'data') as [Buffer]
  if (!line.toString().includes('ready')) throw new Error(`the clients printed ${line.toString()}`)
  return child
}

const upstream = createServer({ keepAliveTimeout: 60_000 }, (_req, res) => res.end('ok'))
upstream.listen(0, '127.0.0.1')
await once(upstream, 'listening')
const upstreamPort = (upstream.address() as AddressInfo).port

console.log(`${count} idle keep-alive connections, each after one request; heap + off-heap memory after a full GC`)
console.log('\n| engine | per idle connection |')
console.log('| --- | ---: |')
for (const engine of ['undici', 'reply-from'] as const) {
  const gateway = new Gateway({ logger: pino({ level: 'silent' }) })
  await gateway.apply({
    server: { listen: [{ host: '127.0.0.1', port: 0 }], accessLog: false, logLevel: 'silent', engine },
    upstreams: { up: { targets: [`127.0.0.1:${upstreamPort}`] } },
    routes: [{ name: 'r', upstream: 'up' }]
  })
  const port = gateway.addresses()[0]?.port as number
  // Warm: the first connections pay for code and pools the rest share.
  const warm = await openClients(port)
  warm.stdin?.end()
  await once(warm, 'exit')
  await gatewayHolds(gateway, 0)
  const before = settledMemory()
  const clients = await openClients(port)
  await gatewayHolds(gateway, count)
  const after = settledMemory()
  console.log(`| ${engine} | ${((after - before) / count / 1024).toFixed(2)} KB |`)
  clients.stdin?.end()
  await once(clients, 'exit')
  await gateway.close(0)
}
upstream.close()
