import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Target } from '../../../src/upstream/target.js'
import { createBalancer } from '../../../src/upstream/balancer/create.js'
import type { BalancerInput, BalancerOptions, BalancerKind, HashKey } from '../../../src/upstream/balancer/index.js'
import { ConsistentHash } from '../../../src/upstream/balancer/consistent-hash.js'
import { stickyToken } from '../../../src/upstream/balancer/sticky-cookie.js'

function target (port: number, weight = 1, backup = false): Target {
  return new Target({ address: { kind: 'tcp', host: '127.0.0.1', port, id: `127.0.0.1:${port}` }, weight, backup })
}

function options (kind: BalancerKind, hashKey: HashKey = { from: 'ip' }): BalancerOptions {
  return { kind, hashKey, sticky: { cookie: 'tg', ttlMs: 3_600_000 } }
}

function input (over: Partial<BalancerInput> = {}): BalancerInput {
  return { ip: '10.0.0.1', path: '/', query: '', headers: {}, ...over }
}

function all (it: Iterator<Target>): Target[] {
  const out: Target[] = []
  for (let r = it.next(); r.done !== true && out.length < 100; r = it.next()) out.push(r.value)
  return out
}

const KINDS: BalancerKind[] = ['round-robin', 'random', 'least-connections', 'consistent-hash', 'sticky-cookie']

test('round robin with weights 3:1 gives exactly 3 + 1 in every window of 4', () => {
  const [a, b] = [target(1, 3), target(2, 1)]
  const rr = createBalancer(options('round-robin'), [a, b])
  const picks = Array.from({ length: 40 }, () => rr.pick(input()).next().value as Target)
  for (let w = 0; w < 40; w += 4) assert.equal(picks.slice(w, w + 4).filter(t => t === a).length, 3)
})

test('round robin skips an unavailable target without disturbing the others', () => {
  const [a, b, c] = [target(1), target(2), target(3)]
  const rr = createBalancer(options('round-robin'), [a, b, c])
  b.enabled = false
  const picks = Array.from({ length: 6 }, () => rr.pick(input()).next().value as Target)
  assert.deepEqual(picks, [a, c, a, c, a, c])
})

for (const kind of KINDS) {
  test(`${kind}: a full iteration yields every available primary once, then backups`, () => {
    const primaries = [target(1), target(2), target(3)]
    const backups = [target(9, 1, true)]
    primaries[1]!.healthy = false
    const balancer = createBalancer(options(kind), [...primaries, ...backups])
    const order = all(balancer.pick(input()))
    assert.equal(order.length, 3)
    assert.equal(new Set(order).size, 3)
    assert.ok(!order.includes(primaries[1]!), 'an unhealthy target was yielded')
    assert.equal(order[2], backups[0], 'the backup must come after every primary')
  })

  test(`${kind}: nothing is yielded when nothing is available`, () => {
    const targets = [target(1), target(2, 1, true)]
    for (const t of targets) t.enabled = false
    assert.deepEqual(all(createBalancer(options(kind), targets).pick(input())), [])
  })

  test(`${kind}: a backup is the first choice only when no primary is available`, () => {
    const [p, b] = [target(1), target(2, 1, true)]
    const balancer = createBalancer(options(kind), [p, b])
    assert.equal(balancer.pick(input()).next().value, p)
    p.healthy = false
    assert.equal(balancer.pick(input()).next().value, b)
  })
}

test('weighted random follows the weights', () => {
  const [a, b] = [target(1, 3), target(2, 1)]
  const random = createBalancer(options('random'), [a, b])
  let heavy = 0
  for (let i = 0; i < 10_000; i++) if (random.pick(input()).next().value === a) heavy++
  assert.ok(heavy > 7000 && heavy < 8000, `heavy target got ${heavy} of 10000`)
})

test('least connections prefers the lowest in-flight count per unit of weight', () => {
  const [a, b, c] = [target(1, 1), target(2, 2), target(3, 1)]
  const lc = createBalancer(options('least-connections'), [a, b, c])
  a.inflight = 1
  b.inflight = 1
  c.inflight = 1
  assert.equal(lc.pick(input()).next().value, b, '1/2 beats 1/1')
  b.inflight = 4
  assert.notEqual(lc.pick(input()).next().value, b)
})

test('least connections spreads ties instead of always taking the first target', () => {
  const targets = [target(1), target(2), target(3)]
  const lc = createBalancer(options('least-connections'), targets)
  const firsts = new Set(Array.from({ length: 6 }, () => lc.pick(input()).next().value))
  assert.equal(firsts.size, 3)
})

