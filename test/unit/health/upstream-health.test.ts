// One upstream's health without a gateway: its targets' state from checks and traffic,
// one log line and one webhook event per change, reloads that keep or restart the
// probes, and a stop that leaves nothing running.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { Target } from '../../../src/upstream/target.js'
import { UpstreamHealth, type HealthLog } from '../../../src/health/upstream-health.js'
import { compileHealth, type CompiledHealth } from '../../../src/health/config.js'
import { defineHealthCheck, HealthCheckRegistry, type HealthCheckFunction } from '../../../src/health/define.js'
import type { HealthEvent } from '../../../src/health/notifier.js'
import type { UpstreamConfig } from '../../../src/config/schema.js'
import { IssueList } from '../../../src/config/errors.js'
import { startOrigin } from '../../helpers/origin.js'
import { within } from '../../helpers/deadline.js'
import { waitUntil } from '../../helpers/health.js'

interface Logged { level: string, fields: Record<string, unknown>, message: string }

function recordingLog (): { log: HealthLog, lines: Logged[] } {
  const lines: Logged[] = []
  const at = (level: string) => (fields: object, message: string): void => { lines.push({ level, fields: fields as Record<string, unknown>, message }) }
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } }
}

function settings (raw: Pick<UpstreamConfig, 'healthCheck' | 'passive' | 'notify'>, checks: Record<string, HealthCheckFunction> = {}): CompiledHealth {
  const registry = new HealthCheckRegistry()
  for (const [name, fn] of Object.entries(checks)) registry.add(defineHealthCheck(name, fn), 'test')
  const issues = new IssueList()
  const compiled = compileHealth(raw, 'upstreams.u', registry, issues)
  issues.throwIfAny()
  return compiled
}

function targets (...ports: number[]): Target[] {
  return ports.map(port => new Target({ address: { kind: 'tcp', host: '127.0.0.1', port, id: `127.0.0.1:${port}` }, weight: 1, backup: false }))
}

/** A custom check whose answer per target the test sets; counts its calls. */
function switchboard (list: readonly Target[]) {
  const up = new Map(list.map(t => [t.id, true]))
  let calls = 0
  const check: HealthCheckFunction = (target) => { calls++; return up.get(target.address) ?? false }
  return { up, check, calls: () => calls }
}

function start (t: TestContext, list: Target[], compiled: CompiledHealth): { health: UpstreamHealth, lines: Logged[] } {
  const { log, lines } = recordingLog()
  const health = new UpstreamHealth('u', list, null, compiled, log)
  t.after(() => health.stop())
  health.start()
  return { health, lines }
}

const flips = (lines: readonly Logged[]): string[] =>
  lines.filter(l => l.message === 'target health changed').map(l => `${String(l.fields.target)} ${String(l.fields.from)}→${String(l.fields.to)}`)

test('the first results decide, and ready resolves once every target has one; a target down from the outset is the only change logged', async (t) => {
  const list = targets(1, 2, 3)
  const board = switchboard(list)
  board.up.set('127.0.0.1:2', false)
  const { health, lines } = start(t, list, settings({ healthCheck: { type: 'custom', name: 'board', interval: '1s', timeout: '100ms', healthyThreshold: 3, unhealthyThreshold: 3 } }, { board: board.check }))
  await within(health.ready, 2000, 'the first round never completed')
  assert.deepEqual(list.map(t => t.check), ['healthy', 'unhealthy', 'healthy'])
  assert.deepEqual(list.map(t => t.healthy), [true, false, true])
  assert.deepEqual(flips(lines), ['127.0.0.1:2 healthy→unhealthy'])
  const line = lines.find(l => l.message === 'target health changed')
  assert.equal(line?.level, 'warn')
  assert.deepEqual(line?.fields, { upstream: 'u', target: '127.0.0.1:2', from: 'healthy', to: 'unhealthy', reason: 'health check failed: check "board" failed' })
})

