import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LeastConnections } from '../../../../src/upstream/balancer/least-connections.js'
import { drain, firsts, target } from './fixtures.js'

test('the target with the fewest in-flight requests is chosen', () => {
  const [a, b, c] = [target(1), target(2), target(3)]
  a.inflight = 3
  b.inflight = 1
  c.inflight = 2
  assert.deepEqual(firsts(new LeastConnections([a, b, c]), 3), [b, b, b])
})

test('in-flight requests are counted per unit of weight', () => {
  const [a, b] = [target(1, 1), target(2, 4)]
  a.inflight = 1
  b.inflight = 3
  assert.equal(firsts(new LeastConnections([a, b]), 1)[0], b, '3/4 beats 1/1')
  b.inflight = 5
  assert.equal(firsts(new LeastConnections([a, b]), 1)[0], a, '1/1 beats 5/4')
})

test('a tie in load goes to the heavier target', () => {
  const [a, b] = [target(1, 1), target(2, 2)]
  a.inflight = 1
  b.inflight = 2
  assert.deepEqual(firsts(new LeastConnections([a, b]), 3), [b, b, b])
})

test('idle targets of equal weight take turns', () => {
  const [a, b, c] = [target(1), target(2), target(3)]
  assert.deepEqual(firsts(new LeastConnections([a, b, c]), 6), [a, b, c, a, b, c])
})

test('a tie between two of three targets alternates between those two', () => {
  const [a, b, c] = [target(1), target(2), target(3)]
  c.inflight = 5
  assert.deepEqual(firsts(new LeastConnections([a, b, c]), 4), [a, b, a, b])
})

test('fallbacks come in order of load', () => {
  const [a, b, c] = [target(1), target(2), target(3)]
  a.inflight = 3
  b.inflight = 1
  c.inflight = 2
  assert.deepEqual(drain(new LeastConnections([a, b, c]).pick()), [b, c, a])
})

test('a fallback is measured when the retry asks for it', () => {
  const [a, b, c] = [target(1), target(2), target(3)]
  a.inflight = 1
  b.inflight = 2
  c.inflight = 3
  const it = new LeastConnections([a, b, c]).pick()
  assert.equal(it.next().value, a)
  b.inflight = 9
  assert.deepEqual(drain(it), [c, b])
})

test('a disabled or unhealthy target is skipped even when idle', () => {
  const [a, b, c] = [target(1), target(2), target(3)]
  b.inflight = 10
  a.enabled = false
  c.healthy = false
  assert.deepEqual(drain(new LeastConnections([a, b, c]).pick()), [b])
})

test('a full iteration yields each available primary once, then the backups', () => {
  const [a, b, x, y] = [target(1), target(2), target(8, 1, true), target(9, 1, true)]
  y.healthy = false
  const lc = new LeastConnections([x, a, y, b])
  for (let i = 0; i < 4; i++) {
    const order = drain(lc.pick())
    assert.deepEqual(new Set(order.slice(0, 2)), new Set([a, b]))
    assert.deepEqual(order.slice(2), [x])
  }
})

test('an idle backup is not chosen while a busy primary is available', () => {
  const [p, backup] = [target(1), target(9, 1, true)]
  p.inflight = 100
  const lc = new LeastConnections([p, backup])
  assert.equal(firsts(lc, 1)[0], p)
  p.enabled = false
  assert.equal(firsts(lc, 1)[0], backup)
})

test('nothing is yielded when nothing is available', () => {
  const targets = [target(1), target(9, 1, true)]
  for (const t of targets) t.enabled = false
  assert.deepEqual(drain(new LeastConnections(targets).pick()), [])
})
