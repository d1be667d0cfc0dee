/**
 * Revalidation: a stale response with a validator is checked with the origin, a 304 updates
 * the stored headers and freshness, and a client's own conditional request on a stored
 * response is answered 304 by the cache.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cacheLab } from '../helpers/cache.js'

test('a stale response with an ETag is revalidated with If-None-Match; the 304\'s headers (not Content-Length) update the stored copy and its freshness', async (t) => {
  let revision = 1
  const lab = await cacheLab(t, (req, res) => {
    if (req.headers['if-none-match'] === '"e1"') {
      revision++
      res.writeHead(304, { etag: '"e1"', 'cache-control': 'max-age=60', 'x-revision': String(revision), 'content-length': '999' })
      res.end()
      return
    }
    res.writeHead(200, { etag: '"e1"', 'cache-control': 'max-age=10', 'x-revision': '1', 'content-type': 'text/plain' })
    res.end('stored body')
  })
  await lab.send('/c/x')
  lab.advance(11_000)
  const revalidated = await lab.send('/c/x')
  assert.equal(revalidated.headers['x-cache-status'], 'REVALIDATED')
  assert.equal(revalidated.status, 200)
  assert.equal(revalidated.text, 'stored body')
  assert.equal(revalidated.headers['x-revision'], '2')
  assert.equal(revalidated.headers['content-length'], '11')
  assert.equal(lab.origin.received[1]?.headers['if-none-match'], '"e1"')
  lab.advance(50_000)
  const hit = await lab.send('/c/x')
  assert.equal(hit.headers['x-cache-status'], 'HIT', 'fresh for the 304\'s max-age=60')
  assert.equal(hit.headers['x-revision'], '2', 'the stored headers were updated')
  assert.equal(hit.headers['content-type'], 'text/plain')
  assert.equal(lab.hits(), 2)
})

test('a stale response with only Last-Modified is revalidated with If-Modified-Since', async (t) => {
  const modified = new Date(Date.now() - 3_600_000).toUTCString()
  const lab = await cacheLab(t, (req, res) => {
    if (req.headers['if-modified-since'] === modified) {
      res.writeHead(304, { 'cache-control': 'max-age=10' })
      res.end()
      return
    }
    res.writeHead(200, { 'last-modified': modified, 'cache-control': 'max-age=10' })
    res.end('body')
  })
  await lab.send('/c/x')
  lab.advance(11_000)
  const res = await lab.send('/c/x')
  assert.deepEqual([res.headers['x-cache-status'], res.text], ['REVALIDATED', 'body'])
  assert.equal(lab.origin.received[1]?.headers['if-modified-since'], modified)
})

test('a revalidation answered with a new 200 replaces the stored response (EXPIRED)', async (t) => {
  let body = 'old'
  const lab = await cacheLab(t, (req, res) => {
    res.writeHead(200, { etag: `"${body}"`, 'cache-control': 'max-age=10' })
    res.end(body)
  })
  await lab.send('/c/x')
  body = 'new'
  lab.advance(11_000)
  const res = await lab.send('/c/x')
  assert.deepEqual([res.headers['x-cache-status'], res.text], ['EXPIRED', 'new'])
  assert.equal((await lab.send('/c/x')).text, 'new')
})

test('the response kept for revalidation is still there long after twice its lifetime', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    if (req.headers['if-none-match'] === '"e"') {
      res.writeHead(304, { etag: '"e"', 'cache-control': 'max-age=10' })
      res.end()
      return
    }
    res.writeHead(200, { etag: '"e"', 'cache-control': 'max-age=10' })
    res.end('body')
  })
  await lab.send('/c/x')
  lab.advance(3_600_000)
  const res = await lab.send('/c/x')
  assert.equal(res.headers['x-cache-status'], 'REVALIDATED')
  assert.equal(res.text, 'body')
})

test('a client\'s If-None-Match on a fresh stored response is answered 304 by the cache, without the origin', async (t) => {
  const lab = await cacheLab(t, (_req, res) => {
    res.writeHead(200, { etag: 'W/"tag"', 'cache-control': 'max-age=60' })
    res.end('body')
  })
  await lab.send('/c/x')
  const matching = await lab.send('/c/x', { headers: { 'if-none-match': '"other", W/"tag"' } })
  assert.equal(matching.status, 304)
  assert.equal(matching.text, '')
  assert.equal(matching.headers['x-cache-status'], 'HIT')
  assert.equal(matching.headers.etag, 'W/"tag"')
  const other = await lab.send('/c/x', { headers: { 'if-none-match': '"other"' } })
  assert.deepEqual([other.status, other.text], [200, 'body'])
  assert.equal(lab.hits(), 1)
})

test('a client\'s If-Modified-Since on a stored response is answered 304 when it is not older than Last-Modified', async (t) => {
  const modified = new Date(Date.now() - 3_600_000).toUTCString()
  const lab = await cacheLab(t, (_req, res) => {
    res.writeHead(200, { 'last-modified': modified, 'cache-control': 'max-age=60' })
    res.end('body')
  })
  await lab.send('/c/x')
  assert.equal((await lab.send('/c/x', { headers: { 'if-modified-since': new Date().toUTCString() } })).status, 304)
  assert.equal((await lab.send('/c/x', { headers: { 'if-modified-since': new Date(Date.now() - 7_200_000).toUTCString() } })).status, 200)
  assert.equal(lab.hits(), 1)
})

test('on a miss the client\'s validators are not sent upstream: the cache asks for the whole response', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    res.writeHead(200, { etag: '"tag"', 'cache-control': 'max-age=60' })
    res.end('body')
  })
  const res = await lab.send('/c/x', { headers: { 'if-none-match': '"tag"' } })
  assert.deepEqual([res.status, res.text], [200, 'body'])
  assert.equal(lab.origin.received[0]?.headers['if-none-match'], undefined)
  assert.equal((await lab.send('/c/x', { headers: { 'if-none-match': '"tag"' } })).status, 304)
})

test('a client\'s Cache-Control: no-cache makes the cache revalidate a fresh response first', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    if (req.headers['if-none-match'] === '"e"') {
      res.writeHead(304, { etag: '"e"' })
      res.end()
      return
    }
    res.writeHead(200, { etag: '"e"', 'cache-control': 'max-age=60' })
    res.end('body')
  })
  await lab.send('/c/x')
  const res = await lab.send('/c/x', { headers: { 'cache-control': 'no-cache' } })
  assert.equal(res.headers['x-cache-status'], 'REVALIDATED')
  assert.equal(lab.hits(), 2)
})

test('must-revalidate: a stale copy is never served, even inside the route\'s stale windows', async (t) => {
  let up = true
  const lab = await cacheLab(t, (req, res) => {
    if (!up) {
      res.writeHead(503)
      res.end()
      return
    }
    res.writeHead(200, { 'cache-control': 'max-age=10, must-revalidate' })
    res.end('body')
  }, { cache: { staleIfError: '1h', staleWhileRevalidate: '1h' } })
  await lab.send('/c/x')
  up = false
  lab.advance(11_000)
  const res = await lab.send('/c/x')
  assert.equal(res.status, 503)
  assert.equal(res.headers['x-cache-status'], 'EXPIRED')
})

test('a 304 that brings Set-Cookie reaches the client that revalidated, and the response is no longer stored for others', async (t) => {
  let calls = 0
  const lab = await cacheLab(t, (req, res) => {
    calls++
    if (req.headers['if-none-match'] === '"e"') {
      res.writeHead(304, { etag: '"e"', 'cache-control': 'max-age=60', 'set-cookie': 'session=for-one-client' })
      res.end()
      return
    }
    res.writeHead(200, { etag: '"e"', 'cache-control': 'max-age=10' })
    res.end('body')
  })
  await lab.send('/c/x')
  lab.advance(11_000)
  const revalidated = await lab.send('/c/x')
  assert.equal(revalidated.headers['x-cache-status'], 'REVALIDATED')
  assert.equal(revalidated.headers['set-cookie'], 'session=for-one-client')
  const next = await lab.send('/c/x')
  assert.notEqual(next.headers['x-cache-status'], 'HIT')
  assert.equal(next.headers['set-cookie'], undefined)
  assert.equal(calls, 3)
})

test('a 304 that makes the response private drops the stored copy', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    if (req.headers['if-none-match'] === '"e"') {
      res.writeHead(304, { etag: '"e"', 'cache-control': 'private, max-age=60' })
      res.end()
      return
    }
    res.writeHead(200, { etag: '"e"', 'cache-control': 'max-age=10' })
    res.end('body')
  })
  await lab.send('/c/x')
  lab.advance(11_000)
  assert.equal((await lab.send('/c/x')).headers['x-cache-status'], 'REVALIDATED')
  assert.equal((await lab.send('/c/x')).headers['x-cache-status'], 'MISS')
})