test('thresholds: that many results in a row flip a target, each flip logged once, kept on the target with its reason', async (t) => {
  const list = targets(1, 2)
  const board = switchboard(list)
  const { health, lines } = start(t, list, settings({ healthCheck: { type: 'custom', name: 'board', interval: '20ms', timeout: '10ms', healthyThreshold: 2, unhealthyThreshold: 3 } }, { board: board.check }))
  await within(health.ready, 2000, 'the first round never completed')
  const [a] = list as [Target, Target]
  board.up.set(a.id, false)
  await waitUntil(() => !a.healthy, 5000, 'the failing target never became unhealthy')
  assert.equal(a.lastChange?.reason, 'health check failed 3 times in a row: check "board" failed')
  assert.equal(a.lastError, 'health check: check "board" failed')
  const snapshot = a.snapshot()
  assert.equal(snapshot.check, 'unhealthy')
  assert.equal(snapshot.lastChange?.healthy, false)
  assert.ok(snapshot.checkedAt !== null)
  board.up.set(a.id, true)
  await waitUntil(() => a.healthy, 5000, 'the target never came back')
  assert.equal(a.lastChange?.reason, 'health check passed 2 times in a row: check "board" passed')
  assert.deepEqual(flips(lines), ['127.0.0.1:1 healthy→unhealthy', '127.0.0.1:1 unhealthy→healthy'])
  assert.equal(lines.find(l => l.fields.to === 'healthy')?.level, 'info')
})

test('the webhook gets one event per target change, and one when the upstream loses its last healthy target or gets one back', async (t) => {
  const events: HealthEvent[] = []
  const hook = await startOrigin(t, 'hook', { handler: (_req, res, body) => { events.push(JSON.parse(body) as HealthEvent); res.end() } })
  const list = targets(1, 2)
  const board = switchboard(list)
  const { health, lines } = start(t, list, settings({
    healthCheck: { type: 'custom', name: 'board', interval: '20ms', timeout: '10ms' },
    notify: { webhook: `${hook.url}/alerts` }
  }, { board: board.check }))
  await within(health.ready, 2000, 'the first round never completed')
  const [a, b] = list as [Target, Target]
  board.up.set(a.id, false)
  await waitUntil(() => events.length === 1, 5000, 'no event for the first target')
  board.up.set(b.id, false)
  await waitUntil(() => events.length === 3, 5000, () => `events: ${JSON.stringify(events)}`)
  board.up.set(b.id, true)
  await waitUntil(() => events.length === 5, 5000, () => `events: ${JSON.stringify(events)}`)
  const brief = events.map(e => e.type === 'target' ? `${e.target} ${e.to}` : `upstream ${e.to} (${e.healthyTargets})`)
  assert.deepEqual(brief, [
    '127.0.0.1:1 unhealthy',
    '127.0.0.1:2 unhealthy', 'upstream unhealthy (0)',
    '127.0.0.1:2 healthy', 'upstream healthy (1)'
  ])
  const lost = events[2]
  assert.equal(lost?.type === 'upstream' ? lost.reason : '', 'its last healthy target, 127.0.0.1:2, is unhealthy')
  assert.ok(events.every(e => e.upstream === 'u' && !Number.isNaN(Date.parse(e.at))))
  assert.deepEqual(lines.filter(l => l.message.startsWith('upstream has')).map(l => `${l.level} ${l.message}`),
    ['error upstream has no healthy target', 'info upstream has a healthy target again'])
  assert.equal(hook.received.length, 5, 'an event was sent twice')
})

