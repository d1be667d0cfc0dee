import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RAW_KEY_MAX_LENGTH, REMEMBERED_FOR_MS, REMEMBERED_TOKENS, VerifiedTokens, rememberedKey } from '../../../src/auth/verified-tokens.js'

const T0 = 1_800_000_000_000

test('a verified token is remembered for REMEMBERED_FOR_MS, then forgotten', () => {
  const tokens = new VerifiedTokens(0)
  tokens.remember('t', { sub: 'u1' }, T0)
  assert.equal(tokens.get('t', T0 + 1)?.sub, 'u1')
  assert.equal(tokens.get('t', T0 + REMEMBERED_FOR_MS - 1)?.sub, 'u1')
  assert.equal(tokens.get('t', T0 + REMEMBERED_FOR_MS), undefined)
  assert.equal(tokens.size, 0, 'an expired entry is dropped when found')
  assert.equal(tokens.get('other', T0), undefined)
})

test('a remembered token is never used past its exp (plus the clock tolerance)', () => {
  const exp = (T0 + 5_000) / 1000
  const strict = new VerifiedTokens(0)
  strict.remember('t', { exp }, T0)
  assert.ok(strict.get('t', T0 + 4_999) !== undefined)
  assert.equal(strict.get('t', T0 + 5_000), undefined)
  const lenient = new VerifiedTokens(2_000)
  lenient.remember('t', { exp }, T0)
  assert.ok(lenient.get('t', T0 + 6_999) !== undefined)
  assert.equal(lenient.get('t', T0 + 7_000), undefined)
  const expired = new VerifiedTokens(0)
  expired.remember('t', { exp: T0 / 1000 - 1 }, T0)
  assert.equal(expired.size, 0, 'a token already past exp is not remembered')
})

test('at most REMEMBERED_TOKENS are remembered; the oldest goes first', () => {
  const tokens = new VerifiedTokens(0)
  for (let n = 0; n <= REMEMBERED_TOKENS; n++) tokens.remember(`t${n}`, { n }, T0)
  assert.equal(tokens.size, REMEMBERED_TOKENS)
  assert.equal(tokens.get('t0', T0), undefined)
  assert.equal(tokens.get('t1', T0)?.n, 1)
  assert.equal(tokens.get(`t${REMEMBERED_TOKENS}`, T0)?.n, REMEMBERED_TOKENS)
})

test('the key of a short token is the token; a long one is a hash no header value can spell', () => {
  assert.equal(rememberedKey('a.b.c'), 'a.b.c')
  const long = 'a'.repeat(RAW_KEY_MAX_LENGTH + 1)
  const key = rememberedKey(long)
  assert.ok(key.startsWith('\n') && key.length < 100, key)
  assert.notEqual(rememberedKey(long + 'b'), key)
})
