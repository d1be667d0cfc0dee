/**
 * `npm run bench`: requests/s and p99 latency, in one run, of
 *   1. the upstream served directly,
 *   2. plain @fastify/http-proxy in front of it,
 *   3. Tollgate (one route, round robin over two targets, request id, access log off),
 * each server in its own process and measured one at a time (autocannon in this one),
 * then the ratio Tollgate / @fastify/http-proxy. The two proxies are measured in
 * alternating rounds (A B A B …) and averaged, so neither gains from running first on a
 * fresh machine. Not a test: numbers depend on the machine.
 *
 * Options (environment): BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 50),
 * BENCH_ROUNDS (default 3).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const here = (name: string): string => fileURLToPath(new URL(name, import.meta.url))
const children: ChildProcess[] = []

async function startProcess (args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  children.push(child)
  let out = ''
  while (!out.includes('\n')) {
    const [chunk] = await once(child.stdout as NodeJS.ReadableStream, 'data') as [Buffer]
    out += chunk.toString()
  }
  return out.trim()
}

interface Result { name: string, rps: number, p99: number, errors: number, non2xx: number }

async function measure (name: string, url: string): Promise<Result> {
  await autocannon({ url, connections, duration: 2 }) // warm-up: JIT, pools
  const r = await autocannon({ url, connections, duration: seconds })
  return { name, rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx }
}

function mean (runs: Result[]): Result {
  const first = runs[0] as Result
  const avg = (pick: (r: Result) => number): number => runs.reduce((sum, r) => sum + pick(r), 0) / runs.length
  return { name: first.name, rps: avg(r => r.rps), p99: avg(r => r.p99), errors: avg(r => r.errors), non2xx: avg(r => r.non2xx) }
}

const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'))
try {
  const [portA, portB] = (await startProcess([here('upstream.mjs')])).split(' ')
  const direct = `http://127.0.0.1:${portA}/`
  const proxyPort = await startProcess([here('http-proxy.mjs'), `http://127.0.0.1:${portA}`])
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
  let log = ''
  while (!log.includes('"listening"')) {
    const [chunk] = await once(gateway.stdout as NodeJS.ReadableStream, 'data') as [Buffer]
    log += chunk.toString()
  }
  const line = log.split('\n').find(l => l.includes('"listening"')) as string
  const tollgate = `${String((JSON.parse(line) as { address: string }).address)}/`

  console.log(`autocannon: ${connections} connections, ${seconds} s per run after a 2 s warm-up, ${rounds} alternating rounds\n`)
  const proxied: Result[][] = [[], []]
  const direct0 = await measure('upstream directly', direct)
  for (let round = 0; round < rounds; round++) {
    proxied[0]?.push(await measure('@fastify/http-proxy', `http://127.0.0.1:${proxyPort}/`))
    proxied[1]?.push(await measure('tollgate', tollgate))
  }
  const results = [direct0, ...proxied.map(mean)]
  console.log('| server | requests/s | p99 ms | errors | non-2xx |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const r of results) console.log(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.p99.toFixed(1)} | ${r.errors} | ${r.non2xx} |`)
  const [up, ref, ours] = results as [Result, Result, Result]
  console.log(`\ntollgate / @fastify/http-proxy: ${(ours.rps / ref.rps).toFixed(2)} (requests/s), p99 ${ours.p99.toFixed(1)} vs ${ref.p99.toFixed(1)} ms`)
  console.log(`tollgate / upstream directly:   ${(ours.rps / up.rps).toFixed(2)}`)
} finally {
  for (const child of children) child.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
}
