/**
 * `npm run bench`: requests/s, p99 latency and the server's CPU time per request, in one
 * run, of
 *   1. the upstream served directly,
 *   2. plain @fastify/http-proxy in front of it,
 *   3. Tollgate on its default engine (undici, direct dispatch),
 *   4. Tollgate on the reply-from engine (`server.engine: reply-from`),
 * for two kinds of traffic: `basic` (GET / with no extra header) and `realistic` (10
 * request headers, 2 000 distinct paths with query strings). Then what guarding a route
 * costs: Tollgate's route with an IP filter, a rate limit that is never reached and JWT
 * HS256 auth, against its bare route and against @fastify/http-proxy registered with
 * @fastify/rate-limit and @fastify/jwt doing the same work. Then cache hits (a route with
 * `cache`, every request after the first a hit) against the proxied route. Then what metrics cost: the
 * same route on two Tollgate processes of one config, one of them with `metrics` on (and
 * scraped once a round, as Prometheus would). Each server runs in its own
 * process and is measured one at a time (autocannon in this one); the proxies in
 * alternating rounds (A B C A B C …), medians compared, so none gains from running first
 * or from one disturbed run. Then Tollgate with `--workers 2` against one process on the
 * same route, neither pinned (two workers need both cores, which they then share with the
 * upstream and autocannon). Then the protocols (bench/protocols.ts): HTTP/2 over TLS with
 * h2load, gRPC unary calls and WebSocket round trips. Then each proxy's RSS after the runs (bench/memory.ts
 * measures what an idle connection costs). Not a test: numbers depend on the machine.
 *
 * Options (environment): BENCH_SECONDS (default 5), BENCH_CONNECTIONS (default 50),
 * BENCH_ROUNDS (default 7), BENCH_WARMUP (seconds of warm-up before each run, default 1;
 * 0 for none).
 * Many short rounds rather than a few long ones: on a shared machine a disturbance then
 * spoils one round, which the median drops, instead of a third of the figures.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { once } from 'node:events'
import { createHmac, randomBytes } from 'node:crypto'
import { writeFileSync, mkdtempSync, rmSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { grpcSection, h2Section, websocketSection, type ProtocolBench } from './protocols.js'

const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const rounds = Number(process.env.BENCH_ROUNDS ?? 7)
const warmup = Number(process.env.BENCH_WARMUP ?? 1)
/** BENCH_SECTIONS: a comma-separated share of SECTIONS to run (default: every one). */
const SECTIONS = ['http', 'guarded', 'cache', 'metrics', 'workers', 'h2', 'grpc', 'websocket'] as const
const chosen = (process.env.BENCH_SECTIONS ?? SECTIONS.join(',')).split(',').map(name => name.trim()).filter(name => name !== '')
for (const name of chosen) {
  if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`BENCH_SECTIONS: no section ${name} (sections: ${SECTIONS.join(', ')})`)
}
const wanted = (section: typeof SECTIONS[number]): boolean => chosen.includes(section)
const here = (name: string): string => fileURLToPath(new URL(name, import.meta.url))
const children: ChildProcess[] = []

/**
 * With two or more cores, the proxy under test gets core 0 to itself and everything else
 * (the upstream, autocannon in this process) shares core 1: the figures then measure the
 * proxy, not how the scheduler shared one core between three busy processes.
 */
/** Read before this process pins itself: children inherit its affinity. */
const cores = availableParallelism()
const pinning = cores >= 2 && spawnSync('taskset', ['-V']).status === 0
function pin (pid: number, core: number): void {
  if (pinning) spawnSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' })
}

/** What `child` prints until `done` accepts it; fails if the child exits first. */
async function readUntil (child: ChildProcess, name: string, done: (out: string) => boolean): Promise<string> {
  let out = ''
  return await new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      if (!done(out)) return
      child.stdout?.off('data', onData)
      child.off('exit', onExit)
      resolve(out)
    }
    const onExit = (code: number | null, signal: string | null): void => {
      reject(new Error(`${name} exited (code ${String(code)}, signal ${String(signal)}) before it was ready; it printed:\n${out}`))
    }
    child.stdout?.on('data', onData)
    child.once('exit', onExit)
  })
}

async function startProcess (args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ out: string, pid: number }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  children.push(child)
  const out = await readUntil(child, args[0] ?? 'a server', text => text.includes('\n'))
  return { out: out.trim(), pid: child.pid as number }
}

