/**
 * L34, file discovery: editing the file moves traffic within one interval, no restart; a
 * reload that keeps the discovery settings keeps the running source, one that changes
 * them stops it; closing the gateway stops it too.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client } from '../helpers/client.js'
import { tempFolder } from '../helpers/files.js'
import { pollUntil } from '../helpers/deadline.js'

test('editing the file moves traffic from Blue to Green within one interval', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const dir = tempFolder(t, 'tollgate-disc-')
  const file = join(dir, 'upstreams.txt')
  writeFileSync(file, `# the blue pool\n${blue.address}\n`)
  const gw = await startGateway(t, { upstreams: { u: { discovery: { type: 'file', path: file, interval: '500ms' } } }, routes: [{ name: 'r', upstream: 'u' }] })
  const get = client(t)
  // The gateway took traffic only once the first read was in: the very first request lands.
  assert.equal((await get(`${gw.url}/`)).text, 'Response from BLUE')
  writeFileSync(join(dir, 'next'), `${green.address} 2\n`)
  renameSync(join(dir, 'next'), file)
  const edited = performance.now()
  await pollUntil(async () => (await get(`${gw.url}/`)).text === 'Response from GREEN', 20, 500 + 250, 'traffic did not move to Green within one interval')
  assert.ok(performance.now() - edited < 750)
  for (let i = 0; i < 4; i++) assert.equal((await get(`${gw.url}/`)).text, 'Response from GREEN')
})

test('a reload keeps the source when discovery is unchanged and stops it when it changes; close stops it', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const dir = tempFolder(t, 'tollgate-disc-')
  const file = join(dir, 'upstreams.txt')
  writeFileSync(file, `${blue.address}\n`)
  const config = { upstreams: { u: { discovery: { type: 'file' as const, path: file, interval: '1s' } } }, routes: [{ name: 'r', upstream: 'u' }] }
  const gw = await startGateway(t, config)
  const server = { accessLog: false, logLevel: 'silent' as const, listen: [{ host: '127.0.0.1', port: gw.port }] }
  const first = gw.gateway.liveUpstreams.get('u')
  assert.ok(first?.discovery != null)
  await gw.gateway.apply({ ...config, server })
  assert.equal(gw.gateway.liveUpstreams.get('u'), first)
  assert.equal(first.discovery.active, true)

  await gw.gateway.apply({ ...config, server, upstreams: { u: { discovery: { ...config.upstreams.u.discovery, interval: '2s' } } } })
  const second = gw.gateway.liveUpstreams.get('u')
  assert.notEqual(second, first)
  assert.equal(first.discovery.active, false)
  assert.equal(second?.discovery?.active, true)
  assert.equal((await client(t)(`${gw.url}/`)).text, 'Response from BLUE')

  await gw.gateway.close(0)
  assert.equal(second?.discovery?.active, false)
})
