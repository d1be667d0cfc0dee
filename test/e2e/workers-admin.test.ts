import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startOrigin } from '../helpers/origin.js'
import { tempFolder } from '../helpers/files.js'
import { startRedis } from '../helpers/redis.js'
import { ADMIN, adminUrl, config, configObject, onNewConnection, putConfig, reachEvery, started } from '../helpers/workers.js'

test('PUT /config and a target disabled through the admin API of one worker reach every worker, and a worker started later', async (t) => {
  const dir = tempFolder(t, 'tollgate-workers-')
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const file = join(dir, 'g.yaml')
  writeFileSync(file, config(blue.address, 'one', ADMIN))
  const { cli, url, pids } = await started(t, file)
  const admin = await adminUrl(cli)
  // Port 0, as in the file: the cluster gives every worker listening on port 0 the port the
  // first one got, and a running worker keeps its listener (see docs/operations.md).
  await putConfig(admin, configObject(blue.address, 'two', {
    ...ADMIN,
    upstreams: { app: { targets: [blue.address] }, other: { targets: [green.address] } },
    routes: [
      { name: 'other', match: { path: '/other/*' }, upstream: 'other', responseHeaders: { set: { 'x-config': 'two' } } },
      { name: 'app', upstream: 'app', responseHeaders: { set: { 'x-config': 'two' } } }
    ]
  }))
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

test('with redis, a PUT /config reaches the other worker through redis only: each worker applies it once', async (t) => {
  const dir = tempFolder(t, 'tollgate-workers-')
  const redis = await startRedis(t)
  const blue = await startOrigin(t, 'blue')
  const file = join(dir, 'g.yaml')
  const shared = { ...ADMIN, redis: { url: redis.url } }
  writeFileSync(file, config(blue.address, 'one', shared))
  const { cli, url, pids } = await started(t, file)
  await putConfig(await adminUrl(cli), configObject(blue.address, 'two', shared))
  const answering = Number((await cli.waitForLog(l => String(l.msg).startsWith('config applied through the admin API'))).pid)
  const other = pids.find(pid => pid !== answering) as number
  await cli.waitForLog(l => l.msg === 'shared config applied' && l.pid === other)
  const applied = await reachEvery(cli, url, pids)
  assert.deepEqual([...applied.tags], ['200 two'])
  assert.equal(cli.lines.filter(l => l.msg === 'admin change made through another worker applied').length, 0, 'the config was passed on besides redis')
  for (const pid of pids) {
    assert.equal(cli.lines.filter(l => l.msg === 'config reloaded' && l.pid === pid).length, 1, `worker ${pid} applied the config more than once`)
  }
})
