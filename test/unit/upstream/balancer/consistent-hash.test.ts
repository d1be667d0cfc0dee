import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Target } from '../../../../src/upstream/target.js'
import type { BalancerInput, HashKey } from '../../../../src/upstream/balancer/index.js'
import { ConsistentHash } from '../../../../src/upstream/balancer/consistent-hash.js'
import { drain, input, target } from './fixtures.js'

/** The ring's first choice for `request`; a ring that picks nothing fails the test here. */
function first (ring: ConsistentHash, request: BalancerInput): Target {
  const r = ring.pick(request).next()
  assert.ok(r.done !== true, `the ring picked no target for ${JSON.stringify(request)}`)
  return r.value
}

function fourTargets (): Target[] {
  return [target(3001), target(3002), target(3003), target(3004)]
}

test('the same key always maps to the same target', () => {
  const ring = new ConsistentHash(fourTargets(), { from: 'path' })
  for (let i = 0; i < 500; i++) {
    const key = input({ path: `/k/${i}` })
    assert.equal(first(ring, key), first(ring, key))
  }
})

test('rings built from the same targets map keys alike, whatever the targets\' order', () => {
  const targets = fourTargets()
  const one = new ConsistentHash(targets, { from: 'path' })
  const other = new ConsistentHash([...targets].reverse(), { from: 'path' })
  for (let i = 0; i < 1_000; i++) {
    const key = input({ path: `/k/${i}` })
    assert.equal(first(one, key), first(other, key))
  }
})

test('keys spread over 4 targets, each getting between 15% and 35% of 10 000', () => {
  const targets = fourTargets()
  const ring = new ConsistentHash(targets, { from: 'path' })
  const counts = new Map<Target, number>()
  for (let i = 0; i < 10_000; i++) {
    const t = first(ring, input({ path: `/item/${i}` }))
    counts.set(t, (counts.get(t) ?? 0) + 1)
  }
  for (const t of targets) {
    const count = counts.get(t) ?? 0
    assert.ok(count > 1_500 && count < 3_500, `${t.id} got ${count}`)
  }
})

test('removing one of 4 targets remaps at most 30% of 10 000 keys, all from the removed one', () => {
  const targets = fourTargets()
  const before = new ConsistentHash(targets, { from: 'path' })
  const after = new ConsistentHash(targets.slice(0, 3), { from: 'path' })
  let moved = 0
  for (let i = 0; i < 10_000; i++) {
    const key = input({ path: `/item/${i}` })
    const was = first(before, key)
    if (was === first(after, key)) continue
    moved++
    assert.equal(was, targets[3], 'a key moved between two targets that both stayed')
  }
  assert.ok(moved <= 3_000, `${moved} of 10000 keys moved`)
})

test('heavier targets get a proportionally larger share of keys', () => {
  const [a, b] = [target(3001, 3), target(3002, 1)]
  const ring = new ConsistentHash([a, b], { from: 'path' })
  let heavy = 0
  for (let i = 0; i < 10_000; i++) if (first(ring, input({ path: `/item/${i}` })) === a) heavy++
  assert.ok(heavy > 6_500 && heavy < 8_500, `heavy target got ${heavy} of 10000`)
})

test('an unavailable target\'s keys move to other targets while every other key stays', () => {
  const targets = fourTargets()
  const ring = new ConsistentHash(targets, { from: 'ip' })
  const keys = Array.from({ length: 1_000 }, (_, i) => input({ ip: `10.0.${i >> 8}.${i & 255}` }))
  const was = keys.map(k => first(ring, k))
  targets[1]!.healthy = false
  keys.forEach((k, i) => {
    const now = first(ring, k)
    if (was[i] === targets[1]) assert.notEqual(now, targets[1])
    else assert.equal(now, was[i])
  })
  targets[1]!.healthy = true
  assert.deepEqual(keys.map(k => first(ring, k)), was)
})

test('a full iteration yields each available primary once, then the backups', () => {
  const [a, b, c, d, x] = [...fourTargets(), target(9, 1, true)]
  c!.enabled = false
  const ring = new ConsistentHash([a!, x!, b!, c!, d!], { from: 'path' })
  for (let i = 0; i < 100; i++) {
    const order = drain(ring.pick(input({ path: `/p/${i}` })))
    assert.equal(order.length, 4)
    assert.deepEqual(new Set(order.slice(0, 3)), new Set([a, b, d]))
    assert.equal(order[3], x)
  }
})

test('the first fallback is the key\'s target once that one is down', () => {
  const targets = fourTargets()
  const ring = new ConsistentHash(targets, { from: 'path' })
  for (let i = 0; i < 50; i++) {
    const key = input({ path: `/p/${i}` })
    const order = drain(ring.pick(key))
    assert.equal(order.length, 4)
    order[0]!.healthy = false
    assert.equal(first(ring, key), order[1])
    order[0]!.healthy = true
  }
})

