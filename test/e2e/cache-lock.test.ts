/**
 * The cache lock: concurrent misses of one URL make one upstream request, and a fetch that
 * fails, or whose response cannot be shared, releases the waiting requests to fetch for
 * themselves — never a hang.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cacheLab } from '../helpers/cache.js'
import { request } from 'undici'
import { eventually, within } from '../helpers/deadline.js'

test('5 concurrent misses on a 2 s origin make exactly one upstream request, and all 5 get the full body (L45)', async (t) => {
  const body = 'x'.repeat(100_000)
  const lab = await cacheLab(t, (_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end(body)
    }, 2_000)
  })
  const replies = await within(Promise.all(Array.from({ length: 5 }, async () => await lab.send('/c/slow'))), 10_000, 'the 5 requests were not all answered')
  assert.equal(lab.hits(), 1)
  for (const reply of replies) {
    assert.equal(reply.status, 200)
    assert.equal(reply.text.length, body.length)
  }
  assert.deepEqual(replies.map(r => r.headers['x-cache-status']).sort(), ['HIT', 'HIT', 'HIT', 'HIT', 'MISS'])
})

test('lock: false sends every concurrent miss upstream', async (t) => {
  let waiting: (() => void)[] = []
  const lab = await cacheLab(t, (_req, res) => {
    waiting.push(() => { res.writeHead(200, { 'cache-control': 'max-age=60' }); res.end('x') })
    if (waiting.length === 3) { for (const go of waiting) go(); waiting = [] }
  }, { cache: { lock: false } })
  await within(Promise.all([lab.send('/c/x'), lab.send('/c/x'), lab.send('/c/x')]), 5_000, 'three concurrent requests reach the origin')
  assert.equal(lab.hits(), 3)
})

test('a fetch that fails releases the waiting requests: each fetches for itself, none hangs', async (t) => {
  let first = true
  const lab = await cacheLab(t, (req, res) => {
    if (first) {
      first = false
      // The lock's holder: the origin breaks off once the others are waiting behind it.
      setTimeout(() => req.socket.destroy(), 300)
      return
    }
    res.writeHead(200, { 'cache-control': 'max-age=60' })
    res.end('body')
  })
  const replies = await within(Promise.all(Array.from({ length: 4 }, async () => await lab.send('/c/x'))), 5_000, 'waiting requests hung after the fetch failed')
  const statuses = replies.map(r => r.status).sort()
  assert.deepEqual(statuses, [200, 200, 200, 502])
  assert.ok(replies.filter(r => r.status === 200).every(r => r.text === 'body'))
})

test('a response that cannot be shared (no-store) sends the waiting requests upstream themselves', async (t) => {
  let calls = 0
  const lab = await cacheLab(t, (_req, res) => {
    calls++
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'no-store' })
      res.end(`answer ${calls}`)
    }, calls === 1 ? 300 : 0)
  })
  const replies = await within(Promise.all(Array.from({ length: 3 }, async () => await lab.send('/c/x'))), 5_000, 'waiting requests hung')
  assert.equal(lab.hits(), 3)
  assert.ok(replies.every(r => r.status === 200 && r.headers['x-cache-status'] === 'MISS'))
})

test('a fetch whose upstream stalls mid-body is cut by the response timeout, and its waiters fetch for themselves', async (t) => {
  let first = true
  const lab = await cacheLab(t, (_req, res) => {
    if (first) {
      // The holder's origin drips: headers at once, then nothing for 2 s.
      first = false
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '2' })
      res.write('a')
      setTimeout(() => res.end('b'), 2_000)
      return
    }
    res.writeHead(200, { 'cache-control': 'max-age=60' })
    res.end('ab')
  }, { route: { timeouts: { response: '500ms' } } })
  const holder = lab.send('/c/x')
  const started = performance.now()
  const waiter = await within(lab.send('/c/x'), 5_000, 'the waiter hung')
  const waited = performance.now() - started
  assert.equal(waiter.text, 'ab')
  assert.ok(waited < 1_900, `the waiter waited ${waited.toFixed(0)} ms`)
  await holder.catch(() => undefined)
})

test('the lock holder\'s client leaving does not stop the fetch: the waiting requests get it, and the origin is asked once', async (t) => {
  const lab = await cacheLab(t, (_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end('body')
    }, 800)
  })
  const controller = new AbortController()
  const holder = request(`${lab.gw.url}/c/x`, { signal: controller.signal }).catch(() => undefined)
  await eventually(() => lab.gw.gateway.httpCache.locks.size === 1, 2_000, 'the first request never took the lock')
  const waiters = Array.from({ length: 3 }, async () => await lab.send('/c/x'))
  setTimeout(() => controller.abort(), 100)
  await holder
  const replies = await within(Promise.all(waiters), 5_000, 'the waiters hung')
  assert.ok(replies.every(r => r.status === 200 && r.text === 'body'))
  assert.deepEqual(replies.map(r => r.headers['x-cache-status']), ['HIT', 'HIT', 'HIT'])
  assert.equal(lab.hits(), 1)
})
