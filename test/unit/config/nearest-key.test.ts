import { test } from 'node:test'
import assert from 'node:assert/strict'
import { editDistance, nearestKey } from '../../../src/config/nearest-key.js'

test('a key one edit away from a known key is suggested: a letter missing, extra, wrong or two swapped', () => {
  assert.equal(nearestKey('timeout', ['name', 'timeouts', 'retries']), 'timeouts')
  assert.equal(nearestKey('balancr', ['balancer', 'backup']), 'balancer')
  assert.equal(nearestKey('helthCheck', ['healthCheck', 'passive']), 'healthCheck')
  assert.equal(nearestKey('prot', ['host', 'port']), 'port')
})

test('letter case and - or _ separators do not count against a suggestion', () => {
  assert.equal(nearestKey('TrustProxy', ['trustProxy', 'workers']), 'trustProxy')
  assert.equal(nearestKey('trust_proxy', ['trustProxy', 'workers']), 'trustProxy')
  assert.equal(nearestKey('gracefull-shutdown', ['gracefulShutdown']), 'gracefulShutdown')
})

test('a key far from every known key gets no suggestion', () => {
  assert.equal(nearestKey('colour', ['listen', 'workers', 'trustProxy', 'logLevel']), undefined)
  // Two edits in a four-letter key is another word, not a slip.
  assert.equal(nearestKey('hoxt', ['path']), undefined)
  assert.equal(nearestKey('x', []), undefined)
})

test('longer keys allow more edits, up to three', () => {
  assert.equal(nearestKey('healtChek', ['healthCheck']), 'healthCheck')
  assert.equal(nearestKey('underscoresInHeadrs', ['underscoresInHeaders']), 'underscoresInHeaders')
  assert.equal(nearestKey('underscoreInHead', ['underscoresInHeaders']), undefined)
})

test('the nearest of several candidates wins', () => {
  assert.equal(nearestKey('trustProxi', ['trustProxies', 'trustProxy']), 'trustProxy')
})

test('edit distance counts a swap of neighbours as one edit', () => {
  assert.equal(editDistance('ab', 'ba'), 1)
  assert.equal(editDistance('kitten', 'sitting'), 3)
  assert.equal(editDistance('', 'abc'), 3)
  assert.equal(editDistance('same', 'same'), 0)
})
