import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FixedWindowCounter, SlidingWindowLog } from '../../../src/limits/windows.js'

test('fixed window: counts every hit of a window, refused ones too', () => {
  const counter = new FixedWindowCounter()
  const counts = [0, 10, 20, 30, 40, 50, 60].map(now => counter.hit(now, 1000).current)
  assert.deepEqual(counts, [1, 2, 3, 4, 5, 6, 7])
})

test('fixed window: the window begins at the first hit and its ttl counts down to its end', () => {
  const counter = new FixedWindowCounter()
  assert.deepEqual(counter.hit(5000, 1000), { current: 1, ttl: 1000 })
  assert.deepEqual(counter.hit(5400, 1000), { current: 2, ttl: 600 })
  assert.deepEqual(counter.hit(5999.5, 1000), { current: 3, ttl: 1 })
})

test('fixed window: the first hit at or after the end begins a new window', () => {
  const counter = new FixedWindowCounter()
  counter.hit(0, 1000)
  counter.hit(500, 1000)
  assert.deepEqual(counter.hit(1000, 1000), { current: 1, ttl: 1000 })
  assert.equal(counter.expiresAt, 2000)
})

test('fixed window: a burst across its boundary passes twice the limit in a moment (why sliding exists)', () => {
  const counter = new FixedWindowCounter()
  counter.hit(0, 1000)
  const passed = [990, 992, 994, 996, 1000, 1002, 1004, 1006, 1008].filter(now => counter.hit(now, 1000).current <= 5)
  assert.equal(passed.length, 9)
})

test('sliding window: passes the limit, then refuses with current above it', () => {
  const log = new SlidingWindowLog(3)
  const counts = [0, 1, 2, 3, 4].map(now => log.hit(now, 1000, 3).current)
  assert.deepEqual(counts, [1, 2, 3, 4, 4])
})

test('sliding window: ttl is the time until the oldest passed hit leaves the window', () => {
  const log = new SlidingWindowLog(2)
  log.hit(100, 1000, 2)
  log.hit(300, 1000, 2)
  assert.deepEqual(log.hit(600, 1000, 2), { current: 3, ttl: 500 })
})

test('sliding window: a hit passes again exactly when the oldest passed hit leaves the window', () => {
  const log = new SlidingWindowLog(2)
  log.hit(0, 1000, 2)
  log.hit(400, 1000, 2)
  assert.equal(log.hit(999, 1000, 2).current, 3)
  assert.equal(log.hit(1000, 1000, 2).current, 2)
  assert.equal(log.hit(1001, 1000, 2).current, 3)
  assert.equal(log.hit(1400, 1000, 2).current, 2)
})

test('sliding window: refused hits are not recorded', () => {
  const log = new SlidingWindowLog(1)
  log.hit(0, 1000, 1)
  for (let now = 100; now < 1000; now += 100) assert.equal(log.hit(now, 1000, 1).current, 2)
  assert.equal(log.hit(1000, 1000, 1).current, 1, 'the refused hits did not extend the window')
})

test('sliding window: no span of the window ever holds more than the limit, whatever the traffic', () => {
  const limit = 5
  const log = new SlidingWindowLog(limit)
  const passed: number[] = []
  // A boundary burst, then irregular traffic: hits every 7 ms for 3 s.
  for (let now = 0; now < 3000; now += 7) if (log.hit(now, 1000, limit).current <= limit) passed.push(now)
  for (let i = 0; i + limit < passed.length; i++) {
    assert.ok((passed[i + limit] as number) - (passed[i] as number) >= 1000, `hits ${i}..${i + limit} passed within a second`)
  }
  assert.equal(passed.length, 15, 'and it passes the limit in every window')
})

test('sliding window: holds as many times as the limit needs, growing past its first size', () => {
  const log = new SlidingWindowLog(100)
  for (let now = 0; now < 100; now++) assert.equal(log.hit(now, 1000, 100).current, now + 1)
  assert.equal(log.hit(100, 1000, 100).current, 101)
  assert.equal(log.length, 100)
})

test('sliding window: a larger limit after a reload is honoured with the hits already recorded', () => {
  const log = new SlidingWindowLog(2)
  log.hit(0, 1000, 2)
  log.hit(1, 1000, 2)
  assert.equal(log.hit(2, 1000, 2).current, 3)
  assert.equal(log.hit(3, 1000, 20).current, 3)
  assert.equal(log.length, 3)
})

test('sliding window: expiresAt is when the newest passed hit leaves the window', () => {
  const log = new SlidingWindowLog(2)
  log.hit(0, 1000, 2)
  log.hit(300, 1000, 2)
  log.hit(600, 1000, 2)
  assert.equal(log.expiresAt, 1300)
})

test('ttl never exceeds the window, whatever the clock reads (no rounding past it)', () => {
  // 127694.3369771657 + 10000 - 127694.3369771657 is a hair above 10000 in floating point:
  // rounded up, ratelimit-reset would read 11 s for a 10 s window.
  const now = 127694.3369771657
  assert.equal(new FixedWindowCounter().hit(now, 10_000).ttl, 10_000)
  assert.equal(new SlidingWindowLog(5).hit(now, 10_000, 5).ttl, 10_000)
})
