import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_SLOT_MS, ProbeScheduler, probeOffsets } from '../../../src/health/schedule.js'
import { within } from '../../helpers/deadline.js'

/** A repeatable stand-in for Math.random: the same sequence every run. */
function seeded (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

test('100 targets are first probed in 100 different milliseconds, in order, all within the first interval', () => {
  for (const random of [seeded(1), seeded(42), () => 0, () => 0.999999]) {
    const offsets = probeOffsets(100, 5000, random)
    assert.equal(offsets.length, 100)
    assert.ok(offsets.every(Number.isInteger))
    assert.equal(new Set(offsets).size, 100, 'two targets share a millisecond')
    for (let i = 1; i < offsets.length; i++) assert.ok((offsets[i] as number) > (offsets[i - 1] as number))
    assert.ok((offsets[99] as number) < 100 * MAX_SLOT_MS, 'the first probes are spread wider than needed')
  }
})

test('a short interval still gives every target its own millisecond while it can, and stays within it', () => {
  const offsets = probeOffsets(100, 200, seeded(7))
  assert.equal(new Set(offsets).size, 100)
  assert.ok(offsets.every(o => o >= 0 && o < 200))
})

test('the point within each slot is random: two gateways do not probe a target in step', () => {
  const a = probeOffsets(20, 5000, seeded(1))
  const b = probeOffsets(20, 5000, seeded(2))
  assert.notDeepEqual(a, b)
})

/** A promise and the function that resolves it, for a callback to announce a state. */
function signal (): { promise: Promise<void>, fire: () => void } {
  let fire!: () => void
  const promise = new Promise<void>(resolve => { fire = resolve })
  return { promise, fire }
}

test('each target is probed once per interval, side by side with the others', async (t) => {
  const starts: number[][] = [[], [], []]
  const enough = signal()
  let active = 0
  let overlapped = false
  const scheduler = new ProbeScheduler({
    count: 3,
    intervalMs: 150,
    probe: async (index) => {
      starts[index]?.push(performance.now())
      if (starts.every(s => s.length >= 3)) enough.fire()
      active++
      if (active > 1) overlapped = true
      // Every probe is slow: the others' beats come while it runs.
      await new Promise(resolve => setTimeout(resolve, 50))
      active--
    },
    // On a loaded machine a probe may outlive its interval: that beat is skipped, as it should be.
    skipped: () => undefined
  })
  t.after(() => scheduler.stop())
  const startedAt = performance.now()
  scheduler.start()
  await within(enough.promise, 5000, () => `probes so far: ${starts.map(s => s.length).join(', ')}`)
  scheduler.stop()
  assert.ok(overlapped, 'the probes of one upstream ran one after another')
  // Target i's slot is [10 i, 10 i + 10) ms (3 targets, 150 ms: slots of 10 ms); probe k is
  // due one interval after probe k - 1 was due, whenever that one actually ran. Timers run
  // late on a busy machine, and up to a few milliseconds early against performance.now()
  // (libuv arms them from the time its loop turn began).
  starts.forEach((beats, i) => {
    beats.forEach((at, k) => {
      assert.ok(at - startedAt >= i * 10 + k * 150 - 5, `target ${i}: probes at ${beats.map(b => Math.round(b - startedAt)).join(', ')} ms`)
    })
  })
})

test('a probe still running when its next beat comes is not started again', async (t) => {
  let started = 0
  let skipped = 0
  const skippedThrice = signal()
  const startedTwice = signal()
  const first = signal()
  const scheduler = new ProbeScheduler({
    count: 1,
    intervalMs: 20,
    probe: async () => {
      if (++started === 2) startedTwice.fire()
      if (started === 1) await first.promise
    },
    skipped: () => { if (++skipped === 3) skippedThrice.fire() }
  })
  t.after(() => { first.fire(); scheduler.stop() })
  scheduler.start()
  await within(skippedThrice.promise, 5000, 'no beat was skipped')
  assert.equal(started, 1)
  assert.equal(scheduler.isRunning(0), true)
  first.fire()
  await within(startedTwice.promise, 5000, 'the probe did not run again once the first one settled')
})

test('stop clears every timer, and no probe starts after it', async () => {
  let started = 0
  const scheduler = new ProbeScheduler({ count: 50, intervalMs: 10, probe: async () => { started++ }, skipped: () => undefined })
  scheduler.start()
  assert.equal(scheduler.armed, 50)
  scheduler.stop()
  assert.equal(scheduler.armed, 0)
  const before = started
  // One interval and more for a timer that escaped stop() to fire.
  await new Promise(resolve => setTimeout(resolve, 50))
  assert.equal(started, before)
})
