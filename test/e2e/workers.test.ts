import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { Agent, Client, request } from 'undici'
import { runCli, listeningPort } from '../helpers/cli.js'
import { startOrigin } from '../helpers/origin.js'
import { tempFolder } from '../helpers/files.js'
import { Load } from '../helpers/load.js'
import { onNewConnection, startWorkers, type RunningWorkers } from '../helpers/workers.js'
import { isRunning } from '../../src/cli/pid-file.js'

const config = (upstream: string, tag: string, extra = ''): string => `
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  accessLog: true
  gracefulShutdown: 5s
${extra}
upstreams:
  app: { targets: ["${upstream}"] }
routes:
  - name: app
    upstream: app
    responseHeaders: { set: { x-config: ${tag} } }
`

/** Requests on new connections until every worker in `pids` answered; all answers returned. */
async function reachEvery (cli: RunningWorkers, url: string, pids: readonly number[], path = '/'): Promise<{ byPid: Map<number, string[]>, tags: Set<string> }> {
  const byPid = new Map<number, string[]>()
  const tags = new Set<string>()
  for (let i = 0; i < 40 && !pids.every(pid => byPid.has(pid)); i++) {
    const answer = await onNewConnection(`${url}${path}`)
    tags.add(`${answer.status} ${String(answer.headers['x-config'])}`)
    const pid = await cli.servedBy(answer.requestId)
    byPid.set(pid, [...byPid.get(pid) ?? [], answer.requestId])
  }
  return { byPid, tags }
}

async function started (t: TestContext, file: string, extraArgs: string[] = [], env?: NodeJS.ProcessEnv): Promise<{ cli: RunningWorkers, url: string, pids: number[] }> {
  const cli = startWorkers(t, ['start', '-c', file, '--workers', '2', ...extraArgs], env === undefined ? {} : { env })
  const pids = await cli.ready()
  const port = await listeningPort(cli)
  return { cli, url: `http://127.0.0.1:${port}`, pids }
}

test('--workers 2: two worker processes serve, the pid file names the primary, SIGTERM drains a request in flight and exits 0', async (t) => {
  const dir = tempFolder(t, 'tollgate-workers-')
  let arrived!: () => void
  const slowStarted = new Promise<void>(resolve => { arrived = resolve })
  const origin = await startOrigin(t, 'blue', {
    handler: (req, res) => {
      if (req.url !== '/slow') { res.end('blue'); return }
      arrived()
      setTimeout(() => res.end('finished'), 1500)
    }
  })
  const file = join(dir, 'g.yaml')
  const pidFile = join(dir, 'tollgate.pid')
  writeFileSync(file, config(origin.address, 'one'))
  const { cli, url, pids } = await started(t, file, ['--pid-file', pidFile])
  assert.equal(pids.length, 2)
  assert.equal(new Set([...pids, cli.child.pid]).size, 3, 'two workers, each its own process, beside the primary')
  assert.equal(readFileSync(pidFile, 'utf8').trim(), String(cli.child.pid))

  const { byPid, tags } = await reachEvery(cli, url, pids)
  assert.deepEqual([...byPid.keys()].sort(), [...pids].sort(), 'every worker served requests')
  assert.deepEqual([...tags], ['200 one'])
  const single = await onNewConnection(`${url}/`)
  for (const pid of pids) assert.ok(!Object.values(single.headers).includes(String(pid)), 'no response header tells the worker')

  const pending = request(`${url}/slow`)
  await slowStarted
  cli.child.kill('SIGTERM')
  const res = await pending
  assert.equal(res.statusCode, 200)
  assert.equal(await res.body.text(), 'finished')
  assert.equal((await cli.exited).code, 0)
  for (const pid of pids) assert.equal(isRunning(pid), false, `worker ${pid} is still running`)
  assert.equal(existsSync(pidFile), false, 'the pid file was left behind')
  await assert.rejects(request(`${url}/`), 'the listener still accepts after shutdown')
})

test('--workers 2 with an invalid config: refused by the primary with path: message lines, no worker started', (t) => {
  const dir = tempFolder(t, 'tollgate-workers-')
  writeFileSync(join(dir, 'g.yaml'), 'upstreams: { app: { targets: [] } }\nroutes: [{ name: r, upstream: nope }]\n')
  const result = runCli(['start', '-c', join(dir, 'g.yaml'), '--workers', '2'])
  assert.equal(result.status, 1)
  assert.match(result.stderr, /^tollgate: the config is invalid:\n/)
  assert.match(result.stderr, /^routes\[0\]\.upstream: /m)
  assert.doesNotMatch(result.stdout, /worker started/)
})

