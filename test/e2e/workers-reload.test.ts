import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Agent } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { tempFolder } from '../helpers/files.js'
import { Load } from '../helpers/load.js'
import { config, reachEvery, started } from '../helpers/workers.js'

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