test('a backup is chosen first only when no primary is available', () => {
  const [p, q, backup] = [target(1), target(2), target(9, 1, true)]
  const ring = new ConsistentHash([p, q, backup], { from: 'path' })
  const keys = Array.from({ length: 50 }, (_, i) => input({ path: `/p/${i}` }))
  assert.ok(keys.every(k => first(ring, k) !== backup), 'the backup was chosen while primaries were available')
  p.enabled = false
  q.healthy = false
  assert.ok(keys.every(k => first(ring, k) === backup), 'the backup was not chosen with no primary available')
})

test('nothing is yielded when nothing is available', () => {
  const targets = [target(1), target(2), target(9, 1, true)]
  for (const t of targets) t.enabled = false
  assert.deepEqual(drain(new ConsistentHash(targets, { from: 'ip' }).pick(input())), [])
})

/** For each key source: a request carrying value `v` there, and different everywhere else. */
const SOURCES: [string, HashKey, (v: string, noise: string) => BalancerInput][] = [
  ['ip', { from: 'ip' }, (v, n) => input({ ip: v, path: `/${n}`, query: n })],
  ['path', { from: 'path' }, (v, n) => input({ ip: n, path: `/${v}`, query: n })],
  ['query', { from: 'query' }, (v, n) => input({ ip: n, path: `/${n}`, query: `q=${v}` })],
  ['url', { from: 'url' }, (v, n) => input({ ip: n, path: '/p', query: `q=${v}` })],
  ['header:x-user', { from: 'header', name: 'x-user' }, (v, n) => input({ ip: n, path: `/${n}`, headers: { 'x-user': v } })],
  ['cookie:sid', { from: 'cookie', name: 'sid' }, (v, n) => input({ ip: n, path: `/${n}`, headers: { cookie: `a=${n}; sid=${v}; b=2` } })]
]

for (const [name, key, make] of SOURCES) {
  test(`key ${name}: the same value maps to the same target whatever else differs`, () => {
    const ring = new ConsistentHash(fourTargets(), key)
    for (let i = 0; i < 100; i++) {
      const t = first(ring, make(`v${i}`, 'one'))
      assert.equal(first(ring, make(`v${i}`, 'two')), t)
      assert.equal(first(ring, make(`v${i}`, `n${i}`)), t)
    }
  })

  test(`key ${name}: different values spread over the targets`, () => {
    const ring = new ConsistentHash(fourTargets(), key)
    const seen = new Set(Array.from({ length: 400 }, (_, i) => first(ring, make(`v${i}`, 'same'))))
    assert.equal(seen.size, 4)
  })
}

test('key url: the query is part of the key', () => {
  const ring = new ConsistentHash(fourTargets(), { from: 'url' })
  const seen = new Set(Array.from({ length: 400 }, (_, i) => first(ring, input({ path: '/same', query: `page=${i}` }))))
  assert.equal(seen.size, 4)
})

test('key url: path and query map like the string path?query would', () => {
  const url = new ConsistentHash(fourTargets(), { from: 'url' })
  const path = new ConsistentHash(fourTargets(), { from: 'path' })
  for (let i = 0; i < 200; i++) {
    assert.equal(first(url, input({ path: `/p/${i}`, query: `q=${i}` })).id, first(path, input({ path: `/p/${i}?q=${i}` })).id)
    assert.equal(first(url, input({ path: `/p/${i}` })).id, first(path, input({ path: `/p/${i}` })).id)
  }
})

test('key header: the first value of a repeated header is used', () => {
  const ring = new ConsistentHash(fourTargets(), { from: 'header', name: 'x-user' })
  for (let i = 0; i < 100; i++) {
    assert.equal(first(ring, input({ headers: { 'x-user': [`u${i}`, 'other'] } })), first(ring, input({ headers: { 'x-user': `u${i}` } })))
  }
})

test('key header and cookie: requests without the value all map to one target', () => {
  for (const key of [{ from: 'header', name: 'x-user' }, { from: 'cookie', name: 'sid' }] as const) {
    const ring = new ConsistentHash(fourTargets(), key)
    const seen = new Set(Array.from({ length: 100 }, (_, i) => first(ring, input({ ip: `10.0.0.${i}`, path: `/${i}`, headers: { cookie: `other=${i}` } }))))
    assert.equal(seen.size, 1)
  }
})

test('key cookie: a cookie whose name ends with the wanted one is not mistaken for it', () => {
  const ring = new ConsistentHash(fourTargets(), { from: 'cookie', name: 'sid' })
  for (let i = 0; i < 100; i++) {
    const alone = first(ring, input({ headers: { cookie: `sid=v${i}` } }))
    assert.equal(first(ring, input({ headers: { cookie: `xsid=w${i}; sid=v${i}` } })), alone)
    assert.equal(first(ring, input({ headers: { cookie: `a=sid=w${i};sid=v${i}` } })), alone)
    assert.equal(first(ring, input({ headers: { cookie: `sid=v${i}; sidx=w${i}` } })), alone)
  }
})
