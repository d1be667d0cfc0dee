import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Client, request } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { tempFolder } from '../helpers/files.js'
import { Load } from '../helpers/load.js'
import { config, onNewConnection, reachEvery, started } from '../helpers/workers.js'

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
