import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request, Agent } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { reservedPorts } from '../helpers/ports.js'
import { startGateway } from '../helpers/gateway.js'
import { client } from '../helpers/client.js'
import { ConfigError } from '../../src/config/errors.js'
import type { GatewayConfig } from '../../src/index.js'

function configFor (addresses: string[], tag: string, port: number): GatewayConfig {
  return {
    server: { listen: [{ host: '127.0.0.1', port }], accessLog: false, logLevel: 'silent' },
    upstreams: { app: { targets: addresses } },
    routes: [{ name: 'r', upstream: 'app', responseHeaders: { set: { 'x-config': tag } } }]
  }
}

test('apply swaps in a new config; an invalid one is refused and the running one stays', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const gw = await startGateway(t, configFor([blue.address], 'one', 0))
  const get = client(t)
  assert.equal((await get(`${gw.url}/`)).text, 'Response from BLUE')
  await gw.gateway.apply(configFor([green.address], 'two', gw.port) as Record<string, unknown>)
  const after = await get(`${gw.url}/`)
  assert.equal(after.text, 'Response from GREEN')
  assert.equal(after.headers['x-config'], 'two')
  await assert.rejects(gw.gateway.apply({ routes: [{ name: 'x', upstream: 'nope' }] }), ConfigError)
  assert.equal((await get(`${gw.url}/`)).headers['x-config'], 'two')
})

test('an unchanged upstream keeps its connections across a reload', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startGateway(t, configFor([blue.address], 'one', 0))
  const get = client(t)
  await get(`${gw.url}/`)
  const before = gw.gateway.liveUpstreams.get('app')
  await gw.gateway.apply(configFor([blue.address], 'two', gw.port) as Record<string, unknown>)
  assert.equal(gw.gateway.liveUpstreams.get('app'), before)
  await get(`${gw.url}/`)
  assert.equal(blue.received[0]?.remotePort, blue.received[1]?.remotePort)
})

test('a request in flight during a reload finishes on the version it started on', async (t) => {
  const slow = await startOrigin(t, 'slow', { handler: (_req, res) => { setTimeout(() => res.end('slow done'), 400) } })
  const fast = await startOrigin(t, 'fast')
  const gw = await startGateway(t, configFor([slow.address], 'one', 0))
  const pending = request(`${gw.url}/`)
  await new Promise<void>(resolve => slow.server.once('request', () => resolve()))
  await gw.gateway.apply(configFor([fast.address], 'two', gw.port) as Record<string, unknown>)
  const res = await pending
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['x-config'], 'one')
  assert.equal(await res.body.text(), 'slow done')
})

test('10 reloads in a row under continuous load cause zero failed requests', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const gw = await startGateway(t, configFor([blue.address], 'v0', 0))
  const agent = new Agent({ connections: 20, keepAliveTimeout: 10_000 })
  t.after(() => agent.close())
  let running = true
  let ok = 0
  const failures: string[] = []
  const deadline = performance.now() + 30_000
  let waiter: { until: number, resolve: () => void } | null = null
  /** Resolves once `count` more requests have been answered (so each reload happens under load). */
  const answered = async (count: number): Promise<void> => await new Promise(resolve => { waiter = { until: ok + failures.length + count, resolve } })
  const worker = async (): Promise<void> => {
    while (running && performance.now() < deadline) {
      try {
        const res = await request(`${gw.url}/`, { dispatcher: agent })
        await res.body.text()
        if (res.statusCode === 200) ok++
        else failures.push(String(res.statusCode))
      } catch (err) {
        failures.push((err as Error).message)
      }
      if (waiter !== null && ok + failures.length >= waiter.until) {
        waiter.resolve()
        waiter = null
      }
    }
  }
  const workers = Array.from({ length: 20 }, worker)
  try {
    for (let i = 1; i <= 10; i++) {
      await answered(50)
      const targets = i % 2 === 0 ? [blue.address] : [green.address, blue.address]
      await gw.gateway.apply(configFor(targets, `v${i}`, gw.port) as Record<string, unknown>)
    }
  } finally {
    running = false
    await Promise.all(workers)
  }
  assert.deepEqual(failures, [])
  assert.ok(ok >= 500, `only ${ok} requests were answered`)
  assert.equal((await client(t)(`${gw.url}/`)).headers['x-config'], 'v10')
})

test('a reload opens added listeners and drains removed ones, without a restart', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const gw = await startGateway(t, configFor([blue.address], 'one', 0))
  const [second] = await reservedPorts(t, 1) as [number]
  const both: GatewayConfig = configFor([blue.address], 'two', gw.port)
  both.server = { ...both.server, listen: [{ host: '127.0.0.1', port: gw.port }, { host: '127.0.0.1', port: second }] }
  await gw.gateway.apply(both as Record<string, unknown>)
  const get = client(t)
  assert.equal((await get(`http://127.0.0.1:${second}/`)).headers['x-config'], 'two')
  assert.equal((await get(`${gw.url}/`)).headers['x-config'], 'two')
  const onlySecond: GatewayConfig = configFor([blue.address], 'three', second)
  await gw.gateway.apply(onlySecond as Record<string, unknown>)
  assert.equal((await get(`http://127.0.0.1:${second}/`)).headers['x-config'], 'three')
  await assert.rejects(request(`${gw.url}/`, { reset: true }), 'the removed listener still accepts connections')
  assert.deepEqual(gw.gateway.addresses().map(a => a.port), [second])
})
