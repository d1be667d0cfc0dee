// Active health checks through a running gateway, against real upstreams: child processes
// killed (SIGKILL) or frozen (SIGSTOP), servers answering the wrong body, backups, a whole
// upstream down, custom checks, and webhooks that are down or never answer.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { startOrigin } from '../helpers/origin.js'
import { startChildOrigin } from '../helpers/child-origin.js'
import { refusedPort, reservedPorts } from '../helpers/ports.js'
import { startBlackhole } from '../helpers/blackhole.js'
import { startGateway } from '../helpers/gateway.js'
import { client, type ErrorBody, type Reply } from '../helpers/client.js'
import { LogWatcher, becomes, waitUntil } from '../helpers/health.js'
import { defineHealthCheck } from '../../src/index.js'
import type { HealthEvent } from '../../src/health/notifier.js'

/**
 * Timers run late on a loaded machine (two cores shared with other test files): what
 * must happen within one interval + timeout is given this much more. Timeouts are long
 * enough for a healthy target on the same machine to pass: one result decides at start.
 */
const GRACE_MS = 500

/** The bodies of `count` sequential GETs of `url`. */
async function bodies (get: (url: string) => Promise<Reply>, url: string, count: number): Promise<string[]> {
  const seen: string[] = []
  for (let i = 0; i < count; i++) {
    const res = await get(url)
    assert.equal(res.status, 200, `request ${i}: ${res.text}`)
    seen.push(res.text)
  }
  return seen
}

/** Answers `/health` with `health(req, res)`, anything else with `Response from <NAME>`. */
function withHealth (name: string, health: (res: ServerResponse) => void) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url === '/health') health(res)
    else res.end(`Response from ${name.toUpperCase()}`)
  }
}

test('a target killed with SIGKILL leaves rotation within one interval + timeout, and is back after a restart on the same port', async (t) => {
  const [port] = await reservedPorts(t, 1) as [number]
  const blue = await startChildOrigin(t, 'blue', 0, port)
  const green = await startOrigin(t, 'green')
  const log = new LogWatcher()
  const gw = await startGateway(t, {
    upstreams: {
      both: {
        targets: [blue.address, green.address],
        healthCheck: { type: 'tcp', interval: '300ms', timeout: '200ms' },
        // No retry: a request sent to the dead target would fail, not be saved by Green.
        retries: { attempts: 0 }
      }
    },
    routes: [{ name: 'r', upstream: 'both' }]
  }, { logLevel: 'info', logTo: log.write })
  const get = client(t)
  assert.deepEqual((await bodies(get, gw.url, 2)).sort(), ['Response from BLUE', 'Response from GREEN'])

  const left = log.next(becomes(blue.address, 'unhealthy'), 10_000, 'Blue never left rotation')
  const killedAt = performance.now()
  blue.process.kill('SIGKILL')
  await blue.exited
  const line = await left
  const took = performance.now() - killedAt
  assert.ok(took <= 300 + 200 + GRACE_MS, `Blue left rotation ${Math.round(took)} ms after it was killed`)
  assert.equal(line.upstream, 'both')
  assert.equal(line.from, 'healthy')
  assert.match(String(line.reason), /^health check failed: connect ECONNREFUSED/)
  assert.deepEqual(await bodies(get, gw.url, 6), Array(6).fill('Response from GREEN'))

  const back = log.next(becomes(blue.address, 'healthy'), 10_000, 'Blue never came back')
  const restarted = await startChildOrigin(t, 'blue', 0, port)
  assert.equal(restarted.port, port)
  await back
  assert.deepEqual((await bodies(get, gw.url, 4)).sort(), ['Response from BLUE', 'Response from BLUE', 'Response from GREEN', 'Response from GREEN'])
  assert.deepEqual(log.flips(blue.address), ['healthy→unhealthy', 'unhealthy→healthy'], 'a change was logged more than once')
})

test('a frozen target (SIGSTOP) is marked unhealthy by the check\'s timeout, and is back after SIGCONT', async (t) => {
  const blue = await startChildOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  const log = new LogWatcher()
  const gw = await startGateway(t, {
    upstreams: {
      both: {
        targets: [blue.address, green.address],
        healthCheck: { type: 'http', path: '/health', interval: '500ms', timeout: '300ms' },
        retries: { attempts: 0 }
      }
    },
    routes: [{ name: 'r', upstream: 'both' }]
  }, { logLevel: 'info', logTo: log.write })
  const get = client(t)
  const pid = blue.process.pid as number
  const left = log.next(becomes(blue.address, 'unhealthy'), 10_000, 'frozen Blue never left rotation')
  const frozenAt = performance.now()
  process.kill(pid, 'SIGSTOP')
  try {
    const line = await left
    const took = performance.now() - frozenAt
    assert.ok(took <= 500 + 300 + GRACE_MS, `frozen Blue left rotation ${Math.round(took)} ms after it was stopped`)
    // The kernel still accepts connections for a stopped process: only the timeout tells.
    assert.equal(line.reason, 'health check failed: connected, but no response within 300ms')
    assert.deepEqual(await bodies(get, gw.url, 4), Array(4).fill('Response from GREEN'))
    const back = log.next(becomes(blue.address, 'healthy'), 10_000, 'Blue never came back after SIGCONT')
    process.kill(pid, 'SIGCONT')
    await back
    assert.ok((await bodies(get, gw.url, 4)).includes('Response from BLUE'))
  } finally {
    // Whatever failed above, the child must not stay stopped: it could not exit.
    try { process.kill(pid, 'SIGCONT') } catch {}
  }
})

