import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client, type ErrorBody } from '../helpers/client.js'

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

