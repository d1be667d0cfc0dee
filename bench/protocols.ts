/**
 * The protocol sections of `npm run bench`, each through Tollgate next to a reference in
 * the same run, alternating rounds:
 *   - HTTP/2 downstream over TLS: h2load (10 connections × 10 streams) against Tollgate's
 *     `http2: true` listener and against plain Fastify http2 + @fastify/http-proxy;
 *   - gRPC unary calls (@grpc/grpc-js, 50 in flight) through Tollgate (TLS h2 in, h2c out)
 *     and straight to the gRPC server;
 *   - WebSocket round trips (50 sockets, one message in flight each) through Tollgate and
 *     straight to the echo server.
 * Rates are what the clients count; the load generators share a core with the upstreams.
 */
import { spawnSync } from 'node:child_process'
import { writeFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import WebSocket from 'ws'
import { makePki } from '../test/helpers/certs.js'

export interface ProtocolBench {
  readonly seconds: number
  readonly rounds: number
  readonly dir: string
  /** The HTTP/1.1 upstream's URL (`http://127.0.0.1:port`). */
  readonly upstream: string
  readonly here: (name: string) => string
  readonly startProcess: (args: string[]) => Promise<{ out: string, pid: number }>
  readonly startTollgate: (config: string) => Promise<{ url: string, pid: number }>
  readonly pin: (pid: number, core: number) => void
}

interface Rate { readonly name: string, readonly perSecond: number, readonly failed: number, readonly meanMs: number }

function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const half = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[half] as number : ((sorted[half - 1] as number) + (sorted[half] as number)) / 2
}

function printRates (rows: readonly Rate[], unit: string): void {
  console.log(`| target | ${unit}/s | mean ms | failed |`)
  console.log('| --- | ---: | ---: | ---: |')
  for (const r of rows) console.log(`| ${r.name} | ${r.perSecond.toFixed(0)} | ${r.meanMs.toFixed(2)} | ${r.failed} |`)
}

/** Alternating rounds of `runs`, the median of each one's rate. */
async function alternate (bench: ProtocolBench, runs: readonly { name: string, run: () => Promise<Omit<Rate, 'name'>> }[]): Promise<{ rates: Rate[], ratios: number[] }> {
  const all: Omit<Rate, 'name'>[][] = runs.map(() => [])
  for (let round = 0; round < bench.rounds; round++) {
    for (const [i, r] of runs.entries()) all[i]?.push(await r.run())
  }
  const rates = runs.map((r, i) => ({
    name: r.name,
    perSecond: median((all[i] ?? []).map(x => x.perSecond)),
    meanMs: median((all[i] ?? []).map(x => x.meanMs)),
    failed: (all[i] ?? []).reduce((sum, x) => sum + x.failed, 0)
  }))
  // Tollgate first, its reference second: the ratio within each round.
  const ratios = (all[0] ?? []).map((x, i) => x.perSecond / ((all[1] ?? [])[i]?.perSecond ?? Number.NaN))
  return { rates, ratios }
}

/** One h2load run: requests/s, failed requests, mean time per request. */
function h2load (url: string, seconds: number): Omit<Rate, 'name'> {
  const run = spawnSync('h2load', ['-c', '10', '-m', '10', '-D', String(seconds), '--warm-up-time=1', url], { encoding: 'utf8', timeout: (seconds + 30) * 1000 })
  const out = run.stdout ?? ''
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? Number.NaN)
  const done = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out)
  const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? ''
  const meanMs = mean.endsWith('us') ? Number(mean.slice(0, -2)) / 1000 : mean.endsWith('ms') ? Number(mean.slice(0, -2)) : Number(mean.slice(0, -1)) * 1000
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out)
  if (Number.isNaN(rps) || done === null || codes === null) throw new Error(`h2load gave no figures for ${url}:\n${out}\n${run.stderr ?? ''}`)
  // Errored requests and answers other than 2xx. (h2load counts the requests still open
  // when the duration ends as "failed": they are no failure of the server.)
  const failed = Number(done[3]) + Number(codes[2]) + Number(codes[3]) + Number(codes[4])
  return { perSecond: rps, failed, meanMs }
}

export async function h2Section (bench: ProtocolBench): Promise<void> {
  const pki = makePki(null, ['localhost', '127.0.0.1'])
  const reference = await bench.startProcess([bench.here('http-proxy-h2.mjs'), bench.upstream, pki.files.serverKey, pki.files.serverCert])
  bench.pin(reference.pid, 0)
  const config = join(bench.dir, 'bench-h2.yaml')
  writeFileSync(config, `
server:
  listen: [{ host: 127.0.0.1, port: 0, http2: true, tls: { certs: [{ cert: ${pki.files.serverCert}, key: ${pki.files.serverKey} }] } }]
  accessLog: false
  logLevel: info
upstreams:
  app: { targets: [${bench.upstream.replace('http://', '')}] }
routes:
  - { name: app, upstream: app }
`)
  const tollgate = await bench.startTollgate(config)
  const { rates, ratios } = await alternate(bench, [
    { name: 'tollgate, http2 listener', run: async () => h2load(tollgate.url, bench.seconds) },
    { name: 'Fastify http2 + @fastify/http-proxy', run: async () => h2load(`https://127.0.0.1:${reference.out}/`, bench.seconds) }
  ])
  console.log(`\n## h2: HTTP/2 over TLS downstream, h2load 10 connections × 10 streams (medians of ${bench.rounds} rounds)\n`)
  printRates(rates, 'requests')
  console.log(`\nh2 tollgate / Fastify http2 + @fastify/http-proxy: ${median(ratios).toFixed(2)} (requests/s)`)
}

