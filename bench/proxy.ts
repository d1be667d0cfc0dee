/**
 * `npm run bench`: requests/s and p99 latency, in one run, of
 *   1. the upstream served directly,
 *   2. plain @fastify/http-proxy in front of it,
 *   3. Tollgate (one route, round robin over two targets, request id, access log off),
 * each server in its own process and measured one at a time (autocannon in this one),
 * then the ratio Tollgate / @fastify/http-proxy. The two proxies are measured in
 * alternating rounds (A B A B …) and the medians compared, so neither gains from running
 * first or from one disturbed run. Not a test: numbers depend on the machine.
 *
 * Options (environment): BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 50),
 * BENCH_ROUNDS (default 3), BENCH_WARMUP (seconds of warm-up before each run, default 2;
 * 0 for none).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { once } from 'node:events'
import { writeFileSync, mkdtempSync, rmSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const warmup = Number(process.env.BENCH_WARMUP ?? 2)
const here = (name: string): string => fileURLToPath(new URL(name, import.meta.url))
const children: ChildProcess[] = []

/**
 * With two or more cores, the proxy under test gets core 0 to itself and everything else
 * (the upstream, autocannon in this process) shares core 1: the figures then measure the
 * proxy, not how the scheduler shared one core between three busy processes.
 */
const pinning = availableParallelism() >= 2 && spawnSync('taskset', ['-V']).status === 0
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

/** CPU seconds (user + system) a process has used, from /proc (Linux). */
function cpuSeconds (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/**
 * Requests/s and p99 as autocannon sees them, and the server process's CPU time per
 * request: on a small shared machine the first two move with whatever else runs, the
 * last one much less.
 */
async function measure (name: string, url: string, pid: number): Promise<Result> {
  if (warmup > 0) await autocannon({ url, connections, duration: warmup }) // warm-up: JIT, pools
  const cpuBefore = cpuSeconds(pid)
  const r = await autocannon({ url, connections, duration: seconds })
  const cpu = cpuSeconds(pid) - cpuBefore
  return { name, rps: r.requests.average, p99: r.latency.p99, cpuPerRequest: cpu / r.requests.total * 1e6, errors: r.errors + r.timeouts, non2xx: r.non2xx }
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

const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'))
try {
  pin(process.pid, 1)
  const upstream = await startProcess([here('upstream.mjs')])
  pin(upstream.pid, 1)
  const [portA, portB] = upstream.out.split(' ')
  const direct = `http://127.0.0.1:${portA}/`
  const httpProxy = await startProcess([here('http-proxy.mjs'), `http://127.0.0.1:${portA}`])
  pin(httpProxy.pid, 0)
  const config = join(dir, 'bench.yaml')
  writeFileSync(config, `
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  accessLog: false
  logLevel: info
upstreams:
  app:
    targets: [127.0.0.1:${portA}, 127.0.0.1:${portB}]
    balancer: round-robin
routes:
  - name: app
    match: { path: /* }
    upstream: app
`)
  const cli = here('../dist/src/cli/main.js')
  const gateway = spawn(process.execPath, [cli, 'start', '-c', config], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(gateway)
  pin(gateway.pid as number, 0)
  const log = await readUntil(gateway, 'tollgate', text => text.split('\n').some(l => l.includes('"listening"')))
  const line = log.split('\n').find(l => l.includes('"listening"')) as string
  const tollgate = `${String((JSON.parse(line) as { address: string }).address)}/`

  console.log(`autocannon: ${connections} connections, ${seconds} s per run after a ${warmup} s warm-up, ${rounds} alternating rounds`)
  console.log(pinning ? 'proxies pinned to core 0; upstream and autocannon on core 1\n' : 'no CPU pinning (one core, or no taskset)\n')
  const proxied: Result[][] = [[], []]
  const direct0 = await measure('upstream directly', direct, upstream.pid)
  for (let round = 0; round < rounds; round++) {
    proxied[0]?.push(await measure('@fastify/http-proxy', `http://127.0.0.1:${httpProxy.out}/`, httpProxy.pid))
    proxied[1]?.push(await measure('tollgate', tollgate, gateway.pid as number))
  }
  const results = [direct0, ...proxied.map(median)]
  console.log('| server | requests/s | p99 ms | server CPU µs/request | errors | non-2xx |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const r of results) console.log(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.p99.toFixed(1)} | ${r.cpuPerRequest.toFixed(1)} | ${r.errors} | ${r.non2xx} |`)
  const [up, ref, ours] = results as [Result, Result, Result]
  console.log(`\n(medians of ${rounds} rounds for the proxies)`)
  console.log(`tollgate / @fastify/http-proxy: ${(ours.rps / ref.rps).toFixed(2)} (requests/s), p99 ${ours.p99.toFixed(1)} vs ${ref.p99.toFixed(1)} ms`)
  console.log(`CPU per request, @fastify/http-proxy / tollgate: ${(ref.cpuPerRequest / ours.cpuPerRequest).toFixed(2)} (above 1: tollgate does the same work with less CPU)`)
  console.log(`tollgate / upstream directly:   ${(ours.rps / up.rps).toFixed(2)}`)
} finally {
  // Every server ends with the benchmark, collected here so that none outlives it.
  const exits = children.filter(child => child.exitCode === null && child.signalCode === null).map(child => once(child, 'exit'))
  for (const child of children) child.kill('SIGKILL')
  await Promise.all(exits)
  rmSync(dir, { recursive: true, force: true })
}
