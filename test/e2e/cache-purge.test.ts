/**
 * Removing stored responses: invalidation by unsafe methods, PURGE on the proxy listener
 * (allowed addresses only), the admin API's POST /cache/purge by URL, prefix and host;
 * and what else the cache reports: maxObjectSize, the metric, the access log.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { answer, cacheLab, type CacheLab } from '../helpers/cache.js'
import { metricsText, sample } from '../helpers/metrics.js'

const cacheable = answer({ 'cache-control': 'max-age=600' })

async function warm (lab: CacheLab, ...paths: string[]): Promise<void> {
  for (const path of paths) {
    await lab.send(path)
    assert.equal((await lab.send(path)).headers['x-cache-status'], 'HIT', `${path} is stored`)
  }
}

async function adminPurge (lab: CacheLab, body: unknown): Promise<{ status: number, json: unknown }> {
  const address = lab.gw.gateway.adminAddress()
  assert.ok(address !== null)
  const res = await request(`http://127.0.0.1:${address.port}/cache/purge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.statusCode, json: await res.body.json() }
}

test('a successful POST, PUT, DELETE or PATCH drops the URL\'s stored responses', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    res.writeHead(req.method === 'GET' ? 200 : 204, { 'cache-control': 'max-age=600' })
    res.end(req.method === 'GET' ? 'x' : undefined)
  })
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH'] as const) {
    await warm(lab, '/c/item')
    const unsafe = await lab.send('/c/item', { method, body: method === 'DELETE' ? undefined : 'b' })
    assert.equal(unsafe.headers['x-cache-status'], 'BYPASS')
    assert.equal((await lab.send('/c/item')).headers['x-cache-status'], 'MISS', `after ${method}`)
  }
})

test('an unsafe request that fails invalidates nothing', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    res.writeHead(req.method === 'GET' ? 200 : 500, { 'cache-control': 'max-age=600' })
    res.end('x')
  })
  await warm(lab, '/c/item')
  await lab.send('/c/item', { method: 'POST', body: 'b' })
  assert.equal((await lab.send('/c/item')).headers['x-cache-status'], 'HIT')
})

test('invalidation reaches the Location and Content-Location of the same host, not of another', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    if (req.method === 'POST') {
      res.writeHead(201, { location: '/c/created', 'content-location': `http://elsewhere.example/c/other` })
      res.end()
      return
    }
    res.writeHead(200, { 'cache-control': 'max-age=600' })
    res.end(req.url)
  })
  await warm(lab, '/c/created', '/c/other')
  await lab.send('/c/list', { method: 'POST', body: 'new' })
  assert.equal((await lab.send('/c/created')).headers['x-cache-status'], 'MISS')
  assert.equal((await lab.send('/c/other')).headers['x-cache-status'], 'HIT')
})

test('PURGE from loopback removes the URL\'s stored responses and answers how many; the next GET is a MISS (L46)', async (t) => {
  const lab = await cacheLab(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'accept-language' })
    res.end('x')
  })
  await warm(lab, '/c/file')
  await lab.send('/c/file', { headers: { 'accept-language': 'fr' } })
  const purge = await lab.send('/c/file', { method: 'PURGE' as 'GET' })
  assert.equal(purge.status, 200)
  assert.deepEqual(purge.json(), { purged: 2 })
  assert.equal((await lab.send('/c/file')).headers['x-cache-status'], 'MISS')
  const again = await lab.send('/c/nothing-here', { method: 'PURGE' as 'GET' })
  assert.deepEqual(again.json(), { purged: 0 })
  assert.ok(lab.origin.received.every(r => r.method === 'GET'), 'PURGE never reaches the origin')
})

test('PURGE from an address outside cache.purge.allow gets 403 JSON and removes nothing', async (t) => {
  const lab = await cacheLab(t, cacheable, { cache: { purge: { allow: ['10.0.0.0/8'] } } })
  await warm(lab, '/c/file')
  const purge = await lab.send('/c/file', { method: 'PURGE' as 'GET' })
  assert.equal(purge.status, 403)
  assert.equal(purge.json<{ error: { code: string } }>().error.code, 'FORBIDDEN')
  assert.match(String(purge.headers['content-type']), /application\/json/)
  assert.equal((await lab.send('/c/file')).headers['x-cache-status'], 'HIT')
})

test('PURGE on a route whose methods exclude it still purges when the route caches', async (t) => {
  const lab = await cacheLab(t, cacheable, { route: { match: { path: '/c/*', methods: ['GET', 'HEAD'] } } })
  await warm(lab, '/c/file')
  assert.deepEqual((await lab.send('/c/file', { method: 'PURGE' as 'GET' })).json(), { purged: 1 })
})

test('admin POST /cache/purge removes by url, by prefix, and only for a host when one is given', async (t) => {
  const lab = await cacheLab(t, cacheable, { config: { admin: { listen: { host: '127.0.0.1', port: 0 } } } })
  await warm(lab, '/c/a?x=1', '/c/a', '/c/dir/one', '/c/dir/two', '/c/keep')
  assert.deepEqual(await adminPurge(lab, { url: '/c/a?x=1' }), { status: 200, json: { purged: 1 } })
  assert.equal((await lab.send('/c/a?x=1')).headers['x-cache-status'], 'MISS')
  assert.equal((await lab.send('/c/a')).headers['x-cache-status'], 'HIT', 'another query is another URL')
  assert.deepEqual(await adminPurge(lab, { prefix: '/c/dir/', host: 'other.example' }), { status: 200, json: { purged: 0 } })
  assert.deepEqual(await adminPurge(lab, { prefix: '/c/dir/', host: `127.0.0.1:${lab.gw.port}` }), { status: 200, json: { purged: 2 } })
  assert.equal((await lab.send('/c/dir/one')).headers['x-cache-status'], 'MISS')
  assert.equal((await lab.send('/c/keep')).headers['x-cache-status'], 'HIT')
  assert.equal((await adminPurge(lab, { nothing: true })).status, 400)
})

test('a body over maxObjectSize streams to the client whole and is not stored', async (t) => {
  const big = 'b'.repeat(4096)
  const lab = await cacheLab(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', ...(req.url === '/c/declared' ? { 'content-length': String(big.length) } : {}) })
    if (req.url === '/c/declared') res.end(big)
    else { res.write(big.slice(0, 2000)); res.end(big.slice(2000)) }
  }, { cache: { maxObjectSize: '1kb' } })
  for (const path of ['/c/declared', '/c/chunked']) {
    const first = await lab.send(path)
    assert.equal(first.text, big)
    const second = await lab.send(path)
    assert.equal(second.headers['x-cache-status'], 'MISS', path)
    assert.equal(second.text, big)
  }
  assert.equal(lab.hits(), 4)
})

test('tollgate_cache_requests_total counts requests by route and cache status', async (t) => {
  const lab = await cacheLab(t, cacheable, { config: { metrics: { listen: { host: '127.0.0.1', port: 0 } } } })
  await lab.send('/c/x')
  await lab.send('/c/x')
  await lab.send('/c/x')
  await lab.send('/c/x', { method: 'POST', body: 'b' })
  const text = await metricsText(lab.gw.gateway)
  assert.equal(sample(text, 'tollgate_cache_requests_total', { route: 'cached', status: 'miss' }), 1)
  assert.equal(sample(text, 'tollgate_cache_requests_total', { route: 'cached', status: 'hit' }), 2)
  assert.equal(sample(text, 'tollgate_cache_requests_total', { route: 'cached', status: 'bypass' }), 1)
})

test('the access log line names the cache status', async (t) => {
  const lines: Record<string, unknown>[] = []
  const lab = await cacheLab(t, cacheable, {
    config: { server: { accessLog: true, listen: [{ host: '127.0.0.1', port: 0 }] } },
    start: { logLevel: 'info', logTo: line => lines.push(JSON.parse(line) as Record<string, unknown>) }
  })
  await lab.send('/c/x')
  await lab.send('/c/x')
  const requests = lines.filter(line => line.msg === 'request')
  assert.deepEqual(requests.map(line => line.cache), ['MISS', 'HIT'])
})