/** `inFlight` loops of unary calls for `seconds`: calls/s, failures, mean latency. */
async function unaryRate (client: grpc.Client & { Unary: (m: object, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void }, seconds: number, inFlight = 50): Promise<Omit<Rate, 'name'>> {
  const end = performance.now() + seconds * 1000
  let done = 0
  let failed = 0
  let totalMs = 0
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const started = performance.now()
      await new Promise<void>(resolve => {
        client.Unary({ text: 'ping' }, new grpc.Metadata(), {}, (err) => {
          if (err !== null) failed++
          else done++
          totalMs += performance.now() - started
          resolve()
        })
      })
    }
  }
  await Promise.all(Array.from({ length: inFlight }, loop))
  return { perSecond: done / seconds, failed, meanMs: totalMs / Math.max(1, done + failed) }
}

export async function grpcSection (bench: ProtocolBench): Promise<void> {
  const pki = makePki(null, ['localhost', '127.0.0.1'])
  const origin = await bench.startProcess([bench.here('grpc-echo.mjs')])
  const config = join(bench.dir, 'bench-grpc.yaml')
  writeFileSync(config, `
server:
  listen: [{ host: 127.0.0.1, port: 0, http2: true, tls: { certs: [{ cert: ${pki.files.serverCert}, key: ${pki.files.serverKey} }] } }]
  accessLog: false
  logLevel: info
upstreams:
  grpc: { targets: [127.0.0.1:${origin.out}], protocol: h2c }
routes:
  - { name: grpc, upstream: grpc }
`)
  const tollgate = await bench.startTollgate(config)
  const proto = fileURLToPath(new URL('../test/fixtures/echo.proto', import.meta.url))
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(proto, { keepCase: true, defaults: true })) as unknown as { tollgate: { test: { Echo: new (address: string, credentials: grpc.ChannelCredentials) => Parameters<typeof unaryRate>[0] } } }
  const Echo = loaded.tollgate.test.Echo
  const viaTollgate = new Echo(`127.0.0.1:${new URL(tollgate.url).port}`, grpc.credentials.createSsl(readFileSync(pki.files.ca)))
  const direct = new Echo(`127.0.0.1:${origin.out}`, grpc.credentials.createInsecure())
  try {
    const { rates, ratios } = await alternate(bench, [
      { name: 'tollgate (TLS h2 in, h2c out)', run: async () => await unaryRate(viaTollgate, bench.seconds) },
      { name: 'the gRPC server directly (h2c)', run: async () => await unaryRate(direct, bench.seconds) }
    ])
    console.log(`\n## grpc: unary calls, 50 in flight (medians of ${bench.rounds} rounds)\n`)
    printRates(rates, 'calls')
    console.log(`\ngrpc tollgate / directly: ${median(ratios).toFixed(2)} (calls/s)`)
  } finally {
    viaTollgate.close()
    direct.close()
  }
}

/** `sockets` WebSockets to `url`, each sending one message and awaiting its echo, for `seconds`. */
async function roundTrips (url: string, seconds: number, sockets = 50): Promise<Omit<Rate, 'name'>> {
  const opened = await Promise.all(Array.from({ length: sockets }, async () => await new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })))
  const end = performance.now() + seconds * 1000
  let done = 0
  let totalMs = 0
  const payload = Buffer.alloc(64, 'w')
  await Promise.all(opened.map(async ws => {
    while (performance.now() < end) {
      const started = performance.now()
      await new Promise<void>(resolve => { ws.once('message', () => resolve()); ws.send(payload) })
      done++
      totalMs += performance.now() - started
    }
  }))
  await Promise.all(opened.map(async ws => await new Promise<void>(resolve => { ws.once('close', () => resolve()); ws.close() })))
  return { perSecond: done / seconds, failed: 0, meanMs: totalMs / Math.max(1, done) }
}

export async function websocketSection (bench: ProtocolBench): Promise<void> {
  const echo = await bench.startProcess([bench.here('ws-echo.mjs')])
  const config = join(bench.dir, 'bench-ws.yaml')
  writeFileSync(config, `
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  accessLog: false
  logLevel: info
upstreams:
  echo: { targets: [127.0.0.1:${echo.out}] }
routes:
  - { name: ws, upstream: echo, websocket: true }
`)
  const tollgate = await bench.startTollgate(config)
  const { rates, ratios } = await alternate(bench, [
    { name: 'tollgate', run: async () => await roundTrips(tollgate.url.replace('http://', 'ws://'), bench.seconds) },
    { name: 'the echo server directly', run: async () => await roundTrips(`ws://127.0.0.1:${echo.out}/`, bench.seconds) }
  ])
  console.log(`\n## websocket: message round trips, 50 sockets with one message in flight each (medians of ${bench.rounds} rounds)\n`)
  printRates(rates, 'round trips')
  console.log(`\nwebsocket tollgate / directly: ${median(ratios).toFixed(2)} (round trips/s)`)
}