test('SIGHUP under keep-alive load with 2 workers: zero failed requests, every worker serves the new config; an invalid file is refused and every worker keeps its config', async (t) => {
  const dir = tempFolder(t, 'tollgate-workers-')
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const file = join(dir, 'g.yaml')
  writeFileSync(file, config(blue.address, 'one'))
  const { cli, url, pids } = await started(t, file)

  const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 })
  t.after(() => agent.close())
  const load = new Load(`${url}/`, Array.from({ length: 16 }, () => agent))
  try {
    await load.answered(300)
    writeFileSync(file, config(green.address, 'two'))
    cli.child.kill('SIGHUP')
    for (const pid of pids) await cli.waitForLog(l => l.msg === 'config reloaded' && l.pid === pid)
    await load.answered(300)
  } finally {
    await load.stop()
  }
  const failures = load.lanes.flatMap(lane => lane.failures)
  assert.deepEqual(failures, [])
  assert.ok(load.total() >= 600, `only ${load.total()} requests were answered`)
  const after = await reachEvery(cli, url, pids)
  assert.deepEqual([...after.byPid.keys()].sort(), [...pids].sort())
  assert.deepEqual([...after.tags], ['200 two'], 'every worker serves the new config')

  writeFileSync(file, 'upstreams: { broken: { targets: [] } }\nroutes: []\n')
  cli.child.kill('SIGHUP')
  await cli.waitForLog(l => l.msg === 'config refused; the running config stays' && l.pid === cli.child.pid)
  const kept = await reachEvery(cli, url, pids)
  assert.deepEqual([...kept.byPid.keys()].sort(), [...pids].sort())
  assert.deepEqual([...kept.tags], ['200 two'], 'every worker keeps the running config')
  assert.equal(cli.lines.filter(l => l.msg === 'config reloaded').length, 2, 'no worker reloaded the invalid file')
})

test('a worker killed with SIGKILL under load is replaced; requests on the other worker do not fail', async (t) => {
  const dir = tempFolder(t, 'tollgate-workers-')
  const blue = await startOrigin(t, 'blue')
  const file = join(dir, 'g.yaml')
  writeFileSync(file, config(blue.address, 'one'))
  const { cli, url, pids } = await started(t, file)

  // One connection per client: the first answer tells which worker holds it.
  const clients = Array.from({ length: 8 }, () => new Client(url, { pipelining: 1, keepAliveTimeout: 30_000 }))
  t.after(async () => { await Promise.all(clients.map(async c => { await c.close() })) })
  const holder = new Map<Client, number>()
  for (const c of clients) {
    const res = await request(`${url}/`, { dispatcher: c })
    await res.body.text()
    holder.set(c, await cli.servedBy(String(res.headers['x-request-id'])))
  }
  const [victim, survivor] = pids as [number, number]
  const onSurvivor = clients.filter(c => holder.get(c) === survivor)
  const onVictim = clients.filter(c => holder.get(c) === victim)
  assert.ok(onSurvivor.length > 0 && onVictim.length > 0, `connections by worker: ${JSON.stringify([...holder.values()])}`)

  const load = new Load(`${url}/`, [...onSurvivor, ...onVictim])
  let replacement: number
  try {
    await load.answered(200)
    process.kill(victim, 'SIGKILL')
    await cli.waitForLog(l => l.msg === 'worker exited unexpectedly; restarting it' && l.workerPid === victim && l.signal === 'SIGKILL')
    const ready = await cli.waitForLog(l => l.msg === 'worker ready' && !pids.includes(Number(l.workerPid)))
    replacement = Number(ready.workerPid)
    await load.answered(200)
  } finally {
    await load.stop()
  }
  const survivorLanes = load.lanes.slice(0, onSurvivor.length)
  assert.deepEqual(survivorLanes.flatMap(lane => lane.failures), [], 'requests on the other worker failed')
  assert.ok(survivorLanes.every(lane => lane.ok > 10), 'the other worker kept serving')
  const after = await reachEvery(cli, url, [survivor, replacement])
  assert.deepEqual([...after.byPid.keys()].sort(), [survivor, replacement].sort(), 'the replacement serves')
  assert.deepEqual([...after.tags], ['200 one'])
})