interface Result { name: string, rps: number, p99: number, cpuPerRequest: number, errors: number, non2xx: number }

/** CPU seconds (user + system) processes have used, from /proc (Linux). */
function cpuSeconds (pids: readonly number[]): number {
  let sum = 0
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    sum += (Number(fields[11]) + Number(fields[12])) / 100
  }
  return sum
}

/** What a run sends: autocannon's options besides url, connections and duration. */
interface Traffic {
  readonly name: string
  readonly describe: string
  readonly options: () => Partial<autocannon.Options>
}

const REALISTIC_HEADERS = {
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  accept: 'application/json, text/plain, */*',
  'accept-language': 'en-GB,en;q=0.9,fr;q=0.8',
  'accept-encoding': 'gzip, deflate, br',
  authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl',
  cookie: 'session=3f2a9c1e7b; theme=dark; consent=yes',
  'x-client-version': '4.12.0',
  'x-correlation-id': 'c0ffee00-1234-4abc-8def-0123456789ab',
  referer: 'https://app.example.com/orders',
  'cache-control': 'no-cache'
}

/**
 * 2 000 distinct paths, built once: far past the 100 URLs reply-from caches, while
 * autocannon (it shares a core with the upstream) sends prebuilt bytes instead of
 * serialising every request, which made the load generator cap the figures.
 */
const REALISTIC_REQUESTS = Array.from({ length: 2_000 }, (_, n) => ({
  method: 'GET' as const,
  path: `/api/v2/customers/${n}/orders?page=${n % 7}&sort=-created&fields=id,total,status`
}))

const TRAFFIC: readonly Traffic[] = [
  { name: 'basic', describe: 'GET / with no extra header', options: () => ({}) },
  {
    name: 'realistic',
    describe: '10 request headers, 2 000 distinct paths with query strings',
    options: () => ({ headers: REALISTIC_HEADERS, requests: REALISTIC_REQUESTS })
  }
]

/**
 * Requests/s and p99 as autocannon sees them, and the server process's CPU time per
 * request: on a small shared machine the first two move with whatever else runs, the
 * last one much less.
 */
async function measure (name: string, url: string, pids: readonly number[], traffic: Traffic): Promise<Result> {
  if (warmup > 0) await autocannon({ url, connections, duration: warmup, ...traffic.options() }) // warm-up: JIT, pools
  const cpuBefore = cpuSeconds(pids)
  const r = await autocannon({ url, connections, duration: seconds, ...traffic.options() })
  const cpu = cpuSeconds(pids) - cpuBefore
  return { name, rps: r.requests.average, p99: r.latency.p99, cpuPerRequest: cpu / r.requests.total * 1e6, errors: r.errors + r.timeouts, non2xx: r.non2xx }
}

/** Resident memory of a process, in bytes (Linux). */
function rssBytes (pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find(l => l.startsWith('VmRSS:')) ?? ''
  return Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024
}

/** The median of each figure across rounds: one disturbed run does not move it. */
function median (runs: Result[]): Result {
  const mid = (pick: (r: Result) => number): number => {
    const sorted = runs.map(pick).sort((a, b) => a - b)
    const half = Math.floor(sorted.length / 2)
    return sorted.length % 2 === 1 ? sorted[half] as number : ((sorted[half - 1] as number) + (sorted[half] as number)) / 2
  }
  return {
    name: (runs[0] as Result).name,
    rps: mid(r => r.rps),
    p99: mid(r => r.p99),
    cpuPerRequest: mid(r => r.cpuPerRequest),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0)
  }
}

/**
 * Pinned to core 0 with one process. With `workers`, unpinned, once every worker serves:
 * `pids` then lists the primary and the workers, whose CPU time is summed.
 */
