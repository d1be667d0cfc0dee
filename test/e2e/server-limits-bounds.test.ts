// The edges of server.limits that validation lets through work on a real listener.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client, rawExchange } from '../helpers/client.js'

test('requestTimeout 0 (no deadline for the whole request) serves, and headersTimeout still cuts slow headers', async (t) => {
  const origin = await startOrigin(t, 'app')
  const gw = await startGateway(t, {
    server: { limits: { requestTimeout: 0, headersTimeout: '300ms' } },
    upstreams: { app: { targets: [origin.address] } },
    routes: [{ name: 'app', upstream: 'app' }]
  })
  assert.equal((await client(t)(`${gw.url}/`)).text, 'Response from APP')
  const slow = await rawExchange(gw.port, 'GET / HTTP/1.1\r\nHost: x\r\n', { timeoutMs: 5000 })
  assert.match(slow.data, /^HTTP\/1\.1 408 /)
  assert.ok(slow.elapsedMs < 3000, `cut after ${slow.elapsedMs.toFixed(0)} ms`)
})

test('maxHeaderSize at its 1mb maximum serves large headers and still refuses larger ones with 431', async (t) => {
  const origin = await startOrigin(t, 'app')
  const gw = await startGateway(t, {
    server: { limits: { maxHeaderSize: '1mb' } },
    upstreams: { app: { targets: [origin.address] } },
    routes: [{ name: 'app', upstream: 'app', requestHeaders: { remove: ['x-pad'] } }]
  })
  const get = client(t)
  const fits = await get(`${gw.url}/`, { headers: { 'x-pad': 'a'.repeat(900 * 1024) } })
  assert.equal(fits.status, 200)
  const tooLarge = await rawExchange(gw.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(1100 * 1024)}\r\n\r\n`)
  assert.match(tooLarge.data, /^HTTP\/1\.1 431 /)
})
