import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SmoothWeightedRoundRobin } from '../../../../src/upstream/balancer/round-robin.js'
import { drain, firsts, target } from './fixtures.js'

test('equal weights alternate A, B, A, B', () => {
  const [a, b] = [target(1), target(2)]
  assert.deepEqual(firsts(new SmoothWeightedRoundRobin([a, b]), 6), [a, b, a, b, a, b])
})

test('weights 3:1 give the smooth sequence A A B A', () => {
  const [a, b] = [target(1, 3), target(2, 1)]
  assert.deepEqual(firsts(new SmoothWeightedRoundRobin([a, b]), 8), [a, a, b, a, a, a, b, a])
})

test('weights 3:1 give exactly 3 + 1 in every window of 4', () => {
  const [a, b] = [target(1, 3), target(2, 1)]
  const picks = firsts(new SmoothWeightedRoundRobin([a, b]), 400)
  for (let w = 0; w < picks.length; w += 4) {
    assert.equal(picks.slice(w, w + 4).filter(t => t === a).length, 3, `window at ${w}`)
  }
})

test('weights 5:2:1 are honoured exactly over each cycle of 8', () => {
  const [a, b, c] = [target(1, 5), target(2, 2), target(3, 1)]
  const picks = firsts(new SmoothWeightedRoundRobin([a, b, c]), 80)
  for (let w = 0; w < picks.length; w += 8) {
    const window = picks.slice(w, w + 8)
    assert.deepEqual([a, b, c].map(t => window.filter(p => p === t).length), [5, 2, 1])
  }
})

test('a disabled target is skipped and the others keep alternating', () => {
  const [a, b, c] = [target(1), target(2), target(3)]
  const rr = new SmoothWeightedRoundRobin([a, b, c])
  b.enabled = false
  assert.deepEqual(firsts(rr, 6), [a, c, a, c, a, c])
})

test('an unhealthy target is skipped and rejoins the rotation when healthy again', () => {
  const [a, b] = [target(1), target(2)]
  const rr = new SmoothWeightedRoundRobin([a, b])
  a.healthy = false
  assert.deepEqual(firsts(rr, 3), [b, b, b])
  a.healthy = true
  assert.deepEqual(new Set(firsts(rr, 2)), new Set([a, b]))
})

test('fallbacks continue the rotation over the primaries not yet yielded', () => {
  const [a, b, c] = [target(1), target(2), target(3)]
  assert.deepEqual(drain(new SmoothWeightedRoundRobin([a, b, c]).pick()), [a, b, c])
})

test('fallbacks follow the weights among the remaining primaries', () => {
  const [a, b, c] = [target(1, 1), target(2, 1), target(3, 5)]
  const order = drain(new SmoothWeightedRoundRobin([a, b, c]).pick())
  assert.equal(order[0], c)
  assert.equal(order.length, 3)
})

test('a full iteration yields each available primary once, then the backups', () => {
  const [a, b, c, x, y] = [target(1, 2), target(2), target(3), target(8, 1, true), target(9, 1, true)]
  b.healthy = false
  const rr = new SmoothWeightedRoundRobin([x, a, b, y, c])
  for (let i = 0; i < 10; i++) {
    const order = drain(rr.pick())
    assert.equal(order.length, 4)
    assert.equal(new Set(order).size, 4)
    assert.deepEqual(new Set(order.slice(0, 2)), new Set([a, c]))
    assert.deepEqual(order.slice(2), [x, y])
  }
})

test('a backup is chosen first only when no primary is available', () => {
  const [p, q, backup] = [target(1), target(2), target(9, 1, true)]
  const rr = new SmoothWeightedRoundRobin([p, q, backup])
  assert.ok(!firsts(rr, 4).includes(backup), 'the backup was chosen while both primaries were available')
  p.enabled = false
  assert.ok(!firsts(rr, 4).includes(backup), 'the backup was chosen while one primary was available')
  q.healthy = false
  assert.deepEqual(firsts(rr, 2), [backup, backup])
})

test('nothing is yielded when nothing is available', () => {
  const targets = [target(1), target(2), target(9, 1, true)]
  for (const t of targets) t.enabled = false
  assert.deepEqual(drain(new SmoothWeightedRoundRobin(targets).pick()), [])
})

test('an upstream with no targets yields nothing', () => {
  assert.deepEqual(drain(new SmoothWeightedRoundRobin([]).pick()), [])
})
