/**
 * The protocol sections of `npm run bench`, each through Tollgate next to a reference in
 * the same run, alternating rounds:
 *   - HTTP/2 downstream over TLS: h2load (10 connections × 10 streams) against Tollgate's
 *     `http2: true` listener, against plain Fastify http2 + @fastify/http-proxy, and against
 *     the floor: node:http2 handing requests to undici with nothing around them;
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
  /** CPU seconds (user + system) the processes have used so far. */
  readonly cpuSeconds: (pids: readonly number[]) => number
}

interface Rate {
  readonly name: string
  readonly perSecond: number
  readonly failed: number
  readonly meanMs: number
  /** The server's CPU time per exchange, in µs, where measured. */
  readonly cpuUs?: number
}

function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const half = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[half] as number : ((sorted[half - 1] as number) + (sorted[half] as number)) / 2
}

function printRates (rows: readonly Rate[], unit: string): void {
  const cpu = rows.every(r => r.cpuUs !== undefined)
  console.log(`| target | ${unit}/s | mean ms | failed |${cpu ? ' server CPU µs/request |' : ''}`)
  console.log(`| --- | ---: | ---: | ---: |${cpu ? ' ---: |' : ''}`)
  for (const r of rows) console.log(`| ${r.name} | ${r.perSecond.toFixed(0)} | ${r.meanMs.toFixed(2)} | ${r.failed} |${cpu ? ` ${(r.cpuUs as number).toFixed(1)} |` : ''}`)
}

/** Alternating rounds of `runs`, the median of each one's rate. */
async function alternate (bench: ProtocolBench, runs: readonly { name: string, run: () => Promise<Omit<Rate, 'name'>> }[]): Promise<{ rates: Rate[], ratios: number[], cpuRatios: number[], rounds: Omit<Rate, 'name'>[][] }> {
  const all: Omit<Rate, 'name'>[][] = runs.map(() => [])
  for (let round = 0; round < bench.rounds; round++) {
    for (const [i, r] of runs.entries()) all[i]?.push(await r.run())
  }
  const rates = runs.map((r, i) => {
    const cpu = (all[i] ?? []).map(x => x.cpuUs).filter(us => us !== undefined)
    return {
      name: r.name,
      perSecond: median((all[i] ?? []).map(x => x.perSecond)),
      meanMs: median((all[i] ?? []).map(x => x.meanMs)),
      failed: (all[i] ?? []).reduce((sum, x) => sum + x.failed, 0),
      ...(cpu.length > 0 ? { cpuUs: median(cpu) } : {})
    }
  })
  // Tollgate first, its reference second: the ratio within each round.
  const ratios = (all[0] ?? []).map((x, i) => x.perSecond / ((all[1] ?? [])[i]?.perSecond ?? Number.NaN))
  const cpuRatios = (all[0] ?? []).map((x, i) => (x.cpuUs ?? Number.NaN) / ((all[1] ?? [])[i]?.cpuUs ?? Number.NaN))
  console.log(`\nper round, ${runs.map(r => r.name).join(' | ')}: ${(all[0] ?? []).map((_, i) => all.map(series => series[i]?.perSecond.toFixed(0)).join(' | ')).join(', ')}`)
  return { rates, ratios, cpuRatios, rounds: all }
}

/** The median over rounds of `a`'s value over `b`'s, within each round. */
function pairedRatio (a: readonly Omit<Rate, 'name'>[] | undefined, b: readonly Omit<Rate, 'name'>[] | undefined, pick: (r: Omit<Rate, 'name'>) => number | undefined): number {
  return median((a ?? []).map((x, i) => (pick(x) ?? Number.NaN) / (pick((b ?? [])[i] ?? x) ?? Number.NaN)))
}

/**
 * One h2load run after a one-second warm-up run: requests/s, failed requests, mean time per
 * request, and the CPU time `pid` spent per request during the measured run.
 */
function h2load (bench: ProtocolBench, url: string, pid: number): Omit<Rate, 'name'> {
  spawnSync('h2load', ['-c', '10', '-m', '10', '-D', '1', url], { encoding: 'utf8', timeout: 30_000 })
  const cpuBefore = bench.cpuSeconds([pid])
  const run = spawnSync('h2load', ['-c', '10', '-m', '10', '-D', String(bench.seconds), url], { encoding: 'utf8', timeout: (bench.seconds + 30) * 1000 })
  const cpu = bench.cpuSeconds([pid]) - cpuBefore
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
  return { perSecond: rps, failed, meanMs, cpuUs: cpu * 1e6 / Math.max(1, Number(done[1])) }
}

export async function h2Section (bench: ProtocolBench): Promise<void> {
  const pki = makePki(null, ['localhost', '127.0.0.1'])
  const reference = await bench.startProcess([bench.here('http-proxy-h2.mjs'), bench.upstream, pki.files.serverKey, pki.files.serverCert])
  bench.pin(reference.pid, 0)
  const floor = await bench.startProcess([bench.here('h2-floor.mjs'), bench.upstream, pki.files.serverKey, pki.files.serverCert])
  bench.pin(floor.pid, 0)
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
  const { rates, ratios, cpuRatios, rounds } = await alternate(bench, [
    { name: 'tollgate, http2 listener', run: async () => h2load(bench, tollgate.url, tollgate.pid) },
    { name: 'Fastify http2 + @fastify/http-proxy', run: async () => h2load(bench, `https://127.0.0.1:${reference.out}/`, reference.pid) },
    { name: 'node:http2 + undici, no framework (the floor)', run: async () => h2load(bench, `https://127.0.0.1:${floor.out}/`, floor.pid) }
  ])
  console.log(`\n## h2: HTTP/2 over TLS downstream, h2load 10 connections × 10 streams (medians of ${bench.rounds} rounds)\n`)
  printRates(rates, 'requests')
  console.log(`\nh2 tollgate / Fastify http2 + @fastify/http-proxy: ${median(ratios).toFixed(2)} (requests/s), CPU per request ${median(cpuRatios).toFixed(2)}`)
  console.log(`h2 floor / Fastify http2 + @fastify/http-proxy: ${pairedRatio(rounds[2], rounds[1], r => r.perSecond).toFixed(2)} (requests/s), CPU per request ${pairedRatio(rounds[2], rounds[1], r => r.cpuUs).toFixed(2)}`)
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