test('consistent hash: the same key always maps to the same target', () => {
  const ring = new ConsistentHash([target(1), target(2), target(3), target(4)], { from: 'path' })
  for (let i = 0; i < 200; i++) {
    const key = input({ path: `/k/${i}` })
    assert.equal(ring.pick(key).next().value, ring.pick(key).next().value)
  }
})

test('consistent hash: removing one of 4 targets remaps at most 30% of 10 000 keys', () => {
  const targets = [target(1), target(2), target(3), target(4)]
  const before = new ConsistentHash(targets, { from: 'path' })
  const after = new ConsistentHash(targets.slice(0, 3), { from: 'path' })
  let moved = 0
  const share = new Map<Target, number>()
  for (let i = 0; i < 10_000; i++) {
    const key = input({ path: `/item/${i}` })
    const was = before.pick(key).next().value as Target
    share.set(was, (share.get(was) ?? 0) + 1)
    if (was !== after.pick(key).next().value) moved++
  }
  assert.ok(moved <= 3000, `${moved} keys moved`)
  for (const count of share.values()) assert.ok(count > 1500 && count < 3500, `unbalanced ring: ${[...share.values()].join(', ')}`)
})

test('consistent hash: an unavailable target\'s keys move, the others\' stay', () => {
  const targets = [target(1), target(2), target(3)]
  const ring = new ConsistentHash(targets, { from: 'ip' })
  const keys = Array.from({ length: 300 }, (_, i) => input({ ip: `10.0.${i >> 8}.${i & 255}` }))
  const first = keys.map(k => ring.pick(k).next().value as Target)
  targets[0]!.healthy = false
  keys.forEach((k, i) => {
    const now = ring.pick(k).next().value as Target
    if (first[i] === targets[0]) assert.notEqual(now, targets[0])
    else assert.equal(now, first[i])
  })
})

test('consistent hash reads each key source', () => {
  const targets = [target(1), target(2), target(3), target(4), target(5)]
  const sources: [HashKey, (v: string) => Partial<BalancerInput>][] = [
    [{ from: 'ip' }, v => ({ ip: v })],
    [{ from: 'path' }, v => ({ path: `/${v}` })],
    [{ from: 'query' }, v => ({ query: `q=${v}` })],
    [{ from: 'url' }, v => ({ path: '/p', query: `q=${v}` })],
    [{ from: 'header', name: 'x-user' }, v => ({ headers: { 'x-user': v } })],
    [{ from: 'cookie', name: 'sid' }, v => ({ headers: { cookie: `a=1; sid=${v}; b=2` } })]
  ]
  for (const [key, make] of sources) {
    const ring = new ConsistentHash(targets, key)
    const seen = new Set(Array.from({ length: 200 }, (_, i) => ring.pick(input(make(`v${i}`))).next().value))
    assert.ok(seen.size >= 4, `${JSON.stringify(key)} does not spread keys (${seen.size} targets)`)
    assert.equal(ring.pick(input(make('same'))).next().value, ring.pick(input(make('same'))).next().value)
  }
})

test('sticky cookie: set on the first response, honoured after, re-issued when its target is gone', () => {
  const [a, b] = [target(1), target(2)]
  const sticky = createBalancer(options('sticky-cookie'), [a, b])
  const first = sticky.pick(input()).next().value as Target
  const set: string[] = []
  sticky.onResponse?.(input(), first, (_n, v) => set.push(v))
  assert.equal(set.length, 1)
  assert.match(set[0]!, /^tg=[0-9a-z]+; Path=\/; Max-Age=3600; HttpOnly; SameSite=Lax$/)
  const cookie = set[0]!.split(';')[0]!
  for (let i = 0; i < 5; i++) {
    const withCookie = input({ path: `/p${i}`, headers: { cookie } })
    assert.equal(sticky.pick(withCookie).next().value, first)
    const again: string[] = []
    sticky.onResponse?.(withCookie, first, (_n, v) => again.push(v))
    assert.deepEqual(again, [])
  }
  first.enabled = false
  const moved = sticky.pick(input({ headers: { cookie } })).next().value as Target
  assert.notEqual(moved, first)
  const reissued: string[] = []
  sticky.onResponse?.(input({ headers: { cookie } }), moved, (_n, v) => reissued.push(v))
  assert.equal(reissued[0]?.split(';')[0], `tg=${stickyToken(moved)}`)
})

test('sticky tokens are stable and do not reveal the address', () => {
  assert.equal(stickyToken(target(1)), stickyToken(target(1)))
  assert.notEqual(stickyToken(target(1)), stickyToken(target(2)))
  assert.ok(!stickyToken(target(1)).includes('127'))
})
