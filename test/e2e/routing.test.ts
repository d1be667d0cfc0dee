import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client, rawExchange, type ErrorBody } from '../helpers/client.js'
import { DOWNSTREAM_H2 } from '../helpers/downstream.js'

/** Tests that write HTTP/1.1 bytes on a plain socket: not run in the HTTP/2 pass. */
const RAW_HTTP1_ONLY = DOWNSTREAM_H2 && 'writes raw HTTP/1.1 bytes'

test('/blue goes to Blue, /green to Green, anything else is a 404 ROUTE_NOT_FOUND', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const gw = await startGateway(t, {
    upstreams: { blue: { targets: [blue.address] }, green: { targets: [green.address] } },
    routes: [
      { name: 'blue', match: { path: '/blue/*' }, upstream: 'blue' },
      { name: 'green', match: { path: '/green/*' }, upstream: 'green' }
    ]
  })
  const get = client(t)
  assert.equal((await get(`${gw.url}/blue`)).text, 'Response from BLUE')
  assert.equal((await get(`${gw.url}/green/x`)).text, 'Response from GREEN')
  const missing = await get(`${gw.url}/red`)
  assert.equal(missing.status, 404)
  assert.equal(missing.json<ErrorBody>().error.code, 'ROUTE_NOT_FOUND')
  assert.equal(missing.json<ErrorBody>().error.requestId, missing.headers['x-request-id'])
  assert.equal(missing.headers['content-type'], 'application/json; charset=utf-8')
})

test('routes match on host (exact and wildcard), methods and headers; the first match wins', async (t) => {
  const a = await startOrigin(t, 'a')
  const b = await startOrigin(t, 'b')
  const c = await startOrigin(t, 'c')
  const gw = await startGateway(t, {
    upstreams: { a: { targets: [a.address] }, b: { targets: [b.address] }, c: { targets: [c.address] } },
    routes: [
      { name: 'api-v2', match: { host: 'api.example.com', headers: { 'x-version': 'v2' } }, upstream: 'b' },
      { name: 'api', match: { host: 'api.example.com' }, upstream: 'a' },
      { name: 'wild', match: { host: '*.example.com', methods: ['POST'] }, upstream: 'b' },
      { name: 'rest', upstream: 'c' }
    ]
  })
  const get = client(t)
  const at = async (host: string, extra: Record<string, string> = {}, method = 'GET'): Promise<string> =>
    (await get(`${gw.url}/x`, { method: method as 'GET', headers: { host, ...extra } })).text
  assert.equal(await at('api.example.com'), 'Response from A')
  assert.equal(await at('API.example.com:8080'), 'Response from A')
  assert.equal(await at('api.example.com', { 'x-version': 'v2' }), 'Response from B')
  assert.equal(await at('shop.example.com', {}, 'POST'), 'Response from B')
  assert.equal(await at('shop.example.com'), 'Response from C')
  assert.equal(await at('example.com', {}, 'POST'), 'Response from C')
})

test('exact, prefix and regex paths match as written', async (t) => {
  const a = await startOrigin(t, 'a')
  const b = await startOrigin(t, 'b')
  const gw = await startGateway(t, {
    upstreams: { a: { targets: [a.address] }, b: { targets: [b.address] } },
    routes: [
      { name: 'exact', match: { path: '/exact' }, upstream: 'a' },
      { name: 'regex', match: { path: '~ ^/items/(\\d+)$' }, upstream: 'b' },
      { name: 'prefix', match: { path: '/x/*' }, upstream: 'a' }
    ]
  })
  const get = client(t)
  assert.equal((await get(`${gw.url}/exact`)).status, 200)
  assert.equal((await get(`${gw.url}/exact/more`)).status, 404)
  assert.equal((await get(`${gw.url}/items/42`)).text, 'Response from B')
  assert.equal((await get(`${gw.url}/items/abc`)).status, 404)
  assert.equal((await get(`${gw.url}/x`)).text, 'Response from A')
  assert.equal((await get(`${gw.url}/xy`)).status, 404)
})

test('the path is normalised before matching, so %2e%2e cannot climb out of a prefix', { skip: RAW_HTTP1_ONLY }, async (t) => {
  const pub = await startOrigin(t, 'public')
  const admin = await startOrigin(t, 'admin')
  const gw = await startGateway(t, {
    upstreams: { pub: { targets: [pub.address] }, admin: { targets: [admin.address] } },
    routes: [{ name: 'public', match: { path: '/public/*' }, upstream: 'pub' }]
  })
  for (const path of ['/public/%2e%2e/admin', '/public/%2E%2E/admin', '/public/../admin', '/public/./../admin']) {
    const res = await rawExchange(gw.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    assert.match(res.data, /^HTTP\/1\.1 404 /, `${path} must not reach a route`)
  }
  const get = client(t)
  const ok = await get(`${gw.url}//public//a/./b/../c`)
  assert.equal(ok.status, 200)
  assert.equal(pub.received.at(-1)?.url, '/public/a/c')
  assert.equal(admin.received.length, 0)
})

test('stripPrefix, a path template and query rules rewrite what the upstream receives', async (t) => {
  const up = await startOrigin(t, 'up')
  const gw = await startGateway(t, {
    upstreams: { up: { targets: [up.address] } },
    routes: [
      { name: 'strip', match: { path: '/users/*' }, upstream: 'up', rewrite: { stripPrefix: '/users' } },
      { name: 'template', match: { path: '/v1/*' }, upstream: 'up', rewrite: { path: '/v2/users/{rest}' } },
      { name: 'regex', match: { path: '~ ^/item/(?<id>\\d+)$' }, upstream: 'up', rewrite: { path: '/items/{id}' } },
      { name: 'query', match: { path: '/search' }, upstream: 'up', rewrite: { query: { remove: ['debug', 'utm_*'], set: { ref: 'tollgate' } } } }
    ]
  })
  const get = client(t)
  await get(`${gw.url}/users/42?a=1`)
  assert.equal(up.received.at(-1)?.url, '/42?a=1')
  await get(`${gw.url}/users`)
  assert.equal(up.received.at(-1)?.url, '/')
  await get(`${gw.url}/v1/abc/def`)
  assert.equal(up.received.at(-1)?.url, '/v2/users/abc/def')
  await get(`${gw.url}/item/7`)
  assert.equal(up.received.at(-1)?.url, '/items/7')
  await get(`${gw.url}/search?q=rust&debug=true&sort=asc&utm_source=x`)
  assert.equal(up.received.at(-1)?.url, '/search?q=rust&sort=asc&ref=tollgate')
})

test('an absolute-form request target is routed by its own authority and path', { skip: RAW_HTTP1_ONLY }, async (t) => {
  const shop = await startOrigin(t, 'shop')
  const other = await startOrigin(t, 'other')
  const gw = await startGateway(t, {
    upstreams: { shop: { targets: [shop.address] }, other: { targets: [other.address] } },
    routes: [
      { name: 'shop', match: { host: 'shop.example.com' }, upstream: 'shop' },
      { name: 'other', upstream: 'other' }
    ]
  })
  const res = await rawExchange(gw.port, 'GET http://shop.example.com/cart?id=1 HTTP/1.1\r\nHost: other.example.com\r\nConnection: close\r\n\r\n')
  assert.match(res.data, /^HTTP\/1\.1 200 /)
  assert.equal(shop.received[0]?.url, '/cart?id=1')
  assert.equal(shop.received[0]?.headers.host, 'shop.example.com')
  assert.equal(other.received.length, 0)
})