test('a target answering 200 without the expected body is never used, from the first request on', async (t) => {
  const good = await startOrigin(t, 'good', { handler: withHealth('good', res => res.end('status: READY')) })
  const bad = await startOrigin(t, 'bad', { handler: withHealth('bad', res => res.end('status: starting')) })
  const gw = await startGateway(t, {
    upstreams: {
      app: {
        targets: [bad.address, good.address],
        healthCheck: { type: 'http', path: '/health', expectBody: 'READY', interval: '1s', timeout: '500ms' }
      }
    },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  const get = client(t)
  assert.deepEqual(await bodies(get, gw.url, 10), Array(10).fill('Response from GOOD'))
  assert.deepEqual(bad.received.filter(r => r.url !== '/health'), [], 'the bad target was sent traffic')
  assert.ok(bad.received.length >= 1, 'the bad target was never checked')
  const snapshot = gw.gateway.liveUpstreams.get('app')?.snapshot()
  const badTarget = snapshot?.targets.find(target => target.address === bad.address)
  assert.equal(badTarget?.healthy, false)
  assert.equal(badTarget?.check, 'unhealthy')
  assert.equal(badTarget?.lastError, 'health check: answered 200, but the body does not contain "READY"')
})

test('with every primary down the backup serves, and stops once a primary is back', async (t) => {
  const [port] = await reservedPorts(t, 1) as [number]
  const primary = await startChildOrigin(t, 'primary', 0, port)
  const backup = await startOrigin(t, 'backup')
  const log = new LogWatcher()
  const gw = await startGateway(t, {
    upstreams: {
      app: {
        targets: [primary.address],
        backup: [backup.address],
        healthCheck: { type: 'tcp', interval: '300ms', timeout: '200ms' },
        retries: { attempts: 0 }
      }
    },
    routes: [{ name: 'r', upstream: 'app' }]
  }, { logLevel: 'info', logTo: log.write })
  const get = client(t)
  assert.deepEqual(await bodies(get, gw.url, 3), Array(3).fill('Response from PRIMARY'))
  assert.equal(backup.received.length, 0)
  const left = log.next(becomes(primary.address, 'unhealthy'), 10_000, 'the primary never left rotation')
  primary.process.kill('SIGKILL')
  await left
  assert.deepEqual(await bodies(get, gw.url, 3), Array(3).fill('Response from BACKUP'))
  const back = log.next(becomes(primary.address, 'healthy'), 10_000, 'the primary never came back')
  await startChildOrigin(t, 'primary', 0, port)
  await back
  assert.deepEqual(await bodies(get, gw.url, 3), Array(3).fill('Response from PRIMARY'))
  assert.equal(backup.received.length, 3)
})

test('with every target down the client gets 503 NO_HEALTHY_UPSTREAM at once, and no target is even connected to', async (t) => {
  const sick = await startOrigin(t, 'sick', { handler: withHealth('sick', res => { res.statusCode = 503; res.end() }) })
  // A connection attempt to it would hang until the connect timeout (3 s here).
  const hole = await startBlackhole(t)
  const log = new LogWatcher()
  const gw = await startGateway(t, {
    upstreams: {
      app: {
        targets: [sick.address, hole.address],
        healthCheck: { type: 'http', path: '/health', interval: '1s', timeout: '300ms' },
        timeouts: { connect: '3s' }
      }
    },
    routes: [{ name: 'r', upstream: 'app' }]
  }, { logLevel: 'info', logTo: log.write })
  assert.ok(log.lines.some(l => l.msg === 'upstream has no healthy target' && l.upstream === 'app'), 'losing the last healthy target was not logged')
  const get = client(t)
  for (let i = 0; i < 3; i++) {
    const started = performance.now()
    const res = await get(`${gw.url}/x`)
    const took = performance.now() - started
    assert.equal(res.status, 503)
    assert.equal(res.json<ErrorBody>().error.code, 'NO_HEALTHY_UPSTREAM')
    assert.ok(took < 1000, `the 503 took ${Math.round(took)} ms: a connection was attempted`)
  }
  const upstream = gw.gateway.liveUpstreams.get('app')
  assert.deepEqual(upstream?.targets.map(target => target.connectionsOpened), [0, 0], 'the gateway opened a connection to a dead target')
  assert.deepEqual(sick.received.filter(r => r.url !== '/health'), [], 'a request reached a dead target')
})

test('a custom check registered with defineHealthCheck takes a target out and brings it back', async (t) => {
  const blue = await startOrigin(t, 'blue')
  const green = await startOrigin(t, 'green')
  let blueUp = true
  const seen = new Set<string>()
  const flag = defineHealthCheck('blue-flag', async (target) => {
    seen.add(`${target.upstream} ${target.address}`)
    return target.port === blue.port ? blueUp : { healthy: true }
  })
  const log = new LogWatcher()
  const gw = await startGateway(t, {
    upstreams: { both: { targets: [blue.address, green.address], healthCheck: { type: 'custom', name: 'blue-flag', interval: '100ms', timeout: '50ms' } } },
    routes: [{ name: 'r', upstream: 'both' }]
  }, { logLevel: 'info', logTo: log.write, healthChecks: [flag] })
  assert.deepEqual([...seen].sort(), [`both ${blue.address}`, `both ${green.address}`].sort())
  const get = client(t)
  const left = log.next(becomes(blue.address, 'unhealthy'), 10_000, 'Blue never left')
  blueUp = false
  assert.equal((await left).reason, 'health check failed: check "blue-flag" failed')
  assert.deepEqual(await bodies(get, gw.url, 4), Array(4).fill('Response from GREEN'))
  const back = log.next(becomes(blue.address, 'healthy'), 10_000, 'Blue never came back')
  blueUp = true
  await back
  assert.ok((await bodies(get, gw.url, 4)).includes('Response from BLUE'))
})

test('health changes are POSTed to the webhook; one that never answers, or is down, delays neither checks nor traffic', async (t) => {
  const events: HealthEvent[] = []
  const hook = await startOrigin(t, 'hook', { handler: (_req, res, body) => { events.push(JSON.parse(body) as HealthEvent); res.end() } })
  let silentCalls = 0
  const silent = await startOrigin(t, 'silent', { handler: () => { silentCalls++ } })
  const down = await refusedPort(t)
  const origins = await Promise.all(['a', 'b', 'c'].map(async name => await startOrigin(t, name)))
  const up = new Map(origins.map(o => [o.address, true]))
  const flag = defineHealthCheck('flag', (target) => up.get(target.address) ?? false)
  const webhooks = [`${hook.url}/alerts`, silent.url, `http://127.0.0.1:${down}/`]
  const log = new LogWatcher()
  const gw = await startGateway(t, {
    upstreams: Object.fromEntries(origins.map((origin, i) => [origin.name, {
      targets: [origin.address],
      healthCheck: { type: 'custom', name: 'flag', interval: '100ms', timeout: '50ms' },
      notify: { webhook: webhooks[i] as string }
    }])),
    routes: origins.map(origin => ({ name: origin.name, match: { path: `/${origin.name}/*` }, upstream: origin.name }))
  }, { logLevel: 'info', logTo: log.write, healthChecks: [flag] })
  const get = client(t)
  // Each upstream loses its only target, then gets it back: two changes per target and
  // two per upstream, four webhook events each.
  for (const origin of origins) up.set(origin.address, false)
  await Promise.all(origins.map(async o => await log.next(becomes(o.address, 'unhealthy'), 10_000, `${o.name} never became unhealthy`)))
  const started = performance.now()
  for (const origin of origins) up.set(origin.address, true)
  await Promise.all(origins.map(async o => await log.next(becomes(o.address, 'healthy'), 10_000, `${o.name} never came back`)))
  const took = performance.now() - started
  assert.ok(took <= 100 + 50 + GRACE_MS, `coming back took ${Math.round(took)} ms: something waited for a webhook`)
  for (const origin of origins) {
    const res = await get(`${gw.url}/${origin.name}/`)
    assert.equal(res.status, 200)
  }
  await waitUntil(() => events.length === 4, 5000, () => `the webhook got ${JSON.stringify(events)}`)
  const a = origins[0]?.address as string
  assert.deepEqual(events.map(e => `${e.type} ${e.upstream} ${e.type === 'target' ? e.target : ''} ${e.from}→${e.to}`), [
    `target a ${a} healthy→unhealthy`,
    'upstream a  healthy→unhealthy',
    `target a ${a} unhealthy→healthy`,
    'upstream a  unhealthy→healthy'
  ])
  assert.equal(hook.received[0]?.url, '/alerts')
  assert.ok(silentCalls >= 1, 'the silent webhook was never called')
  assert.ok(log.lines.some(l => l.msg === 'health webhook delivery failed' && l.upstream === 'c' && /ECONNREFUSED/.test(String(l.why))))
})
