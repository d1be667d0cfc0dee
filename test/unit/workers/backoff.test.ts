import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RestartBackoff, RESTART_BACKOFF } from '../../../src/workers/backoff.js'

const options = { initialMs: 100, maxMs: 1600, stableMs: 10_000 }

test('each crash in a row doubles the wait, from the initial wait up to the cap', () => {
  const backoff = new RestartBackoff(options)
  const waits = Array.from({ length: 7 }, () => backoff.next(0))
  assert.deepEqual(waits, [100, 200, 400, 800, 1600, 1600, 1600])
  assert.equal(backoff.crashes, 7)
})

test('a worker that served for the stable time starts the count again', () => {
  const backoff = new RestartBackoff(options)
  for (let i = 0; i < 4; i++) backoff.next(50)
  assert.equal(backoff.next(9_999), 1600, 'served less than stableMs: still in the streak')
  assert.equal(backoff.next(10_000), 100)
  assert.equal(backoff.next(0), 200)
})

test('the wait stays at the cap however long the streak', () => {
  const backoff = new RestartBackoff(options)
  let last = 0
  for (let i = 0; i < 5000; i++) last = backoff.next(0)
  assert.equal(last, 1600)
})

test('the default waits are bounded: from 100 ms, never more than 30 s', () => {
  const backoff = new RestartBackoff()
  assert.equal(backoff.next(0), RESTART_BACKOFF.initialMs)
  for (let i = 0; i < 100; i++) assert.ok(backoff.next(0) <= RESTART_BACKOFF.maxMs)
  assert.equal(RESTART_BACKOFF.maxMs, 30_000)
})
