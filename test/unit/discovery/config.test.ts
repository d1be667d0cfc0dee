// The `discovery` keys: what each source type takes and needs, refused at load as
// `path: message` when they cannot work.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfigObject } from '../../../src/config/load.js'
import { issuesOf } from '../../helpers/config.js'

const load = (discovery: Record<string, unknown>, targets: string[] = []) => loadConfigObject({
  upstreams: { a: { targets, discovery } },
  routes: [{ name: 'r', upstream: 'a' }]
}).compiled

test('each type compiles with its defaults; an upstream with discovery needs no static target', () => {
  const file = load({ type: 'file', path: '/nowhere/yet/targets.txt' }).upstreams.get('a')
  assert.deepEqual(file?.discovery, { type: 'file', path: '/nowhere/yet/targets.txt', intervalMs: 10_000 })
  const dns = load({ type: 'dns', host: 'blue.internal', port: 8080, servers: ['127.0.0.1:5353', '::1'], interval: '2s' }).upstreams.get('a')
  assert.deepEqual(dns?.discovery, { type: 'dns', host: 'blue.internal', record: 'A', port: 8080, servers: ['127.0.0.1:5353', '[::1]:53'], intervalMs: 2000 })
  const srv = load({ type: 'dns', host: '_http._tcp.blue', record: 'SRV' }).upstreams.get('a')
  assert.equal(srv?.discovery?.type === 'dns' ? srv.discovery.port : 'not dns', null)
  const docker = load({ type: 'docker', socketPath: '/var/run/docker.sock', labels: { app: 'blue' }, port: 8080, network: 'bridge' }).upstreams.get('a')
  assert.deepEqual(docker?.discovery, { type: 'docker', socketPath: '/var/run/docker.sock', labels: { app: 'blue' }, port: 8080, network: 'bridge', intervalMs: 10_000 })
})

test('settings that cannot work are refused, each at its path', () => {
  assert.deepEqual(issuesOf(() => load({ type: 'file', path: 't.txt', interval: 0 })), ['upstreams.a.discovery.interval: must be at least 100ms'])
  assert.deepEqual(issuesOf(() => load({ type: 'consul', path: 't.txt' })), ['upstreams.a.discovery.type: must be dns, file or docker'])
  assert.deepEqual(issuesOf(() => load({ type: 'docker', labels: { app: 'blue' }, port: 80 })), ['upstreams.a.discovery.socketPath: is required with type: docker'])
  assert.deepEqual(issuesOf(() => load({ type: 'docker', socketPath: '/s' })), ['upstreams.a.discovery.labels: must name at least one label (without, every container would be a target)'])
  assert.deepEqual(issuesOf(() => load({ type: 'dns', host: 'x' })), ['upstreams.a.discovery.port: is required with record: A (only SRV records carry a port)'])
  assert.deepEqual(issuesOf(() => load({ type: 'dns', host: 'x', port: 1, servers: ['dns.example'] })), ['upstreams.a.discovery.servers[0]: "dns.example" must be an IP address (a resolver cannot be found by name)'])
  assert.deepEqual(issuesOf(() => load({ type: 'file' })), ['upstreams.a.discovery.path: is required with type: file'])
  assert.deepEqual(issuesOf(() => load({ type: 'file', path: 't', host: 'x' })), ['upstreams.a.discovery.host: is only used with type: dns'])
  assert.deepEqual(issuesOf(() => load({ type: 'file', path: 't', colour: 'red' })), ['upstreams.a.discovery.colour: unknown key'])
})

test('without discovery an upstream still needs a static target', () => {
  assert.deepEqual(issuesOf(() => loadConfigObject({ upstreams: { a: { targets: [] } }, routes: [{ name: 'r', upstream: 'a' }] })), ['upstreams.a.targets: must list at least one target'])
})