test('an ejected target stays out until its ejection ends, even while its checks pass', async (t) => {
  const list = targets(1)
  const board = switchboard(list)
  const { health, lines } = start(t, list, settings({
    healthCheck: { type: 'custom', name: 'board', interval: '20ms', timeout: '10ms' },
    passive: { consecutiveFailures: 1, ejectFor: '150ms', on: [503] }
  }, { board: board.check }))
  await within(health.ready, 2000, 'the first round never completed')
  const [a] = list as [Target]
  a.outcomes?.attemptEnded(503, null)
  assert.equal(a.healthy, false)
  const checksBefore = board.calls()
  await waitUntil(() => board.calls() >= checksBefore + 3, 5000, 'the checks stopped')
  assert.equal(a.healthy, false, 'a passing check ended the ejection early')
  await waitUntil(() => a.healthy, 5000, 'the ejection never ended')
  assert.deepEqual(flips(lines), ['127.0.0.1:1 healthy→unhealthy', '127.0.0.1:1 unhealthy→healthy'])
  assert.match(String(lines.filter(l => l.message === 'target health changed').at(-1)?.fields.reason), /^ejection over/)
})

test('a reload with the same settings keeps the probes running; a custom check takes the newly imported function', async (t) => {
  const list = targets(1)
  let secondCalled = 0
  const raw = { healthCheck: { type: 'custom' as const, name: 'board', interval: '20ms', timeout: '10ms' } }
  const { health } = start(t, list, settings(raw, { board: () => true }))
  await within(health.ready, 2000, 'the first round never completed')
  health.adopt(settings(raw, { board: () => { secondCalled++; return true } }))
  assert.equal(health.generation, 1, 'the probes were restarted')
  await waitUntil(() => secondCalled > 0, 5000, 'the new function was never called')
})

test('a reload that changes the health settings restarts the probes and keeps each target\'s state', async (t) => {
  const list = targets(1, 2)
  const board = switchboard(list)
  board.up.set('127.0.0.1:2', false)
  const { health, lines } = start(t, list, settings({ healthCheck: { type: 'custom', name: 'board', interval: '1s', timeout: '100ms' } }, { board: board.check }))
  await within(health.ready, 2000, 'the first round never completed')
  const logged = lines.length
  health.adopt(settings({ healthCheck: { type: 'custom', name: 'board', interval: '30ms', timeout: '10ms', healthyThreshold: 2 } }, { board: board.check }))
  assert.equal(health.generation, 2)
  assert.deepEqual(list.map(t => t.healthy), [true, false], 'the restart changed a state')
  const calls = board.calls()
  // The new interval is in force: 30 ms beats, where the old ones were a second apart.
  await waitUntil(() => board.calls() >= calls + 6, 2000, 'the probes did not restart with the new interval')
  assert.equal(lines.length, logged, 'a restart that changed nothing logged something')
})

test('removing the checks on reload brings a target they held out back, logged', async (t) => {
  const list = targets(1)
  const board = switchboard(list)
  board.up.set('127.0.0.1:1', false)
  const { health, lines } = start(t, list, settings({ healthCheck: { type: 'custom', name: 'board', interval: '1s', timeout: '100ms' } }, { board: board.check }))
  await within(health.ready, 2000, 'the first round never completed')
  assert.equal(list[0]?.healthy, false)
  health.adopt(settings({}))
  assert.equal(list[0]?.healthy, true)
  assert.equal(list[0]?.check, null)
  assert.equal(lines.filter(l => l.message === 'target health changed').at(-1)?.fields.reason, 'active health checks removed')
  assert.equal(health.armedTimers, 0)
})

test('stop clears every timer and no check runs after it', async (t) => {
  const list = targets(1, 2, 3)
  const board = switchboard(list)
  const { health } = start(t, list, settings({
    healthCheck: { type: 'custom', name: 'board', interval: '10ms', timeout: '5ms' },
    passive: { consecutiveFailures: 1, ejectFor: '1h' }
  }, { board: board.check }))
  await within(health.ready, 2000, 'the first round never completed')
  assert.equal(health.armedTimers, 3)
  list[0]?.outcomes?.attemptEnded(503, null)
  health.stop()
  assert.equal(health.armedTimers, 0)
  assert.ok(list.every(t => t.outcomes === null), 'traffic still reports to a stopped health')
  const calls = board.calls()
  // Several intervals, for a timer that escaped stop() to fire.
  await new Promise(resolve => setTimeout(resolve, 60))
  assert.equal(board.calls(), calls)
})
