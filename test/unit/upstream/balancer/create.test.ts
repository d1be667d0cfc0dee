import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createBalancer } from '../../../../src/upstream/balancer/create.js'
import type { BalancerKind, BalancerOptions } from '../../../../src/upstream/balancer/index.js'
import { SmoothWeightedRoundRobin } from '../../../../src/upstream/balancer/round-robin.js'
import { WeightedRandom } from '../../../../src/upstream/balancer/random.js'
import { LeastConnections } from '../../../../src/upstream/balancer/least-connections.js'
import { ConsistentHash } from '../../../../src/upstream/balancer/consistent-hash.js'
import { StickyCookie } from '../../../../src/upstream/balancer/sticky-cookie.js'
import { drain, input, target } from './fixtures.js'

function options (kind: BalancerKind): BalancerOptions {
  return { kind, hashKey: { from: 'ip' }, sticky: { cookie: 'tg', ttlMs: 3_600_000 } }
}

const CLASSES = {
  'round-robin': SmoothWeightedRoundRobin,
  random: WeightedRandom,
  'least-connections': LeastConnections,
  'consistent-hash': ConsistentHash,
  'sticky-cookie': StickyCookie
} as const

for (const [kind, Class] of Object.entries(CLASSES) as [BalancerKind, (typeof CLASSES)[BalancerKind]][]) {
  test(`${kind} builds a ${Class.name}`, () => {
    assert.ok(createBalancer(options(kind), [target(1)]) instanceof Class, `${kind} did not build a ${Class.name}`)
  })

  test(`${kind}: a full iteration yields each available primary once, then each available backup`, () => {
    const [a, b, c, x, y, z] = [target(1), target(2, 3), target(3), target(7, 1, true), target(8, 1, true), target(9, 1, true)]
    b.healthy = false
    y.enabled = false
    const balancer = createBalancer(options(kind), [x, a, y, b, c, z])
    for (let i = 0; i < 20; i++) {
      const order = drain(balancer.pick(input({ ip: `10.0.0.${i}` })))
      assert.deepEqual(new Set(order.slice(0, 2)), new Set([a, c]))
      assert.deepEqual(order.slice(2), [x, z])
    }
  })

  test(`${kind}: nothing is yielded when nothing is available`, () => {
    const targets = [target(1), target(2), target(9, 1, true)]
    for (const t of targets) t.healthy = false
    assert.deepEqual(drain(createBalancer(options(kind), targets).pick(input())), [])
  })

  test(`${kind}: only backups are yielded when every primary is down`, () => {
    const [p, x] = [target(1), target(9, 1, true)]
    p.enabled = false
    assert.deepEqual(drain(createBalancer(options(kind), [p, x]).pick(input())), [x])
  })
}

test('only sticky-cookie adds response headers', () => {
  for (const kind of Object.keys(CLASSES) as BalancerKind[]) {
    assert.equal(createBalancer(options(kind), [target(1)]).onResponse !== undefined, kind === 'sticky-cookie', kind)
  }
})
