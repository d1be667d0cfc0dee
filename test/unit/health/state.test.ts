import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ConsecutiveResults } from '../../../src/health/state.js'

/** Feeds `results` ('+' passed, '-' failed) and returns the verdict after each. */
function run (machine: ConsecutiveResults, results: string): string[] {
  return [...results].map(r => { machine.record(r === '+'); return machine.verdict })
}

test('the first result decides on its own, whatever the thresholds', () => {
  assert.equal(new ConsecutiveResults(3, 3).verdict, 'unknown')
  assert.deepEqual(run(new ConsecutiveResults(3, 3), '+'), ['healthy'])
  assert.deepEqual(run(new ConsecutiveResults(3, 3), '-'), ['unhealthy'])
})

test('unhealthyThreshold failures in a row make a healthy target unhealthy, healthyThreshold successes bring it back', () => {
  const machine = new ConsecutiveResults(2, 3, 'healthy')
  assert.deepEqual(run(machine, '---'), ['healthy', 'healthy', 'unhealthy'])
  assert.deepEqual(run(machine, '++'), ['unhealthy', 'healthy'])
})

test('a result the other way starts the count again, so a target that alternates never flips', () => {
  const machine = new ConsecutiveResults(2, 2, 'healthy')
  assert.deepEqual(run(machine, '-+-+-+-+'), Array(8).fill('healthy'))
  assert.deepEqual(run(machine, '--'), ['healthy', 'unhealthy'])
  assert.deepEqual(run(machine, '+-+-+-'), Array(6).fill('unhealthy'))
})

test('record reports a change exactly when the verdict changes', () => {
  const machine = new ConsecutiveResults(1, 2)
  const changes = [...'+--++-'].map(r => machine.record(r === '+'))
  assert.deepEqual(changes, [true, false, true, true, false, false])
})

test('thresholds below 1 are refused', () => {
  assert.throws(() => new ConsecutiveResults(0, 1), RangeError)
  assert.throws(() => new ConsecutiveResults(1, 0), RangeError)
})