test('a worker that crashes at start is started again after growing waits, and serves once it can start', async (t) => {
  const dir = tempFolder(t, 'tollgate-workers-')
  const blue = await startOrigin(t, 'blue')
  const file = join(dir, 'g.yaml')
  const marker = join(dir, 'crash-now')
  writeFileSync(file, config(blue.address, 'one'))
  mkdirSync(join(dir, 'routes'))
  // Loaded by the primary (to check the config) and by every worker: only a worker started
  // while the marker exists fails, as a route whose import breaks would.
  writeFileSync(join(dir, 'routes', 'crash.mjs'), `
import cluster from 'node:cluster'
import { existsSync } from 'node:fs'
if (cluster.isWorker && existsSync(process.env.TOLLGATE_TEST_CRASH_MARKER)) throw new Error('crashing on purpose')
export default { name: 'crash', match: { path: '/crash' }, upstream: 'app' }
`)
  const { cli, url, pids } = await started(t, file, [], { ...process.env, TOLLGATE_TEST_CRASH_MARKER: marker })
  const [victim, survivor] = pids as [number, number]
  writeFileSync(marker, '')
  process.kill(victim, 'SIGKILL')

  const exits: Record<string, unknown>[] = []
  for (let crashes = 1; crashes <= 4; crashes++) {
    exits.push(await cli.waitForLog(l => l.msg === 'worker exited unexpectedly; restarting it' && l.crashes === crashes))
  }
  assert.deepEqual(exits.map(l => l.restartInMs), [100, 200, 400, 800], 'each crash in a row doubles the wait')
  assert.deepEqual(exits.slice(1).map(l => l.code), [1, 1, 1], 'the replacements failed at start')
  // Each replacement was started only after its wait.
  const startedLines = cli.lines.filter(l => l.msg === 'worker started' && l.worker === exits[0]?.worker)
  for (let i = 0; i < 3; i++) {
    const exit = exits[i] as { time: number, restartInMs: number }
    const next = startedLines.find(l => Number(l.time) >= exit.time) as { time: number } | undefined
    assert.ok(next !== undefined && next.time - exit.time >= exit.restartInMs - 5, `restart ${i + 1} came before its wait`)
  }
  // The other worker serves throughout.
  for (let i = 0; i < 4; i++) {
    const answer = await onNewConnection(`${url}/`)
    assert.equal(answer.status, 200)
    assert.equal(await cli.servedBy(answer.requestId), survivor)
  }

  rmSync(marker)
  const ready = await cli.waitForLog(l => l.msg === 'worker ready' && !pids.includes(Number(l.workerPid)))
  const after = await reachEvery(cli, url, [survivor, Number(ready.workerPid)])
  assert.equal(after.byPid.size, 2, 'the worker serves again once it can start')
  cli.child.kill('SIGTERM')
  assert.equal((await cli.exited).code, 0)
})

test('PUT /config and a target disabled through the admin API of one worker reach every worker, and a worker started later', async (t) => {
  const dir = tempFolder(t, 'tollgate-workers-')
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const file = join(dir, 'g.yaml')
  writeFileSync(file, config(blue.address, 'one', 'admin:\n  listen: { host: 127.0.0.1, port: 0 }'))
  const { cli, url, pids } = await started(t, file)
  const adminLine = await cli.waitForLog(l => l.msg === 'admin API listening')
  const admin = `http://127.0.0.1:${(adminLine.admin as { port: number }).port}`
  // Port 0, as in the file: the cluster gives every worker listening on port 0 the port the
  // first one got, and a running worker keeps its listener (see docs/operations.md).
  const next = {
    server: { listen: [{ host: '127.0.0.1', port: 0 }], accessLog: true, gracefulShutdown: '5s' },
    admin: { listen: { host: '127.0.0.1', port: 0 } },
    upstreams: { app: { targets: [blue.address] }, other: { targets: [green.address] } },
    routes: [
      { name: 'other', match: { path: '/other/*' }, upstream: 'other', responseHeaders: { set: { 'x-config': 'two' } } },
      { name: 'app', upstream: 'app', responseHeaders: { set: { 'x-config': 'two' } } }
    ]
  }
  const put = await onNewConnection(`${admin}/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(next) })
  assert.equal(put.status, 200, put.text)
  await cli.waitForLog(l => l.msg === 'admin change made through another worker applied' && l.change === 'config')
  const applied = await reachEvery(cli, url, pids)
  assert.deepEqual([...applied.byPid.keys()].sort(), [...pids].sort())
  assert.deepEqual([...applied.tags], ['200 two'], 'every worker runs the config sent to one')
  assert.equal(cli.lines.filter(l => l.msg === 'admin change made through another worker applied').length, 1, 'applied once by each worker')

  const disable = await onNewConnection(`${admin}/upstreams/app/targets/${blue.address}/disable`, { method: 'POST' })
  assert.equal(disable.status, 200, disable.text)
  await cli.waitForLog(l => l.msg === 'admin change made through another worker applied' && l.change === 'target-enabled')
  const disabled = await reachEvery(cli, url, pids)
  assert.deepEqual([...disabled.tags], ['503 undefined'], 'no worker sends to the disabled target')

  // A replacement runs what the others run: the config and the target change.
  const [victim, survivor] = pids as [number, number]
  process.kill(victim, 'SIGKILL')
  const ready = await cli.waitForLog(l => l.msg === 'worker ready' && !pids.includes(Number(l.workerPid)))
  const now = [survivor, Number(ready.workerPid)]
  const other = await reachEvery(cli, url, now, '/other/')
  assert.equal(other.byPid.size, 2)
  assert.deepEqual([...other.tags], ['200 two'], 'the replacement runs the config sent before it started')
  const stillDisabled = await reachEvery(cli, url, now)
  assert.equal(stillDisabled.byPid.size, 2)
  assert.deepEqual([...stillDisabled.tags], ['503 undefined'], 'the replacement has the target disabled before it started')
})
