// Passive health checking through a running gateway: real traffic that fails (listed
// statuses, refused connections, timeouts) ejects a target for `ejectFor`; it then gets
// traffic again and is ejected again while it keeps failing; a success resets the count.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startOrigin } from '../helpers/origin.js'
import { refusedPort } from '../helpers/ports.js'
import { startGateway } from '../helpers/gateway.js'
import { client, type ErrorBody } from '../helpers/client.js'
import { LogWatcher, becomes } from '../helpers/health.js'

test('answers with a listed status eject the target after consecutiveFailures; back after ejectFor, it is ejected again while it fails', async (t) => {
  let failing = true
  const flaky = await startOrigin(t, 'flaky', { handler: (_req, res) => { res.statusCode = failing ? 503 : 200; res.end('Response from FLAKY') } })
  const steady = await startOrigin(t, 'steady')
  const log = new LogWatcher()
  const gw = await startGateway(t, {
    upstreams: {
      app: {
        targets: [flaky.address, steady.address],
        // Long enough for the requests below to be sent while it lasts, on a loaded machine.
        passive: { consecutiveFailures: 2, ejectFor: '1s', on: [503] },
        retries: { attempts: 0 }
      }
    },
    routes: [{ name: 'r', upstream: 'app' }]
  }, { logLevel: 'info', logTo: log.write })
  const get = client(t)
  const statuses = async (count: number): Promise<number[]> => {
    const seen: number[] = []
    for (let i = 0; i < count; i++) seen.push((await get(gw.url)).status)
    return seen
  }

  const ejected = log.next(becomes(flaky.address, 'unhealthy'), 10_000, 'the failing target was never ejected')
  // Round robin: flaky, steady, flaky (second failure in a row: ejected), then steady only.
  assert.deepEqual(await statuses(3), [503, 200, 503])
  const line = await ejected
  assert.equal(line.reason, 'ejected for 1s after 2 failed requests in a row (last: status 503)')
  assert.deepEqual(await statuses(4), Array(4).fill(200))
  assert.equal(flaky.received.length, 2)

  const returned = log.next(becomes(flaky.address, 'healthy'), 10_000, 'the ejection never ended')
  assert.match(String((await returned).reason), /^ejection over/)
  const again = log.next(becomes(flaky.address, 'unhealthy'), 10_000, 'the target that still fails was not ejected again')
  const afterReturn = await statuses(4)
  await again
  assert.deepEqual(afterReturn.filter(s => s === 503), [503, 503], 'a fresh count of 2 failures ejects it again')

  failing = false
  await log.next(becomes(flaky.address, 'healthy'), 10_000, 'the second ejection never ended')
  const healthy = await statuses(10)
  assert.deepEqual(healthy, Array(10).fill(200))
  assert.equal(flaky.received.length, 4 + 5, 'the target that answers well did not get its share')
  assert.deepEqual(log.flips(flaky.address), ['healthy→unhealthy', 'unhealthy→healthy', 'healthy→unhealthy', 'unhealthy→healthy'])
})

test('a success in between resets the count: failures that never come in a row eject nothing', async (t) => {
  let answers = 0
  // Fails every other request it gets: never twice in a row.
  const alternating = await startOrigin(t, 'alternating', { handler: (_req, res) => { res.statusCode = answers++ % 2 === 0 ? 502 : 200; res.end() } })
  const log = new LogWatcher()
  const gw = await startGateway(t, {
    upstreams: { app: { targets: [alternating.address], passive: { consecutiveFailures: 2, ejectFor: '1m', on: [502] }, retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'app' }]
  }, { logLevel: 'info', logTo: log.write })
  const get = client(t)
  const seen: number[] = []
  for (let i = 0; i < 10; i++) seen.push((await get(gw.url)).status)
  assert.deepEqual(seen, [502, 200, 502, 200, 502, 200, 502, 200, 502, 200])
  assert.deepEqual(log.flips(alternating.address), [])
})

test('refused connections eject a target: once ejected it is not tried at all', async (t) => {
  const dead = `127.0.0.1:${await refusedPort(t)}`
  const alive = await startOrigin(t, 'alive')
  const log = new LogWatcher()
  const gw = await startGateway(t, {
    upstreams: { app: { targets: [dead, alive.address], passive: { consecutiveFailures: 2, ejectFor: '1m' }, retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'app' }]
  }, { logLevel: 'info', logTo: log.write })
  const get = client(t)
  const seen: string[] = []
  for (let i = 0; i < 10; i++) {
    const res = await get(gw.url)
    seen.push(res.status === 200 ? res.text : res.json<ErrorBody>().error.code)
  }
  // The dead target's two turns fail (no retry here), then it is out of rotation.
  assert.deepEqual(seen.filter(s => s === 'UPSTREAM_UNAVAILABLE').length, 2)
  assert.deepEqual(seen.slice(3), Array(7).fill('Response from ALIVE'))
  const [line] = log.lines.filter(becomes(dead, 'unhealthy'))
  assert.match(String(line?.reason), /^ejected for 1m after 2 failed requests in a row \(last: connect ECONNREFUSED/)
  assert.equal(gw.gateway.liveUpstreams.get('app')?.snapshot().targets[0]?.ejectedUntil !== null, true)
})

test('timeouts eject a target when `on` lists them', async (t) => {
  const slow = await startOrigin(t, 'slow', { handler: (_req, res) => { setTimeout(() => res.end('late'), 5000).unref() } })
  const fast = await startOrigin(t, 'fast')
  const log = new LogWatcher()
  const gw = await startGateway(t, {
    upstreams: {
      app: {
        targets: [slow.address, fast.address],
        timeouts: { response: '500ms' },
        passive: { consecutiveFailures: 1, ejectFor: '1m', on: ['timeout'] },
        retries: { attempts: 0 }
      }
    },
    routes: [{ name: 'r', upstream: 'app' }]
  }, { logLevel: 'info', logTo: log.write })
  const get = client(t)
  const first = await get(gw.url)
  assert.equal(first.json<ErrorBody>().error.code, 'UPSTREAM_TIMEOUT')
  assert.match(String(log.lines.find(becomes(slow.address, 'unhealthy'))?.reason), /^ejected for 1m after 1 failed request \(last: /)
  for (let i = 0; i < 4; i++) assert.equal((await get(gw.url)).text, 'Response from FAST')
})

test('when every target is ejected the client gets 503 NO_HEALTHY_UPSTREAM', async (t) => {
  const broken = await startOrigin(t, 'broken', { handler: (_req, res) => { res.statusCode = 504; res.end() } })
  const gw = await startGateway(t, {
    upstreams: { app: { targets: [broken.address], passive: { consecutiveFailures: 1, ejectFor: '1m' }, retries: { attempts: 0 } } },
    routes: [{ name: 'r', upstream: 'app' }]
  })
  const get = client(t)
  assert.equal((await get(gw.url)).status, 504)
  const res = await get(gw.url)
  assert.equal(res.status, 503)
  assert.equal(res.json<ErrorBody>().error.code, 'NO_HEALTHY_UPSTREAM')
  assert.equal(broken.received.length, 1)
})
