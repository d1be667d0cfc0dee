import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseDuration, parseSize, formatDuration, MAX_DURATION_MS } from '../../../src/config/units.js'

test('durations parse from ms, s, m, h and plain milliseconds', () => {
  assert.equal(parseDuration('500ms'), 500)
  assert.equal(parseDuration('2s'), 2000)
  assert.equal(parseDuration('1.5s'), 1500)
  assert.equal(parseDuration('1m'), 60_000)
  assert.equal(parseDuration('1h'), 3_600_000)
  assert.equal(parseDuration(250), 250)
})

test('sizes parse from b, kb, mb, gb in any case and plain bytes', () => {
  assert.equal(parseSize('100b'), 100)
  assert.equal(parseSize('64kb'), 65_536)
  assert.equal(parseSize('10MB'), 10 * 1024 * 1024)
  assert.equal(parseSize(42), 42)
})

test('a malformed duration or size is refused with the value in the message', () => {
  assert.throws(() => parseDuration('fast'), /"fast" is not a duration/)
  assert.throws(() => parseSize('1 ton'), /"1 ton" is not a size/)
})

test('durations format back to their shortest exact spelling', () => {
  assert.equal(formatDuration(100), '100ms')
  assert.equal(formatDuration(30_000), '30s')
  assert.equal(formatDuration(120_000), '2m')
})

test('a duration longer than a Node timer can wait (2^31 - 1 ms) is refused, naming the limit', () => {
  assert.equal(MAX_DURATION_MS, 2 ** 31 - 1)
  assert.equal(parseDuration(2_147_483_647), 2_147_483_647)
  assert.equal(parseDuration('596h'), 2_145_600_000)
  assert.throws(() => parseDuration('600h'), /^Error: "600h" is longer than 2147483647 ms \(about 24\.8 days\)/)
  assert.throws(() => parseDuration('2147483.648s'), /is longer than 2147483647 ms/)
  assert.throws(() => parseDuration(2_147_483_648), /^Error: 2147483648 is longer than 2147483647 ms/)
})
