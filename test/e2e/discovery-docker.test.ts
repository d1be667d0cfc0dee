/**
 * Docker discovery through the gateway, against an Engine API stand-in on a Unix socket:
 * a container that starts carrying the labels takes traffic, one that stops loses it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client } from '../helpers/client.js'
import { pollUntil } from '../helpers/deadline.js'
import { startDockerEngine } from '../helpers/docker-engine.js'

test('traffic follows the labelled containers', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const engine = await startDockerEngine(t)
  engine.containers = [{ id: 'blue', labels: { app: 'shop', 'tollgate.port': String(blue.port) }, networks: { backend: '127.0.0.1' } }]
  const gw = await startGateway(t, {
    upstreams: { u: { discovery: { type: 'docker', socketPath: engine.socketPath, labels: { app: 'shop' }, network: 'backend', interval: '200ms' } } },
    routes: [{ name: 'r', upstream: 'u' }]
  })
  const get = client(t)
  assert.equal((await get(`${gw.url}/`)).text, 'Response from BLUE')
  engine.containers = [{ id: 'green', labels: { app: 'shop', 'tollgate.port': String(green.port) }, networks: { backend: '127.0.0.1' } }]
  await pollUntil(async () => (await get(`${gw.url}/`)).text === 'Response from GREEN', 20, 1000, 'traffic did not move to Green')
  for (let i = 0; i < 3; i++) assert.equal((await get(`${gw.url}/`)).text, 'Response from GREEN')
})
