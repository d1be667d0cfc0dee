import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createServer, type AddressInfo } from 'node:net'
import { once } from 'node:events'
import { request } from 'undici'
import { runCli } from '../helpers/cli.js'
import { startOrigin } from '../helpers/origin.js'
import { tempFolder } from '../helpers/files.js'
import { config, onNewConnection, reachEvery, started } from '../helpers/workers.js'
import { isRunning } from '../../src/cli/pid-file.js'

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

test('--workers 2 on a port already in use: one line saying so, exit 1', async (t) => {
  const dir = tempFolder(t, 'tollgate-workers-')
  const taken = createServer()
  taken.listen(0, '127.0.0.1')
  await once(taken, 'listening')
  t.after(() => taken.close())
  const port = (taken.address() as AddressInfo).port
  writeFileSync(join(dir, 'g.yaml'), `server: { listen: [{ host: 127.0.0.1, port: ${port} }] }\nupstreams: { app: { targets: ["127.0.0.1:1"] } }\nroutes: [{ name: r, upstream: app }]\n`)
  const result = runCli(['start', '-c', join(dir, 'g.yaml'), '--workers', '2'])
  assert.equal(result.status, 1)
  assert.match(result.stderr, new RegExp(`^tollgate: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use$`, 'm'))
})
