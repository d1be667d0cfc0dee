/**
 * The memory cache with several workers: each worker has its own store, and a purge made
 * through one (PURGE on the proxy listener, or the admin API) empties the others' too.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startOrigin } from '../helpers/origin.js'
import { tempFolder } from '../helpers/files.js'
import { ADMIN, adminUrl, configObject, onNewConnection, started, type RunningWorkers } from '../helpers/workers.js'

/** The cache status each worker answers `url` with, asking on new connections until every worker answered. */
async function statusByWorker (cli: RunningWorkers, url: string, pids: readonly number[]): Promise<Map<number, string>> {
  const byPid = new Map<number, string>()
  for (let i = 0; i < 40 && !pids.every(pid => byPid.has(pid)); i++) {
    const answer = await onNewConnection(url)
    const pid = await cli.servedBy(answer.requestId)
    if (!byPid.has(pid)) byPid.set(pid, String(answer.headers['x-cache-status']))
  }
  assert.equal(byPid.size, pids.length, 'every worker answered')
  return byPid
}

test('with 2 workers, a PURGE through one worker, and an admin purge, empty every worker\'s memory store', async (t) => {
  const dir = tempFolder(t, 'tollgate-workers-')
  const origin = await startOrigin(t, 'blue', {
    handler: (_req, res) => { res.writeHead(200, { 'cache-control': 'max-age=600' }); res.end('body') }
  })
  const file = join(dir, 'g.json')
  writeFileSync(file, JSON.stringify(configObject(origin.address, 'one', {
    ...ADMIN,
    routes: [{ name: 'app', upstream: 'app', cache: {} }]
  })))
  const { cli, url, pids } = await started(t, file)
  const admin = await adminUrl(cli)
  await statusByWorker(cli, `${url}/file`, pids)
  assert.deepEqual([...(await statusByWorker(cli, `${url}/file`, pids)).values()], ['HIT', 'HIT'], 'each worker stored its own copy')

  const purge = await onNewConnection(`${url}/file`, { method: 'PURGE' as 'GET' })
  assert.deepEqual(JSON.parse(purge.text), { purged: 1 })
  await cli.waitForLog(l => l.msg === 'admin change made through another worker applied' && l.change === 'cache-purge')
  assert.deepEqual([...(await statusByWorker(cli, `${url}/file`, pids)).values()], ['MISS', 'MISS'], 'the other worker purged too')

  await statusByWorker(cli, `${url}/file`, pids)
  const adminPurge = await onNewConnection(`${admin}/cache/purge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prefix: '/' }) })
  assert.deepEqual(JSON.parse(adminPurge.text), { purged: 1 }, 'the answering worker counts its own store')
  await eventuallyApplied(cli, 2)
  assert.deepEqual([...(await statusByWorker(cli, `${url}/file`, pids)).values()], ['MISS', 'MISS'])
})

async function eventuallyApplied (cli: RunningWorkers, count: number): Promise<void> {
  await cli.waitForLog(() => cli.lines.filter(l => l.msg === 'admin change made through another worker applied' && l.change === 'cache-purge').length >= count)
}
