/**
 * DNS discovery through the gateway, against a real dnsmasq: when the name's A records
 * change, traffic follows within one interval.
 */
import { test } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client } from '../helpers/client.js'
import { pollUntil } from '../helpers/deadline.js'
import { startDnsmasq } from '../helpers/dns.js'
import assert from 'node:assert/strict'

test('traffic follows the A records of the upstream name', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green', { host: '127.0.0.2', port: blue.port })
  const dns = await startDnsmasq(t, { hosts: '127.0.0.1 app.test\n' })
  const gw = await startGateway(t, {
    upstreams: { u: { discovery: { type: 'dns', host: 'app.test', record: 'A', port: blue.port, servers: [dns.server], interval: '300ms' } } },
    routes: [{ name: 'r', upstream: 'u' }]
  })
  const get = client(t)
  assert.equal((await get(`${gw.url}/`)).text, 'Response from BLUE')
  await dns.setHosts('127.0.0.2 app.test\n')
  await pollUntil(async () => (await get(`${gw.url}/`)).text === 'Response from GREEN', 20, 1000, 'traffic did not move to Green')
  for (let i = 0; i < 3; i++) assert.equal((await get(`${gw.url}/`)).text, 'Response from GREEN')
})
