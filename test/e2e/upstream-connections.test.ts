import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startOrigin } from '../helpers/origin.js'
import { makePki } from '../helpers/certs.js'
import { startGateway } from '../helpers/gateway.js'
import { client, type ErrorBody } from '../helpers/client.js'

test('two sequential requests reuse one upstream connection, and the debug log shows one connect', async (t) => {
  const up = await startOrigin(t, 'up')
  const lines: { msg: string, target?: string }[] = []
  const gw = await startGateway(t, { server: { logLevel: 'debug' }, upstreams: { up: { targets: [up.address] } }, routes: [{ name: 'r', upstream: 'up' }] }, {
    logLevel: 'debug',
    logTo: (line) => lines.push(JSON.parse(line) as { msg: string })
  })
  const get = client(t)
  await get(`${gw.url}/1`)
  await get(`${gw.url}/2`)
  assert.equal(up.received.length, 2)
  assert.equal(up.received[0]?.remotePort, up.received[1]?.remotePort, 'the second request came on a new connection')
  assert.equal(gw.gateway.liveUpstreams.get('up')?.targets[0]?.connectionsOpened, 1)
  const connects = lines.filter(l => l.msg === 'upstream connection opened')
  assert.deepEqual(connects.map(l => l.target), [up.address])
})

test('a Unix-socket target is reached through its socket path', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-sock-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const socketPath = join(dir, 'app.sock')
  const app = await startOrigin(t, 'unix', { socketPath })
  const gw = await startGateway(t, { upstreams: { app: { targets: [{ socketPath }] } }, routes: [{ name: 'r', upstream: 'app' }] })
  const res = await client(t)(`${gw.url}/over/socket`, { headers: { host: 'app.local' } })
  assert.equal(res.text, 'Response from UNIX')
  assert.equal(app.received[0]?.url, '/over/socket')
  assert.equal(app.received[0]?.headers.host, 'app.local')
})

test('upstream TLS is verified by default: a certificate from an unknown CA is refused', async (t) => {
  const pki = makePki(t, ['localhost', '127.0.0.1'])
  const secure = await startOrigin(t, 'secure', { tls: { key: pki.serverKey, cert: pki.serverCert } })
  const gw = await startGateway(t, {
    upstreams: {
      unknown: { targets: [secure.address], tls: { enabled: true }, retries: { attempts: 0 } },
      wrongCa: { targets: [secure.address], tls: { ca: pki.files.otherCa }, retries: { attempts: 0 } },
      trusted: { targets: [secure.address], tls: { ca: pki.files.ca } }
    },
    routes: [
      { name: 'unknown', match: { path: '/unknown' }, upstream: 'unknown' },
      { name: 'wrong', match: { path: '/wrong' }, upstream: 'wrongCa' },
      { name: 'trusted', match: { path: '/trusted' }, upstream: 'trusted' }
    ]
  })
  const get = client(t)
  const unknown = await get(`${gw.url}/unknown`)
  assert.equal(unknown.status, 502)
  assert.equal(unknown.json<ErrorBody>().error.code, 'UPSTREAM_UNAVAILABLE')
  assert.equal((await get(`${gw.url}/wrong`)).status, 502)
  const trusted = await get(`${gw.url}/trusted`)
  assert.equal(trusted.status, 200)
  assert.equal(trusted.text, 'Response from SECURE')
  assert.equal(secure.received.length, 1, 'only the verified route reached the upstream')
})

test('a transparent route forwards to the request\'s own Host', async (t) => {
  const a = await startOrigin(t, 'a')
  const b = await startOrigin(t, 'b')
  const gw = await startGateway(t, { routes: [{ name: 'any', transparent: true }] })
  const get = client(t)
  assert.equal((await get(`${gw.url}/x`, { headers: { host: a.address } })).text, 'Response from A')
  assert.equal((await get(`${gw.url}/y`, { headers: { host: b.address } })).text, 'Response from B')
  assert.equal(b.received[0]?.url, '/y')
})
