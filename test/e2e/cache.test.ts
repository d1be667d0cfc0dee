/**
 * The HTTP cache, black-box: a cached route in front of an origin that counts its requests
 * and sets each caching header, one behaviour per test (RFC 9111 shared cache).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { answer, cacheLab } from '../helpers/cache.js'

test('MISS then HIT: the hit does not reach the origin; after max-age, EXPIRED and a fresh fetch (L43)', async (t) => {
  let version = 1
  const lab = await cacheLab(t, (_req, res) => { res.writeHead(200, { 'cache-control': 'max-age=60' }); res.end(`v${version}`) })
  const first = await lab.send('/c/file')
  assert.equal(first.headers['x-cache-status'], 'MISS')
  assert.equal(first.text, 'v1')
  const second = await lab.send('/c/file')
  assert.equal(second.headers['x-cache-status'], 'HIT')
  assert.equal(second.text, 'v1')
  assert.equal(lab.hits(), 1)
  version = 2
  lab.advance(61_000)
  const third = await lab.send('/c/file')
  assert.equal(third.headers['x-cache-status'], 'EXPIRED')
  assert.equal(third.text, 'v2')
  assert.equal(lab.hits(), 2)
  assert.equal((await lab.send('/c/file')).headers['x-cache-status'], 'HIT')
})

test('no-store is never stored; max-age=5 expires after 5 s while max-age=60 is still a hit (L44)', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    const cacheControl = req.url === '/c/none' ? 'no-store' : req.url === '/c/five' ? 'max-age=5' : 'max-age=60'
    res.writeHead(200, { 'cache-control': cacheControl })
    res.end(req.url)
  })
  for (const path of ['/c/none', '/c/five', '/c/sixty']) await lab.send(path)
  assert.equal((await lab.send('/c/none')).headers['x-cache-status'], 'MISS', 'no-store: fetched again')
  assert.equal((await lab.send('/c/five')).headers['x-cache-status'], 'HIT')
  lab.advance(5_000)
  assert.equal((await lab.send('/c/five')).headers['x-cache-status'], 'EXPIRED', 'max-age=5 at 5 s')
  assert.equal((await lab.send('/c/sixty')).headers['x-cache-status'], 'HIT', 'max-age=60 at 5 s')
  assert.equal(lab.hits(), 5)
})

test('s-maxage wins over max-age for a shared cache', async (t) => {
  const lab = await cacheLab(t, answer({ 'cache-control': 'max-age=1, s-maxage=100' }))
  await lab.send('/c/x')
  lab.advance(50_000)
  assert.equal((await lab.send('/c/x')).headers['x-cache-status'], 'HIT')
  assert.equal(lab.hits(), 1)
})

test('Expires gives freshness; a malformed Expires, or 0, means already expired', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    const expires = req.url === '/c/valid' ? new Date(lab.now() + 60_000).toUTCString() : req.url === '/c/zero' ? '0' : 'next tuesday'
    res.writeHead(200, { expires })
    res.end('x')
  })
  for (const path of ['/c/valid', '/c/zero', '/c/bad']) {
    await lab.send(path)
    await lab.send(path)
  }
  assert.equal((await lab.send('/c/valid')).headers['x-cache-status'], 'HIT')
  assert.notEqual((await lab.send('/c/bad')).headers['x-cache-status'], 'HIT')
  assert.notEqual((await lab.send('/c/zero')).headers['x-cache-status'], 'HIT')
  assert.equal(lab.origin.received.filter(r => r.url === '/c/valid').length, 1)
  assert.equal(lab.origin.received.filter(r => r.url === '/c/bad').length, 3)
  assert.equal(lab.origin.received.filter(r => r.url === '/c/zero').length, 3)
})

test('private is not stored by a shared cache; private="x-user" is stored without x-user', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    if (req.url === '/c/private') res.writeHead(200, { 'cache-control': 'private, max-age=60' })
    else res.writeHead(200, { 'cache-control': 'max-age=60, private="x-user"', 'x-user': 'alice', 'x-public': 'yes' })
    res.end('x')
  })
  await lab.send('/c/private')
  assert.equal((await lab.send('/c/private')).headers['x-cache-status'], 'MISS')
  const miss = await lab.send('/c/field')
  assert.equal(miss.headers['x-user'], 'alice', 'the response itself keeps the field')
  const hit = await lab.send('/c/field')
  assert.equal(hit.headers['x-cache-status'], 'HIT')
  assert.equal(hit.headers['x-user'], undefined, 'the stored copy has no x-user')
  assert.equal(hit.headers['x-public'], 'yes')
})

test('no-cache is stored but revalidated on every use: a 304 makes it REVALIDATED, served from the store', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { etag: '"v1"', 'cache-control': 'no-cache' })
      res.end()
      return
    }
    res.writeHead(200, { etag: '"v1"', 'cache-control': 'no-cache' })
    res.end('the body')
  })
  assert.equal((await lab.send('/c/x')).headers['x-cache-status'], 'MISS')
  const again = await lab.send('/c/x')
  assert.equal(again.headers['x-cache-status'], 'REVALIDATED')
  assert.equal(again.status, 200)
  assert.equal(again.text, 'the body')
  assert.equal(lab.hits(), 2)
  assert.equal(lab.origin.received[1]?.headers['if-none-match'], '"v1"')
})

test('Vary: one entry per variant; Vary: * is never reused', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    if (req.url === '/c/star') res.writeHead(200, { 'cache-control': 'max-age=60', vary: '*' })
    else res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Encoding' })
    res.end(`for ${req.headers['accept-encoding'] ?? 'none'}`)
  })
  const gzip = { 'accept-encoding': 'gzip' }
  const br = { 'accept-encoding': 'br' }
  assert.equal((await lab.send('/c/v', { headers: gzip })).headers['x-cache-status'], 'MISS')
  assert.equal((await lab.send('/c/v', { headers: br })).headers['x-cache-status'], 'MISS')
  const gzipHit = await lab.send('/c/v', { headers: gzip })
  const brHit = await lab.send('/c/v', { headers: br })
  assert.deepEqual([gzipHit.headers['x-cache-status'], gzipHit.text], ['HIT', 'for gzip'])
  assert.deepEqual([brHit.headers['x-cache-status'], brHit.text], ['HIT', 'for br'])
  await lab.send('/c/star')
  assert.equal((await lab.send('/c/star')).headers['x-cache-status'], 'MISS')
  assert.equal(lab.hits(), 4)
})

test('age on a hit counts the origin\'s Age and the time stored; Date is the origin\'s', async (t) => {
  const date = new Date(Date.now() - 2_000).toUTCString()
  const lab = await cacheLab(t, answer({ 'cache-control': 'max-age=600', age: '100', date }))
  const miss = await lab.send('/c/x')
  assert.equal(miss.headers.age, '100', 'a miss passes the origin\'s Age')
  lab.advance(10_000)
  const hit = await lab.send('/c/x')
  assert.equal(hit.headers['x-cache-status'], 'HIT')
  const age = Number(hit.headers.age)
  assert.ok(age >= 110 && age <= 113, `age ${age}`)
  assert.equal(hit.headers.date, date)
})

test('an invalid, negative, fractional or repeated Age: the first valid value counts, and the response is still cached', async (t) => {
  const ages: Record<string, string | string[]> = { '/c/words': ['abc', '7'], '/c/negative': '-5', '/c/fraction': '1.5', '/c/repeated': ['5', '9'] }
  const lab = await cacheLab(t, (req, res) => {
    // An array is sent as repeated lines.
    res.setHeader('age', ages[req.url ?? ''] ?? '0')
    res.writeHead(200, { 'cache-control': 'max-age=60' })
    res.end('x')
  })
  for (const path of Object.keys(ages)) await lab.send(path)
  const seen: Record<string, unknown> = {}
  for (const path of Object.keys(ages)) {
    const hit = await lab.send(path)
    assert.equal(hit.headers['x-cache-status'], 'HIT', path)
    seen[path] = hit.headers.age
  }
  assert.deepEqual(seen, { '/c/words': '7', '/c/negative': '0', '/c/fraction': '0', '/c/repeated': '5' })
  assert.equal(lab.hits(), 4)
})

test('a huge Age does not overflow: it is held at 2147483648 and the response is stale', async (t) => {
  const lab = await cacheLab(t, answer({ 'cache-control': 'max-age=60', age: '99999999999999999999', etag: '"e"' }))
  await lab.send('/c/x')
  const next = await lab.send('/c/x')
  assert.notEqual(next.headers['x-cache-status'], 'HIT')
  assert.equal(lab.hits(), 2)
})

test('the route\'s ttl applies only when the origin gives no freshness', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    if (req.url === '/c/silent') res.writeHead(200, {})
    else res.writeHead(200, { 'cache-control': 'max-age=0' })
    res.end('x')
  }, { cache: { ttl: '30s' } })
  await lab.send('/c/silent')
  await lab.send('/c/said-zero')
  lab.advance(20_000)
  assert.equal((await lab.send('/c/silent')).headers['x-cache-status'], 'HIT')
  assert.notEqual((await lab.send('/c/said-zero')).headers['x-cache-status'], 'HIT')
  lab.advance(11_000)
  assert.equal((await lab.send('/c/silent')).headers['x-cache-status'], 'EXPIRED')
})

test('with Authorization: stored only when the origin allows it (s-maxage, public, must-revalidate)', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    res.writeHead(200, { 'cache-control': req.url === '/c/allowed' ? 'public, max-age=60' : 'max-age=60' })
    res.end(`for ${req.headers.authorization ?? 'anyone'}`)
  })
  const bearer = { authorization: 'Bearer a' }
  await lab.send('/c/plain', { headers: bearer })
  assert.equal((await lab.send('/c/plain', { headers: bearer })).headers['x-cache-status'], 'MISS')
  await lab.send('/c/allowed', { headers: bearer })
  assert.equal((await lab.send('/c/allowed', { headers: bearer })).headers['x-cache-status'], 'HIT')
  assert.equal(lab.origin.received.filter(r => r.url === '/c/plain').length, 2)
})

test('a response stored for an anonymous request is not given to a request with Authorization unless it may be shared', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60' })
    res.end(`for ${req.headers.authorization ?? 'anyone'}`)
  })
  await lab.send('/c/x')
  const withCredentials = await lab.send('/c/x', { headers: { authorization: 'Bearer secret' } })
  assert.equal(withCredentials.text, 'for Bearer secret')
  assert.notEqual(withCredentials.headers['x-cache-status'], 'HIT')
})

test('only GET and HEAD use the cache: POST is BYPASS; statuses outside the cacheable set are not stored', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    const status = req.url === '/c/error' ? 500 : req.url === '/c/redirect' ? 302 : req.url === '/c/gone' ? 404 : 200
    res.writeHead(status, { 'cache-control': 'max-age=60', ...(status === 302 ? { location: '/elsewhere' } : {}) })
    res.end('x')
  })
  const post = await lab.send('/c/post', { method: 'POST', body: 'b' })
  assert.equal(post.headers['x-cache-status'], 'BYPASS')
  for (const path of ['/c/error', '/c/redirect', '/c/gone']) await lab.send(path)
  assert.equal((await lab.send('/c/error')).headers['x-cache-status'], 'MISS')
  assert.equal((await lab.send('/c/redirect')).headers['x-cache-status'], 'MISS')
  const gone = await lab.send('/c/gone')
  assert.deepEqual([gone.status, gone.headers['x-cache-status']], [404, 'HIT'], 'a 404 with max-age is stored')
})

test('HEAD is answered from a stored GET, without a body', async (t) => {
  const lab = await cacheLab(t, answer({ 'cache-control': 'max-age=60', 'content-type': 'text/plain' }, 'twelve bytes'))
  await lab.send('/c/x')
  const head = await lab.send('/c/x', { method: 'HEAD' })
  assert.equal(head.headers['x-cache-status'], 'HIT')
  assert.equal(head.headers['content-length'], '12')
  assert.equal(head.text, '')
  assert.equal(lab.hits(), 1)
})

test('a client\'s Cache-Control: no-store is BYPASS and leaves the store alone', async (t) => {
  const lab = await cacheLab(t, answer({ 'cache-control': 'max-age=60' }))
  const bypass = await lab.send('/c/x', { headers: { 'cache-control': 'no-store' } })
  assert.equal(bypass.headers['x-cache-status'], 'BYPASS')
  assert.equal((await lab.send('/c/x')).headers['x-cache-status'], 'MISS')
})

test('only-if-cached on a miss is answered 504 NOT_CACHED without asking the origin', async (t) => {
  const lab = await cacheLab(t, answer({ 'cache-control': 'max-age=60' }))
  const res = await lab.send('/c/x', { headers: { 'cache-control': 'only-if-cached' } })
  assert.equal(res.status, 504)
  assert.equal(res.headers['x-cache-status'], 'MISS')
  assert.equal(res.json<{ error: { code: string } }>().error.code, 'NOT_CACHED')
  assert.equal(lab.hits(), 0)
  await lab.send('/c/x')
  assert.equal((await lab.send('/c/x', { headers: { 'cache-control': 'only-if-cached' } })).headers['x-cache-status'], 'HIT')
})

test('CDN-Cache-Control is read before Cache-Control and forwarded by default', async (t) => {
  const lab = await cacheLab(t, answer({ 'cdn-cache-control': 'max-age=60', 'cache-control': 'no-store' }))
  const miss = await lab.send('/c/x')
  assert.equal(miss.headers['cdn-cache-control'], 'max-age=60')
  const hit = await lab.send('/c/x')
  assert.equal(hit.headers['x-cache-status'], 'HIT')
  assert.equal(hit.headers['cdn-cache-control'], 'max-age=60')
  assert.equal(hit.headers['cache-control'], 'no-store', 'Cache-Control reaches the client as sent')
})

test('CDN-Cache-Control no-store wins over a Cache-Control that allows storing', async (t) => {
  const lab = await cacheLab(t, answer({ 'cdn-cache-control': 'no-store', 'cache-control': 'max-age=60' }))
  await lab.send('/c/x')
  assert.equal((await lab.send('/c/x')).headers['x-cache-status'], 'MISS')
})

test('cdnHeader: consume removes CDN-Cache-Control from what the client gets, on a miss and on a hit', async (t) => {
  const lab = await cacheLab(t, answer({ 'cdn-cache-control': 'max-age=60', 'cache-control': 'max-age=5' }), { cache: { cdnHeader: 'consume' } })
  const miss = await lab.send('/c/x')
  lab.advance(30_000)
  const hit = await lab.send('/c/x')
  assert.equal(hit.headers['x-cache-status'], 'HIT', 'fresh by CDN-Cache-Control at 30 s')
  assert.equal(miss.headers['cdn-cache-control'], undefined)
  assert.equal(hit.headers['cdn-cache-control'], undefined)
  assert.equal(hit.headers['cache-control'], 'max-age=5')
})

test('an upstream\'s own x-cache-status never reaches the client: the header says what this cache did', async (t) => {
  const lab = await cacheLab(t, answer({ 'cache-control': 'max-age=60', 'x-cache-status': 'HIT', age: '3' }))
  const miss = await lab.send('/c/x')
  assert.equal(miss.headers['x-cache-status'], 'MISS')
  const hit = await lab.send('/c/x')
  assert.equal(hit.headers['x-cache-status'], 'HIT')
  assert.equal(lab.hits(), 1)
})

test('a reload keeps what is stored, and the new route\'s responseHeaders apply to its hits', async (t) => {
  const lab = await cacheLab(t, answer({ 'cache-control': 'max-age=600' }))
  await lab.send('/c/x')
  await lab.gw.gateway.apply({
    server: { listen: [{ host: '127.0.0.1', port: lab.gw.port }], accessLog: false, logLevel: 'silent' },
    upstreams: { origin: { targets: [lab.origin.address] } },
    routes: [{ name: 'cached', match: { path: '/c/*' }, upstream: 'origin', cache: {}, responseHeaders: { set: { 'x-version': 'two' } } }]
  })
  const hit = await lab.send('/c/x')
  assert.equal(hit.headers['x-cache-status'], 'HIT')
  assert.equal(hit.headers['x-version'], 'two')
  assert.equal(lab.hits(), 1)
})

test('two routes on one URL, told apart by a header, never answer with each other\'s stored responses', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600' })
    res.end(`served ${req.url}`)
  }, {
    config: {
      routes: [
        { name: 'v2', match: { path: '/c/*', headers: { 'x-version': 'v2' } }, upstream: 'origin', rewrite: { path: '/v2/{rest}' }, cache: {} }
      ]
    }
  })
  // cacheLab's own route (v1 here: /c/* without a header) comes after the config's routes.
  const v2 = await lab.send('/c/item', { headers: { 'x-version': 'v2' } })
  assert.equal(v2.text, 'served /v2/item')
  const v1 = await lab.send('/c/item')
  assert.equal(v1.headers['x-cache-status'], 'MISS')
  assert.equal(v1.text, 'served /c/item')
  assert.equal((await lab.send('/c/item', { headers: { 'x-version': 'v2' } })).text, 'served /v2/item')
  assert.equal((await lab.send('/c/item')).text, 'served /c/item')
})

test('X-Forwarded-Host and X-Forwarded-Proto from a trusted proxy are part of the key: a client cannot store one host\'s answer for another', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600' })
    res.end(`for ${String(req.headers['x-forwarded-proto'])}://${String(req.headers['x-forwarded-host'])}`)
  }, { config: { server: { trustProxy: ['127.0.0.1/32'], listen: [{ host: '127.0.0.1', port: 0 }] } } })
  const poisoned = await lab.send('/c/x', { headers: { 'x-forwarded-host': 'evil.example' } })
  assert.equal(poisoned.text, 'for http://evil.example')
  const plain = await lab.send('/c/x')
  assert.equal(plain.headers['x-cache-status'], 'MISS')
  assert.equal(plain.text, `for http://127.0.0.1:${lab.gw.port}`)
  const https = await lab.send('/c/x', { headers: { 'x-forwarded-proto': 'https' } })
  assert.equal(https.headers['x-cache-status'], 'MISS', 'another scheme is another entry')
  assert.equal((await lab.send('/c/x')).headers['x-cache-status'], 'HIT')
})
