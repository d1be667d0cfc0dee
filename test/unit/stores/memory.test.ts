import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryCounterStore } from '../../../src/stores/memory.js'

function clock (start = 0): { now: () => number, set: (ms: number) => void } {
  let time = start
  return { now: () => time, set: (ms) => { time = ms } }
}

test('memory store: holds no more than maxKeys keys, however many clients come', () => {
  const store = new MemoryCounterStore({ maxKeys: 100 })
  for (let i = 0; i < 10_000; i++) store.fixedWindow(`k${i}`, 60_000)
  for (let i = 0; i < 10_000; i++) store.slidingWindow(`s${i}`, 60_000, 10)
  assert.ok(store.size <= 100, `${store.size} keys`)
})

test('memory store: when full, expired keys go first and live ones keep their counts', () => {
  const time = clock()
  const store = new MemoryCounterStore({ maxKeys: 10, now: time.now })
  for (let i = 0; i < 5; i++) store.fixedWindow(`short${i}`, 10)
  for (let i = 0; i < 5; i++) store.fixedWindow(`long${i}`, 60_000)
  time.set(100)
  store.fixedWindow('new', 60_000)
  assert.equal(store.size, 6, 'the five expired keys were dropped')
  for (let i = 0; i < 5; i++) assert.equal(store.fixedWindow(`long${i}`, 60_000).current, 2)
})

test('memory store: when every key is live, the oldest windows make room and the newest keep their counts', () => {
  const time = clock()
  const store = new MemoryCounterStore({ maxKeys: 10, now: time.now })
  for (let i = 0; i < 10; i++) {
    time.set(i)
    store.fixedWindow(`k${i}`, 60_000)
  }
  store.fixedWindow('k10', 60_000)
  assert.equal(store.size, 10)
  assert.equal(store.fixedWindow('k9', 60_000).current, 2, 'a recent key kept its count')
  assert.equal(store.fixedWindow('k0', 60_000).current, 1, 'the oldest key was dropped and starts again')
})

test('memory store: a key whose window starts again counts as new for eviction', () => {
  const time = clock()
  const store = new MemoryCounterStore({ maxKeys: 10, now: time.now })
  store.fixedWindow('old', 100)
  for (let i = 1; i < 10; i++) store.fixedWindow(`k${i}`, 60_000)
  time.set(200)
  store.fixedWindow('old', 100_000)
  store.fixedWindow('new', 60_000)
  assert.equal(store.fixedWindow('old', 100_000).current, 2, 'its new window outlived older ones')
})

test('memory store: keeps no timer, whatever the number of keys', () => {
  const timers = (): number => process.getActiveResourcesInfo().filter(name => name === 'Timeout').length
  const before = timers()
  const store = new MemoryCounterStore()
  for (let i = 0; i < 10_000; i++) {
    store.fixedWindow(`f${i}`, 1000)
    store.slidingWindow(`s${i}`, 1000, 5)
  }
  assert.equal(timers(), before)
})

test('memory store: answers at once, without a promise', () => {
  const store = new MemoryCounterStore()
  const fixed = store.fixedWindow('a', 1000)
  const sliding = store.slidingWindow('b', 1000, 1)
  assert.ok(!(fixed instanceof Promise) && fixed.current === 1)
  assert.ok(!(sliding instanceof Promise) && sliding.current === 1)
})
