// A path crafted to make route regexes backtrack must not stall the gateway: regexes that
// could are refused, and the ones allowed match any path in linear time.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client } from '../helpers/client.js'
import { ConfigError } from '../../src/config/errors.js'

/** Generous: each request takes milliseconds; an exponential regex takes seconds per request. */
const DEADLINE_MS = 2000

test('paths crafted against route regexes are answered in time, alongside a plain route', async (t) => {
  const origin = await startOrigin(t, 'app')
  const routes = [
    { name: 'digits', match: { path: '~ ^/x/(\\d+)$' }, upstream: 'app' },
    { name: 'named', match: { path: '~ ^/(?<a>[a-z]+)/(?<b>\\d+)$' }, upstream: 'app' },
    { name: 'plain', match: { path: '/plain' }, upstream: 'app' }
  ]
  const gw = await startGateway(t, { upstreams: { app: { targets: [origin.address] } }, routes })

  // A reload that adds the exponential regex is refused, so the first crafted path below
  // never meets it (were it accepted, those 29 bytes would block the event loop for seconds).
  const exponential = { name: 'exponential', match: { path: '~ ^/p/([a-z0-9]+-?)*$' }, upstream: 'app' }
  const refusal = await gw.gateway.apply({ ...gw.gateway.config?.source, routes: [exponential, ...routes] }).then(() => null, (err: unknown) => err)

  const get = client(t)
  const crafted = [
    `/p/${'a'.repeat(29)}!`,
    `/x/${'1'.repeat(5000)}x`,
    `/${'a'.repeat(5000)}/${'1'.repeat(5000)}x`
  ]
  const started = performance.now()
  const answered = await Promise.all([
    ...crafted.map(async path => ({ path, reply: await get(`${gw.url}${path}`), ms: performance.now() - started })),
    (async () => ({ path: '/plain', reply: await get(`${gw.url}/plain`), ms: performance.now() - started }))()
  ])
  for (const { path, reply, ms } of answered) {
    assert.ok(ms < DEADLINE_MS, `${path.slice(0, 40)}… was answered after ${ms.toFixed(0)} ms`)
    assert.equal(reply.status, path === '/plain' ? 200 : 404, path.slice(0, 40))
  }
  assert.deepEqual(origin.received.map(r => r.url), ['/plain'])
  assert.ok(refusal instanceof ConfigError && refusal.issues.some(i => i.path === 'routes[0].match.path'), `the exponential regex was applied: ${String(refusal)}`)
})
