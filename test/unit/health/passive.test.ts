// Passive ejection, fed the way attempts end (src/upstream/attempt.ts calls it with the
// response status and the error the attempt failed with, real error classes included).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { errors as undiciErrors } from 'undici'
import { Target } from '../../../src/upstream/target.js'
import { RetryableStatusError } from '../../../src/upstream/attempt.js'
import { PassiveEjection, type CompiledPassive } from '../../../src/health/passive.js'
import { within } from '../../helpers/deadline.js'

const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })

function setup (overrides: Partial<CompiledPassive> = {}) {
  const target = new Target({ address: { kind: 'tcp', host: '127.0.0.1', port: 1, id: '127.0.0.1:1' }, weight: 1, backup: false })
  const events: string[] = []
  let onReturn: () => void = () => undefined
  const settings: CompiledPassive = { consecutiveFailures: 3, ejectForMs: 100, onConnectError: true, onTimeout: false, statuses: new Set([502, 503]), ...overrides }
  const ejection = new PassiveEjection(target, settings, {
    ejected: (t, reason) => { events.push(`ejected ${t.id}: ${reason}`) },
    returned: (t, reason) => { events.push(`returned ${t.id}: ${reason}`); onReturn() }
  })
  const returned = async (): Promise<void> => await new Promise<void>(resolve => { onReturn = resolve })
  return { target, events, ejection, returned }
}

test('consecutiveFailures failures in a row eject the target for ejectFor, with the last failure as the reason', async (t) => {
  const { target, events, ejection, returned } = setup()
  t.after(() => ejection.stop())
  ejection.attemptEnded(503, null)
  ejection.attemptEnded(0, new RetryableStatusError(502))
  assert.equal(target.ejectedUntil, 0)
  const before = Date.now()
  ejection.attemptEnded(0, refused())
  assert.ok(target.ejectedUntil >= before + 100 && target.ejectedUntil <= Date.now() + 100)
  assert.deepEqual(events, ['ejected 127.0.0.1:1: ejected for 100ms after 3 failed requests in a row (last: connect ECONNREFUSED 127.0.0.1:1)'])
  const back = returned()
  // Attempts that were under way when it was ejected say nothing new.
  for (let i = 0; i < 5; i++) ejection.attemptEnded(0, refused())
  assert.equal(events.length, 1)
  await within(back, 2000, 'the ejection did not end')
  assert.equal(target.ejectedUntil, 0)
  assert.deepEqual(events.slice(1), ['returned 127.0.0.1:1: ejection over: taking traffic again'])
})

test('back from ejection, a target that still fails is ejected again after a fresh count', async (t) => {
  const { events, ejection, returned } = setup({ consecutiveFailures: 2, ejectForMs: 30 })
  t.after(() => ejection.stop())
  ejection.attemptEnded(503, null)
  ejection.attemptEnded(503, null)
  await within(returned(), 2000, 'the ejection did not end')
  ejection.attemptEnded(503, null)
  assert.equal(events.length, 2, 'one failure after the return ejected it: the count did not start again')
  ejection.attemptEnded(503, null)
  assert.match(events[2] ?? '', /^ejected .*after 2 failed requests in a row \(last: status 503\)$/)
})

test('a success resets the count; so does a status `on` does not list', (t) => {
  const { target, ejection } = setup()
  t.after(() => ejection.stop())
  for (const success of [200, 500, 404]) {
    ejection.attemptEnded(0, refused())
    ejection.attemptEnded(503, null)
    ejection.attemptEnded(success, null)
  }
  ejection.attemptEnded(0, refused())
  ejection.attemptEnded(0, new RetryableStatusError(500))
  ejection.attemptEnded(503, null)
  assert.equal(target.ejectedUntil, 0)
})

test('only the failures `on` lists count: timeouts here are neither failures nor successes', (t) => {
  const { target, ejection } = setup({ consecutiveFailures: 2 })
  t.after(() => ejection.stop())
  ejection.attemptEnded(0, refused())
  ejection.attemptEnded(0, new undiciErrors.HeadersTimeoutError())
  ejection.attemptEnded(0, new undiciErrors.BodyTimeoutError())
  assert.equal(target.ejectedUntil, 0, 'a timeout counted although `on` does not list it')
  ejection.attemptEnded(0, refused())
  assert.notEqual(target.ejectedUntil, 0, 'the timeouts reset the count')
})

test('with `timeout` listed, response and body timeouts count, and connect timeouts count under either', (t) => {
  for (const [overrides, error] of [
    [{ onConnectError: false, onTimeout: true }, new undiciErrors.HeadersTimeoutError()],
    [{ onConnectError: false, onTimeout: true }, new undiciErrors.BodyTimeoutError()],
    [{ onConnectError: false, onTimeout: true }, new undiciErrors.ConnectTimeoutError()],
    [{ onConnectError: true, onTimeout: false }, new undiciErrors.ConnectTimeoutError()]
  ] as const) {
    const { target, ejection } = setup({ consecutiveFailures: 1, ...overrides })
    t.after(() => ejection.stop())
    ejection.attemptEnded(0, error)
    assert.notEqual(target.ejectedUntil, 0, `${error.name} did not count with ${JSON.stringify(overrides)}`)
  }
})

test('a request the client abandoned counts for nothing', (t) => {
  const { target, ejection } = setup({ consecutiveFailures: 2 })
  t.after(() => ejection.stop())
  ejection.attemptEnded(0, refused())
  for (let i = 0; i < 5; i++) ejection.attemptEnded(0, new undiciErrors.RequestAbortedError())
  assert.equal(target.ejectedUntil, 0)
  ejection.attemptEnded(0, refused())
  assert.notEqual(target.ejectedUntil, 0, 'the aborted requests reset the count')
})

test('an ejection begun before a reload ends when it was due to, under the new settings', async (t) => {
  const { target, events, ejection, returned } = setup({ ejectForMs: 60_000 })
  t.after(() => ejection.stop())
  target.ejectedUntil = Date.now() + 50
  const back = returned()
  ejection.resume(Date.now())
  await within(back, 2000, 'the ejection taken over did not end')
  assert.equal(target.ejectedUntil, 0)
  assert.equal(events.length, 1)
})

test('stop clears the ejection timer: the target stays as it is, and nothing is reported after', async () => {
  const { target, events, ejection } = setup({ consecutiveFailures: 1, ejectForMs: 20 })
  ejection.attemptEnded(0, refused())
  ejection.stop()
  // Twice ejectFor, for a timer that escaped stop() to fire.
  await new Promise(resolve => setTimeout(resolve, 60))
  assert.equal(events.length, 1)
  assert.notEqual(target.ejectedUntil, 0)
})
