import { test } from 'node:test'
import assert from 'node:assert/strict'
import { entityTags, parseAge, parseDirectives, MAX_DELTA_SECONDS } from '../../../src/cache/directives.js'
import { freshnessOf, keepUntil, mergeNotModified, notModifiedFor, requestDirectives, storeVerdict, varyOf, REVALIDATION_KEEP_MS } from '../../../src/cache/policy.js'

const ROUTE = { ttlMs: 0, staleWhileRevalidateMs: 0, staleIfErrorMs: 0 }
const T = 1_800_000_000_000

test('Cache-Control: quoted field lists may hold commas, names are case-insensitive, the first of a repeated directive wins', () => {
  const d = parseDirectives(['Max-Age=60, private="x-a, X-B"', 'max-age=5, no-cache="x-c"'])
  assert.equal(d.maxAge, 60)
  assert.deepEqual(d.privateFields, ['x-a', 'x-b'])
  assert.equal(d.private, false)
  assert.deepEqual(d.noCacheFields, ['x-c'])
  assert.equal(d.noCache, false)
})

test('Cache-Control: an invalid max-age counts as 0; huge values are held at 2^31', () => {
  assert.equal(parseDirectives('max-age=abc').maxAge, 0)
  assert.equal(parseDirectives('max-age=-1').maxAge, 0)
  assert.equal(parseDirectives('s-maxage=99999999999999').sMaxage, MAX_DELTA_SECONDS)
  assert.equal(parseDirectives('stale-while-revalidate=x').staleWhileRevalidate, null)
  assert.equal(parseDirectives('private="unterminated').private, false)
})

test('Age: the first valid value of a list or of repeated lines', () => {
  assert.equal(parseAge(['x', '-3', '1.5', '12', '40']), 12)
  assert.equal(parseAge('7, 9'), 7)
  assert.equal(parseAge('nope'), null)
  assert.equal(parseAge('340282366920938463463374607431768211456'), MAX_DELTA_SECONDS)
})

test('If-None-Match: tags, weak ones without W/, and *; a long hostile header is read in linear time', () => {
  assert.deepEqual(entityTags('"a", W/"b" ,*'), ['"a"', '"b"', '*'])
  // 200 000 spaces: a backtracking reading would take billions of steps, a linear one a blink.
  const hostile = ' '.repeat(200_000) + 'x'
  const started = performance.now()
  assert.deepEqual(entityTags(hostile), [])
  assert.ok(performance.now() - started < 1_000)
})

test('freshness: s-maxage, then max-age, then Expires minus Date, then the route ttl; CDN-Cache-Control first of all', () => {
  const date = new Date(T).toUTCString()
  const lifetime = (headers: Record<string, string>, ttlMs = 0): number => freshnessOf({ date, ...headers }, T, T, { ...ROUTE, ttlMs }).lifetimeMs
  assert.equal(lifetime({ 'cache-control': 'max-age=10, s-maxage=20' }), 20_000)
  assert.equal(lifetime({ 'cache-control': 'max-age=10', expires: new Date(T + 99_000).toUTCString() }), 10_000)
  assert.equal(lifetime({ expires: new Date(T + 30_000).toUTCString() }), 30_000)
  assert.equal(lifetime({ expires: 'garbage' }, 5_000), 0, 'a malformed Expires is expired, whatever the ttl')
  assert.equal(lifetime({}, 5_000), 5_000)
  assert.equal(lifetime({ 'cdn-cache-control': 'max-age=100', 'cache-control': 'max-age=1' }), 100_000)
  assert.equal(lifetime({ 'cdn-cache-control': ', ,', 'cache-control': 'max-age=1' }), 1_000, 'an empty CDN-Cache-Control is ignored')
})

test('freshness: the corrected initial age takes the larger of Date\'s and Age plus the response delay', () => {
  const f = freshnessOf({ date: new Date(T - 5_000).toUTCString(), age: '2' }, T - 1_000, T, ROUTE)
  assert.equal(f.initialAgeMs, 5_000)
  const g = freshnessOf({ date: new Date(T).toUTCString(), age: '20' }, T - 1_000, T, ROUTE)
  assert.equal(g.initialAgeMs, 21_000)
})

