import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AdminChangeLog } from '../../../src/workers/change-log.js'

const config = (tag: string): Record<string, unknown> => ({ routes: [], tag })

test('a worker starting later gets the last config sent and every target change, in order', () => {
  const log = new AdminChangeLog()
  assert.deepEqual(log.replay(), { config: null, targets: [] })
  log.add({ kind: 'config', config: config('one') })
  log.add({ kind: 'target-enabled', upstream: 'app', address: '127.0.0.1:1', enabled: false })
  log.add({ kind: 'config', config: config('two') })
  log.add({ kind: 'targets', upstream: 'app', targets: ['127.0.0.1:2'] })
  assert.deepEqual(log.replay(), {
    config: config('two'),
    targets: [
      { kind: 'target-enabled', upstream: 'app', address: '127.0.0.1:1', enabled: false },
      { kind: 'targets', upstream: 'app', targets: ['127.0.0.1:2'] }
    ]
  })
})

test('after the file is read again (SIGHUP), the file wins over a config sent before', () => {
  const log = new AdminChangeLog()
  log.add({ kind: 'config', config: config('one') })
  log.fileReloaded()
  assert.equal(log.replay().config, null)
})

test('the target history is bounded: the oldest changes go first', () => {
  const log = new AdminChangeLog()
  for (let i = 0; i < 1500; i++) log.add({ kind: 'target-enabled', upstream: 'app', address: `127.0.0.1:${i}`, enabled: false })
  const targets = log.replay().targets
  assert.equal(targets.length, 1000)
  assert.deepEqual(targets[0], { kind: 'target-enabled', upstream: 'app', address: '127.0.0.1:500', enabled: false })
})
