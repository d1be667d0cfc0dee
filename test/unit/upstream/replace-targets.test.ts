// Replacing an upstream's target set without a gateway: who stays keeps its state, who
// leaves is out of rotation at once, the balancer sees only whole sets, and an empty set
// is refused.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { compileGateway } from '../../../src/config/compile.js'
import { Upstream } from '../../../src/upstream/upstream.js'
import type { Target, TargetSpec } from '../../../src/upstream/target.js'
import type { UpstreamConfig } from '../../../src/config/schema.js'
import type { HealthLog } from '../../../src/health/upstream-health.js'
import { waitUntil } from '../../helpers/health.js'
import { within } from '../../helpers/deadline.js'

const quiet: HealthLog = { info: () => undefined, warn: () => undefined, error: () => undefined }

function build (t: TestContext, config: UpstreamConfig): Upstream {
  const compiled = compileGateway({ upstreams: { u: config } }, { baseDir: process.cwd() }).upstreams.get('u')
  assert.ok(compiled !== undefined)
  const upstream = new Upstream(compiled, { onConnection: () => undefined }, quiet)
  upstream.start()
  t.after(async () => await upstream.close())
  return upstream
}

function spec (port: number, weight = 1): TargetSpec {
  return { address: { kind: 'tcp', host: '127.0.0.1', port, id: `127.0.0.1:${port}` }, weight, backup: false }
}

const input = { ip: '127.0.0.1', path: '/', query: '', headers: {} }

function picks (upstream: Upstream, n: number): string[] {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const first = upstream.pick(input).next()
    out.push(first.done === true ? 'none' : first.value.id)
  }
  return out
}

test('a target that stays keeps its object and state; a new one joins, a removed one leaves rotation', (t) => {
  const upstream = build(t, { targets: ['127.0.0.1:1', '127.0.0.1:2'] })
  const stays = upstream.targets.find(target => target.id === '127.0.0.1:2') as Target
  stays.inflight = 3
  stays.lastError = 'kept'
  const change = upstream.replaceTargets([spec(2, 2), spec(3)], 'static')
  assert.deepEqual(change, { applied: true, added: ['127.0.0.1:3'], kept: ['127.0.0.1:2'], removed: ['127.0.0.1:1'] })
  assert.deepEqual(upstream.targets.map(target => target.id), ['127.0.0.1:2', '127.0.0.1:3'])
  assert.equal(upstream.targets[0], stays)
  assert.equal(stays.inflight, 3)
  assert.equal(stays.lastError, 'kept')
  assert.equal(stays.weight, 2)
  assert.deepEqual(picks(upstream, 3).sort(), ['127.0.0.1:2', '127.0.0.1:2', '127.0.0.1:3'])
})

test('an iteration begun before the change never yields a removed target', (t) => {
  const upstream = build(t, { targets: ['127.0.0.1:1', '127.0.0.1:2'] })
  const before = upstream.pick(input)
  upstream.replaceTargets([spec(3)], 'static')
  const seen: string[] = []
  for (let next = before.next(); next.done !== true; next = before.next()) seen.push(next.value.id)
  assert.deepEqual(seen, [])
  assert.deepEqual(picks(upstream, 2), ['127.0.0.1:3', '127.0.0.1:3'])
})

test('discovered targets join the static ones; a target listed by both counts once, as static', (t) => {
  const upstream = build(t, { targets: ['127.0.0.1:1'] })
  const change = upstream.replaceTargets([spec(1), spec(4)], 'discovery')
  assert.equal(change.applied, true)
  assert.deepEqual(upstream.snapshot().targets.map(target => `${target.address} ${target.source}`), ['127.0.0.1:1 static', '127.0.0.1:4 discovery'])
})

test('an empty set is refused and the last good set kept', (t) => {
  const upstream = build(t, { targets: ['127.0.0.1:1'] })
  upstream.replaceTargets([spec(5)], 'discovery')
  const change = upstream.replaceTargets([], 'discovery')
  assert.deepEqual(change, { applied: false, reason: 'discovery gave an empty target set' })
  assert.deepEqual(upstream.targets.map(target => target.id), ['127.0.0.1:1', '127.0.0.1:5'])
})

test('health checks follow the set: a target that stays keeps its verdict, a new one is checked', async (t) => {
  const upstream = build(t, { targets: ['127.0.0.1:1'], healthCheck: { type: 'tcp', interval: 50, timeout: 50 } })
  // The probe timers do not hold the process open: the deadline's timer does.
  await within(upstream.health.ready, 2000, 'the first check never ended')
  const first = upstream.targets[0] as Target
  assert.equal(first.check, 'unhealthy')
  const generation = upstream.health.generation
  upstream.replaceTargets([spec(1), spec(2)], 'static')
  assert.equal(upstream.targets[0], first)
  assert.equal(first.check, 'unhealthy')
  assert.equal(first.healthy, false)
  const added = upstream.targets[1] as Target
  assert.equal(added.check, 'unknown')
  await waitUntil(() => added.check === 'unhealthy', 2000, 'the new target is never checked')
  assert.ok(upstream.health.generation > generation)
  assert.equal(upstream.health.armedTimers, 2)
})

test('the same set again changes nothing: the rotation and the health checks run on', async (t) => {
  const upstream = build(t, { targets: ['127.0.0.1:1', '127.0.0.1:2'], healthCheck: { type: 'tcp', interval: '1h', timeout: 50 } })
  upstream.replaceTargets([spec(3)], 'discovery')
  const generation = upstream.health.generation
  assert.deepEqual(picks(upstream, 1), ['127.0.0.1:1'])
  const change = upstream.replaceTargets([spec(3)], 'discovery')
  assert.deepEqual(change, { applied: true, added: [], kept: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'], removed: [] })
  assert.equal(upstream.health.generation, generation)
  assert.deepEqual(picks(upstream, 2), ['127.0.0.1:2', '127.0.0.1:3'])
  upstream.replaceTargets([spec(3, 5)], 'discovery')
  assert.equal(upstream.health.generation, generation + 1, 'a new weight is a new set')
})