async function startTollgate (config: string, options: { workers?: number, pinned?: boolean } = {}): Promise<{ url: string, pid: number, pids: number[], log: string }> {
  const workers = options.workers ?? 1
  const command = [process.execPath, here('../dist/src/cli/main.js'), 'start', '-c', config, '--workers', String(workers)]
  // Unpinned means every core: without taskset the gateway (and the workers it forks) would
  // inherit this process's pinning to core 1.
  const unpinned = !(options.pinned ?? true) && pinning
  const gateway = unpinned
    ? spawn('taskset', ['-c', `0-${cores - 1}`, ...command], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(gateway)
  if (options.pinned ?? true) pin(gateway.pid as number, 0)
  const ready = workers > 1 ? '"workers ready"' : '"listening"'
  // Both lines: with workers, a worker's "listening" may come after the primary's "workers ready".
  const log = await readUntil(gateway, 'tollgate', text => text.includes(ready) && text.includes('"listening"'))
  const lines = log.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as { msg?: string, address?: string, pids?: number[] })
  const listening = lines.find(l => l.msg === 'listening') as { address: string }
  const pid = gateway.pid as number
  const workerPids = lines.find(l => l.msg === 'workers ready')?.pids ?? []
  return { url: `${listening.address}/`, pid, pids: [pid, ...workerPids], log }
}

/** An HS256 JWT for `secret`, valid for an hour: what a client of the guarded route sends. */
function hs256Token (secret: string): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'bench', exp: Math.floor(Date.now() / 1000) + 3600 })}`
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`
}

interface Server { readonly name: string, readonly url: string, readonly pid: number, readonly pids?: readonly number[] }

/** Each server measured `rounds` times, in alternating order: every run, by server. */
async function measureRounds (servers: readonly Server[], traffic: Traffic): Promise<Result[][]> {
  const runs: Result[][] = servers.map(() => [])
  for (let round = 0; round < rounds; round++) {
    for (const [i, server] of servers.entries()) runs[i]?.push(await measure(server.name, server.url, server.pids ?? [server.pid], traffic))
  }
  return runs
}

async function medians (servers: readonly Server[], traffic: Traffic): Promise<Result[]> {
  return (await measureRounds(servers, traffic)).map(median)
}

/**
 * The median over rounds of `pick(ours) / pick(theirs)`, each ratio taken within one round,
 * from runs seconds apart: a slow spell of a shared machine moves both sides of a ratio,
 * where it would move only one of two medians.
 */
function pairedRatio (ours: readonly Result[], theirs: readonly Result[], pick: (r: Result) => number): number {
  const ratios = ours.map((r, i) => pick(r) / pick(theirs[i] as Result)).sort((a, b) => a - b)
  const half = Math.floor(ratios.length / 2)
  return ratios.length % 2 === 1 ? ratios[half] as number : ((ratios[half - 1] as number) + (ratios[half] as number)) / 2
}

/** The metrics endpoint's text. */
async function scrapeText (url: string): Promise<string> {
  const res = await fetch(url)
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`)
  return await res.text()
}

function printTable (results: readonly Result[]): void {
  console.log('| server | requests/s | p99 ms | server CPU µs/request | errors | non-2xx |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const r of results) console.log(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.p99.toFixed(1)} | ${r.cpuPerRequest.toFixed(1)} | ${r.errors} | ${r.non2xx} |`)
}

function ratioLines (label: string, ours: Result, ref: Result): string {
  return `${label} / @fastify/http-proxy: ${(ours.rps / ref.rps).toFixed(2)} (requests/s), p99 ${ours.p99.toFixed(1)} vs ${ref.p99.toFixed(1)} ms\n` +
    `  CPU per request, ${label} / @fastify/http-proxy: ${(ours.cpuPerRequest / ref.cpuPerRequest).toFixed(2)} (below 1: less CPU for the same work)`
}

