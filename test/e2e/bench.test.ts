import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { runToEnd } from '../helpers/child.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

test('npm run bench still runs: a one-second round measures the proxies, the guarded route, cache hits, metrics off and on, and the protocols (h2, gRPC, WebSocket), all answered 2xx, and prints their ratios', async (t) => {
  const env = { ...process.env, BENCH_SECONDS: '1', BENCH_ROUNDS: '1', BENCH_WARMUP: '0', BENCH_CONNECTIONS: '10' }
  // Every process the benchmark starts is in its group: the run fails if one outlives it.
  const run = await runToEnd(t, 'npm', ['run', '--silent', 'bench'], { cwd: ROOT, env, timeoutMs: 90_000 })
  const output = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`
  assert.equal(run.code, 0, output)
  assert.match(run.stdout, /^autocannon: 10 connections, 1 s per run after a 0 s warm-up, 1 alternating rounds$/m, output)
  assert.match(run.stdout, /^tollgate \/ @fastify\/http-proxy: \d+\.\d\d \(requests\/s\), p99 [\d.]+ vs [\d.]+ ms$/m, output)
  const row = (name: string): string[] => {
    const line = run.stdout.split('\n').find(l => l.startsWith(`| ${name} |`))
    assert.ok(line !== undefined, `no result row for ${name}\n${output}`)
    return line.split('|').slice(1, -1).map(cell => cell.trim())
  }
  assert.match(run.stdout, /^guarded \/ bare route: \d+\.\d\d \(requests\/s\), CPU per request \d+\.\d\d$/m, output)
  assert.match(run.stdout, /^--workers 2 \/ 1 process: \d+\.\d\d \(requests\/s\), CPU per request \d+\.\d\d$/m, output)
  assert.match(run.stdout, /^guarded \/ @fastify\/http-proxy \+ rate-limit \+ jwt: \d+\.\d\d \(requests\/s\), CPU per request \d+\.\d\d$/m, output)
  assert.match(run.stdout, /^cache hits \/ proxied: \d+\.\d\d \(requests\/s\), p99 \d+\.\d\d, CPU per request \d+\.\d\d$/m, output)
  assert.match(run.stdout, /x-cache-status HIT/, output)
  assert.match(run.stdout, /^h2 tollgate \/ Fastify http2 \+ @fastify\/http-proxy: \d+\.\d\d \(requests\/s\), CPU per request \d+\.\d\d$/m, output)
  assert.match(run.stdout, /^h2 floor \/ Fastify http2 \+ @fastify\/http-proxy: \d+\.\d\d \(requests\/s\), CPU per request \d+\.\d\d$/m, output)
  assert.match(run.stdout, /^grpc tollgate \/ directly: \d+\.\d\d \(calls\/s\)$/m, output)
  assert.match(run.stdout, /^websocket tollgate \/ directly: \d+\.\d\d \(round trips\/s\)$/m, output)
  assert.match(run.stdout, /^metrics on \/ off: \d+\.\d\d \(requests\/s\), CPU per request \d+\.\d\d$/m, output)
  const counted = /^requests the metrics counted on the route: (\d+)$/m.exec(run.stdout)?.[1]
  assert.ok(Number(counted) > 0, `the metrics counted no request\n${output}`)
  const names = ['upstream directly', '@fastify/http-proxy', 'tollgate', 'tollgate (reply-from engine)',
    'tollgate, bare route', 'tollgate, guarded route', '@fastify/http-proxy + rate-limit + jwt',
    'tollgate, proxied route', 'tollgate, cache hits',
    'tollgate, metrics off', 'tollgate, metrics on',
    'tollgate, 1 process, unpinned', 'tollgate, --workers 2']
  for (const name of ['tollgate, http2 listener', 'Fastify http2 + @fastify/http-proxy', 'node:http2 + undici, no framework (the floor)', 'tollgate (TLS h2 in, h2c out)', 'the gRPC server directly (h2c)', 'tollgate', 'the echo server directly']) {
    const rows = run.stdout.split('\n').filter(l => l.startsWith(`| ${name} |`)).map(l => l.split('|').slice(1, -1).map(cell => cell.trim()))
    // Protocol rows have four cells (name, rate, mean ms, failed), or five with the CPU time.
    const protocolRow = rows.find(cells => cells.length === 4 || (cells.length === 5 && Number(cells[4]) > 0))
    assert.ok(protocolRow !== undefined, `no protocol row for ${name}\n${output}`)
    assert.ok(Number(protocolRow[1]) > 0, `${name} made no exchange\n${output}`)
    assert.equal(protocolRow[3], '0', `${name} had failures\n${output}`)
  }
  for (const name of names) {
    const [, rps, , , errors, non2xx] = row(name)
    assert.ok(Number(rps) > 0, `${name} served no request\n${output}`)
    assert.equal(errors, '0', `${name} had errors\n${output}`)
    assert.equal(non2xx, '0', `${name} answered non-2xx\n${output}`)
  }
})

test('npm run bench:memory still runs: it prints what an idle connection costs on each engine', async (t) => {
  const env = { ...process.env, BENCH_IDLE: '100' }
  const run = await runToEnd(t, 'npm', ['run', '--silent', 'bench:memory'], { cwd: ROOT, env, timeoutMs: 30_000 })
  const output = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`
  assert.equal(run.code, 0, output)
  for (const engine of ['undici', 'reply-from']) {
    assert.match(run.stdout, new RegExp(`^\\| ${engine} \\| -?\\d+\\.\\d\\d KB \\|$`, 'm'), output)
  }
})
