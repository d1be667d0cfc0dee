import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, request } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { makePki } from '../helpers/certs.js'
import { startGateway } from '../helpers/gateway.js'

test('an HTTPS listener terminates TLS with the certificate chosen by SNI; the upstream stays plain HTTP', async (t) => {
  const first = makePki(t, ['a.test'])
  const second = makePki(t, ['*.b.test'])
  const blue = await startOrigin(t, 'blue')
  const gw = await startGateway(t, {
    server: {
      listen: [{
        host: '127.0.0.1',
        port: 0,
        tls: { certs: [{ cert: first.files.serverCert, key: first.files.serverKey }, { cert: second.files.serverCert, key: second.files.serverKey }] }
      }]
    },
    upstreams: { blue: { targets: [blue.address] } },
    routes: [{ name: 'blue', upstream: 'blue' }]
  })
  const get = async (servername: string, ca: Buffer): Promise<{ status: number, body: string, proto: unknown }> => {
    const agent = new Agent({ connect: { ca, servername, rejectUnauthorized: true } })
    t.after(() => agent.close())
    const res = await request(`https://127.0.0.1:${gw.port}/`, { dispatcher: agent })
    return { status: res.statusCode, body: await res.body.text(), proto: blue.received.at(-1)?.headers['x-forwarded-proto'] }
  }
  assert.deepEqual(await get('a.test', first.ca), { status: 200, body: 'Response from BLUE', proto: 'https' })
  assert.deepEqual(await get('shop.b.test', second.ca), { status: 200, body: 'Response from BLUE', proto: 'https' })
  await assert.rejects(get('shop.b.test', first.ca), 'the wrong certificate was served for *.b.test')
})