const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'))
try {
  pin(process.pid, 1)
  const upstream = await startProcess([here('upstream.mjs')])
  pin(upstream.pid, 1)
  const [portA, portB] = upstream.out.split(' ')
  const direct = `http://127.0.0.1:${portA}/`
  const httpProxy = await startProcess([here('http-proxy.mjs'), `http://127.0.0.1:${portA}`])
  pin(httpProxy.pid, 0)
  const secret = randomBytes(32).toString('base64url')
  const guardedReference = await startProcess([here('http-proxy-guarded.mjs'), `http://127.0.0.1:${portA}`, secret])
  pin(guardedReference.pid, 0)
  const configFor = (engine: string, metrics = false): string => {
    const file = join(dir, `bench-${engine}${metrics ? '-metrics' : ''}.yaml`)
    writeFileSync(file, `${metrics ? 'metrics: { listen: { host: 127.0.0.1, port: 0 } }' : ''}
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  accessLog: false
  logLevel: info
  engine: ${engine}
upstreams:
  app:
    targets: [127.0.0.1:${portA}, 127.0.0.1:${portB}]
    balancer: round-robin
routes:
  - name: guarded
    match: { path: /guarded/* }
    upstream: app
    ipFilter: { allow: [127.0.0.0/8] }
    auth: { type: jwt, secret: ${secret}, algorithms: [HS256] }
    rateLimit: { limit: 1000000000, window: 1s, key: ip }
  - name: cached
    match: { path: /cached/* }
    upstream: app
    cache: { ttl: 1h }
  - name: app
    match: { path: /* }
    upstream: app
`)
    return file
  }
  const proxies = [
    { name: '@fastify/http-proxy', url: `http://127.0.0.1:${httpProxy.out}/`, pid: httpProxy.pid },
    { name: 'tollgate', ...await startTollgate(configFor('undici')) },
    { name: 'tollgate (reply-from engine)', ...await startTollgate(configFor('reply-from')) }
  ]
  const measured = await startTollgate(configFor('undici', true))

  console.log(`autocannon: ${connections} connections, ${seconds} s per run after a ${warmup} s warm-up, ${rounds} alternating rounds`)
  console.log(pinning ? 'proxies pinned to core 0; upstream and autocannon on core 1' : 'no CPU pinning (one core, or no taskset)')
  for (const traffic of wanted('http') ? TRAFFIC : []) {
    const direct0 = await measure('upstream directly', direct, [upstream.pid], traffic)
    const results = [direct0, ...await medians(proxies, traffic)]
    console.log(`\n## ${traffic.name}: ${traffic.describe} (medians of ${rounds} rounds for the proxies)\n`)
    printTable(results)
    const [up, ref, ours, replyFrom] = results as [Result, Result, Result, Result]
    console.log('')
    console.log(ratioLines('tollgate', ours, ref))
    console.log(ratioLines('tollgate (reply-from engine)', replyFrom, ref))
    console.log(`tollgate / upstream directly: ${(ours.rps / up.rps).toFixed(2)}`)
  }

  const tollgate = proxies[1] as Server
  const rps = (r: Result): number => r.rps
  const cpu = (r: Result): number => r.cpuPerRequest
  const basic = TRAFFIC[0] as Traffic
  if (wanted('guarded')) {
    const withToken: Traffic = {
      name: 'guarded',
      describe: 'GET with a JWT HS256 bearer token',
      options: () => ({ headers: { authorization: `Bearer ${hs256Token(secret)}` } })
    }
    const guardedRuns = await measureRounds([
      { name: 'tollgate, bare route', url: tollgate.url, pid: tollgate.pid },
      { name: 'tollgate, guarded route', url: `${tollgate.url}guarded/`, pid: tollgate.pid },
      { name: '@fastify/http-proxy + rate-limit + jwt', url: `http://127.0.0.1:${guardedReference.out}/guarded/`, pid: guardedReference.pid }
    ], withToken)
    console.log(`\n## guarded: IP filter, a rate limit never reached and JWT HS256 auth; ${withToken.describe} (medians of ${rounds} rounds)\n`)
    printTable(guardedRuns.map(median))
    const [bare, guard, reference] = guardedRuns as [Result[], Result[], Result[]]
    console.log('\nRatios: the median of the ratios within each round.')
    console.log(`guarded / bare route: ${pairedRatio(guard, bare, rps).toFixed(2)} (requests/s), CPU per request ${pairedRatio(guard, bare, cpu).toFixed(2)}`)
    console.log(`guarded / @fastify/http-proxy + rate-limit + jwt: ${pairedRatio(guard, reference, rps).toFixed(2)} (requests/s), CPU per request ${pairedRatio(guard, reference, cpu).toFixed(2)}`)
  }

  if (wanted('cache')) {
    // Cache hits: the same process, its cached route (every request a hit after the first)
    // against its bare route (every request proxied).
    const cachedUrl = `${tollgate.url}cached/`
    const warmed = await fetch(cachedUrl)
    await warmed.arrayBuffer()
    const second = await fetch(cachedUrl)
    await second.arrayBuffer()
    const cacheRuns = await measureRounds([
      { name: 'tollgate, proxied route', url: tollgate.url, pid: tollgate.pid },
      { name: 'tollgate, cache hits', url: cachedUrl, pid: tollgate.pid }
    ], TRAFFIC[0] as Traffic)
    console.log(`\n## cache: hits of a cached route against the proxied route; ${(TRAFFIC[0] as Traffic).describe}, x-cache-status ${second.headers.get('x-cache-status') ?? 'none'} (medians of ${rounds} rounds)\n`)
    printTable(cacheRuns.map(median))
    const [proxied, hits] = cacheRuns as [Result[], Result[]]
    console.log('\nRatios: the median of the ratios within each round.')
    console.log(`cache hits / proxied: ${pairedRatio(hits, proxied, rps).toFixed(2)} (requests/s), p99 ${pairedRatio(hits, proxied, r => r.p99).toFixed(2)}, CPU per request ${pairedRatio(hits, proxied, cpu).toFixed(2)}`)
  }

  if (wanted('metrics')) {
    const metricsLine = measured.log.split('\n').find(l => l.includes('"metrics listening"')) as string
    const metricsUrl = `http://127.0.0.1:${(JSON.parse(metricsLine) as { metrics: { port: number } }).metrics.port}/metrics`
    const metricsRuns: Result[][] = [[], []]
    for (let round = 0; round < rounds; round++) {
      metricsRuns[0]?.push(await measure('tollgate, metrics off', tollgate.url, [tollgate.pid], basic))
      metricsRuns[1]?.push(await measure('tollgate, metrics on', measured.url, [measured.pid], basic))
      await scrapeText(metricsUrl)
    }
    const scraped = await scrapeText(metricsUrl)
    const counted = /^tollgate_requests_total\{route="app",method="GET",status="200"\} (\d+)$/m.exec(scraped)?.[1] ?? '0'
    console.log(`\n## metrics: the same route with metrics off and on; ${basic.describe} (medians of ${rounds} rounds)\n`)
    printTable(metricsRuns.map(median))
    const [off, on] = metricsRuns as [Result[], Result[]]
    console.log('\nRatios: the median of the ratios within each round.')
    console.log(`metrics on / off: ${pairedRatio(on, off, rps).toFixed(2)} (requests/s), CPU per request ${pairedRatio(on, off, cpu).toFixed(2)}`)
    console.log(`requests the metrics counted on the route: ${counted}`)
  }

  if (wanted('workers')) {
    // Unpinned both: a second worker needs the second core.
    const workerRuns = await measureRounds([
      { name: 'tollgate, 1 process, unpinned', ...await startTollgate(configFor('undici'), { pinned: false }) },
      { name: 'tollgate, --workers 2', ...await startTollgate(configFor('undici'), { workers: 2, pinned: false }) }
    ], basic)
    console.log(`\n## workers: one process against --workers 2, neither pinned; ${basic.describe} (medians of ${rounds} rounds)\n`)
    console.log(`${cores} cores, shared by the workers, the upstream and autocannon; CPU per request sums the primary and its workers`)
    printTable(workerRuns.map(median))
    const [oneProcess, twoWorkers] = workerRuns as [Result[], Result[]]
    console.log(`\n--workers 2 / 1 process: ${pairedRatio(twoWorkers, oneProcess, r => r.rps).toFixed(2)} (requests/s), CPU per request ${pairedRatio(twoWorkers, oneProcess, r => r.cpuPerRequest).toFixed(2)}`)
  }

  const protocols: ProtocolBench = {
    seconds,
    rounds,
    dir,
    upstream: `http://127.0.0.1:${portA}`,
    here,
    startProcess,
    startTollgate: async (config) => await startTollgate(config),
    pin,
    cpuSeconds
  }
  if (wanted('h2')) await h2Section(protocols)
  if (wanted('grpc')) await grpcSection(protocols)
  if (wanted('websocket')) await websocketSection(protocols)

  console.log('\n## memory (`npm run bench:memory` measures what an idle connection costs)\n')
  console.log('| server | RSS after the runs |')
  console.log('| --- | ---: |')
  for (const proxy of proxies) console.log(`| ${proxy.name} | ${(rssBytes(proxy.pid) / 1024 / 1024).toFixed(1)} MB |`)
  console.log(`| tollgate, metrics on | ${(rssBytes(measured.pid) / 1024 / 1024).toFixed(1)} MB |`)
} finally {
  // Every server ends with the benchmark, collected here so that none outlives it.
  const exits = children.filter(child => child.exitCode === null && child.signalCode === null).map(child => once(child, 'exit'))
  for (const child of children) child.kill('SIGKILL')
  await Promise.all(exits)
  rmSync(dir, { recursive: true, force: true })
}