test('storing: each refusal has its reason', () => {
  const verdict = (status: number, headers: Record<string, string>, request: Record<string, string> = {}, lifetimeMs = 60_000): string | null =>
    storeVerdict(status, request, headers, lifetimeMs).refusal
  assert.equal(verdict(200, { 'cache-control': 'max-age=60' }), null)
  assert.equal(verdict(206, { 'cache-control': 'max-age=60' }), 'status')
  assert.equal(verdict(200, { 'cache-control': 'no-store, max-age=60' }), 'no-store')
  assert.equal(verdict(200, { 'cache-control': 'max-age=60' }, { 'cache-control': 'no-store' }), 'no-store')
  assert.equal(verdict(200, { 'cache-control': 'private' }), 'private')
  assert.equal(verdict(200, { 'cache-control': 'max-age=60', 'set-cookie': 'a=b' }), 'set-cookie')
  assert.equal(verdict(200, { 'cache-control': 'max-age=60', vary: 'accept, *' }), 'vary-star')
  assert.equal(verdict(200, { 'cache-control': 'max-age=60' }, { authorization: 'x' }), 'authorization')
  assert.equal(verdict(200, { 'cache-control': 'max-age=60, must-revalidate' }, { authorization: 'x' }), null)
  assert.equal(verdict(200, {}, {}, 0), 'no-freshness')
  assert.equal(verdict(200, { 'cache-control': 'no-cache', etag: '"e"' }, {}, 0), null, 'kept for revalidation')
})

test('a 304 updates every header but the framing ones', () => {
  const merged = mergeNotModified({ 'content-length': '11', etag: '"a"', 'x-v': '1' }, { 'content-length': '0', 'x-v': '2', connection: 'close' })
  assert.deepEqual(merged, { 'content-length': '11', etag: '"a"', 'x-v': '2' })
})

test('kept past staleness: the stale windows, a day with a validator, as long again as it was fresh (at least a minute) without', () => {
  const base = { date: new Date(T).toUTCString(), 'cache-control': 'max-age=10' }
  assert.equal(keepUntil(freshnessOf(base, T, T, ROUTE)), T + 10_000 + 60_000)
  assert.equal(keepUntil(freshnessOf({ ...base, 'cache-control': 'max-age=600' }, T, T, ROUTE)), T + 1_200_000)
  assert.equal(keepUntil(freshnessOf({ ...base, etag: '"e"' }, T, T, ROUTE)), T + 10_000 + REVALIDATION_KEEP_MS)
  assert.equal(keepUntil(freshnessOf(base, T, T, { ...ROUTE, staleIfErrorMs: 600_000 })), T + 610_000)
})

test('a client\'s conditionals: If-None-Match wins over If-Modified-Since', () => {
  const f = freshnessOf({ etag: '"e"', 'last-modified': new Date(T - 60_000).toUTCString() }, T, T, ROUTE)
  assert.equal(notModifiedFor({ 'if-none-match': '"x"', 'if-modified-since': new Date(T).toUTCString() }, f, 200), false)
  assert.equal(notModifiedFor({ 'if-modified-since': new Date(T).toUTCString() }, f, 200), true)
  assert.equal(notModifiedFor({ 'if-none-match': '*' }, f, 200), true)
  assert.equal(notModifiedFor({ 'if-none-match': '"e"' }, f, 404), false)
})

test('request directives: no-cache, Pragma only without Cache-Control, max-age=0', () => {
  assert.equal(requestDirectives({ pragma: 'no-cache' }).revalidate, true)
  assert.equal(requestDirectives({ pragma: 'no-cache', 'cache-control': 'max-age=5' }).revalidate, false)
  assert.equal(requestDirectives({ 'cache-control': 'max-age=0' }).revalidate, true)
  assert.equal(requestDirectives({ 'cache-control': 'only-if-cached' }).onlyIfCached, true)
})

test('Vary names are lower-cased and sorted; * stands alone', () => {
  assert.deepEqual(varyOf('Accept-Encoding, accept'), ['accept', 'accept-encoding'])
  assert.equal(varyOf(['accept', '*']), '*')
  assert.equal(varyOf(''), null)
})

test('a malformed CDN-Cache-Control is ignored: Cache-Control governs (RFC 9213 §2.1)', () => {
  const date = new Date(T).toUTCString()
  assert.equal(freshnessOf({ date, 'cdn-cache-control': 'max-age="abc', 'cache-control': 'max-age=60' }, T, T, ROUTE).lifetimeMs, 60_000)
  assert.equal(freshnessOf({ date, 'cdn-cache-control': 'max-age=soon', 'cache-control': 'max-age=60' }, T, T, ROUTE).lifetimeMs, 60_000)
  assert.equal(freshnessOf({ date, 'cdn-cache-control': 'max-age=5', 'cache-control': 'max-age=60' }, T, T, ROUTE).lifetimeMs, 5_000)
})
