// Docker discovery against an Engine API stand-in on a Unix socket: the containers that
// carry the labels, at their address on the network and their labelled or configured port;
// a garbage answer or an unreachable engine keeps the last good set.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DockerSource } from '../../../src/discovery/docker.js'
import type { Upstream } from '../../../src/upstream/upstream.js'
import { startDockerEngine } from '../../helpers/docker-engine.js'
import { within } from '../../helpers/deadline.js'
import { discoveredUpstream } from '../../helpers/discovery.js'
import { waitUntil } from '../../helpers/health.js'

const dockerUpstream = discoveredUpstream

const ids = (upstream: Upstream): string => upstream.targets.map(target => `${target.id}*${target.weight}`).join(', ')

test('running containers with every label, at their address on the network and their port', async (t) => {
  const engine = await startDockerEngine(t)
  engine.containers = [
    { id: 'blue1', labels: { app: 'blue', 'tollgate.port': '9001' }, networks: { bridge: '172.17.0.2', backend: '10.1.0.2' } },
    { id: 'blue2', labels: { app: 'blue', tier: 'web', 'tollgate.weight': '3' }, networks: { backend: '10.1.0.3' } },
    { id: 'blue3', labels: { app: 'blue' }, networks: { bridge: '172.17.0.9' } },
    { id: 'stopped', labels: { app: 'blue' }, networks: { backend: '10.1.0.4' }, state: 'exited' },
    { id: 'green', labels: { app: 'green' }, networks: { backend: '10.1.0.5' } }
  ]
  const source = new DockerSource({ socketPath: engine.socketPath, labels: { app: 'blue' }, port: 8080, network: 'backend' })
  const found = await source.discover(new AbortController().signal)
  // blue3 is not on the backend network: it has no address there.
  assert.deepEqual(found.targets.map(s => `${s.address.id}*${s.weight}`), ['10.1.0.2:9001*1', '10.1.0.3:8080*3'])
  const filters = JSON.parse(new URL(engine.requests[0] ?? '', 'http://docker').searchParams.get('filters') ?? '') as unknown
  assert.deepEqual(filters, { label: ['app=blue'], status: ['running'] })
})

test('without a network, a container on one network is reached there', async (t) => {
  const engine = await startDockerEngine(t)
  engine.containers = [
    { id: 'one', labels: { app: 'blue' }, networks: { bridge: '172.17.0.2' } },
    { id: 'two', labels: { app: 'blue' }, networks: { bridge: '172.17.0.3', backend: '10.1.0.3' } }
  ]
  const found = await new DockerSource({ socketPath: engine.socketPath, labels: { app: 'blue' }, port: 80, network: null }).discover(new AbortController().signal)
  assert.deepEqual(found.targets.map(s => s.address.id), ['172.17.0.2:80'])
})

test('containers coming and going move the set; a garbage answer or no engine keeps the last good set', async (t) => {
  const engine = await startDockerEngine(t)
  engine.containers = [{ id: 'a', labels: { app: 'blue' }, networks: { bridge: '127.0.0.2' } }]
  const { upstream, lines } = dockerUpstream(t, { type: 'docker', socketPath: engine.socketPath, labels: { app: 'blue' }, port: 8080, interval: 100 })
  await within(upstream.ready(), 2000, 'the first answer never came')
  assert.equal(ids(upstream), '127.0.0.2:8080*1')
  engine.containers = [...engine.containers, { id: 'b', labels: { app: 'blue' }, networks: { bridge: '127.0.0.3' } }]
  await waitUntil(() => ids(upstream) === '127.0.0.2:8080*1, 127.0.0.3:8080*1', 1000, () => `the new container was not taken: ${ids(upstream)}`)

  for (const garbage of ['<html>502 Bad Gateway</html>', '{"message":"ok"}']) {
    engine.garbage = garbage
    const asked = upstream.discovery?.asked ?? 0
    await waitUntil(() => (upstream.discovery?.asked ?? 0) >= asked + 2, 2000, 'the engine is not asked again')
  }
  assert.equal(ids(upstream), '127.0.0.2:8080*1, 127.0.0.3:8080*1')
  const failures = lines.filter(l => l.message === 'discovery failed')
  assert.deepEqual(failures.map(l => l.fields.reason), ['the Engine API answered with something that is not JSON: the last good set is kept'])

  engine.garbage = null
  engine.containers = [{ id: 'b', labels: { app: 'blue' }, networks: { bridge: '127.0.0.3' } }]
  await waitUntil(() => ids(upstream) === '127.0.0.3:8080*1', 1000, () => `the engine's answer was not taken again: ${ids(upstream)}`)
  assert.ok(lines.some(l => l.message === 'discovery answers again'))
})
