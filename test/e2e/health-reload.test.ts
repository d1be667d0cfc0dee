// Health checks across reloads: an unchanged upstream keeps its state and its probes, a
// change of its health settings restarts the probes only, and a rebuilt upstream takes
// traffic only once its targets have been checked.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { startOrigin } from '../helpers/origin.js'
import { startGateway } from '../helpers/gateway.js'
import { client } from '../helpers/client.js'
import { LogWatcher, becomes } from '../helpers/health.js'
import type { GatewayConfig, HealthCheckConfig } from '../../src/index.js'

const ENGINE = process.env.TOLLGATE_TEST_ENGINE as 'undici' | 'reply-from' | undefined

function configFor (targets: string[], healthCheck: HealthCheckConfig, port: number): GatewayConfig {
  return {
    server: { listen: [{ host: '127.0.0.1', port }], accessLog: false, logLevel: 'info', ...(ENGINE === undefined ? {} : { engine: ENGINE }) },
    upstreams: { app: { targets, healthCheck } },
    routes: [{ name: 'r', upstream: 'app' }]
  }
}

/** Answers `/ready` with 503 when `ready()` is false, anything else with its name. */
function readiness (name: string, ready: () => boolean) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url === '/ready' && !ready()) res.statusCode = 503
    res.end(`Response from ${name.toUpperCase()}`)
  }
}

/** Long enough for a healthy target on a loaded machine to pass: one result decides at start. */
const CHECK: HealthCheckConfig = { type: 'http', path: '/ready', interval: '500ms', timeout: '300ms' }

test('a reload that keeps an upstream keeps its health state and its probes', async (t) => {
  const sick = await startOrigin(t, 'sick', { handler: readiness('sick', () => false) })
  const well = await startOrigin(t, 'well')
  const log = new LogWatcher()
  const gw = await startGateway(t, configFor([sick.address, well.address], CHECK, 0), { logLevel: 'info', logTo: log.write })
  const upstream = gw.gateway.liveUpstreams.get('app')
  assert.equal(upstream?.targets[0]?.healthy, false)
  const checkedBefore = sick.received.length
  const logged = log.lines.length
  await gw.gateway.apply(configFor([sick.address, well.address], CHECK, gw.port) as Record<string, unknown>)
  assert.equal(gw.gateway.liveUpstreams.get('app'), upstream, 'the upstream was rebuilt')
  assert.equal(upstream?.health.generation, 1, 'the probes were restarted')
  assert.equal(upstream?.targets[0]?.healthy, false, 'the reload forgot the sick target\'s state')
  assert.equal(sick.received.length, checkedBefore, 'the reload checked the targets again at once')
  const get = client(t)
  for (let i = 0; i < 4; i++) assert.equal((await get(gw.url)).text, 'Response from WELL')
  assert.deepEqual(log.lines.slice(logged).filter(l => l.msg === 'target health changed'), [])
})

test('a reload that changes only the health settings restarts only the probes: the connections stay, the new check is in force', async (t) => {
  let blueReady = false
  const blue = await startOrigin(t, 'blue', { handler: readiness('blue', () => blueReady) })
  const green = await startOrigin(t, 'green')
  const log = new LogWatcher()
  const lenient: HealthCheckConfig = { ...CHECK, path: '/health' }
  const gw = await startGateway(t, configFor([blue.address, green.address], lenient, 0), { logLevel: 'info', logTo: log.write })
  const get = client(t)
  assert.deepEqual([(await get(gw.url)).text, (await get(gw.url)).text].sort(), ['Response from BLUE', 'Response from GREEN'])
  const upstream = gw.gateway.liveUpstreams.get('app')
  const opened = upstream?.targets.map(target => target.connectionsOpened)
  const left = log.next(becomes(blue.address, 'unhealthy'), 10_000, 'the stricter check never took Blue out')
  await gw.gateway.apply(configFor([blue.address, green.address], CHECK, gw.port) as Record<string, unknown>)
  assert.equal(gw.gateway.liveUpstreams.get('app'), upstream, 'the upstream was rebuilt')
  assert.equal(upstream?.health.generation, 2)
  assert.equal((await left).reason, 'health check failed: answered 503, expected 2xx or 3xx')
  for (let i = 0; i < 3; i++) assert.equal((await get(gw.url)).text, 'Response from GREEN')
  assert.deepEqual(upstream?.targets.map(target => target.connectionsOpened), opened, 'the reload opened new connections')
  const greenPorts = new Set(green.received.filter(r => r.url === '/').map(r => r.remotePort))
  assert.equal(greenPorts.size, 1, 'Green\'s pooled connection was not kept')
  const back = log.next(becomes(blue.address, 'healthy'), 10_000, 'Blue never came back')
  blueReady = true
  await back
})

test('a reload that rebuilds an upstream sends nothing to a new target before it was checked', async (t) => {
  const well = await startOrigin(t, 'well')
  const sick = await startOrigin(t, 'sick', { handler: readiness('sick', () => false) })
  const log = new LogWatcher()
  const gw = await startGateway(t, configFor([well.address], CHECK, 0), { logLevel: 'info', logTo: log.write })
  const before = gw.gateway.liveUpstreams.get('app')
  await gw.gateway.apply(configFor([sick.address, well.address], CHECK, gw.port) as Record<string, unknown>)
  const after = gw.gateway.liveUpstreams.get('app')
  assert.notEqual(after, before)
  assert.equal(before?.health.armedTimers, 0, 'the replaced upstream still checks its targets')
  const get = client(t)
  for (let i = 0; i < 6; i++) assert.equal((await get(gw.url)).text, 'Response from WELL')
  assert.deepEqual(sick.received.filter(r => r.url !== '/ready'), [])
  assert.ok(log.lines.some(becomes(sick.address, 'unhealthy')))
})
