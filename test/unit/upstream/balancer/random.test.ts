import { test } from 'node:test'
import assert from 'node:assert/strict'
import { WeightedRandom } from '../../../../src/upstream/balancer/random.js'
import { drain, firsts, target } from './fixtures.js'

test('weights 3:1 give the heavy target between 70% and 80% of 10 000 picks', () => {
  const [a, b] = [target(1, 3), target(2, 1)]
  const picks = firsts(new WeightedRandom([a, b]), 10_000)
  const share = picks.filter(t => t === a).length / picks.length
  assert.ok(share > 0.7 && share < 0.8, `heavy share ${share}`)
})

test('equal weights give each of 4 targets between 20% and 30% of 10 000 picks', () => {
  const targets = [target(1), target(2), target(3), target(4)]
  const picks = firsts(new WeightedRandom(targets), 10_000)
  for (const t of targets) {
    const share = picks.filter(p => p === t).length / picks.length
    assert.ok(share > 0.2 && share < 0.3, `${t.id} got ${share}`)
  }
})

test('fallbacks are drawn by weight too: a heavy target is almost always among the first two', () => {
  // Weights 1:1:8: the heavy one is first 80% of the time and second 0.2 * 8/9 of it, ~97.8% in all;
  // a uniform shuffle of the fallbacks would give ~82%.
  const [a, b, c] = [target(1), target(2), target(3, 8)]
  const random = new WeightedRandom([a, b, c])
  let early = 0
  for (let i = 0; i < 10_000; i++) if (drain(random.pick()).slice(0, 2).includes(c)) early++
  assert.ok(early > 9_300, `heavy target among the first two ${early} times of 10000`)
})

test('a disabled or unhealthy target is never picked', () => {
  const [a, b, c] = [target(1), target(2), target(3)]
  const random = new WeightedRandom([a, b, c])
  a.enabled = false
  b.healthy = false
  assert.ok(firsts(random, 1_000).every(t => t === c), 'a disabled or unhealthy target was picked')
})

test('a full iteration yields each available primary once, then the backups', () => {
  const [a, b, c, x] = [target(1, 5), target(2), target(3, 2), target(9, 1, true)]
  c.enabled = false
  const random = new WeightedRandom([a, x, b, c])
  for (let i = 0; i < 50; i++) {
    const order = drain(random.pick())
    assert.equal(order.length, 3)
    assert.deepEqual(new Set(order.slice(0, 2)), new Set([a, b]))
    assert.equal(order[2], x)
  }
})

test('a backup is chosen first only when no primary is available', () => {
  const [p, backup] = [target(1), target(9, 1, true)]
  const random = new WeightedRandom([p, backup])
  assert.ok(firsts(random, 100).every(t => t === p), 'the backup was chosen while the primary was available')
  p.healthy = false
  assert.ok(firsts(random, 100).every(t => t === backup), 'the backup was not chosen with no primary available')
})

test('nothing is yielded when nothing is available', () => {
  const targets = [target(1), target(9, 1, true)]
  for (const t of targets) t.healthy = false
  assert.deepEqual(drain(new WeightedRandom(targets).pick()), [])
})
