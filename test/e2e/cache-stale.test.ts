/**
 * Stale serving: stale-while-revalidate (a stale copy at once, one background refresh) and
 * stale-if-error (a stale copy instead of an upstream failure), from the route's settings
 * and from the origin's directives.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cacheLab } from '../helpers/cache.js'
import { eventually, within } from '../helpers/deadline.js'

test('stale-while-revalidate: the stale copy is served at once, one background fetch refreshes it, the next request sees the new version (L47)', async (t) => {
  let version = 1
  const lab = await cacheLab(t, (_req, res) => {
    const answer = `v${version}`
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'max-age=10' })
      res.end(answer)
    }, version === 1 ? 0 : 1_000)
  }, { cache: { staleWhileRevalidate: '30s' } })
  await lab.send('/c/x')
  version = 2
  lab.advance(15_000)
  const started = performance.now()
  const stale = await lab.send('/c/x')
  const ms = performance.now() - started
  assert.deepEqual([stale.headers['x-cache-status'], stale.text], ['STALE', 'v1'])
  assert.ok(ms < 500, `the stale copy took ${ms.toFixed(0)} ms (the origin takes 1 s)`)
  const during = await lab.send('/c/x')
  assert.deepEqual([during.headers['x-cache-status'], during.text], ['UPDATING', 'v1'])
  await eventually(() => lab.gw.gateway.httpCache.refreshing.size === 0, 5_000, 'the background refresh did not end')
  const fresh = await lab.send('/c/x')
  assert.deepEqual([fresh.headers['x-cache-status'], fresh.text], ['HIT', 'v2'])
  assert.equal(lab.hits(), 2, 'one background fetch')
})

test('many stale hits at once start one background revalidation', async (t) => {
  let calls = 0
  const lab = await cacheLab(t, (req, res) => {
    calls++
    if (req.headers['if-none-match'] === '"e"') {
      setTimeout(() => { res.writeHead(304, { etag: '"e"', 'cache-control': 'max-age=10' }); res.end() }, 300)
      return
    }
    res.writeHead(200, { etag: '"e"', 'cache-control': 'max-age=10, stale-while-revalidate=60' })
    res.end('body')
  })
  await lab.send('/c/x')
  lab.advance(20_000)
  const replies = await Promise.all(Array.from({ length: 10 }, async () => await lab.send('/c/x')))
  assert.ok(replies.every(r => r.text === 'body'))
  assert.deepEqual([...new Set(replies.map(r => r.headers['x-cache-status']))].sort(), ['STALE', 'UPDATING'])
  await eventually(() => lab.gw.gateway.httpCache.refreshing.size === 0, 5_000, 'the background revalidation did not end')
  assert.equal(calls, 2, 'one revalidation for 10 stale hits')
  assert.equal(lab.origin.received[1]?.headers['if-none-match'], '"e"')
  assert.equal((await lab.send('/c/x')).headers['x-cache-status'], 'HIT', 'the 304 refreshed it')
})

test('past the stale-while-revalidate window the request waits for a fresh copy (EXPIRED)', async (t) => {
  let version = 1
  const lab = await cacheLab(t, (_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=10' })
    res.end(`v${version}`)
  }, { cache: { staleWhileRevalidate: '5s' } })
  await lab.send('/c/x')
  version = 2
  lab.advance(16_000)
  const res = await lab.send('/c/x')
  assert.deepEqual([res.headers['x-cache-status'], res.text], ['EXPIRED', 'v2'])
})

test('stale-if-error: with the origin down (connection refused), a stale copy inside the window is served instead of 502', async (t) => {
  const lab = await cacheLab(t, (_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=10' })
    res.end('kept')
  }, { cache: { staleIfError: '60s' } })
  await lab.send('/c/x')
  await lab.origin.close()
  lab.advance(30_000)
  const res = await lab.send('/c/x')
  assert.deepEqual([res.status, res.headers['x-cache-status'], res.text], [200, 'STALE', 'kept'])
  lab.advance(60_000)
  const outside = await lab.send('/c/x')
  assert.equal(outside.status, 502, 'outside the window the error shows')
})

test('stale-if-error: a 500, 502, 503 or 504 from the origin is replaced by the stale copy', async (t) => {
  let failWith = 0
  const lab = await cacheLab(t, (_req, res) => {
    if (failWith !== 0) {
      res.writeHead(failWith, { 'content-type': 'text/plain' })
      res.end('origin error page')
      return
    }
    res.writeHead(200, { 'cache-control': 'max-age=10, stale-if-error=600' })
    res.end('kept')
  })
  await lab.send('/c/x')
  lab.advance(20_000)
  for (const status of [500, 502, 503, 504]) {
    failWith = status
    const res = await lab.send('/c/x')
    assert.deepEqual([res.status, res.headers['x-cache-status'], res.text], [200, 'STALE', 'kept'], `origin ${status}`)
  }
  failWith = 404
  assert.equal((await lab.send('/c/x')).status, 404, 'a 404 is an answer, not an error')
})

test('stale-if-error: an origin that times out is replaced by the stale copy', async (t) => {
  let hang = false
  const lab = await cacheLab(t, (_req, res) => {
    if (hang) return
    res.writeHead(200, { 'cache-control': 'max-age=10' })
    res.end('kept')
  }, { cache: { staleIfError: '60s' }, route: { timeouts: { response: '200ms' } } })
  await lab.send('/c/x')
  hang = true
  lab.advance(20_000)
  const res = await within(lab.send('/c/x'), 3_000, 'no answer')
  assert.deepEqual([res.status, res.headers['x-cache-status'], res.text], [200, 'STALE', 'kept'])
})

test('a shutdown does not wait past its grace period for a background refresh from an origin that never answers', async (t) => {
  let first = true
  let refreshArrived!: () => void
  const arrived = new Promise<void>(resolve => { refreshArrived = resolve })
  const lab = await cacheLab(t, (_req, res) => {
    if (first) {
      first = false
      res.writeHead(200, { 'cache-control': 'max-age=10' })
      res.end('v1')
      return
    }
    // The refresh: no answer within the route's response timeout (30 s).
    refreshArrived()
    t.after(() => res.destroy())
  }, { cache: { staleWhileRevalidate: '30s' } })
  await lab.send('/c/x')
  lab.advance(15_000)
  assert.equal((await lab.send('/c/x')).headers['x-cache-status'], 'STALE')
  await within(arrived, 5_000, 'no background refresh reached the origin')
  await within(lab.gw.gateway.close(300), 3_000, 'the shutdown waited on the background refresh')
})
