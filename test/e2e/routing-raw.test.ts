/**
 * Routing cases that need HTTP/1.1 bytes written on a plain socket (what a client library
 * would not send): kept apart from routing.test.ts, which also runs over HTTP/2.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client, rawExchange } from '../helpers/client.js'

test('the path is normalised before matching, so %2e%2e cannot climb out of a prefix', async (t) => {
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

test('an absolute-form request target is routed by its own authority and path', async (t) => {
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
